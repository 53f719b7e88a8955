-- Forums (书记讲给书记听) and the issues raised at them, with each issue's steps.
CREATE TABLE training_forums (
    id TEXT PRIMARY KEY,
    region_code TEXT NOT NULL,
    held_date TEXT NOT NULL,
    year BIGINT NOT NULL,
    place TEXT NOT NULL,
    title TEXT NOT NULL,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX training_forums_region ON training_forums (region_code, id);

CREATE TABLE training_forum_issues (
    id TEXT PRIMARY KEY,
    forum_id TEXT NOT NULL REFERENCES training_forums (id),
    region_code TEXT NOT NULL,
    year BIGINT NOT NULL,
    cadre_id TEXT NOT NULL,
    cadre_name TEXT NOT NULL,
    title TEXT NOT NULL,
    unit_name TEXT NOT NULL,
    unit_region_code TEXT NOT NULL,
    deadline TEXT NOT NULL,
    state BIGINT NOT NULL,
    raised_date TEXT NOT NULL,
    closed_date TEXT NOT NULL,
    revision BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX training_forum_issues_region ON training_forum_issues (region_code, id);
CREATE INDEX training_forum_issues_forum ON training_forum_issues (forum_id, id);

CREATE TABLE training_forum_issue_steps (
    issue_id TEXT NOT NULL REFERENCES training_forum_issues (id),
    seq BIGINT NOT NULL,
    state BIGINT NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (issue_id, seq)
);
