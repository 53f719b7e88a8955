//! The teacher pool: a county's own secretary checked against the roster with the
//! caller's rights (书记讲给书记听), outside experts, menus kept by the county, and what
//! happens when the roster is down (sessions go on; enrolment says the roster is missing).

mod common;

use cadre_kit::Role;
use cadre_kit::testing::{TestDb, TestNode, permissions};
use cadre_proto::training::v1 as pb;
use cadre_proto::training::v1::catalogue_service_client::CatalogueServiceClient;
use cadre_proto::training::v1::enrolment_service_client::EnrolmentServiceClient;
use cadre_proto::training::v1::session_service_client::SessionServiceClient;
use cadre_proto::training::v1::teacher_service_client::TeacherServiceClient;
use common::*;
use tonic::Code;

fn secretary(cadre_id: &str) -> pb::Teacher {
    pb::Teacher {
        kind: pb::TeacherKind::Cadre as i32,
        cadre_id: cadre_id.into(),
        name: "ignored: the roster's name wins".into(),
        expertise: vec![pb::Topic::CollectiveEconomy as i32],
        home_region_code: COUNTY.into(),
        serves_region_codes: vec![TOWNSHIP.into()],
        ..Default::default()
    }
}

#[tokio::test]
async fn a_secretary_teaches_under_the_rosters_name_and_only_once() {
    for db in backends().await {
        let s = start(&db).await;
        let mut teachers = TeacherServiceClient::new(s.channel.clone());
        let created = teachers
            .create_teacher(req(&s.county, pb::CreateTeacherRequest { teacher: Some(secretary(CADRE)) }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((created.name.as_str(), created.affiliation.as_str()), ("巴特尔", "白音他拉嘎查"));
        assert_eq!(created.serves_region_codes, [TOWNSHIP]);
        let twice = teachers
            .create_teacher(req(&s.county, pb::CreateTeacherRequest { teacher: Some(secretary(CADRE)) }))
            .await
            .unwrap_err();
        assert_eq!(twice.code(), Code::FailedPrecondition, "{twice:?}");
        // Another county's cadre is not in our roster: as missing as an unknown one.
        for cadre in [NEXT_CADRE, "no-such-cadre"] {
            let err = teachers
                .create_teacher(req(&s.county, pb::CreateTeacherRequest { teacher: Some(secretary(cadre)) }))
                .await
                .unwrap_err();
            assert_eq!(err.code(), Code::InvalidArgument);
            assert!(err.message().starts_with("teacher.cadre_id:"), "{err:?}");
        }
        // The township sees its county's pool; the next county does not.
        let seen =
            teachers.get_teacher(req(&s.township, pb::GetTeacherRequest { id: created.id.clone() })).await;
        assert_eq!(seen.unwrap().into_inner().name, "巴特尔");
        let hidden =
            teachers.get_teacher(req(&s.neighbour, pb::GetTeacherRequest { id: created.id.clone() })).await;
        assert_eq!(hidden.unwrap_err().code(), Code::NotFound);
        // A cadre's name is the roster's to change; other fields are the county's.
        let rename = pb::UpdateTeacherRequest {
            teacher: Some(pb::Teacher {
                id: created.id.clone(),
                revision: 1,
                name: "x".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["name".into()] }),
        };
        assert!(
            teachers.update_teacher(req(&s.county, rename)).await.unwrap_err().message().contains("roster")
        );
        let retire = pb::UpdateTeacherRequest {
            teacher: Some(pb::Teacher {
                id: created.id.clone(),
                revision: 1,
                active: false,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["active".into()] }),
        };
        let retired = teachers.update_teacher(req(&s.county, retire.clone())).await.unwrap().into_inner();
        assert_eq!((retired.active, retired.revision), (false, 2));
        let stale = teachers.update_teacher(req(&s.county, retire)).await.unwrap_err();
        assert_eq!(stale.code(), Code::Aborted);
        let listed = teachers
            .list_teachers(req(&s.county, pb::ListTeachersRequest::default()))
            .await
            .unwrap()
            .into_inner();
        assert!(listed.teachers.is_empty(), "inactive teachers are left out unless asked for");
        s.stop().await;
    }
}

#[tokio::test]
async fn menus_list_only_courses_kept_by_the_county_or_above_it() {
    let db = backends().await.remove(0);
    let s = start(&db).await;
    let ids = menu(&s, 2026, &[course("土地流转", pb::Topic::LandTransfer, 1.5)]).await;
    let mut catalogue = CatalogueServiceClient::new(s.channel.clone());
    let theirs = catalogue
        .create_course(req(
            &s.neighbour,
            pb::CreateCourseRequest {
                course: Some(pb::Course {
                    owner_region_code: NEXT_COUNTY.into(),
                    ..course("外旗课程", pb::Topic::Law, 2.0)
                }),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let mixed = pb::Menu {
        county_code: COUNTY.into(),
        year: 2027,
        course_ids: vec![ids[0].clone(), theirs.id],
        ..Default::default()
    };
    let err = catalogue.set_menu(req(&s.county, pb::SetMenuRequest { menu: Some(mixed) })).await.unwrap_err();
    assert!(err.message().starts_with("menu.course_ids[1]:"), "{err:?}");
    let by_township =
        pb::Menu { county_code: COUNTY.into(), year: 2027, course_ids: ids.clone(), ..Default::default() };
    let err = catalogue
        .set_menu(req(&s.township, pb::SetMenuRequest { menu: Some(by_township) }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let seen = catalogue
        .get_menu(req(&s.township, pb::GetMenuRequest { county_code: COUNTY.into(), year: 2026 }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((seen.courses.len(), seen.courses[0].credit_hours), (1, 1.5));
    let bad_hours = catalogue
        .create_course(req(
            &s.county,
            pb::CreateCourseRequest { course: Some(course("x", pb::Topic::Law, 1.25)) },
        ))
        .await
        .unwrap_err();
    assert!(bad_hours.message().starts_with("course.credit_hours:"), "{bad_hours:?}");
    s.stop().await;
}

#[tokio::test]
async fn with_the_roster_down_only_what_needs_it_fails_naming_it() {
    let db = TestDb::sqlite(cadre_training::MIGRATIONS).await;
    let mut settings = cadre_kit::config::Settings {
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        demo: false,
        ..Default::default()
    };
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    settings.part_mut("roster").endpoints = Some(format!("http://{closed}"));
    settings.part_mut("training").database.url = Some(db.url().clone());
    settings.client.default_deadline_ms = 1500;
    let node = TestNode::start_with(vec![&cadre_training::Training], settings).await;
    let county = node.token(&[Role::CountyAdmin], COUNTY);
    let mut teachers = TeacherServiceClient::new(node.channel.clone());
    let err = teachers
        .create_teacher(req(&county, pb::CreateTeacherRequest { teacher: Some(secretary(CADRE)) }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(err.message().starts_with("roster:"), "{err:?}");
    // What is training's own keeps working.
    let expert = pb::Teacher {
        kind: pb::TeacherKind::Expert as i32,
        name: "王立新".into(),
        cadre_id: String::new(),
        ..secretary("")
    };
    teachers.create_teacher(req(&county, pb::CreateTeacherRequest { teacher: Some(expert) })).await.unwrap();
    // Sessions are training's own; enrolling a cadre needs the roster (or its copy,
    // which the follower could not fill), and says so.
    let course = CatalogueServiceClient::new(node.channel.clone())
        .create_course(req(
            &county,
            pb::CreateCourseRequest {
                course: Some(course("土地流转政策与实务", pb::Topic::LandTransfer, 4.0)),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let session = pb::Session {
        title: "土地流转专题班".into(),
        organiser_level: pb::OrganiserLevel::County as i32,
        organiser_region_code: COUNTY.into(),
        course_id: course.id,
        capacity: 30,
        sittings: vec![sitting(&day(14), "09:00", "11:30")],
        ..Default::default()
    };
    let mut sessions = SessionServiceClient::new(node.channel.clone());
    let session = sessions
        .create_session(req(&county, pb::CreateSessionRequest { session: Some(session) }))
        .await
        .unwrap()
        .into_inner();
    let listed = sessions.list_sessions(req(&county, pb::ListSessionsRequest::default())).await.unwrap();
    assert_eq!(listed.into_inner().sessions.len(), 1);
    let mut enrolments = EnrolmentServiceClient::new(node.channel.clone());
    let err = enrolments
        .enrol(req(&county, pb::EnrolRequest { session_id: session.id.clone(), cadre_id: CADRE.into() }))
        .await
        .unwrap_err();
    assert!(err.code() == Code::Unavailable && err.message().starts_with("roster:"), "{err:?}");
    let by_list =
        pb::EnrolByListRequest { session_id: session.id, region_code: TOWNSHIP.into(), ..Default::default() };
    let err = enrolments.enrol_by_list(req(&county, by_list)).await.unwrap_err();
    assert!(err.code() == Code::Unavailable && err.message().starts_with("roster:"), "{err:?}");
    node.stop().await;
}

#[tokio::test]
async fn every_training_rpc_is_denied_by_default() {
    let db = TestDb::sqlite(cadre_training::MIGRATIONS).await;
    let s = start(&db).await;
    permissions::refuse_tokens_that_grant_nothing(&s.channel, "cadre.training.", COUNTY).await;
    let callers: Vec<(Role, String)> = [
        (Role::CountyAdmin, COUNTY),
        (Role::TownshipAdmin, TOWNSHIP),
        (Role::ScoringUnit, COUNTY),
        (Role::Auditor, COUNTY),
    ]
    .into_iter()
    .map(|(role, region)| (role, s.node.token(&[role], region)))
    .collect();
    permissions::grant_what_the_table_says(&s.channel, "cadre.training.", &callers).await;
    s.stop().await;
}
