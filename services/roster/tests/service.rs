//! The roster service over real gRPC on port 0, against a fresh SQLite database and,
//! when `CADRE_TEST_POSTGRES_URL` is set, a fresh PostgreSQL database.

mod common;

use std::time::Duration;

use common::*;

use cadre_kit::testing::TestDb;
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::analytics_service_client::AnalyticsServiceClient;
use cadre_proto::roster::v1::audit_service_client::AuditServiceClient;
use cadre_proto::roster::v1::cadre_service_client::CadreServiceClient;
use cadre_proto::roster::v1::post_service_client::PostServiceClient;
use cadre_proto::roster::v1::region_service_client::RegionServiceClient;
use tonic::{Code, Request};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test]
async fn a_county_administrator_works_within_the_county_and_is_denied_next_door() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        let mut regions = RegionServiceClient::new(s.channel.clone());
        let mut cadres = CadreServiceClient::new(s.channel.clone());
        let mut posts = PostServiceClient::new(s.channel.clone());
        let mut analytics = AnalyticsServiceClient::new(s.channel.clone());

        // Regions: children and name search within the caller's jurisdiction.
        let children = regions
            .list_child_regions(req(
                &s.admin,
                pb::ListChildRegionsRequest { code: "150525100000".into(), ..Default::default() },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(children.regions.len(), 2);
        let found = regions
            .search_regions(req(
                &s.admin,
                pb::SearchRegionsRequest { query: "嘎查".into(), ..Default::default() },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(found.regions.iter().map(|r| r.code.as_str()).collect::<Vec<_>>(), [VILLAGE]);
        assert_eq!(found.regions[0].village_type, "demonstration");

        // A cadre: masked for the administrator, whole for the PII role.
        let created = cadres
            .create_cadre(req(&s.admin, pb::CreateCadreRequest { cadre: Some(cadre("巴特尔", 11)) }))
            .await
            .unwrap()
            .into_inner();
        assert!(created.pii_masked);
        assert_eq!(created.id_number, "150525********0115".replace("0115", &id_number(11)[14..]));
        assert_eq!(created.birth_date, "1985-03-14");
        assert_eq!(created.sex, pb::Sex::Male as i32);
        let whole = cadres
            .get_cadre(req(&s.admin_pii, pb::GetCadreRequest { id: created.id.clone() }))
            .await
            .unwrap();
        assert_eq!(whole.get_ref().id_number, id_number(11));
        assert_eq!(whole.get_ref().phone, "13912345678");
        let looked_up = cadres
            .lookup_cadre(req(&s.admin, pb::LookupCadreRequest { id_number: id_number(11) }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(looked_up.id, created.id);

        // Posts: one person in both seats makes the village one-shoulder.
        for kind in [pb::PostKind::PartySecretary, pb::PostKind::CommitteeDirector] {
            posts
                .appoint_post(req(
                    &s.admin,
                    pb::AppointPostRequest {
                        cadre_id: created.id.clone(),
                        region_code: VILLAGE.into(),
                        kind: kind as i32,
                        term: 2021,
                        start_date: "2021-03-01".into(),
                    },
                ))
                .await
                .unwrap();
        }
        let shoulder = posts
            .list_one_shoulder(req(
                &s.admin,
                pb::ListOneShoulderRequest { region_code: COUNTY.into(), ..Default::default() },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((shoulder.village_count, shoulder.one_shoulder_count), (2, 1));
        let vacancies = posts
            .list_vacancies(req(
                &s.admin,
                pb::ListVacanciesRequest { region_code: COUNTY.into(), ..Default::default() },
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(
            vacancies
                .vacancies
                .iter()
                .any(|v| v.region_code == "150525100202" && v.kind == pb::PostKind::PartySecretary as i32)
        );
        assert!(
            !vacancies
                .vacancies
                .iter()
                .any(|v| v.region_code == VILLAGE && v.kind == pb::PostKind::PartySecretary as i32)
        );

        let report = analytics
            .get_structure(req(
                &s.admin,
                pb::GetStructureRequest { region_code: COUNTY.into(), as_of: "2026-01-01".into() },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(report.head_count, 1);
        assert_eq!(report.average_age, 40.0);
        assert_eq!(report.college_or_above_share, 1.0);
        assert_eq!(report.one_shoulder_share, 0.5);
        // Before the term began nobody served.
        let before = analytics
            .get_structure(req(
                &s.admin,
                pb::GetStructureRequest { region_code: COUNTY.into(), as_of: "2020-01-01".into() },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(before.head_count, 0);

        // Next door: every read and write is refused.
        let denied = [
            cadres
                .get_cadre(req(&s.neighbour, pb::GetCadreRequest { id: created.id.clone() }))
                .await
                .unwrap_err(),
            analytics
                .get_structure(req(
                    &s.neighbour,
                    pb::GetStructureRequest { region_code: COUNTY.into(), ..Default::default() },
                ))
                .await
                .unwrap_err(),
            cadres
                .create_cadre(req(&s.neighbour, pb::CreateCadreRequest { cadre: Some(cadre("某人", 13)) }))
                .await
                .unwrap_err(),
            regions
                .get_region(req(&s.neighbour, pb::GetRegionRequest { code: VILLAGE.into() }))
                .await
                .unwrap_err(),
        ];
        for status in denied {
            assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
        }
        // Their own list is empty rather than leaking ours.
        let theirs = cadres
            .list_cadres(req(&s.neighbour, pb::ListCadresRequest::default()))
            .await
            .unwrap()
            .into_inner();
        assert!(theirs.cadres.is_empty());

        s.stop().await;
    }
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field_and_nothing_is_half_written() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        let mut cadres = CadreServiceClient::new(s.channel.clone());
        let mut regions = RegionServiceClient::new(s.channel.clone());

        let mut bad_checksum = cadre("张三", 21);
        bad_checksum
            .id_number
            .replace_range(17.., if bad_checksum.id_number.ends_with('0') { "1" } else { "0" });
        let mut impossible_birth = cadre("张三", 21);
        impossible_birth.id_number = {
            let first17 = "15052519850230021";
            format!("{first17}{}", cadre_kit::resident_id::check_char(first17))
        };
        let unknown_region = pb::Cadre { region_code: "150525100299".into(), ..cadre("张三", 21) };
        let empty_name = pb::Cadre { name: "  ".into(), ..cadre("张三", 21) };
        for (bad, field) in [
            (bad_checksum, "id_number"),
            (impossible_birth, "id_number"),
            (unknown_region, "region_code"),
            (empty_name, "name"),
        ] {
            let status = cadres
                .create_cadre(req(&s.admin, pb::CreateCadreRequest { cadre: Some(bad) }))
                .await
                .unwrap_err();
            assert!(matches!(status.code(), Code::InvalidArgument | Code::NotFound), "{status:?}");
            assert!(status.message().contains(field), "{field}: {}", status.message());
        }
        let oversized = cadres
            .list_cadres(req(&s.admin, pb::ListCadresRequest { page_size: 100_000, ..Default::default() }))
            .await
            .unwrap_err();
        assert_eq!(oversized.code(), Code::InvalidArgument);
        assert!(oversized.message().contains("page_size"), "{}", oversized.message());

        // A batch of regions with one bad code lands not at all.
        let batch = vec![region("150525101000", "新镇"), region("15052510100X", "坏村")];
        let status = regions
            .upsert_regions(req(&s.province, pb::UpsertRegionsRequest { regions: batch }))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        let missing =
            regions.get_region(req(&s.admin, pb::GetRegionRequest { code: "150525101000".into() })).await;
        assert_eq!(missing.unwrap_err().code(), Code::NotFound);

        // Missing and forged tokens.
        let status = cadres.list_cadres(Request::new(pb::ListCadresRequest::default())).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        let status =
            cadres.list_cadres(req("not-a-token", pb::ListCadresRequest::default())).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);

        let list =
            cadres.list_cadres(req(&s.admin, pb::ListCadresRequest::default())).await.unwrap().into_inner();
        assert!(list.cadres.is_empty(), "nothing half-written");
        s.stop().await;
    }
}

#[tokio::test]
async fn retries_return_the_first_result_and_stale_updates_are_refused() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        let mut cadres = CadreServiceClient::new(s.channel.clone());
        let body = pb::CreateCadreRequest { cadre: Some(cadre("乌云", 32)) };
        let first = cadres.create_cadre(keyed(&s.admin, "k-1", body.clone())).await.unwrap().into_inner();
        let again = cadres.create_cadre(keyed(&s.admin, "k-1", body.clone())).await.unwrap().into_inner();
        assert_eq!(first.id, again.id);
        let other_body = pb::CreateCadreRequest { cadre: Some(cadre("乌云", 34)) };
        let reuse = cadres.create_cadre(keyed(&s.admin, "k-1", other_body)).await.unwrap_err();
        assert!(matches!(reuse.code(), Code::InvalidArgument | Code::FailedPrecondition), "{reuse:?}");
        let duplicate = cadres.create_cadre(req(&s.admin, body)).await.unwrap_err();
        assert_eq!(duplicate.code(), Code::AlreadyExists);

        let update = |revision: i64, name: &str| pb::UpdateCadreRequest {
            cadre: Some(pb::Cadre {
                id: first.id.clone(),
                name: name.into(),
                revision,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["name".into()] }),
        };
        let updated = cadres
            .update_cadre(req(&s.admin, update(first.revision, "乌云其其格")))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(updated.name, "乌云其其格");
        assert_eq!(updated.revision, first.revision + 1);
        let stale = cadres.update_cadre(req(&s.admin, update(first.revision, "别的"))).await.unwrap_err();
        assert_eq!(stale.code(), Code::Aborted);

        // A list read across two villages is audited under their township, the region
        // actually read, not the reader's whole county (issue 13, finding 9).
        let east = pb::Cadre { region_code: "150525100202".into(), ..cadre("其其格", 35) };
        cadres.create_cadre(req(&s.admin, pb::CreateCadreRequest { cadre: Some(east) })).await.unwrap();
        let listed = cadres.list_cadres(req(&s.admin_pii, pb::ListCadresRequest::default())).await.unwrap();
        assert_eq!(listed.into_inner().cadres.len(), 2);

        // Every mutation and the unmasked read are in an intact chain.
        cadres.get_cadre(req(&s.admin_pii, pb::GetCadreRequest { id: first.id.clone() })).await.unwrap();
        let mut audit = AuditServiceClient::new(s.channel.clone());
        let verified = audit
            .verify_audit_chain(req(&s.province, cadre_proto::audit::v1::VerifyAuditChainRequest::default()))
            .await
            .unwrap()
            .into_inner();
        assert!(verified.intact, "{verified:?}");
        let entries = audit
            .list_audit_entries(req(&s.province, cadre_proto::audit::v1::ListAuditEntriesRequest::default()))
            .await
            .unwrap()
            .into_inner();
        let actions: Vec<_> = entries.entries.iter().map(|e| e.action.as_str()).collect();
        assert!(actions.contains(&"cadre.roster.v1.CadreService/GetCadre:unmasked"), "{actions:?}");
        let list_read = entries
            .entries
            .iter()
            .find(|e| e.action == "cadre.roster.v1.CadreService/ListCadres:unmasked")
            .expect("the list read is audited");
        assert_eq!(list_read.region_code, "150525100000", "{list_read:?}");
        // Two creates (the retry did not write again) and one update.
        assert_eq!(
            actions
                .iter()
                .filter(|a| a.starts_with("cadre.roster.v1.CadreService/") && !a.ends_with(":unmasked"))
                .count(),
            3,
            "{actions:?}"
        );
        s.stop().await;
    }
}

#[tokio::test]
async fn health_tells_the_truth_while_draining() {
    let db = TestDb::sqlite(cadre_roster::MIGRATIONS).await;
    let s = start(&db).await;
    let mut health = HealthClient::new(s.channel.clone());
    let check = |service: &str| tonic_health::pb::HealthCheckRequest { service: service.into() };
    // NOT_SERVING until the watcher has seen the database answer, then SERVING.
    let mut serving = None;
    for _ in 0..50 {
        serving =
            Some(health.check(check("cadre.roster.v1.CadreService")).await.unwrap().into_inner().status);
        if serving == Some(ServingStatus::Serving as i32) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(serving, Some(ServingStatus::Serving as i32));
    // The database goes away: health says so within a few seconds.
    s.node.db("roster").close().await;
    let mut status = ServingStatus::Serving as i32;
    for _ in 0..50 {
        status = health.check(check("cadre.roster.v1.CadreService")).await.unwrap().into_inner().status;
        if status == ServingStatus::NotServing as i32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, ServingStatus::NotServing as i32);
    tokio::time::timeout(Duration::from_secs(10), s.stop()).await.expect("drains promptly");
}

#[tokio::test]
async fn the_change_feed_pages_and_follows_mutations_within_the_callers_region() {
    use cadre_proto::changes::v1 as cpb;
    use cadre_proto::roster::v1::change_service_client::ChangeServiceClient;
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        let mut cadres = CadreServiceClient::new(s.channel.clone());
        let mut feed = ChangeServiceClient::new(s.channel.clone());
        let created = cadres
            .create_cadre(req(&s.admin, pb::CreateCadreRequest { cadre: Some(cadre("巴特尔", 11)) }))
            .await
            .unwrap()
            .into_inner();

        // The county sees its four regions and the cadre, in order; next door sees its own.
        let page = |token: &str, after: i64, size: i32| {
            req(
                token,
                cpb::ListChangesRequest { after_position: after, page_size: size, ..Default::default() },
            )
        };
        let mine = feed.list_changes(page(&s.admin, 0, 0)).await.unwrap().into_inner();
        let keys: Vec<_> = mine.changes.iter().map(|c| (c.entity(), c.key.as_str())).collect();
        assert_eq!(
            keys,
            [
                (pb::Entity::Region, COUNTY),
                (pb::Entity::Region, "150525100000"),
                (pb::Entity::Region, VILLAGE),
                (pb::Entity::Region, "150525100202"),
                (pb::Entity::Cadre, created.id.as_str())
            ]
        );
        assert!(mine.changes.windows(2).all(|w| w[0].position < w[1].position));
        assert_eq!((mine.next_after_position, mine.head_position), (8, 8));
        let theirs = feed.list_changes(page(&s.neighbour, 0, 0)).await.unwrap().into_inner();
        assert_eq!(theirs.changes.len(), 1);
        // Paging: two at a time, resuming from the position returned.
        let first = feed.list_changes(page(&s.admin, 0, 2)).await.unwrap().into_inner();
        let second =
            feed.list_changes(page(&s.admin, first.next_after_position, 2)).await.unwrap().into_inner();
        assert_eq!(second.changes[0].key, VILLAGE);
        let bad = feed.list_changes(page(&s.admin, -1, 0)).await.unwrap_err();
        assert!(bad.message().starts_with("after_position"), "{bad:?}");
        let denied = feed
            .list_changes(req(
                &s.admin,
                cpb::ListChangesRequest { region_code: NEXT_COUNTY.into(), ..Default::default() },
            ))
            .await
            .unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied);

        // Following from the head: a new commit arrives on the open stream.
        let mut stream = feed
            .watch_changes(req(
                &s.admin,
                cpb::WatchChangesRequest { after_position: 8, ..Default::default() },
            ))
            .await
            .unwrap()
            .into_inner();
        let another = cadres
            .create_cadre(req(&s.admin, pb::CreateCadreRequest { cadre: Some(cadre("其其格", 12)) }))
            .await
            .unwrap()
            .into_inner();
        let next =
            tokio::time::timeout(Duration::from_secs(5), stream.message()).await.unwrap().unwrap().unwrap();
        assert_eq!(
            (next.entity(), next.key.as_str(), next.operation()),
            (pb::Entity::Cadre, another.id.as_str(), cpb::Operation::Created)
        );
        assert_eq!(next.position, 9);
        drop(stream);
        s.stop().await;
    }
}
