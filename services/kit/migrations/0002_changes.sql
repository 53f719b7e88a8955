-- The change feed (outbox): one row per changed record, written in the mutation's own
-- transaction. Positions come from the chain head, which every write transaction
-- locks, so they are gap-free and appear in commit order: a reader that has seen
-- position N has seen everything before it.
ALTER TABLE kit_chain ADD COLUMN last_change BIGINT NOT NULL DEFAULT 0;

CREATE TABLE kit_changes (
    position BIGINT PRIMARY KEY,
    recorded_at BIGINT NOT NULL,
    entity TEXT NOT NULL,
    entity_key TEXT NOT NULL,
    operation TEXT NOT NULL,
    region_code TEXT NOT NULL,
    revision BIGINT NOT NULL,
    audit_sequence BIGINT NOT NULL
);
CREATE INDEX kit_changes_region ON kit_changes (region_code, position);
