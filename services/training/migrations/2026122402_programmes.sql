-- Programmes (cohorts): eligibility as data, tiers of places, milestones, members and
-- the milestones each member has done.
CREATE TABLE training_programmes (
    id TEXT PRIMARY KEY,
    region_code TEXT NOT NULL,
    name TEXT NOT NULL,
    kind BIGINT NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    max_age BIGINT NOT NULL,
    age_on TEXT NOT NULL,
    post_kinds TEXT NOT NULL,
    min_education BIGINT NOT NULL,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX training_programmes_region ON training_programmes (region_code, id);

-- `taken` moves only in the statement that checks it against `places`.
CREATE TABLE training_programme_tiers (
    programme_id TEXT NOT NULL REFERENCES training_programmes (id),
    seq BIGINT NOT NULL,
    name TEXT NOT NULL,
    places BIGINT NOT NULL,
    taken BIGINT NOT NULL,
    PRIMARY KEY (programme_id, seq)
);

CREATE TABLE training_programme_milestones (
    id TEXT PRIMARY KEY,
    programme_id TEXT NOT NULL REFERENCES training_programmes (id),
    seq BIGINT NOT NULL,
    name TEXT NOT NULL,
    due_date TEXT NOT NULL
);
CREATE INDEX training_programme_milestones_programme ON training_programme_milestones (programme_id, seq);

CREATE TABLE training_programme_members (
    programme_id TEXT NOT NULL REFERENCES training_programmes (id),
    cadre_id TEXT NOT NULL,
    name TEXT NOT NULL,
    region_code TEXT NOT NULL,
    tier TEXT NOT NULL,
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (programme_id, cadre_id)
);

CREATE TABLE training_programme_done (
    milestone_id TEXT NOT NULL REFERENCES training_programme_milestones (id),
    programme_id TEXT NOT NULL,
    cadre_id TEXT NOT NULL,
    done_at BIGINT NOT NULL,
    PRIMARY KEY (milestone_id, cadre_id)
);
CREATE INDEX training_programme_done_programme ON training_programme_done (programme_id, cadre_id);
