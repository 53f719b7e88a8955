-- Roster tables (owned by the roster service alone). Portable subset: see kit/src/db.rs.

CREATE TABLE roster_regions (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    level BIGINT NOT NULL,
    parent_code TEXT NOT NULL,
    village_type TEXT NOT NULL,
    revision BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX roster_regions_parent ON roster_regions (parent_code, code);

-- ID number and phone are encrypted (kit::pii); the blind index finds a cadre by ID
-- number and keeps it unique without storing it in clear. Birth date and sex are
-- derived from the ID number at write time, for analytics.
CREATE TABLE roster_cadres (
    id TEXT PRIMARY KEY,
    region_code TEXT NOT NULL REFERENCES roster_regions (code),
    name TEXT NOT NULL,
    id_number_enc TEXT NOT NULL,
    id_number_index TEXT NOT NULL UNIQUE,
    birth_date TEXT NOT NULL,
    sex BIGINT NOT NULL,
    ethnicity TEXT NOT NULL,
    phone_enc TEXT NOT NULL,
    political_status BIGINT NOT NULL,
    education BIGINT NOT NULL,
    full_time_education BIGINT NOT NULL,
    -- Tag numbers as ",2,3," so that one LIKE finds a tag.
    tags TEXT NOT NULL,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX roster_cadres_region ON roster_cadres (region_code, id);

-- A post is held on day D when start_date <= D and (end_date IS NULL or D < end_date).
CREATE TABLE roster_posts (
    id TEXT PRIMARY KEY,
    cadre_id TEXT NOT NULL REFERENCES roster_cadres (id),
    region_code TEXT NOT NULL REFERENCES roster_regions (code),
    kind BIGINT NOT NULL,
    term BIGINT NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT,
    end_reason TEXT NOT NULL,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX roster_posts_region ON roster_posts (region_code, kind);
CREATE INDEX roster_posts_cadre ON roster_posts (cadre_id);
