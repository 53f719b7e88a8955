-- Training: sessions with their sittings, enrolment and the waitlist, sign-in; and the
-- local copy of the roster that enrolment by list (and later coverage) reads.
-- Portable subset (services/kit/src/db.rs): runs unchanged on SQLite and PostgreSQL.

-- A session (期次). `enrolled` and `waitlisted` are kept with every enrolment change
-- (the capacity is checked against `enrolled` in the same statement that takes a
-- place); `next_seq` numbers arrivals, the waitlist's order.
CREATE TABLE training_sessions (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    organiser_level BIGINT NOT NULL,
    organiser_region_code TEXT NOT NULL,
    course_id TEXT NOT NULL REFERENCES training_courses (id),
    teacher_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    year BIGINT NOT NULL,
    capacity BIGINT NOT NULL,
    enrolled BIGINT NOT NULL,
    waitlisted BIGINT NOT NULL,
    next_seq BIGINT NOT NULL,
    state BIGINT NOT NULL,
    cancel_reason TEXT NOT NULL,
    code_step_seconds BIGINT NOT NULL,
    sign_in_opens_minutes BIGINT NOT NULL,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX training_sessions_organiser ON training_sessions (organiser_region_code, id);

CREATE TABLE training_sittings (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES training_sessions (id),
    seq BIGINT NOT NULL,
    day TEXT NOT NULL,
    start_time TEXT NOT NULL,
    end_time TEXT NOT NULL,
    place TEXT NOT NULL
);
CREATE INDEX training_sittings_session ON training_sittings (session_id, seq);
CREATE INDEX training_sittings_day ON training_sittings (day);

-- A cadre in a session: enrolled, waitlisted or withdrawn; one row per cadre and
-- session (joining again after a withdrawal reuses it, at the end of the queue).
CREATE TABLE training_enrolments (
    session_id TEXT NOT NULL REFERENCES training_sessions (id),
    cadre_id TEXT NOT NULL,
    id TEXT NOT NULL UNIQUE,
    cadre_name TEXT NOT NULL,
    region_code TEXT NOT NULL,
    state BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    joined_at BIGINT NOT NULL,
    withdraw_reason TEXT NOT NULL,
    revision BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, cadre_id)
);
CREATE INDEX training_enrolments_queue ON training_enrolments (session_id, state, seq);
CREATE INDEX training_enrolments_cadre ON training_enrolments (cadre_id, state);

-- A trainee signed in at a sitting: once (the primary key), by code or by hand.
CREATE TABLE training_attendance (
    sitting_id TEXT NOT NULL REFERENCES training_sittings (id),
    cadre_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    cadre_name TEXT NOT NULL,
    region_code TEXT NOT NULL,
    signed_in_at BIGINT NOT NULL,
    method BIGINT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (sitting_id, cadre_id)
);
CREATE INDEX training_attendance_order ON training_attendance (sitting_id, signed_in_at, cadre_id);

-- Training's copy of the roster, fed by the roster's change feed (kit::follow) under
-- training's own identity: what training needs and nothing more (no ID number, no
-- phone). `post_kinds` lists the roster's PostKind numbers held now, ",1,4," (empty
-- when the cadre holds none: dismissed, resigned, term ended).
CREATE TABLE training_roster_cadres (
    id TEXT PRIMARY KEY,
    region_code TEXT NOT NULL,
    name TEXT NOT NULL,
    birth_month TEXT NOT NULL,
    education BIGINT NOT NULL,
    post_kinds TEXT NOT NULL,
    revision BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX training_roster_cadres_region ON training_roster_cadres (region_code, id);
-- Posts held now, by id: a change of a post reaches its holder.
CREATE TABLE training_roster_posts (
    id TEXT PRIMARY KEY,
    cadre_id TEXT NOT NULL,
    kind BIGINT NOT NULL
);
CREATE INDEX training_roster_posts_cadre ON training_roster_posts (cadre_id);
CREATE TABLE training_roster_regions (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    revision BIGINT NOT NULL
);
