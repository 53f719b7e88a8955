//! The demo county's incentives (奈曼旗, the roster's demo county), loaded through
//! incentive's own API (the same checks, audit and feed as any caller): this year's
//! 四岗十五级 pay scale, three reward rules (tier 1 → 10,000 yuan to the village; a fixed
//! performance award shared by income among villages over 500,000 yuan; the good
//! secretary), a funded pool, and awards in every state — declared, reviewed, approved,
//! paid (by a confirmation file), rejected, cancelled. Until assessment is in the suite the
//! tier-1 villages are named here, not drawn from final results.

use cadre_kit::call::local_request;
use cadre_kit::{ApiError, Principal, RegionCode, Role, dates};
use cadre_proto::incentive::v1 as pb;
use cadre_proto::incentive::v1::award_service_server::{AwardService, AwardServiceServer};
use cadre_proto::incentive::v1::bonus_pool_service_server::{BonusPoolService, BonusPoolServiceServer};
use cadre_proto::incentive::v1::pay_scale_service_server::{PayScaleService, PayScaleServiceServer};
use cadre_proto::incentive::v1::reward_rule_service_server::{RewardRuleService, RewardRuleServiceServer};
use chrono::Datelike;
use tonic::server::NamedService;
use tonic::{Request, Status};

use crate::IncentiveApi;
use crate::store;

/// The county the roster's demo seeds (奈曼旗) and its first township (大沁他拉镇).
pub const DEMO_COUNTY: &str = "150525000000";
pub const DEMO_TOWNSHIP: &str = "150525100000";

fn who(subject: &str, role: Role, region: &str) -> Result<Principal, ApiError> {
    Ok(Principal {
        subject: subject.into(),
        roles: [role].into(),
        jurisdiction: RegionCode::parse(region).map_err(ApiError::internal)?,
    })
}

/// A request to `S`'s `method` made in process, admitted as the kit admits network calls.
fn call<S: NamedService, T>(who: &Principal, method: &str, message: T) -> Result<Request<T>, Status> {
    Ok(local_request(who, &format!("/{}/{method}", S::NAME), message)?)
}

type Awards = AwardServiceServer<IncentiveApi>;

/// A demo bank account, 19 digits, distinct per `n`.
fn account(n: usize) -> String {
    format!("62284800{:011}", 10_000_000 + n * 7919)
}

/// Seeds the demo county if incentive holds no pool yet; says what it loaded.
pub async fn seed(
    api: &IncentiveApi,
    progress: &(dyn Fn(usize, usize) + Send + Sync),
) -> Result<Option<String>, Status> {
    if !store::pools::list(api.db(), "", 0, "", 1).await?.is_empty() {
        return Ok(None);
    }
    let county = who("system:demo-seed", Role::CountyAdmin, DEMO_COUNTY)?;
    let township = who("system:demo-seed-township", Role::TownshipAdmin, DEMO_TOWNSHIP)?;
    let year = dates::today().year();
    let total = 12;
    let mut done = 0;
    let mut step = || {
        done += 1;
        progress(done, total);
    };

    // 四岗十五级: post class 1 (书记、主任) from 3,000 yuan a month, each level 100 yuan more,
    // each class below 500 yuan less.
    let classes = ["一岗：书记、主任", "二岗：副书记、副主任", "三岗：委员", "四岗：专干"]
        .iter()
        .enumerate()
        .map(|(c, name)| pb::PostClassPay {
            name: name.to_string(),
            base_pay_fen: (0..15).map(|l| 300_000 - c as i64 * 50_000 + l * 10_000).collect(),
        })
        .collect();
    let scale = pb::PayScale { region_code: DEMO_COUNTY.into(), year, level_count: 15, classes, revision: 0 };
    api.put_pay_scale(call::<PayScaleServiceServer<IncentiveApi>, _>(
        &county,
        "PutPayScale",
        pb::PutPayScaleRequest { scale: Some(scale) },
    )?)
    .await?;
    step();

    let rule = |name: &str, trigger: pb::Trigger, amount_fen: i64, payee: pb::Payee, split: pb::Split| {
        pb::RewardRule {
            region_code: DEMO_COUNTY.into(),
            year,
            name: name.into(),
            trigger: trigger as i32,
            amount_fen,
            payee: payee as i32,
            split: split as i32,
            ..Default::default()
        }
    };
    let mut tier_one =
        rule("考核一等次村奖励", pb::Trigger::AssessmentTier, 1_000_000, pb::Payee::Village, pb::Split::None);
    tier_one.tier = 1;
    let mut income = rule(
        "村集体经营性收入50万元以上绩效奖励",
        pb::Trigger::CollectiveIncome,
        30_000_000,
        pb::Payee::Village,
        pb::Split::ByIncome,
    );
    income.income_threshold_fen = 50_000_000;
    let mut good = rule(
        "好支书奖励",
        pb::Trigger::NamedHonour,
        1_000_000,
        pb::Payee::OrganisationIfOnPayrollElsePerson,
        pb::Split::None,
    );
    good.honour = "好支书".into();
    let mut rules = Vec::new();
    for r in [tier_one, income, good] {
        let created = api
            .create_reward_rule(call::<RewardRuleServiceServer<IncentiveApi>, _>(
                &county,
                "CreateRewardRule",
                pb::CreateRewardRuleRequest { rule: Some(r) },
            )?)
            .await?
            .into_inner();
        rules.push(created);
        step();
    }

    // The county's pool: 500,000 yuan for the year.
    let pool = pb::BonusPool {
        region_code: DEMO_COUNTY.into(),
        year,
        name: format!("{year}年度村干部激励奖金池"),
        budget_fen: 50_000_000,
        ..Default::default()
    };
    let pool = api
        .create_bonus_pool(call::<BonusPoolServiceServer<IncentiveApi>, _>(
            &county,
            "CreateBonusPool",
            pb::CreateBonusPoolRequest { pool: Some(pool) },
        )?)
        .await?
        .into_inner();
    step();

    // Tier 1 for eight of 大沁他拉镇's villages, declared by the township.
    let mut ids = Vec::new();
    for i in 0..8 {
        let award = pb::Award {
            pool_id: pool.id.clone(),
            rule_id: rules[0].id.clone(),
            region_code: format!("{}{:03}", &DEMO_TOWNSHIP[..9], 201 + i),
            payee_name: format!("大沁他拉镇第{}村村民委员会", i + 1),
            payee_account: account(i),
            reason: format!("{year}年度考核一等次"),
            ..Default::default()
        };
        let declared = api
            .declare_award(call::<Awards, _>(
                &township,
                "DeclareAward",
                pb::DeclareAwardRequest { award: Some(award) },
            )?)
            .await?
            .into_inner();
        ids.push(declared.id);
    }
    step();
    // The good secretary of the ninth village, not on a payroll: paid in person.
    let secretary = pb::Award {
        pool_id: pool.id.clone(),
        rule_id: rules[2].id.clone(),
        region_code: format!("{}209", &DEMO_TOWNSHIP[..9]),
        payee_name: "巴特尔".into(),
        payee_account: account(99),
        cadre_id: "demo-good-secretary".into(),
        reason: format!("{year}年度“好支书”"),
        ..Default::default()
    };
    api.declare_award(call::<Awards, _>(
        &township,
        "DeclareAward",
        pb::DeclareAwardRequest { award: Some(secretary) },
    )?)
    .await?;
    // The performance award shared by income among three villages of 八仙筒镇.
    let villages = [(70_000_000, 1), (55_000_000, 2), (120_000_000, 3)]
        .into_iter()
        .map(|(income_fen, i)| pb::SharedAwardVillage {
            region_code: format!("150525101{:03}", 200 + i),
            income_fen,
            payee_name: format!("八仙筒镇第{i}村村民委员会"),
            payee_account: account(200 + i),
        })
        .collect();
    let county_declares = pb::DeclareSharedAwardsRequest {
        rule_id: rules[1].id.clone(),
        pool_id: pool.id.clone(),
        villages,
        reason: format!("{year}年度村集体经济绩效奖励"),
    };
    api.declare_shared_awards(call::<Awards, _>(&county, "DeclareSharedAwards", county_declares)?).await?;
    step();

    // Moves: ids[0..6] reviewed, [1..6] approved, [2] paid, [3] cancelled after approval,
    // [6] rejected, [7] left declared.
    let moved = |id: &str, note: &str| pb::MoveAwardRequest { id: id.into(), revision: 0, note: note.into() };
    for id in &ids[0..6] {
        api.review_award(call::<Awards, _>(&county, "ReviewAward", moved(id, ""))?).await?;
    }
    step();
    for id in &ids[1..6] {
        api.approve_award(call::<Awards, _>(&county, "ApproveAward", moved(id, ""))?).await?;
    }
    step();
    api.cancel_award(call::<Awards, _>(
        &county,
        "CancelAward",
        moved(&ids[3], "村党组织书记调整，改年度另行申报"),
    )?)
    .await?;
    api.reject_award(call::<Awards, _>(&county, "RejectAward", moved(&ids[6], "佐证材料不全"))?).await?;
    step();
    let file = format!(
        "award_id,amount_yuan,paid_on,payment_reference\n{},10000.00,{},NMQ-CZ-{year}-0001\n",
        ids[2],
        dates::today().format("%Y-%m-%d")
    );
    let uploaded = api
        .upload_payment_confirmations(call::<Awards, _>(
            &county,
            "UploadPaymentConfirmations",
            pb::UploadPaymentConfirmationsRequest { pool_id: pool.id.clone(), content: file.into_bytes() },
        )?)
        .await?
        .into_inner();
    if uploaded.paid_count != 1 {
        return Err(ApiError::internal(format!(
            "the demo's confirmation was refused: {:?}",
            uploaded.errors
        ))
        .into());
    }
    step();
    let books = api
        .get_reconciliation(call::<BonusPoolServiceServer<IncentiveApi>, _>(
            &county,
            "GetReconciliation",
            pb::GetReconciliationRequest { pool_id: pool.id.clone() },
        )?)
        .await?
        .into_inner();
    step();
    Ok(Some(format!(
        "the {year} pay scale (4 × 15), 3 reward rules, a pool of {} yuan ({} available, {} payable, {} paid; balanced: {}), 12 awards in every state",
        crate::domain::money::yuan(books.budget_fen),
        crate::domain::money::yuan(books.available_fen),
        crate::domain::money::yuan(books.payable_fen),
        crate::domain::money::yuan(books.paid_fen),
        books.balanced
    )))
}
