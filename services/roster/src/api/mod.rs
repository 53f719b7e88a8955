//! The roster's gRPC services: proto in, domain decisions, store out, errors to
//! `Status`. No SQL here and no rules: those live in `store` and `domain`.

mod analytics;
mod audit;
mod cadres;
mod changes;
mod exits;
mod mentoring;
mod posts;
mod regions;
mod reserves;
mod staffing;
mod terms;
pub mod transfer;
mod work_teams;

use cadre_kit::Principal;
use cadre_kit::db::Db;
use cadre_kit::idempotency::IdempotencyKey;
use cadre_kit::pii::PiiCipher;
use tonic::{Request, Status};

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

/// The caller, as the auth interceptor left it on the request.
pub(crate) fn caller<T>(req: &Request<T>) -> Result<Principal, Status> {
    cadre_kit::auth::principal(req).map_err(Status::from)
}

pub(crate) fn idempotency_key<T>(req: &Request<T>) -> Result<Option<IdempotencyKey>, Status> {
    IdempotencyKey::from_metadata(req.metadata()).map_err(Status::from)
}

/// Full method names, for idempotency records and audit entries.
pub(crate) fn method(service: &str, name: &str) -> String {
    format!("cadre.roster.v1.{service}/{name}")
}
