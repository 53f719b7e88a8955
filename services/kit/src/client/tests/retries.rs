use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tonic::Code;
use tonic::metadata::MetadataMap;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use super::support::{Scripted, TestServer, check, closed_port, settings, static_client};
use crate::client::{ClientSettings, Idempotent, PartClient};

#[tokio::test]
async fn a_call_that_is_not_idempotent_and_reached_the_server_is_not_retried() {
    let server = TestServer::start().await;
    let client = static_client(&[server.addr()], &settings());
    server.fail_next(1);
    let status = check(&client, Idempotent::No).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(server.calls(), 1);
}

#[tokio::test]
async fn an_idempotent_call_is_retried_on_unavailable() {
    let server = TestServer::start().await;
    let client = static_client(&[server.addr()], &settings());
    server.fail_next(2);
    check(&client, Idempotent::Yes).await.expect("the third attempt succeeds");
    assert_eq!(server.calls(), 3);
}

#[tokio::test]
async fn a_call_that_was_never_sent_is_retried_even_when_not_idempotent() {
    let live = TestServer::start().await;
    let resolver = Scripted::answering(&[closed_port(), live.addr()]);
    let client = PartClient::with_resolver("roster", resolver, &settings()).expect("client");
    let attempts = AtomicUsize::new(0);
    let mut calls = 0;
    // Until the balancer has picked the closed endpoint at least once (about every other call).
    while attempts.load(Ordering::SeqCst) == calls && calls < 50 {
        calls += 1;
        client
            .call(Idempotent::No, None, &MetadataMap::new(), |channel| {
                attempts.fetch_add(1, Ordering::SeqCst);
                async move { HealthClient::new(channel).check(HealthCheckRequest::default()).await }
            })
            .await
            .expect("call succeeds");
    }
    assert!(attempts.load(Ordering::SeqCst) > calls, "no attempt went to the closed endpoint");
    assert_eq!(live.calls(), calls, "each call reached the live server exactly once");
}

#[tokio::test]
async fn a_spent_budget_stops_retries() {
    let server = TestServer::start().await;
    server.fail_next(usize::MAX);
    // One retry in reserve per second, and none earned by calls.
    let settings = ClientSettings {
        retry_budget_ratio: 0.0,
        retry_budget_min_per_sec: 1,
        retry_budget_window: Duration::from_secs(1),
        ..settings()
    };
    let client = static_client(&[server.addr()], &settings);

    assert_eq!(check(&client, Idempotent::Yes).await.unwrap_err().code(), Code::Unavailable);
    assert_eq!(server.calls(), 2, "the first call had one retry");
    assert_eq!(check(&client, Idempotent::Yes).await.unwrap_err().code(), Code::Unavailable);
    assert_eq!(server.calls(), 3, "the second call had none");
}

#[tokio::test]
async fn an_idempotent_call_whose_replica_died_under_it_is_retried_on_another() {
    let live = TestServer::start().await;
    let (dying, died) = super::never_sent::dies_after_reading().await;
    // After it dies the dying replica refuses connections, which sends calls elsewhere.
    let client = PartClient::with_resolver("roster", Scripted::answering(&[dying, live.addr()]), &settings())
        .expect("client");
    let mut calls = 0;
    while !died.load(Ordering::SeqCst) || calls < 20 {
        check(&client, Idempotent::Yes).await.expect("retried on the live replica");
        calls += 1;
        assert!(calls < 500, "no call went to the dying replica");
    }
    assert_eq!(live.calls(), calls, "every call answered by the live replica, once");
}

#[tokio::test]
async fn a_call_that_is_not_idempotent_is_not_retried_when_its_replica_died_under_it() {
    let (dying, _) = super::never_sent::dies_after_reading().await;
    let client = static_client(&[dying], &settings());
    let status = check(&client, Idempotent::No).await.unwrap_err();
    assert_eq!(status.code(), Code::Unknown, "{status:?}");
}
