//! What every cadre service stands on, and no domain logic: the part a service
//! implements once ([`part::Part`]), configuration, telemetry and metrics, server
//! bootstrap (health, reflection, draining), the token and permission check on every
//! call, the call context and its one way to mutate, the database and migrations for
//! SQLite and PostgreSQL, PII protection, the hash-chained audit log, idempotency, the
//! change feed, errors, pagination, and CPU work spread over the cores. A service uses
//! these so that all services do each thing one way.
#![forbid(unsafe_code)]

pub mod audit;
pub mod auth;
pub mod batch;
pub mod bounds;
pub mod bulk;
pub mod call;
pub mod changes;
pub mod client;
pub mod config;
pub mod dates;
pub mod db;
pub mod error;
pub mod fields;
pub mod follow;
pub mod grpc_layer;
pub mod idempotency;
pub mod identity;
pub mod metrics;
pub mod node;
pub mod pagination;
pub mod parallel;
pub mod part;
pub mod permission;
pub mod pii;
pub mod principal;
pub mod region_code;
pub mod resident_id;
pub mod server;
pub mod shutdown;
pub mod sql;
pub mod standard;
pub mod telemetry;
pub mod testing;
pub mod text;

pub use error::{ApiError, ApiResult, ErrorCode};
pub use principal::{Principal, Role};
pub use region_code::{RegionCode, RegionLevel};
