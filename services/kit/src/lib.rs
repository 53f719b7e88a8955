//! What every cadre service stands on, and no domain logic: configuration,
//! telemetry and metrics, server bootstrap (health, reflection, graceful shutdown),
//! the database pool and migrations for SQLite and PostgreSQL, authentication and
//! jurisdiction, PII protection, the hash-chained audit log, idempotency, errors,
//! pagination, and CPU work spread over the cores. A service uses these so that all services do each thing one way.
#![forbid(unsafe_code)]

pub mod audit;
pub mod auth;
pub mod bulk;
pub mod changes;
pub mod client;
pub mod config;
pub mod db;
pub mod error;
pub mod grpc_layer;
pub mod idempotency;
pub mod metrics;
pub mod pagination;
pub mod parallel;
pub mod pii;
pub mod principal;
pub mod region_code;
pub mod resident_id;
pub mod server;
pub mod shutdown;
pub mod sql;
pub mod telemetry;
pub mod testing;

pub use error::{ApiError, ApiResult, ErrorCode};
pub use principal::{Principal, Role};
pub use region_code::{RegionCode, RegionLevel};
