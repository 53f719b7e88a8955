//! Coverage: the county's secretaries and committee members against the hours their
//! posts require this year (rules per region and year), rolled up by township and
//! village; the catch-all list (兜底) of those short — the largest gap first — as JSON
//! and as an XLSX workbook the township acts on; a dismissed cadre leaves the report;
//! next door refused.

mod common;

use cadre_proto::roster::v1::PostKind;
use cadre_proto::training::v1 as pb;
use cadre_proto::training::v1::completion_service_client::CompletionServiceClient;
use cadre_proto::training::v1::enrolment_service_client::EnrolmentServiceClient;
use cadre_proto::training::v1::session_service_client::SessionServiceClient;
use cadre_proto::training::v1::sign_in_service_client::SignInServiceClient;
use common::*;
use std::sync::atomic::{AtomicU32, Ordering};
use tonic::Code;

const YEAR: i32 = 2026;

/// Each session on a day of its own.
static DAY: AtomicU32 = AtomicU32::new(0);

/// A finished session of a `hours`-hour course that `trainees` attended in full.
async fn trained(s: &Suite, hours: f64, trainees: &[&str]) {
    let course = menu(s, YEAR, &[course("党支部书记党性教育", pb::Topic::PartyEducation, hours)]).await;
    let session = pb::Session {
        title: format!("{hours} 小时专题"),
        organiser_level: pb::OrganiserLevel::County as i32,
        organiser_region_code: COUNTY.into(),
        course_id: course[0].clone(),
        capacity: 50,
        sittings: vec![sitting(
            &format!("{YEAR}-03-{:02}", 1 + DAY.fetch_add(1, Ordering::Relaxed) % 28),
            "09:00",
            "17:00",
        )],
        ..Default::default()
    };
    let mut sessions = SessionServiceClient::new(s.channel.clone());
    let session = sessions
        .create_session(req(&s.county, pb::CreateSessionRequest { session: Some(session) }))
        .await
        .unwrap()
        .into_inner();
    for id in trainees {
        EnrolmentServiceClient::new(s.channel.clone())
            .enrol(req(
                &s.county,
                pb::EnrolRequest { session_id: session.id.clone(), cadre_id: id.to_string() },
            ))
            .await
            .unwrap();
        SignInServiceClient::new(s.channel.clone())
            .sign_in_by_hand(req(
                &s.county,
                pb::SignInByHandRequest {
                    sitting_id: session.sittings[0].id.clone(),
                    cadre_id: id.to_string(),
                    reason: "纸质签到表".into(),
                },
            ))
            .await
            .unwrap();
    }
    let finish = pb::SetSessionStateRequest {
        session_id: session.id.clone(),
        state: pb::SessionState::Finished as i32,
        revision: session.revision,
        ..Default::default()
    };
    sessions.set_session_state(req(&s.county, finish)).await.unwrap();
}

async fn report(s: &Suite, token: &str, region: &str) -> Result<pb::CoverageReport, tonic::Status> {
    CompletionServiceClient::new(s.channel.clone())
        .get_coverage(req(
            token,
            pb::GetCoverageRequest {
                region_code: region.into(),
                year: YEAR,
                page_size: 100,
                ..Default::default()
            },
        ))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn the_catch_all_list_names_those_short_and_shrinks_as_they_train() {
    for db in backends().await {
        let s = start(&db).await;
        // Secretaries must reach 32 hours this year, committee members 16.
        let rules = pb::TrainingRules {
            region_code: COUNTY.into(),
            year: YEAR,
            required_hours: vec![
                pb::PostHours { post_kind: PostKind::PartySecretary as i32, hours_tenths: 320 },
                pb::PostHours { post_kind: PostKind::CommitteeMember as i32, hours_tenths: 160 },
            ],
            ..Default::default()
        };
        CompletionServiceClient::new(s.channel.clone())
            .set_training_rules(req(&s.county, pb::SetTrainingRulesRequest { rules: Some(rules) }))
            .await
            .unwrap();
        s.roster.add("sec-1", "乌云", VILLAGE, PostKind::PartySecretary);
        s.roster.add("sec-2", "张伟", VILLAGE_2, PostKind::PartySecretary);
        s.roster.add("mem-1", "刘洋", VILLAGE, PostKind::CommitteeMember);
        s.roster.add("spec-1", "赵敏", VILLAGE, PostKind::RevitalisationSpecialist);
        for id in ["sec-1", "sec-2", "mem-1", "spec-1"] {
            s.copied(id, 1).await;
        }

        // 巴特尔 (the suite's secretary) has done 32 hours; 乌云 16; 刘洋 16 (enough).
        trained(&s, 16.0, &[CADRE, "sec-1", "mem-1"]).await;
        trained(&s, 16.0, &[CADRE]).await;
        s.copied(CADRE, 1).await;

        let county = report(&s, &s.county, COUNTY).await.unwrap();
        let total = county.total.unwrap();
        // Four whose posts require hours (the specialist's do not): two covered, two short.
        assert_eq!((total.cadres, total.covered, total.short, total.untrained), (4, 2, 2, 1));
        assert_eq!(total.short_tenths, 320 + 160);
        assert_eq!(county.children.len(), 1, "one township");
        assert_eq!(county.children[0].region_code, TOWNSHIP);
        let list: Vec<(&str, i32)> =
            county.catch_all.iter().map(|c| (c.cadre_id.as_str(), c.short_tenths)).collect();
        assert_eq!(list, [("sec-2", 320), ("sec-1", 160)], "the largest gap first");

        // The township's report rolls up by village; paging walks the list.
        let township = report(&s, &s.township, TOWNSHIP).await.unwrap();
        assert_eq!(township.children.len(), 2);
        let mut first = CompletionServiceClient::new(s.channel.clone())
            .get_coverage(req(
                &s.township,
                pb::GetCoverageRequest { year: YEAR, page_size: 1, ..Default::default() },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(first.catch_all.len(), 1);
        let second = CompletionServiceClient::new(s.channel.clone())
            .get_coverage(req(
                &s.township,
                pb::GetCoverageRequest {
                    year: YEAR,
                    page_size: 1,
                    page_token: first.next_page_token.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(second.catch_all[0].cadre_id, "sec-1");
        first.catch_all.extend(second.catch_all);

        // The export: an XLSX workbook with a row per cadre short.
        let export = CompletionServiceClient::new(s.channel.clone())
            .export_catch_all(req(
                &s.township,
                pb::ExportCatchAllRequest { region_code: TOWNSHIP.into(), year: YEAR },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(export.rows, 2);
        assert!(export.content.starts_with(b"PK"), "a zip, as XLSX is");
        assert!(export.filename.ends_with(".xlsx"));

        // 张伟 trains; a dismissed 乌云 leaves the report within seconds.
        trained(&s, 32.0, &["sec-2"]).await;
        s.roster.dismiss("sec-1");
        s.copied("sec-1", 0).await;
        let after = report(&s, &s.county, COUNTY).await.unwrap();
        assert!(after.catch_all.is_empty(), "{:?}", after.catch_all);
        assert_eq!(after.total.unwrap().cadres, 3);

        // Next door, a bad year and a region outside the jurisdiction are refused.
        assert_eq!(report(&s, &s.neighbour, COUNTY).await.unwrap_err().code(), Code::PermissionDenied);
        assert_eq!(report(&s, &s.township, COUNTY).await.unwrap_err().code(), Code::PermissionDenied);
        let err = CompletionServiceClient::new(s.channel.clone())
            .get_coverage(req(&s.county, pb::GetCoverageRequest { year: 0, ..Default::default() }))
            .await
            .unwrap_err();
        assert!(err.message().starts_with("year:"), "{err:?}");
        let err = CompletionServiceClient::new(s.channel.clone())
            .export_catch_all(req(
                &s.neighbour,
                pb::ExportCatchAllRequest { region_code: TOWNSHIP.into(), year: YEAR },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
        s.stop().await;
    }
}
