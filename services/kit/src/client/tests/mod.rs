//! Scenarios of one part calling another, against real gRPC servers on local ports.

mod balancing;
mod deadlines;
mod failover;
mod never_sent;
mod retries;
pub(super) mod support;
