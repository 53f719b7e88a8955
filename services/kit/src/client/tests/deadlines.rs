use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tonic::Code;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use super::support::{TestServer, check_by, closed_port, settings, static_client};
use crate::client::deadline::{self, parse_grpc_timeout};
use crate::client::{ClientSettings, Idempotent};

#[tokio::test]
async fn a_caller_whose_deadline_has_passed_sends_nothing() {
    let server = TestServer::start().await;
    let client = static_client(&[server.addr()], &settings());
    let attempts = AtomicUsize::new(0);
    let result = client
        .call(Idempotent::Yes, Some(Instant::now()), &MetadataMap::new(), |channel| {
            attempts.fetch_add(1, Ordering::SeqCst);
            async move { HealthClient::new(channel).check(HealthCheckRequest::default()).await }
        })
        .await;
    assert_eq!(result.unwrap_err().code(), Code::DeadlineExceeded);
    assert_eq!(attempts.load(Ordering::SeqCst), 0);
    assert_eq!(server.calls(), 0);
}

#[tokio::test]
async fn a_server_slower_than_the_deadline_is_deadline_exceeded() {
    let server = TestServer::answering_after(Duration::from_secs(1)).await;
    let client = static_client(&[server.addr()], &settings());
    let started = Instant::now();
    let deadline = started + Duration::from_millis(100);
    let status = check_by(&client, Idempotent::Yes, Some(deadline)).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status}");
    assert!(started.elapsed() < Duration::from_millis(800), "took {:?}", started.elapsed());
    assert_eq!(server.calls(), 1);
}

#[tokio::test]
async fn with_no_endpoint_ready_a_call_is_unavailable_by_its_deadline() {
    // The one endpoint refuses; once refused it sits out longer than the deadline.
    let settings = ClientSettings {
        default_deadline: Duration::from_millis(300),
        eject_base: Duration::from_secs(5),
        eject_max: Duration::from_secs(5),
        ..settings()
    };
    let client = static_client(&[closed_port()], &settings);

    let started = Instant::now();
    let status = check_by(&client, Idempotent::Yes, None).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    assert!(status.message().contains("no endpoint was ready"), "{status}");
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());

    // A generated client on the bare channel does not hang either.
    let started = Instant::now();
    let status = HealthClient::new(client.channel()).check(HealthCheckRequest::default()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn on_the_bare_channel_a_request_with_its_own_longer_timeout_keeps_it() {
    let server = TestServer::answering_after(Duration::from_millis(400)).await;
    let settings = ClientSettings { default_deadline: Duration::from_millis(200), ..settings() };
    let client = static_client(&[server.addr()], &settings);
    let mut health = HealthClient::new(client.channel());

    let status = health.check(HealthCheckRequest::default()).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "the default applies: {status}");

    let mut request = tonic::Request::new(HealthCheckRequest::default());
    deadline::apply(&mut request, Instant::now() + Duration::from_millis(1500)).unwrap();
    health.check(request).await.expect("its own timeout is long enough");
}

#[tokio::test]
async fn every_attempt_carries_the_deadline_and_the_callers_metadata() {
    let server = TestServer::start().await;
    let client = static_client(&[server.addr()], &settings());
    let mut metadata = MetadataMap::new();
    metadata.insert("authorization", MetadataValue::from_static("Bearer caller-token"));
    metadata.insert("x-request-id", MetadataValue::from_static("req-42"));
    server.fail_next(1);

    let deadline = Instant::now() + Duration::from_millis(1500);
    client
        .call(Idempotent::Yes, Some(deadline), &metadata, |channel| async move {
            HealthClient::new(channel).check(HealthCheckRequest::default()).await
        })
        .await
        .expect("the retry succeeds");

    assert_eq!(server.calls(), 2);
    let headers = server.last_headers().expect("the server saw a call");
    assert_eq!(headers["authorization"], "Bearer caller-token");
    assert_eq!(headers["x-request-id"], "req-42");
    let timeout = parse_grpc_timeout(headers["grpc-timeout"].to_str().unwrap()).unwrap();
    assert!(timeout <= Duration::from_millis(1500) && timeout > Duration::from_millis(500), "{timeout:?}");
}
