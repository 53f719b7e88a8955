//! Training ordered from the menu (点单式), as a county and its townships live it: the
//! township orders from the menu, the service suggests teachers with reasons, the county
//! matches, schedules, delivers or declines; illegal moves and the next county refused.

mod common;

use cadre_proto::training::v1 as pb;
use cadre_proto::training::v1::OrderState as State;
use cadre_proto::training::v1::order_service_client::OrderServiceClient;
use cadre_proto::training::v1::teacher_service_client::TeacherServiceClient;
use common::*;
use tonic::Code;

fn expert(name: &str, topics: &[pb::Topic], serves: &[&str]) -> pb::Teacher {
    pb::Teacher {
        kind: pb::TeacherKind::Expert as i32,
        name: name.into(),
        expertise: topics.iter().map(|t| *t as i32).collect(),
        home_region_code: COUNTY.into(),
        serves_region_codes: serves.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

async fn teacher(s: &Suite, t: pb::Teacher) -> pb::Teacher {
    let mut teachers = TeacherServiceClient::new(s.channel.clone());
    teachers
        .create_teacher(req(&s.county, pb::CreateTeacherRequest { teacher: Some(t) }))
        .await
        .unwrap()
        .into_inner()
}

fn order(course_id: &str, preferred: &str) -> pb::Order {
    pb::Order {
        region_code: VILLAGE.into(),
        course_id: course_id.into(),
        year: 2026,
        note: "村两委和党员代表".into(),
        preferred_date: preferred.into(),
        expected_trainees: 25,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_village_orders_and_the_county_matches_schedules_and_delivers() {
    for db in backends().await {
        let s = start(&db).await;
        let courses = menu(&s, 2026, &[course("土地流转政策与实务", pb::Topic::LandTransfer, 4.0)]).await;
        let local = teacher(&s, expert("王立新", &[pb::Topic::LandTransfer], &[TOWNSHIP])).await;
        let distant = teacher(&s, expert("李明", &[pb::Topic::LandTransfer], &[])).await;
        teacher(&s, expert("刘海燕", &[pb::Topic::Law], &[TOWNSHIP])).await;
        let mut orders = OrderServiceClient::new(s.channel.clone());

        // The township orders for one of its villages; a retry with the key is the same order.
        let submit = pb::SubmitOrderRequest { order: Some(order(&courses[0], "2026-05-20")) };
        let submitted =
            orders.submit_order(keyed(&s.township, "order-1", submit.clone())).await.unwrap().into_inner();
        let again = orders.submit_order(keyed(&s.township, "order-1", submit)).await.unwrap().into_inner();
        assert_eq!(submitted.id, again.id);
        assert_eq!(
            (submitted.state(), submitted.course_title.as_str()),
            (State::Submitted, "土地流转政策与实务")
        );
        assert_eq!(submitted.topic(), pb::Topic::LandTransfer);

        // Suggestions: the local expert first, with the service's reasons.
        let suggested = orders
            .suggest_teachers(req(
                &s.county,
                pb::SuggestTeachersRequest { order_id: submitted.id.clone(), limit: 0 },
            ))
            .await
            .unwrap()
            .into_inner()
            .suggestions;
        let ranked: Vec<&str> = suggested.iter().map(|t| t.teacher_name.as_str()).collect();
        assert_eq!(ranked, ["王立新", "李明", "刘海燕"]);
        assert!(suggested[0].reasons.contains(&"teaches 土地流转".to_string()), "{:?}", suggested[0].reasons);
        assert!(suggested[0].reasons.contains(&format!("serves township {TOWNSHIP}")));

        // Scheduling before matching is an illegal move, said from → to.
        let early = orders
            .schedule_order(req(
                &s.county,
                pb::ScheduleOrderRequest {
                    order_id: submitted.id.clone(),
                    date: "2026-05-20".into(),
                    start_time: "09:00".into(),
                    end_time: "11:30".into(),
                    place: "村党群服务中心".into(),
                    revision: submitted.revision,
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(early.code(), Code::FailedPrecondition);
        assert!(early.message().contains("is SUBMITTED; it cannot move to SCHEDULED"), "{early:?}");
        // Matching is the county's, not the township's.
        let by_township = orders
            .match_order(req(
                &s.township,
                pb::MatchOrderRequest {
                    order_id: submitted.id.clone(),
                    teacher_id: local.id.clone(),
                    revision: submitted.revision,
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(by_township.code(), Code::PermissionDenied, "{by_township:?}");

        let matched = orders
            .match_order(req(
                &s.county,
                pb::MatchOrderRequest {
                    order_id: submitted.id.clone(),
                    teacher_id: local.id.clone(),
                    revision: submitted.revision,
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((matched.state(), matched.teacher_name.as_str()), (State::Matched, "王立新"));
        // A stale revision is refused: someone moved the order since it was read.
        let stale = orders
            .decline_order(req(
                &s.county,
                pb::DeclineOrderRequest {
                    order_id: submitted.id.clone(),
                    reason: "重复".into(),
                    revision: submitted.revision,
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
        let slot = |revision| pb::ScheduleOrderRequest {
            order_id: submitted.id.clone(),
            date: "2026-05-20".into(),
            start_time: "09:00".into(),
            end_time: "11:30".into(),
            place: "白音他拉嘎查党群服务中心".into(),
            revision,
        };
        let scheduled =
            orders.schedule_order(req(&s.county, slot(matched.revision))).await.unwrap().into_inner();
        assert_eq!((scheduled.state(), scheduled.scheduled_date.as_str()), (State::Scheduled, "2026-05-20"));

        // The teacher is now busy that day: a second order's suggestions say so, and the
        // same teacher at an overlapping time is refused.
        let second = orders
            .submit_order(req(
                &s.township,
                pb::SubmitOrderRequest { order: Some(order(&courses[0], "2026-05-20")) },
            ))
            .await
            .unwrap()
            .into_inner();
        let suggested = orders
            .suggest_teachers(req(
                &s.county,
                pb::SuggestTeachersRequest { order_id: second.id.clone(), limit: 5 },
            ))
            .await
            .unwrap()
            .into_inner()
            .suggestions;
        let busy = suggested.iter().find(|t| t.teacher_id == local.id).unwrap();
        assert!(!busy.available && busy.reasons.contains(&"busy on 2026-05-20".to_string()), "{busy:?}");
        assert_eq!(suggested[0].teacher_id, distant.id, "the free expert comes first now");
        let second = orders
            .match_order(req(
                &s.county,
                pb::MatchOrderRequest {
                    order_id: second.id.clone(),
                    teacher_id: local.id.clone(),
                    revision: second.revision,
                },
            ))
            .await
            .unwrap()
            .into_inner();
        let clash = pb::ScheduleOrderRequest {
            order_id: second.id.clone(),
            start_time: "10:00".into(),
            ..slot(second.revision)
        };
        let clash = orders.schedule_order(req(&s.county, clash)).await.unwrap_err();
        assert_eq!(clash.code(), Code::FailedPrecondition);
        assert!(clash.message().contains(&submitted.id), "{clash:?}");

        // Delivered: every step is on the order, with who took it.
        let delivered = orders
            .deliver_order(req(
                &s.county,
                pb::DeliverOrderRequest {
                    order_id: submitted.id.clone(),
                    delivered_date: "2026-05-20".into(),
                    attendees: 23,
                    revision: scheduled.revision,
                },
            ))
            .await
            .unwrap()
            .into_inner();
        let steps: Vec<State> = delivered.steps.iter().map(|s| s.state()).collect();
        assert_eq!(steps, [State::Submitted, State::Matched, State::Scheduled, State::Delivered]);
        assert_eq!(delivered.attendees, 23);
        // Delivered is final.
        let after = orders
            .decline_order(req(
                &s.county,
                pb::DeclineOrderRequest {
                    order_id: submitted.id.clone(),
                    reason: "x".into(),
                    revision: delivered.revision,
                },
            ))
            .await
            .unwrap_err();
        assert!(after.message().contains("is DELIVERED; it cannot move to DECLINED"), "{after:?}");
        // The second order is declined, with the reason the township sees.
        let declined = orders
            .decline_order(req(
                &s.county,
                pb::DeclineOrderRequest {
                    order_id: second.id.clone(),
                    reason: "讲师当日已有安排，请改期".into(),
                    revision: second.revision,
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (declined.state(), declined.decline_reason.as_str()),
            (State::Declined, "讲师当日已有安排，请改期")
        );
        let seen =
            orders.get_order(req(&s.township, pb::GetOrderRequest { id: second.id.clone() })).await.unwrap();
        assert_eq!(seen.into_inner().decline_reason, "讲师当日已有安排，请改期");
        s.stop().await;
    }
}

#[tokio::test]
async fn orders_off_the_menu_from_elsewhere_or_of_other_counties_are_refused() {
    let db = backends().await.remove(0);
    let s = start(&db).await;
    let courses = menu(&s, 2026, &[course("农村常用法律法规", pb::Topic::Law, 3.0)]).await;
    let mut orders = OrderServiceClient::new(s.channel.clone());
    let refused = |o: pb::Order, token: &str| {
        let mut orders = orders.clone();
        let request = req(token, pb::SubmitOrderRequest { order: Some(o) });
        async move { orders.submit_order(request).await.unwrap_err() }
    };
    let off_menu = refused(pb::Order { year: 2027, ..order(&courses[0], "") }, &s.township).await;
    assert!(
        off_menu.message().starts_with("order.course_id:") && off_menu.message().contains("2027"),
        "{off_menu:?}"
    );
    let county_orders =
        refused(pb::Order { region_code: COUNTY.into(), ..order(&courses[0], "") }, &s.county).await;
    assert!(county_orders.message().starts_with("order.region_code:"), "{county_orders:?}");
    let unknown_village =
        refused(pb::Order { region_code: "150525100299".into(), ..order(&courses[0], "") }, &s.county).await;
    assert!(unknown_village.message().contains("not in the roster"), "{unknown_village:?}");
    let next_door = refused(order(&courses[0], ""), &s.neighbour).await;
    assert_eq!(next_door.code(), Code::PermissionDenied);
    let too_many =
        refused(pb::Order { expected_trainees: 5000, ..order(&courses[0], "") }, &s.township).await;
    assert!(too_many.message().starts_with("order.expected_trainees:"), "{too_many:?}");
    // The next county neither sees nor moves our orders.
    let ours = orders
        .submit_order(req(&s.township, pb::SubmitOrderRequest { order: Some(order(&courses[0], "")) }))
        .await
        .unwrap()
        .into_inner();
    let hidden =
        orders.get_order(req(&s.neighbour, pb::GetOrderRequest { id: ours.id.clone() })).await.unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    let listed =
        orders.list_orders(req(&s.neighbour, pb::ListOrdersRequest::default())).await.unwrap().into_inner();
    assert!(listed.orders.is_empty());
    let moved = orders
        .decline_order(req(
            &s.neighbour,
            pb::DeclineOrderRequest { order_id: ours.id, reason: "x".into(), revision: 1 },
        ))
        .await
        .unwrap_err();
    assert_eq!(moved.code(), Code::NotFound);
    s.stop().await;
}

#[tokio::test]
async fn orders_waiting_longer_than_the_county_allows_raise_alerts() {
    let db = backends().await.remove(0);
    let s = start(&db).await;
    let courses = menu(&s, 2026, &[course("村集体经济", pb::Topic::CollectiveEconomy, 8.0)]).await;
    let mut orders = OrderServiceClient::new(s.channel.clone());
    let waiting = orders
        .submit_order(req(&s.township, pb::SubmitOrderRequest { order: Some(order(&courses[0], "")) }))
        .await
        .unwrap()
        .into_inner();
    // The city sets 20 days for all its counties; the county its own 7.
    let rules = |region: &str, days| pb::SetOrderRulesRequest {
        rules: Some(pb::OrderRules { region_code: region.into(), max_wait_days: days, ..Default::default() }),
    };
    orders.set_order_rules(req(&s.city, rules("150500000000", 20))).await.unwrap();
    let effective = orders
        .get_order_rules(req(&s.township, pb::GetOrderRulesRequest { region_code: VILLAGE.into() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((effective.max_wait_days, effective.source_region_code.as_str()), (20, "150500000000"));
    orders.set_order_rules(req(&s.county, rules(COUNTY, 7))).await.unwrap();
    let not_ours = orders.set_order_rules(req(&s.township, rules(TOWNSHIP, 3))).await.unwrap_err();
    assert!(not_ours.message().starts_with("rules.region_code:"), "a township keeps no rules: {not_ours:?}");

    let reader = orders.clone();
    let alerts_on = |day: &str| {
        let mut orders = reader.clone();
        let request = req(&s.county, pb::ListOrderAlertsRequest { as_of: day.into(), ..Default::default() });
        async move { orders.list_order_alerts(request).await.unwrap().into_inner().alerts }
    };
    let submitted =
        chrono::NaiveDate::parse_from_str(&cadre_kit::dates::format(cadre_kit::dates::today()), "%Y-%m-%d")
            .unwrap();
    let day = |n: u64| cadre_kit::dates::format(submitted + chrono::Days::new(n));
    assert!(alerts_on(&day(7)).await.is_empty(), "seven days is allowed");
    let late = alerts_on(&day(8)).await;
    assert_eq!(late.len(), 1);
    assert_eq!(
        (late[0].order_id.as_str(), late[0].days_waiting, late[0].max_wait_days),
        (waiting.id.as_str(), 8, 7)
    );
    assert_eq!(late[0].course_title, "村集体经济");
    // Scheduled orders no longer wait.
    let teacher = TeacherServiceClient::new(s.channel.clone())
        .create_teacher(req(
            &s.county,
            pb::CreateTeacherRequest {
                teacher: Some(expert("周建国", &[pb::Topic::CollectiveEconomy], &[])),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let matched = orders
        .match_order(req(
            &s.county,
            pb::MatchOrderRequest { order_id: waiting.id.clone(), teacher_id: teacher.id, revision: 1 },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(alerts_on(&day(8)).await.len(), 1, "matched still waits");
    orders
        .schedule_order(req(
            &s.county,
            pb::ScheduleOrderRequest {
                order_id: waiting.id.clone(),
                date: day(9),
                start_time: "14:00".into(),
                end_time: "16:00".into(),
                place: "镇党校".into(),
                revision: matched.revision,
            },
        ))
        .await
        .unwrap();
    assert!(alerts_on(&day(8)).await.is_empty());
    s.stop().await;
}
