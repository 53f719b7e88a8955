//! Developing the village teams over real gRPC, on SQLite and (with
//! `CADRE_TEST_POSTGRES_URL`) PostgreSQL: mentoring coverage, stationed work teams
//! and their village assignments over time, sanctions that open vacancies and their
//! revocation, and the term-over-term comparison.

mod common;

use chrono::NaiveDate;
use common::*;

use cadre_kit::testing::TestDb;
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::exit_service_client::ExitServiceClient;
use cadre_proto::roster::v1::mentoring_service_client::MentoringServiceClient;
use cadre_proto::roster::v1::post_service_client::PostServiceClient;
use cadre_proto::roster::v1::region_service_client::RegionServiceClient;
use cadre_proto::roster::v1::term_service_client::TermServiceClient;
use cadre_proto::roster::v1::work_team_service_client::WorkTeamServiceClient;
use tonic::Code;

const OTHER_VILLAGE: &str = "150525100202";

/// A cadre born on `birth` with `education`, created in `VILLAGE`; returns its id.
async fn new_cadre(s: &Service, name: &str, seq: u16, birth: &str, education: pb::Education) -> String {
    let birth = NaiveDate::parse_from_str(birth, "%Y-%m-%d").unwrap();
    let c = pb::Cadre {
        id_number: cadre_kit::resident_id::build("150525", birth, seq).as_str().to_string(),
        education: education as i32,
        ..cadre(name, seq)
    };
    create_cadre(s, c).await.id
}

async fn appoint(
    s: &Service,
    cadre_id: &str,
    village: &str,
    kind: pb::PostKind,
    term: i32,
    start: &str,
) -> String {
    let mut posts = PostServiceClient::new(s.channel.clone());
    posts
        .appoint_post(req(
            &s.admin,
            pb::AppointPostRequest {
                cadre_id: cadre_id.into(),
                region_code: village.into(),
                kind: kind as i32,
                term,
                start_date: start.into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .id
}

async fn end_post(s: &Service, post_id: &str, end: &str) {
    let mut posts = PostServiceClient::new(s.channel.clone());
    posts
        .end_post(req(
            &s.admin,
            pb::EndPostRequest { post_id: post_id.into(), end_date: end.into(), reason: "换届".into() },
        ))
        .await
        .unwrap();
}

fn assert_invalid(status: tonic::Status, field: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().starts_with(field), "expected {field}: {status:?}");
}

/// `mentor` taking on `mentee` from `start`, with no growth plan yet.
fn mentorship(mentor: &str, mentee: &str, start: &str) -> pb::PairMentorRequest {
    pb::PairMentorRequest {
        mentor_cadre_id: mentor.into(),
        mentee_cadre_id: mentee.into(),
        start_date: start.into(),
        ..Default::default()
    }
}

/// The province marks the east village (`OTHER_VILLAGE`) for key assistance.
async fn mark_key_assistance(s: &Service) {
    let mut regions = RegionServiceClient::new(s.channel.clone());
    let east = pb::Region { village_type: "key-assistance".into(), ..region(OTHER_VILLAGE, "东村") };
    regions.upsert_regions(req(&s.province, pb::UpsertRegionsRequest { regions: vec![east] })).await.unwrap();
}

/// A work team sent by `agency`, kept by `region` (a county, or a township for its own).
fn work_team(region: &str, name: &str, agency: &str) -> pb::CreateWorkTeamRequest {
    pb::CreateWorkTeamRequest {
        region_code: region.into(),
        name: name.into(),
        agency: agency.into(),
        ..Default::default()
    }
}

async fn create_work_team(s: &Service, team: pb::CreateWorkTeamRequest) -> pb::WorkTeam {
    let mut teams = WorkTeamServiceClient::new(s.channel.clone());
    teams.create_work_team(req(&s.admin, team)).await.unwrap().into_inner()
}

/// The team serving `village` from `start` (empty: today).
fn assignment(team_id: &str, village: &str, start: &str) -> pb::AssignTeamVillageRequest {
    pb::AssignTeamVillageRequest {
        team_id: team_id.into(),
        village_code: village.into(),
        start_date: start.into(),
    }
}

/// The work teams, members and villages under `region` on `as_of` (empty: today).
async fn team_summary(s: &Service, region: &str, as_of: &str) -> pb::WorkTeamSummary {
    let mut teams = WorkTeamServiceClient::new(s.channel.clone());
    let summary = pb::GetWorkTeamSummaryRequest { region_code: region.into(), as_of: as_of.into() };
    teams.get_work_team_summary(req(&s.admin, summary)).await.unwrap().into_inner()
}

#[tokio::test]
async fn every_new_cadre_gets_one_mentor_and_coverage_shows_who_is_still_alone() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        let mut mentoring = MentoringServiceClient::new(s.channel.clone());

        // The mentor served the previous term and was re-elected: not a new cadre.
        let mentor = new_cadre(&s, "老书记", 31, "1970-05-01", pb::Education::Secondary).await;
        let old = appoint(&s, &mentor, VILLAGE, pb::PostKind::PartySecretary, 2016, "2018-03-01").await;
        end_post(&s, &old, "2021-03-01").await;
        appoint(&s, &mentor, VILLAGE, pb::PostKind::PartySecretary, 2021, "2021-03-01").await;
        let first = new_cadre(&s, "新委员甲", 32, "1996-01-01", pb::Education::Bachelor).await;
        let second = new_cadre(&s, "新委员乙", 33, "1997-01-01", pb::Education::Bachelor).await;
        for c in [&first, &second] {
            appoint(&s, c, VILLAGE, pb::PostKind::CommitteeMember, 2021, "2021-03-01").await;
        }

        let coverage = |token: String| {
            pb::GetMentoringCoverageRequest {
                region_code: COUNTY.into(),
                as_of: "2024-01-01".into(),
                ..Default::default()
            }
            .with_token(token)
        };
        let before = mentoring.get_mentoring_coverage(coverage(s.admin.clone())).await.unwrap().into_inner();
        assert_eq!((before.new_cadre_count, before.mentored_count, before.mentor_count), (2, 0, 0));
        assert_eq!(before.coverage_share, 0.0);
        assert_eq!(before.new_since, "2021-01-01");
        assert_eq!(before.unmentored.len(), 2);

        let pairing = mentoring
            .pair_mentor(keyed(
                &s.admin,
                "pair-1",
                pb::PairMentorRequest {
                    growth_plan: "一年熟悉村务，两年独当一面".into(),
                    ..mentorship(&mentor, &first, "2021-04-01")
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((pairing.revision, pairing.mentor_name.as_str()), (1, "老书记"));

        let after = mentoring.get_mentoring_coverage(coverage(s.admin.clone())).await.unwrap().into_inner();
        assert_eq!((after.new_cadre_count, after.mentored_count, after.mentor_count), (2, 1, 1));
        assert_eq!(after.coverage_share, 0.5);
        assert_eq!(
            after.unmentored.iter().map(|u| u.cadre_id.as_str()).collect::<Vec<_>>(),
            [second.as_str()]
        );
        assert_eq!(after.unmentored[0].first_post_start, "2021-03-01");

        // The same mentor may take the second; the first may not get a second mentor.
        let twice = mentoring
            .pair_mentor(req(&s.admin, mentorship(&second, &first, "2022-01-01")))
            .await
            .unwrap_err();
        assert_eq!(twice.code(), Code::FailedPrecondition, "{twice:?}");
        let selfish = mentoring
            .pair_mentor(req(&s.admin, mentorship(&second, &second, "2022-01-01")))
            .await
            .unwrap_err();
        assert_invalid(selfish, "mentor_cadre_id");

        // Growth plans move by revision; a stale writer is told to re-read.
        let plan = |revision: i64| pb::UpdateGrowthPlanRequest {
            pairing_id: pairing.id.clone(),
            growth_plan: "加上电商培训".into(),
            revision,
        };
        let updated = mentoring.update_growth_plan(req(&s.admin, plan(1))).await.unwrap().into_inner();
        assert_eq!((updated.revision, updated.growth_plan.as_str()), (2, "加上电商培训"));
        let stale = mentoring.update_growth_plan(req(&s.admin, plan(1))).await.unwrap_err();
        assert_eq!(stale.code(), Code::Aborted, "{stale:?}");

        // Ended: the first is uncovered again, and may now get a new mentor.
        let ended = mentoring
            .end_mentoring(req(
                &s.admin,
                pb::EndMentoringRequest {
                    pairing_id: pairing.id.clone(),
                    end_date: "2023-06-01".into(),
                    reason: "导师调离".into(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(ended.end_date, "2023-06-01");
        let later = mentoring.get_mentoring_coverage(coverage(s.admin.clone())).await.unwrap().into_inner();
        assert_eq!(later.mentored_count, 0);
        let active = mentoring
            .list_pairings(req(&s.admin, pb::ListPairingsRequest { active_only: true, ..Default::default() }))
            .await
            .unwrap()
            .into_inner();
        assert!(active.pairings.is_empty());
        let all = mentoring.list_pairings(req(&s.admin, pb::ListPairingsRequest::default())).await.unwrap();
        assert_eq!(all.into_inner().pairings.len(), 1);

        // Next door sees and changes nothing of ours.
        let denied = [
            mentoring.get_mentoring_coverage(coverage(s.neighbour.clone())).await.unwrap_err(),
            mentoring
                .pair_mentor(req(&s.neighbour, mentorship(&mentor, &second, "2022-01-01")))
                .await
                .unwrap_err(),
            mentoring.update_growth_plan(req(&s.neighbour, plan(3))).await.unwrap_err(),
        ];
        for status in denied {
            assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
        }
        let theirs =
            mentoring.list_pairings(req(&s.neighbour, pb::ListPairingsRequest::default())).await.unwrap();
        assert!(theirs.into_inner().pairings.is_empty());
        s.stop().await;
    }
}

trait WithToken: Sized {
    fn with_token(self, token: String) -> tonic::Request<Self>;
}

impl<T> WithToken for T {
    fn with_token(self, token: String) -> tonic::Request<Self> {
        req(&token, self)
    }
}

#[tokio::test]
async fn a_work_team_with_members_and_villages_is_summarised_by_village_type() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        mark_key_assistance(&s).await;
        let mut teams = WorkTeamServiceClient::new(s.channel.clone());
        let cadre_id = new_cadre(&s, "驻村书记", 41, "1988-08-08", pb::Education::Bachelor).await;

        let team = create_work_team(
            &s,
            pb::CreateWorkTeamRequest {
                leader_name: "王队长".into(),
                ..work_team(COUNTY, "旗财政局驻村工作队", "奈曼旗财政局")
            },
        )
        .await;
        assert_eq!(team.county_code, COUNTY);
        let member = |role: pb::TeamRole, name: &str, cadre_id: &str| pb::AddTeamMemberRequest {
            team_id: team.id.clone(),
            name: name.into(),
            agency: "奈曼旗财政局".into(),
            role: role as i32,
            cadre_id: cadre_id.into(),
            start_date: "2023-03-01".into(),
        };
        let secretary = teams
            .add_team_member(req(&s.admin, member(pb::TeamRole::FirstSecretary, "", &cadre_id)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(secretary.name, "驻村书记");
        let helper = teams
            .add_team_member(req(&s.admin, member(pb::TeamRole::Member, "李队员", "")))
            .await
            .unwrap()
            .into_inner();
        teams.add_team_member(req(&s.admin, member(pb::TeamRole::Member, "赵队员", ""))).await.unwrap();
        for village in [VILLAGE, OTHER_VILLAGE] {
            teams
                .assign_team_village(req(&s.admin, assignment(&team.id, village, "2023-03-01")))
                .await
                .unwrap();
        }
        teams
            .end_team_membership(req(
                &s.admin,
                pb::EndTeamMembershipRequest {
                    team_id: team.id.clone(),
                    member_id: helper.id.clone(),
                    end_date: "2024-01-01".into(),
                    reason: "轮换".into(),
                },
            ))
            .await
            .unwrap();
        // A second team also covering the demonstration village does not count it twice.
        let second = create_work_team(&s, work_team(VILLAGE, "农商行工作队", "奈曼农商银行")).await;
        teams.assign_team_village(req(&s.admin, assignment(&second.id, VILLAGE, ""))).await.unwrap();

        let got =
            teams.get_work_team(req(&s.admin, pb::GetWorkTeamRequest { id: team.id.clone() })).await.unwrap();
        let got = got.into_inner();
        assert_eq!(got.members.len(), 3);
        let types: Vec<(&str, &str)> =
            got.villages.iter().map(|v| (v.village_code.as_str(), v.village_type.as_str())).collect();
        assert_eq!(types, [(VILLAGE, "demonstration"), (OTHER_VILLAGE, "key-assistance")]);

        let summary = team_summary(&s, COUNTY, "2024-06-01").await;
        assert_eq!((summary.team_count, summary.member_count, summary.village_count), (2, 2, 2));
        let by_type: Vec<(&str, i32)> =
            summary.villages_by_type.iter().map(|t| (t.village_type.as_str(), t.village_count)).collect();
        assert_eq!(by_type, [("demonstration", 1), ("key-assistance", 1)]);

        // The east village's township list holds only the team that serves there.
        let listed = teams
            .list_work_teams(req(
                &s.admin,
                pb::ListWorkTeamsRequest { region_code: OTHER_VILLAGE.into(), ..Default::default() },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(listed.teams.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), [team.id.as_str()]);

        // Villages of another county are refused; next door sees nothing.
        let outside = teams
            .assign_team_village(req(&s.admin, assignment(&team.id, "150526100201", "")))
            .await
            .unwrap_err();
        assert_invalid(outside, "village_code");
        let denied = [
            teams
                .get_work_team(req(&s.neighbour, pb::GetWorkTeamRequest { id: team.id.clone() }))
                .await
                .unwrap_err(),
            teams
                .get_work_team_summary(req(
                    &s.neighbour,
                    pb::GetWorkTeamSummaryRequest { region_code: COUNTY.into(), ..Default::default() },
                ))
                .await
                .unwrap_err(),
            teams
                .add_team_member(req(&s.neighbour, member(pb::TeamRole::Member, "外人", "")))
                .await
                .unwrap_err(),
        ];
        for status in denied {
            assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
        }
        let theirs =
            teams.list_work_teams(req(&s.neighbour, pb::ListWorkTeamsRequest::default())).await.unwrap();
        assert!(theirs.into_inner().teams.is_empty());
        s.stop().await;
    }
}

#[tokio::test]
async fn an_ended_village_no_longer_counts_in_the_team_summary_but_can_be_assigned_again() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        mark_key_assistance(&s).await;
        let mut teams = WorkTeamServiceClient::new(s.channel.clone());
        let team = create_work_team(&s, work_team(COUNTY, "旗交通局驻村工作队", "奈曼旗交通运输局")).await;
        let assign = |village: &str, start: &str| req(&s.admin, assignment(&team.id, village, start));
        teams.assign_team_village(assign(VILLAGE, "2023-03-01")).await.unwrap();
        let assigned =
            teams.assign_team_village(assign(OTHER_VILLAGE, "2023-03-01")).await.unwrap().into_inner();
        let summary = team_summary(&s, COUNTY, "2024-05-01").await;
        assert_eq!(summary.village_count, 2);

        let end = |revision: i64, end_date: &str| pb::EndTeamVillageRequest {
            team_id: team.id.clone(),
            village_code: VILLAGE.into(),
            end_date: end_date.into(),
            reason: "示范村创建完成，轮换".into(),
            revision,
        };
        let stale = teams.end_team_village(req(&s.admin, end(1, "2024-06-01"))).await.unwrap_err();
        assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
        let early = teams.end_team_village(req(&s.admin, end(assigned.revision, "2023-02-28"))).await;
        assert_invalid(early.unwrap_err(), "end_date");
        let future = teams.end_team_village(req(&s.admin, end(assigned.revision, "2999-01-01"))).await;
        assert_invalid(future.unwrap_err(), "end_date");
        let denied = teams.end_team_village(req(&s.neighbour, end(assigned.revision, "2024-06-01"))).await;
        assert_eq!(denied.unwrap_err().code(), Code::PermissionDenied);

        let ended = teams
            .end_team_village(keyed(&s.admin, "end-village-1", end(assigned.revision, "2024-06-01")))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(ended.revision, assigned.revision + 1);
        let retried = teams
            .end_team_village(keyed(&s.admin, "end-village-1", end(assigned.revision, "2024-06-01")))
            .await;
        assert_eq!(retried.unwrap().into_inner(), ended);
        let periods: Vec<(&str, &str, &str)> = ended
            .villages
            .iter()
            .map(|v| (v.village_code.as_str(), v.start_date.as_str(), v.end_date.as_str()))
            .collect();
        assert_eq!(periods, [(VILLAGE, "2023-03-01", "2024-06-01"), (OTHER_VILLAGE, "2023-03-01", "")]);
        assert_eq!(ended.villages[0].end_reason, "示范村创建完成，轮换");

        // Counted up to the day before the end, not after; today too only the east village.
        let on_last_day = team_summary(&s, COUNTY, "2024-05-31").await;
        assert_eq!(on_last_day.village_count, 2);
        for as_of in ["2024-06-01", ""] {
            let after = team_summary(&s, COUNTY, as_of).await;
            let by_type: Vec<(&str, i32)> =
                after.villages_by_type.iter().map(|t| (t.village_type.as_str(), t.village_count)).collect();
            assert_eq!((after.village_count, by_type), (1, vec![("key-assistance", 1)]), "{as_of}");
        }
        // A township whose only assignment ended counts no team there now.
        let there = team_summary(&s, VILLAGE, "2024-07-01").await;
        assert_eq!((there.team_count, there.village_count), (0, 0));

        // Ending it again, or a village never assigned: refused.
        let twice =
            teams.end_team_village(req(&s.admin, end(ended.revision, "2024-07-01"))).await.unwrap_err();
        assert_eq!(twice.code(), Code::FailedPrecondition, "{twice:?}");
        let never = teams
            .end_team_village(req(
                &s.admin,
                pb::EndTeamVillageRequest {
                    village_code: "150525100203".into(),
                    ..end(ended.revision, "2024-07-01")
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(never.code(), Code::NotFound, "{never:?}");

        // Assigned again: not overlapping the ended period, then a new period.
        let overlap = teams.assign_team_village(assign(VILLAGE, "2024-05-01")).await.unwrap_err();
        assert_invalid(overlap, "start_date");
        let again = teams.assign_team_village(assign(VILLAGE, "2024-09-01")).await.unwrap().into_inner();
        let periods: Vec<(&str, &str, &str)> = again
            .villages
            .iter()
            .map(|v| (v.village_code.as_str(), v.start_date.as_str(), v.end_date.as_str()))
            .collect();
        assert_eq!(
            periods,
            [
                (VILLAGE, "2023-03-01", "2024-06-01"),
                (VILLAGE, "2024-09-01", ""),
                (OTHER_VILLAGE, "2023-03-01", "")
            ]
        );
        let current = teams.assign_team_village(assign(VILLAGE, "2024-10-01")).await.unwrap_err();
        assert_eq!(current.code(), Code::FailedPrecondition, "{current:?}");
        let back = team_summary(&s, COUNTY, "2024-10-01").await;
        assert_eq!(back.village_count, 2);
        let gap = team_summary(&s, COUNTY, "2024-08-01").await;
        assert_eq!(gap.village_count, 1);
        let got = teams.get_work_team(req(&s.admin, pb::GetWorkTeamRequest { id: team.id.clone() })).await;
        assert_eq!(got.unwrap().into_inner(), again);
        s.stop().await;
    }
}

/// How many villages of the county have one cadre as secretary and director on `as_of`.
async fn one_shoulder_count(s: &Service, as_of: &str) -> i32 {
    let mut posts = PostServiceClient::new(s.channel.clone());
    let villages =
        pb::ListOneShoulderRequest { region_code: COUNTY.into(), as_of: as_of.into(), ..Default::default() };
    posts.list_one_shoulder(req(&s.admin, villages)).await.unwrap().into_inner().one_shoulder_count
}

/// The vacant seats of `VILLAGE` on `as_of` (empty: today).
async fn village_vacancies(s: &Service, as_of: &str) -> Vec<pb::Vacancy> {
    let mut posts = PostServiceClient::new(s.channel.clone());
    let seats =
        pb::ListVacanciesRequest { region_code: VILLAGE.into(), as_of: as_of.into(), ..Default::default() };
    posts.list_vacancies(req(&s.admin, seats)).await.unwrap().into_inner().vacancies
}

/// The county dismissing the cadre on 2024-06-01, judged incompetent two years running.
fn dismissal_of(cadre_id: &str) -> pb::RecordSanctionRequest {
    pb::RecordSanctionRequest {
        cadre_id: cadre_id.into(),
        kind: pb::SanctionKind::Dismissal as i32,
        date: "2024-06-01".into(),
        reason: "连续两年考核不称职".into(),
        decided_by: "奈曼旗委组织部".into(),
        ..Default::default()
    }
}

async fn record_sanction(s: &Service, sanction: pb::RecordSanctionRequest) -> pb::Sanction {
    let mut exits = ExitServiceClient::new(s.channel.clone());
    exits.record_sanction(req(&s.admin, sanction)).await.unwrap().into_inner()
}

#[tokio::test]
async fn dismissing_a_one_shoulder_secretary_opens_both_seats_in_the_same_transaction() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        let mut exits = ExitServiceClient::new(s.channel.clone());
        let chief = new_cadre(&s, "巴特尔", 51, "1975-02-02", pb::Education::College).await;
        appoint(&s, &chief, VILLAGE, pb::PostKind::PartySecretary, 2021, "2021-03-01").await;
        appoint(&s, &chief, VILLAGE, pb::PostKind::CommitteeDirector, 2021, "2021-03-01").await;
        assert_eq!(one_shoulder_count(&s, "2024-05-01").await, 1);

        // A talk first: recorded, linked to the assessment, nothing ends.
        let talk = record_sanction(
            &s,
            pb::RecordSanctionRequest {
                cadre_id: chief.clone(),
                kind: pb::SanctionKind::AdmonishmentTalk as i32,
                date: "2023-02-01".into(),
                reason: "年度考核基本称职".into(),
                decided_by: "奈曼旗委组织部".into(),
                assessment_result_id: "assessment-2022-17".into(),
                ..Default::default()
            },
        )
        .await;
        assert!(talk.ended_post_ids.is_empty());

        let dismissal = dismissal_of(&chief);
        let denied = exits.record_sanction(req(&s.neighbour, dismissal.clone())).await.unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
        let missing_reason = exits
            .record_sanction(req(
                &s.admin,
                pb::RecordSanctionRequest { reason: " ".into(), ..dismissal.clone() },
            ))
            .await
            .unwrap_err();
        assert_invalid(missing_reason, "reason");
        let future = exits
            .record_sanction(req(
                &s.admin,
                pb::RecordSanctionRequest { date: "2999-01-01".into(), ..dismissal.clone() },
            ))
            .await
            .unwrap_err();
        assert_invalid(future, "date");
        let adjustment_without_posts = exits
            .record_sanction(req(
                &s.admin,
                pb::RecordSanctionRequest {
                    kind: pb::SanctionKind::OrganisationalAdjustment as i32,
                    ..dismissal.clone()
                },
            ))
            .await
            .unwrap_err();
        assert_invalid(adjustment_without_posts, "post_ids");
        // Nothing of the refused attempts landed: still one-shoulder.
        assert_eq!(one_shoulder_count(&s, "2024-07-01").await, 1);

        let done = exits
            .record_sanction(keyed(&s.admin, "dismiss-1", dismissal.clone()))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(done.ended_post_ids.len(), 2);
        let retried = exits.record_sanction(keyed(&s.admin, "dismiss-1", dismissal.clone())).await.unwrap();
        assert_eq!(retried.into_inner().id, done.id);

        let vacancies = village_vacancies(&s, "2024-07-01").await;
        for kind in [pb::PostKind::PartySecretary, pb::PostKind::CommitteeDirector] {
            let seat = vacancies.iter().find(|v| v.kind == kind as i32).expect("seat vacant");
            assert_eq!(seat.vacant_since, "2024-06-01");
        }
        assert_eq!(one_shoulder_count(&s, "2024-07-01").await, 0);
        let ended = posts_of(&s, &chief).await;
        assert!(ended.iter().all(|p| p.end_date == "2024-06-01" && p.end_reason.contains("连续两年")));

        // A second dismissal finds nothing left to end.
        let again = exits.record_sanction(req(&s.admin, dismissal.clone())).await.unwrap_err();
        assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");

        let listed = |year: i32, kind: pb::SanctionKind| pb::ListSanctionsRequest {
            region_code: COUNTY.into(),
            kind: kind as i32,
            year,
            ..Default::default()
        };
        let in_2024 =
            exits.list_sanctions(req(&s.admin, listed(2024, pb::SanctionKind::Unspecified))).await.unwrap();
        assert_eq!(
            in_2024.into_inner().sanctions.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(),
            [done.id.as_str()]
        );
        let talks =
            exits.list_sanctions(req(&s.admin, listed(0, pb::SanctionKind::AdmonishmentTalk))).await.unwrap();
        assert_eq!(talks.into_inner().sanctions[0].assessment_result_id, "assessment-2022-17");
        let theirs =
            exits.list_sanctions(req(&s.neighbour, pb::ListSanctionsRequest::default())).await.unwrap();
        assert!(theirs.into_inner().sanctions.is_empty());
        s.stop().await;
    }
}

/// The county's change feed after `after`: (entity, key, revision) of each row, and the head.
async fn changes_after(s: &Service, after: i64) -> (Vec<(pb::Entity, String, i64)>, i64) {
    use cadre_proto::changes::v1 as cpb;
    use cadre_proto::roster::v1::change_service_client::ChangeServiceClient;
    let mut feed = ChangeServiceClient::new(s.channel.clone());
    let page = feed
        .list_changes(req(
            &s.admin,
            cpb::ListChangesRequest { after_position: after, page_size: 1000, ..Default::default() },
        ))
        .await
        .unwrap()
        .into_inner();
    let rows = page.changes.into_iter().map(|c| (c.entity(), c.key, c.revision)).collect();
    (rows, page.head_position)
}

/// A one-shoulder secretary-director of `VILLAGE` since 2021-03-01, dismissed on
/// 2024-06-01: the cadre, the two posts (secretary, director) and the sanction.
async fn dismissed_chief(s: &Service, seq: u16) -> (String, Vec<String>, pb::Sanction) {
    let chief = new_cadre(s, "巴特尔", seq, "1975-02-02", pb::Education::College).await;
    let mut seats = Vec::new();
    for kind in [pb::PostKind::PartySecretary, pb::PostKind::CommitteeDirector] {
        seats.push(appoint(s, &chief, VILLAGE, kind, 2021, "2021-03-01").await);
    }
    let sanction = record_sanction(s, dismissal_of(&chief)).await;
    let mut ended = sanction.ended_post_ids.clone();
    ended.sort();
    let mut expected = seats.clone();
    expected.sort();
    assert_eq!(ended, expected);
    (chief, seats, sanction)
}

/// Revoking `sanction` on 2024-09-01 after an appeal, at the revision it was read with.
fn revocation(sanction: &pb::Sanction, reinstate_posts: bool) -> pb::RevokeSanctionRequest {
    pb::RevokeSanctionRequest {
        id: sanction.id.clone(),
        revision: sanction.revision,
        date: "2024-09-01".into(),
        reason: "申诉复核：考核结果有误，撤销免职决定".into(),
        decided_by: "通辽市委组织部".into(),
        reinstate_posts,
    }
}

/// Every post of the cadre, ended or not.
async fn posts_of(s: &Service, cadre_id: &str) -> Vec<pb::Post> {
    let mut posts = PostServiceClient::new(s.channel.clone());
    posts
        .list_posts(req(
            &s.admin,
            pb::ListPostsRequest { cadre_id: cadre_id.into(), include_ended: true, ..Default::default() },
        ))
        .await
        .unwrap()
        .into_inner()
        .posts
}

async fn sanctions_of(s: &Service, cadre_id: &str, exclude_revoked: bool) -> Vec<pb::Sanction> {
    let mut exits = ExitServiceClient::new(s.channel.clone());
    exits
        .list_sanctions(req(
            &s.admin,
            pb::ListSanctionsRequest { cadre_id: cadre_id.into(), exclude_revoked, ..Default::default() },
        ))
        .await
        .unwrap()
        .into_inner()
        .sanctions
}

#[tokio::test]
async fn a_dismissal_revoked_with_reinstatement_reopens_the_secretarys_posts() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        let mut exits = ExitServiceClient::new(s.channel.clone());
        let (chief, seats, dismissal) = dismissed_chief(&s, 81).await;
        let (_, head) = changes_after(&s, 0).await;

        // Dates before the dismissal or in the future, no reason, a stale revision: refused.
        let revoke = |r: pb::RevokeSanctionRequest| req(&s.admin, r);
        let early = pb::RevokeSanctionRequest { date: "2024-05-31".into(), ..revocation(&dismissal, true) };
        assert_invalid(exits.revoke_sanction(revoke(early)).await.unwrap_err(), "date");
        let future = pb::RevokeSanctionRequest { date: "2999-01-01".into(), ..revocation(&dismissal, true) };
        assert_invalid(exits.revoke_sanction(revoke(future)).await.unwrap_err(), "date");
        let no_reason = pb::RevokeSanctionRequest { reason: " ".into(), ..revocation(&dismissal, true) };
        assert_invalid(exits.revoke_sanction(revoke(no_reason)).await.unwrap_err(), "reason");
        let stale = pb::RevokeSanctionRequest { revision: 7, ..revocation(&dismissal, true) };
        let stale = exits.revoke_sanction(revoke(stale)).await.unwrap_err();
        assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
        assert!(changes_after(&s, head).await.0.is_empty(), "refused attempts changed nothing");

        let revoked = exits
            .revoke_sanction(keyed(&s.admin, "revoke-1", revocation(&dismissal, true)))
            .await
            .unwrap()
            .into_inner();
        assert!(revoked.revoked);
        assert_eq!(
            (revoked.revoked_date.as_str(), revoked.revoked_by.as_str(), revoked.revision),
            ("2024-09-01", "通辽市委组织部", 2)
        );
        assert!(revoked.revoke_reason.starts_with("申诉复核"));
        assert_eq!(revoked.reinstated_post_ids, dismissal.ended_post_ids);
        // The record itself stays as it was decided.
        assert_eq!((revoked.kind, revoked.date.as_str()), (dismissal.kind, "2024-06-01"));
        assert_eq!(revoked.ended_post_ids, dismissal.ended_post_ids);
        let retried =
            exits.revoke_sanction(keyed(&s.admin, "revoke-1", revocation(&dismissal, true))).await.unwrap();
        assert_eq!(retried.into_inner(), revoked);

        // Both posts are open again, as if never ended: one shoulder, no vacancy.
        let held = posts_of(&s, &chief).await;
        assert_eq!(held.len(), 2);
        for p in &held {
            assert!(seats.contains(&p.id));
            assert_eq!((p.end_date.as_str(), p.end_reason.as_str(), p.revision), ("", "", 3), "{p:?}");
        }
        assert_eq!(one_shoulder_count(&s, "2024-07-01").await, 1);
        let vacancies = village_vacancies(&s, "").await;
        assert!(
            !vacancies.iter().any(|v| v.kind == pb::PostKind::PartySecretary as i32
                || v.kind == pb::PostKind::CommitteeDirector as i32),
            "{vacancies:?}"
        );

        // One change row for the sanction and one per reopened post, in one transaction.
        let (rows, _) = changes_after(&s, head).await;
        let mut expected = vec![(pb::Entity::Sanction, dismissal.id.clone(), 2)];
        expected.extend(dismissal.ended_post_ids.iter().map(|p| (pb::Entity::Post, p.clone(), 3)));
        assert_eq!(rows, expected);

        // Listed with its revoked state by default; left out on request.
        let listed = sanctions_of(&s, &chief, false).await;
        assert_eq!(listed.len(), 1);
        assert!(listed[0].revoked && listed[0].revoked_date == "2024-09-01");
        assert!(sanctions_of(&s, &chief, true).await.is_empty());
        s.stop().await;
    }
}

#[tokio::test]
async fn reinstating_fails_when_the_seat_was_filled_meanwhile_and_nothing_changes() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        let mut exits = ExitServiceClient::new(s.channel.clone());
        let (chief, seats, dismissal) = dismissed_chief(&s, 82).await;
        // The township appointed a new director after the dismissal.
        let successor = new_cadre(&s, "乌力吉", 83, "1986-05-05", pb::Education::Bachelor).await;
        let new_director =
            appoint(&s, &successor, VILLAGE, pb::PostKind::CommitteeDirector, 2021, "2024-07-01").await;
        let (_, head) = changes_after(&s, 0).await;

        let refused = exits
            .revoke_sanction(keyed(&s.admin, "revoke-2", revocation(&dismissal, true)))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
        let message = refused.message();
        assert!(message.contains(&seats[1]) && message.contains("POST_KIND_COMMITTEE_DIRECTOR"), "{message}");
        assert!(message.contains("乌力吉") && message.contains(&new_director), "{message}");

        // Nothing changed: the sanction stands, the secretary's seat too stays vacant.
        assert!(changes_after(&s, head).await.0.is_empty());
        let stands = sanctions_of(&s, &chief, true).await;
        assert_eq!((stands.len(), stands[0].revision, stands[0].revoked), (1, 1, false));
        assert!(posts_of(&s, &chief).await.iter().all(|p| p.end_date == "2024-06-01"));

        // Revoked without reinstatement, the record is corrected and the posts stay ended.
        let revoked =
            exits.revoke_sanction(req(&s.admin, revocation(&dismissal, false))).await.unwrap().into_inner();
        assert!(revoked.revoked && revoked.reinstated_post_ids.is_empty());
        assert!(posts_of(&s, &chief).await.iter().all(|p| p.end_date == "2024-06-01"));
        let successor_posts = posts_of(&s, &successor).await;
        assert_eq!(
            (successor_posts[0].id.as_str(), successor_posts[0].end_date.as_str()),
            (new_director.as_str(), "")
        );
        let (rows, _) = changes_after(&s, head).await;
        assert_eq!(rows, [(pb::Entity::Sanction, dismissal.id.clone(), 2)]);
        s.stop().await;
    }
}

#[tokio::test]
async fn revoking_twice_is_refused_and_a_revoked_talk_reopens_nothing() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        let mut exits = ExitServiceClient::new(s.channel.clone());
        let cadre_id = new_cadre(&s, "某书记", 84, "1980-01-01", pb::Education::College).await;
        appoint(&s, &cadre_id, VILLAGE, pb::PostKind::PartySecretary, 2021, "2021-03-01").await;
        let talk = record_sanction(
            &s,
            pb::RecordSanctionRequest {
                cadre_id: cadre_id.clone(),
                kind: pb::SanctionKind::ReminderTalk as i32,
                date: "2024-06-01".into(),
                reason: "群众反映工作作风问题".into(),
                decided_by: "大沁他拉镇党委".into(),
                ..Default::default()
            },
        )
        .await;
        let china_today = || (chrono::Utc::now() + chrono::Duration::hours(8)).format("%Y-%m-%d").to_string();
        let before = china_today();
        let revoked = exits
            .revoke_sanction(req(
                &s.admin,
                pb::RevokeSanctionRequest {
                    date: String::new(),
                    reason: "经核实反映不实".into(),
                    ..revocation(&talk, true)
                },
            ))
            .await
            .unwrap()
            .into_inner();
        // Default date: today; nothing to reopen for a talk.
        assert!([before, china_today()].contains(&revoked.revoked_date), "{revoked:?}");
        assert!(revoked.reinstated_post_ids.is_empty());
        assert!(posts_of(&s, &cadre_id).await.iter().all(|p| p.end_date.is_empty()));

        // Once only: at the revision read before, or the one after.
        for revision in [talk.revision, revoked.revision] {
            let twice = exits
                .revoke_sanction(req(
                    &s.admin,
                    pb::RevokeSanctionRequest { revision, ..revocation(&talk, false) },
                ))
                .await
                .unwrap_err();
            assert_eq!(twice.code(), Code::FailedPrecondition, "{twice:?}");
            assert!(twice.message().contains("already revoked"), "{twice:?}");
        }
        s.stop().await;
    }
}

#[tokio::test]
async fn a_county_admin_cannot_revoke_a_sanction_next_door() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        let mut exits = ExitServiceClient::new(s.channel.clone());
        let (chief, _, dismissal) = dismissed_chief(&s, 85).await;
        let (_, head) = changes_after(&s, 0).await;
        let denied =
            exits.revoke_sanction(req(&s.neighbour, revocation(&dismissal, true))).await.unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
        let missing = exits
            .revoke_sanction(req(
                &s.admin,
                pb::RevokeSanctionRequest { id: "no-such-sanction".into(), ..revocation(&dismissal, true) },
            ))
            .await
            .unwrap_err();
        assert_eq!(missing.code(), Code::NotFound, "{missing:?}");
        assert!(changes_after(&s, head).await.0.is_empty());
        assert!(!sanctions_of(&s, &chief, false).await[0].revoked);
        assert!(posts_of(&s, &chief).await.iter().all(|p| p.end_date == "2024-06-01"));
        s.stop().await;
    }
}

#[tokio::test]
async fn assignments_and_sanctions_stored_before_the_upgrade_survive_it() {
    let upgrade = cadre_roster::MIGRATIONS.iter().position(|m| m.version == 2026120201).unwrap();
    for db in TestDb::all(&cadre_roster::MIGRATIONS[..upgrade]).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        let cadre_id = new_cadre(&s, "老村官", 91, "1970-01-01", pb::Education::Secondary).await;
        // Rows as the previous release stored them.
        let pool = db.db().pool();
        sqlx::query(
            "INSERT INTO roster_work_teams (id, name, agency, leader_name, county_code, revision, created_at, \
             updated_at) VALUES ('team-1', '旗水利局工作队', '奈曼旗水利局', '', $1, 2, 0, 0)",
        )
        .bind(COUNTY)
        .execute(pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO roster_work_team_villages (team_id, village_code, village_type, start_date, created_at) \
             VALUES ('team-1', $1, 'demonstration', '2022-03-01', 0)",
        )
        .bind(VILLAGE)
        .execute(pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO roster_sanctions (id, cadre_id, region_code, kind, decided_on, reason, decided_by, \
             assessment_result_id, post_ids, ended_post_ids, revision, created_at) \
             VALUES ('sanction-1', $1, $2, 1, '2023-05-01', '工作不实', '大沁他拉镇党委', '', '', '', 1, 7)",
        )
        .bind(cadre_id.clone())
        .bind(VILLAGE)
        .execute(pool)
        .await
        .unwrap();
        db.db().migrate(cadre_roster::MIGRATIONS).await.unwrap();

        let mut teams = WorkTeamServiceClient::new(s.channel.clone());
        let team = teams.get_work_team(req(&s.admin, pb::GetWorkTeamRequest { id: "team-1".into() })).await;
        let team = team.unwrap().into_inner();
        let periods: Vec<(&str, &str, &str)> = team
            .villages
            .iter()
            .map(|v| (v.village_code.as_str(), v.start_date.as_str(), v.end_date.as_str()))
            .collect();
        assert_eq!(periods, [(VILLAGE, "2022-03-01", "")]);
        let ended = teams
            .end_team_village(req(
                &s.admin,
                pb::EndTeamVillageRequest {
                    team_id: team.id.clone(),
                    village_code: VILLAGE.into(),
                    end_date: "2024-01-01".into(),
                    reason: "轮换".into(),
                    revision: team.revision,
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(ended.villages[0].end_date, "2024-01-01");
        let again = teams
            .assign_team_village(req(&s.admin, assignment(&team.id, VILLAGE, "2024-03-01")))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(again.villages.len(), 2);

        let stored = sanctions_of(&s, &cadre_id, false).await;
        assert_eq!((stored.len(), stored[0].revoked, stored[0].revision), (1, false, 1));
        let mut exits = ExitServiceClient::new(s.channel.clone());
        let revoked =
            exits.revoke_sanction(req(&s.admin, revocation(&stored[0], true))).await.unwrap().into_inner();
        assert!(revoked.revoked && revoked.revision == 2);
        s.stop().await;
    }
}

#[tokio::test]
async fn a_younger_better_educated_team_after_the_election_is_one_up_one_down() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        let mut terms = TermServiceClient::new(s.channel.clone());
        let old = new_cadre(&s, "老支书", 61, "1960-06-01", pb::Education::Secondary).await;
        let old_post = appoint(&s, &old, VILLAGE, pb::PostKind::PartySecretary, 2016, "2018-03-01").await;
        end_post(&s, &old_post, "2021-03-01").await;
        let young = new_cadre(&s, "大学生书记", 62, "1995-06-01", pb::Education::Bachelor).await;
        appoint(&s, &young, VILLAGE, pb::PostKind::PartySecretary, 2021, "2021-03-01").await;
        appoint(&s, &young, VILLAGE, pb::PostKind::CommitteeDirector, 2021, "2021-03-01").await;

        let cmp = terms
            .compare_terms(req(
                &s.admin,
                pb::CompareTermsRequest {
                    region_code: COUNTY.into(),
                    earlier_as_of: "2020-12-31".into(),
                    later_as_of: "2024-01-01".into(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        let (earlier, later) = (cmp.earlier.clone().unwrap(), cmp.later.clone().unwrap());
        assert_eq!((earlier.head_count, earlier.average_age), (1, 60.0));
        assert_eq!((later.head_count, later.average_age), (1, 28.0));
        assert_eq!(cmp.average_age_change, -32.0);
        assert_eq!(cmp.college_or_above_share_change, 1.0);
        assert_eq!(cmp.under_35_change, 1);
        assert_eq!(cmp.one_shoulder_share_change, 0.5);
        assert!(cmp.education_up && cmp.age_down && cmp.one_up_one_down);

        // Defaults: the eve of the region's current term, and today.
        let defaults = terms
            .compare_terms(req(
                &s.admin,
                pb::CompareTermsRequest { region_code: COUNTY.into(), ..Default::default() },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(defaults.earlier.unwrap().as_of, "2020-12-31");
        assert!(defaults.one_up_one_down);

        let denied = terms
            .compare_terms(req(
                &s.neighbour,
                pb::CompareTermsRequest { region_code: COUNTY.into(), ..Default::default() },
            ))
            .await
            .unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
        s.stop().await;
    }
}

#[tokio::test]
async fn bad_input_to_the_development_services_names_the_field() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        let mut mentoring = MentoringServiceClient::new(s.channel.clone());
        let mut teams = WorkTeamServiceClient::new(s.channel.clone());
        let mut exits = ExitServiceClient::new(s.channel.clone());
        let mut terms = TermServiceClient::new(s.channel.clone());
        let someone = new_cadre(&s, "某人", 71, "1990-01-01", pb::Education::College).await;

        let cases = [
            (
                mentoring
                    .pair_mentor(req(
                        &s.admin,
                        pb::PairMentorRequest {
                            mentor_cadre_id: "a".into(),
                            mentee_cadre_id: "b".into(),
                            ..Default::default()
                        },
                    ))
                    .await
                    .unwrap_err(),
                "start_date",
            ),
            (
                mentoring
                    .pair_mentor(req(
                        &s.admin,
                        pb::PairMentorRequest { start_date: "2024-01-01".into(), ..Default::default() },
                    ))
                    .await
                    .unwrap_err(),
                "mentor_cadre_id",
            ),
            (
                mentoring
                    .update_growth_plan(req(
                        &s.admin,
                        pb::UpdateGrowthPlanRequest { pairing_id: "x".into(), ..Default::default() },
                    ))
                    .await
                    .unwrap_err(),
                "revision",
            ),
            (
                mentoring
                    .get_mentoring_coverage(req(
                        &s.admin,
                        pb::GetMentoringCoverageRequest {
                            region_code: COUNTY.into(),
                            as_of: "2024-13-01".into(),
                            ..Default::default()
                        },
                    ))
                    .await
                    .unwrap_err(),
                "as_of",
            ),
            (
                teams
                    .create_work_team(req(
                        &s.admin,
                        pb::CreateWorkTeamRequest {
                            region_code: COUNTY.into(),
                            agency: "某局".into(),
                            ..Default::default()
                        },
                    ))
                    .await
                    .unwrap_err(),
                "name",
            ),
            (
                teams
                    .create_work_team(req(
                        &s.admin,
                        pb::CreateWorkTeamRequest {
                            region_code: "150500000000".into(),
                            name: "队".into(),
                            agency: "局".into(),
                            ..Default::default()
                        },
                    ))
                    .await
                    .unwrap_err(),
                "region_code",
            ),
            (
                teams
                    .add_team_member(req(
                        &s.admin,
                        pb::AddTeamMemberRequest {
                            team_id: "t".into(),
                            name: "人".into(),
                            agency: "局".into(),
                            start_date: "2024-01-01".into(),
                            ..Default::default()
                        },
                    ))
                    .await
                    .unwrap_err(),
                "role",
            ),
            (
                exits
                    .record_sanction(req(
                        &s.admin,
                        pb::RecordSanctionRequest {
                            cadre_id: someone.clone(),
                            reason: "原因".into(),
                            decided_by: "组织部".into(),
                            ..Default::default()
                        },
                    ))
                    .await
                    .unwrap_err(),
                "kind",
            ),
            (
                exits
                    .record_sanction(req(
                        &s.admin,
                        pb::RecordSanctionRequest {
                            cadre_id: someone.clone(),
                            kind: pb::SanctionKind::ReminderTalk as i32,
                            reason: "原因".into(),
                            ..Default::default()
                        },
                    ))
                    .await
                    .unwrap_err(),
                "decided_by",
            ),
            (
                exits
                    .list_sanctions(req(
                        &s.admin,
                        pb::ListSanctionsRequest { year: 99, ..Default::default() },
                    ))
                    .await
                    .unwrap_err(),
                "year",
            ),
            (
                terms
                    .compare_terms(req(
                        &s.admin,
                        pb::CompareTermsRequest { region_code: "15".into(), ..Default::default() },
                    ))
                    .await
                    .unwrap_err(),
                "region_code",
            ),
            (
                terms
                    .compare_terms(req(
                        &s.admin,
                        pb::CompareTermsRequest {
                            region_code: COUNTY.into(),
                            earlier_as_of: "2024-01-01".into(),
                            later_as_of: "2023-01-01".into(),
                        },
                    ))
                    .await
                    .unwrap_err(),
                "earlier_as_of",
            ),
        ];
        for (status, field) in cases {
            assert_invalid(status, field);
        }

        let revoke = pb::RevokeSanctionRequest {
            id: "s".into(),
            revision: 1,
            reason: "误录".into(),
            decided_by: "组织部".into(),
            ..Default::default()
        };
        let revocations = [
            (pb::RevokeSanctionRequest { id: String::new(), ..revoke.clone() }, "id"),
            (pb::RevokeSanctionRequest { revision: 0, ..revoke.clone() }, "revision"),
            (pb::RevokeSanctionRequest { date: "2024-1-5x".into(), ..revoke.clone() }, "date"),
            (pb::RevokeSanctionRequest { decided_by: String::new(), ..revoke.clone() }, "decided_by"),
        ];
        for (revocation, field) in revocations {
            assert_invalid(exits.revoke_sanction(req(&s.admin, revocation)).await.unwrap_err(), field);
        }

        let end_village = pb::EndTeamVillageRequest {
            team_id: "t".into(),
            village_code: VILLAGE.into(),
            revision: 1,
            ..Default::default()
        };
        let village_ends = [
            (pb::EndTeamVillageRequest { team_id: String::new(), ..end_village.clone() }, "team_id"),
            (
                pb::EndTeamVillageRequest { village_code: "1505".into(), ..end_village.clone() },
                "village_code",
            ),
            (pb::EndTeamVillageRequest { end_date: "2024-02-30".into(), ..end_village.clone() }, "end_date"),
            (pb::EndTeamVillageRequest { revision: 0, ..end_village.clone() }, "revision"),
        ];
        for (end, field) in village_ends {
            assert_invalid(teams.end_team_village(req(&s.admin, end)).await.unwrap_err(), field);
        }
        s.stop().await;
    }
}
