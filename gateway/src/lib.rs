//! The edge of the suite: REST/JSON transcoded generically from the proto HTTP rules,
//! an OpenAPI document generated from the same descriptors, gRPC passthrough routed
//! by service name, bearer authentication, request size limits, balancing over every
//! endpoint of a part, deadlines, and health endpoints.
#![forbid(unsafe_code)]

mod deadline;
mod health;
pub mod openapi;
mod passthrough;
pub mod ratelimit;
mod rest;
pub mod routes;
#[cfg(test)]
mod test_pool;
pub mod transcode;
pub mod upstream;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use cadre_kit::auth::Authenticator;
use cadre_kit::config::GatewaySettings;
use cadre_kit::metrics::Metrics;
use cadre_kit::shutdown::Shutdown;
use http::header::CONTENT_TYPE;
use prost_reflect::{DescriptorPool, MethodDescriptor};
use tracing::Instrument;

use crate::rest::{RouteLabel, labelled};
use crate::routes::RouteTable;
use crate::upstream::Parts;

pub use upstream::Upstreams;

/// Why the gateway could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("descriptor set: {0}")]
    Descriptor(String),
    #[error("upstream {part}: bad target '{url}': {reason}")]
    BadUpstream { part: String, url: String, reason: String },
    #[error("service {0} has no upstream part configured")]
    MissingPart(String),
}

/// What every handler shares.
pub(crate) struct Gateway {
    pub(crate) routes: RouteTable,
    pub(crate) parts: Parts,
    pub(crate) auth: Authenticator,
    pub(crate) body_limit: usize,
    pub(crate) stream_body_limit: usize,
    pub(crate) default_deadline: Duration,
    /// `/package.Service/Method` of the RPCs whose request is a stream; every other
    /// passthrough request is one message, read whole before it is forwarded.
    pub(crate) client_streaming: HashSet<String>,
    /// `/package.Service/Method` of the RPCs with no stream either way: the ones a
    /// passthrough call gets the default deadline for.
    pub(crate) unary: HashSet<String>,
    /// `/package.Service/Method` of the RPCs with a stream either way.
    pub(crate) streaming: HashSet<String>,
    /// `/package.Service/Method` of the bulk RPCs: imports (`Import…`) and every
    /// client-streaming RPC. They take slots of a pool of their own, a share per caller.
    pub(crate) bulk: HashSet<String>,
    /// Cancelled when the process begins to stop: `/readyz` says 503 from then on.
    pub(crate) shutdown: Shutdown,
    /// Per-caller rate limits, REST and passthrough alike.
    pub(crate) limiter: ratelimit::RateLimiter,
    openapi: Bytes,
}

impl Gateway {
    /// Authenticates `header` and takes a token of the caller's rate limit: by subject
    /// once authenticated, by peer address when not (so guessing tokens is limited too).
    pub(crate) fn admit(
        &self,
        header: Option<&str>,
        extensions: &http::Extensions,
    ) -> Result<cadre_kit::Principal, Refusal> {
        match self.auth.authenticate(header) {
            Ok(principal) => {
                self.limiter.check_principal(&principal).map_err(Refusal::Limited)?;
                Ok(principal)
            }
            Err(e) => {
                self.limiter.check_peer(peer(extensions)).map_err(Refusal::Limited)?;
                Err(Refusal::Auth(e))
            }
        }
    }
}

/// Why a request was not admitted.
pub(crate) enum Refusal {
    Auth(cadre_kit::auth::AuthError),
    Limited(ratelimit::Limited),
}

/// The peer's address, when the server was started with connect info.
fn peer(extensions: &http::Extensions) -> Option<std::net::SocketAddr> {
    extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0)
}

/// The gateway's HTTP router: `/healthz`, `/readyz`, `/openapi.json`, the REST API of
/// every HTTP rule in the descriptor set, and gRPC passthrough, with an access log
/// and HTTP metrics labelled by route template.
pub async fn router(
    settings: &GatewaySettings,
    upstreams: Upstreams,
    auth: Authenticator,
    metrics: Metrics,
    shutdown: Shutdown,
) -> Result<Router, GatewayError> {
    let pool = DescriptorPool::decode(cadre_proto::FILE_DESCRIPTOR_SET)
        .map_err(|e| GatewayError::Descriptor(e.to_string()))?;
    let routes = RouteTable::from_pool(&pool)?;
    let limits = upstream::Limits {
        calls: settings.concurrency_limit,
        bulk: settings.bulk_concurrency_limit,
        bulk_per_caller: settings.bulk_per_caller_limit,
    };
    let parts = Parts::new(&upstreams, limits)?;
    for route in routes.routes() {
        let service = route.rpc.parent_service();
        if parts.for_service(service.full_name()).is_none() {
            return Err(GatewayError::MissingPart(service.full_name().to_string()));
        }
    }
    let openapi = serde_json::to_vec(&openapi::document(&routes))
        .map_err(|e| GatewayError::Descriptor(format!("OpenAPI document: {e}")))?;
    let gateway = Arc::new(Gateway {
        routes,
        parts,
        auth,
        body_limit: settings.body_limit_bytes,
        stream_body_limit: settings.stream_body_limit_bytes,
        default_deadline: Duration::from_millis(settings.default_deadline_ms.max(1)),
        client_streaming: grpc_paths(&pool, |m| m.is_client_streaming()),
        unary: grpc_paths(&pool, |m| !m.is_client_streaming() && !m.is_server_streaming()),
        streaming: grpc_paths(&pool, |m| m.is_client_streaming() || m.is_server_streaming()),
        bulk: grpc_paths(&pool, is_bulk),
        shutdown,
        limiter: ratelimit::RateLimiter::new(settings.rate_limits.clone()),
        openapi: Bytes::from(openapi),
    });
    Ok(Router::new()
        .route("/healthz", get(|| async { labelled("ok".into_response(), "/healthz") }))
        .route("/readyz", get(health::readyz))
        .route("/openapi.json", get(openapi_json))
        .fallback(dispatch)
        .with_state(gateway)
        .layer(axum::middleware::from_fn_with_state(metrics, access_log)))
}

/// `/package.Service/Method` of every RPC in `pool` that `keep` accepts.
fn grpc_paths(pool: &DescriptorPool, keep: impl Fn(&MethodDescriptor) -> bool) -> HashSet<String> {
    pool.services()
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .filter(keep)
        .map(|m| format!("/{}/{}", m.parent_service().full_name(), m.name()))
        .collect()
}

/// Whether an RPC is bulk work: an import, or a client stream (a file in pieces).
pub fn is_bulk(method: &MethodDescriptor) -> bool {
    method.is_client_streaming() || method.name().starts_with("Import")
}

/// The longest request target (path and query) the gateway reads. Longer IDs and
/// values inside it are refused by name (400) once the route is known; beyond this the
/// request is not even routed.
pub const MAX_URI_BYTES: usize = 128 * 1024;

/// The most header bytes (names and values) a request may carry. An HTTP/2 peer accepts
/// 16 KiB of headers by default; a request over it would be reset by the part, so it is
/// refused here before it goes upstream.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;

async fn dispatch(State(gw): State<Arc<Gateway>>, req: Request) -> Response {
    let uri_len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri_len > MAX_URI_BYTES {
        let resp = rest::json_error(
            http::StatusCode::URI_TOO_LONG,
            "INVALID_ARGUMENT",
            &format!("the request target is {uri_len} bytes, over the gateway's limit of {MAX_URI_BYTES}"),
        );
        return labelled(resp, "(uri too long)");
    }
    if let Some(refusal) = rest::oversized_headers(req.headers()) {
        let resp = if passthrough::is_grpc(&req) {
            tonic::Status::invalid_argument(refusal).into_http()
        } else {
            rest::json_error(http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "INVALID_ARGUMENT", &refusal)
        };
        return labelled(resp, "(headers too large)");
    }
    if passthrough::is_grpc(&req) {
        passthrough::forward(&gw, req).await
    } else {
        rest::handle(&gw, req).await
    }
}

async fn openapi_json(State(gw): State<Arc<Gateway>>) -> Response {
    let resp = ([(CONTENT_TYPE, "application/json")], Body::from(gw.openapi.clone())).into_response();
    labelled(resp, "/openapi.json")
}

/// One log line and one metric sample per request, labelled by route template.
async fn access_log(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let span = tracing::info_span!("http", %method, path = %req.uri().path());
    cadre_kit::telemetry::adopt_parent(&span, req.headers());
    let resp = next.run(req).instrument(span.clone()).await;
    let route = resp.extensions().get::<RouteLabel>().map_or("(other)", |r| r.0.as_str());
    let status = resp.status().as_u16();
    let elapsed = started.elapsed();
    let grpc_status = resp.headers().get("grpc-status").and_then(|v| v.to_str().ok()).unwrap_or("");
    span.in_scope(|| {
        tracing::info!(
            %method, route, status, grpc_status, elapsed_ms = elapsed.as_secs_f64() * 1000.0, "request"
        );
    });
    metrics.observe_http(method.as_str(), route, status, elapsed);
    resp
}
