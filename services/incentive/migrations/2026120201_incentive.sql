-- Incentive: pay scales, reward rules, bonus pools, awards and the pools' ledger.
-- Portable subset (services/kit/src/db.rs): runs unchanged on SQLite and PostgreSQL.
-- Money is BIGINT fen everywhere.

-- A region's pay scale for a year: the grid of base pay (post class × level) as JSON
-- ({"level_count":15,"classes":[["一岗",[...15 cells...]],...]}), validated whole on write.
CREATE TABLE incentive_pay_scales (
    region_code TEXT NOT NULL,
    year BIGINT NOT NULL,
    grid TEXT NOT NULL,
    revision BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (region_code, year)
);

CREATE TABLE incentive_rules (
    id TEXT PRIMARY KEY,
    region_code TEXT NOT NULL,
    year BIGINT NOT NULL,
    name TEXT NOT NULL,
    trigger_kind BIGINT NOT NULL,
    tier BIGINT NOT NULL,
    income_threshold_fen BIGINT NOT NULL,
    honour TEXT NOT NULL,
    amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
    payee BIGINT NOT NULL,
    split BIGINT NOT NULL,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX incentive_rules_region ON incentive_rules (region_code, year, id);

-- A pool: its budget, and the balance approvals draw on. The balance is drawn by a
-- conditional update (balance >= amount) and can never go below zero (CHECK as well).
CREATE TABLE incentive_pools (
    id TEXT PRIMARY KEY,
    region_code TEXT NOT NULL,
    year BIGINT NOT NULL,
    name TEXT NOT NULL,
    budget_fen BIGINT NOT NULL CHECK (budget_fen > 0),
    balance_fen BIGINT NOT NULL CHECK (balance_fen >= 0),
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX incentive_pools_region ON incentive_pools (region_code, year, id);

-- An award. The bank account is encrypted (kit PII cipher), never stored in clear.
CREATE TABLE incentive_awards (
    id TEXT PRIMARY KEY,
    pool_id TEXT NOT NULL REFERENCES incentive_pools (id),
    rule_id TEXT NOT NULL REFERENCES incentive_rules (id),
    region_code TEXT NOT NULL,
    year BIGINT NOT NULL,
    payee BIGINT NOT NULL,
    payee_name TEXT NOT NULL,
    account_cipher TEXT NOT NULL,
    cadre_id TEXT NOT NULL,
    on_payroll BIGINT NOT NULL,
    amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
    reason TEXT NOT NULL,
    state BIGINT NOT NULL,
    note TEXT NOT NULL,
    declared_by TEXT NOT NULL,
    reviewed_by TEXT NOT NULL,
    approved_by TEXT NOT NULL,
    paid_on TEXT NOT NULL,
    payment_reference TEXT NOT NULL,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX incentive_awards_pool ON incentive_awards (pool_id, state, id);
CREATE INDEX incentive_awards_region ON incentive_awards (region_code, id);

-- The ledger: append-only (the service never updates or deletes a row). Each entry is
-- two postings (line 1: minus from an account, line 2: plus to another) that sum to zero.
-- An award is approved, paid and released at most once each: paying twice is refused
-- by this unique index, not only by a check.
CREATE TABLE incentive_ledger (
    entry_id TEXT NOT NULL,
    line BIGINT NOT NULL,
    pool_id TEXT NOT NULL REFERENCES incentive_pools (id),
    award_id TEXT NOT NULL,
    kind BIGINT NOT NULL,
    account BIGINT NOT NULL,
    amount_fen BIGINT NOT NULL,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (entry_id, line)
);
CREATE INDEX incentive_ledger_pool ON incentive_ledger (pool_id, entry_id, line);
CREATE UNIQUE INDEX incentive_ledger_once ON incentive_ledger (award_id, kind, line) WHERE award_id <> '';
