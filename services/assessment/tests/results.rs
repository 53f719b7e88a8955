//! Results on both backends: last year final, this year's lists, compute (tiers by quota,
//! each result explaining itself), public notice with an objection a township raises and
//! the county upholds (a tier changes), final refused while it is open, consequences
//! published (a reward, the rectification list, a dismissal recommendation because of last
//! year too), a later correction as a new revision in the feed.

mod common;

use cadre_proto::assessment::v1 as pb;
use cadre_proto::assessment::v1::change_service_client::ChangeServiceClient;
use cadre_proto::assessment::v1::result_service_client::ResultServiceClient;
use cadre_proto::changes::v1::ListChangesRequest;
use common::*;
use tonic::Code;

const RULES: &str = r#"{
  "lists": [{"code": "DONT", "name": "十不准", "kind": "negative", "cap": 100,
             "items": [{"code": "N1", "name": "违规用地", "points": 5}]}],
  "results": {"tiers": {"by": "quota", "scope": "county", "percent": [34, 33, 0]},
              "tie_breakers": ["higher_indicator_total", "fewer_negative_events"]},
  "consequences": [{"kind": "reward", "when": "tier", "tier": 1},
                   {"kind": "rectification", "when": "tier", "tier": 4},
                   {"kind": "dismissal_recommended", "subject": "secretary", "when": "tier_two_years", "tier": 4}]
}"#;

fn results(s: &Suite) -> ResultServiceClient<tonic::transport::Channel> {
    ResultServiceClient::new(s.channel.clone())
}

fn year_req(year: i32) -> pb::MoveYearRequest {
    pb::MoveYearRequest { county_code: COUNTY.into(), year }
}

async fn put_rules(s: &Suite, year: i32) {
    let rules = pb::YearRules { county_code: COUNTY.into(), year, rules_json: RULES.into(), revision: 0 };
    results(s).put_year_rules(req(&s.county, pb::PutYearRulesRequest { rules: Some(rules) })).await.unwrap();
}

async fn tiers(s: &Suite, year: i32) -> Vec<(String, i32, i64)> {
    let request = pb::ListResultsRequest { county_code: COUNTY.into(), year, ..Default::default() };
    let r = results(s).list_results(req(&s.county, request)).await.unwrap().into_inner();
    r.results.into_iter().map(|r| (r.village_code, r.tier, r.total)).collect()
}

fn t(v: &str, tier: i32, total: i64) -> (String, i32, i64) {
    (v.to_string(), tier, total)
}

async fn notice(s: &Suite, year: i32) {
    let today = chrono::Utc::now().date_naive();
    let request = pb::OpenNoticeRequest {
        county_code: COUNTY.into(),
        year,
        starts_on: (today - chrono::Days::new(1)).format("%Y-%m-%d").to_string(),
        ends_on: (today + chrono::Days::new(6)).format("%Y-%m-%d").to_string(),
    };
    let y = results(s).open_notice(req(&s.county, request)).await.unwrap().into_inner();
    assert_eq!(y.phase, pb::Phase::Notice as i32);
}

async fn consequences(s: &Suite, year: i32) -> Vec<pb::Consequence> {
    let request = pb::ListConsequencesRequest { county_code: COUNTY.into(), year, ..Default::default() };
    results(s).list_consequences(req(&s.county, request)).await.unwrap().into_inner().consequences
}

#[tokio::test]
async fn a_year_is_computed_noticed_objected_to_finalised_and_corrected() {
    for db in backends().await {
        let s = start(&db).await;
        let units = s.units_of_county().await;
        let (agency, dqtl, bxt) = (s.unit_token("nmj"), s.unit_token("dqtl"), s.unit_token("bxt"));

        // Last year, final: the key-assistance village in tier 4.
        let last = s.scheme(&units, 2025).await;
        s.open(2025).await;
        s.submit(
            &agency,
            &units.agency,
            2025,
            &[(ORDINARY, "A01", 55), (DEMONSTRATION, "A01", 92), (KEY_ASSISTANCE, "A01", 30)],
        )
        .await
        .unwrap();
        s.submit(&dqtl, &units.township, 2025, &[(ORDINARY, "A02", 35)]).await.unwrap();
        s.submit(&bxt, &units.township_2, 2025, &[(KEY_ASSISTANCE, "A02", 20)]).await.unwrap();
        s.years().close_scoring(req(&s.county, year_req(2025))).await.unwrap();
        // Computing needs the rules that say how.
        let err = results(&s).compute_results(req(&s.county, year_req(2025))).await.unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
        assert!(err.message().contains("no result rules"), "{err:?}");
        put_rules(&s, 2025).await;
        results(&s).compute_results(req(&s.county, year_req(2025))).await.unwrap();
        assert_eq!(
            tiers(&s, 2025).await,
            [t(ORDINARY, 2, 90), t(DEMONSTRATION, 1, 92), t(KEY_ASSISTANCE, 4, 50)]
        );
        notice(&s, 2025).await;
        results(&s).finalize_results(req(&s.county, year_req(2025))).await.unwrap();

        // This year: copied scheme, scores, a negative-list event.
        let copy = pb::CopySchemeRequest { from_id: last.id.clone(), year: 2026 };
        s.schemes().copy_scheme(req(&s.county, copy)).await.unwrap();
        s.open(2026).await;
        s.submit(
            &agency,
            &units.agency,
            2026,
            &[(ORDINARY, "A01", 50), (DEMONSTRATION, "A01", 85), (KEY_ASSISTANCE, "A01", 40)],
        )
        .await
        .unwrap();
        s.submit(&dqtl, &units.township, 2026, &[(ORDINARY, "A02", 30)]).await.unwrap();
        s.submit(&bxt, &units.township_2, 2026, &[(KEY_ASSISTANCE, "A02", 30)]).await.unwrap();
        put_rules(&s, 2026).await;
        let event = |village: &str, item: &str, token: &str| {
            let e = pb::ListEvent {
                county_code: COUNTY.into(),
                year: 2026,
                village_code: village.into(),
                list_code: "DONT".into(),
                item_code: item.into(),
                evidence: "县纪委通报 2026-3 号".into(),
                ..Default::default()
            };
            let mut c = results(&s);
            let token = token.to_string();
            async move { c.record_list_event(req(&token, pb::RecordListEventRequest { event: Some(e) })).await }
        };
        let e = event(KEY_ASSISTANCE, "N1", &s.county).await.unwrap().into_inner();
        assert_eq!(e.points, -5);
        let err = event(KEY_ASSISTANCE, "N9", &s.county).await.unwrap_err();
        assert!(err.message().starts_with("event.item_code"), "{err:?}");
        let err = event(KEY_ASSISTANCE, "N1", &s.neighbour).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
        let err = event(KEY_ASSISTANCE, "N1", &s.township_admin).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "another township's village");
        s.years().close_scoring(req(&s.county, year_req(2026))).await.unwrap();
        let y = results(&s).compute_results(req(&s.county, year_req(2026))).await.unwrap().into_inner();
        assert_eq!(y.phase, pb::Phase::Computed as i32);
        assert_eq!(
            tiers(&s, 2026).await,
            [t(ORDINARY, 2, 80), t(DEMONSTRATION, 1, 85), t(KEY_ASSISTANCE, 4, 65)]
        );
        // Computing twice is refused naming the phase; list events are closed.
        let err = results(&s).compute_results(req(&s.county, year_req(2026))).await.unwrap_err();
        assert!(err.message().contains("COMPUTED"), "{err:?}");
        assert!(event(KEY_ASSISTANCE, "N1", &s.county).await.unwrap_err().message().contains("COMPUTED"));

        // Every result explains itself.
        let get = pb::GetResultRequest {
            county_code: COUNTY.into(),
            year: 2026,
            village_code: KEY_ASSISTANCE.into(),
        };
        let key = results(&s).get_result(req(&s.county, get.clone())).await.unwrap().into_inner();
        let parts: Vec<(&str, i64)> = key.parts.iter().map(|p| (p.name.as_str(), p.points)).collect();
        assert_eq!(parts, [("indicators", 70), ("list:DONT", -5)]);
        assert!(key.tier_rule.starts_with("tier 4: rank 3 of 3 in the county"), "{}", key.tier_rule);
        assert_eq!((key.secretary_name.as_str(), key.revision, key.reason.as_str()), ("李强", 1, "computed"));

        // Public notice: the township objects for its village; next door may not.
        notice(&s, 2026).await;
        let objection = |token: &str| {
            let o = pb::Objection {
                county_code: COUNTY.into(),
                year: 2026,
                village_code: ORDINARY.into(),
                reason: "A02 漏计了第四季度的集体经济收入".into(),
                ..Default::default()
            };
            let mut c = results(&s);
            let token = token.to_string();
            async move { c.raise_objection(req(&token, pb::RaiseObjectionRequest { objection: Some(o) })).await }
        };
        assert_eq!(objection(&s.neighbour).await.unwrap_err().code(), Code::PermissionDenied);
        let o = objection(&s.township_admin).await.unwrap().into_inner();
        assert_eq!(o.state, pb::ObjectionState::Open as i32);
        let err = results(&s).finalize_results(req(&s.county, year_req(2026))).await.unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition);
        assert!(err.message().contains("1 open objection"), "{err:?}");
        // The township cannot resolve its own objection; the county upholds it.
        let resolve = pb::ResolveObjectionRequest {
            id: o.id.clone(),
            state: pb::ObjectionState::Upheld as i32,
            answer: "核实无误，予以更正".into(),
            score_changes: vec![
                pb::ScoreChange { indicator_code: "A02".into(), points: 40 },
                pb::ScoreChange { indicator_code: "A01".into(), points: 60 },
            ],
        };
        let err = results(&s).resolve_objection(req(&s.township_admin, resolve.clone())).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
        let mut too_much = resolve.clone();
        too_much.score_changes[0].points = 41;
        let err = results(&s).resolve_objection(req(&s.county, too_much)).await.unwrap_err();
        assert!(err.message().starts_with("score_changes[0].points"), "{err:?}");
        let resolved = results(&s).resolve_objection(req(&s.county, resolve)).await.unwrap().into_inner();
        assert_eq!(resolved.state, pb::ObjectionState::Upheld as i32);
        assert_eq!(
            tiers(&s, 2026).await,
            [t(ORDINARY, 1, 100), t(DEMONSTRATION, 2, 85), t(KEY_ASSISTANCE, 4, 65)]
        );
        let ord = pb::GetResultRequest { village_code: ORDINARY.into(), ..get.clone() };
        let r = results(&s).get_result(req(&s.county, ord.clone())).await.unwrap().into_inner();
        assert_eq!((r.revision, r.reason), (2, format!("objection {} upheld", o.id)));

        // Final: the consequences appear.
        results(&s).finalize_results(req(&s.county, year_req(2026))).await.unwrap();
        let c = consequences(&s, 2026).await;
        let of =
            |k: &str| c.iter().filter(|c| c.kind == k).map(|c| c.village_code.as_str()).collect::<Vec<_>>();
        assert_eq!(of("reward"), [ORDINARY]);
        assert_eq!(of("rectification"), [KEY_ASSISTANCE]);
        assert_eq!(of("dismissal_recommended"), [KEY_ASSISTANCE]);
        let d = c.iter().find(|c| c.kind == "dismissal_recommended").unwrap();
        assert_eq!((d.secretary_cadre_id.as_str(), d.because.len()), ("cadre-liqiang", 2));
        assert!(d.because[1].contains("2025"), "{:?}", d.because);
        assert!(d.rule.contains("last year"), "{}", d.rule);

        // A correction to the final result: a new revision, in the feed; consequences follow.
        let correct = pb::CorrectResultRequest {
            county_code: COUNTY.into(),
            year: 2026,
            village_code: KEY_ASSISTANCE.into(),
            reason: String::new(),
            score_changes: vec![pb::ScoreChange { indicator_code: "A01".into(), points: 60 }],
        };
        let err = results(&s).correct_result(req(&s.county, correct.clone())).await.unwrap_err();
        assert!(err.message().starts_with("reason"), "{err:?}");
        let corrected = results(&s)
            .correct_result(req(
                &s.county,
                pb::CorrectResultRequest { reason: "复核发现会议记录漏登".into(), ..correct },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((corrected.tier, corrected.total, corrected.revision), (2, 85, 2));
        assert_eq!(corrected.reason, "correction: 复核发现会议记录漏登");
        assert_eq!(
            tiers(&s, 2026).await,
            [t(ORDINARY, 1, 100), t(DEMONSTRATION, 4, 85), t(KEY_ASSISTANCE, 2, 85)]
        );
        let c = consequences(&s, 2026).await;
        let d = c.iter().find(|c| c.kind == "dismissal_recommended").unwrap();
        assert!(d.withdrawn && d.revision == 2, "{d:?}");
        let live = |k: &str| {
            c.iter()
                .filter(|c| c.kind == k && !c.withdrawn)
                .map(|c| c.village_code.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(live("rectification"), [DEMONSTRATION]);

        let request = ListChangesRequest { after_position: 0, region_code: String::new(), page_size: 1000 };
        let feed = ChangeServiceClient::new(s.channel.clone())
            .list_changes(req(&s.county, request))
            .await
            .unwrap()
            .into_inner()
            .changes;
        let key = format!("{COUNTY}/2026/{KEY_ASSISTANCE}");
        let revisions: Vec<i64> = feed
            .iter()
            .filter(|c| c.entity == pb::Entity::Result as i32 && c.key == key)
            .map(|c| c.revision)
            .collect();
        assert_eq!(revisions, [1, 2]);
        assert!(feed.iter().any(|c| c.entity == pb::Entity::Consequence as i32));
        s.stop().await;
    }
}
