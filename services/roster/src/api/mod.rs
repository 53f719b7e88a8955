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

use std::sync::Arc;

use cadre_kit::db::Db;
use cadre_kit::pii::PiiCipher;

use crate::domain::term_calendar::TermCalendar;

/// Shared by every roster service: the database, the PII cipher and the term
/// calendar the rules are asked with.
#[derive(Clone)]
pub struct RosterApi {
    pub(crate) db: Db,
    pub(crate) pii: PiiCipher,
    pub(crate) calendar: Arc<TermCalendar>,
}

impl RosterApi {
    /// The roster under the province's term calendar (one for the whole province:
    /// every region re-elects together).
    pub fn new(db: Db, pii: PiiCipher) -> Self {
        Self { db, pii, calendar: Arc::new(TermCalendar::default()) }
    }
}
