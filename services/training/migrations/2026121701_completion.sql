-- Training: completion rules, the hours ledger, feedback, certificates, training rules.
-- Portable subset (services/kit/src/db.rs): runs unchanged on SQLite and PostgreSQL.

-- Who completes a session (one of the two is set; sessions planned before this
-- migration take 80 %), and when it was finished (0: not yet).
ALTER TABLE training_sessions ADD COLUMN completion_percent BIGINT NOT NULL DEFAULT 80;
ALTER TABLE training_sessions ADD COLUMN completion_sittings BIGINT NOT NULL DEFAULT 0;
ALTER TABLE training_sessions ADD COLUMN finished_at BIGINT NOT NULL DEFAULT 0;

-- Rules per region (county, city or province) and year; the nearest configured region
-- at or above wins. `required_hours` is ",<post kind>:<tenths>,…,".
CREATE TABLE training_rules (
    region_code TEXT NOT NULL,
    year BIGINT NOT NULL,
    required_hours TEXT NOT NULL,
    default_min_percent BIGINT NOT NULL,
    feedback_days BIGINT NOT NULL,
    feedback_min_answers BIGINT NOT NULL,
    revision BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (region_code, year)
);

-- Each enrolled trainee of a finished session, evaluated once (the primary key: a
-- second finish finds them here and credits nothing).
CREATE TABLE training_completions (
    session_id TEXT NOT NULL REFERENCES training_sessions (id),
    cadre_id TEXT NOT NULL,
    cadre_name TEXT NOT NULL,
    region_code TEXT NOT NULL,
    year BIGINT NOT NULL,
    attended BIGINT NOT NULL,
    sittings BIGINT NOT NULL,
    required BIGINT NOT NULL,
    state BIGINT NOT NULL,
    hours_tenths BIGINT NOT NULL,
    certificate_id TEXT NOT NULL,
    note TEXT NOT NULL,
    evaluated_at BIGINT NOT NULL,
    revision BIGINT NOT NULL,
    PRIMARY KEY (session_id, cadre_id)
);

-- The hours ledger: entries only ever added. A credit per completion (unique), a
-- reversal per reversed completion (unique): never twice either way.
CREATE TABLE training_hours (
    id TEXT PRIMARY KEY,
    cadre_id TEXT NOT NULL,
    year BIGINT NOT NULL,
    session_id TEXT NOT NULL,
    kind BIGINT NOT NULL,
    hours_tenths BIGINT NOT NULL,
    region_code TEXT NOT NULL,
    note TEXT NOT NULL,
    actor TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX training_hours_once ON training_hours (session_id, cadre_id, kind);
CREATE INDEX training_hours_cadre ON training_hours (cadre_id, year, recorded_at);
CREATE INDEX training_hours_year ON training_hours (year, cadre_id);

-- Feedback: one answer per trainee and session (revisable until the close).
CREATE TABLE training_feedback (
    session_id TEXT NOT NULL REFERENCES training_sessions (id),
    cadre_id TEXT NOT NULL,
    score BIGINT NOT NULL,
    comment TEXT NOT NULL,
    submitted_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    revision BIGINT NOT NULL,
    PRIMARY KEY (session_id, cadre_id)
);

-- Certificates: the number is what a holder shows; the id is what the feed names.
CREATE TABLE training_certificates (
    id TEXT PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    session_id TEXT NOT NULL REFERENCES training_sessions (id),
    cadre_id TEXT NOT NULL,
    holder_name TEXT NOT NULL,
    region_code TEXT NOT NULL,
    hours_tenths BIGINT NOT NULL,
    issued_on TEXT NOT NULL,
    state BIGINT NOT NULL,
    revoked_on TEXT NOT NULL,
    revision BIGINT NOT NULL
);
CREATE UNIQUE INDEX training_certificates_once ON training_certificates (session_id, cadre_id);
