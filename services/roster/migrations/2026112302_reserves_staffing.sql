-- Reserves (后备力量) with their pipeline history, and per-region staffing
-- configuration: staffing rules and the vacancy priority list. Portable subset: see
-- kit/src/db.rs.

-- ID number encrypted and blind-indexed exactly like roster_cadres (same field name,
-- so one index value finds the same person in both tables).
CREATE TABLE roster_reserves (
    id TEXT PRIMARY KEY,
    region_code TEXT NOT NULL REFERENCES roster_regions (code),
    name TEXT NOT NULL,
    id_number_enc TEXT NOT NULL,
    id_number_index TEXT NOT NULL UNIQUE,
    birth_date TEXT NOT NULL,
    sex BIGINT NOT NULL,
    source BIGINT NOT NULL,
    political_status BIGINT NOT NULL,
    education BIGINT NOT NULL,
    full_time_education BIGINT NOT NULL,
    -- Tag numbers as ",2,3," (as roster_cadres.tags).
    tags TEXT NOT NULL,
    stage BIGINT NOT NULL,
    stage_date TEXT NOT NULL,
    -- '' until appointed with a cadre record.
    cadre_id TEXT NOT NULL,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX roster_reserves_region ON roster_reserves (region_code, id);

-- Every step of a reserve's pipeline, in order (seq 1 = recommended).
CREATE TABLE roster_reserve_stages (
    reserve_id TEXT NOT NULL REFERENCES roster_reserves (id),
    seq BIGINT NOT NULL,
    stage BIGINT NOT NULL,
    stage_date TEXT NOT NULL,
    note TEXT NOT NULL,
    actor TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (reserve_id, seq)
);

-- A region's own staffing rules; villages use their nearest ancestor's.
CREATE TABLE roster_staffing_rules (
    region_code TEXT PRIMARY KEY REFERENCES roster_regions (code),
    min_full_time_bachelor BIGINT NOT NULL,
    youth_league_secretary_max_age BIGINT NOT NULL,
    womens_federation_chair_max_age BIGINT NOT NULL,
    min_reserve_seeds BIGINT NOT NULL,
    age_limit BIGINT NOT NULL,
    term_end_warning_days BIGINT NOT NULL,
    term_end_date TEXT NOT NULL,
    revision BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A region's own vacancy priority list: criterion numbers as ",1,2,5," in order.
CREATE TABLE roster_vacancy_priorities (
    region_code TEXT PRIMARY KEY REFERENCES roster_regions (code),
    criteria TEXT NOT NULL,
    revision BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
