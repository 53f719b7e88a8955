-- Assessment, slice 1: scoring units, indicator schemes (versioned), the year's phases
-- with its frozen villages, sheets of scores, and assessment's copy of the roster.
-- Portable subset (services/kit/src/db.rs): runs unchanged on SQLite and PostgreSQL.

-- A scoring unit of a county: an agency (region_code = the county) or a township
-- (region_code = the township): the region its sheets are audited and fed under.
CREATE TABLE assessment_units (
    id TEXT PRIMARY KEY,
    county_code TEXT NOT NULL,
    region_code TEXT NOT NULL,
    name TEXT NOT NULL,
    kind BIGINT NOT NULL,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX assessment_units_name ON assessment_units (county_code, name);

-- The token subjects acting for a unit: a subject acts for one unit only.
CREATE TABLE assessment_unit_subjects (
    subject TEXT PRIMARY KEY,
    unit_id TEXT NOT NULL
);
CREATE INDEX assessment_unit_subjects_unit ON assessment_unit_subjects (unit_id);

-- One row per scheme version. The body (variants, items, indicators) is JSON written by
-- store::schemes from the domain's validated scheme; a version in use is never rewritten.
CREATE TABLE assessment_schemes (
    id TEXT PRIMARY KEY,
    county_code TEXT NOT NULL,
    year BIGINT NOT NULL,
    version BIGINT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    copied_from TEXT NOT NULL,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX assessment_schemes_version ON assessment_schemes (county_code, year, version);

-- A county's assessment of a year: its phase and the scheme version in force.
CREATE TABLE assessment_years (
    county_code TEXT NOT NULL,
    year BIGINT NOT NULL,
    phase BIGINT NOT NULL,
    scheme_id TEXT NOT NULL,
    village_count BIGINT NOT NULL,
    opened_at BIGINT,
    closed_at BIGINT,
    revision BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (county_code, year)
);

-- The villages of a year as frozen when scoring opened.
CREATE TABLE assessment_year_villages (
    county_code TEXT NOT NULL,
    year BIGINT NOT NULL,
    village_code TEXT NOT NULL,
    name TEXT NOT NULL,
    township_code TEXT NOT NULL,
    village_type TEXT NOT NULL,
    secretary_id TEXT NOT NULL,
    secretary_name TEXT NOT NULL,
    PRIMARY KEY (county_code, year, village_code)
);

-- A unit's sheet for a year (its scores below), replaced whole by each revision.
CREATE TABLE assessment_sheets (
    county_code TEXT NOT NULL,
    year BIGINT NOT NULL,
    unit_id TEXT NOT NULL,
    revision BIGINT NOT NULL,
    score_count BIGINT NOT NULL,
    submitted_by TEXT NOT NULL,
    submitted_at BIGINT NOT NULL,
    PRIMARY KEY (county_code, year, unit_id)
);

-- Points in tenths. One score per village and indicator (an indicator has one unit).
CREATE TABLE assessment_scores (
    county_code TEXT NOT NULL,
    year BIGINT NOT NULL,
    unit_id TEXT NOT NULL,
    village_code TEXT NOT NULL,
    indicator_code TEXT NOT NULL,
    points BIGINT NOT NULL,
    PRIMARY KEY (county_code, year, village_code, indicator_code)
);
CREATE INDEX assessment_scores_unit ON assessment_scores (county_code, year, unit_id);

-- Assessment's copy of the roster (written only by the follower of the roster's feed):
-- villages with their name and type (townships too, with their name and no type), and who
-- holds each village's Party secretary post.
CREATE TABLE assessment_roster_villages (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    village_type TEXT NOT NULL,
    revision BIGINT NOT NULL
);

CREATE TABLE assessment_roster_secretaries (
    village_code TEXT NOT NULL,
    cadre_id TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (village_code, cadre_id)
);
