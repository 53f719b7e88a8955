//! Sign-in at a sitting: the organiser's screen shows a rotating code the server signs;
//! trainees sign in with it once (a retry is harmless, also when it arrives at once);
//! yesterday's photo of the code, a forged one and another sitting's are refused saying
//! which; the organiser signs someone in by hand with a reason, audited.

mod common;

use cadre_kit::config::PiiSettings;
use cadre_kit::pii::PiiCipher;
use cadre_proto::roster::v1::PostKind;
use cadre_proto::training::v1 as pb;
use cadre_proto::training::v1::audit_service_client::AuditServiceClient;
use cadre_proto::training::v1::change_service_client::ChangeServiceClient;
use cadre_proto::training::v1::enrolment_service_client::EnrolmentServiceClient;
use cadre_proto::training::v1::session_service_client::SessionServiceClient;
use cadre_proto::training::v1::sign_in_service_client::SignInServiceClient;
use cadre_training::domain::sign_in;
use common::*;
use tonic::Code;

/// A session sitting now (and one tomorrow) with `trainees` secretaries enrolled (and
/// the last of them waitlisted when `capacity` is smaller).
async fn hall(s: &Suite, trainees: usize, capacity: i32) -> (pb::Session, Vec<String>) {
    let ids: Vec<String> = (0..trainees)
        .map(|i| {
            let id = format!("trainee-{i:03}");
            s.roster.add(&id, &format!("学员{i:03}"), VILLAGE, PostKind::PartySecretary);
            id
        })
        .collect();
    let course = menu(s, 2026, &[course("党支部书记党性教育", pb::Topic::PartyEducation, 8.0)]).await;
    let tomorrow = (chrono::Utc::now() + chrono::Duration::hours(8 + 24)).format("%Y-%m-%d").to_string();
    let session = pb::Session {
        title: "村党组织书记示范培训班".into(),
        organiser_level: pb::OrganiserLevel::County as i32,
        organiser_region_code: COUNTY.into(),
        course_id: course[0].clone(),
        capacity,
        sittings: vec![sitting_now("旗委党校报告厅").await, sitting(&tomorrow, "09:00", "11:30")],
        ..Default::default()
    };
    let session = SessionServiceClient::new(s.channel.clone())
        .create_session(req(&s.county, pb::CreateSessionRequest { session: Some(session) }))
        .await
        .unwrap()
        .into_inner();
    let mut enrolments = EnrolmentServiceClient::new(s.channel.clone());
    for id in &ids {
        enrolments
            .enrol(req(&s.county, pb::EnrolRequest { session_id: session.id.clone(), cadre_id: id.clone() }))
            .await
            .unwrap();
    }
    (session, ids)
}

fn now_sitting(session: &pb::Session) -> String {
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).format("%Y-%m-%d").to_string();
    session.sittings.iter().find(|t| t.date == today).expect("a sitting today").id.clone()
}

async fn code(s: &Suite, sitting: &str) -> pb::SignInCode {
    SignInServiceClient::new(s.channel.clone())
        .get_sign_in_code(req(&s.county, pb::GetSignInCodeRequest { sitting_id: sitting.into() }))
        .await
        .unwrap()
        .into_inner()
}

async fn sign_in(
    s: &Suite,
    token: &str,
    sitting: &str,
    cadre: &str,
    code: &str,
) -> Result<pb::Attendance, tonic::Status> {
    SignInServiceClient::new(s.channel.clone())
        .sign_in(req(
            token,
            pb::SignInRequest { sitting_id: sitting.into(), cadre_id: cadre.into(), code: code.into() },
        ))
        .await
        .map(|r| r.into_inner())
}

/// Training's feed rows of sign-ins.
async fn signed_in_feed(s: &Suite) -> usize {
    let mut feed = ChangeServiceClient::new(s.channel.clone());
    let (mut after, mut n) = (0, 0);
    loop {
        let page = feed
            .list_changes(req(
                &s.county,
                cadre_proto::changes::v1::ListChangesRequest {
                    after_position: after,
                    page_size: 1000,
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        n += page.changes.iter().filter(|c| c.entity == pb::Entity::Attendance as i32).count();
        if page.changes.is_empty() {
            return n;
        }
        after = page.next_after_position;
    }
}

#[tokio::test]
async fn trainees_sign_in_once_with_the_rooms_code_and_bad_codes_say_why() {
    for db in backends().await {
        let s = start(&db).await;
        let (session, ids) = hall(&s, 3, 2).await;
        let sitting = now_sitting(&session);
        let tomorrow = session.sittings.iter().find(|t| t.id != sitting).unwrap().id.clone();
        let shown = code(&s, &sitting).await;
        assert_eq!(shown.step_seconds, 60);
        assert!(shown.code.starts_with("CT1."), "{shown:?}");

        let first = sign_in(&s, &s.county, &sitting, &ids[0], &shown.code).await.unwrap();
        assert_eq!((first.method, first.already_signed_in), (pb::SignInMethod::Code as i32, false));
        assert_eq!(first.cadre_name, "学员000");
        let retry = sign_in(&s, &s.county, &sitting, &ids[0], &shown.code).await.unwrap();
        assert!(retry.already_signed_in);
        assert_eq!(retry.signed_in_at, first.signed_in_at, "the first sign-in stands");
        assert_eq!(signed_in_feed(&s).await, 1, "a retry writes nothing");

        // Yesterday's photo of the code: signed by the server, but long expired.
        let key = cadre_training::code_key(&PiiCipher::from_settings(&PiiSettings::default()).unwrap());
        let yesterday = chrono::Utc::now() - chrono::Duration::days(1);
        let old = sign_in::issue(&key, &sitting, 60, yesterday, chrono::Utc::now());
        let err = sign_in(&s, &s.county, &sitting, &ids[1], &old.code).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(err.message().starts_with("code: expired: it was shown at"), "{err:?}");
        // Two steps ago is stale too; the step before is still fine.
        let stale = sign_in::issue(
            &key,
            &sitting,
            60,
            chrono::Utc::now() - chrono::Duration::seconds(125),
            chrono::Utc::now(),
        );
        let err = sign_in(&s, &s.county, &sitting, &ids[1], &stale.code).await.unwrap_err();
        assert!(err.message().starts_with("code: expired"), "{err:?}");
        let forged =
            shown.code.rsplit_once('.').map(|(head, _)| format!("{head}.AAAAAAAAAAAAAAAAAAAAAA")).unwrap();
        let err = sign_in(&s, &s.county, &sitting, &ids[1], &forged).await.unwrap_err();
        assert_eq!(err.message(), "code: is forged: its signature does not match");
        let err = sign_in(&s, &s.county, &tomorrow, &ids[1], &shown.code).await.unwrap_err();
        assert!(err.message().starts_with("code: is the code of another sitting"), "{err:?}");
        let err =
            sign_in(&s, &s.county, &sitting, &ids[1], "https://example.com/not-ours").await.unwrap_err();
        assert_eq!(err.message(), "code: is not a sign-in code");
        // Tomorrow's sitting has no code yet, whatever the code says.
        let tomorrows = sign_in::issue(
            &key,
            &tomorrow,
            60,
            chrono::Utc::now(),
            chrono::Utc::now() + chrono::Duration::days(2),
        );
        let err = sign_in(&s, &s.county, &tomorrow, &ids[1], &tomorrows.code).await.unwrap_err();
        assert!(err.code() == Code::FailedPrecondition && err.message().contains("opens at"), "{err:?}");
        let err = SignInServiceClient::new(s.channel.clone())
            .get_sign_in_code(req(&s.county, pb::GetSignInCodeRequest { sitting_id: tomorrow.clone() }))
            .await
            .unwrap_err();
        assert!(err.message().contains("opens at"), "{err:?}");

        // The waitlisted trainee is not enrolled; the next county sees no sitting.
        let err = sign_in(&s, &s.county, &sitting, &ids[2], &shown.code).await.unwrap_err();
        assert!(err.code() == Code::FailedPrecondition && err.message().contains("WAITLISTED"), "{err:?}");
        let err = sign_in(&s, &s.neighbour, &sitting, &ids[1], &shown.code).await.unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "{err:?}");
        let err = SignInServiceClient::new(s.channel.clone())
            .get_sign_in_code(req(&s.township, pb::GetSignInCodeRequest { sitting_id: sitting.clone() }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "the screen is the organiser's: {err:?}");

        // By hand: the organiser only, with a reason, audited.
        let mut signins = SignInServiceClient::new(s.channel.clone());
        let by_hand = |token: &str, reason: &str| {
            req(
                token,
                pb::SignInByHandRequest {
                    sitting_id: sitting.clone(),
                    cadre_id: ids[1].clone(),
                    reason: reason.into(),
                },
            )
        };
        let err = signins.sign_in_by_hand(by_hand(&s.county, " ")).await.unwrap_err();
        assert!(err.message().starts_with("reason:"), "{err:?}");
        let err = signins.sign_in_by_hand(by_hand(&s.township, "手机没电")).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
        let hand = signins
            .sign_in_by_hand(by_hand(&s.county, "手机没电，纸质签到表核对"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (hand.method, hand.reason.as_str()),
            (pb::SignInMethod::ByHand as i32, "手机没电，纸质签到表核对")
        );
        let audit = AuditServiceClient::new(s.channel.clone())
            .list_audit_entries(req(
                &s.county,
                cadre_proto::audit::v1::ListAuditEntriesRequest { page_size: 100, ..Default::default() },
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(
            audit
                .entries
                .iter()
                .any(|e| e.action.ends_with("SignInByHand") && e.detail.contains("纸质签到表")),
            "{:?}",
            audit.entries.iter().map(|e| &e.action).collect::<Vec<_>>()
        );

        let listed = signins
            .list_attendance(req(
                &s.township,
                pb::ListAttendanceRequest { sitting_id: sitting.clone(), ..Default::default() },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((listed.signed_in, listed.enrolled), (2, 2));
        assert_eq!(
            listed.attendance.iter().map(|a| a.cadre_id.as_str()).collect::<Vec<_>>(),
            [&ids[0], &ids[1]]
        );
        let session = SessionServiceClient::new(s.channel.clone())
            .get_session(req(&s.county, pb::GetSessionRequest { id: session.id.clone() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(session.sittings.iter().map(|t| t.signed_in).sum::<i32>(), 2);
        s.stop().await;
    }
}

#[tokio::test]
async fn a_storm_of_sign_ins_and_retries_records_each_trainee_once() {
    for db in backends().await {
        let s = start(&db).await;
        let (session, ids) = hall(&s, 40, 40).await;
        let sitting = now_sitting(&session);
        let shown = code(&s, &sitting).await;
        // Every trainee twice, all at once.
        let calls = ids.iter().chain(ids.iter()).map(|id| sign_in(&s, &s.county, &sitting, id, &shown.code));
        let results: Vec<pb::Attendance> =
            futures::future::join_all(calls).await.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(results.iter().filter(|a| !a.already_signed_in).count(), 40);
        assert_eq!(signed_in_feed(&s).await, 40);
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM training_attendance")
            .fetch_one(s.node.db("training").pool())
            .await
            .unwrap();
        assert_eq!(rows, 40);
        s.stop().await;
    }
}
