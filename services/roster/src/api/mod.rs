//! The roster's gRPC services: proto in, domain decisions, store out, errors to
//! `Status`. No SQL here and no rules: those live in `store` and `domain`.

mod analytics;
mod cadres;
mod exits;
mod mentoring;
mod posts;
mod regions;
mod reserves;
mod staffing;
mod terms;
pub mod transfer;
mod work_teams;

use cadre_kit::db::Db;
use cadre_kit::pii::PiiCipher;

/// Shared by every roster service: the database and the PII cipher.
#[derive(Clone)]
pub struct RosterApi {
    pub(crate) db: Db,
    pub(crate) pii: PiiCipher,
}

impl RosterApi {
    pub fn new(db: Db, pii: PiiCipher) -> Self {
        Self { db, pii }
    }
}
