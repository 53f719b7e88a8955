//! What the client tests stand on: grpc.health.v1 servers on ports the OS picks, each
//! counting the calls that reach it and, on request, slow or failing; a resolver the test
//! scripts; and a client tuned for test time.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::HeaderMap;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::body::Body;
use tonic::metadata::MetadataMap;
use tonic::{Response, Status};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tower::{BoxError, Service, ServiceExt};

use crate::client::{ClientSettings, Idempotent, PartClient, Resolve, Target};

/// What a test server does with each call.
#[derive(Default)]
struct Behaviour {
    calls: AtomicUsize,
    delay: Duration,
    /// Calls still to be answered UNAVAILABLE.
    failing: AtomicUsize,
    last_headers: Mutex<Option<HeaderMap>>,
}

/// A grpc.health.v1 server on 127.0.0.1.
pub(crate) struct TestServer {
    addr: SocketAddr,
    behaviour: Arc<Behaviour>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), tonic::transport::Error>>>,
}

impl TestServer {
    pub(crate) async fn start() -> Self {
        Self::answering_after(Duration::ZERO).await
    }

    /// A server that waits `delay` before each answer.
    pub(crate) async fn answering_after(delay: Duration) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
        let addr = listener.local_addr().expect("bound address");
        let behaviour = Arc::new(Behaviour { delay, ..Behaviour::default() });
        let (_reporter, health) = tonic_health::server::health_reporter();
        let (stop, stopped) = oneshot::channel::<()>();
        let counted = {
            let behaviour = behaviour.clone();
            tower::layer::layer_fn(move |inner| Counted { inner, behaviour: behaviour.clone() })
        };
        let server = tonic::transport::Server::builder().layer(counted).add_service(health);
        let task = tokio::spawn(server.serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            async {
                let _ = stopped.await;
            },
        ));
        Self { addr, behaviour, stop: Some(stop), task: Some(task) }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Calls that reached this server.
    pub(crate) fn calls(&self) -> usize {
        self.behaviour.calls.load(Ordering::SeqCst)
    }

    /// Answers the next `n` calls with UNAVAILABLE.
    pub(crate) fn fail_next(&self, n: usize) {
        self.behaviour.failing.store(n, Ordering::SeqCst);
    }

    /// The headers of the last call that reached this server.
    pub(crate) fn last_headers(&self) -> Option<HeaderMap> {
        self.behaviour.last_headers.lock().unwrap().clone()
    }

    /// Shuts the server down (gracefully, as on SIGTERM) and waits until it has.
    pub(crate) async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server ran");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// The counting layer, in front of the health service.
#[derive(Clone)]
struct Counted<S> {
    inner: S,
    behaviour: Arc<Behaviour>,
}

impl<S> Service<http::Request<Body>> for Counted<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let behaviour = self.behaviour.clone();
        let inner = self.inner.clone();
        Box::pin(async move {
            behaviour.calls.fetch_add(1, Ordering::SeqCst);
            *behaviour.last_headers.lock().unwrap() = Some(request.headers().clone());
            if !behaviour.delay.is_zero() {
                tokio::time::sleep(behaviour.delay).await;
            }
            let failing = behaviour
                .failing
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if failing {
                return Ok(Status::unavailable("test server failing on purpose").into_http());
            }
            inner.oneshot(request).await.map_err(Into::into)
        })
    }
}

/// Answers whatever the test last set; `None` fails the lookup.
#[derive(Clone, Default)]
pub(crate) struct Scripted(pub(crate) Arc<Mutex<Option<Vec<SocketAddr>>>>);

impl Scripted {
    pub(crate) fn answering(addrs: &[SocketAddr]) -> Self {
        let scripted = Self::default();
        scripted.set(Some(addrs));
        scripted
    }

    pub(crate) fn set(&self, addrs: Option<&[SocketAddr]>) {
        *self.0.lock().unwrap() = addrs.map(<[SocketAddr]>::to_vec);
    }
}

impl Resolve for Scripted {
    async fn resolve(&self) -> io::Result<Vec<SocketAddr>> {
        self.0.lock().unwrap().clone().ok_or_else(|| io::Error::other("lookup failed on purpose"))
    }
}

/// An address nothing listens on.
pub(crate) fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("bound address")
}

/// Settings for tests: re-resolve every 100 ms, and fail within 2 s at worst.
pub(crate) fn settings() -> ClientSettings {
    ClientSettings {
        refresh: Duration::from_millis(100),
        default_deadline: Duration::from_secs(2),
        connect_timeout: Duration::from_millis(500),
        ..ClientSettings::default()
    }
}

pub(crate) fn static_client(addrs: &[SocketAddr], settings: &ClientSettings) -> PartClient {
    PartClient::new("roster", &Target::Static(addrs.to_vec()), settings).expect("client")
}

/// One health check through the retrying call helper.
pub(crate) async fn check(
    client: &PartClient,
    idempotent: Idempotent,
) -> Result<HealthCheckResponse, Status> {
    check_by(client, idempotent, None).await
}

pub(crate) async fn check_by(
    client: &PartClient,
    idempotent: Idempotent,
    deadline: Option<Instant>,
) -> Result<HealthCheckResponse, Status> {
    client
        .call(idempotent, deadline, &MetadataMap::new(), |channel| async move {
            HealthClient::new(channel).check(HealthCheckRequest::default()).await
        })
        .await
        .map(Response::into_inner)
}

/// Waits until `done` holds, checking every 10 ms; false if it still does not after `within`.
pub(crate) async fn eventually(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + within;
    while !done() {
        if Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}
