//! The gateway against a fake roster (`RegionService`, a `ChangeService` feed, and
//! `grpc.health.v1` when a scenario wants it): REST transcoding, errors, retries,
//! deadlines, size limits, auth, gRPC passthrough, and readiness.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use cadre_kit::auth::{Authenticator, issue_dev_token};
use cadre_kit::client::Target;
use cadre_kit::config::{AuthSettings, GatewaySettings, Rate, RateLimits};
use cadre_kit::{RegionCode, Role};
use cadre_proto::changes::v1 as changes;
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::change_service_client::ChangeServiceClient;
use cadre_proto::roster::v1::change_service_server::{ChangeService, ChangeServiceServer};
use cadre_proto::roster::v1::region_service_client::RegionServiceClient;
use cadre_proto::roster::v1::region_service_server::{RegionService, RegionServiceServer};
use futures::{Stream, StreamExt};
use http::{Request, StatusCode};
use serde_json::{Value, json};
use tonic::{Response, Status};
use tonic_health::ServingStatus;
use tower::ServiceExt;

#[derive(Default, Clone)]
struct Fake {
    child_calls: Arc<AtomicUsize>,
    upsert_calls: Arc<AtomicUsize>,
    /// Told when a (slow) search has started, so a test knows the part's slot is taken.
    search_started: Arc<tokio::sync::Notify>,
    /// The `grpc-timeout` each search and watch arrived with, in order.
    timeouts_seen: Arc<Mutex<Vec<Option<String>>>>,
}

impl Fake {
    fn saw_timeout<T>(&self, req: &tonic::Request<T>) {
        let timeout = req.metadata().get("grpc-timeout").and_then(|v| v.to_str().ok()).map(str::to_string);
        self.timeouts_seen.lock().expect("lock").push(timeout);
    }

    fn last_timeout_seen(&self) -> Option<String> {
        self.timeouts_seen.lock().expect("lock").last().cloned().expect("a call arrived")
    }
}

/// The change feed: one change at once, a second after `WATCH_PAUSE`, then the end.
#[tonic::async_trait]
impl ChangeService for Fake {
    type WatchChangesStream = Pin<Box<dyn Stream<Item = Result<pb::Change, Status>> + Send>>;

    async fn list_changes(
        &self,
        _: tonic::Request<changes::ListChangesRequest>,
    ) -> Result<Response<pb::ListChangesResponse>, Status> {
        Ok(Response::new(pb::ListChangesResponse::default()))
    }

    async fn watch_changes(
        &self,
        req: tonic::Request<changes::WatchChangesRequest>,
    ) -> Result<Response<Self::WatchChangesStream>, Status> {
        self.saw_timeout(&req);
        let changes = futures::stream::iter([1, 2]).then(|position| async move {
            if position > 1 {
                tokio::time::sleep(WATCH_PAUSE).await;
            }
            Ok(pb::Change { position, ..Default::default() })
        });
        Ok(Response::new(Box::pin(changes)))
    }
}

/// How long the fake's change feed is quiet between its two changes.
const WATCH_PAUSE: Duration = Duration::from_millis(800);

#[tonic::async_trait]
impl RegionService for Fake {
    async fn upsert_regions(
        &self,
        _: tonic::Request<pb::UpsertRegionsRequest>,
    ) -> Result<Response<pb::UpsertRegionsResponse>, Status> {
        self.upsert_calls.fetch_add(1, Ordering::SeqCst);
        Err(Status::unavailable("busy"))
    }

    async fn batch_get_regions(
        &self,
        _: tonic::Request<pb::BatchGetRegionsRequest>,
    ) -> Result<Response<pb::BatchGetRegionsResponse>, Status> {
        Err(Status::unimplemented("not in this fake"))
    }

    async fn get_region(
        &self,
        req: tonic::Request<pb::GetRegionRequest>,
    ) -> Result<Response<pb::Region>, Status> {
        let request_id = req.metadata().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("Fake");
        let name = request_id.to_string();
        let code = req.into_inner().code;
        match code.as_str() {
            "404" => Err(Status::not_found("region 404 not found")),
            "deny" => Err(Status::permission_denied("outside your jurisdiction")),
            _ => Ok(Response::new(pb::Region { code, name, level: 3, revision: 7, ..Default::default() })),
        }
    }

    async fn list_child_regions(
        &self,
        req: tonic::Request<pb::ListChildRegionsRequest>,
    ) -> Result<Response<pb::ListChildRegionsResponse>, Status> {
        if self.child_calls.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(Status::unavailable("warming up"));
        }
        let req = req.into_inner();
        let regions = (0..req.page_size)
            .map(|i| pb::Region { code: format!("{}{i}", req.code), ..Default::default() })
            .collect();
        Ok(Response::new(pb::ListChildRegionsResponse { regions, next_page_token: String::new() }))
    }

    async fn search_regions(
        &self,
        req: tonic::Request<pb::SearchRegionsRequest>,
    ) -> Result<Response<pb::SearchRegionsResponse>, Status> {
        self.saw_timeout(&req);
        self.search_started.notify_one();
        tokio::time::sleep(Duration::from_secs(3)).await;
        Ok(Response::new(pb::SearchRegionsResponse::default()))
    }
}

struct Setup {
    router: axum::Router,
    fake: Fake,
    token: String,
}

/// The gateway in front of one fake roster; `Options::default()` and then what a
/// scenario changes.
struct Options {
    /// A second roster endpoint where nothing listens, beside the live one.
    dead_replica: bool,
    default_deadline_ms: u64,
    /// Calls in flight per part before the gateway sheds.
    concurrency_limit: usize,
    /// The fake's `grpc.health.v1` status for the whole server, or no health service.
    health: Option<ServingStatus>,
    /// Another part, `training`, whose only endpoint is down.
    down_part: bool,
    rate_limits: RateLimits,
}

impl Default for Options {
    fn default() -> Self {
        let defaults = GatewaySettings::default();
        Self {
            dead_replica: false,
            default_deadline_ms: 2_000,
            concurrency_limit: defaults.concurrency_limit,
            health: None,
            down_part: false,
            rate_limits: defaults.rate_limits,
        }
    }
}

async fn setup(options: Options) -> Setup {
    let fake = Fake::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let health = match options.health {
        Some(status) => {
            let (reporter, service) = tonic_health::server::health_reporter();
            reporter.set_service_status("", status).await;
            Some(service)
        }
        None => None,
    };
    let server = tonic::transport::Server::builder()
        .add_service(RegionServiceServer::new(fake.clone()))
        .add_service(ChangeServiceServer::new(fake.clone()))
        .add_optional_service(health);
    tokio::spawn(server.serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)));

    let auth_settings = AuthSettings::default();
    let auth = Authenticator::from_settings(&auth_settings).await.expect("authenticator");
    let region = RegionCode::parse("150525000000").expect("region");
    let token = issue_dev_token(
        &auth_settings.dev_secret,
        "tester",
        &[Role::CountyAdmin],
        &region,
        Duration::from_secs(600),
    )
    .expect("token");
    let settings = GatewaySettings {
        body_limit_bytes: 1024,
        default_deadline_ms: options.default_deadline_ms,
        concurrency_limit: options.concurrency_limit,
        rate_limits: options.rate_limits,
        ..Default::default()
    };
    // With a dead replica beside the live one, REST calls must still get through
    // (a refused connection is tried on another endpoint).
    let mut endpoints = vec![addr];
    if options.dead_replica {
        endpoints.push(closed_port());
    }
    let mut upstreams = cadre_gateway::Upstreams {
        parts: vec![("roster".into(), Target::Static(endpoints))],
        ..Default::default()
    };
    // Every part the descriptors declare needs an upstream: training, assessment and incentive are the
    // fake too (it serves none of their services), or parts that are down.
    let training = if options.down_part { closed_port() } else { addr };
    upstreams.parts.push(("training".into(), Target::Static(vec![training])));
    upstreams.parts.push(("assessment".into(), Target::Static(vec![training])));
    upstreams.parts.push(("incentive".into(), Target::Static(vec![training])));
    let router = cadre_gateway::router(
        &settings,
        upstreams,
        auth,
        cadre_kit::metrics::Metrics::new(),
        Default::default(),
    )
    .await
    .expect("router");
    let setup = Setup { router, fake, token };
    // The kit's client learns its endpoints from its resolver task: wait for the first
    // resolution, as a load balancer waits for /readyz.
    let started = Instant::now();
    loop {
        let (_, body) = call(&setup, "GET", "/readyz", None, None).await;
        if body["parts"]["roster"]["endpoints"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "endpoints never resolved: {body}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    setup
}

/// Serves the gateway on a local port for gRPC clients; its address.
async fn serve(s: &Setup) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(axum::serve(listener, s.router.clone()).into_future());
    format!("http://{addr}")
}

/// `message` with the setup's bearer token.
fn authed<T>(s: &Setup, message: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    req.metadata_mut().insert("authorization", format!("Bearer {}", s.token).parse().expect("header"));
    req
}

/// A local port that was free a moment ago: nothing listens on it.
fn closed_port() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port")
}

async fn call(
    s: &Setup,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri).header("x-request-id", "req-1");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req.body(Body::from(body.unwrap_or_default().to_string())).expect("request");
    let resp = s.router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("body");
    let text = String::from_utf8_lossy(&bytes).to_string();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test]
async fn rest_calls_are_transcoded_both_ways() {
    let s = setup(Options { dead_replica: true, ..Default::default() }).await;
    let t = Some(s.token.as_str());
    let (status, body) = call(&s, "GET", "/v1/regions/150525100201", t, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"code": "150525100201", "name": "req-1", "level": "REGION_LEVEL_COUNTY", "parentCode": "", "villageType": "", "revision": "7"})
    );
    // UNAVAILABLE on a GET is retried once.
    let (status, body) = call(&s, "GET", "/v1/regions/15/children?pageSize=2", t, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["regions"][1]["code"], "151");
    assert_eq!(s.fake.child_calls.load(Ordering::SeqCst), 2);
    // So is a POST whose RPC is declared IDEMPOTENT (an upsert), up to the client's
    // attempts; a call with side effects and no idempotency key is not (rest.rs tests).
    let (status, body) = call(&s, "POST", "/v1/regions:batchUpsert", t, Some(r#"{"regions":[]}"#)).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "UNAVAILABLE");
    assert_eq!(s.fake.upsert_calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn errors_map_to_http_statuses() {
    let s = setup(Options { dead_replica: true, ..Default::default() }).await;
    let t = Some(s.token.as_str());
    let (status, body) = call(&s, "GET", "/v1/regions/404", t, None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("NOT_FOUND")), "{body}");
    let (status, body) = call(&s, "GET", "/v1/regions/deny", t, None).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = call(&s, "GET", "/v1/regions/1", None, None).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("bearer"), "{body}");
    let (status, _) = call(&s, "GET", "/v1/regions/1", Some("garbage"), None).await;
    assert_eq!(status, 401);
    let (status, body) = call(&s, "GET", "/v1/regions/1/children?pageSize=lots", t, None).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap_or_default().starts_with("page_size"), "{body}");
    let (status, body) = call(&s, "GET", "/v1/regions/1/children?colour=red", t, None).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("colour"), "{body}");
    let (status, body) =
        call(&s, "POST", "/v1/regions:batchUpsert", t, Some(r#"{"regions":[{"code":1}]}"#)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap_or_default().starts_with("regions[0].code"), "{body}");
    let (status, body) = call(&s, "GET", "/v1/nowhere", t, None).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = call(&s, "DELETE", "/v1/regions/1", t, None).await;
    assert_eq!(status, 405, "{body}");
    let big = format!(r#"{{"regions":[{{"name":"{}"}}]}}"#, "x".repeat(2048));
    let (status, body) = call(&s, "POST", "/v1/regions:batchUpsert", t, Some(&big)).await;
    assert_eq!(status, 413, "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("1024"), "{body}");
    // A deadline shorter than the upstream's work ends the call with 504.
    let req = Request::get("/v1/regions:search?query=x")
        .header("authorization", format!("Bearer {}", s.token))
        .header("x-deadline-ms", "100")
        .body(Body::empty())
        .expect("request");
    let resp = s.router.clone().oneshot(req).await.expect("infallible");
    assert_eq!(resp.status(), StatusCode::GATEWAY_TIMEOUT);
}

#[tokio::test]
async fn health_and_openapi_need_no_token() {
    let s = setup(Options::default()).await;
    let (status, body) = call(&s, "GET", "/healthz", None, None).await;
    assert_eq!((status, body), (StatusCode::OK, json!("ok")));
    let (status, doc) = call(&s, "GET", "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert!(doc["paths"]["/v1/regions/{code}"]["get"].is_object());
    // The fake serves no grpc.health.v1: reported, but the gateway can serve.
    let (status, body) = call(&s, "GET", "/readyz", None, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ready"], true);
    assert_eq!(body["parts"]["roster"]["endpoints"], 1);
    assert!(
        body["parts"]["roster"]["health"].as_str().unwrap_or_default().starts_with("UNIMPLEMENTED"),
        "{body}"
    );
}

#[tokio::test]
async fn a_saturated_not_serving_or_down_part_leaves_the_gateway_ready() {
    let s = setup(Options {
        concurrency_limit: 1,
        health: Some(ServingStatus::NotServing),
        down_part: true,
        ..Default::default()
    })
    .await;
    // A slow search takes the roster's only slot.
    let slow = Request::get("/v1/regions:search?query=x")
        .header("authorization", format!("Bearer {}", s.token))
        .body(Body::empty())
        .expect("request");
    let in_flight = tokio::spawn(s.router.clone().oneshot(slow));
    s.fake.search_started.notified().await;
    let (status, body) = call(&s, "GET", "/v1/regions/1", Some(&s.token), None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("UNAVAILABLE")),
        "{body}"
    );

    let asked = Instant::now();
    let (status, body) = call(&s, "GET", "/readyz", None, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ready"], true, "{body}");
    // Saturation does not stop the health check: the roster's own answer is there.
    assert_eq!(body["parts"]["roster"]["health"], "NOT_SERVING", "{body}");
    assert!(
        body["parts"]["training"]["health"].as_str().unwrap_or_default().starts_with("UNAVAILABLE"),
        "{body}"
    );
    assert!(asked.elapsed() < Duration::from_secs(1), "readyz took {:?}", asked.elapsed());
    in_flight.abort();
}

#[tokio::test]
async fn readyz_reports_a_serving_part() {
    let s = setup(Options { health: Some(ServingStatus::Serving), ..Default::default() }).await;
    let (status, body) = call(&s, "GET", "/readyz", None, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["parts"]["roster"], json!({"endpoints": 1, "health": "SERVING"}), "{body}");
}

#[tokio::test]
async fn grpc_passes_through_with_auth_at_the_edge() {
    // Passthrough streams the request body, so it cannot be replayed on another
    // endpoint: this test uses a single live replica.
    let s = setup(Options::default()).await;
    let mut client = RegionServiceClient::connect(serve(&s).await).await.expect("connect");

    let req = authed(&s, pb::GetRegionRequest { code: "150525100201".into() });
    let region = client.get_region(req).await.expect("passthrough").into_inner();
    assert_eq!((region.code.as_str(), region.revision), ("150525100201", 7));

    let req = authed(&s, pb::GetRegionRequest { code: "404".into() });
    assert_eq!(client.get_region(req).await.expect_err("not found").code(), tonic::Code::NotFound);

    let err = client.get_region(pb::GetRegionRequest { code: "1".into() }).await.expect_err("no token");
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
}

#[tokio::test]
async fn a_unary_grpc_call_gets_the_default_deadline_or_a_shorter_one_of_its_own() {
    let s = setup(Options { default_deadline_ms: 1_000, ..Default::default() }).await;
    let mut client = RegionServiceClient::connect(serve(&s).await).await.expect("connect");
    // The search takes 3 s; the client sets no deadline, so the gateway's default ends it.
    let started = Instant::now();
    let err = client.search_regions(authed(&s, pb::SearchRegionsRequest::default())).await.expect_err("slow");
    let took = started.elapsed();
    assert_eq!(err.code(), tonic::Code::DeadlineExceeded, "{err:?}");
    assert!(took >= Duration::from_millis(900) && took < Duration::from_millis(2_500), "{took:?}");
    let told = s.fake.last_timeout_seen().expect("the part is told the deadline");
    assert!(as_duration(&told) <= Duration::from_secs(1), "{told}");

    // A client's shorter deadline is the one passed on (the client enforces it too).
    let mut req = authed(&s, pb::SearchRegionsRequest::default());
    req.set_timeout(Duration::from_millis(100));
    let err = client.search_regions(req).await.expect_err("slow");
    assert!(matches!(err.code(), tonic::Code::DeadlineExceeded | tonic::Code::Cancelled), "{err:?}");
    let told = s.fake.last_timeout_seen().expect("the client's deadline");
    assert!(as_duration(&told) <= Duration::from_millis(100), "{told}");
}

/// A `grpc-timeout` value (digits and a unit: H M S m u n) as a duration.
fn as_duration(grpc_timeout: &str) -> Duration {
    let (digits, unit) = grpc_timeout.split_at(grpc_timeout.len() - 1);
    let n: u64 = digits.parse().expect("digits");
    match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        other => panic!("unit {other}"),
    }
}

#[tokio::test]
async fn a_streaming_grpc_call_outlives_the_default_deadline() {
    let s = setup(Options { default_deadline_ms: 300, ..Default::default() }).await;
    let mut client = ChangeServiceClient::connect(serve(&s).await).await.expect("connect");
    let watch = client.watch_changes(authed(&s, changes::WatchChangesRequest::default())).await;
    let mut stream = watch.expect("watch").into_inner();
    let mut positions = Vec::new();
    while let Some(change) = stream.message().await.expect("a change, not a deadline") {
        positions.push(change.position);
    }
    // The second change came WATCH_PAUSE (800 ms) in, past the 300 ms default.
    assert_eq!(positions, [1, 2]);
    // Not the 300 ms default of unary calls: only the client's cap on a stream, a day.
    assert_eq!(
        s.fake.last_timeout_seen().as_deref(),
        Some("86400000m"),
        "a stream's only deadline is the day cap"
    );
}

#[tokio::test]
async fn a_caller_over_its_rate_limit_gets_429_with_retry_after_and_others_are_unaffected() {
    let limits = RateLimits { default: Rate { per_second: 1.0, burst: 5 }, ..RateLimits::default() };
    let s = setup(Options { rate_limits: limits, ..Default::default() }).await;
    let auth_settings = AuthSettings::default();
    let region = RegionCode::parse("150525000000").expect("region");
    let other = issue_dev_token(
        &auth_settings.dev_secret,
        "other",
        &[Role::CountyAdmin],
        &region,
        Duration::from_secs(600),
    )
    .expect("token");
    let integration = issue_dev_token(
        &auth_settings.dev_secret,
        "provincial-sync",
        &[Role::Integration],
        &region,
        Duration::from_secs(600),
    )
    .expect("token");
    // `tester` spends its burst of 5 (setup's readiness poll needs no token).
    let mut refused = None;
    for _ in 0..8 {
        let (status, body) = call(&s, "GET", "/v1/regions/150525100201", Some(&s.token), None).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(body);
            break;
        }
        assert_eq!(status, 200, "{body}");
    }
    let body = refused.expect("tester was never limited");
    assert_eq!(body["code"], "RESOURCE_EXHAUSTED", "{body}");
    assert_eq!(body["reason"], "RATE_LIMITED", "{body}");
    assert_eq!(body["limit"], json!({"by": "subject", "perSecond": 1.0, "burst": 5}), "{body}");
    let req = Request::builder()
        .uri("/v1/regions/150525100201")
        .header("authorization", format!("Bearer {}", s.token))
        .body(Body::empty())
        .expect("request");
    let resp = s.router.clone().oneshot(req).await.expect("infallible");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=2).contains(&retry), "Retry-After: {retry}");

    // Another subject's calls all succeed meanwhile, within its own burst; the
    // integration role is unlimited by default.
    for _ in 0..5 {
        let (status, body) = call(&s, "GET", "/v1/regions/150525100201", Some(&other), None).await;
        assert_eq!(status, 200, "{body}");
    }
    for _ in 0..50 {
        let (status, body) = call(&s, "GET", "/v1/regions/150525100201", Some(&integration), None).await;
        assert_eq!(status, 200, "{body}");
    }

    // gRPC passthrough shares the same bucket: RESOURCE_EXHAUSTED with retry-after.
    let mut client = RegionServiceClient::connect(serve(&s).await).await.expect("connect");
    let req = authed(&s, pb::GetRegionRequest { code: "150525100201".into() });
    let err = client.get_region(req).await.expect_err("limited");
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    assert!(err.metadata().get("retry-after").is_some(), "{err:?}");
    assert!(err.message().contains("rate limit"), "{}", err.message());
}

#[tokio::test]
async fn requests_without_a_valid_token_are_limited_by_peer() {
    let limits = RateLimits { unauthenticated: Rate { per_second: 1.0, burst: 3 }, ..RateLimits::default() };
    let s = setup(Options { rate_limits: limits, ..Default::default() }).await;
    for _ in 0..3 {
        let (status, _) = call(&s, "GET", "/v1/regions/150525100201", Some("forged"), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = call(&s, "GET", "/v1/regions/150525100201", Some("forged"), None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["limit"]["by"], "peer address", "{body}");
    // A caller with a valid token is not held up by the guesser.
    let (status, body) = call(&s, "GET", "/v1/regions/150525100201", Some(&s.token), None).await;
    assert_eq!(status, 200, "{body}");
}
