//! Assessment service (考核): each county's indicator scheme for a year (versioned, with
//! variants per village type), its scoring units (agencies and townships) and the token
//! subjects acting for them, the year's phases, and sheets of scores submitted whole by
//! each unit. It keeps a copy of the roster's villages and secretaries, fed by the
//! roster's change feed, and freezes the county's villages from it when scoring opens;
//! everything else is its own.
#![forbid(unsafe_code)]

pub mod api;
pub mod demo;
pub mod domain;
pub mod error;
pub mod roster_copy;
pub mod store;

use cadre_kit::client::PartClient;
use cadre_kit::db::{Db, Migration};
use cadre_kit::identity::ServiceIdentity;
use cadre_kit::part::{BoxFuture, OpenPart, Part, PartContext, PartError};
use cadre_kit::server::GrpcHost;
use cadre_kit::shutdown::Shutdown;
use cadre_proto::assessment::v1::{
    result_service_server::ResultServiceServer, scheme_service_server::SchemeServiceServer,
    scoring_unit_service_server::ScoringUnitServiceServer, sheet_service_server::SheetServiceServer,
    year_service_server::YearServiceServer,
};

pub use api::AssessmentApi;

cadre_kit::standard_services!(cadre_proto::assessment::v1);

/// Assessment as a part of the suite.
pub struct Assessment;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 2026121501,
        description: "assessment",
        sql: include_str!("../migrations/2026121501_assessment.sql"),
    },
    Migration {
        version: 2026121601,
        description: "assessment results",
        sql: include_str!("../migrations/2026121601_results.sql"),
    },
];

impl Part for Assessment {
    fn name(&self) -> &'static str {
        "assessment"
    }

    fn about(&self) -> &'static str {
        "indicator schemes with variants per village type, scoring units, sheets of scores, lists, results in tiers, public notice, consequences"
    }

    fn package(&self) -> &'static str {
        "cadre.assessment.v1"
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    fn calls(&self) -> &'static [&'static str] {
        &["roster"]
    }

    fn open(&self, context: PartContext) -> BoxFuture<'_, Result<Box<dyn OpenPart>, PartError>> {
        Box::pin(async move {
            let roster = context.clients.of("assessment", "roster")?;
            Ok(Box::new(Opened {
                api: AssessmentApi::new(context.db.clone()),
                roster,
                identity: context.identity,
                db: context.db,
                shutdown: context.shutdown,
            }) as Box<dyn OpenPart>)
        })
    }
}

/// Assessment, open: its API, and what its follower of the roster's feed and its demo
/// seeding (both under its own identity) need.
struct Opened {
    api: AssessmentApi,
    roster: PartClient,
    identity: ServiceIdentity,
    db: Db,
    shutdown: Shutdown,
}

impl Opened {
    fn follower(&self) -> Result<cadre_kit::follow::Follower<roster_copy::RosterCopy>, PartError> {
        roster_copy::follower(self.roster.clone(), self.identity.clone(), self.db.clone()).map_err(|e| {
            PartError::Service { part: "assessment", reason: format!("the roster's follower: {e}") }
        })
    }
}

impl OpenPart for Opened {
    fn register(&self, host: &mut GrpcHost) {
        host.add(SchemeServiceServer::new(self.api.clone()))
            .add(ScoringUnitServiceServer::new(self.api.clone()))
            .add(YearServiceServer::new(self.api.clone()))
            .add(SheetServiceServer::new(self.api.clone()))
            .add(ResultServiceServer::new(self.api.clone()));
        StandardServices(self.api.db().clone()).add_to(host);
    }

    fn seed_demo<'a>(
        &'a self,
        progress: &'a (dyn Fn(usize, usize) + Send + Sync),
    ) -> BoxFuture<'a, Result<Option<String>, PartError>> {
        Box::pin(async move {
            // Opening scoring freezes villages from the copy of the roster: bring it up to date.
            let follower = self.follower()?;
            roster_copy::catch_up(&follower)
                .await
                .map_err(|e| PartError::Service { part: "assessment", reason: format!("demo data: {e}") })?;
            demo::seed(&self.api, &self.identity, progress)
                .await
                .map_err(|e| PartError::Service { part: "assessment", reason: format!("demo data: {e}") })
        })
    }

    /// Follows the roster's feed into assessment's copy until shutdown.
    fn background(&self) -> Vec<BoxFuture<'static, Result<(), PartError>>> {
        let (follower, shutdown) = (self.follower(), self.shutdown.clone());
        vec![Box::pin(async move {
            follower?.run(shutdown).await;
            Ok(())
        })]
    }
}
