//! A part of the suite as the kit runs it (Mimir's modules, Quickwit's services): a
//! service implements [`Part`] once — its name, migrations, the parts it calls, how it
//! opens and which gRPC services it registers — and the kit does the rest the same way
//! for every part: its database (SQLite or PostgreSQL, migrated), PII keys, service
//! identity, clients to the parts it calls, token and permission checks on every call,
//! health, metrics and draining. The registry of parts lives in the `cadre` binary;
//! the kit names no service.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use crate::audit::{self, ChainReport};
use crate::client::{PartClient, Target};
use crate::config::{ConfigError, Settings};
use crate::db::{Db, DbError, Migration};
use crate::identity::ServiceIdentity;
use crate::pii::PiiCipher;
use crate::server::GrpcHost;
use crate::shutdown::Shutdown;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a part could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum PartError {
    #[error("{part}: {source}")]
    Config { part: &'static str, source: Box<ConfigError> },
    #[error("{part} database: {source}")]
    Db { part: &'static str, source: DbError },
    #[error("{part} PII keys: {reason}")]
    Pii { part: &'static str, reason: String },
    #[error("{part} service identity: {source}")]
    Identity { part: &'static str, source: crate::auth::AuthError },
    #[error("{part} calls {target}, which is not a part of the suite")]
    UnknownDependency { part: &'static str, target: &'static str },
    #[error(
        "{part} calls {target}: set {target}.endpoints (http://ip:port,… or dns://name:port), or run both in one process"
    )]
    NoEndpoints { part: &'static str, target: &'static str },
    #[error("{part}'s client of {target}: {source}")]
    Client { part: &'static str, target: &'static str, source: Box<crate::client::ClientError> },
    #[error("{part}: {reason}")]
    Service { part: &'static str, reason: String },
}

/// One part of the suite, implemented once by its service crate.
pub trait Part: Send + Sync + 'static {
    /// `roster`: its configuration section, database file, gateway upstream and the
    /// `cadre serve <name>` argument.
    fn name(&self) -> &'static str;

    /// One line for `cadre --help` and logs.
    fn about(&self) -> &'static str;

    /// The gRPC package it serves (`cadre.roster.v1`): the gateway routes it here.
    fn package(&self) -> &'static str;

    /// Its own migrations, applied after the kit's, in version order.
    fn migrations(&self) -> &'static [Migration];

    /// The parts it calls (through `kit::client`); they must be parts of the suite.
    fn calls(&self) -> &'static [&'static str] {
        &[]
    }

    /// Opens the part over what the kit prepared.
    fn open(&self, context: PartContext) -> BoxFuture<'_, Result<Box<dyn OpenPart>, PartError>>;
}

/// A part that is open: what it serves and the work it does on its own.
pub trait OpenPart: Send + Sync {
    /// Adds its gRPC services (the kit's layer checks token and permission for them all).
    fn register(&self, host: &mut GrpcHost);

    /// Loads demo data into an empty database (`cadre up`, `cadre demo seed`); says what
    /// it loaded, or `None` when there was data already. `progress(done, total)`.
    fn seed_demo<'a>(
        &'a self,
        _progress: &'a (dyn Fn(usize, usize) + Send + Sync),
    ) -> BoxFuture<'a, Result<Option<String>, PartError>> {
        Box::pin(async { Ok(None) })
    }

    /// Work it runs until shutdown beside serving (change-feed followers).
    fn background(&self) -> Vec<BoxFuture<'static, Result<(), PartError>>> {
        Vec::new()
    }
}

/// What the kit prepares for a part before opening it.
pub struct PartContext {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub pii: PiiCipher,
    /// The part's own identity, for calls it makes on its own behalf.
    pub identity: ServiceIdentity,
    /// A client of every part it [`calls`](Part::calls).
    pub clients: Clients,
    pub shutdown: Shutdown,
}

/// The clients of the parts a part calls, by name; the same under `cadre up` (the
/// process's own address) and on Kubernetes (`<part>.endpoints`, a headless Service).
#[derive(Clone, Default)]
pub struct Clients {
    by_part: BTreeMap<&'static str, PartClient>,
}

impl Clients {
    /// The client of `part`; `None` if the part does not declare that it calls it.
    pub fn get(&self, part: &str) -> Option<&PartClient> {
        self.by_part.get(part)
    }

    /// The client of `target` that `part` opens with; the error names both when `part` did
    /// not declare that it calls `target` (the one way every part asks for its clients).
    pub fn of(&self, part: &'static str, target: &'static str) -> Result<PartClient, PartError> {
        self.get(target).cloned().ok_or(PartError::NoEndpoints { part, target })
    }

    /// Clients of `part.calls()`: each target's configured endpoints, else `local` (the
    /// parts running in this process), else an error naming the setting.
    pub fn for_part(
        part: &dyn Part,
        settings: &Settings,
        local: Option<SocketAddr>,
    ) -> Result<Self, PartError> {
        let mut by_part = BTreeMap::new();
        for target in part.calls() {
            let configured = settings.part(target).target().map_err(|e| PartError::Client {
                part: part.name(),
                target,
                source: Box::new(e.into()),
            })?;
            let address = match (configured, local) {
                (Some(t), _) => t,
                (None, Some(addr)) => Target::Static(vec![reachable(addr)]),
                (None, None) => return Err(PartError::NoEndpoints { part: part.name(), target }),
            };
            let client = PartClient::new(target, &address, &settings.client.settings())
                .map_err(|e| PartError::Client { part: part.name(), target, source: Box::new(e) })?;
            by_part.insert(*target, client);
        }
        Ok(Self { by_part })
    }
}

/// The address to call a listener on: a wildcard bind (0.0.0.0, ::) is reached on loopback.
pub fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port()),
        _ => addr,
    }
}

/// A part opened by the kit: its database and what it serves.
pub struct Opened {
    pub name: &'static str,
    pub db: Db,
    pub part: Box<dyn OpenPart>,
}

/// Connects `part`'s database (migrating it unless `database.migrate_on_start` is off).
pub async fn connect(part: &dyn Part, settings: &Settings, migrate: bool) -> Result<Db, PartError> {
    let name = part.name();
    let url =
        settings.database_url(name).map_err(|e| PartError::Config { part: name, source: Box::new(e) })?;
    let db = Db::connect(&url, &settings.part(name).database)
        .await
        .map_err(|source| PartError::Db { part: name, source })?;
    if migrate {
        db.migrate(part.migrations()).await.map_err(|source| PartError::Db { part: name, source })?;
    }
    Ok(db)
}

/// Opens `part` as every part opens: database, keys, identity, clients of the parts it
/// calls (at their configured endpoints, else at `local`, this process's gRPC address),
/// then the part itself.
pub async fn open(
    part: &dyn Part,
    settings: Arc<Settings>,
    shutdown: Shutdown,
    local: Option<SocketAddr>,
) -> Result<Opened, PartError> {
    let name = part.name();
    let migrate = settings.part(name).database.migrate_on_start;
    let db = connect(part, &settings, migrate).await?;
    let pii =
        PiiCipher::from_settings(&settings.pii).map_err(|reason| PartError::Pii { part: name, reason })?;
    let identity = ServiceIdentity::from_settings(&settings.auth, name)
        .map_err(|source| PartError::Identity { part: name, source })?;
    let clients = Clients::for_part(part, &settings, local)?;
    let context = PartContext { settings, db: db.clone(), pii, identity, clients, shutdown };
    let opened = part.open(context).await?;
    Ok(Opened { name, db, part: opened })
}

/// `cadre migrate`: applies the kit's and the part's migrations and closes.
pub async fn migrate(part: &dyn Part, settings: &Settings) -> Result<(), PartError> {
    let db = connect(part, settings, true).await?;
    db.close().await;
    Ok(())
}

/// `cadre audit verify --part <name>`: walks the part's audit chain.
/// The database must exist and hold an audit log: a missing one is an error naming it,
/// never an empty one created and reported intact.
pub async fn verify_audit(part: &dyn Part, settings: &Settings) -> Result<ChainReport, PartError> {
    let name = part.name();
    let url =
        settings.database_url(name).map_err(|e| PartError::Config { part: name, source: Box::new(e) })?;
    let db = Db::connect_existing(&url, &settings.part(name).database)
        .await
        .map_err(|source| PartError::Db { part: name, source })?;
    if let Err(e) = sqlx::query("SELECT sequence FROM kit_audit_log LIMIT 1").fetch_optional(db.pool()).await
    {
        db.close().await;
        return Err(PartError::Service {
            part: name,
            reason: format!("this database has no audit log (not a {name} database, or never migrated): {e}"),
        });
    }
    let report =
        audit::verify(&db).await.map_err(|e| PartError::Service { part: part.name(), reason: e.to_string() });
    db.close().await;
    report
}

/// Checks a registry: names unique, every dependency a part of it.
pub fn check_registry(parts: &[&dyn Part]) -> Result<(), PartError> {
    for (i, part) in parts.iter().enumerate() {
        if parts[..i].iter().any(|p| p.name() == part.name()) {
            return Err(PartError::Service { part: part.name(), reason: "registered twice".into() });
        }
        for target in part.calls() {
            if !parts.iter().any(|p| p.name() == *target) {
                return Err(PartError::UnknownDependency { part: part.name(), target });
            }
        }
    }
    Ok(())
}
