//! Training's failures, named; each maps once to the suite's [`ApiError`].

use cadre_kit::ApiError;
use cadre_kit::fields::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    /// A field of the request is wrong; the message starts with the field's name.
    #[error("{0}")]
    Invalid(#[from] FieldError),
    #[error("{0} not found")]
    NotFound(String),
    /// A move a lifecycle does not allow, e.g. an order DELIVERED → MATCHED.
    #[error("{what} {id} is {from}; it cannot move to {to}")]
    IllegalMove { what: &'static str, id: String, from: &'static str, to: &'static str },
    /// The request is valid but the state does not allow it.
    #[error("{0}")]
    Conflict(String),
    /// The caller's level may not do this (e.g. matching is the county's).
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

impl TrainingError {
    pub fn invalid(field: &str, reason: impl std::fmt::Display) -> Self {
        Self::Invalid(FieldError::new(field, reason))
    }

    pub fn stale(what: &'static str, id: &str, expected: i64, current: i64) -> Self {
        Self::Stale { what, id: id.to_string(), expected, current }
    }
}

impl From<TrainingError> for ApiError {
    fn from(e: TrainingError) -> Self {
        match e {
            TrainingError::Invalid(field) => field.into(),
            TrainingError::NotFound(what) => ApiError::not_found(what),
            TrainingError::IllegalMove { .. } | TrainingError::Conflict(_) => {
                ApiError::failed_precondition(e.to_string())
            }
            TrainingError::NotAllowed(why) => ApiError::permission_denied(why),
            TrainingError::Stale { .. } => ApiError::aborted(e.to_string()),
            TrainingError::Corrupt { .. } => ApiError::internal(e),
            TrainingError::Db(e) => e.into(),
        }
    }
}

impl From<TrainingError> for tonic::Status {
    fn from(e: TrainingError) -> Self {
        ApiError::from(e).into()
    }
}
