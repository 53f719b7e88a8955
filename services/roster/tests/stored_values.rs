//! Stored values the service does not know (written around it with SQL, or by a newer
//! version) fail the read with INTERNAL: never read as a default, skipped, or written
//! back. On SQLite and (with `CADRE_TEST_POSTGRES_URL`) PostgreSQL.

mod common;

use common::*;

use cadre_kit::testing::TestDb;
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::analytics_service_client::AnalyticsServiceClient;
use cadre_proto::roster::v1::cadre_service_client::CadreServiceClient;
use cadre_proto::roster::v1::post_service_client::PostServiceClient;
use cadre_proto::roster::v1::staffing_service_client::StaffingServiceClient;
use cadre_proto::roster::v1::transfer_service_client::TransferServiceClient;
use tonic::Code;

/// Runs `sql` with `id` as `$1`, as someone editing the database by hand would.
async fn by_hand(db: &TestDb, sql: &str, id: &str) {
    let done = sqlx::query(sql).bind(id.to_string()).execute(db.pool()).await.unwrap();
    assert_eq!(done.rows_affected(), 1, "{sql}");
}

fn assert_internal<T: std::fmt::Debug>(r: Result<T, tonic::Status>) {
    let err = r.unwrap_err();
    assert_eq!(err.code(), Code::Internal, "{}", err.message());
    // The caller gets an error id; the column and value go to the log only.
    assert!(err.message().starts_with("internal error (id "), "{}", err.message());
}

#[tokio::test]
async fn a_cadre_with_an_unknown_education_fails_its_reads_and_is_not_updated_to_unspecified() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        let cadre = create_cadre(&s, cadre("巴特尔", 11)).await;
        let mut posts = PostServiceClient::new(s.channel.clone());
        posts
            .appoint_post(req(
                &s.admin,
                pb::AppointPostRequest {
                    cadre_id: cadre.id.clone(),
                    region_code: VILLAGE.into(),
                    kind: pb::PostKind::PartySecretary as i32,
                    term: 2021,
                    start_date: "2021-03-01".into(),
                },
            ))
            .await
            .unwrap();
        by_hand(&db, "UPDATE roster_cadres SET education = 99 WHERE id = $1", &cadre.id).await;

        // An update of the name alone used to read education 99 as UNSPECIFIED and
        // store that back.
        let mut cadres = CadreServiceClient::new(s.channel.clone());
        let renamed = pb::Cadre { name: "巴特尔巴雅尔".into(), ..cadre.clone() };
        assert_internal(
            cadres
                .update_cadre(req(
                    &s.admin,
                    pb::UpdateCadreRequest {
                        cadre: Some(renamed),
                        update_mask: Some(prost_types::FieldMask { paths: vec!["name".into()] }),
                    },
                ))
                .await,
        );
        let stored: i64 = sqlx::query_scalar("SELECT education FROM roster_cadres WHERE id = $1")
            .bind(cadre.id.clone())
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(stored, 99);

        // The export used to write an empty education; the structure report used to
        // leave the cadre out of the head count.
        let mut transfer = TransferServiceClient::new(s.channel.clone());
        assert_internal(transfer.export_roster(req(&s.admin, pb::ExportRosterRequest::default())).await);
        let mut analytics = AnalyticsServiceClient::new(s.channel.clone());
        assert_internal(
            analytics
                .get_structure(req(
                    &s.admin,
                    pb::GetStructureRequest { region_code: VILLAGE.into(), ..Default::default() },
                ))
                .await,
        );
        s.stop().await;
    }
}

#[tokio::test]
async fn a_post_of_an_unknown_kind_fails_the_reads_of_its_village_rather_than_vanishing() {
    for db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&db).await;
        seed_regions(&s).await;
        let secretary = create_cadre(&s, cadre("那顺", 12)).await;
        let mut posts = PostServiceClient::new(s.channel.clone());
        let appoint = |cadre_id: &str, kind: pb::PostKind, start_date: &str| {
            req(
                &s.admin,
                pb::AppointPostRequest {
                    cadre_id: cadre_id.into(),
                    region_code: VILLAGE.into(),
                    kind: kind as i32,
                    term: 2021,
                    start_date: start_date.into(),
                },
            )
        };
        let post = posts
            .appoint_post(appoint(&secretary.id, pb::PostKind::PartySecretary, "2021-03-01"))
            .await
            .unwrap()
            .into_inner();
        let mut staffing = StaffingServiceClient::new(s.channel.clone());
        let alerts = || {
            req(
                &s.admin,
                pb::ListAlertsRequest {
                    region_code: COUNTY.into(),
                    as_of: "2025-07-01".into(),
                    kinds: vec![pb::StaffingAlertKind::OverAge as i32],
                    ..Default::default()
                },
            )
        };
        staffing.list_alerts(alerts()).await.unwrap();
        by_hand(&db, "UPDATE roster_posts SET kind = 99 WHERE id = $1", &post.id).await;

        // The alerts and the compliance report used to leave the holder out, as if the
        // village had no secretary; the export listed the cadre without the post.
        assert_internal(staffing.list_alerts(alerts()).await);
        assert_internal(
            staffing
                .get_compliance_report(req(
                    &s.admin,
                    pb::GetComplianceReportRequest { region_code: COUNTY.into(), ..Default::default() },
                ))
                .await,
        );
        let mut transfer = TransferServiceClient::new(s.channel.clone());
        assert_internal(transfer.export_roster(req(&s.admin, pb::ExportRosterRequest::default())).await);
        // The seat check of a new appointment used to skip the post it could not read.
        let other = create_cadre(&s, cadre("图雅", 13)).await;
        assert_internal(
            posts.appoint_post(appoint(&other.id, pb::PostKind::CommitteeMember, "2022-03-01")).await,
        );
        s.stop().await;
    }
}
