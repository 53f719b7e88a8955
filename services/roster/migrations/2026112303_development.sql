-- Developing the village teams: mentoring, stationed work teams, sanctions.
-- Portable subset: see kit/src/db.rs.

-- A pairing is active on day D when start_date <= D and (end_date IS NULL or D < end_date).
-- region_code is the mentee's (jurisdiction).
CREATE TABLE roster_mentor_pairings (
    id TEXT PRIMARY KEY,
    mentor_cadre_id TEXT NOT NULL REFERENCES roster_cadres (id),
    mentee_cadre_id TEXT NOT NULL REFERENCES roster_cadres (id),
    region_code TEXT NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT,
    end_reason TEXT NOT NULL,
    growth_plan TEXT NOT NULL,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX roster_mentor_pairings_mentee ON roster_mentor_pairings (mentee_cadre_id);
CREATE INDEX roster_mentor_pairings_region ON roster_mentor_pairings (region_code, id);

-- A stationed work team (驻村工作队) serves villages of one county.
CREATE TABLE roster_work_teams (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    agency TEXT NOT NULL,
    leader_name TEXT NOT NULL,
    county_code TEXT NOT NULL REFERENCES roster_regions (code),
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX roster_work_teams_county ON roster_work_teams (county_code, id);

-- cadre_id is '' when the member is not on the roster.
CREATE TABLE roster_work_team_members (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES roster_work_teams (id),
    name TEXT NOT NULL,
    agency TEXT NOT NULL,
    role BIGINT NOT NULL,
    cadre_id TEXT NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT,
    end_reason TEXT NOT NULL,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX roster_work_team_members_team ON roster_work_team_members (team_id);

-- village_type is the region's type when the village was assigned.
CREATE TABLE roster_work_team_villages (
    team_id TEXT NOT NULL REFERENCES roster_work_teams (id),
    village_code TEXT NOT NULL REFERENCES roster_regions (code),
    village_type TEXT NOT NULL,
    start_date TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (team_id, village_code)
);
CREATE INDEX roster_work_team_villages_village ON roster_work_team_villages (village_code);

-- Post ids as ",a,b," (like cadre tags); region_code is the cadre's (jurisdiction).
CREATE TABLE roster_sanctions (
    id TEXT PRIMARY KEY,
    cadre_id TEXT NOT NULL REFERENCES roster_cadres (id),
    region_code TEXT NOT NULL,
    kind BIGINT NOT NULL,
    decided_on TEXT NOT NULL,
    reason TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    assessment_result_id TEXT NOT NULL,
    post_ids TEXT NOT NULL,
    ended_post_ids TEXT NOT NULL,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX roster_sanctions_region ON roster_sanctions (region_code, id);
CREATE INDEX roster_sanctions_cadre ON roster_sanctions (cadre_id);
