//! Starting parts of the suite in one process: binds every listener first (port 0
//! allowed, real addresses read back), then serves until the shutdown token is
//! cancelled, then drains. `cadre up` starts every part; `cadre serve X` one.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use cadre_kit::auth::Authenticator;
use cadre_kit::config::Settings;
use cadre_kit::metrics::Metrics;
use cadre_kit::server::{self, GrpcHost};
use cadre_kit::shutdown::Shutdown;
use tokio::task::JoinSet;

use crate::part::Part;

#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error(transparent)]
    Roster(#[from] cadre_roster::StartError),
    #[error("authentication: {0}")]
    Auth(#[from] cadre_kit::auth::AuthError),
    #[error(transparent)]
    Server(#[from] server::ServerError),
    #[error("gateway: {0}")]
    Gateway(#[from] cadre_gateway::GatewayError),
    #[error("gateway.upstreams.{0}: required when the gateway runs without that part in the same process")]
    MissingUpstream(String),
    #[error("demo data: {0}")]
    Seed(tonic::Status),
    #[error("HTTP server failed: {0}")]
    Http(std::io::Error),
    #[error("a part stopped unexpectedly: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// What to start besides the parts themselves.
#[derive(Debug, Clone)]
pub struct SuiteOptions {
    pub parts: Vec<Part>,
    /// Print demo-seeding progress on stderr.
    pub show_progress: bool,
}

/// A started suite: where it listens, and how to stop it.
pub struct RunningSuite {
    /// The gRPC address of the services, when any runs here.
    pub grpc_addr: Option<SocketAddr>,
    /// The gateway's HTTP address (REST, OpenAPI, gRPC passthrough, metrics).
    pub http_addr: Option<SocketAddr>,
    /// The roster, when it runs here (the CLI uses it for `audit verify`).
    pub roster: Option<cadre_roster::RosterApi>,
    pub seeded: Option<cadre_roster::seed::Seeded>,
    shutdown: Shutdown,
    tasks: JoinSet<Result<(), SuiteError>>,
}

impl RunningSuite {
    pub fn shutdown_token(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Waits until every part has stopped (after the token is cancelled, or when one
    /// fails, which stops the others).
    pub async fn wait(mut self) -> Result<(), SuiteError> {
        let mut first_error = None;
        while let Some(done) = self.tasks.join_next().await {
            let result = done.map_err(SuiteError::from).and_then(|r| r);
            if let Err(e) = result {
                tracing::error!("{e}");
                self.shutdown.cancel();
                first_error.get_or_insert(e);
            }
        }
        if let Some(roster) = &self.roster {
            roster.db().close().await;
        }
        first_error.map_or(Ok(()), Err)
    }
}

pub async fn start(
    settings: &Settings,
    options: SuiteOptions,
    shutdown: Shutdown,
) -> Result<RunningSuite, SuiteError> {
    let metrics = Metrics::new();
    let auth = Authenticator::from_settings(&settings.auth).await?;
    let mut tasks = JoinSet::new();
    let mut seeded = None;

    let mut roster = None;
    if options.parts.contains(&Part::Roster) {
        let api = cadre_roster::open(settings).await?;
        if settings.demo
            && cadre_roster::seed::is_empty(&api)
                .await
                .map_err(|e| SuiteError::Seed(cadre_kit::ApiError::from(e).into()))?
        {
            seeded = Some(seed_demo(&api, options.show_progress).await?);
        }
        roster = Some(api);
    }

    let mut grpc_addr = None;
    if options.parts.iter().any(|p| *p != Part::Gateway) {
        let mut host = GrpcHost::new();
        if let Some(api) = &roster {
            api.add_to(&mut host, &auth);
        }
        let listener = server::bind(settings.grpc_addr).await?;
        grpc_addr = Some(listener.local_addr().map_err(SuiteError::Http)?);
        let (metrics, shutdown) = (metrics.clone(), shutdown.clone());
        tasks.spawn(async move { host.serve(listener, metrics, shutdown).await.map_err(SuiteError::from) });
    }

    let mut http_addr = None;
    let http_router = if options.parts.contains(&Part::Gateway) {
        let mut upstreams = BTreeMap::new();
        for part in Part::services() {
            let configured = settings.gateway.upstreams.get(part.name());
            let endpoints: Vec<String> = match (configured, grpc_addr) {
                (Some(list), _) => {
                    list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
                }
                (None, Some(addr)) if options.parts.contains(&part) => vec![format!("http://{addr}")],
                (None, _) => return Err(SuiteError::MissingUpstream(part.name().to_string())),
            };
            upstreams.insert(part.name().to_string(), endpoints);
        }
        let router = cadre_gateway::router(
            &settings.gateway,
            cadre_gateway::Upstreams(upstreams),
            auth.clone(),
            metrics.clone(),
        )
        .await?;
        Some((router.merge(cadre_kit::metrics::metrics_router(metrics.clone())), settings.http_addr))
    } else {
        // A service alone exposes /metrics on its own address when configured.
        settings.metrics_addr.map(|addr| (cadre_kit::metrics::metrics_router(metrics.clone()), addr))
    };
    if let Some((router, addr)) = http_router {
        let listener = server::bind(addr).await?;
        http_addr = Some(listener.local_addr().map_err(SuiteError::Http)?);
        let shutdown = shutdown.clone();
        tasks.spawn(
            async move { server::serve_http(listener, router, shutdown).await.map_err(SuiteError::Http) },
        );
    }

    Ok(RunningSuite { grpc_addr, http_addr, roster, seeded, shutdown, tasks })
}

async fn seed_demo(
    api: &cadre_roster::RosterApi,
    show_progress: bool,
) -> Result<cadre_roster::seed::Seeded, SuiteError> {
    let demo = cadre_roster::demo::demo_county(2021);
    let started = std::time::Instant::now();
    let mut last_shown = 0;
    let seeded = cadre_roster::seed::load(api, demo, |done, total| {
        if show_progress && (done == total || done >= last_shown + total / 20) {
            last_shown = done;
            eprint!(
                "\rseeding the demo county: {done}/{total} cadres and reserves ({}%)",
                done * 100 / total.max(1)
            );
            if done == total {
                eprintln!();
            }
        }
    })
    .await
    .map_err(SuiteError::Seed)?;
    tracing::info!(
        regions = seeded.regions,
        cadres = seeded.cadres,
        posts = seeded.posts,
        reserves = seeded.reserves,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "demo county seeded"
    );
    Ok(seeded)
}
