-- Revoked sanctions (撤销) and ended village assignments of work teams.
-- Portable subset: see kit/src/db.rs.

-- A sanction is never deleted: a revocation fills these in once. revoked_date is NULL
-- while the sanction stands; reinstated_post_ids as ",a,b," like ended_post_ids.
ALTER TABLE roster_sanctions ADD COLUMN revoked_date TEXT;
ALTER TABLE roster_sanctions ADD COLUMN revoke_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE roster_sanctions ADD COLUMN revoked_by TEXT NOT NULL DEFAULT '';
ALTER TABLE roster_sanctions ADD COLUMN reinstated_post_ids TEXT NOT NULL DEFAULT '';
ALTER TABLE roster_sanctions ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
UPDATE roster_sanctions SET updated_at = created_at;

-- A village's assignment to a team becomes a period: assigned on day D when
-- start_date <= D and (end_date IS NULL or D < end_date). The old primary key
-- (team_id, village_code) allowed one period per team and village ever; a period now
-- has its own id, so the same village can be assigned again after it ended (even on
-- the day an assignment ended on its first day). At most one period per team and
-- village is open (end_date NULL); the service checks that in the writing transaction.
-- Rebuilt by copy and rename, which both backends do the same way (SQLite cannot
-- change a primary key in place); nothing references this table.
CREATE TABLE roster_work_team_villages_periods (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES roster_work_teams (id),
    village_code TEXT NOT NULL REFERENCES roster_regions (code),
    village_type TEXT NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT,
    end_reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- Existing periods get their natural key as id ("team/village"), unique as it was
-- the primary key; new periods get UUIDs.
INSERT INTO roster_work_team_villages_periods
    (id, team_id, village_code, village_type, start_date, end_date, end_reason, created_at, updated_at)
SELECT team_id || '/' || village_code, team_id, village_code, village_type, start_date, NULL, '',
    created_at, created_at
FROM roster_work_team_villages;
DROP TABLE roster_work_team_villages;
ALTER TABLE roster_work_team_villages_periods RENAME TO roster_work_team_villages;
CREATE INDEX roster_work_team_villages_team ON roster_work_team_villages (team_id, village_code, start_date);
CREATE INDEX roster_work_team_villages_village ON roster_work_team_villages (village_code);
