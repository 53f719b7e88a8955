//! Reserves, vacancy ranking, staffing rules, compliance and alerts over real gRPC, on
//! SQLite and (with `CADRE_TEST_POSTGRES_URL`) PostgreSQL.

mod common;

use std::time::Duration;

use chrono::NaiveDate;
use common::*;

use cadre_kit::auth::issue_dev_token;
use cadre_kit::config::AuthSettings;
use cadre_kit::resident_id::build;
use cadre_kit::testing::TestDb;
use cadre_kit::{RegionCode, Role};
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::ReserveStage as Stage;
use cadre_proto::roster::v1::cadre_service_client::CadreServiceClient;
use cadre_proto::roster::v1::post_service_client::PostServiceClient;
use cadre_proto::roster::v1::region_service_client::RegionServiceClient;
use cadre_proto::roster::v1::reserve_service_client::ReserveServiceClient;
use cadre_proto::roster::v1::staffing_service_client::StaffingServiceClient;
use tonic::{Code, Status};

const TOWNSHIP: &str = "150525100000";
const EAST_VILLAGE: &str = "150525100202";

fn token(roles: &[Role], region: &str) -> String {
    issue_dev_token(
        &AuthSettings::default().dev_secret,
        "township-officer",
        roles,
        &RegionCode::parse(region).unwrap(),
        Duration::from_secs(600),
    )
    .unwrap()
}

fn township_admin() -> String {
    token(&[Role::TownshipAdmin], TOWNSHIP)
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// A candidate as a village would recommend one.
fn candidate(name: &str, seq: u16, born: &str, education: pb::Education, full_time: bool) -> pb::Reserve {
    pb::Reserve {
        region_code: VILLAGE.into(),
        name: name.into(),
        id_number: build("150525", date(born), seq).as_str().to_string(),
        source: pb::ReserveSource::ReturneeProgramme as i32,
        political_status: pb::PoliticalStatus::None as i32,
        education: education as i32,
        full_time_education: full_time,
        stage_date: "2025-01-10".into(),
        ..Default::default()
    }
}

async fn create(s: &Service, token: &str, r: pb::Reserve) -> Result<pb::Reserve, Status> {
    let mut reserves = ReserveServiceClient::new(s.channel.clone());
    reserves
        .create_reserve(req(token, pb::CreateReserveRequest { reserve: Some(r) }))
        .await
        .map(|r| r.into_inner())
}

async fn advance(
    s: &Service,
    token: &str,
    r: &pb::Reserve,
    to: Stage,
    day: &str,
) -> Result<pb::Reserve, Status> {
    let mut reserves = ReserveServiceClient::new(s.channel.clone());
    reserves
        .advance_reserve(req(
            token,
            pb::AdvanceReserveRequest {
                id: r.id.clone(),
                to_stage: to as i32,
                date: day.into(),
                note: format!("to {}", to.as_str_name()),
                revision: r.revision,
                cadre_id: String::new(),
            },
        ))
        .await
        .map(|r| r.into_inner())
}

/// Recommends a candidate and takes it into the pool (a county administrator may take
/// every step).
async fn seed(s: &Service, r: pb::Reserve) -> pb::Reserve {
    let mut r = create(s, &s.admin, r).await.unwrap();
    for (to, day) in
        [(Stage::Selected, "2025-02-01"), (Stage::Examined, "2025-03-01"), (Stage::InPool, "2025-04-01")]
    {
        r = advance(s, &s.admin, &r, to, day).await.unwrap();
    }
    r
}

async fn appoint(
    s: &Service,
    name: &str,
    seq: u16,
    born: &str,
    kind: pb::PostKind,
    village: &str,
) -> pb::Cadre {
    let mut cadres = CadreServiceClient::new(s.channel.clone());
    let mut posts = PostServiceClient::new(s.channel.clone());
    let c = pb::Cadre {
        region_code: village.into(),
        id_number: build("150525", date(born), seq).as_str().to_string(),
        ..cadre(name, seq)
    };
    let c = cadres
        .create_cadre(req(&s.admin, pb::CreateCadreRequest { cadre: Some(c) }))
        .await
        .unwrap()
        .into_inner();
    posts
        .appoint_post(req(
            &s.admin,
            pb::AppointPostRequest {
                cadre_id: c.id.clone(),
                region_code: village.into(),
                kind: kind as i32,
                term: 2021,
                start_date: "2021-03-01".into(),
            },
        ))
        .await
        .unwrap();
    c
}

fn assert_code<T: std::fmt::Debug>(r: Result<T, Status>, code: Code, contains: &str) {
    let err = r.unwrap_err();
    assert_eq!(err.code(), code, "{}", err.message());
    assert!(err.message().contains(contains), "{:?} lacks {contains:?}", err.message());
}

#[tokio::test]
async fn a_reserve_is_recommended_selected_examined_pooled_trained_and_appointed_by_the_right_levels() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        let township = township_admin();
        let mut reserves = ReserveServiceClient::new(s.channel.clone());

        // The township records the village's recommendation; the ID number is masked.
        let r = create(&s, &township, candidate("其木格", 21, "1997-05-02", pb::Education::Bachelor, true))
            .await
            .unwrap();
        assert!(r.pii_masked);
        assert!(r.id_number.contains("********"), "{}", r.id_number);
        assert_eq!((r.stage, r.stage_date.as_str()), (Stage::Recommended as i32, "2025-01-10"));
        assert_eq!(r.birth_date, "1997-05-02");
        let whole = reserves
            .get_reserve(req(&s.admin_pii, pb::GetReserveRequest { id: r.id.clone() }))
            .await
            .unwrap();
        assert!(!whole.get_ref().pii_masked);
        assert_eq!(whole.get_ref().id_number, build("150525", date("1997-05-02"), 21).as_str());

        // The township selects; it may not examine, which is the county's step.
        let r = advance(&s, &township, &r, Stage::Selected, "2025-02-01").await.unwrap();
        assert_code(
            advance(&s, &township, &r, Stage::Examined, "2025-03-01").await,
            Code::PermissionDenied,
            "county_admin",
        );
        // Skips, stale revisions and earlier dates are refused.
        assert_code(
            advance(&s, &s.admin, &r, Stage::InTraining, "2025-03-01").await,
            Code::FailedPrecondition,
            "from SELECTED to IN_TRAINING",
        );
        let stale = pb::Reserve { revision: 1, ..r.clone() };
        assert_code(
            advance(&s, &s.admin, &stale, Stage::Examined, "2025-03-01").await,
            Code::Aborted,
            "revision",
        );
        assert_code(
            advance(&s, &s.admin, &r, Stage::Examined, "2025-01-31").await,
            Code::InvalidArgument,
            "date: 2025-01-31",
        );

        let r = advance(&s, &s.admin, &r, Stage::Examined, "2025-03-01").await.unwrap();
        let r = advance(&s, &s.admin, &r, Stage::InPool, "2025-04-01").await.unwrap();
        let r = advance(&s, &township, &r, Stage::InTraining, "2025-05-01").await.unwrap();
        // Appointed, linked to the cadre record the reserve became.
        let cadre = appoint(&s, "其木格", 21, "1997-05-02", pb::PostKind::CommitteeMember, VILLAGE).await;
        let r = reserves
            .advance_reserve(req(
                &township,
                pb::AdvanceReserveRequest {
                    id: r.id.clone(),
                    to_stage: Stage::Appointed as i32,
                    date: "2025-06-01".into(),
                    note: "elected at the by-election".into(),
                    revision: r.revision,
                    cadre_id: cadre.id.clone(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((r.stage, r.cadre_id.as_str()), (Stage::Appointed as i32, cadre.id.as_str()));
        // Appointed is final.
        assert_code(
            advance(&s, &s.province, &r, Stage::Dropped, "2025-07-01").await,
            Code::FailedPrecondition,
            "APPOINTED is final",
        );

        let stages: Vec<(i32, String, String)> =
            r.history.iter().map(|h| (h.stage, h.date.clone(), h.actor.clone())).collect();
        assert_eq!(stages.len(), 6);
        assert_eq!(stages[0], (Stage::Recommended as i32, "2025-01-10".into(), "township-officer".into()));
        assert_eq!(stages[2].0, Stage::Examined as i32);
        assert_eq!(stages[2].2, "tester");
        assert_eq!(r.history[5].note, "elected at the by-election");

        // Lists filter by stage and source.
        let listed = |stage: Stage, source: pb::ReserveSource| pb::ListReservesRequest {
            region_code: COUNTY.into(),
            stage: stage as i32,
            source: source as i32,
            ..Default::default()
        };
        let appointed = reserves
            .list_reserves(req(&s.admin, listed(Stage::Appointed, pb::ReserveSource::Unspecified)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(appointed.reserves.len(), 1);
        assert!(appointed.reserves[0].pii_masked);
        let by_exam = reserves
            .list_reserves(req(&s.admin, listed(Stage::Unspecified, pb::ReserveSource::EntranceExam)))
            .await
            .unwrap()
            .into_inner();
        assert!(by_exam.reserves.is_empty());

        // Bad input names its field; the same person twice is refused.
        let mut no_source = candidate("乌云", 22, "1999-01-01", pb::Education::College, false);
        no_source.source = 0;
        assert_code(create(&s, &township, no_source).await, Code::InvalidArgument, "reserve.source");
        let mut bad_id = candidate("乌云", 22, "1999-01-01", pb::Education::College, false);
        bad_id.id_number.replace_range(17..18, if bad_id.id_number.ends_with('0') { "1" } else { "0" });
        assert_code(create(&s, &township, bad_id).await, Code::InvalidArgument, "reserve.id_number");
        assert_code(
            create(&s, &township, candidate("其木格", 21, "1997-05-02", pb::Education::Bachelor, true)).await,
            Code::AlreadyExists,
            "already exists",
        );
        // An auditor reads but does not record reserves.
        let auditor = token(&[Role::Auditor], COUNTY);
        assert_code(
            create(&s, &auditor, candidate("乌云", 23, "1999-01-01", pb::Education::College, false)).await,
            Code::PermissionDenied,
            "",
        );

        // Next door is out of reach.
        assert_code(
            reserves.get_reserve(req(&s.neighbour, pb::GetReserveRequest { id: r.id.clone() })).await,
            Code::PermissionDenied,
            "outside your jurisdiction",
        );
        assert_code(
            reserves
                .list_reserves(req(&s.neighbour, listed(Stage::Unspecified, pb::ReserveSource::Unspecified)))
                .await,
            Code::PermissionDenied,
            "outside your jurisdiction",
        );
        assert_code(
            create(&s, &s.neighbour, candidate("乌云", 24, "1999-01-01", pb::Education::College, false))
                .await,
            Code::PermissionDenied,
            "outside your jurisdiction",
        );
        s.stop().await;
    }
}

#[tokio::test]
async fn candidates_for_a_vacant_seat_follow_the_default_order_and_a_townships_override() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        let mut staffing = StaffingServiceClient::new(s.channel.clone());
        let specialist =
            appoint(&s, "阿拉坦", 31, "1992-01-01", pb::PostKind::RevitalisationSpecialist, VILLAGE).await;
        let bachelor = seed(&s, candidate("萨仁", 32, "1995-01-01", pb::Education::Bachelor, true)).await;
        let mut member = candidate("格日勒", 33, "1998-01-01", pb::Education::College, false);
        member.political_status = pb::PoliticalStatus::PartyMember as i32;
        let member = seed(&s, member).await;
        let master = seed(&s, candidate("图雅", 34, "1990-01-01", pb::Education::Postgraduate, true)).await;
        // Only recommended so far: not a candidate.
        create(&s, &s.admin, candidate("宝音", 35, "2000-01-01", pb::Education::Bachelor, true))
            .await
            .unwrap();

        let rank = |token: &str, code: &str| {
            req(
                token,
                pb::RankCandidatesRequest {
                    region_code: code.into(),
                    post_kind: pb::PostKind::PartySecretary as i32,
                    as_of: "2025-07-01".into(),
                },
            )
        };
        let ranked = staffing.rank_candidates(rank(&s.admin, VILLAGE)).await.unwrap().into_inner();
        let order: Vec<&str> = ranked.candidates.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(order, [specialist.id.as_str(), &master.id, &bachelor.id, &member.id]);
        assert_eq!(ranked.candidates[0].reason, "rural-revitalisation specialist in this village");
        assert_eq!(ranked.candidates[0].kind, pb::CandidateKind::Cadre as i32);
        assert_eq!(ranked.candidates[1].reason, "reserve with a full-time bachelor degree or above");
        assert_eq!(ranked.candidates[3].reason, "reserve in the pool or in training");
        assert_eq!(ranked.candidates[3].rank, 4);
        assert_eq!(ranked.priority.as_ref().unwrap().source_region_code, "");
        // Before they entered the pool, the reserves were not candidates.
        let early = staffing
            .rank_candidates(req(
                &s.admin,
                pb::RankCandidatesRequest {
                    as_of: "2025-03-15".into(),
                    ..rank(&s.admin, VILLAGE).into_inner()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(early.candidates.len(), 1);

        // The township puts Party members first and specialists after; nobody else.
        let criteria = vec![
            pb::VacancyCriterion::PartyMemberReserve as i32,
            pb::VacancyCriterion::RevitalisationSpecialist as i32,
        ];
        let set = pb::SetVacancyPriorityRequest { region_code: TOWNSHIP.into(), criteria: criteria.clone() };
        assert_code(
            staffing.set_vacancy_priority(req(&township_admin(), set.clone())).await,
            Code::PermissionDenied,
            "county_admin",
        );
        let stored =
            staffing.set_vacancy_priority(keyed(&s.admin, "prio-1", set.clone())).await.unwrap().into_inner();
        assert_eq!((stored.revision, stored.criteria.clone()), (1, criteria.clone()));
        let again = staffing.set_vacancy_priority(keyed(&s.admin, "prio-1", set)).await.unwrap().into_inner();
        assert_eq!(again.revision, 1);
        let ranked = staffing.rank_candidates(rank(&s.admin, VILLAGE)).await.unwrap().into_inner();
        let order: Vec<&str> = ranked.candidates.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(order, [member.id.as_str(), &specialist.id]);
        assert_eq!(ranked.candidates[0].reason, "reserve who is a Party member");
        assert_eq!(ranked.priority.as_ref().unwrap().source_region_code, TOWNSHIP);
        let at_village = staffing
            .get_vacancy_priority(req(
                &s.admin,
                pb::GetVacancyPriorityRequest { region_code: VILLAGE.into() },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((at_village.source_region_code.as_str(), at_village.criteria), (TOWNSHIP, criteria));
        let at_county = staffing
            .get_vacancy_priority(req(&s.admin, pb::GetVacancyPriorityRequest { region_code: COUNTY.into() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(at_county.criteria.len(), 3);

        // Bad input and next door.
        assert_code(
            staffing
                .set_vacancy_priority(req(
                    &s.admin,
                    pb::SetVacancyPriorityRequest { region_code: COUNTY.into(), criteria: vec![1, 1] },
                ))
                .await,
            Code::InvalidArgument,
            "criteria[1]",
        );
        assert_code(
            staffing.rank_candidates(rank(&s.admin, TOWNSHIP)).await,
            Code::InvalidArgument,
            "not a village",
        );
        assert_code(
            staffing.rank_candidates(rank(&s.neighbour, VILLAGE)).await,
            Code::PermissionDenied,
            "jurisdiction",
        );
        s.stop().await;
    }
}

fn failed_rules(v: &pb::VillageCompliance) -> Vec<i32> {
    v.checks.iter().filter(|c| !c.passed).map(|c| c.rule).collect()
}

#[tokio::test]
async fn a_village_short_of_seeds_fails_until_a_third_enters_the_pool_and_alerts_name_the_problems() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        let mut staffing = StaffingServiceClient::new(s.channel.clone());
        // A well-staffed village, with a secretary at the age limit.
        appoint(&s, "巴特尔", 41, "1988-01-01", pb::PostKind::CommitteeDirector, VILLAGE).await;
        let mut cadres = CadreServiceClient::new(s.channel.clone());
        let graduate = cadres
            .list_cadres(req(
                &s.admin,
                pb::ListCadresRequest { name_contains: "巴特尔".into(), ..Default::default() },
            ))
            .await
            .unwrap()
            .into_inner()
            .cadres
            .remove(0);
        let mut update = graduate.clone();
        update.education = pb::Education::Bachelor as i32;
        update.full_time_education = true;
        cadres
            .update_cadre(req(
                &s.admin,
                pb::UpdateCadreRequest {
                    cadre: Some(update),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["education".into(), "full_time_education".into()],
                    }),
                },
            ))
            .await
            .unwrap();
        let old = appoint(&s, "那顺", 42, "1964-03-01", pb::PostKind::PartySecretary, VILLAGE).await;
        appoint(&s, "娜仁", 43, "2000-01-01", pb::PostKind::YouthLeagueSecretary, VILLAGE).await;
        appoint(&s, "高娃", 44, "1995-01-01", pb::PostKind::WomensFederationChair, VILLAGE).await;
        seed(&s, candidate("萨仁", 45, "1995-01-01", pb::Education::Bachelor, true)).await;
        seed(&s, candidate("图雅", 46, "1996-01-01", pb::Education::College, true)).await;

        // The county asks for three seeds per village.
        let rules = |seeds: i32, revision: i64| pb::StaffingRules {
            min_full_time_bachelor: 1,
            youth_league_secretary_max_age: 30,
            womens_federation_chair_max_age: 35,
            min_reserve_seeds: seeds,
            age_limit: 60,
            term_end_warning_days: 180,
            term_end_date: "2026-12-31".into(),
            revision,
            ..Default::default()
        };
        let set = |seeds: i32, revision: i64| pb::SetStaffingRulesRequest {
            region_code: COUNTY.into(),
            rules: Some(rules(seeds, revision)),
        };
        let stored = staffing.set_staffing_rules(req(&s.admin, set(3, 0))).await.unwrap().into_inner();
        assert_eq!(stored.revision, 1);
        assert_code(staffing.set_staffing_rules(req(&s.admin, set(3, 7))).await, Code::Aborted, "revision 7");
        let mut bad = set(3, 0);
        bad.rules.as_mut().unwrap().age_limit = 7;
        assert_code(
            staffing.set_staffing_rules(req(&s.admin, bad)).await,
            Code::InvalidArgument,
            "rules.age_limit",
        );
        assert_code(
            staffing.set_staffing_rules(req(&s.neighbour, set(3, 0))).await,
            Code::PermissionDenied,
            "jurisdiction",
        );
        let effective = staffing
            .get_staffing_rules(req(&s.admin, pb::GetStaffingRulesRequest { region_code: VILLAGE.into() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((effective.min_reserve_seeds, effective.source_region_code.as_str()), (3, COUNTY));

        let report = |token: &str, page_size: i32, page_token: &str| {
            req(
                token,
                pb::GetComplianceReportRequest {
                    region_code: COUNTY.into(),
                    as_of: "2025-07-01".into(),
                    page_size,
                    page_token: page_token.into(),
                },
            )
        };
        let first = staffing.get_compliance_report(report(&s.admin, 1, "")).await.unwrap().into_inner();
        assert_eq!(first.villages.len(), 1);
        assert_eq!(first.villages[0].region_code, VILLAGE);
        assert_eq!(failed_rules(&first.villages[0]), [pb::StaffingRule::ReserveSeeds as i32]);
        assert_eq!(first.villages[0].rules_region_code, COUNTY);
        let total = first.total.as_ref().unwrap();
        assert_eq!((total.villages_checked, total.compliant), (2, 0));
        let seeds_failing = total.failures.iter().find(|f| f.rule == pb::StaffingRule::ReserveSeeds as i32);
        assert_eq!(seeds_failing.map(|f| f.villages), Some(2));
        assert_eq!(first.townships.len(), 1);
        assert_eq!(
            (first.townships[0].region_code.as_str(), first.townships[0].villages_checked),
            (TOWNSHIP, 2)
        );
        let second = staffing
            .get_compliance_report(report(&s.admin, 1, &first.next_page_token))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(second.villages[0].region_code, EAST_VILLAGE);
        assert_eq!(failed_rules(&second.villages[0]).len(), 4);
        assert!(second.next_page_token.is_empty());

        // A third seed enters the pool: the village complies.
        seed(&s, candidate("宝音", 47, "1999-01-01", pb::Education::College, false)).await;
        let fixed = staffing.get_compliance_report(report(&s.admin, 50, "")).await.unwrap().into_inner();
        assert!(fixed.villages[0].compliant, "{:?}", fixed.villages[0].checks);
        assert_eq!(fixed.total.as_ref().unwrap().compliant, 1);
        assert_code(
            staffing.get_compliance_report(report(&s.neighbour, 50, "")).await,
            Code::PermissionDenied,
            "jurisdiction",
        );

        // Alerts: the secretary at 61, the empty seats of the east village, and it being out of compliance.
        let alerts = |token: &str, as_of: &str, kinds: Vec<pb::StaffingAlertKind>| {
            req(
                token,
                pb::ListAlertsRequest {
                    region_code: COUNTY.into(),
                    as_of: as_of.into(),
                    kinds: kinds.into_iter().map(|k| k as i32).collect(),
                    ..Default::default()
                },
            )
        };
        let all =
            staffing.list_alerts(alerts(&s.admin, "2025-07-01", vec![])).await.unwrap().into_inner().alerts;
        let over_age: Vec<_> =
            all.iter().filter(|a| a.kind == pb::StaffingAlertKind::OverAge as i32).collect();
        assert_eq!(over_age.len(), 1);
        assert_eq!(
            (over_age[0].subject_id.as_str(), over_age[0].region_code.as_str()),
            (old.id.as_str(), VILLAGE)
        );
        assert!(over_age[0].message.contains("is 61"), "{}", over_age[0].message);
        assert!(all.iter().any(|a| a.kind == pb::StaffingAlertKind::VacantPost as i32
            && a.region_code == EAST_VILLAGE
            && a.post_kind == pb::PostKind::PartySecretary as i32));
        assert!(
            all.iter()
                .any(|a| a.kind == pb::StaffingAlertKind::OutOfCompliance as i32
                    && a.subject_id == EAST_VILLAGE)
        );
        assert!(
            !all.iter()
                .any(|a| a.kind == pb::StaffingAlertKind::OutOfCompliance as i32 && a.subject_id == VILLAGE)
        );
        assert!(!all.iter().any(|a| a.kind == pb::StaffingAlertKind::TermEnding as i32));
        // Three months before the term ends, every village is warned; kinds filter.
        let ending = staffing
            .list_alerts(alerts(&s.admin, "2026-10-01", vec![pb::StaffingAlertKind::TermEnding]))
            .await
            .unwrap()
            .into_inner()
            .alerts;
        assert_eq!(ending.len(), 2);
        assert!(ending[0].message.contains("2026-12-31"), "{}", ending[0].message);
        // Paging walks the same list.
        let mut paged = Vec::new();
        let mut page_token = String::new();
        loop {
            let mut r = alerts(&s.admin, "2025-07-01", vec![]);
            r.get_mut().page_size = 2;
            r.get_mut().page_token = page_token;
            let page = staffing.list_alerts(r).await.unwrap().into_inner();
            paged.extend(page.alerts);
            page_token = page.next_page_token;
            if page_token.is_empty() {
                break;
            }
        }
        assert_eq!(paged, all);
        assert_code(
            staffing.list_alerts(alerts(&s.neighbour, "2025-07-01", vec![])).await,
            Code::PermissionDenied,
            "jurisdiction",
        );
        let mut bad_kind = alerts(&s.admin, "2025-07-01", vec![]);
        bad_kind.get_mut().kinds = vec![99];
        assert_code(staffing.list_alerts(bad_kind).await, Code::InvalidArgument, "kinds[0]");
        s.stop().await;
    }
}

#[tokio::test]
async fn alerts_of_a_few_villages_among_many_page_by_key_to_the_list_read_whole() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        // Twelve more villages in the township; secretaries past the age limit in two,
        // and a director past it too in the second.
        let more: Vec<pb::Region> =
            (203..=214).map(|n| region(&format!("150525100{n}"), &format!("{n}村"))).collect();
        RegionServiceClient::new(s.channel.clone())
            .upsert_regions(req(&s.province, pb::UpsertRegionsRequest { regions: more }))
            .await
            .unwrap();
        let west = appoint(&s, "那顺", 51, "1960-03-01", pb::PostKind::PartySecretary, "150525100205").await;
        let north = appoint(&s, "巴图", 52, "1961-03-01", pb::PostKind::PartySecretary, "150525100213").await;
        let director =
            appoint(&s, "朝鲁", 53, "1962-03-01", pb::PostKind::CommitteeDirector, "150525100213").await;

        let mut staffing = StaffingServiceClient::new(s.channel.clone());
        let over_age = |page_size: i32, page_token: String| {
            req(
                &s.admin,
                pb::ListAlertsRequest {
                    region_code: COUNTY.into(),
                    as_of: "2025-07-01".into(),
                    kinds: vec![pb::StaffingAlertKind::OverAge as i32],
                    page_size,
                    page_token,
                },
            )
        };
        let whole = staffing.list_alerts(over_age(0, String::new())).await.unwrap().into_inner();
        assert!(whole.next_page_token.is_empty());
        let mut subjects: Vec<&str> = whole.alerts.iter().map(|a| a.subject_id.as_str()).collect();
        assert_eq!(subjects.remove(0), west.id);
        subjects.sort();
        let mut north_village = vec![north.id.as_str(), director.id.as_str()];
        north_village.sort();
        assert_eq!(subjects, north_village);

        // One alert a page: villages without alerts are skipped, a page may stop inside
        // a village, and the walk ends with the list.
        let (mut paged, mut token, mut pages) = (Vec::new(), String::new(), 0);
        loop {
            let page = staffing.list_alerts(over_age(1, token)).await.unwrap().into_inner();
            assert_eq!(page.alerts.len(), 1);
            paged.extend(page.alerts);
            pages += 1;
            token = page.next_page_token;
            if token.is_empty() {
                break;
            }
        }
        assert_eq!((pages, paged), (3, whole.alerts));
        s.stop().await;
    }
}
