//! Training service (培训): the teacher pool, the course catalogue and each county's
//! menu, and training ordered from the menu and delivered on site. It asks the roster
//! (through the kit's client, with the caller's rights) who a cadre teacher is and
//! whether an ordering village exists; everything else is its own.
#![forbid(unsafe_code)]

pub mod api;
pub mod demo;
pub mod domain;
pub mod error;
pub mod store;

use cadre_kit::db::Migration;
use cadre_kit::part::{BoxFuture, OpenPart, Part, PartContext, PartError};
use cadre_kit::server::GrpcHost;
use cadre_proto::training::v1::{
    catalogue_service_server::CatalogueServiceServer, order_service_server::OrderServiceServer,
    teacher_service_server::TeacherServiceServer,
};

pub use api::TrainingApi;

cadre_kit::standard_services!(cadre_proto::training::v1);

/// Training as a part of the suite.
pub struct Training;

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 2026120301,
    description: "training",
    sql: include_str!("../migrations/2026120301_training.sql"),
}];

impl Part for Training {
    fn name(&self) -> &'static str {
        "training"
    }

    fn about(&self) -> &'static str {
        "the teacher pool, the course catalogue and menus, training ordered from the menu"
    }

    fn package(&self) -> &'static str {
        "cadre.training.v1"
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    fn calls(&self) -> &'static [&'static str] {
        &["roster"]
    }

    fn open(&self, context: PartContext) -> BoxFuture<'_, Result<Box<dyn OpenPart>, PartError>> {
        Box::pin(async move {
            let roster = context
                .clients
                .get("roster")
                .cloned()
                .ok_or(PartError::NoEndpoints { part: "training", target: "roster" })?;
            let api = TrainingApi::new(context.db, roster);
            Ok(Box::new(Opened { api, identity: context.identity }) as Box<dyn OpenPart>)
        })
    }
}

/// Training, open: its API, and its own identity for the demo seeding's calls to roster.
struct Opened {
    api: TrainingApi,
    identity: cadre_kit::identity::ServiceIdentity,
}

impl OpenPart for Opened {
    fn register(&self, host: &mut GrpcHost) {
        host.add(TeacherServiceServer::new(self.api.clone()))
            .add(CatalogueServiceServer::new(self.api.clone()))
            .add(OrderServiceServer::new(self.api.clone()));
        StandardServices(self.api.db().clone()).add_to(host);
    }

    fn seed_demo<'a>(
        &'a self,
        progress: &'a (dyn Fn(usize, usize) + Send + Sync),
    ) -> BoxFuture<'a, Result<Option<String>, PartError>> {
        Box::pin(async move {
            demo::seed(&self.api, &self.identity, progress)
                .await
                .map_err(|e| PartError::Service { part: "training", reason: format!("demo data: {e}") })
        })
    }
}
