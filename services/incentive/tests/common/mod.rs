//! What incentive's tests start from: incentive alone on port 0 (it calls no other
//! part in this slice) over a fresh database, with tokens for a county, one of its
//! townships, the county with `pii`, and the next county; and builders for the rules,
//! pools and awards the scenarios need.
#![allow(dead_code)]

use cadre_kit::Role;
use cadre_kit::testing::{TestDb, TestNode, authorized};
use cadre_proto::incentive::v1 as pb;
use cadre_proto::incentive::v1::award_service_client::AwardServiceClient;
use cadre_proto::incentive::v1::bonus_pool_service_client::BonusPoolServiceClient;
use cadre_proto::incentive::v1::reward_rule_service_client::RewardRuleServiceClient;
use tonic::Request;
use tonic::transport::Channel;

pub const COUNTY: &str = "150525000000";
pub const TOWNSHIP: &str = "150525100000";
pub const VILLAGE: &str = "150525100201";
pub const VILLAGE_2: &str = "150525100202";
pub const NEXT_COUNTY: &str = "150526000000";
pub const NEXT_VILLAGE: &str = "150526100201";
pub const ACCOUNT: &str = "6228480012345678901";

pub struct Suite {
    pub node: TestNode,
    pub channel: Channel,
    pub county: String,
    pub township: String,
    pub county_pii: String,
    pub neighbour: String,
    pub auditor: String,
}

impl Suite {
    pub fn rules(&self) -> RewardRuleServiceClient<Channel> {
        RewardRuleServiceClient::new(self.channel.clone())
    }
    pub fn pools(&self) -> BonusPoolServiceClient<Channel> {
        BonusPoolServiceClient::new(self.channel.clone())
    }
    pub fn awards(&self) -> AwardServiceClient<Channel> {
        AwardServiceClient::new(self.channel.clone())
    }

    pub async fn stop(self) {
        self.node.stop().await;
    }

    /// A county rule: tier 1 → `amount_fen` to the village.
    pub async fn tier_one_rule(&self, amount_fen: i64) -> pb::RewardRule {
        let rule = pb::RewardRule {
            region_code: COUNTY.into(),
            year: 2026,
            name: "考核一等次奖励".into(),
            trigger: pb::Trigger::AssessmentTier as i32,
            tier: 1,
            amount_fen,
            payee: pb::Payee::Village as i32,
            split: pb::Split::None as i32,
            ..Default::default()
        };
        self.rules()
            .create_reward_rule(req(&self.county, pb::CreateRewardRuleRequest { rule: Some(rule) }))
            .await
            .unwrap()
            .into_inner()
    }

    /// A county pool of `budget_fen` for 2026.
    pub async fn pool(&self, budget_fen: i64) -> pb::BonusPool {
        let pool = pb::BonusPool {
            region_code: COUNTY.into(),
            year: 2026,
            name: "2026年度村干部激励奖金池".into(),
            budget_fen,
            ..Default::default()
        };
        self.pools()
            .create_bonus_pool(req(&self.county, pb::CreateBonusPoolRequest { pool: Some(pool) }))
            .await
            .unwrap()
            .into_inner()
    }

    /// An award declared by the township for `village`.
    pub async fn declare(&self, rule: &pb::RewardRule, pool: &pb::BonusPool, village: &str) -> pb::Award {
        self.awards()
            .declare_award(req(&self.township, declaration(rule, pool, village)))
            .await
            .unwrap()
            .into_inner()
    }

    /// Declared and reviewed, ready for approval.
    pub async fn reviewed(&self, rule: &pb::RewardRule, pool: &pb::BonusPool, village: &str) -> pb::Award {
        let a = self.declare(rule, pool, village).await;
        self.awards().review_award(req(&self.county, moved(&a.id))).await.unwrap().into_inner()
    }

    pub async fn reconciliation(&self, pool: &pb::BonusPool) -> pb::Reconciliation {
        self.pools()
            .get_reconciliation(req(&self.county, pb::GetReconciliationRequest { pool_id: pool.id.clone() }))
            .await
            .unwrap()
            .into_inner()
    }
}

pub fn declaration(rule: &pb::RewardRule, pool: &pb::BonusPool, village: &str) -> pb::DeclareAwardRequest {
    pb::DeclareAwardRequest {
        award: Some(pb::Award {
            pool_id: pool.id.clone(),
            rule_id: rule.id.clone(),
            region_code: village.into(),
            payee_name: "白音他拉嘎查村民委员会".into(),
            payee_account: ACCOUNT.into(),
            reason: "2026年度考核一等次".into(),
            ..Default::default()
        }),
    }
}

pub fn moved(id: &str) -> pb::MoveAwardRequest {
    pb::MoveAwardRequest { id: id.into(), ..Default::default() }
}

pub async fn backends() -> Vec<TestDb> {
    TestDb::all(cadre_incentive::MIGRATIONS).await
}

pub async fn start(db: &TestDb) -> Suite {
    let node = TestNode::start(&[(&cadre_incentive::Incentive, db)]).await;
    Suite {
        channel: node.channel.clone(),
        county: node.token_for("county", &[Role::CountyAdmin], COUNTY),
        township: node.token_for("township", &[Role::TownshipAdmin], TOWNSHIP),
        county_pii: node.token_for("county-pii", &[Role::CountyAdmin, Role::Pii], COUNTY),
        neighbour: node.token_for("neighbour", &[Role::CountyAdmin], NEXT_COUNTY),
        auditor: node.token_for("auditor", &[Role::Auditor], COUNTY),
        node,
    }
}

pub fn req<T>(token: &str, message: T) -> Request<T> {
    authorized(token, message)
}

pub fn keyed<T>(token: &str, key: &str, message: T) -> Request<T> {
    let mut r = authorized(token, message);
    r.metadata_mut().insert("idempotency-key", key.parse().unwrap());
    r
}
