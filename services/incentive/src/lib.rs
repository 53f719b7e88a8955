//! Incentive service (激励): pay scales per region and year, reward rules, bonus pools
//! (奖金池) with a double-entry ledger, and awards declared → reviewed → approved → paid,
//! with the payment list for the finance system and its confirmations. Money is integer
//! fen. This slice calls no other part: awards from assessment's feed follow.
#![forbid(unsafe_code)]

pub mod api;
pub mod demo;
pub mod domain;
pub mod error;
pub mod store;

use cadre_kit::db::{Db, Migration};
use cadre_kit::part::{BoxFuture, OpenPart, Part, PartContext, PartError};
use cadre_kit::server::GrpcHost;
use cadre_proto::incentive::v1::{
    award_service_server::AwardServiceServer, bonus_pool_service_server::BonusPoolServiceServer,
    pay_scale_service_server::PayScaleServiceServer, reward_rule_service_server::RewardRuleServiceServer,
};

pub use api::IncentiveApi;

cadre_kit::standard_services!(cadre_proto::incentive::v1);

/// Incentive as a part of the suite.
pub struct Incentive;

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 2026120201,
    description: "incentive",
    sql: include_str!("../migrations/2026120201_incentive.sql"),
}];

impl Part for Incentive {
    fn name(&self) -> &'static str {
        "incentive"
    }

    fn about(&self) -> &'static str {
        "pay scales, reward rules, bonus pools with their ledger, awards declared to paid"
    }

    fn package(&self) -> &'static str {
        "cadre.incentive.v1"
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    fn open(&self, context: PartContext) -> BoxFuture<'_, Result<Box<dyn OpenPart>, PartError>> {
        Box::pin(async move {
            let api = IncentiveApi::new(context.db.clone(), context.pii.clone());
            Ok(Box::new(Opened { api, db: context.db }) as Box<dyn OpenPart>)
        })
    }
}

/// Incentive, open: its API and its database.
struct Opened {
    api: IncentiveApi,
    db: Db,
}

impl OpenPart for Opened {
    fn register(&self, host: &mut GrpcHost) {
        host.add(PayScaleServiceServer::new(self.api.clone()))
            .add(RewardRuleServiceServer::new(self.api.clone()))
            .add(BonusPoolServiceServer::new(self.api.clone()))
            .add(AwardServiceServer::new(self.api.clone()));
        StandardServices(self.db.clone()).add_to(host);
    }

    fn seed_demo<'a>(
        &'a self,
        progress: &'a (dyn Fn(usize, usize) + Send + Sync),
    ) -> BoxFuture<'a, Result<Option<String>, PartError>> {
        Box::pin(async move {
            demo::seed(&self.api, progress)
                .await
                .map_err(|e| PartError::Service { part: "incentive", reason: format!("demo data: {e}") })
        })
    }
}
