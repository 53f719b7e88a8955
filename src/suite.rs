//! Starting parts of the suite in one process: the service parts on one gRPC port
//! (the kit's [`Node`]) and, when asked, the gateway on the HTTP port in front of them.
//! `cadre up` starts every part and the gateway and seeds demo data into empty
//! databases; `cadre serve X` starts one part, or the gateway alone, and never seeds.

use std::net::SocketAddr;
use std::sync::Arc;

use cadre_kit::auth::Authenticator;
use cadre_kit::client::Target;
use cadre_kit::config::Settings;
use cadre_kit::metrics::Metrics;
use cadre_kit::node::{self, Bound, Node, NodeError};
use cadre_kit::part::reachable;
use cadre_kit::part::{Opened, Part, PartError};
use cadre_kit::server;
use cadre_kit::shutdown::Shutdown;
use tokio::task::JoinSet;

use crate::registry;

#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error(transparent)]
    Part(#[from] PartError),
    #[error("authentication: {0}")]
    Auth(#[from] cadre_kit::auth::AuthError),
    #[error(transparent)]
    Server(#[from] server::ServerError),
    #[error("gateway: {0}")]
    Gateway(#[from] cadre_gateway::GatewayError),
    #[error("{0}.endpoints: required when the gateway runs without that part in the same process")]
    MissingUpstream(&'static str),
    #[error("{0}.endpoints: {1}")]
    BadEndpoints(&'static str, String),
    #[error("HTTP server failed: {0}")]
    Http(std::io::Error),
    #[error("a part stopped unexpectedly: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// What to start.
#[derive(Clone)]
pub struct SuiteOptions {
    /// Service parts to run here (from the registry).
    pub parts: Vec<&'static dyn Part>,
    /// Run the gateway in front of every part (local or configured endpoints).
    pub gateway: bool,
    /// Load demo data into parts whose databases are empty (`cadre up` only: replicas of
    /// `cadre serve` starting together must never race to seed).
    pub seed_demo: bool,
    /// Print seeding progress on stderr.
    pub show_progress: bool,
}

impl SuiteOptions {
    /// `cadre up`: every part and the gateway, seeding empty databases.
    pub fn everything() -> Self {
        Self { parts: registry::PARTS.to_vec(), gateway: true, seed_demo: true, show_progress: false }
    }

    /// `cadre serve <target>`: one part alone (with its own `/metrics`), or the gateway
    /// alone. Never seeds: replicas starting together on an empty database would race
    /// to load the demo; seeding is for `cadre up` and `cadre demo seed`.
    pub fn serve(target: &str) -> Option<Self> {
        if target == registry::GATEWAY {
            return Some(Self { parts: Vec::new(), gateway: true, seed_demo: false, show_progress: false });
        }
        let part = registry::find(target)?;
        Some(Self { parts: vec![part], gateway: false, seed_demo: false, show_progress: false })
    }
}

/// A started suite: where it listens, and how to stop it.
pub struct RunningSuite {
    /// The gRPC address of the services, when any runs here.
    pub grpc_addr: Option<SocketAddr>,
    /// The gateway's HTTP address (REST, OpenAPI, gRPC passthrough, metrics), or a lone
    /// part's `/metrics`.
    pub http_addr: Option<SocketAddr>,
    /// What demo seeding loaded, one line per part.
    pub seeded: Vec<String>,
    node: Option<Node>,
    tasks: JoinSet<Result<(), SuiteError>>,
    shutdown: Shutdown,
}

impl RunningSuite {
    pub fn shutdown_token(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// The databases of the parts running here, by part name (tests, `audit verify`).
    pub fn database(&self, part: &str) -> Option<&cadre_kit::db::Db> {
        self.node.as_ref()?.parts().iter().find(|p| p.name == part).map(|p| &p.db)
    }

    /// Waits until everything has stopped (after the token is cancelled, or when one
    /// part fails, which stops the others).
    pub async fn wait(mut self) -> Result<(), SuiteError> {
        let mut first_error = None;
        while let Some(done) = self.tasks.join_next().await {
            if let Err(e) = done.map_err(SuiteError::from).and_then(|r| r) {
                tracing::error!("{e}");
                self.shutdown.cancel();
                first_error.get_or_insert(e);
            }
        }
        if let Some(node) = self.node.take()
            && let Err(e) = node.wait().await
        {
            first_error.get_or_insert(e.into());
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Loads each part's demo data into its database if empty; one line per part that
/// loaded some. With `show_progress`, a line on stderr rewritten as it goes.
pub async fn seed_demo(opened: &[Opened], show_progress: bool) -> Result<Vec<String>, PartError> {
    let mut seeded = Vec::new();
    for part in opened {
        let name = part.name;
        let progress = move |done: usize, total: usize| {
            if show_progress && (done == total || done.is_multiple_of((total / 20).max(1))) {
                eprint!("\rseeding {name}: {done}/{total} ({}%)", done * 100 / total.max(1));
                if done == total {
                    eprintln!();
                }
            }
        };
        if let Some(what) = part.part.seed_demo(&progress).await? {
            seeded.push(format!("{name}: {what}"));
        }
    }
    Ok(seeded)
}

pub async fn start(
    settings: &Settings,
    options: SuiteOptions,
    shutdown: Shutdown,
) -> Result<RunningSuite, SuiteError> {
    let settings = Arc::new(settings.clone());
    let metrics = Metrics::new();
    let auth = Authenticator::from_settings(&settings.auth).await?;
    let mut tasks = JoinSet::new();

    // Bound first, so that the parts' clients of each other know where this node listens.
    let bound = if options.parts.is_empty() { None } else { Some(Bound::bind(settings.grpc_addr).await?) };
    let local = bound.as_ref().map(|b| b.addr);
    let opened = node::open_all(&options.parts, &settings, &shutdown, local).await?;

    // A node without the gateway serves its own /metrics (when configured).
    let node = match bound {
        None => None,
        Some(bound) => {
            let alone = !options.gateway;
            Some(
                Node::start(bound, opened, &settings, metrics.clone(), auth.clone(), alone, shutdown.clone())
                    .await?,
            )
        }
    };
    // Seeded through the parts' own APIs once they serve: a part's demo may ask
    // another (training asks the roster who the county's secretaries are).
    let seeded = match &node {
        Some(node) if options.seed_demo && settings.demo => {
            seed_demo(node.parts(), options.show_progress).await?
        }
        _ => Vec::new(),
    };
    let grpc_addr = node.as_ref().map(|n| n.grpc_addr);
    let mut http_addr = node.as_ref().and_then(|n| n.metrics_addr);

    if options.gateway {
        let mut upstreams =
            cadre_gateway::Upstreams { parts: Vec::new(), client: settings.client.settings() };
        for part in registry::PARTS {
            let here = options.parts.iter().any(|p| p.name() == part.name());
            let configured = settings
                .part(part.name())
                .target()
                .map_err(|e| SuiteError::BadEndpoints(part.name(), e.to_string()))?;
            let target = match (configured, grpc_addr) {
                (Some(target), _) => target,
                (None, Some(addr)) if here => Target::Static(vec![reachable(addr)]),
                (None, _) => return Err(SuiteError::MissingUpstream(part.name())),
            };
            upstreams.parts.push((part.name().to_string(), target));
        }
        let router = cadre_gateway::router(
            &settings.gateway,
            upstreams,
            auth.clone(),
            metrics.clone(),
            shutdown.clone(),
        )
        .await?;
        let router = router.merge(cadre_kit::metrics::metrics_router(metrics.clone()));
        let listener = server::bind(settings.http_addr).await?;
        http_addr = Some(listener.local_addr().map_err(SuiteError::Http)?);
        let (shutdown, grace) = (shutdown.clone(), settings.drain_grace());
        tasks.spawn(async move {
            server::serve_http(listener, router, shutdown, grace).await.map_err(SuiteError::Http)
        });
    }

    Ok(RunningSuite { grpc_addr, http_addr, seeded, node, tasks, shutdown })
}
