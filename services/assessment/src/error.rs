//! Assessment's failures, named; each maps once to the suite's [`ApiError`].

use cadre_kit::ApiError;
use cadre_kit::fields::FieldError;

use crate::domain::RuleError;

#[derive(Debug, thiserror::Error)]
pub enum AssessmentError {
    /// A domain rule refused (a field, a move, a phase, a sheet's rows).
    #[error("{0}")]
    Rule(#[from] RuleError),
    #[error("{0} not found")]
    NotFound(String),
    /// The request is valid but the state does not allow it.
    #[error("{0}")]
    Conflict(String),
    /// The caller may not do this (e.g. a unit's sheet by another unit's token).
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

impl From<FieldError> for AssessmentError {
    fn from(e: FieldError) -> Self {
        Self::Rule(RuleError::Invalid(e))
    }
}

impl From<AssessmentError> for ApiError {
    fn from(e: AssessmentError) -> Self {
        match e {
            AssessmentError::Rule(RuleError::Invalid(field)) => field.into(),
            AssessmentError::Rule(RuleError::Rows(rows)) => {
                let first = &rows[0];
                let more = match rows.len() {
                    1 => String::new(),
                    n => format!(" (and {} more row(s) refused)", n - 1),
                };
                ApiError::invalid(
                    &format!("scores[{}].{}", first.row, first.column),
                    format!("{}{more}", first.reason),
                )
            }
            AssessmentError::Rule(rule) => ApiError::failed_precondition(rule.to_string()),
            AssessmentError::NotFound(what) => ApiError::not_found(what),
            AssessmentError::Conflict(_) => ApiError::failed_precondition(e.to_string()),
            AssessmentError::NotAllowed(why) => ApiError::permission_denied(why),
            AssessmentError::Stale { .. } => ApiError::aborted(e.to_string()),
            AssessmentError::Corrupt { .. } => ApiError::internal(e),
            AssessmentError::Db(e) => e.into(),
        }
    }
}

impl From<AssessmentError> for tonic::Status {
    fn from(e: AssessmentError) -> Self {
        ApiError::from(e).into()
    }
}
