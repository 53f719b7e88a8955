-- Tables every service keeps in its own database (services/kit).
-- Portable subset: runs unchanged on SQLite and PostgreSQL.

-- The head of the audit chain. Every write transaction locks this one row first, so
-- audit sequences are gap-free, hashes chain in commit order, and change-feed
-- readers never see a later sequence commit before an earlier one.
CREATE TABLE kit_chain (
    id BIGINT PRIMARY KEY,
    last_sequence BIGINT NOT NULL,
    last_hash TEXT NOT NULL
);
INSERT INTO kit_chain (id, last_sequence, last_hash) VALUES (1, 0, '');

-- Append-only, hash-chained log of every mutation and every unmasked PII read.
CREATE TABLE kit_audit_log (
    sequence BIGINT PRIMARY KEY,
    recorded_at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    region_code TEXT NOT NULL,
    detail TEXT NOT NULL,
    previous_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX kit_audit_log_region ON kit_audit_log (region_code, sequence);

-- First results of mutations, by the caller's idempotency key.
CREATE TABLE kit_idempotency (
    actor TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    method TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (actor, idempotency_key)
);
