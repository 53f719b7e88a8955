//! Forums where secretaries teach secretaries (书记讲给书记听), as a township lives them:
//! it holds a forum, a secretary raises issues there, each is assigned to a unit with a
//! deadline and moved one step at a time to closed; overdue issues raise alerts and the
//! year's statistics count them; illegal moves, stale revisions and the next county refused.

mod common;

use cadre_proto::training::v1 as pb;
use cadre_proto::training::v1::IssueState as State;
use cadre_proto::training::v1::audit_service_client::AuditServiceClient;
use cadre_proto::training::v1::change_service_client::ChangeServiceClient;
use cadre_proto::training::v1::forum_service_client::ForumServiceClient;
use common::*;
use tonic::Code;

fn forum(held: &str) -> pb::Forum {
    pb::Forum {
        region_code: TOWNSHIP.into(),
        held_date: held.into(),
        place: "镇党委会议室".into(),
        title: "书记讲给书记听 第三期".into(),
        ..Default::default()
    }
}

fn issue(forum_id: &str, cadre: &str, title: &str, deadline: &str) -> pb::RaiseIssueRequest {
    pb::RaiseIssueRequest {
        issue: Some(pb::ForumIssue {
            forum_id: forum_id.into(),
            cadre_id: cadre.into(),
            title: title.into(),
            unit_name: "镇农业农村办".into(),
            unit_region_code: TOWNSHIP.into(),
            deadline: deadline.into(),
            ..Default::default()
        }),
    }
}

fn step(i: &pb::ForumIssue, to: State, note: &str) -> pb::MoveIssueRequest {
    pb::MoveIssueRequest { issue_id: i.id.clone(), to: to as i32, note: note.into(), revision: i.revision }
}

#[tokio::test]
async fn a_township_holds_a_forum_and_its_issues_move_to_closed_with_alerts_and_statistics() {
    for db in backends().await {
        let s = start(&db).await;
        s.copied(CADRE, 1).await;
        let mut forums = ForumServiceClient::new(s.channel.clone());
        let held = day(-60);
        let year: i32 = held[..4].parse().unwrap();

        let create = pb::CreateForumRequest { forum: Some(forum(&held)) };
        let f =
            forums.create_forum(keyed(&s.township, "forum-1", create.clone())).await.unwrap().into_inner();
        let again = forums.create_forum(keyed(&s.township, "forum-1", create)).await.unwrap().into_inner();
        assert_eq!(f.id, again.id, "a retry with the key is the same forum");

        // Two issues raised by 巴特尔: one whose deadline has passed, one still due.
        let late_req = issue(&f.id, CADRE, "嘎查饮水工程管道老化", &day(-30));
        let late =
            forums.raise_issue(keyed(&s.township, "issue-1", late_req.clone())).await.unwrap().into_inner();
        let late_again =
            forums.raise_issue(keyed(&s.township, "issue-1", late_req)).await.unwrap().into_inner();
        assert_eq!(late.id, late_again.id);
        assert_eq!((late.state(), late.cadre_name.as_str()), (State::Assigned, "巴特尔"));
        assert_eq!(late.steps.len(), 1);
        assert!(late.steps[0].note.contains("镇农业农村办"), "{:?}", late.steps);
        let due = forums
            .raise_issue(req(&s.township, issue(&f.id, CADRE, "村集体经济合作社账目公开", &day(30))))
            .await
            .unwrap()
            .into_inner();

        // Skipping a step is refused naming from → to.
        let skip = forums.move_issue(req(&s.township, step(&due, State::Closed, ""))).await.unwrap_err();
        assert_eq!(skip.code(), Code::FailedPrecondition);
        assert!(skip.message().contains("is ASSIGNED; it cannot move to CLOSED"), "{skip:?}");

        let supervised = forums
            .move_issue(req(&s.township, step(&due, State::Supervised, "镇纪委督办")))
            .await
            .unwrap()
            .into_inner();
        // A stale revision is aborted.
        let stale = forums.move_issue(req(&s.township, step(&due, State::Supervised, ""))).await.unwrap_err();
        assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
        let verified = forums
            .move_issue(req(&s.county, step(&supervised, State::Verified, "旗委组织部核实")))
            .await
            .unwrap()
            .into_inner();
        let closed = forums
            .move_issue(req(&s.township, step(&verified, State::Closed, "账目已公示")))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((closed.state(), closed.closed_date.as_str()), (State::Closed, day(0).as_str()));
        let states: Vec<i32> = closed.steps.iter().map(|s| s.state).collect();
        assert_eq!(
            states,
            [State::Assigned, State::Supervised, State::Verified, State::Closed].map(|s| s as i32)
        );
        assert_eq!(closed.steps[2].note, "旗委组织部核实");
        assert!(!closed.steps[2].actor.is_empty());
        let reopen =
            forums.move_issue(req(&s.township, step(&closed, State::Assigned, ""))).await.unwrap_err();
        assert!(reopen.message().contains("is CLOSED; it cannot move to ASSIGNED"), "{reopen:?}");

        // The overdue one raises an alert; the closed one never does.
        let alerts = forums
            .list_issue_alerts(req(&s.county, pb::ListIssueAlertsRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .alerts;
        let got: Vec<(&str, i32)> = alerts.iter().map(|a| (a.issue_id.as_str(), a.days_overdue)).collect();
        assert_eq!(got, [(late.id.as_str(), 30)]);

        let stats = forums
            .get_forum_statistics(req(
                &s.county,
                pb::GetForumStatisticsRequest { year, ..Default::default() },
            ))
            .await
            .unwrap()
            .into_inner();
        let total = stats.total.unwrap();
        assert_eq!(
            (total.forums, total.issues_raised, total.closed, total.overdue, total.closed_on_time),
            (1, 2, 1, 1, 1)
        );
        assert_eq!(stats.regions.len(), 1);
        assert_eq!(stats.regions[0].region_code, TOWNSHIP);
        let listed = forums
            .list_forums(req(&s.township, pb::ListForumsRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .forums;
        assert_eq!((listed.len(), listed[0].issues), (1, 2));
        let open = forums
            .list_issues(req(
                &s.township,
                pb::ListIssuesRequest { state: State::Assigned as i32, ..Default::default() },
            ))
            .await
            .unwrap()
            .into_inner()
            .issues;
        assert_eq!(open.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), [late.id.as_str()]);

        // In the feed and the audit log.
        let changes = ChangeServiceClient::new(s.channel.clone())
            .list_changes(req(
                &s.county,
                cadre_proto::changes::v1::ListChangesRequest { page_size: 1000, ..Default::default() },
            ))
            .await
            .unwrap()
            .into_inner()
            .changes;
        let count = |e: pb::Entity| changes.iter().filter(|c| c.entity == e as i32).count();
        assert_eq!((count(pb::Entity::Forum), count(pb::Entity::ForumIssue)), (1, 5));
        let audit = AuditServiceClient::new(s.channel.clone())
            .list_audit_entries(req(
                &s.county,
                cadre_proto::audit::v1::ListAuditEntriesRequest { page_size: 100, ..Default::default() },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(audit.entries.iter().filter(|e| e.action.ends_with("MoveIssue")).count(), 3);
        s.stop().await;
    }
}

#[tokio::test]
async fn the_next_county_bad_input_and_cadres_from_elsewhere_are_refused() {
    for db in backends().await {
        let s = start(&db).await;
        s.copied(CADRE, 1).await;
        s.copied(NEXT_CADRE, 1).await;
        let mut forums = ForumServiceClient::new(s.channel.clone());
        let f = forums
            .create_forum(req(&s.township, pb::CreateForumRequest { forum: Some(forum(&day(-10))) }))
            .await
            .unwrap()
            .into_inner();
        let i = forums
            .raise_issue(req(&s.township, issue(&f.id, CADRE, "道路硬化", &day(10))))
            .await
            .unwrap()
            .into_inner();

        // The next county sees nothing and moves nothing.
        let e =
            forums.get_issue(req(&s.neighbour, pb::GetIssueRequest { id: i.id.clone() })).await.unwrap_err();
        assert_eq!(e.code(), Code::NotFound);
        let e = forums.move_issue(req(&s.neighbour, step(&i, State::Supervised, ""))).await.unwrap_err();
        assert_eq!(e.code(), Code::NotFound);
        let e =
            forums.raise_issue(req(&s.neighbour, issue(&f.id, NEXT_CADRE, "x", &day(10)))).await.unwrap_err();
        assert_eq!(e.code(), Code::NotFound, "{e:?}");
        let e = forums
            .create_forum(req(
                &s.neighbour,
                pb::CreateForumRequest {
                    forum: Some(pb::Forum { region_code: COUNTY.into(), ..forum(&day(0)) }),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
        for token in [&s.neighbour] {
            let listed =
                forums.list_forums(req(token, pb::ListForumsRequest::default())).await.unwrap().into_inner();
            assert!(listed.forums.is_empty());
            let alerts = forums
                .list_issue_alerts(req(
                    token,
                    pb::ListIssueAlertsRequest { as_of: day(100), ..Default::default() },
                ))
                .await
                .unwrap()
                .into_inner();
            assert!(alerts.alerts.is_empty());
        }
        let e = forums
            .list_issues(req(
                &s.neighbour,
                pb::ListIssuesRequest { region_code: TOWNSHIP.into(), ..Default::default() },
            ))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);

        // A cadre of the next county cannot raise an issue at this township's forum (the
        // county can see the cadre no more than the township can).
        let e =
            forums.raise_issue(req(&s.county, issue(&f.id, NEXT_CADRE, "x", &day(10)))).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(e.message().starts_with("issue.cadre_id:"), "{e:?}");

        // Bad input, each naming its field.
        let long = "长".repeat(501);
        for (bad, field) in [
            (issue(&f.id, CADRE, &long, &day(10)), "issue.title"),
            (issue(&f.id, CADRE, "", &day(10)), "issue.title"),
            (issue(&f.id, CADRE, "x", "2026-13-01"), "issue.deadline"),
            (issue(&f.id, CADRE, "x", &day(-20)), "issue.deadline"),
            (issue(&f.id, "", "x", &day(10)), "issue.cadre_id"),
        ] {
            let e = forums.raise_issue(req(&s.township, bad)).await.unwrap_err();
            assert_eq!(e.code(), Code::InvalidArgument, "{field}: {e:?}");
            assert!(e.message().starts_with(&format!("{field}:")), "{field}: {e:?}");
        }
        let mut bad_unit = issue(&f.id, CADRE, "x", &day(10));
        bad_unit.issue.as_mut().unwrap().unit_name = "单".repeat(101);
        let e = forums.raise_issue(req(&s.township, bad_unit)).await.unwrap_err();
        assert!(e.message().starts_with("issue.unit_name:"), "{e:?}");
        let e = forums
            .create_forum(req(
                &s.township,
                pb::CreateForumRequest {
                    forum: Some(pb::Forum { region_code: VILLAGE.into(), ..forum(&day(0)) }),
                },
            ))
            .await
            .unwrap_err();
        assert!(e.message().starts_with("forum.region_code:"), "{e:?}");
        let e = forums
            .move_issue(req(
                &s.township,
                pb::MoveIssueRequest { revision: 0, ..step(&i, State::Supervised, "") },
            ))
            .await
            .unwrap_err();
        assert!(e.message().starts_with("revision:"), "{e:?}");
        let e = forums
            .move_issue(req(&s.township, pb::MoveIssueRequest { to: 99, ..step(&i, State::Supervised, "") }))
            .await
            .unwrap_err();
        assert!(e.message().starts_with("to:"), "{e:?}");
        let e = forums
            .get_forum_statistics(req(
                &s.county,
                pb::GetForumStatisticsRequest { year: 0, ..Default::default() },
            ))
            .await
            .unwrap_err();
        assert!(e.message().starts_with("year:"), "{e:?}");
        s.stop().await;
    }
}

#[tokio::test]
async fn parallel_moves_of_one_issue_apply_once() {
    for db in backends().await {
        let s = start(&db).await;
        s.copied(CADRE, 1).await;
        let mut forums = ForumServiceClient::new(s.channel.clone());
        let f = forums
            .create_forum(req(&s.township, pb::CreateForumRequest { forum: Some(forum(&day(-1))) }))
            .await
            .unwrap()
            .into_inner();
        let i = forums
            .raise_issue(req(&s.township, issue(&f.id, CADRE, "垃圾清运", &day(10))))
            .await
            .unwrap()
            .into_inner();
        let tries = (0..8).map(|n| {
            let mut c = forums.clone();
            let r = step(&i, State::Supervised, &format!("督办 {n}"));
            let token = s.township.clone();
            async move { c.move_issue(req(&token, r)).await }
        });
        let results = futures::future::join_all(tries).await;
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
        for r in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(matches!(r.code(), Code::Aborted | Code::FailedPrecondition), "{r:?}");
        }
        let now = forums.get_issue(req(&s.township, pb::GetIssueRequest { id: i.id.clone() })).await.unwrap();
        assert_eq!(now.into_inner().steps.len(), 2);
        s.stop().await;
    }
}
