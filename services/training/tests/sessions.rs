//! Sessions (期次) and enrolment: a county plans a session with its sittings, enrols its
//! cadres one by one (checked against the roster) or by list (from training's copy of
//! the roster), never past the capacity even when enrolments arrive at once, keeps a
//! waitlist promoted in order, refuses a cadre two sessions at the same time, and a
//! cadre dismissed in the roster drops out within seconds.

mod common;

use cadre_proto::roster::v1::PostKind;
use cadre_proto::training::v1 as pb;
use cadre_proto::training::v1::enrolment_service_client::EnrolmentServiceClient;
use cadre_proto::training::v1::session_service_client::SessionServiceClient;
use common::*;
use tonic::Code;

/// The county's course and a session of it with `capacity` places on `sittings`.
async fn session(s: &Suite, title: &str, capacity: i32, sittings: Vec<pb::Sitting>) -> pb::Session {
    let ids = menu(s, 2026, &[course("发展壮大村集体经济", pb::Topic::CollectiveEconomy, 4.0)]).await;
    let session = pb::Session {
        title: title.into(),
        organiser_level: pb::OrganiserLevel::County as i32,
        organiser_region_code: COUNTY.into(),
        course_id: ids[0].clone(),
        capacity,
        sittings,
        ..Default::default()
    };
    SessionServiceClient::new(s.channel.clone())
        .create_session(req(&s.county, pb::CreateSessionRequest { session: Some(session) }))
        .await
        .unwrap()
        .into_inner()
}

async fn enrol(s: &Suite, token: &str, session: &str, cadre: &str) -> Result<pb::Enrolment, tonic::Status> {
    EnrolmentServiceClient::new(s.channel.clone())
        .enrol(req(token, pb::EnrolRequest { session_id: session.into(), cadre_id: cadre.into() }))
        .await
        .map(|r| r.into_inner())
}

async fn list(s: &Suite, token: &str, session: &str) -> Vec<pb::Enrolment> {
    EnrolmentServiceClient::new(s.channel.clone())
        .list_enrolments(req(
            token,
            pb::ListEnrolmentsRequest { session_id: session.into(), page_size: 500, ..Default::default() },
        ))
        .await
        .unwrap()
        .into_inner()
        .enrolments
}

/// `n` secretaries of the village, in the stand-in roster: ids "sec-<tag>-<i>".
fn secretaries(s: &Suite, tag: &str, n: usize, village: &str) -> Vec<String> {
    (0..n)
        .map(|i| {
            let id = format!("sec-{tag}-{i:02}");
            s.roster.add(&id, &format!("书记{tag}{i:02}"), village, PostKind::PartySecretary);
            id
        })
        .collect()
}

#[tokio::test]
async fn places_fill_then_the_waitlist_and_a_withdrawal_promotes_the_first() {
    for db in backends().await {
        let s = start(&db).await;
        let ids = secretaries(&s, "a", 3, VILLAGE);
        let created = session(&s, "村党组织书记集中轮训", 2, vec![sitting(&day(30), "09:00", "11:30")]).await;
        assert_eq!(created.state, pb::SessionState::Open as i32);
        assert_eq!(created.sittings.len(), 1);
        let id = created.id.clone();

        let first = enrol(&s, &s.county, &id, &ids[0]).await.unwrap();
        let second = enrol(&s, &s.township, &id, &ids[1]).await.unwrap();
        let third = enrol(&s, &s.county, &id, &ids[2]).await.unwrap();
        assert_eq!(first.state, pb::EnrolmentState::Enrolled as i32);
        assert_eq!(second.state, pb::EnrolmentState::Enrolled as i32, "a township enrols its own cadre");
        assert_eq!((third.state, third.waitlist_position), (pb::EnrolmentState::Waitlisted as i32, 1));
        assert_eq!(third.cadre_name, "书记a02");
        // Enrolling again changes nothing.
        let again = enrol(&s, &s.county, &id, &ids[0]).await.unwrap();
        assert_eq!((again.id, again.revision), (first.id.clone(), first.revision));

        // Next door: the session and our cadres are as missing as unknown ones.
        let err = enrol(&s, &s.neighbour, &id, &ids[0]).await.unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "{err:?}");
        let err = enrol(&s, &s.county, &id, NEXT_CADRE).await.unwrap_err();
        assert!(err.code() == Code::InvalidArgument && err.message().starts_with("cadre_id:"), "{err:?}");

        let mut enrolments = EnrolmentServiceClient::new(s.channel.clone());
        let withdraw = |cadre: &str| pb::WithdrawRequest {
            session_id: id.clone(),
            cadre_id: cadre.into(),
            reason: "村里换届选举，无法参加".into(),
        };
        let out = enrolments.withdraw(req(&s.county, withdraw(&ids[0]))).await.unwrap().into_inner();
        assert_eq!(out.withdrawn.unwrap().state, pb::EnrolmentState::Withdrawn as i32);
        assert_eq!(out.promoted.len(), 1);
        assert_eq!((out.promoted[0].cadre_id.as_str(), out.promoted[0].state), (ids[2].as_str(), 1));
        let err = enrolments.withdraw(req(&s.county, withdraw(&ids[0]))).await.unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition);
        assert!(err.message().ends_with("is WITHDRAWN; it cannot move to WITHDRAWN"), "{err:?}");

        // The township lists its cadres; the session counts stay true.
        let seen = list(&s, &s.township, &id).await;
        assert_eq!(seen.len(), 3);
        let sessions = SessionServiceClient::new(s.channel.clone());
        let now = sessions
            .clone()
            .get_session(req(&s.township, pb::GetSessionRequest { id: id.clone() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((now.enrolled, now.waitlisted), (2, 0));

        // Lowering the capacity below those enrolled is refused; raising it promotes.
        let mut sessions = sessions;
        let err = sessions
            .set_session_capacity(req(
                &s.county,
                pb::SetSessionCapacityRequest { session_id: id.clone(), capacity: 1, revision: now.revision },
            ))
            .await
            .unwrap_err();
        assert!(err.code() == Code::InvalidArgument && err.message().starts_with("capacity:"), "{err:?}");
        // The township may not change the county's session.
        let err = sessions
            .set_session_state(req(
                &s.township,
                pb::SetSessionStateRequest {
                    session_id: id.clone(),
                    state: pb::SessionState::Closed as i32,
                    revision: now.revision,
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
        let closed = sessions
            .set_session_state(req(
                &s.county,
                pb::SetSessionStateRequest {
                    session_id: id.clone(),
                    state: pb::SessionState::Closed as i32,
                    revision: now.revision,
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        let err = enrol(&s, &s.county, &id, &ids[0]).await.unwrap_err();
        assert!(err.code() == Code::FailedPrecondition && err.message().contains("CLOSED"), "{err:?}");
        let err = sessions
            .set_session_state(req(
                &s.county,
                pb::SetSessionStateRequest {
                    session_id: id.clone(),
                    state: pb::SessionState::Finished as i32,
                    revision: closed.revision,
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err();
        assert!(err.message().contains("cannot finish before"), "{err:?}");
        let cancelled = sessions
            .set_session_state(req(
                &s.county,
                pb::SetSessionStateRequest {
                    session_id: id.clone(),
                    state: pb::SessionState::Cancelled as i32,
                    reason: "场地检修".into(),
                    revision: closed.revision,
                },
            ))
            .await
            .unwrap()
            .into_inner();
        let err = sessions
            .set_session_state(req(
                &s.county,
                pb::SetSessionStateRequest {
                    session_id: id.clone(),
                    state: pb::SessionState::Open as i32,
                    revision: cancelled.revision,
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.message(), format!("session {id} is CANCELLED; it cannot move to OPEN"));
        s.stop().await;
    }
}

#[tokio::test]
async fn parallel_enrolments_never_pass_the_capacity() {
    for db in backends().await {
        let s = start(&db).await;
        let ids = secretaries(&s, "p", 30, VILLAGE);
        let created = session(&s, "高标准农田建设专题班", 7, vec![sitting(&day(31), "09:00", "12:00")]).await;
        let calls = ids.iter().map(|cadre| enrol(&s, &s.county, &created.id, cadre));
        let results: Vec<pb::Enrolment> =
            futures::future::join_all(calls).await.into_iter().map(|r| r.unwrap()).collect();
        let enrolled = results.iter().filter(|e| e.state == pb::EnrolmentState::Enrolled as i32).count();
        assert_eq!(enrolled, 7);
        let listed = list(&s, &s.county, &created.id).await;
        assert_eq!(listed.iter().filter(|e| e.state == pb::EnrolmentState::Enrolled as i32).count(), 7);
        let mut places: Vec<i32> = listed
            .iter()
            .filter(|e| e.state == pb::EnrolmentState::Waitlisted as i32)
            .map(|e| e.waitlist_position)
            .collect();
        places.sort_unstable();
        assert_eq!(places, (1..=23).collect::<Vec<_>>(), "one queue, no gaps, no twins");
        let session = SessionServiceClient::new(s.channel.clone())
            .get_session(req(&s.county, pb::GetSessionRequest { id: created.id.clone() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((session.enrolled, session.waitlisted), (7, 23));
        s.stop().await;
    }
}

#[tokio::test]
async fn a_cadre_is_never_in_two_sessions_at_the_same_time() {
    for db in backends().await {
        let s = start(&db).await;
        let ids = secretaries(&s, "o", 2, VILLAGE);
        let morning = session(&s, "土地流转政策", 30, vec![sitting(&day(20), "09:00", "11:30")]).await;
        let overlapping = session(&s, "电商直播带货", 30, vec![sitting(&day(20), "11:00", "12:00")]).await;
        let afternoon = session(&s, "农村法律法规", 30, vec![sitting(&day(20), "11:30", "17:00")]).await;
        enrol(&s, &s.county, &morning.id, &ids[0]).await.unwrap();
        let err = enrol(&s, &s.county, &overlapping.id, &ids[0]).await.unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition);
        assert!(
            err.message().contains(&morning.id)
                && err.message().contains(&format!("{} 09:00–11:30", day(20))),
            "names the other session: {err:?}"
        );
        enrol(&s, &s.county, &afternoon.id, &ids[0]).await.expect("back to back is fine");

        // By list: the clash is a reason, the others are enrolled.
        for id in &ids {
            s.copied(id, 1).await;
        }
        let out = EnrolmentServiceClient::new(s.channel.clone())
            .enrol_by_list(req(
                &s.county,
                pb::EnrolByListRequest {
                    session_id: overlapping.id.clone(),
                    cadre_ids: ids.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(out.enrolled.iter().map(|e| e.cadre_id.as_str()).collect::<Vec<_>>(), [ids[1].as_str()]);
        assert_eq!(out.skipped.len(), 1);
        assert!(out.skipped[0].reason.contains(&morning.id), "{:?}", out.skipped);
        s.stop().await;
    }
}

#[tokio::test]
async fn enrolment_by_list_takes_the_townships_secretaries_and_a_dismissed_one_drops_out() {
    for db in backends().await {
        let s = start(&db).await;
        let here = secretaries(&s, "t", 3, VILLAGE);
        let there = secretaries(&s, "u", 2, VILLAGE_2);
        s.roster.add("director-1", "主任甲", VILLAGE, PostKind::CommitteeDirector);
        s.roster.add("elsewhere", "外县书记", NEXT_VILLAGE, PostKind::PartySecretary);
        for id in here.iter().chain(&there) {
            s.copied(id, 1).await;
        }
        let first = session(&s, "大沁他拉镇书记轮训", 4, vec![sitting(&day(40), "09:00", "11:30")]).await;
        let by_list = |session: &str, token: &str| {
            let request = pb::EnrolByListRequest {
                session_id: session.into(),
                region_code: TOWNSHIP.into(),
                post_kinds: vec![PostKind::PartySecretary as i32],
                ..Default::default()
            };
            let mut client = EnrolmentServiceClient::new(s.channel.clone());
            let token = token.to_string();
            async move { client.enrol_by_list(req(&token, request)).await.map(|r| r.into_inner()) }
        };
        let out = by_list(&first.id, &s.township).await.unwrap();
        // The township's six secretaries (巴特尔 among them; not the director, nobody next
        // door), in village then name order: four places, then the waitlist.
        let names = |es: &[pb::Enrolment]| es.iter().map(|e| e.cadre_name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&out.enrolled), ["书记t00", "书记t01", "书记t02", "巴特尔"]);
        assert_eq!(names(&out.waitlisted), ["书记u00", "书记u01"]);
        assert_eq!(out.waitlisted.iter().map(|e| e.waitlist_position).collect::<Vec<_>>(), [1, 2]);
        let again = by_list(&first.id, &s.township).await.unwrap();
        assert!(again.enrolled.is_empty() && again.skipped.len() == 6, "{again:?}");
        // Next door may not list our township.
        assert_eq!(by_list(&first.id, &s.neighbour).await.unwrap_err().code(), Code::NotFound);

        // 书记t01 is dismissed in the roster: within seconds training's copy knows, new
        // lists pass them over, one-by-one enrolment is refused, and they are not promoted.
        s.roster.dismiss(&here[1]);
        let took = s.copied(&here[1], 0).await;
        assert!(took < std::time::Duration::from_secs(10), "{took:?}");
        let second = session(&s, "第二期书记轮训", 10, vec![sitting(&day(47), "09:00", "11:30")]).await;
        let out = by_list(&second.id, &s.county).await.unwrap();
        assert_eq!(names(&out.enrolled), ["书记t00", "书记t02", "巴特尔", "书记u00", "书记u01"]);
        let err = enrol(&s, &s.county, &second.id, &here[1]).await.unwrap_err();
        assert!(err.code() == Code::FailedPrecondition && err.message().contains("holds no post"), "{err:?}");
        let listed = list(&s, &s.county, &first.id).await;
        assert!(listed.iter().any(|e| e.cadre_id == here[1] && e.left_roster));

        // A post appointed later reaches its holder through the post's own change.
        s.roster.appoint(&there[0], PostKind::CommitteeDirector);
        s.copied(&there[0], 2).await;
        s.stop().await;
    }
}

#[tokio::test]
async fn bad_sessions_are_refused_naming_the_field() {
    let db = cadre_kit::testing::TestDb::sqlite(cadre_training::MIGRATIONS).await;
    let s = start(&db).await;
    let ids = menu(&s, 2026, &[course("农村常用法律法规", pb::Topic::Law, 3.0)]).await;
    let good = pb::Session {
        title: "法律明白人培训".into(),
        organiser_level: pb::OrganiserLevel::Township as i32,
        organiser_region_code: TOWNSHIP.into(),
        course_id: ids[0].clone(),
        capacity: 40,
        sittings: vec![sitting(&day(10), "09:00", "11:30")],
        ..Default::default()
    };
    let mut sessions = SessionServiceClient::new(s.channel.clone());
    let township = sessions
        .create_session(req(&s.township, pb::CreateSessionRequest { session: Some(good.clone()) }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(township.course_title, "农村常用法律法规", "a township uses its county's course");
    let cases: Vec<(pb::Session, &str)> = vec![
        (pb::Session { capacity: 0, ..good.clone() }, "session.capacity:"),
        (
            pb::Session { organiser_region_code: COUNTY.into(), ..good.clone() },
            "session.organiser_region_code:",
        ),
        (pb::Session { course_id: "no-such-course".into(), ..good.clone() }, "session.course_id:"),
        (pb::Session { teacher_id: "no-such-teacher".into(), ..good.clone() }, "session.teacher_id:"),
        (
            pb::Session { sittings: vec![sitting("2026-02-30", "09:00", "10:00")], ..good.clone() },
            "session.sittings[0].date:",
        ),
        (
            pb::Session {
                sittings: vec![sitting(&day(10), "09:00", "11:30"), sitting(&day(10), "10:00", "12:00")],
                ..good.clone()
            },
            "session.sittings[1]:",
        ),
        (pb::Session { sign_in_opens_minutes: 500, ..good.clone() }, "session.sign_in_opens_minutes:"),
    ];
    for (bad, field) in cases {
        let err = sessions
            .create_session(req(&s.township, pb::CreateSessionRequest { session: Some(bad) }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{field} {err:?}");
        assert!(err.message().starts_with(field), "{field}: {err:?}");
    }
    // A township organises only its own; the next county not ours.
    let err = sessions
        .create_session(req(&s.neighbour, pb::CreateSessionRequest { session: Some(good) }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let hidden = sessions.get_session(req(&s.neighbour, pb::GetSessionRequest { id: township.id })).await;
    assert_eq!(hidden.unwrap_err().code(), Code::NotFound);
    s.stop().await;
}
