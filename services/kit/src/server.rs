//! Server bootstrap for gRPC: the services of one process (one or all of them) on one
//! port, with grpc.health.v1 that tells the truth (NOT_SERVING while a database is
//! unreachable and while draining), reflection for grpcurl, per-RPC metrics and
//! traces, and graceful shutdown that finishes the calls in flight.

use std::convert::Infallible;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::auth::Authenticator;
use crate::db::Db;
use crate::grpc_layer::GrpcServerLayer;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;

const HEALTH_INTERVAL: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("could not bind {addr}: {source}")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("gRPC server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("reflection could not load the descriptors: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// Binds first so that port 0 can be used and the real port read back.
pub async fn bind(addr: std::net::SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr, source })
}

/// The gRPC services of this process and what their health depends on.
#[derive(Default)]
pub struct GrpcHost {
    routes: RoutesBuilder,
    names: Vec<&'static str>,
    databases: Vec<Db>,
}

impl GrpcHost {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a service; its health is reported under its full name.
    pub fn add<S>(&mut self, svc: S) -> &mut Self
    where
        S: tower::Service<http::Request<tonic::body::Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.names.push(S::NAME);
        self.routes.add_service(svc);
        self
    }

    /// Services report NOT_SERVING while this database does not answer.
    pub fn depends_on(&mut self, db: Db) -> &mut Self {
        self.databases.push(db);
        self
    }

    /// Serves until `shutdown` is cancelled, then reports NOT_SERVING, keeps answering
    /// for `drain_grace` (balancers and Kubernetes need a moment to stop sending calls),
    /// stops accepting and returns once the calls in flight have finished. Every call
    /// passes the kit's layer: token, declared permission, span, metrics.
    pub async fn serve(
        self,
        listener: TcpListener,
        metrics: Metrics,
        auth: Authenticator,
        drain_grace: Duration,
        shutdown: Shutdown,
    ) -> Result<(), ServerError> {
        let (reporter, health_service) = tonic_health::server::health_reporter();
        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(cadre_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(cadre_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()?;

        let mut routes = self.routes;
        routes.add_service(health_service).add_service(reflection_v1).add_service(reflection_v1alpha);

        // Known from the first call on: the databases are asked once before serving.
        set_all(&reporter, &self.names, current_status(&self.databases, &shutdown).await).await;
        let watcher = tokio::spawn(watch_health(reporter, self.names, self.databases, shutdown.clone()));
        let shutdown = shutdown.clone();
        // Small unary replies must not wait for delayed ACKs (Nagle): no-delay on every
        // accepted connection (the builder's own setting applies only when it binds).
        let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        let stop_accepting = async move {
            shutdown.cancelled().await;
            if !drain_grace.is_zero() {
                tracing::info!(
                    grace_ms = drain_grace.as_millis() as u64,
                    "NOT_SERVING; draining before closing"
                );
                tokio::time::sleep(drain_grace).await;
            }
        };
        let result = tonic::transport::Server::builder()
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            // Auth, permission, a trace span and metrics around every call, health included.
            .layer(GrpcServerLayer::new(metrics, auth))
            .add_routes(routes.routes())
            .serve_with_incoming_shutdown(incoming, stop_accepting)
            .await;
        watcher.abort();
        Ok(result?)
    }
}

async fn set_all(reporter: &HealthReporter, names: &[&'static str], status: ServingStatus) {
    reporter.set_service_status("", status).await;
    for name in names {
        reporter.set_service_status(*name, status).await;
    }
}

async fn current_status(databases: &[Db], shutdown: &Shutdown) -> ServingStatus {
    let mut healthy = true;
    for db in databases {
        healthy &= db.ping().await;
    }
    if healthy && !shutdown.is_cancelled() { ServingStatus::Serving } else { ServingStatus::NotServing }
}

/// Keeps health statuses true: SERVING only while every database answers, and
/// NOT_SERVING from the moment shutdown begins (so balancers stop sending calls).
async fn watch_health(
    reporter: HealthReporter,
    names: Vec<&'static str>,
    databases: Vec<Db>,
    shutdown: Shutdown,
) {
    let mut last = None;
    loop {
        let status = current_status(&databases, &shutdown).await;
        if last != Some(status) {
            if status == ServingStatus::NotServing && !shutdown.is_cancelled() {
                tracing::warn!("a database does not answer: reporting NOT_SERVING");
            }
            set_all(&reporter, &names, status).await;
            last = Some(status);
        }
        tokio::select! {
            _ = tokio::time::sleep(HEALTH_INTERVAL) => {}
            _ = shutdown.cancelled() => {
                set_all(&reporter, &names, ServingStatus::NotServing).await;
                return;
            }
        }
    }
}

/// Serves an HTTP router (the gateway, `/metrics`) until shutdown plus `drain_grace`
/// (the gateway's `/readyz` says 503 from the start of shutdown, so load balancers stop
/// sending while it still answers), then finishes the requests in flight; no-delay on
/// every connection, as for gRPC.
pub async fn serve_http(
    listener: TcpListener,
    router: axum::Router,
    shutdown: Shutdown,
    drain_grace: Duration,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("could not set TCP_NODELAY: {e}");
        }
    });
    let stop_accepting = async move {
        shutdown.cancelled().await;
        tokio::time::sleep(drain_grace).await;
    };
    // Connect info: the gateway limits unauthenticated requests by peer address.
    axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(stop_accepting)
        .await
}
