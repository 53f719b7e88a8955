//! Training's gRPC services: proto in, domain decisions, store out, errors to `Status`.
//! No SQL here and no rules: those live in `store` and `domain`.

mod catalogue;
mod orders;
mod roster;
mod teachers;

use cadre_kit::client::PartClient;
use cadre_kit::db::Db;

/// Shared by every training service: its database and its client of the roster.
#[derive(Clone)]
pub struct TrainingApi {
    pub(crate) db: Db,
    pub(crate) roster: PartClient,
}

impl TrainingApi {
    pub fn new(db: Db, roster: PartClient) -> Self {
        Self { db, roster }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }
}
