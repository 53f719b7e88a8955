//! The parts running in one process, served on one gRPC port: what `cadre up` (every
//! part), `cadre serve <part>` (one), a service's own binary and the tests start, the
//! same way. Binds first (port 0 allowed, the real address read back), serves until
//! shutdown, runs the parts' background work, then drains and closes the databases.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::JoinSet;

use crate::auth::{AuthError, Authenticator};
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::part::{self, Opened, Part, PartError};
use crate::server::{self, GrpcHost, ServerError};
use crate::shutdown::Shutdown;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Part(#[from] PartError),
    #[error("authentication: {0}")]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error("HTTP server failed: {0}")]
    Http(std::io::Error),
    #[error("a task stopped unexpectedly: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Opens `parts` in order (each its own database, keys, identity and clients; `local` is
/// where the parts of this process will listen, for the clients of parts running here).
pub async fn open_all(
    parts: &[&dyn Part],
    settings: &Arc<Settings>,
    shutdown: &Shutdown,
    local: Option<SocketAddr>,
) -> Result<Vec<Opened>, PartError> {
    let mut opened = Vec::with_capacity(parts.len());
    for part in parts {
        opened.push(part::open(*part, settings.clone(), shutdown.clone(), local).await?);
    }
    Ok(opened)
}

/// The gRPC listener of a node, bound before its parts open so that their clients of
/// each other know the real address (port 0 allowed).
pub struct Bound {
    listener: tokio::net::TcpListener,
    pub addr: SocketAddr,
}

impl Bound {
    pub async fn bind(addr: SocketAddr) -> Result<Bound, NodeError> {
        let listener = server::bind(addr).await?;
        let addr = listener.local_addr().map_err(NodeError::Http)?;
        Ok(Bound { listener, addr })
    }
}

/// Open parts serving gRPC on one address, with their background work.
pub struct Node {
    /// Where the gRPC server listens (the real port when 0 was asked for).
    pub grpc_addr: SocketAddr,
    /// `/metrics` of a node without a gateway, when `metrics_addr` is set.
    pub metrics_addr: Option<SocketAddr>,
    parts: Vec<Opened>,
    tasks: JoinSet<Result<(), NodeError>>,
    shutdown: Shutdown,
}

impl Node {
    /// Serves every part of `opened` on `bound` until `shutdown`; spawns each part's
    /// background work. With `metrics_http`, also serves
    /// `/metrics` on `settings.metrics_addr` (a node without a gateway in front).
    pub async fn start(
        bound: Bound,
        opened: Vec<Opened>,
        settings: &Settings,
        metrics: Metrics,
        auth: Authenticator,
        metrics_http: bool,
        shutdown: Shutdown,
    ) -> Result<Node, NodeError> {
        let mut host = GrpcHost::new();
        for part in &opened {
            part.part.register(&mut host);
            host.depends_on(part.db.clone());
        }
        let Bound { listener, addr: grpc_addr } = bound;
        let mut tasks = JoinSet::new();
        let grace = settings.drain_grace();
        {
            let (metrics, shutdown) = (metrics.clone(), shutdown.clone());
            tasks.spawn(async move { Ok(host.serve(listener, metrics, auth, grace, shutdown).await?) });
        }
        for part in &opened {
            for work in part.part.background() {
                tasks.spawn(async move { Ok(work.await?) });
            }
        }
        let mut metrics_addr = None;
        if metrics_http && let Some(addr) = settings.metrics_addr {
            let listener = server::bind(addr).await?;
            metrics_addr = Some(listener.local_addr().map_err(NodeError::Http)?);
            let router = crate::metrics::metrics_router(metrics);
            let shutdown = shutdown.clone();
            tasks.spawn(async move {
                server::serve_http(listener, router, shutdown, grace).await.map_err(NodeError::Http)
            });
        }
        tracing::info!(
            addr = %grpc_addr,
            parts = %opened.iter().map(|p| p.name).collect::<Vec<_>>().join(","),
            "serving gRPC"
        );
        Ok(Node { grpc_addr, metrics_addr, parts: opened, tasks, shutdown })
    }

    /// The parts served here.
    pub fn parts(&self) -> &[Opened] {
        &self.parts
    }

    /// Adds a task that stops the node when it fails (the gateway beside the parts).
    pub fn spawn(&mut self, task: impl Future<Output = Result<(), NodeError>> + Send + 'static) {
        self.tasks.spawn(task);
    }

    /// Waits until everything has stopped (after shutdown, or when one task fails, which
    /// stops the rest), then closes the databases.
    pub async fn wait(mut self) -> Result<(), NodeError> {
        let mut first_error = None;
        while let Some(done) = self.tasks.join_next().await {
            if let Err(e) = done.map_err(NodeError::from).and_then(|r| r) {
                tracing::error!("{e}");
                self.shutdown.cancel();
                first_error.get_or_insert(e);
            }
        }
        for part in &self.parts {
            part.db.close().await;
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// A part alone, as its own binary or `cadre serve <part>` runs it: opened (never
/// seeded: replicas starting together must not race to load demo data), served on
/// `grpc_addr` with `/metrics` on `metrics_addr`, until SIGTERM.
pub async fn serve_alone(part: &dyn Part, settings: Settings, shutdown: Shutdown) -> Result<(), NodeError> {
    let settings = Arc::new(settings);
    let auth = Authenticator::from_settings(&settings.auth).await?;
    let bound = Bound::bind(settings.grpc_addr).await?;
    let opened = open_all(&[part], &settings, &shutdown, Some(bound.addr)).await?;
    let node = Node::start(bound, opened, &settings, Metrics::new(), auth, true, shutdown).await?;
    node.wait().await
}
