//! `/readyz`: whether the gateway itself can serve, with what each part says about
//! its own health (`grpc.health.v1`) reported alongside, not decided on.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use cadre_kit::client::Idempotent;
use http::StatusCode;
use serde_json::json;
use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::Gateway;
use crate::rest::labelled;
use crate::upstream::Upstream;

/// How long a part gets to answer its health check: well under the 1 s a Kubernetes
/// probe waits by default, so a part that hangs cannot time the probe out.
const HEALTH_TIMEOUT: Duration = Duration::from_millis(500);

/// 200 when the gateway itself can serve: its route table is loaded (the router is
/// built only once it is, so a gateway that answers has one), every part has at least
/// one endpoint known, and it is not draining. 503 otherwise: from the moment shutdown
/// begins it answers 503 here while it keeps serving for the drain grace.
///
/// Each part's `grpc.health.v1` status is in the body as information only: a part
/// that is NOT_SERVING, saturated or down still leaves the gateway ready (200).
/// Taking the gateway out of the load balancer for one part would take every other
/// part's traffic with it, and that part's callers get UNAVAILABLE from the gateway
/// either way. The checks run outside load shedding (no slot of the part is taken,
/// none is refused) and give up after [`HEALTH_TIMEOUT`].
pub(crate) async fn readyz(State(gw): State<Arc<Gateway>>) -> Response {
    let checks = gw.parts.iter().map(|up| async move {
        let report = json!({ "endpoints": up.endpoints(), "health": health(up).await.to_string() });
        (up.part.clone(), report)
    });
    let parts: BTreeMap<String, serde_json::Value> =
        futures::future::join_all(checks).await.into_iter().collect();
    // Draining: still answering, but no new traffic should come here.
    let draining = gw.shutdown.is_cancelled();
    let ready = !draining && gw.parts.iter().all(|up| up.endpoints() > 0);
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body =
        json!({ "ready": ready, "draining": draining, "routes": gw.routes.routes().len(), "parts": parts });
    labelled((status, axum::Json(body)).into_response(), "/readyz")
}

/// What a part answered to `grpc.health.v1.Health/Check` for the whole server, or
/// why it did not.
#[derive(Debug)]
pub enum Health {
    Unknown,
    Serving,
    NotServing,
    ServiceUnknown,
    /// No answer within the timeout, a failed call, or an unreadable reply.
    NoAnswer(Status),
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Health::Unknown => f.write_str("UNKNOWN"),
            Health::Serving => f.write_str("SERVING"),
            Health::NotServing => f.write_str("NOT_SERVING"),
            Health::ServiceUnknown => f.write_str("SERVICE_UNKNOWN"),
            Health::NoAnswer(status) => {
                write!(f, "{}: {}", cadre_kit::error::code_name(status.code()), status.message())
            }
        }
    }
}

/// Asks `up` through [`Upstream::call`], which takes none of its slots.
pub async fn health(up: &Upstream) -> Health {
    let reply = match up
        .call(
            "/grpc.health.v1.Health/Check",
            MetadataMap::new(),
            Bytes::new(),
            Idempotent::Yes,
            HEALTH_TIMEOUT,
        )
        .await
    {
        Ok(reply) => reply,
        Err(status) => return Health::NoAnswer(status),
    };
    match prost::Message::decode(reply) {
        Ok(HealthCheckResponse { status: 0 }) => Health::Unknown,
        Ok(HealthCheckResponse { status: 1 }) => Health::Serving,
        Ok(HealthCheckResponse { status: 2 }) => Health::NotServing,
        Ok(HealthCheckResponse { status: 3 }) => Health::ServiceUnknown,
        Ok(HealthCheckResponse { status }) => {
            Health::NoAnswer(Status::internal(format!("health reply: unknown status {status}")))
        }
        Err(e) => Health::NoAnswer(Status::internal(format!("health reply: {e}"))),
    }
}

/// `grpc.health.v1.HealthCheckResponse`, the one field read.
#[derive(Clone, PartialEq, prost::Message)]
struct HealthCheckResponse {
    #[prost(int32, tag = "1")]
    status: i32,
}
