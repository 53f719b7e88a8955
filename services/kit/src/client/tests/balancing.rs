use std::time::Duration;

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use super::support::{TestServer, check, settings, static_client};
use crate::client::Idempotent;

#[tokio::test]
async fn both_endpoints_of_a_static_list_get_calls() {
    let (a, b) = (TestServer::start().await, TestServer::start().await);
    let client = static_client(&[a.addr(), b.addr()], &settings());
    for _ in 0..40 {
        check(&client, Idempotent::Yes).await.expect("call succeeds");
    }
    assert_eq!(a.calls() + b.calls(), 40);
    assert!(a.calls() > 0 && b.calls() > 0, "a: {}, b: {}", a.calls(), b.calls());
    assert_eq!(client.endpoints(), 2);
}

#[tokio::test]
async fn a_generated_client_works_on_the_bare_channel() {
    let server = TestServer::start().await;
    let client = static_client(&[server.addr()], &settings());
    let mut health = HealthClient::new(client.channel());
    health.check(HealthCheckRequest::default()).await.expect("call succeeds");
    assert_eq!(server.calls(), 1);
}

#[tokio::test]
async fn a_slow_endpoint_gets_fewer_calls_than_a_fast_one() {
    let slow = TestServer::answering_after(Duration::from_millis(50)).await;
    let fast = TestServer::start().await;
    let client = static_client(&[slow.addr(), fast.addr()], &settings());
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let client = client.clone();
        callers.spawn(async move {
            for _ in 0..25 {
                check(&client, Idempotent::Yes).await.expect("call succeeds");
            }
        });
    }
    while let Some(done) = callers.join_next().await {
        done.expect("caller");
    }
    assert_eq!(slow.calls() + fast.calls(), 200);
    assert!(fast.calls() > 3 * slow.calls(), "slow: {}, fast: {}", slow.calls(), fast.calls());
}
