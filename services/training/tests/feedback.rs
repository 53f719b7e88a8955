//! Feedback: a trainee who attended answers once (1–5 and a comment), may revise it
//! until the region's close, and the organiser sees only the aggregate — nothing but
//! the count below the region's minimum of answers; each answer moves the teacher's
//! rating, which the teacher suggestions use.

mod common;

use cadre_proto::roster::v1::PostKind;
use cadre_proto::training::v1 as pb;
use cadre_proto::training::v1::enrolment_service_client::EnrolmentServiceClient;
use cadre_proto::training::v1::feedback_service_client::FeedbackServiceClient;
use cadre_proto::training::v1::session_service_client::SessionServiceClient;
use cadre_proto::training::v1::sign_in_service_client::SignInServiceClient;
use cadre_proto::training::v1::teacher_service_client::TeacherServiceClient;
use common::*;
use tonic::Code;

/// A finished county session taught by a new expert: `attended` trainees signed in,
/// one more enrolled who never came ("absent").
async fn taught(s: &Suite, attended: usize) -> (pb::Session, String, Vec<String>) {
    let course = menu(s, 2026, &[course("农村常用法律法规", pb::Topic::Law, 3.0)]).await;
    let teacher = TeacherServiceClient::new(s.channel.clone())
        .create_teacher(req(
            &s.county,
            pb::CreateTeacherRequest {
                teacher: Some(pb::Teacher {
                    kind: pb::TeacherKind::Expert as i32,
                    name: "李律师".into(),
                    affiliation: "奈曼旗司法局".into(),
                    expertise: vec![pb::Topic::Law as i32],
                    home_region_code: COUNTY.into(),
                    ..Default::default()
                }),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let session = pb::Session {
        title: "农村法律法规专题".into(),
        organiser_level: pb::OrganiserLevel::County as i32,
        organiser_region_code: COUNTY.into(),
        course_id: course[0].clone(),
        teacher_id: teacher.id.clone(),
        capacity: 50,
        sittings: vec![sitting("2026-11-20", "09:00", "11:30")],
        ..Default::default()
    };
    let mut sessions = SessionServiceClient::new(s.channel.clone());
    let session = sessions
        .create_session(req(&s.county, pb::CreateSessionRequest { session: Some(session) }))
        .await
        .unwrap()
        .into_inner();
    let mut ids: Vec<String> = (0..attended).map(|i| format!("fb-{i}")).collect();
    ids.push("absent".into());
    for id in &ids {
        s.roster.add(id, &format!("学员{id}"), VILLAGE, PostKind::PartySecretary);
        EnrolmentServiceClient::new(s.channel.clone())
            .enrol(req(&s.county, pb::EnrolRequest { session_id: session.id.clone(), cadre_id: id.clone() }))
            .await
            .unwrap();
        if id != "absent" {
            SignInServiceClient::new(s.channel.clone())
                .sign_in_by_hand(req(
                    &s.county,
                    pb::SignInByHandRequest {
                        sitting_id: session.sittings[0].id.clone(),
                        cadre_id: id.clone(),
                        reason: "纸质签到表".into(),
                    },
                ))
                .await
                .unwrap();
        }
    }
    let finish = pb::SetSessionStateRequest {
        session_id: session.id.clone(),
        state: pb::SessionState::Finished as i32,
        revision: session.revision,
        ..Default::default()
    };
    let session = sessions.set_session_state(req(&s.county, finish)).await.unwrap().into_inner();
    (session, teacher.id, ids)
}

fn answer(session: &str, cadre: &str, score: i32, comment: &str) -> pb::SubmitFeedbackRequest {
    pb::SubmitFeedbackRequest {
        session_id: session.into(),
        cadre_id: cadre.into(),
        score,
        comment: comment.into(),
    }
}

async fn summary(s: &Suite, token: &str, session: &str) -> Result<pb::FeedbackSummary, tonic::Status> {
    FeedbackServiceClient::new(s.channel.clone())
        .get_feedback_summary(req(token, pb::GetFeedbackSummaryRequest { session_id: session.into() }))
        .await
        .map(|r| r.into_inner())
}

async fn rating(s: &Suite, teacher: &str) -> (f64, i32) {
    let t = TeacherServiceClient::new(s.channel.clone())
        .get_teacher(req(&s.county, pb::GetTeacherRequest { id: teacher.into() }))
        .await
        .unwrap()
        .into_inner();
    (t.rating, t.rating_count)
}

#[tokio::test]
async fn organisers_see_feedback_only_in_aggregate_and_only_from_the_minimum() {
    for db in backends().await {
        let s = start(&db).await;
        let (session, teacher, ids) = taught(&s, 3).await;
        let mut feedback = FeedbackServiceClient::new(s.channel.clone());
        let receipt = feedback
            .submit_feedback(req(&s.township, answer(&session.id, &ids[0], 5, "案例很实用")))
            .await
            .unwrap()
            .into_inner();
        assert!(!receipt.revised && receipt.closes_at.is_some());
        feedback.submit_feedback(req(&s.county, answer(&session.id, &ids[1], 4, ""))).await.unwrap();

        // Two answers, a minimum of three: the count and nothing else.
        let two = summary(&s, &s.county, &session.id).await.unwrap();
        assert_eq!((two.answers, two.minimum, two.shown, two.mean_tenths), (2, 3, false, 0));
        assert!(two.distribution.is_empty() && two.comments.is_empty());
        assert_eq!(rating(&s, &teacher).await, (4.5, 2), "the teacher's rating moves with every answer");

        feedback.submit_feedback(req(&s.county, answer(&session.id, &ids[2], 3, "时间太短"))).await.unwrap();
        let three = summary(&s, &s.county, &session.id).await.unwrap();
        assert_eq!((three.answers, three.shown, three.mean_tenths), (3, true, 40));
        assert_eq!(three.distribution, [0, 0, 1, 1, 1]);
        assert_eq!(three.comments, ["时间太短", "案例很实用"], "sorted, never by who wrote them");

        // A revision replaces the answer (and moves the rating by the difference only).
        let revised = feedback
            .submit_feedback(req(&s.county, answer(&session.id, &ids[2], 5, "")))
            .await
            .unwrap()
            .into_inner();
        assert!(revised.revised);
        assert_eq!(summary(&s, &s.county, &session.id).await.unwrap().mean_tenths, 47);
        let (mean, count) = rating(&s, &teacher).await;
        assert_eq!(count, 3);
        assert!((mean - 14.0 / 3.0).abs() < 1e-9, "{mean}");

        // Not here: the absent trainee, a bad score, an over-long comment, next door, a township
        // reading the county's aggregate.
        let err =
            feedback.submit_feedback(req(&s.county, answer(&session.id, "absent", 1, ""))).await.unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition);
        assert!(err.message().contains("only trainees who attended"), "{err:?}");
        let err =
            feedback.submit_feedback(req(&s.county, answer(&session.id, &ids[0], 6, ""))).await.unwrap_err();
        assert!(err.message().starts_with("score: must be within 1..=5"), "{err:?}");
        let long = "很".repeat(501);
        let err = feedback
            .submit_feedback(req(&s.county, answer(&session.id, &ids[0], 4, &long)))
            .await
            .unwrap_err();
        assert!(err.message().starts_with("comment:"), "{err:?}");
        let err = feedback
            .submit_feedback(req(&s.neighbour, answer(&session.id, &ids[0], 1, "")))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound);
        assert_eq!(summary(&s, &s.neighbour, &session.id).await.unwrap_err().code(), Code::NotFound);
        assert_eq!(summary(&s, &s.township, &session.id).await.unwrap_err().code(), Code::PermissionDenied);

        // The audit log says an answer was given, never what it was.
        let audit = sqlx::query("SELECT detail FROM kit_audit_log WHERE target LIKE 'feedback/%'")
            .fetch_all(s.node.db("training").pool())
            .await;
        if let Ok(rows) = audit {
            for r in rows {
                let detail: String = sqlx::Row::get(&r, 0);
                assert!(!detail.contains("score") && !detail.contains("案例"), "{detail}");
            }
        }
        s.stop().await;
    }
}

#[tokio::test]
async fn feedback_closes_the_regions_days_after_the_finish() {
    for db in backends().await {
        let s = start(&db).await;
        let (session, _, ids) = taught(&s, 1).await;
        // Pretend it finished 15 days ago: past the default of 14 days.
        let long_ago = cadre_kit::db::to_micros(chrono::Utc::now() - chrono::Duration::days(15));
        sqlx::query("UPDATE training_sessions SET finished_at = $1 WHERE id = $2")
            .bind(long_ago)
            .bind(session.id.clone())
            .execute(s.node.db("training").pool())
            .await
            .unwrap();
        let err = FeedbackServiceClient::new(s.channel.clone())
            .submit_feedback(req(&s.county, answer(&session.id, &ids[0], 4, "")))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition);
        assert!(err.message().contains("closed at") && err.message().contains("14 days"), "{err:?}");
        s.stop().await;
    }
}
