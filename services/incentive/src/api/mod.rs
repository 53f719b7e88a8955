//! Incentive's gRPC services: proto in, domain decisions, store out, errors to `Status`.
//! No SQL here and no rules: those live in `store` and `domain`.

mod awards;
mod payments;
mod pools;
mod rules;
mod scales;

use cadre_kit::db::Db;
use cadre_kit::pii::PiiCipher;
use cadre_kit::{ApiError, Principal, RegionCode};

/// Shared by every incentive service: its database and the cipher of bank accounts.
#[derive(Clone)]
pub struct IncentiveApi {
    pub(crate) db: Db,
    pub(crate) pii: PiiCipher,
}

impl IncentiveApi {
    pub fn new(db: Db, pii: PiiCipher) -> Self {
        Self { db, pii }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }
}

/// Whether `principal` sees what `kept_by` keeps: records under its jurisdiction, and
/// the scales, rules and pools of the regions above it (which apply to it).
pub(crate) fn sees_kept_by(principal: &Principal, kept_by: &str) -> bool {
    if principal.jurisdiction.covers_str(kept_by) {
        return true;
    }
    match RegionCode::parse(kept_by) {
        Ok(code) => code.covers(&principal.jurisdiction),
        Err(_) => false,
    }
}

/// `NOT_FOUND` for a record the caller may not see, as for one that does not exist.
pub(crate) fn visible<T>(
    principal: &Principal,
    row: Option<T>,
    region: impl Fn(&T) -> &str,
    what: String,
) -> Result<T, ApiError> {
    row.filter(|r| sees_kept_by(principal, region(r))).ok_or_else(|| ApiError::not_found(what))
}

/// The ancestors of `region` (not itself), for "rules kept above me".
pub(crate) fn ancestors(region: &RegionCode) -> Vec<String> {
    region.lineage().skip(1).map(|r| r.to_string()).collect()
}
