//! The demo county's training, loaded through training's own API (the same checks,
//! audit and feed as any caller) once the roster's demo is there: courses and this
//! year's menu, a teacher pool of agency experts and three of the county's own
//! secretaries, order rules, this year's training rules (hours per post), orders in
//! every state, and sessions: the city's key training two months ago and last month's
//! county rotation (enrolled by list, signed in from the paper sheet, finished: hours,
//! certificates, feedback), next week's township catch-all rotation with a waitlist, and
//! the city's key training; a township forum with issues in every state and the county's
//! 兴村特岗书记 programme with members and milestones. The coverage report then shows real
//! gaps: secretaries short of their 24 hours, members with none.

use cadre_kit::call::local_request;
use cadre_kit::client::Idempotent;
use cadre_kit::identity::ServiceIdentity;
use cadre_kit::{ApiError, Principal, RegionCode, Role, dates};
use cadre_proto::roster::v1 as roster;
use cadre_proto::roster::v1::cadre_service_client::CadreServiceClient;
use cadre_proto::training::v1 as pb;
use cadre_proto::training::v1::catalogue_service_server::{CatalogueService, CatalogueServiceServer};
use cadre_proto::training::v1::completion_service_server::{CompletionService, CompletionServiceServer};
use cadre_proto::training::v1::enrolment_service_server::{EnrolmentService, EnrolmentServiceServer};
use cadre_proto::training::v1::feedback_service_server::{FeedbackService, FeedbackServiceServer};
use cadre_proto::training::v1::forum_service_server::{ForumService, ForumServiceServer};
use cadre_proto::training::v1::order_service_server::{OrderService, OrderServiceServer};
use cadre_proto::training::v1::programme_service_server::{ProgrammeService, ProgrammeServiceServer};
use cadre_proto::training::v1::session_service_server::{SessionService, SessionServiceServer};
use cadre_proto::training::v1::sign_in_service_server::{SignInService, SignInServiceServer};
use cadre_proto::training::v1::teacher_service_server::{TeacherService, TeacherServiceServer};
use chrono::Datelike;
use tonic::server::NamedService;
use tonic::{Request, Status};

use crate::TrainingApi;
use crate::store;

/// The county the roster's demo seeds (奈曼旗), and its city.
pub const DEMO_COUNTY: &str = "150525000000";
const DEMO_CITY: &str = "150500000000";

/// A request to `S`'s `method` made in process: admitted as the kit admits network
/// calls (the seeder's permission is checked), carrying the part's own token for what
/// it asks the roster.
fn as_seeder<S: NamedService, T>(
    who: &Principal,
    token: &tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
    method: &str,
    message: T,
) -> Result<Request<T>, Status> {
    let mut request = local_request(who, &format!("/{}/{method}", S::NAME), message)?;
    request.metadata_mut().insert("authorization", token.clone());
    Ok(request)
}

fn course(title: &str, topic: pb::Topic, mode: pb::CourseMode, hours: f64, owner: &str) -> pb::Course {
    let level = if owner == DEMO_CITY { pb::OrganiserLevel::City } else { pb::OrganiserLevel::County };
    pb::Course {
        title: title.into(),
        topic: topic as i32,
        mode: mode as i32,
        credit_hours: hours,
        level: level as i32,
        owner_region_code: owner.into(),
        ..Default::default()
    }
}

fn expert(name: &str, affiliation: &str, topics: &[pb::Topic]) -> pb::Teacher {
    pb::Teacher {
        kind: pb::TeacherKind::Expert as i32,
        name: name.into(),
        affiliation: affiliation.into(),
        expertise: topics.iter().map(|t| *t as i32).collect(),
        home_region_code: DEMO_COUNTY.into(),
        ..Default::default()
    }
}

/// Seeds the demo county if training holds no course yet; says what it loaded.
pub async fn seed(
    api: &TrainingApi,
    identity: &ServiceIdentity,
    progress: &(dyn Fn(usize, usize) + Send + Sync),
) -> Result<Option<String>, Status> {
    if !store::courses::list(api.db(), &[], "", None, "", 1).await?.is_empty() {
        return Ok(None);
    }
    let who = Principal {
        subject: "system:demo-seed".into(),
        roles: [Role::ProvinceAdmin].into(),
        jurisdiction: RegionCode::parse("150000000000").map_err(ApiError::internal)?,
    };
    let token = identity.authorization().map_err(|e| ApiError::internal(e.to_string()))?;
    let year = dates::today().year();
    // Courses, the menu, the order and training rules, five experts, three secretaries,
    // ten orders, four sessions, feedback.
    let total = 8 + 1 + 2 + 5 + 3 + 10 + 4 + 1 + 2;
    let mut done = 0;
    let mut step = || {
        done += 1;
        progress(done, total);
    };

    // The catalogue: the county's own courses and two of the city's.
    use pb::CourseMode as M;
    use pb::Topic as T;
    let catalogue = [
        course("土地流转政策与实务", T::LandTransfer, M::Offline, 4.0, DEMO_COUNTY),
        course("高标准农田建设与管护", T::HighStandardFarmland, M::OnSiteObservation, 6.0, DEMO_COUNTY),
        course("发展壮大村集体经济", T::CollectiveEconomy, M::CentralisedRotation, 8.0, DEMO_COUNTY),
        course("农村常用法律法规", T::Law, M::Offline, 3.0, DEMO_COUNTY),
        course("肉牛养殖与疫病防控", T::PlantingBreeding, M::OnSiteObservation, 4.5, DEMO_COUNTY),
        course("稳岗就业与劳务输出", T::Reemployment, M::Online, 2.0, DEMO_COUNTY),
        course("党支部书记党性教育", T::PartyEducation, M::CentralisedRotation, 16.0, DEMO_CITY),
        course("乡村电商与直播带货", T::Ecommerce, M::OffSiteStudy, 8.0, DEMO_CITY),
    ];
    let mut course_ids = Vec::new();
    for c in catalogue {
        let request = pb::CreateCourseRequest { course: Some(c) };
        let created = api
            .create_course(as_seeder::<CatalogueServiceServer<TrainingApi>, _>(
                &who,
                &token,
                "CreateCourse",
                request,
            )?)
            .await?;
        course_ids.push(created.into_inner().id);
        step();
    }
    let menu = pb::Menu {
        county_code: DEMO_COUNTY.into(),
        year,
        course_ids: course_ids.clone(),
        ..Default::default()
    };
    api.set_menu(as_seeder::<CatalogueServiceServer<TrainingApi>, _>(
        &who,
        &token,
        "SetMenu",
        pb::SetMenuRequest { menu: Some(menu) },
    )?)
    .await?;
    step();
    let rules = pb::OrderRules { region_code: DEMO_COUNTY.into(), max_wait_days: 10, ..Default::default() };
    api.set_order_rules(as_seeder::<OrderServiceServer<TrainingApi>, _>(
        &who,
        &token,
        "SetOrderRules",
        pb::SetOrderRulesRequest { rules: Some(rules) },
    )?)
    .await?;
    step();
    // This year's training rules (demo figures, set as data): secretaries 24 hours, the
    // other two-committee members 8; sessions complete at 80 % of their sittings.
    let members = [
        roster::PostKind::PartyDeputySecretary,
        roster::PostKind::PartyCommitteeMember,
        roster::PostKind::CommitteeDirector,
        roster::PostKind::CommitteeDeputyDirector,
        roster::PostKind::CommitteeMember,
    ];
    let mut required_hours =
        vec![pb::PostHours { post_kind: roster::PostKind::PartySecretary as i32, hours_tenths: 240 }];
    required_hours.extend(members.iter().map(|k| pb::PostHours { post_kind: *k as i32, hours_tenths: 80 }));
    let training_rules = pb::TrainingRules {
        region_code: DEMO_COUNTY.into(),
        year,
        required_hours,
        default_min_percent: 80,
        ..Default::default()
    };
    api.set_training_rules(as_seeder::<CompletionServiceServer<TrainingApi>, _>(
        &who,
        &token,
        "SetTrainingRules",
        pb::SetTrainingRulesRequest { rules: Some(training_rules) },
    )?)
    .await?;
    step();

    // The pool: agency experts, and the county's own secretaries (书记讲给书记听).
    let experts = [
        expert("王立新", "奈曼旗农业农村局", &[T::LandTransfer, T::HighStandardFarmland]),
        expert("刘海燕", "奈曼旗司法局", &[T::Law, T::RuralGovernance]),
        expert("赵志刚", "奈曼旗畜牧工作站", &[T::PlantingBreeding]),
        expert("孙丽", "奈曼旗人社局", &[T::Reemployment, T::Ecommerce]),
        expert("周建国", "旗委党校", &[T::PartyEducation, T::CollectiveEconomy]),
    ];
    let mut teacher_ids = Vec::new();
    for t in experts {
        let request = pb::CreateTeacherRequest { teacher: Some(t) };
        let created = api
            .create_teacher(as_seeder::<TeacherServiceServer<TrainingApi>, _>(
                &who,
                &token,
                "CreateTeacher",
                request,
            )?)
            .await?;
        teacher_ids.push(created.into_inner().id);
        step();
    }
    let mut metadata = tonic::metadata::MetadataMap::new();
    metadata.insert("authorization", token.clone());
    let secretaries = api
        .roster
        .call(Idempotent::Yes, None, &metadata, |channel| async move {
            let request = roster::ListCadresRequest {
                region_code: DEMO_COUNTY.into(),
                post_kind: roster::PostKind::PartySecretary as i32,
                page_size: 12,
                ..Default::default()
            };
            CadreServiceClient::new(channel).list_cadres(request).await.map(|r| r.into_inner().cadres)
        })
        .await?;
    for c in secretaries.iter().take(3) {
        let teacher = pb::Teacher {
            kind: pb::TeacherKind::Cadre as i32,
            cadre_id: c.id.clone(),
            expertise: vec![T::CollectiveEconomy as i32, T::RuralGovernance as i32],
            home_region_code: DEMO_COUNTY.into(),
            serves_region_codes: vec![c.region_code[..9].to_string() + "000"],
            ..Default::default()
        };
        let request = pb::CreateTeacherRequest { teacher: Some(teacher) };
        let created = api
            .create_teacher(as_seeder::<TeacherServiceServer<TrainingApi>, _>(
                &who,
                &token,
                "CreateTeacher",
                request,
            )?)
            .await?;
        teacher_ids.push(created.into_inner().id);
        step();
    }

    // Orders of the secretaries' villages, in every state.
    let today = dates::today();
    let villages: Vec<String> = secretaries.iter().map(|c| c.region_code.clone()).collect();
    for (i, village) in villages.iter().enumerate().take(10) {
        let order = pb::Order {
            region_code: village.clone(),
            course_id: course_ids[i % 6].clone(),
            year,
            note: "村两委班子和党员代表参加".into(),
            expected_trainees: 20 + (i as i32 % 5) * 5,
            ..Default::default()
        };
        let submitted = api
            .submit_order(as_seeder::<OrderServiceServer<TrainingApi>, _>(
                &who,
                &token,
                "SubmitOrder",
                pb::SubmitOrderRequest { order: Some(order) },
            )?)
            .await?
            .into_inner();
        let mut at = submitted;
        let target = i % 5; // 0 submitted, 1 matched, 2 scheduled, 3 delivered, 4 declined
        if target == 4 {
            let request = pb::DeclineOrderRequest {
                order_id: at.id.clone(),
                reason: "本年度菜单课程已排满，请改选下季度课程".into(),
                revision: at.revision,
            };
            api.decline_order(as_seeder::<OrderServiceServer<TrainingApi>, _>(
                &who,
                &token,
                "DeclineOrder",
                request,
            )?)
            .await?;
        }
        if (1..=3).contains(&target) {
            let request = pb::MatchOrderRequest {
                order_id: at.id.clone(),
                teacher_id: teacher_ids[i % teacher_ids.len()].clone(),
                revision: at.revision,
            };
            at = api
                .match_order(as_seeder::<OrderServiceServer<TrainingApi>, _>(
                    &who,
                    &token,
                    "MatchOrder",
                    request,
                )?)
                .await?
                .into_inner();
        }
        if (2..=3).contains(&target) {
            // Delivered sessions took place last week; the others are next week's.
            let day = if target == 3 {
                today - chrono::Days::new(7)
            } else {
                today + chrono::Days::new(7 + i as u64)
            };
            let request = pb::ScheduleOrderRequest {
                order_id: at.id.clone(),
                date: dates::format(day),
                start_time: "09:00".into(),
                end_time: "11:30".into(),
                place: "村党群服务中心".into(),
                revision: at.revision,
            };
            at = api
                .schedule_order(as_seeder::<OrderServiceServer<TrainingApi>, _>(
                    &who,
                    &token,
                    "ScheduleOrder",
                    request,
                )?)
                .await?
                .into_inner();
        }
        if target == 3 {
            let request = pb::DeliverOrderRequest {
                order_id: at.id.clone(),
                attendees: 18,
                revision: at.revision,
                ..Default::default()
            };
            api.deliver_order(as_seeder::<OrderServiceServer<TrainingApi>, _>(
                &who,
                &token,
                "DeliverOrder",
                request,
            )?)
            .await?;
        }
        step();
    }
    let township = villages.first().map(|v| format!("{}000", &v[..9])).unwrap_or_default();
    let sessions = sessions(api, &who, &token, &course_ids, &teacher_ids, &township, &mut step).await?;
    let local: Vec<&roster::Cadre> = secretaries
        .iter()
        .filter(|c| !township.is_empty() && c.region_code.starts_with(&township[..9]))
        .collect();
    let forum = forum(api, &who, &token, &township, &local).await?;
    step();
    let programme = programme(api, &who, &token, &secretaries).await?;
    step();
    progress(total, total);
    Ok(Some(format!(
        "the demo county's training: {} courses on the {year} menu, {} teachers, {} orders, {sessions}, {forum}, {programme}",
        course_ids.len(),
        teacher_ids.len(),
        villages.len().min(10)
    )))
}

fn session(
    title: &str,
    level: pb::OrganiserLevel,
    organiser: &str,
    course_id: &str,
    teacher_id: &str,
    capacity: i32,
    sittings: Vec<(chrono::NaiveDate, &str, &str, &str)>,
) -> pb::Session {
    pb::Session {
        title: title.into(),
        organiser_level: level as i32,
        organiser_region_code: organiser.into(),
        course_id: course_id.into(),
        teacher_id: teacher_id.into(),
        capacity,
        sittings: sittings
            .into_iter()
            .map(|(date, start, end, place)| pb::Sitting {
                date: dates::format(date),
                start_time: start.into(),
                end_time: end.into(),
                place: place.into(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// The city's key training two months ago and last month's county rotation of one
/// township's secretaries (enrolled by list from training's copy of the roster, signed
/// in from the paper sheet, finished: hours credited, certificates issued; the rotation's
/// feedback answered), next week's
/// catch-all rotation of the township's cadres (more than its places: a waitlist), and
/// the city's key training in two weeks. Says what it loaded.
async fn sessions(
    api: &TrainingApi,
    who: &Principal,
    token: &tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
    course_ids: &[String],
    teacher_ids: &[String],
    township: &str,
    step: &mut impl FnMut(),
) -> Result<String, Status> {
    use pb::OrganiserLevel as L;
    let today = dates::today();
    let days = |n: i64| today + chrono::Duration::days(n);
    let create = |s: pb::Session| {
        as_seeder::<SessionServiceServer<TrainingApi>, _>(
            who,
            token,
            "CreateSession",
            pb::CreateSessionRequest { session: Some(s) },
        )
    };
    let by_list = |session_id: &str, kinds: Vec<i32>| {
        let request = pb::EnrolByListRequest {
            session_id: session_id.into(),
            region_code: township.into(),
            post_kinds: kinds,
            ..Default::default()
        };
        as_seeder::<EnrolmentServiceServer<TrainingApi>, _>(who, token, "EnrolByList", request)
    };
    let secretary = vec![roster::PostKind::PartySecretary as i32];
    let finish = |session: &pb::Session| {
        let request = pb::SetSessionStateRequest {
            session_id: session.id.clone(),
            state: pb::SessionState::Finished as i32,
            revision: session.revision,
            ..Default::default()
        };
        as_seeder::<SessionServiceServer<TrainingApi>, _>(who, token, "SetSessionState", request)
    };
    let by_hand = |sitting_id: &str, cadre_id: &str| {
        let request = pb::SignInByHandRequest {
            sitting_id: sitting_id.into(),
            cadre_id: cadre_id.into(),
            reason: "按纸质签到表补录".into(),
        };
        as_seeder::<SignInServiceServer<TrainingApi>, _>(who, token, "SignInByHand", request)
    };

    // Two months ago: the city's key training (16 hours) for the township's secretaries;
    // all but the last of them came to both days.
    let key_training = session(
        "全市村党组织书记党性教育专题班",
        L::City,
        DEMO_CITY,
        &course_ids[6],
        "",
        60,
        vec![(days(-60), "09:00", "17:00", "市委党校"), (days(-59), "09:00", "17:00", "市委党校")],
    );
    let key_training = api.create_session(create(key_training)?).await?.into_inner();
    let key_list =
        api.enrol_by_list(by_list(&key_training.id, secretary.clone())?).await?.into_inner().enrolled;
    for e in key_list.iter().take(key_list.len().saturating_sub(1)) {
        for sitting in &key_training.sittings {
            api.sign_in_by_hand(by_hand(&sitting.id, &e.cadre_id)?).await?;
        }
    }
    api.set_session_state(finish(&key_training)?).await?;
    step();

    // Last month: two sittings, the township's secretaries, signed in by hand afterwards.
    let rotation = session(
        "村党组织书记集中轮训（第一期）",
        L::County,
        DEMO_COUNTY,
        &course_ids[2],
        &teacher_ids[4],
        40,
        vec![
            (days(-30), "09:00", "11:30", "旗委党校一楼报告厅"),
            (days(-29), "14:30", "17:00", "白音他拉嘎查现场教学点"),
        ],
    );
    let rotation = api.create_session(create(rotation)?).await?.into_inner();
    let enrolled = api.enrol_by_list(by_list(&rotation.id, secretary.clone())?).await?.into_inner().enrolled;
    let mut signed = 0;
    for (i, sitting) in rotation.sittings.iter().enumerate() {
        // Everyone the first day; one missed the second.
        for e in enrolled.iter().skip(i) {
            api.sign_in_by_hand(by_hand(&sitting.id, &e.cadre_id)?).await?;
            signed += 1;
        }
    }
    api.set_session_state(finish(&rotation)?).await?;
    step();

    // The rotation's trainees answer the feedback form (the teacher's rating moves).
    let comments = ["案例贴近村里实际", "", "希望多安排现场教学", "", "时间稍紧"];
    let mut answers = 0;
    for (i, e) in enrolled.iter().enumerate() {
        let request = pb::SubmitFeedbackRequest {
            session_id: rotation.id.clone(),
            cadre_id: e.cadre_id.clone(),
            score: [5, 4, 5, 3, 4][i % 5],
            comment: comments[i % 5].into(),
        };
        api.submit_feedback(as_seeder::<FeedbackServiceServer<TrainingApi>, _>(
            who,
            token,
            "SubmitFeedback",
            request,
        )?)
        .await?;
        answers += 1;
    }
    let certificate = api
        .list_completions(as_seeder::<CompletionServiceServer<TrainingApi>, _>(
            who,
            token,
            "ListCompletions",
            pb::ListCompletionsRequest {
                session_id: rotation.id.clone(),
                state: pb::CompletionState::Completed as i32,
                page_size: 1,
                ..Default::default()
            },
        )?)
        .await?
        .into_inner()
        .completions
        .pop()
        .map(|c| c.certificate_number)
        .unwrap_or_default();
    step();

    // Next week: the township's catch-all rotation of all its cadres, fewer places.
    let catch_all = session(
        "乡镇兜底轮训：村“两委”成员",
        L::Township,
        township,
        &course_ids[3],
        &teacher_ids[1],
        12,
        vec![(days(7), "09:00", "11:30", "镇党校")],
    );
    let catch_all = api.create_session(create(catch_all)?).await?.into_inner();
    let listed = api.enrol_by_list(by_list(&catch_all.id, Vec::new())?).await?.into_inner();
    step();

    // In two weeks: the city's key training for the township's secretaries.
    let city = session(
        "全市村党组织书记示范培训班",
        L::City,
        DEMO_CITY,
        &course_ids[6],
        "",
        60,
        vec![(days(14), "09:00", "17:00", "市委党校"), (days(15), "09:00", "12:00", "市委党校")],
    );
    let city = api.create_session(create(city)?).await?.into_inner();
    let city_list = api.enrol_by_list(by_list(&city.id, secretary)?).await?.into_inner();
    step();
    Ok(format!(
        "4 sessions ({} at the city's key training two months ago, {} enrolled and {signed} sign-ins last month, \
         {answers} feedback answers, {} enrolled and {} waitlisted next week, {} for the city's); a certificate to \
         verify: {certificate}",
        key_list.len(),
        enrolled.len(),
        listed.enrolled.len(),
        listed.waitlisted.len(),
        city_list.enrolled.len()
    ))
}

/// A township forum (书记讲给书记听) held six weeks ago, with issues raised by its
/// secretaries in every state: one still assigned past its deadline (an alert), one
/// supervised, one verified, one closed on time.
async fn forum(
    api: &TrainingApi,
    who: &Principal,
    token: &tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
    township: &str,
    secretaries: &[&roster::Cadre],
) -> Result<String, Status> {
    if township.is_empty() || secretaries.is_empty() {
        return Ok("no forum (no secretaries in the township)".into());
    }
    let today = dates::today();
    let day = |offset: i64| dates::format(today + chrono::Duration::days(offset));
    let forum = pb::Forum {
        region_code: township.to_string(),
        held_date: day(-45),
        place: "镇党委会议室".into(),
        title: "书记讲给书记听：村集体经济怎么破题".into(),
        ..Default::default()
    };
    let forum = api
        .create_forum(as_seeder::<ForumServiceServer<TrainingApi>, _>(
            who,
            token,
            "CreateForum",
            pb::CreateForumRequest { forum: Some(forum) },
        )?)
        .await?
        .into_inner();
    let issues = [
        ("嘎查饮水工程管道老化，夏季断水", "旗水利局", -15, pb::IssueState::Assigned),
        ("土地流转合同不规范，纠纷多", "镇农业农村办", 30, pb::IssueState::Supervised),
        ("村集体经济合作社缺少启动资金", "旗农牧局", 30, pb::IssueState::Verified),
        ("村委会办公场所漏雨", "镇人民政府", 10, pb::IssueState::Closed),
    ];
    for (i, (title, unit, deadline, target)) in issues.into_iter().enumerate() {
        let raiser = secretaries[i % secretaries.len()];
        let issue = pb::ForumIssue {
            forum_id: forum.id.clone(),
            cadre_id: raiser.id.clone(),
            title: title.into(),
            unit_name: unit.into(),
            unit_region_code: township.to_string(),
            deadline: day(deadline),
            ..Default::default()
        };
        let mut at = api
            .raise_issue(as_seeder::<ForumServiceServer<TrainingApi>, _>(
                who,
                token,
                "RaiseIssue",
                pb::RaiseIssueRequest { issue: Some(issue) },
            )?)
            .await?
            .into_inner();
        for (to, note) in [
            (pb::IssueState::Supervised, "镇纪委督办"),
            (pb::IssueState::Verified, "旗委组织部实地核实"),
            (pb::IssueState::Closed, "已办结，群众满意"),
        ] {
            if at.state >= target as i32 {
                break;
            }
            let request = pb::MoveIssueRequest {
                issue_id: at.id.clone(),
                to: to as i32,
                note: note.into(),
                revision: at.revision,
            };
            at = api
                .move_issue(as_seeder::<ForumServiceServer<TrainingApi>, _>(
                    who,
                    token,
                    "MoveIssue",
                    request,
                )?)
                .await?
                .into_inner();
        }
    }
    Ok("a forum with 4 issues (one overdue)".into())
}

/// The county's 兴村特岗书记 programme: secretaries of at most 60, two tiers, four
/// milestones; the secretaries who qualify join (the first tier, then the second) and
/// have ticked the milestones due so far, the later joiners not all of them.
async fn programme(
    api: &TrainingApi,
    who: &Principal,
    token: &tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
    secretaries: &[roster::Cadre],
) -> Result<String, Status> {
    let today = dates::today();
    let day = |offset: i64| dates::format(today + chrono::Duration::days(offset));
    let programme = pb::Programme {
        region_code: DEMO_COUNTY.into(),
        name: "兴村特岗书记 培养计划".into(),
        kind: pb::ProgrammeKind::SpecialPostSecretaries as i32,
        start_date: day(-365),
        end_date: day(730),
        eligibility: Some(pb::Eligibility {
            max_age: 60,
            post_kinds: vec![roster::PostKind::PartySecretary as i32],
            ..Default::default()
        }),
        tiers: vec![
            pb::Tier { name: "重点培养".into(), places: 4, taken: 0 },
            pb::Tier { name: "后备培养".into(), places: 8, taken: 0 },
        ],
        milestones: [("入学报到", -350), ("第一学年考核", -30), ("中期答辩", 90), ("结业考核", 720)]
            .iter()
            .map(|(name, offset)| pb::Milestone {
                id: String::new(),
                name: (*name).into(),
                due_date: day(*offset),
            })
            .collect(),
        ..Default::default()
    };
    let programme = api
        .create_programme(as_seeder::<ProgrammeServiceServer<TrainingApi>, _>(
            who,
            token,
            "CreateProgramme",
            pb::CreateProgrammeRequest { programme: Some(programme) },
        )?)
        .await?
        .into_inner();
    let mut joined = 0;
    for c in secretaries.iter().take(12) {
        let tier = if joined < 4 { "重点培养" } else { "后备培养" };
        let request = pb::AddMemberRequest {
            programme_id: programme.id.clone(),
            cadre_id: c.id.clone(),
            tier: tier.into(),
        };
        match api
            .add_member(as_seeder::<ProgrammeServiceServer<TrainingApi>, _>(
                who,
                token,
                "AddMember",
                request,
            )?)
            .await
        {
            Ok(_) => joined += 1,
            // Not eligible (too old, no secretary's post in the copy): passed over.
            Err(e) if e.code() == tonic::Code::FailedPrecondition => continue,
            Err(e) => return Err(e),
        }
        let ticks = if joined <= 4 { 2 } else { 1 };
        for m in programme.milestones.iter().take(ticks) {
            let request = pb::SetMilestoneDoneRequest {
                programme_id: programme.id.clone(),
                milestone_id: m.id.clone(),
                cadre_id: c.id.clone(),
                done: true,
            };
            api.set_milestone_done(as_seeder::<ProgrammeServiceServer<TrainingApi>, _>(
                who,
                token,
                "SetMilestoneDone",
                request,
            )?)
            .await?;
        }
    }
    Ok(format!("a programme with {joined} members"))
}
