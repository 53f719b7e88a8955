//! One call, one trace, across processes: `cadre serve gateway` and `cadre serve roster` run
//! as separate processes exporting their spans over OTLP/gRPC (`telemetry.otlp_endpoint`) to
//! a collector this test runs in-process, as the observability component's OpenTelemetry
//! Collector receives them on Kubernetes. A REST call carrying the caller's `traceparent`
//! yields spans from the gateway and from the roster in the caller's trace, the roster's
//! span a child of the gateway's.
//!
//! Processes, not one process: a process has one global tracing subscriber, so parts started
//! in-process would share one exporter and one `service.name`, and would prove nothing about
//! propagation between them. Today the roster is the only service part and calls no other;
//! when a call crosses two services (assessment → roster), add the second to `HOPS` and
//! make the traced call one that crosses it.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cadre_kit::Role;
use common::{Proc, database, free_port, token};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use serde_json::json;

/// The processes a call through the gateway to the roster crosses, by `service.name`.
const HOPS: &[&str] = &["cadre-gateway", "cadre-roster"];

/// A received span: which process sent it, and where it sits in which trace.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
}

#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<Received>>>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut received = self.0.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|a| a.key == "service.name")
                .and_then(|a| match a.value.as_ref()?.value.as_ref()? {
                    AnyValue::StringValue(s) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                received.push(Received {
                    service: service.clone(),
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                });
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_call_is_one_trace_across_the_gateway_and_the_roster() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let otlp = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );

    let db = database().await;
    let telemetry = |extra: Vec<(&'static str, String)>| {
        let mut env = vec![
            ("CADRE__TELEMETRY__OTLP_ENDPOINT", otlp.clone()),
            // Spans are INFO: a filter of WARN would drop them before they reach the exporter.
            ("CADRE__TELEMETRY__LOG_FILTER", "info".to_string()),
            // Export every 200 ms rather than every 5 s.
            ("OTEL_BSP_SCHEDULE_DELAY", "200".to_string()),
        ];
        env.extend(extra);
        env
    };
    let grpc_port = free_port(&["127.0.0.1"]);
    let mut roster = Proc::spawn(
        "roster",
        &["serve", "roster"],
        &telemetry(vec![
            ("CADRE__GRPC_ADDR", format!("127.0.0.1:{grpc_port}")),
            ("CADRE__ROSTER__DATABASE__URL", db.url.clone()),
        ]),
    );
    roster.wait_for("cadre is up", Duration::from_secs(60));
    let mut gateway = Proc::spawn(
        "gateway",
        &["serve", "gateway"],
        &telemetry(vec![
            ("CADRE__HTTP_ADDR", "127.0.0.1:0".into()),
            ("CADRE__ROSTER__ENDPOINTS", format!("http://127.0.0.1:{grpc_port}")),
        ]),
    );
    let base = format!("http://{}", gateway.address("gateway"));
    gateway.wait_for("cadre is up", Duration::from_secs(60));

    let http = reqwest::Client::new();
    let province = token(&[Role::ProvinceAdmin], "150000000000");
    let regions = json!({ "regions": [{ "code": "150000000000", "name": "内蒙古自治区" }] });
    let seeded = http
        .post(format!("{base}/v1/regions:batchUpsert"))
        .bearer_auth(&province)
        .json(&regions)
        .send()
        .await
        .unwrap();
    assert_eq!(seeded.status(), 200, "{}", seeded.text().await.unwrap());

    // The caller's own trace: what the gateway and the roster record must join it.
    let trace_id = uuid::Uuid::now_v7().simple().to_string();
    let caller_span = "00f067aa0ba902b7";
    let answer = http
        .get(format!("{base}/v1/regions/150000000000"))
        .bearer_auth(&province)
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());

    // Spans arrive within the export interval; stopping the processes flushes the rest.
    let in_trace = || -> Vec<Received> {
        collector.0.lock().unwrap().iter().filter(|s| s.trace_id == trace_id).cloned().collect()
    };
    let all_hops = |spans: &[Received]| HOPS.iter().all(|hop| spans.iter().any(|s| s.service == *hop));
    let waited = Instant::now();
    while !all_hops(&in_trace()) && waited.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    gateway.terminate();
    roster.terminate();
    assert!(gateway.wait(Duration::from_secs(20)).success(), "{}", gateway.output());
    assert!(roster.wait(Duration::from_secs(20)).success(), "{}", roster.output());
    let spans = in_trace();
    server.abort();

    let summary: Vec<String> =
        spans.iter().map(|s| format!("{} {} (parent {})", s.service, s.name, s.parent_span_id)).collect();
    assert!(all_hops(&spans), "spans of trace {trace_id} from {HOPS:?} expected, got {summary:#?}");
    // The gateway's first span continues the caller's; the roster's is a child of a gateway span.
    let gateway_ids: Vec<&str> =
        spans.iter().filter(|s| s.service == "cadre-gateway").map(|s| s.span_id.as_str()).collect();
    assert!(
        spans.iter().any(|s| s.service == "cadre-gateway" && s.parent_span_id == caller_span),
        "{summary:#?}"
    );
    let roster_span = spans.iter().find(|s| s.service == "cadre-roster").expect("a roster span");
    assert!(gateway_ids.contains(&roster_span.parent_span_id.as_str()), "{summary:#?}");
    assert!(roster_span.name.contains("GetRegion"), "{summary:#?}");
    eprintln!("trace {trace_id}: {summary:?}");
}
