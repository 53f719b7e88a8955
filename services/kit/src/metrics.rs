//! Prometheus metrics: per RPC (service, method, gRPC code) and per HTTP route of the
//! gateway (route template, not the raw path, so label sets stay bounded).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcLabels {
    service: String,
    method: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcTimingLabels {
    service: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpTimingLabels {
    method: String,
    route: String,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~16 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

type Timings<L> = Family<L, Histogram, fn() -> Histogram>;

struct Inner {
    registry: Mutex<Registry>,
    rpc_requests: Family<RpcLabels, Counter>,
    rpc_seconds: Timings<RpcTimingLabels>,
    http_requests: Family<HttpLabels, Counter>,
    http_seconds: Timings<HttpTimingLabels>,
}

/// The metrics of one process; clones share the registry.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("cadre");
        let rpc_requests = Family::<RpcLabels, Counter>::default();
        let rpc_seconds: Timings<RpcTimingLabels> = Family::new_with_constructor(latency_histogram);
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_seconds: Timings<HttpTimingLabels> = Family::new_with_constructor(latency_histogram);
        registry.register("rpc_requests", "gRPC calls served, by final status code", rpc_requests.clone());
        registry.register("rpc_duration_seconds", "gRPC call latency", rpc_seconds.clone());
        registry.register(
            "http_requests",
            "Gateway HTTP requests, by route and status",
            http_requests.clone(),
        );
        registry.register("http_request_duration_seconds", "Gateway HTTP latency", http_seconds.clone());
        Self {
            inner: Arc::new(Inner {
                registry: Mutex::new(registry),
                rpc_requests,
                rpc_seconds,
                http_requests,
                http_seconds,
            }),
        }
    }

    /// One finished gRPC call; `rpc` is `package.Service/Method` of a declared RPC (or
    /// "unknown": labels must come from a bounded set, never from the caller).
    pub fn observe_rpc(&self, rpc: &str, code: tonic::Code, elapsed: Duration) {
        let (service, method) = split_path(rpc);
        self.inner
            .rpc_requests
            .get_or_create(&RpcLabels {
                service: service.to_string(),
                method: method.to_string(),
                code: format!("{code:?}"),
            })
            .inc();
        self.inner
            .rpc_seconds
            .get_or_create(&RpcTimingLabels { service: service.to_string(), method: method.to_string() })
            .observe(elapsed.as_secs_f64());
    }

    /// One finished HTTP request at the gateway; `route` is the matched template.
    pub fn observe_http(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let (method, route) = (method.to_string(), route.to_string());
        self.inner
            .http_requests
            .get_or_create(&HttpLabels { method: method.clone(), route: route.clone(), status })
            .inc();
        self.inner
            .http_seconds
            .get_or_create(&HttpTimingLabels { method, route })
            .observe(elapsed.as_secs_f64());
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.inner.registry.lock().unwrap_or_else(|p| p.into_inner());
        prometheus_client::encoding::text::encode(&mut out, &registry)
            .expect("writing to a String cannot fail");
        out
    }
}

fn split_path(path: &str) -> (&str, &str) {
    let trimmed = path.trim_start_matches('/');
    trimmed.rsplit_once('/').unwrap_or((trimmed, ""))
}

/// `GET /metrics` for Prometheus.
pub fn metrics_router(metrics: Metrics) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [(CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
                    metrics.render(),
                )
                    .into_response()
            }
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_counted_by_service_method_and_code() {
        let m = Metrics::new();
        m.observe_rpc("/cadre.roster.v1.CadreService/GetCadre", tonic::Code::Ok, Duration::from_millis(2));
        m.observe_rpc("/cadre.roster.v1.CadreService/GetCadre", tonic::Code::Ok, Duration::from_millis(3));
        m.observe_rpc(
            "/cadre.roster.v1.CadreService/GetCadre",
            tonic::Code::NotFound,
            Duration::from_millis(1),
        );
        m.observe_http("GET", "/v1/cadres/{id}", 200, Duration::from_millis(4));
        let text = m.render();
        assert!(
            text.contains(
                r#"cadre_rpc_requests_total{service="cadre.roster.v1.CadreService",method="GetCadre",code="Ok"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"code="NotFound"} 1"#), "{text}");
        assert!(
            text.contains(
                r#"cadre_http_requests_total{method="GET",route="/v1/cadres/{id}",status="200"} 1"#
            )
        );
        assert!(text.contains("cadre_rpc_duration_seconds_count"));
    }
}
