use std::error::Error;
use std::io;

use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use super::support::{TestServer, check, closed_port, settings, static_client};
use crate::client::{ClientSettings, Idempotent, never_sent};

/// Pins the chain tonic 0.14 produces for a refused connection, which `never_sent` reads.
#[tokio::test]
async fn a_closed_port_fails_as_never_sent_through_tonic_and_through_the_client() {
    let addr = closed_port();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap().connect_lazy();
    let status = HealthClient::new(channel).check(HealthCheckRequest::default()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    let mut chain = Vec::new();
    let mut next = Error::source(&status);
    while let Some(e) = next {
        chain.push(e);
        next = e.source();
    }
    assert!(chain[0].is::<tonic::transport::Error>(), "{status:?}");
    assert!(chain[1].is::<tonic::ConnectError>(), "{status:?}");
    let last = chain.last().and_then(|e| e.downcast_ref::<io::Error>());
    assert_eq!(last.map(io::Error::kind), Some(io::ErrorKind::ConnectionRefused), "{status:?}");
    assert!(never_sent(&status));

    let client = static_client(&[addr], &ClientSettings { max_attempts: 1, ..settings() });
    let status = check(&client, Idempotent::No).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(never_sent(&status), "{status:?}");
}

#[tokio::test]
async fn a_status_answered_by_a_live_server_was_sent() {
    let server = TestServer::start().await;
    let client = static_client(&[server.addr()], &settings());
    server.fail_next(1);
    let status = check(&client, Idempotent::No).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(!never_sent(&status), "{status:?}");
}
