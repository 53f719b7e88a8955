//! Programmes (cohorts) as a county runs them: eligibility rules as data checked against
//! training's copy of the roster (each refusal naming the rule), places per tier never
//! exceeded (also under parallel adds), milestones ticked per member and progress; the
//! next county refused.

mod common;

use cadre_proto::roster::v1 as rpb;
use cadre_proto::training::v1 as pb;
use cadre_proto::training::v1::change_service_client::ChangeServiceClient;
use cadre_proto::training::v1::programme_service_client::ProgrammeServiceClient;
use common::*;
use tonic::Code;

fn programme(eligibility: pb::Eligibility, tiers: &[(&str, i32)]) -> pb::Programme {
    pb::Programme {
        region_code: COUNTY.into(),
        name: "兴村特岗书记 第三批".into(),
        kind: pb::ProgrammeKind::SpecialPostSecretaries as i32,
        start_date: day(-400),
        end_date: day(400),
        eligibility: Some(eligibility),
        tiers: tiers.iter().map(|(n, p)| pb::Tier { name: n.to_string(), places: *p, taken: 0 }).collect(),
        milestones: [("入学报到", -200), ("中期考核", -10), ("结业答辩", 100)]
            .iter()
            .map(|(n, d)| pb::Milestone { id: String::new(), name: n.to_string(), due_date: day(*d) })
            .collect(),
        ..Default::default()
    }
}

fn secretaries() -> pb::Eligibility {
    pb::Eligibility {
        max_age: 50,
        age_on: String::new(),
        post_kinds: vec![rpb::PostKind::PartySecretary as i32],
        min_education: rpb::Education::College as i32,
    }
}

async fn create(s: &Suite, p: pb::Programme) -> pb::Programme {
    ProgrammeServiceClient::new(s.channel.clone())
        .create_programme(req(&s.county, pb::CreateProgrammeRequest { programme: Some(p) }))
        .await
        .unwrap()
        .into_inner()
}

fn add(p: &pb::Programme, cadre: &str) -> pb::AddMemberRequest {
    pb::AddMemberRequest { programme_id: p.id.clone(), cadre_id: cadre.into(), tier: String::new() }
}

#[tokio::test]
async fn eligibility_is_checked_naming_the_rule_and_progress_counts_milestones_due() {
    for db in backends().await {
        let s = start(&db).await;
        s.roster.add("cadre-member", "张伟", VILLAGE_2, rpb::PostKind::CommitteeMember);
        s.copied(CADRE, 1).await;
        s.copied("cadre-member", 1).await;
        let mut programmes = ProgrammeServiceClient::new(s.channel.clone());

        // Each rule that fails is named (the stand-in roster's cadres were born in 1978, 大专).
        let young =
            create(&s, programme(pb::Eligibility { max_age: 35, ..secretaries() }, &[("一期", 25)])).await;
        let e = programmes.add_member(req(&s.county, add(&young, CADRE))).await.unwrap_err();
        assert_eq!(e.code(), Code::FailedPrecondition);
        assert!(e.message().contains("age at most 35 on"), "{e:?}");
        let schooled = create(
            &s,
            programme(
                pb::Eligibility { min_education: rpb::Education::Bachelor as i32, ..secretaries() },
                &[("一期", 25)],
            ),
        )
        .await;
        let e = programmes.add_member(req(&s.county, add(&schooled, CADRE))).await.unwrap_err();
        assert!(e.message().contains("education at least BACHELOR: COLLEGE"), "{e:?}");

        let p = create(&s, programme(secretaries(), &[("一期", 25)])).await;
        assert_eq!(p.milestones.len(), 3);
        let e = programmes.add_member(req(&s.county, add(&p, "cadre-member"))).await.unwrap_err();
        assert!(e.message().contains("holding a post of PARTY_SECRETARY"), "{e:?}");

        let m = programmes.add_member(keyed(&s.county, "join-1", add(&p, CADRE))).await.unwrap().into_inner();
        assert_eq!((m.name.as_str(), m.tier.as_str()), ("巴特尔", "一期"));
        let again =
            programmes.add_member(keyed(&s.county, "join-1", add(&p, CADRE))).await.unwrap().into_inner();
        assert_eq!(again, m, "a retry with the key is the same answer");
        let twice = programmes.add_member(req(&s.county, add(&p, CADRE))).await.unwrap_err();
        assert!(twice.message().contains("already a member"), "{twice:?}");
        let got =
            programmes.get_programme(req(&s.township, pb::GetProgrammeRequest { id: p.id.clone() })).await;
        assert_eq!(got.unwrap().into_inner().tiers[0].taken, 1, "a township sees its county's programme");

        // Milestones: the first done; progress counts those due by the day.
        let tick = |ms: &str, done: bool| pb::SetMilestoneDoneRequest {
            programme_id: p.id.clone(),
            milestone_id: ms.into(),
            cadre_id: CADRE.into(),
            done,
        };
        let ticked = programmes.set_milestone_done(req(&s.township, tick(&p.milestones[0].id, true))).await;
        assert_eq!(ticked.unwrap().into_inner().done_milestone_ids, [p.milestones[0].id.clone()]);
        programmes.set_milestone_done(req(&s.township, tick(&p.milestones[0].id, true))).await.unwrap();
        programmes.set_milestone_done(req(&s.county, tick(&p.milestones[2].id, true))).await.unwrap();
        let e = programmes.set_milestone_done(req(&s.county, tick("no-such", true))).await.unwrap_err();
        assert_eq!(e.code(), Code::NotFound);
        let progress = programmes
            .get_progress(req(
                &s.county,
                pb::GetProgressRequest { programme_id: p.id.clone(), as_of: String::new() },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((progress.done, progress.due), (1, 2), "two due today, the first done");
        assert_eq!((progress.members[0].done, progress.members[0].due), (1, 2));
        let later = programmes
            .get_progress(req(
                &s.county,
                pb::GetProgressRequest { programme_id: p.id.clone(), as_of: day(200) },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((later.done, later.due), (2, 3));
        programmes.set_milestone_done(req(&s.county, tick(&p.milestones[0].id, false))).await.unwrap();
        let listed = programmes
            .list_members(req(&s.county, pb::ListMembersRequest { programme_id: p.id.clone() }))
            .await
            .unwrap()
            .into_inner()
            .members;
        assert_eq!(listed[0].done_milestone_ids, [p.milestones[2].id.clone()]);

        // The next county sees nothing; a township does not run the county's programme.
        let e =
            programmes.get_programme(req(&s.neighbour, pb::GetProgrammeRequest { id: p.id.clone() })).await;
        assert_eq!(e.unwrap_err().code(), Code::NotFound);
        let e = programmes.add_member(req(&s.neighbour, add(&p, NEXT_CADRE))).await.unwrap_err();
        assert_eq!(e.code(), Code::NotFound);
        let e = programmes.add_member(req(&s.county, add(&p, NEXT_CADRE))).await.unwrap_err();
        assert!(e.message().starts_with("cadre_id:"), "{e:?}");
        let e = programmes.add_member(req(&s.township, add(&p, CADRE))).await.unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
        let listed =
            programmes.list_programmes(req(&s.neighbour, pb::ListProgrammesRequest::default())).await;
        assert!(listed.unwrap().into_inner().programmes.is_empty());

        // Bad input names its field.
        let mut long = programme(secretaries(), &[("一期", 25)]);
        long.name = "长".repeat(201);
        let mut no_tiers = programme(secretaries(), &[]);
        no_tiers.milestones.clear();
        let over = programme(secretaries(), &[("一期", 0)]);
        let mut late = programme(secretaries(), &[("一期", 25)]);
        late.milestones[0].due_date = day(500);
        let mut township = programme(secretaries(), &[("一期", 25)]);
        township.region_code = TOWNSHIP.into();
        for (bad, field) in [
            (long, "programme.name"),
            (no_tiers, "programme.tiers"),
            (over, "programme.tiers[0].places"),
            (late, "programme.milestones[0].due_date"),
            (township, "programme.region_code"),
        ] {
            let e = programmes
                .create_programme(req(&s.county, pb::CreateProgrammeRequest { programme: Some(bad) }))
                .await
                .unwrap_err();
            assert_eq!(e.code(), Code::InvalidArgument, "{field}: {e:?}");
            assert!(e.message().starts_with(&format!("{field}:")), "{field}: {e:?}");
        }

        // In the feed.
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
        assert_eq!((count(pb::Entity::Programme), count(pb::Entity::ProgrammeMember)), (3, 5));
        s.stop().await;
    }
}

#[tokio::test]
async fn places_are_never_exceeded_under_parallel_adds() {
    for db in backends().await {
        let s = start(&db).await;
        let ids: Vec<String> = (0..10).map(|i| format!("cadre-ladder-{i}")).collect();
        for (i, id) in ids.iter().enumerate() {
            s.roster.add(id, &format!("书记{i}"), VILLAGE, rpb::PostKind::PartySecretary);
        }
        for id in &ids {
            s.copied(id, 1).await;
        }
        let p = create(&s, programme(pb::Eligibility::default(), &[("第一梯队", 3), ("第二梯队", 5)])).await;
        let programmes = ProgrammeServiceClient::new(s.channel.clone());
        let tries = ids.iter().map(|id| {
            let mut c = programmes.clone();
            let r = add(&p, id);
            let token = s.county.clone();
            async move { c.add_member(req(&token, r)).await }
        });
        let results = futures::future::join_all(tries).await;
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 3, "{results:?}");
        for e in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(
                matches!(e.code(), Code::FailedPrecondition | Code::Aborted | Code::Unavailable),
                "{e:?}"
            );
        }
        let mut c = programmes.clone();
        let now =
            c.get_programme(req(&s.county, pb::GetProgrammeRequest { id: p.id.clone() })).await.unwrap();
        let tiers = now.into_inner().tiers;
        assert_eq!((tiers[0].taken, tiers[0].places, tiers[1].taken), (3, 3, 0));
        // Those left out may take a place of another tier; an unknown tier is named.
        let losers: Vec<&String> =
            ids.iter().zip(&results).filter(|(_, r)| r.is_err()).map(|(id, _)| id).collect();
        let second = c
            .add_member(req(
                &s.county,
                pb::AddMemberRequest { tier: "第二梯队".into(), ..add(&p, losers[0]) },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(second.tier, "第二梯队");
        let e = c
            .add_member(req(
                &s.county,
                pb::AddMemberRequest { tier: "第四梯队".into(), ..add(&p, losers[1]) },
            ))
            .await
            .unwrap_err();
        assert!(e.message().starts_with("tier:"), "{e:?}");
        let members =
            c.list_members(req(&s.county, pb::ListMembersRequest { programme_id: p.id.clone() })).await;
        assert_eq!(members.unwrap().into_inner().members.len(), 4);
        s.stop().await;
    }
}
