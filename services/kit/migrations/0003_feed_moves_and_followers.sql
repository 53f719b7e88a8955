-- A record that moves between regions (a cadre to another county) is seen by the
-- followers of both: the change row keeps the region it left.
ALTER TABLE kit_changes ADD COLUMN previous_region_code TEXT NOT NULL DEFAULT '';

-- Entities are named by each service's proto `Entity` enum, operations by the shared
-- `Operation` enum: rows written before carry the short names ("cadre", "created").
UPDATE kit_changes SET entity = 'ENTITY_' || UPPER(entity) WHERE entity NOT LIKE 'ENTITY\_%' ESCAPE '\';
UPDATE kit_changes SET operation = 'OPERATION_' || UPPER(operation) WHERE operation NOT LIKE 'OPERATION\_%' ESCAPE '\';

-- Where each change-feed follower of this service stands in the feed it follows,
-- stored in the same transaction as what it applied (restart-safe, nothing twice).
CREATE TABLE kit_follow_positions (
    feed TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
