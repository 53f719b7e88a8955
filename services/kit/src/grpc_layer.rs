//! The tower layer every gRPC server of the suite runs behind: a span per call that
//! continues the caller's trace, and the call's status and latency in the metrics.

use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use tracing::Instrument;

use crate::metrics::Metrics;
use crate::telemetry;

#[derive(Clone, Debug)]
pub struct GrpcServerLayer {
    metrics: Metrics,
}

impl GrpcServerLayer {
    pub fn new(metrics: Metrics) -> Self {
        Self { metrics }
    }
}

impl<S> tower::Layer<S> for GrpcServerLayer {
    type Service = GrpcServerService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GrpcServerService { inner, metrics: self.metrics.clone() }
    }
}

#[derive(Clone, Debug)]
pub struct GrpcServerService<S> {
    inner: S,
    metrics: Metrics,
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

impl<S, B, R> tower::Service<http::Request<B>> for GrpcServerService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
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

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let started = Instant::now();
        let path = req.uri().path().to_string();
        let span = tracing::info_span!("rpc", otel.name = %path, otel.kind = "server", caller = tracing::field::Empty,
            rpc.grpc.status_code = tracing::field::Empty);
        telemetry::adopt_parent(&span, req.headers());
        // Take the service that was driven to readiness; leave a fresh clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let metrics = self.metrics.clone();
        Box::pin(
            async move {
                let result = inner.call(req).await;
                let code = match &result {
                    Ok(response) => status_of(response.headers()),
                    Err(_) => tonic::Code::Internal,
                };
                tracing::Span::current().record("rpc.grpc.status_code", code as i32);
                metrics.observe_rpc(&path, code, started.elapsed());
                if matches!(code, tonic::Code::Internal | tonic::Code::Unknown | tonic::Code::DataLoss) {
                    tracing::error!(rpc = %path, ?code, "call failed");
                } else {
                    tracing::debug!(rpc = %path, ?code, elapsed_us = started.elapsed().as_micros() as u64, "call");
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
