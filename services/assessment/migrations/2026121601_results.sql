-- Assessment, slice 2: the year's rules (lists, result rules, consequence rules) as one
-- JSON document, list events, results with their revisions, public notice and
-- objections, consequences. Portable subset: runs unchanged on SQLite and PostgreSQL.

CREATE TABLE assessment_rules (
    county_code TEXT NOT NULL,
    year BIGINT NOT NULL,
    body TEXT NOT NULL,
    revision BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (county_code, year)
);

-- Points in tenths, signed as the list's kind says (the cap applies when computing).
CREATE TABLE assessment_list_events (
    id TEXT PRIMARY KEY,
    county_code TEXT NOT NULL,
    year BIGINT NOT NULL,
    village_code TEXT NOT NULL,
    cadre_id TEXT NOT NULL,
    list_code TEXT NOT NULL,
    item_code TEXT NOT NULL,
    evidence TEXT NOT NULL,
    points BIGINT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);
CREATE INDEX assessment_list_events_year ON assessment_list_events (county_code, year, village_code);

-- The current revision of each village's result; `explanation` is the domain's JSON.
CREATE TABLE assessment_results (
    county_code TEXT NOT NULL,
    year BIGINT NOT NULL,
    village_code TEXT NOT NULL,
    total BIGINT NOT NULL,
    indicator_total BIGINT NOT NULL,
    rank_township BIGINT NOT NULL,
    rank_county BIGINT NOT NULL,
    rank_type BIGINT NOT NULL,
    tier BIGINT NOT NULL,
    explanation TEXT NOT NULL,
    revision BIGINT NOT NULL,
    reason TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (county_code, year, village_code)
);

-- Every revision ever made of a result (never rewritten).
CREATE TABLE assessment_result_revisions (
    county_code TEXT NOT NULL,
    year BIGINT NOT NULL,
    village_code TEXT NOT NULL,
    revision BIGINT NOT NULL,
    total BIGINT NOT NULL,
    tier BIGINT NOT NULL,
    explanation TEXT NOT NULL,
    reason TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (county_code, year, village_code, revision)
);

CREATE TABLE assessment_notices (
    county_code TEXT NOT NULL,
    year BIGINT NOT NULL,
    starts_on TEXT NOT NULL,
    ends_on TEXT NOT NULL,
    PRIMARY KEY (county_code, year)
);

-- state: 1 open, 2 upheld, 3 dismissed; score_changes JSON.
CREATE TABLE assessment_objections (
    id TEXT PRIMARY KEY,
    county_code TEXT NOT NULL,
    year BIGINT NOT NULL,
    village_code TEXT NOT NULL,
    reason TEXT NOT NULL,
    state BIGINT NOT NULL,
    answer TEXT NOT NULL,
    score_changes TEXT NOT NULL,
    raised_by TEXT NOT NULL,
    raised_at BIGINT NOT NULL,
    resolved_by TEXT NOT NULL,
    resolved_at BIGINT,
    revision BIGINT NOT NULL
);
CREATE INDEX assessment_objections_year ON assessment_objections (county_code, year, state);

CREATE TABLE assessment_consequences (
    county_code TEXT NOT NULL,
    year BIGINT NOT NULL,
    village_code TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    secretary_id TEXT NOT NULL,
    secretary_name TEXT NOT NULL,
    rule TEXT NOT NULL,
    because TEXT NOT NULL,
    withdrawn BIGINT NOT NULL,
    revision BIGINT NOT NULL,
    PRIMARY KEY (county_code, year, village_code, kind)
);
