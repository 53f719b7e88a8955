//! Incentive's failures, named; each maps once to the suite's [`ApiError`].

use cadre_kit::ApiError;
use cadre_kit::fields::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum IncentiveError {
    /// A field of the request is wrong; the message starts with the field's name.
    #[error("{0}")]
    Invalid(#[from] FieldError),
    #[error("{0} not found")]
    NotFound(String),
    /// A move the award lifecycle does not allow, e.g. PAID → APPROVED.
    #[error("award {id} is {from}; it cannot move to {to}")]
    IllegalMove { id: String, from: &'static str, to: &'static str },
    /// The pool cannot cover an award (checked by the database, not only here).
    #[error(
        "pool {pool} has a balance of {balance_fen} fen ({balance_yuan} yuan); award {award} needs {amount_fen} fen"
    )]
    PoolDry { pool: String, balance_fen: i64, balance_yuan: String, award: String, amount_fen: i64 },
    /// The request is valid but the state does not allow it.
    #[error("{0}")]
    Conflict(String),
    /// The caller's level may not do this (e.g. approving is the county's).
    #[error("{0}")]
    NotAllowed(String),
    /// An update sent a revision other than the stored one (optimistic concurrency).
    #[error("{what} {id} changed since it was read: revision {expected} expected, {current} stored")]
    Stale { what: &'static str, id: String, expected: i64, current: i64 },
    /// A stored value this code does not know (never defaulted).
    #[error("stored {column} of {row} is {value:?}, which this version does not know")]
    Corrupt { column: &'static str, row: String, value: String },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl IncentiveError {
    pub fn invalid(field: &str, reason: impl std::fmt::Display) -> Self {
        Self::Invalid(FieldError::new(field, reason))
    }
}

impl From<IncentiveError> for ApiError {
    fn from(e: IncentiveError) -> Self {
        match e {
            IncentiveError::Invalid(field) => field.into(),
            IncentiveError::NotFound(what) => ApiError::not_found(what),
            IncentiveError::IllegalMove { .. }
            | IncentiveError::PoolDry { .. }
            | IncentiveError::Conflict(_) => ApiError::failed_precondition(e.to_string()),
            IncentiveError::NotAllowed(why) => ApiError::permission_denied(why),
            IncentiveError::Stale { .. } => ApiError::aborted(e.to_string()),
            IncentiveError::Corrupt { .. } => ApiError::internal(e),
            IncentiveError::Db(e) => e.into(),
        }
    }
}

impl From<IncentiveError> for tonic::Status {
    fn from(e: IncentiveError) -> Self {
        ApiError::from(e).into()
    }
}
