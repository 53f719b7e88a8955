//! Training's gRPC services: proto in, domain decisions, store out, errors to `Status`.
//! No SQL here and no rules: those live in `store` and `domain`.

mod catalogue;
mod certificates;
mod completion;
mod enrolments;
mod feedback;
mod forums;
mod orders;
mod programmes;
mod roster;
mod sessions;
mod sign_in;
mod teachers;

use cadre_kit::client::PartClient;
use cadre_kit::db::Db;

use crate::domain::sign_in::CodeKey;

/// Shared by every training service: its database, its client of the roster, and the
/// key sign-in codes are signed with.
#[derive(Clone)]
pub struct TrainingApi {
    pub(crate) db: Db,
    pub(crate) roster: PartClient,
    pub(crate) code_key: CodeKey,
}

impl TrainingApi {
    pub fn new(db: Db, roster: PartClient, code_key: CodeKey) -> Self {
        Self { db, roster, code_key }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }
}
