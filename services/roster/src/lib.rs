//! Roster service (花名册): regions, cadres, posts within terms, vacancies,
//! one-shoulder villages and structure analytics — the data every other service
//! asks about villages and the people who run them.
#![forbid(unsafe_code)]

pub mod api;
pub mod demo;
pub mod domain;
pub mod error;
pub mod seed;
pub mod store;

use cadre_kit::auth::Authenticator;
use cadre_kit::config::Settings;
use cadre_kit::db::{Db, DbError, Migration};
use cadre_kit::pii::PiiCipher;
use cadre_kit::server::GrpcHost;
use cadre_proto::roster::v1::{
    analytics_service_server::AnalyticsServiceServer, audit_service_server::AuditServiceServer,
    cadre_service_server::CadreServiceServer, change_service_server::ChangeServiceServer,
    post_service_server::PostServiceServer, region_service_server::RegionServiceServer,
};

pub use api::RosterApi;

/// The part's name: database file, gateway upstream, metrics label.
pub const PART: &str = "roster";

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 2026112301,
        description: "roster",
        sql: include_str!("../migrations/2026112301_roster.sql"),
    },
    Migration {
        version: 2026112302,
        description: "reserves_staffing",
        sql: include_str!("../migrations/2026112302_reserves_staffing.sql"),
    },
    Migration {
        version: 2026112303,
        description: "development",
        sql: include_str!("../migrations/2026112303_development.sql"),
    },
    Migration {
        version: 2026120201,
        description: "revocations_team_periods",
        sql: include_str!("../migrations/2026120201_revocations_team_periods.sql"),
    },
];

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("roster database: {0}")]
    Db(#[from] DbError),
    #[error("roster PII keys: {0}")]
    Pii(String),
}

/// Connects to the roster's database (migrating it unless switched off).
pub async fn open(settings: &Settings) -> Result<RosterApi, StartError> {
    let db_settings = &settings.roster.database;
    let db = Db::connect(&db_settings.url_for(&settings.data_dir, PART), db_settings).await?;
    if db_settings.migrate_on_start {
        db.migrate(MIGRATIONS).await?;
    }
    let pii = PiiCipher::from_settings(&settings.pii).map_err(StartError::Pii)?;
    Ok(RosterApi::new(db, pii))
}

/// Runs the migrations only (`cadre migrate`).
pub async fn migrate(settings: &Settings) -> Result<(), StartError> {
    let db_settings = &settings.roster.database;
    let db = Db::connect(&db_settings.url_for(&settings.data_dir, PART), db_settings).await?;
    db.migrate(MIGRATIONS).await?;
    db.close().await;
    Ok(())
}

impl RosterApi {
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Adds the roster's services to a gRPC host, each behind token verification, and
    /// makes their health follow the roster database.
    pub fn add_to(&self, host: &mut GrpcHost, auth: &Authenticator) {
        let check = cadre_kit::auth::interceptor(auth.clone());
        host.add(RegionServiceServer::with_interceptor(self.clone(), check.clone()))
            .add(CadreServiceServer::with_interceptor(self.clone(), check.clone()))
            .add(PostServiceServer::with_interceptor(self.clone(), check.clone()))
            .add(AnalyticsServiceServer::with_interceptor(self.clone(), check.clone()))
            .add(AuditServiceServer::with_interceptor(self.clone(), check.clone()))
            .add(api::transfer::server(self.clone(), check.clone()))
            .add(cadre_proto::roster::v1::reserve_service_server::ReserveServiceServer::with_interceptor(
                self.clone(),
                check.clone(),
            ))
            .add(cadre_proto::roster::v1::staffing_service_server::StaffingServiceServer::with_interceptor(
                self.clone(),
                check.clone(),
            ))
            .add(cadre_proto::roster::v1::mentoring_service_server::MentoringServiceServer::with_interceptor(
                self.clone(),
                check.clone(),
            ))
            .add(cadre_proto::roster::v1::work_team_service_server::WorkTeamServiceServer::with_interceptor(
                self.clone(),
                check.clone(),
            ))
            .add(cadre_proto::roster::v1::exit_service_server::ExitServiceServer::with_interceptor(
                self.clone(),
                check.clone(),
            ))
            .add(cadre_proto::roster::v1::term_service_server::TermServiceServer::with_interceptor(
                self.clone(),
                check.clone(),
            ))
            .add(ChangeServiceServer::with_interceptor(self.clone(), check))
            .depends_on(self.db.clone());
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("authentication: {0}")]
    Auth(#[from] cadre_kit::auth::AuthError),
    #[error(transparent)]
    Server(#[from] cadre_kit::server::ServerError),
}

/// Serves the roster alone on `settings.grpc_addr` (and `/metrics` on
/// `settings.metrics_addr` when set) until `shutdown` is cancelled.
pub async fn serve(settings: &Settings, shutdown: cadre_kit::shutdown::Shutdown) -> Result<(), ServeError> {
    let api = open(settings).await?;
    let auth = Authenticator::from_settings(&settings.auth).await?;
    let metrics = cadre_kit::metrics::Metrics::new();
    let mut host = GrpcHost::new();
    api.add_to(&mut host, &auth);
    let listener = cadre_kit::server::bind(settings.grpc_addr).await?;
    tracing::info!(addr = %settings.grpc_addr, "roster serving gRPC");
    if let Some(addr) = settings.metrics_addr {
        let listener = cadre_kit::server::bind(addr).await?;
        cadre_kit::server::spawn_http(
            listener,
            cadre_kit::metrics::metrics_router(metrics.clone()),
            shutdown.clone(),
        );
    }
    host.serve(listener, metrics, shutdown).await?;
    api.db().close().await;
    Ok(())
}
