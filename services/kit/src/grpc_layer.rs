//! The tower layer every gRPC server of the suite runs behind, the same for every
//! service: a span per call that continues the caller's trace; the bearer token
//! verified and the RPC's declared permission checked before any handler runs (deny by
//! default; health and reflection are open); the caller and the RPC left on the request
//! for [`crate::call::Call`]; and the call's status and latency in the metrics.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use tracing::Instrument;

use crate::auth::Authenticator;
use crate::call::Caller;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::permission::{self, RpcInfo, Rpcs};
use crate::telemetry;

/// Services reachable without a token: health (probes, balancers) and reflection
/// (grpcurl); neither reveals data.
pub fn is_open_service(service: &str) -> bool {
    service.starts_with("grpc.health.") || service.starts_with("grpc.reflection.")
}

/// The RPCs of the open services, named in metrics; any other unknown path is counted
/// as "unknown" so that no caller can grow the label set.
const OPEN_RPCS: [&str; 4] = [
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

#[derive(Clone, Debug)]
pub struct GrpcServerLayer {
    metrics: Metrics,
    auth: Authenticator,
}

impl GrpcServerLayer {
    pub fn new(metrics: Metrics, auth: Authenticator) -> Self {
        Self { metrics, auth }
    }
}

impl<S> tower::Layer<S> for GrpcServerLayer {
    type Service = GrpcServerService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GrpcServerService {
            inner,
            metrics: self.metrics.clone(),
            auth: self.auth.clone(),
            rpcs: Rpcs::suite(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct GrpcServerService<S> {
    inner: S,
    metrics: Metrics,
    auth: Authenticator,
    rpcs: &'static Rpcs,
}

/// Who the call is from and whether they may make it; `None` for the open services.
fn admit<B>(
    auth: &Authenticator,
    rpc: Option<&Arc<RpcInfo>>,
    req: &http::Request<B>,
) -> Result<Option<crate::Principal>, ApiError> {
    let path = req.uri().path();
    let service = path.trim_start_matches('/').split('/').next().unwrap_or_default();
    if is_open_service(service) {
        return Ok(None);
    }
    let header = req.headers().get("authorization").map(|v| v.to_str().unwrap_or("\u{0}"));
    let principal = auth.authenticate(header)?;
    if let Some(rpc) = rpc {
        permission::check(&principal, rpc)?;
    }
    Ok(Some(principal))
}

/// The call's gRPC status: unary errors are "trailers-only" responses, so the status is
/// in the headers; a successful response carries none there.
fn status_of(headers: &http::HeaderMap) -> tonic::Code {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map_or(tonic::Code::Ok, tonic::Code::from_i32)
}

impl<S, B> tower::Service<http::Request<B>> for GrpcServerService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let started = Instant::now();
        let rpc = self.rpcs.get(req.uri().path()).cloned();
        // Labels and span names only from declared RPCs: a caller cannot invent new ones.
        let label: &str = match &rpc {
            Some(rpc) => &rpc.name,
            None => OPEN_RPCS
                .iter()
                .find(|p| **p == req.uri().path())
                .map_or("unknown", |p| p.trim_start_matches('/')),
        };
        let label = label.to_string();
        let span = tracing::info_span!("rpc", otel.name = %label, otel.kind = "server", caller = tracing::field::Empty,
            rpc.grpc.status_code = tracing::field::Empty);
        telemetry::adopt_parent(&span, req.headers());
        let admitted = span.in_scope(|| admit(&self.auth, rpc.as_ref(), &req));
        // Take the service that was driven to readiness; leave a fresh clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let metrics = self.metrics.clone();
        Box::pin(
            async move {
                let result = match admitted {
                    Err(refused) => Ok(tonic::Status::from(refused).into_http()),
                    Ok(principal) => {
                        if let Some(principal) = principal {
                            tracing::Span::current().record("caller", principal.subject.as_str());
                            if let Some(rpc) = rpc {
                                req.extensions_mut().insert(Caller { principal, rpc, received: started });
                            }
                        }
                        inner.call(req).await
                    }
                };
                let code = match &result {
                    Ok(response) => status_of(response.headers()),
                    Err(_) => tonic::Code::Internal,
                };
                tracing::Span::current().record("rpc.grpc.status_code", code as i32);
                metrics.observe_rpc(&label, code, started.elapsed());
                if matches!(code, tonic::Code::Internal | tonic::Code::Unknown | tonic::Code::DataLoss) {
                    tracing::error!(rpc = %label, ?code, "call failed");
                } else {
                    tracing::debug!(rpc = %label, ?code, elapsed_us = started.elapsed().as_micros() as u64, "call");
                }
                result
            }
            .instrument(span),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_status_of_trailers_only_responses() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(status_of(&headers), tonic::Code::Ok);
        headers.insert("grpc-status", "7".parse().unwrap());
        assert_eq!(status_of(&headers), tonic::Code::PermissionDenied);
    }
}
