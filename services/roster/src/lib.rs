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

use cadre_kit::db::Migration;
use cadre_kit::part::{BoxFuture, OpenPart, Part, PartContext, PartError};
use cadre_kit::server::GrpcHost;
use cadre_proto::roster::v1::{
    analytics_service_server::AnalyticsServiceServer, cadre_service_server::CadreServiceServer,
    exit_service_server::ExitServiceServer, mentoring_service_server::MentoringServiceServer,
    post_service_server::PostServiceServer, region_service_server::RegionServiceServer,
    reserve_service_server::ReserveServiceServer, staffing_service_server::StaffingServiceServer,
    term_service_server::TermServiceServer, work_team_service_server::WorkTeamServiceServer,
};

pub use api::RosterApi;

cadre_kit::standard_services!(cadre_proto::roster::v1);

/// The roster as a part of the suite.
pub struct Roster;

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

impl Part for Roster {
    fn name(&self) -> &'static str {
        "roster"
    }

    fn about(&self) -> &'static str {
        "regions, cadres, posts, reserves, staffing, mentoring, work teams, exits and structure analytics"
    }

    fn package(&self) -> &'static str {
        "cadre.roster.v1"
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    fn open(&self, context: PartContext) -> BoxFuture<'_, Result<Box<dyn OpenPart>, PartError>> {
        Box::pin(async move { Ok(Box::new(RosterApi::new(context.db, context.pii)) as Box<dyn OpenPart>) })
    }
}

impl OpenPart for RosterApi {
    fn register(&self, host: &mut GrpcHost) {
        host.add(RegionServiceServer::new(self.clone()))
            .add(CadreServiceServer::new(self.clone()))
            .add(PostServiceServer::new(self.clone()))
            .add(AnalyticsServiceServer::new(self.clone()))
            .add(api::transfer::server(self.clone()))
            .add(ReserveServiceServer::new(self.clone()))
            .add(StaffingServiceServer::new(self.clone()))
            .add(MentoringServiceServer::new(self.clone()))
            .add(WorkTeamServiceServer::new(self.clone()))
            .add(ExitServiceServer::new(self.clone()))
            .add(TermServiceServer::new(self.clone()));
        StandardServices(self.db.clone()).add_to(host);
    }

    fn seed_demo<'a>(
        &'a self,
        progress: &'a (dyn Fn(usize, usize) + Send + Sync),
    ) -> BoxFuture<'a, Result<Option<String>, PartError>> {
        Box::pin(async move {
            let failed = |reason: String| PartError::Service { part: "roster", reason };
            if !seed::is_empty(self).await.map_err(|e| failed(e.to_string()))? {
                return Ok(None);
            }
            let started = std::time::Instant::now();
            let seeded = seed::load(self, demo::demo_county(2021), progress)
                .await
                .map_err(|e| failed(format!("demo data: {}", e.message())))?;
            tracing::info!(?seeded, elapsed_ms = started.elapsed().as_millis() as u64, "demo county seeded");
            Ok(Some(format!(
                "the demo county: {} regions, {} cadres, {} posts, {} reserves",
                seeded.regions, seeded.cadres, seeded.posts, seeded.reserves
            )))
        })
    }
}

impl RosterApi {
    pub fn db(&self) -> &cadre_kit::db::Db {
        &self.db
    }
}
