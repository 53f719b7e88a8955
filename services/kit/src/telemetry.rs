//! Logs and traces. `tracing` is the one API; spans become OpenTelemetry spans with
//! W3C trace ids in every process, exported over OTLP only when an endpoint is
//! configured. Trace context travels in `traceparent` headers: the gateway and every
//! service-to-service call inject it, every server extracts it.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, TelemetrySettings};

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("telemetry.log_filter: {0}")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    #[error("telemetry.otlp_endpoint: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    #[error("a global subscriber is already installed: {0}")]
    AlreadySet(#[from] tracing_subscriber::util::TryInitError),
}

/// Flushes and stops trace export when dropped (at the end of `main`).
pub struct Guard {
    provider: SdkTracerProvider,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("trace export did not shut down cleanly: {e}");
        }
    }
}

/// The tracer provider of this process: a parent-based ratio sampler, and an OTLP
/// batch exporter if `otlp_endpoint` is set.
pub fn tracer_provider(
    settings: &TelemetrySettings,
    service: &str,
) -> Result<SdkTracerProvider, TelemetryError> {
    let resource = opentelemetry_sdk::Resource::builder().with_service_name(service.to_string()).build();
    let mut builder = SdkTracerProvider::builder()
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(settings.sample_ratio))))
        .with_resource(resource);
    if let Some(endpoint) = &settings.otlp_endpoint {
        let exporter =
            opentelemetry_otlp::SpanExporter::builder().with_tonic().with_endpoint(endpoint).build()?;
        builder = builder.with_batch_exporter(exporter);
    }
    Ok(builder.build())
}

/// Installs the global subscriber: filtered text or JSON logs plus OpenTelemetry spans.
pub fn init(settings: &TelemetrySettings, service: &str) -> Result<Guard, TelemetryError> {
    let filter = EnvFilter::try_new(&settings.log_filter)?;
    let provider = tracer_provider(settings, service)?;
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer(service.to_string()));
    let fmt = match settings.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer().with_target(false).boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer().json().flatten_event(true).boxed(),
    };
    tracing_subscriber::registry().with(filter).with(fmt).with(otel).try_init()?;
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    Ok(Guard { provider })
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) =
            (http::HeaderName::from_bytes(key.as_bytes()), http::HeaderValue::from_str(&value))
        {
            self.0.insert(name, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Writes the current span's context as `traceparent` (and `tracestate`).
pub fn inject_current(headers: &mut http::HeaderMap) {
    let cx = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(headers));
}

/// The remote parent carried by `traceparent`, if any.
pub fn extract_parent(headers: &http::HeaderMap) -> opentelemetry::Context {
    TraceContextPropagator::new().extract(&HeaderExtractor(headers))
}

/// Makes `span` a child of the caller's trace when the request carries one.
pub fn adopt_parent(span: &tracing::Span, headers: &http::HeaderMap) {
    let parent = extract_parent(headers);
    use opentelemetry::trace::TraceContextExt as _;
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TraceContextExt as _;

    #[test]
    fn a_trace_crosses_a_hop_through_traceparent() {
        let provider = tracer_provider(&TelemetrySettings::default(), "test").unwrap();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let mut headers = http::HeaderMap::new();
            let caller = tracing::info_span!("gateway");
            let caller_trace = caller.context().span().span_context().trace_id();
            caller.in_scope(|| inject_current(&mut headers));
            let traceparent = headers.get("traceparent").expect("traceparent injected").to_str().unwrap();
            assert!(traceparent.starts_with("00-"), "{traceparent}");
            assert!(traceparent.contains(&caller_trace.to_string()));

            let server = tracing::info_span!("roster");
            adopt_parent(&server, &headers);
            assert_eq!(server.context().span().span_context().trace_id(), caller_trace);
        });
    }

    #[test]
    fn no_header_means_no_parent() {
        assert!(!extract_parent(&http::HeaderMap::new()).span().span_context().is_valid());
    }
}
