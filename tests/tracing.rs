//! One call, one trace, across processes: `cadre serve gateway`, `cadre serve training` and
//! `cadre serve roster` run as separate processes exporting their spans over OTLP/gRPC
//! (`telemetry.otlp_endpoint`) to a collector this test runs in-process, as the observability
//! component's OpenTelemetry Collector receives them on Kubernetes. A REST call carrying the
//! caller's `traceparent` that crosses gateway → training → roster (a cadre teacher, checked
//! against the roster) yields spans from all three in the caller's trace, each hop a child of
//! the one before.
//!
//! Processes, not one process: a process has one global tracing subscriber, so parts started
//! in-process would share one exporter and one `service.name`, and would prove nothing about
//! propagation between them.

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

/// The processes the traced call crosses, by `service.name`, in order.
const HOPS: &[&str] = &["cadre-gateway", "cadre-training", "cadre-roster"];

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
async fn one_call_is_one_trace_across_the_gateway_training_and_the_roster() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let otlp = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );

    let db = database().await;
    let training_db = database().await;
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
    let training_port = free_port(&["127.0.0.1"]);
    let mut training = Proc::spawn(
        "training",
        &["serve", "training"],
        &telemetry(vec![
            ("CADRE__GRPC_ADDR", format!("127.0.0.1:{training_port}")),
            ("CADRE__TRAINING__DATABASE__URL", training_db.url.clone()),
            ("CADRE__ROSTER__ENDPOINTS", format!("http://127.0.0.1:{grpc_port}")),
        ]),
    );
    training.wait_for("cadre is up", Duration::from_secs(60));
    let mut gateway = Proc::spawn(
        "gateway",
        &["serve", "gateway"],
        &telemetry(vec![
            ("CADRE__HTTP_ADDR", "127.0.0.1:0".into()),
            ("CADRE__ROSTER__ENDPOINTS", format!("http://127.0.0.1:{grpc_port}")),
            ("CADRE__TRAINING__ENDPOINTS", format!("http://127.0.0.1:{training_port}")),
            // Assessment is not on this call's path: a port nothing listens on.
            ("CADRE__ASSESSMENT__ENDPOINTS", format!("http://127.0.0.1:{}", free_port(&["127.0.0.1"]))),
            // Not on this trace's path: an address that answers nothing of incentive's.
            ("CADRE__INCENTIVE__ENDPOINTS", format!("http://127.0.0.1:{training_port}")),
        ]),
    );
    let base = format!("http://{}", gateway.address("gateway"));
    gateway.wait_for("cadre is up", Duration::from_secs(60));

    let http = reqwest::Client::new();
    let province = token(&[Role::ProvinceAdmin], "150000000000");
    let county = token(&[Role::CountyAdmin], "150525000000");
    let post = |path: &str, token: &str, body: serde_json::Value| {
        let request = http.post(format!("{base}{path}")).bearer_auth(token).json(&body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(status, 200, "{body}");
            body
        }
    };
    let regions = json!({ "regions": [
        { "code": "150000000000", "name": "内蒙古自治区" },
        { "code": "150500000000", "name": "通辽市" },
        { "code": "150525000000", "name": "奈曼旗" },
        { "code": "150525100000", "name": "大沁他拉镇" },
        { "code": "150525100201", "name": "白音他拉嘎查" },
    ]});
    post("/v1/regions:batchUpsert", &province, regions).await;
    let birth = chrono::NaiveDate::from_ymd_opt(1978, 3, 9).unwrap();
    let id_number = cadre_kit::resident_id::build("150525", birth, 31).as_str().to_string();
    let cadre = json!({ "regionCode": "150525100201", "name": "巴特尔", "idNumber": id_number,
        "politicalStatus": "POLITICAL_STATUS_PARTY_MEMBER", "education": "EDUCATION_COLLEGE" });
    let cadre = post("/v1/cadres", &county, cadre).await;

    // The caller's own trace: the gateway, training and the roster must all join it.
    let trace_id = uuid::Uuid::now_v7().simple().to_string();
    let caller_span = "00f067aa0ba902b7";
    let teacher = json!({ "kind": "TEACHER_KIND_CADRE", "cadreId": cadre["id"], "expertise": ["TOPIC_LAW"],
        "homeRegionCode": "150525000000" });
    let answer = http
        .post(format!("{base}/v1/training/teachers"))
        .bearer_auth(&county)
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .json(&teacher)
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
    training.terminate();
    roster.terminate();
    assert!(gateway.wait(Duration::from_secs(20)).success(), "{}", gateway.output());
    assert!(training.wait(Duration::from_secs(20)).success(), "{}", training.output());
    assert!(roster.wait(Duration::from_secs(20)).success(), "{}", roster.output());
    let spans = in_trace();
    server.abort();

    let summary: Vec<String> =
        spans.iter().map(|s| format!("{} {} (parent {})", s.service, s.name, s.parent_span_id)).collect();
    assert!(all_hops(&spans), "spans of trace {trace_id} from {HOPS:?} expected, got {summary:#?}");
    // The gateway's first span continues the caller's; training's is a child of a gateway
    // span; the roster's (the cadre looked up) a child of a training span.
    let ids_of = |service: &str| -> Vec<String> {
        spans.iter().filter(|s| s.service == service).map(|s| s.span_id.clone()).collect()
    };
    assert!(
        spans.iter().any(|s| s.service == "cadre-gateway" && s.parent_span_id == caller_span),
        "{summary:#?}"
    );
    let training_span = spans
        .iter()
        .find(|s| s.service == "cadre-training" && s.name.contains("CreateTeacher"))
        .expect("training's span");
    assert!(ids_of("cadre-gateway").contains(&training_span.parent_span_id), "{summary:#?}");
    let roster_span = spans
        .iter()
        .find(|s| s.service == "cadre-roster" && s.name.contains("BatchGetCadres"))
        .expect("the roster's span");
    assert!(ids_of("cadre-training").contains(&roster_span.parent_span_id), "{summary:#?}");
    eprintln!("trace {trace_id}: {summary:?}");
}
