//! What every cadre service stands on, and no domain logic: configuration,
//! telemetry and metrics, server bootstrap (health, reflection, graceful shutdown),
//! the database pool and migrations for SQLite and PostgreSQL, authentication and
//! jurisdiction, PII protection, the hash-chained audit log, idempotency, errors and
//! pagination. A service uses these so that all services do each thing one way.
#![forbid(unsafe_code)]

pub mod config;
pub mod error;
pub mod principal;
pub mod region_code;

pub use error::{ApiError, ApiResult, ErrorCode};
pub use principal::{Principal, Role};
pub use region_code::{RegionCode, RegionLevel};
