use std::error::Error;
use std::io;

use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use super::support::{TestServer, check, closed_port, settings, static_client};
use crate::client::{ClientSettings, Idempotent, connection_lost, never_sent};

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

/// A request hyper never handed to its HTTP/2 connection (the connection closed first, as a
/// draining replica's does) fails with hyper's Canceled error, which tonic reports as
/// CANCELLED: nothing was sent, so any call may be tried again.
#[tokio::test]
async fn a_request_hyper_never_handed_to_a_closed_connection_was_never_sent() {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let (ours, _theirs) = tokio::io::duplex(64 * 1024);
    let (mut sender, connection) = hyper::client::conn::http2::handshake::<_, _, tonic::body::Body>(
        TokioExecutor::new(),
        TokioIo::new(ours),
    )
    .await
    .expect("an HTTP/2 handshake needs no answer to start");
    // The connection ends before the request is written: its task is gone.
    drop(connection);
    let request = http::Request::post("http://replica/grpc.health.v1.Health/Check")
        .body(tonic::body::Body::empty())
        .unwrap();
    let error = sender.send_request(request).await.expect_err("no connection to send on");
    assert!(error.is_canceled(), "{error:?}");
    let status = tonic::Status::from_error(Box::new(error));
    assert_eq!(status.code(), Code::Cancelled, "{status:?}");
    assert!(never_sent(&status), "{status:?}");
    // A cancellation the server decided (its deadline passed) is not one of these.
    assert!(!never_sent(&tonic::Status::cancelled("Timeout expired")));
}

/// A replica killed mid-call: it accepted the connection and read the request, then its
/// sockets closed (SIGKILL) without an answer.
/// Returns its address and whether it has died under a call yet.
pub(super) async fn dies_after_reading()
-> (std::net::SocketAddr, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let died = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let dead = died.clone();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        // The client preface, settings and the request's HEADERS and DATA frames.
        while seen.len() < 120 {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
        drop(socket);
        drop(listener);
        dead.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    (addr, died)
}

/// A call whose replica died under it (reset after reading the request) was possibly
/// applied: not never-sent, but its connection was lost, so an idempotent call may be
/// tried again on another replica.
#[tokio::test]
async fn a_call_whose_replica_died_under_it_lost_its_connection() {
    let (addr, _) = dies_after_reading().await;
    let client = static_client(&[addr], &ClientSettings { max_attempts: 1, ..settings() });
    let status = check(&client, Idempotent::Yes).await.unwrap_err();
    assert!(!never_sent(&status), "{status:?}");
    assert!(connection_lost(&status), "{status:?}");
    // What a live server answers was not lost on the way.
    assert!(!connection_lost(&tonic::Status::unavailable("draining")));
}
