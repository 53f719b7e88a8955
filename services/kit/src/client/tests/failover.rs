use std::sync::Arc;
use std::time::{Duration, Instant};

use super::support::{Scripted, TestServer, check, eventually, settings};
use crate::client::{Idempotent, PartClient};

#[tokio::test]
async fn a_replica_that_stops_is_avoided_and_a_new_one_gets_calls_within_a_refresh() {
    let (mut a, b, c) = (TestServer::start().await, TestServer::start().await, TestServer::start().await);
    let resolver = Scripted::answering(&[a.addr(), b.addr()]);
    let client = PartClient::with_resolver("roster", resolver.clone(), &settings()).expect("client");
    for _ in 0..20 {
        check(&client, Idempotent::Yes).await.expect("call succeeds");
    }
    assert!(a.calls() > 0 && b.calls() > 0, "a: {}, b: {}", a.calls(), b.calls());

    a.stop().await;
    for i in 0..200 {
        check(&client, Idempotent::Yes).await.unwrap_or_else(|s| panic!("call {i} after A stopped: {s}"));
    }

    // A is still listed (its pod terminating, say); C is new.
    resolver.set(Some(&[a.addr(), b.addr(), c.addr()]));
    let added = Instant::now();
    while c.calls() == 0 && added.elapsed() < Duration::from_secs(2) {
        check(&client, Idempotent::Yes).await.expect("call succeeds");
    }
    assert!(c.calls() > 0, "C got no call within 2 s of appearing");
    assert_eq!(client.endpoints(), 3);
}

#[tokio::test]
async fn the_resolver_stops_when_every_clone_of_the_client_is_dropped() {
    let server = TestServer::start().await;
    let resolver = Scripted::answering(&[server.addr()]);
    let client = PartClient::with_resolver("roster", resolver.clone(), &settings()).expect("client");
    let (clone, channel) = (client.clone(), client.channel());
    check(&clone, Idempotent::Yes).await.expect("call succeeds");
    drop((client, clone, channel));
    // The resolver task holds the other reference to the script.
    let stopped = eventually(Duration::from_secs(2), || Arc::strong_count(&resolver.0) == 1).await;
    assert!(stopped, "the resolver task outlived the client");
}
