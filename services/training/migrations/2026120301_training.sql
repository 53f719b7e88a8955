-- Training: the teacher pool, the catalogue and menus, orders and their rules.
-- Portable subset (services/kit/src/db.rs): runs unchanged on SQLite and PostgreSQL.

-- A teacher: a roster cadre (cadre_id, name copied from the roster at write time) or
-- an outside expert. Expertise and served regions are comma-separated (topic numbers,
-- region codes); the rating is kept as a sum and a count of trainees' marks.
CREATE TABLE training_teachers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind BIGINT NOT NULL,
    cadre_id TEXT NOT NULL,
    affiliation TEXT NOT NULL,
    expertise TEXT NOT NULL,
    home_region_code TEXT NOT NULL,
    serves TEXT NOT NULL,
    rating_sum BIGINT NOT NULL DEFAULT 0,
    rating_count BIGINT NOT NULL DEFAULT 0,
    active BIGINT NOT NULL,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX training_teachers_home ON training_teachers (home_region_code, id);
-- A cadre is in the pool once.
CREATE UNIQUE INDEX training_teachers_cadre ON training_teachers (cadre_id) WHERE cadre_id <> '';

CREATE TABLE training_courses (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    topic BIGINT NOT NULL,
    mode BIGINT NOT NULL,
    credit_tenths BIGINT NOT NULL,
    level BIGINT NOT NULL,
    owner_region_code TEXT NOT NULL,
    description TEXT NOT NULL,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX training_courses_owner ON training_courses (owner_region_code, id);

-- A county's menu for a year, and its courses in order.
CREATE TABLE training_menus (
    county_code TEXT NOT NULL,
    year BIGINT NOT NULL,
    revision BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (county_code, year)
);
CREATE TABLE training_menu_courses (
    county_code TEXT NOT NULL,
    year BIGINT NOT NULL,
    position BIGINT NOT NULL,
    course_id TEXT NOT NULL REFERENCES training_courses (id),
    PRIMARY KEY (county_code, year, position)
);

-- Orders (点单) and every move they made.
CREATE TABLE training_orders (
    id TEXT PRIMARY KEY,
    region_code TEXT NOT NULL,
    county_code TEXT NOT NULL,
    course_id TEXT NOT NULL REFERENCES training_courses (id),
    year BIGINT NOT NULL,
    note TEXT NOT NULL,
    preferred_date TEXT NOT NULL,
    expected_trainees BIGINT NOT NULL,
    state BIGINT NOT NULL,
    teacher_id TEXT NOT NULL,
    scheduled_date TEXT NOT NULL,
    start_time TEXT NOT NULL,
    end_time TEXT NOT NULL,
    place TEXT NOT NULL,
    decline_reason TEXT NOT NULL,
    delivered_date TEXT NOT NULL,
    attendees BIGINT NOT NULL,
    submitted_at BIGINT NOT NULL,
    submitted_date TEXT NOT NULL,
    revision BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX training_orders_region ON training_orders (region_code, id);
CREATE INDEX training_orders_teacher_day ON training_orders (teacher_id, scheduled_date);
CREATE TABLE training_order_steps (
    order_id TEXT NOT NULL REFERENCES training_orders (id),
    seq BIGINT NOT NULL,
    state BIGINT NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (order_id, seq)
);

-- How long an order may wait, per region (nearest configured ancestor wins).
CREATE TABLE training_order_rules (
    region_code TEXT PRIMARY KEY,
    max_wait_days BIGINT NOT NULL,
    revision BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
