//! Pay scales (四岗十五级) and reward rules as data per region and year: whole grids,
//! a cadre's base pay from the nearest scale above the village, rules with their
//! triggers and payees, and a shared award split to the fen.

mod common;

use cadre_kit::Role;
use cadre_kit::testing::permissions;
use cadre_proto::incentive::v1 as pb;
use cadre_proto::incentive::v1::pay_scale_service_client::PayScaleServiceClient;
use common::*;
use tonic::Code;

fn four_by_fifteen(region: &str) -> pb::PayScale {
    pb::PayScale {
        region_code: region.into(),
        year: 2026,
        level_count: 15,
        classes: ["一岗：书记、主任", "二岗：副书记、副主任", "三岗：委员", "四岗：专干"]
            .iter()
            .enumerate()
            .map(|(c, name)| pb::PostClassPay {
                name: name.to_string(),
                base_pay_fen: (0..15).map(|l| 300_000 - c as i64 * 50_000 + l * 10_000).collect(),
            })
            .collect(),
        revision: 0,
    }
}

#[tokio::test]
async fn a_secretarys_base_pay_comes_from_the_countys_four_by_fifteen_scale() {
    for db in backends().await {
        let s = start(&db).await;
        let mut scales = PayScaleServiceClient::new(s.channel.clone());
        let put = |scale: pb::PayScale| pb::PutPayScaleRequest { scale: Some(scale) };
        let saved =
            scales.put_pay_scale(req(&s.county, put(four_by_fifteen(COUNTY)))).await.unwrap().into_inner();
        assert_eq!((saved.revision, saved.classes.len()), (1, 4));

        // The township reads its village's pay from the county's scale.
        let pay = scales
            .get_base_pay(req(
                &s.township,
                pb::GetBasePayRequest { region_code: VILLAGE.into(), year: 2026, post_class: 1, level: 15 },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((pay.scale_region_code.as_str(), pay.base_pay_fen), (COUNTY, 440_000));
        assert_eq!(pay.post_class_name, "一岗：书记、主任");
        let err = scales
            .get_base_pay(req(
                &s.township,
                pb::GetBasePayRequest { region_code: VILLAGE.into(), year: 2026, post_class: 5, level: 1 },
            ))
            .await
            .unwrap_err();
        assert!(err.message().starts_with("post_class:"), "{err:?}");

        // A replacement must send the revision it read; a stale one is refused.
        let mut next = four_by_fifteen(COUNTY);
        next.revision = 1;
        next.classes[0].base_pay_fen[14] = 450_000;
        assert_eq!(
            scales.put_pay_scale(req(&s.county, put(next.clone()))).await.unwrap().into_inner().revision,
            2
        );
        let err = scales.put_pay_scale(req(&s.county, put(next))).await.unwrap_err();
        assert_eq!(err.code(), Code::Aborted, "{err:?}");

        // A missing cell, a negative one: refused naming the cell.
        let mut holey = four_by_fifteen(COUNTY);
        holey.classes[2].base_pay_fen.pop();
        let err = scales.put_pay_scale(req(&s.county, put(holey))).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(err.message().starts_with("scale.classes[2].base_pay_fen:"), "{err:?}");
        let mut negative = four_by_fifteen(COUNTY);
        negative.classes[1].base_pay_fen[3] = -1;
        let err = scales.put_pay_scale(req(&s.county, put(negative))).await.unwrap_err();
        assert!(err.message().starts_with("scale.classes[1].base_pay_fen[3]:"), "{err:?}");

        // Next door neither writes here nor reads our scale.
        let err = scales.put_pay_scale(req(&s.neighbour, put(four_by_fifteen(COUNTY)))).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
        let err = scales
            .get_pay_scale(req(
                &s.neighbour,
                pb::GetPayScaleRequest { region_code: COUNTY.into(), year: 2026 },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound);
        s.stop().await;
    }
}

#[tokio::test]
async fn rules_name_trigger_amount_and_payee_and_refuse_nonsense_naming_the_field() {
    for db in backends().await {
        let s = start(&db).await;
        let rule = s.tier_one_rule(1_000_000).await;
        assert_eq!(rule.payee, pb::Payee::Village as i32);

        let mut rules = s.rules();
        let bad = |f: fn(&mut pb::RewardRule)| {
            let mut r = rule.clone();
            r.id.clear();
            f(&mut r);
            pb::CreateRewardRuleRequest { rule: Some(r) }
        };
        for (request, field) in [
            (bad(|r| r.trigger = 42), "rule.trigger:"),
            (bad(|r| r.amount_fen = -100), "rule.amount_fen:"),
            (bad(|r| r.amount_fen = 0), "rule.amount_fen:"),
            (bad(|r| r.payee = 0), "rule.payee:"),
            (bad(|r| r.tier = 7), "rule.tier:"),
            (bad(|r| r.name = "奖".repeat(101)), "rule.name:"),
            (bad(|r| r.region_code = VILLAGE.into()), "rule.region_code:"),
        ] {
            let err = rules.create_reward_rule(req(&s.county, request)).await.unwrap_err();
            assert_eq!(err.code(), Code::InvalidArgument, "{field} {err:?}");
            assert!(err.message().starts_with(field), "{field} {err:?}");
        }

        // The township sees the county's rules; next door does not.
        let listed = rules
            .list_reward_rules(req(
                &s.township,
                pb::ListRewardRulesRequest { year: 2026, ..Default::default() },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(listed.rules.len(), 1);
        let err = rules
            .get_reward_rule(req(&s.neighbour, pb::GetRewardRuleRequest { id: rule.id.clone() }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound);
        s.stop().await;
    }
}

#[tokio::test]
async fn seventy_two_villages_share_1_48_million_yuan_exactly() {
    for db in backends().await {
        let s = start(&db).await;
        let rule = pb::RewardRule {
            region_code: COUNTY.into(),
            year: 2026,
            name: "村集体经营性收入50万元以上绩效奖励".into(),
            trigger: pb::Trigger::CollectiveIncome as i32,
            income_threshold_fen: 50_000_000,
            amount_fen: 148_000_000,
            payee: pb::Payee::Village as i32,
            split: pb::Split::Equal as i32,
            ..Default::default()
        };
        let rule = s
            .rules()
            .create_reward_rule(req(&s.county, pb::CreateRewardRuleRequest { rule: Some(rule) }))
            .await
            .unwrap()
            .into_inner();
        // Rows in reverse code order: the odd fen still go to the lowest codes.
        let qualifiers: Vec<pb::Qualifier> = (1..=72)
            .rev()
            .map(|i| pb::Qualifier { region_code: format!("150525100{i:03}"), income_fen: 60_000_000 })
            .collect();
        let preview = s
            .rules()
            .preview_share(req(&s.county, pb::PreviewShareRequest { rule_id: rule.id.clone(), qualifiers }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(preview.total_fen, 148_000_000);
        let first = preview.parts.iter().find(|p| p.region_code == "150525100001").unwrap();
        let last = preview.parts.iter().find(|p| p.region_code == "150525100072").unwrap();
        assert_eq!((first.amount_fen, last.amount_fen), (2_055_556, 2_055_555));

        // Declared together against a pool: one award per village, adding up exactly.
        let pool = s.pool(200_000_000).await;
        let villages = (1..=3)
            .map(|i| pb::SharedAwardVillage {
                region_code: format!("150525100{i:03}"),
                income_fen: 60_000_000,
                payee_name: format!("第{i}村村民委员会"),
                payee_account: ACCOUNT.into(),
            })
            .collect();
        let declared = s
            .awards()
            .declare_shared_awards(req(
                &s.township,
                pb::DeclareSharedAwardsRequest {
                    rule_id: rule.id.clone(),
                    pool_id: pool.id.clone(),
                    villages,
                    reason: String::new(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        let amounts: Vec<i64> = declared.awards.iter().map(|a| a.amount_fen).collect();
        assert_eq!(amounts, [49_333_334, 49_333_333, 49_333_333]);
        // A village below the threshold is refused naming it.
        let err = s
            .rules()
            .preview_share(req(
                &s.county,
                pb::PreviewShareRequest {
                    rule_id: rule.id.clone(),
                    qualifiers: vec![pb::Qualifier { region_code: VILLAGE.into(), income_fen: 1 }],
                },
            ))
            .await
            .unwrap_err();
        assert!(err.message().starts_with("qualifiers[0].income_fen:"), "{err:?}");
        s.stop().await;
    }
}

#[tokio::test]
async fn every_rpc_declares_its_permission_and_the_kit_enforces_it() {
    let db = cadre_kit::testing::TestDb::sqlite(cadre_incentive::MIGRATIONS).await;
    let s = start(&db).await;
    permissions::refuse_tokens_that_grant_nothing(&s.channel, "cadre.incentive.", COUNTY).await;
    let callers: Vec<(Role, String)> = [
        (Role::CountyAdmin, COUNTY),
        (Role::TownshipAdmin, TOWNSHIP),
        (Role::ScoringUnit, COUNTY),
        (Role::Auditor, COUNTY),
    ]
    .into_iter()
    .map(|(role, region)| (role, s.node.token(&[role], region)))
    .collect();
    permissions::grant_what_the_table_says(&s.channel, "cadre.incentive.", &callers).await;
    s.stop().await;
}
