//! Training service (培训): the teacher pool, the course catalogue and each county's
//! menu, training ordered from the menu and delivered on site, and sessions with
//! enrolment, waitlists and sign-in; completion and the hours ledger, feedback,
//! certificates and the coverage report. It asks the roster (through the kit's client, with
//! the caller's rights) who a cadre is at write time, and keeps a copy of the roster's
//! cadres fed by the roster's change feed for enrolment by list; everything else is its own.
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
use cadre_kit::pii::PiiCipher;
use cadre_kit::server::GrpcHost;
use cadre_kit::shutdown::Shutdown;
use cadre_proto::training::v1::{
    catalogue_service_server::CatalogueServiceServer, certificate_service_server::CertificateServiceServer,
    completion_service_server::CompletionServiceServer, enrolment_service_server::EnrolmentServiceServer,
    feedback_service_server::FeedbackServiceServer, forum_service_server::ForumServiceServer,
    order_service_server::OrderServiceServer, programme_service_server::ProgrammeServiceServer,
    session_service_server::SessionServiceServer, sign_in_service_server::SignInServiceServer,
    teacher_service_server::TeacherServiceServer,
};

pub use api::TrainingApi;
use domain::sign_in::CodeKey;

cadre_kit::standard_services!(cadre_proto::training::v1);

/// Training as a part of the suite.
pub struct Training;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 2026120301,
        description: "training",
        sql: include_str!("../migrations/2026120301_training.sql"),
    },
    Migration {
        version: 2026121001,
        description: "training sessions",
        sql: include_str!("../migrations/2026121001_sessions.sql"),
    },
    Migration {
        version: 2026121701,
        description: "training completion, hours, feedback, certificates",
        sql: include_str!("../migrations/2026121701_completion.sql"),
    },
    Migration {
        version: 2026122401,
        description: "training forums and their issues",
        sql: include_str!("../migrations/2026122401_forums.sql"),
    },
    Migration {
        version: 2026122402,
        description: "training programmes",
        sql: include_str!("../migrations/2026122402_programmes.sql"),
    },
];

/// What the key of sign-in codes is derived for, from the kit's key material.
const CODE_KEY_PURPOSE: &str = "training.sign-in-codes";

/// The key sign-in codes are signed with: derived from the configured PII index key
/// (`pii.index_key`), which production refuses to leave at its development value.
pub fn code_key(pii: &PiiCipher) -> CodeKey {
    CodeKey::new(pii.derive_key(CODE_KEY_PURPOSE))
}

impl Part for Training {
    fn name(&self) -> &'static str {
        "training"
    }

    fn about(&self) -> &'static str {
        "the teacher pool, the course catalogue and menus, training ordered from the menu, sessions and sign-in, hours, certificates and coverage"
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
            let roster = context.clients.of("training", "roster")?;
            let api = TrainingApi::new(context.db.clone(), roster.clone(), code_key(&context.pii));
            Ok(Box::new(Opened {
                api,
                roster,
                identity: context.identity,
                db: context.db,
                shutdown: context.shutdown,
            }) as Box<dyn OpenPart>)
        })
    }
}

/// Training, open: its API, and what its follower of the roster's feed and its demo
/// seeding (both under its own identity) need.
struct Opened {
    api: TrainingApi,
    roster: PartClient,
    identity: ServiceIdentity,
    db: Db,
    shutdown: Shutdown,
}

impl Opened {
    fn follower(&self) -> Result<cadre_kit::follow::Follower<roster_copy::RosterCopy>, PartError> {
        roster_copy::follower(self.roster.clone(), self.identity.clone(), self.db.clone()).map_err(|e| {
            PartError::Service { part: "training", reason: format!("the roster's follower: {e}") }
        })
    }
}

impl OpenPart for Opened {
    fn register(&self, host: &mut GrpcHost) {
        host.add(TeacherServiceServer::new(self.api.clone()))
            .add(CatalogueServiceServer::new(self.api.clone()))
            .add(OrderServiceServer::new(self.api.clone()))
            .add(SessionServiceServer::new(self.api.clone()))
            .add(EnrolmentServiceServer::new(self.api.clone()))
            .add(SignInServiceServer::new(self.api.clone()))
            .add(CompletionServiceServer::new(self.api.clone()))
            .add(FeedbackServiceServer::new(self.api.clone()))
            .add(CertificateServiceServer::new(self.api.clone()))
            .add(ForumServiceServer::new(self.api.clone()))
            .add(ProgrammeServiceServer::new(self.api.clone()));
        StandardServices(self.api.db().clone()).add_to(host);
    }

    fn seed_demo<'a>(
        &'a self,
        progress: &'a (dyn Fn(usize, usize) + Send + Sync),
    ) -> BoxFuture<'a, Result<Option<String>, PartError>> {
        Box::pin(async move {
            // The demo enrols by list from the copy of the roster: bring it up to date first.
            let follower = self.follower()?;
            roster_copy::catch_up(&follower)
                .await
                .map_err(|e| PartError::Service { part: "training", reason: format!("demo data: {e}") })?;
            demo::seed(&self.api, &self.identity, progress)
                .await
                .map_err(|e| PartError::Service { part: "training", reason: format!("demo data: {e}") })
        })
    }

    /// Follows the roster's feed into training's copy until shutdown.
    fn background(&self) -> Vec<BoxFuture<'static, Result<(), PartError>>> {
        let (follower, shutdown) = (self.follower(), self.shutdown.clone());
        vec![Box::pin(async move {
            follower?.run(shutdown).await;
            Ok(())
        })]
    }
}
