//! The roster's failures, named; each maps once to the suite's [`ApiError`].

use cadre_kit::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    /// A field of the request is wrong; the message starts with the field's name.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("{0} not found")]
    NotFound(String),
    #[error("a cadre with this ID number already exists (id {existing})")]
    DuplicateIdNumber { existing: String },
    #[error("{what} is held by {holder} since {since}; end that post first")]
    SeatTaken { what: String, holder: String, since: String },
    #[error("{0}")]
    Conflict(String),
    /// An update sent a revision other than the stored one (optimistic concurrency).
    #[error("{what} {id} changed since it was read: revision {expected} expected, {current} stored")]
    Stale { what: &'static str, id: String, expected: i64, current: i64 },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("stored PII could not be read: {0}")]
    Pii(String),
    /// A stored value this build cannot read back (an enum number it does not know, a
    /// date that does not parse): written around the service, or by a newer version.
    /// Never read as a default or skipped, which would skew reports and let an update
    /// write the default back. Logged with the column, row and value; INTERNAL out.
    #[error("{column} of {row} holds {value:?}, which is not a value this service knows")]
    Corrupt { column: &'static str, row: String, value: String },
}

impl RosterError {
    pub fn invalid(field: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self::Invalid { field: field.into(), reason: reason.to_string() }
    }

    /// `what` `id` is at revision `current`, not the `expected` one the caller read.
    pub fn stale(what: &'static str, id: &str, expected: i64, current: i64) -> Self {
        Self::Stale { what, id: id.to_string(), expected, current }
    }
}

impl From<cadre_kit::fields::FieldError> for RosterError {
    fn from(e: cadre_kit::fields::FieldError) -> Self {
        RosterError::Invalid { field: e.field, reason: e.reason }
    }
}

impl From<RosterError> for ApiError {
    fn from(e: RosterError) -> Self {
        match e {
            RosterError::Invalid { .. } => {
                ApiError::new(cadre_kit::ErrorCode::InvalidArgument, e.to_string())
            }
            RosterError::NotFound(what) => ApiError::not_found(what),
            RosterError::DuplicateIdNumber { .. } => ApiError::already_exists(e.to_string()),
            RosterError::SeatTaken { .. } | RosterError::Conflict(_) => {
                ApiError::failed_precondition(e.to_string())
            }
            RosterError::Stale { .. } => ApiError::aborted(e.to_string()),
            RosterError::Db(e) => e.into(),
            RosterError::Pii(e) => ApiError::internal(e),
            RosterError::Corrupt { .. } => ApiError::internal(e),
        }
    }
}

impl From<RosterError> for tonic::Status {
    fn from(e: RosterError) -> Self {
        ApiError::from(e).into()
    }
}
