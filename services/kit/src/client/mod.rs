//! How one part of the suite calls another over gRPC, the same way under `cadre up` and on
//! Kubernetes: a target (a fixed list, or a DNS name re-resolved as replicas come and go),
//! power-of-two-choices over the replicas' calls in flight, a deadline on every call, and
//! retries only where they are safe, within a budget.
//!
//! The layers of a call, outermost first: [`PartClient::call`] (deadline, retries, budget) →
//! [`PartChannel`] (grpc-timeout, metadata, local timer) → `Buffer` → p2c `Balance` fed by the
//! resolver task → per endpoint: calls in flight → sit out after a failed connect → tonic
//! `Channel` (lazy connect, HTTP/2 keepalive).

mod balance;
mod channel;
pub mod deadline;
mod discovery;
mod eject;
mod endpoints;
mod error;
mod never_sent;
mod part;
mod resolve;
mod retry;
mod settings;

#[cfg(test)]
mod tests;

pub use channel::PartChannel;
pub use endpoints::Target;
pub use error::{ClientError, TargetError};
pub use never_sent::{connection_lost, never_sent};
pub use part::PartClient;
pub use resolve::{Dns, Fixed, Resolve};
pub use retry::Idempotent;
pub use settings::ClientSettings;
