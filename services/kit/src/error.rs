//! The suite's one error type at service boundaries, and its one mapping to gRPC
//! codes and HTTP statuses (Quickwit's `error.rs` pattern). Each service names its
//! own failures in a `thiserror` enum and converts them into [`ApiError`]; internal
//! details are logged here and never sent to the caller.

use std::fmt;

/// The small set of outcomes a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidArgument,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    AlreadyExists,
    /// The request is valid but the state does not allow it (e.g. a seat is taken).
    FailedPrecondition,
    /// Optimistic concurrency conflict: the record changed since it was read.
    Aborted,
    ResourceExhausted,
    Unavailable,
    DeadlineExceeded,
    Internal,
}

impl ErrorCode {
    pub fn grpc(self) -> tonic::Code {
        match self {
            Self::InvalidArgument => tonic::Code::InvalidArgument,
            Self::Unauthenticated => tonic::Code::Unauthenticated,
            Self::PermissionDenied => tonic::Code::PermissionDenied,
            Self::NotFound => tonic::Code::NotFound,
            Self::AlreadyExists => tonic::Code::AlreadyExists,
            Self::FailedPrecondition => tonic::Code::FailedPrecondition,
            Self::Aborted => tonic::Code::Aborted,
            Self::ResourceExhausted => tonic::Code::ResourceExhausted,
            Self::Unavailable => tonic::Code::Unavailable,
            Self::DeadlineExceeded => tonic::Code::DeadlineExceeded,
            Self::Internal => tonic::Code::Internal,
        }
    }
}

/// The canonical upper-case name of a gRPC code (`INVALID_ARGUMENT`).
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code as C;
    match code {
        C::Ok => "OK",
        C::Cancelled => "CANCELLED",
        C::Unknown => "UNKNOWN",
        C::InvalidArgument => "INVALID_ARGUMENT",
        C::DeadlineExceeded => "DEADLINE_EXCEEDED",
        C::NotFound => "NOT_FOUND",
        C::AlreadyExists => "ALREADY_EXISTS",
        C::PermissionDenied => "PERMISSION_DENIED",
        C::ResourceExhausted => "RESOURCE_EXHAUSTED",
        C::FailedPrecondition => "FAILED_PRECONDITION",
        C::Aborted => "ABORTED",
        C::OutOfRange => "OUT_OF_RANGE",
        C::Unimplemented => "UNIMPLEMENTED",
        C::Internal => "INTERNAL",
        C::Unavailable => "UNAVAILABLE",
        C::DataLoss => "DATA_LOSS",
        C::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// HTTP status for a gRPC code: the single table the gateway uses (the mapping of
/// google.rpc / grpc-gateway).
pub fn http_status_for(code: tonic::Code) -> http::StatusCode {
    use http::StatusCode as S;
    use tonic::Code as C;
    match code {
        C::Ok => S::OK,
        C::Cancelled => S::from_u16(499).unwrap_or(S::BAD_REQUEST),
        C::InvalidArgument | C::OutOfRange => S::BAD_REQUEST,
        C::FailedPrecondition => S::BAD_REQUEST,
        C::Unauthenticated => S::UNAUTHORIZED,
        C::PermissionDenied => S::FORBIDDEN,
        C::NotFound => S::NOT_FOUND,
        C::AlreadyExists | C::Aborted => S::CONFLICT,
        C::ResourceExhausted => S::TOO_MANY_REQUESTS,
        C::Unimplemented => S::NOT_IMPLEMENTED,
        C::Unavailable => S::SERVICE_UNAVAILABLE,
        C::DeadlineExceeded => S::GATEWAY_TIMEOUT,
        C::Unknown | C::Internal | C::DataLoss => S::INTERNAL_SERVER_ERROR,
    }
}

/// The gRPC metadata key that carries an error's [`ApiError::reason`].
pub const REASON_METADATA_KEY: &str = "cadre-error-reason";

/// An idempotency key sent again with a different request (HTTP 422, as the IETF
/// Idempotency-Key draft says).
pub const IDEMPOTENCY_KEY_REUSED: &str = "IDEMPOTENCY_KEY_REUSED";
/// An idempotency key sent again while the first request with it is still being
/// handled (HTTP 409).
pub const IDEMPOTENCY_KEY_IN_FLIGHT: &str = "IDEMPOTENCY_KEY_IN_FLIGHT";

/// The HTTP status of a reason that has its own, where the code's status says less.
pub fn http_status_for_reason(reason: &str) -> Option<http::StatusCode> {
    match reason {
        IDEMPOTENCY_KEY_REUSED => Some(http::StatusCode::UNPROCESSABLE_ENTITY),
        IDEMPOTENCY_KEY_IN_FLIGHT => Some(http::StatusCode::CONFLICT),
        _ => None,
    }
}

/// The reason a status carries, if any.
pub fn reason_of(metadata: &tonic::metadata::MetadataMap) -> Option<&str> {
    metadata.get(REASON_METADATA_KEY).and_then(|v| v.to_str().ok())
}

/// An error as the caller sees it: a code and a message safe to show, and optionally a
/// machine-readable reason (sent as `cadre-error-reason` metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub reason: Option<&'static str>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), reason: None }
    }

    /// The same error with a machine-readable reason.
    pub fn with_reason(self, reason: &'static str) -> Self {
        Self { reason: Some(reason), ..self }
    }

    /// A bad field: the message always starts with the field's name.
    pub fn invalid(field: &str, reason: impl fmt::Display) -> Self {
        Self::new(ErrorCode::InvalidArgument, format!("{field}: {reason}"))
    }

    pub fn unauthenticated(reason: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, reason)
    }

    pub fn permission_denied(reason: impl Into<String>) -> Self {
        Self::new(ErrorCode::PermissionDenied, reason)
    }

    pub fn not_found(what: impl fmt::Display) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn already_exists(reason: impl Into<String>) -> Self {
        Self::new(ErrorCode::AlreadyExists, reason)
    }

    pub fn failed_precondition(reason: impl Into<String>) -> Self {
        Self::new(ErrorCode::FailedPrecondition, reason)
    }

    pub fn aborted(reason: impl Into<String>) -> Self {
        Self::new(ErrorCode::Aborted, reason)
    }

    pub fn unavailable(reason: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, reason)
    }

    /// Logs the real cause and returns an error that reveals nothing of it.
    pub fn internal(cause: impl fmt::Display) -> Self {
        let id = uuid::Uuid::now_v7();
        tracing::error!(error_id = %id, "internal error: {cause}");
        Self::new(ErrorCode::Internal, format!("internal error (id {id})"))
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<ApiError> for tonic::Status {
    fn from(e: ApiError) -> Self {
        let mut metadata = tonic::metadata::MetadataMap::new();
        if let Some(reason) = e.reason {
            metadata.insert(REASON_METADATA_KEY, tonic::metadata::MetadataValue::from_static(reason));
        }
        tonic::Status::with_metadata(e.code.grpc(), e.message, metadata)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                tracing::warn!("database unavailable: {e}");
                Self::unavailable("database unavailable, try again")
            }
            _ => Self::internal(e),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_names_the_field_and_maps_to_400() {
        let e = ApiError::invalid("cadre.id_number", "bad checksum");
        assert_eq!(e.message, "cadre.id_number: bad checksum");
        let status: tonic::Status = e.into();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert_eq!(http_status_for(status.code()), http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let e = ApiError::internal("connection string postgres://secret@host");
        assert!(!e.message.contains("secret"));
        assert_eq!(e.code, ErrorCode::Internal);
    }

    #[test]
    fn conflicts_map_to_409() {
        assert_eq!(http_status_for(tonic::Code::Aborted), http::StatusCode::CONFLICT);
        assert_eq!(http_status_for(tonic::Code::PermissionDenied), http::StatusCode::FORBIDDEN);
        assert_eq!(http_status_for(tonic::Code::Unauthenticated), http::StatusCode::UNAUTHORIZED);
    }
}
