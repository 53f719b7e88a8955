//! Another part follows the roster's change feed into a table of its own, as assessment
//! and incentive will: one batch call per page (BatchGetCadres), the page and the new
//! position in one transaction, a restart that resumes where it stopped, a failed apply
//! that loses nothing, and a cadre moving between counties seen by both counties.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use cadre_kit::ApiError;
use cadre_kit::client::{ClientSettings, PartChannel, PartClient, Target};
use cadre_kit::config::AuthSettings;
use cadre_kit::db::{Db, WriteTx};
use cadre_kit::follow::{FeedChange, FollowSettings, Follower, ReadModel};
use cadre_kit::identity::ServiceIdentity;
use cadre_kit::testing::TestDb;
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::cadre_service_client::CadreServiceClient;
use cadre_proto::roster::v1::region_service_client::RegionServiceClient;
use common::{COUNTY, NEXT_COUNTY, Service, VILLAGE, cadre, create_cadre, region, req, seed_regions, start};
use sqlx::Row;

const NEXT_VILLAGE: &str = "150526100201";

/// The follower's copy: cadres of its county, and every change position it applied (a
/// position applied twice breaks the primary key).
struct CadreCopy {
    /// Fails the next apply once, as a crash between fetch and commit would.
    fail_next: AtomicBool,
}

const COPY_TABLES: [&str; 2] = [
    "CREATE TABLE followed_cadres (id TEXT PRIMARY KEY, region_code TEXT NOT NULL, name TEXT NOT NULL, revision BIGINT NOT NULL)",
    "CREATE TABLE applied_changes (position BIGINT PRIMARY KEY)",
];

impl ReadModel for CadreCopy {
    type Fetched = pb::BatchGetCadresResponse;

    async fn fetch(
        &self,
        channel: PartChannel,
        changes: &[FeedChange],
    ) -> Result<Self::Fetched, tonic::Status> {
        let ids: Vec<String> =
            changes.iter().filter(|c| c.entity == pb::Entity::Cadre as i32).map(|c| c.key.clone()).collect();
        if ids.is_empty() {
            return Ok(pb::BatchGetCadresResponse::default());
        }
        let reply =
            CadreServiceClient::new(channel).batch_get_cadres(pb::BatchGetCadresRequest { ids }).await?;
        Ok(reply.into_inner())
    }

    async fn apply(
        &self,
        tx: &mut WriteTx,
        changes: &[FeedChange],
        fetched: Self::Fetched,
    ) -> Result<(), ApiError> {
        for change in changes {
            sqlx::query("INSERT INTO applied_changes (position) VALUES ($1)")
                .bind(change.position)
                .execute(tx.conn())
                .await?;
        }
        if self.fail_next.swap(false, Ordering::SeqCst) {
            return Err(ApiError::unavailable("the follower stopped before committing"));
        }
        for c in fetched.cadres {
            sqlx::query("DELETE FROM followed_cadres WHERE id = $1")
                .bind(c.id.clone())
                .execute(tx.conn())
                .await?;
            sqlx::query(
                "INSERT INTO followed_cadres (id, region_code, name, revision) VALUES ($1, $2, $3, $4)",
            )
            .bind(c.id)
            .bind(c.region_code)
            .bind(c.name)
            .bind(c.revision)
            .execute(tx.conn())
            .await?;
        }
        // Gone from this county's view: moved away (or removed).
        for id in fetched.missing {
            sqlx::query("DELETE FROM followed_cadres WHERE id = $1").bind(id).execute(tx.conn()).await?;
        }
        Ok(())
    }
}

/// A follower of the roster for `county`, over its own database.
fn follower(s: &Service, db: &Db, county: &str, fail_first_apply: bool) -> Follower<CadreCopy> {
    let auth = AuthSettings { service_region: Some(county.into()), ..AuthSettings::default() };
    let identity = ServiceIdentity::from_settings(&auth, "assessment").unwrap();
    let client =
        PartClient::new("roster", &Target::Static(vec![s.node.addr]), &ClientSettings::default()).unwrap();
    let model = CadreCopy { fail_next: AtomicBool::new(fail_first_apply) };
    let settings = FollowSettings { page_size: 3, ..FollowSettings::default() };
    Follower::new("roster", "cadre.roster.v1", client, identity, db.clone(), model, settings).unwrap()
}

/// Steps until caught up; returns how many changes were applied.
async fn catch_up(f: &Follower<CadreCopy>) -> usize {
    let mut applied = 0;
    for _ in 0..100 {
        match f.step().await {
            Ok(0) => return applied,
            Ok(n) => applied += n,
            Err(e) => panic!("{e}"),
        }
    }
    panic!("never caught up")
}

async fn copy_of(db: &Db) -> Vec<(String, String, String)> {
    let rows = sqlx::query("SELECT id, region_code, name FROM followed_cadres ORDER BY name")
        .fetch_all(db.pool())
        .await
        .unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect()
}

async fn applied(db: &Db) -> i64 {
    sqlx::query("SELECT COUNT(*) FROM applied_changes").fetch_one(db.pool()).await.unwrap().get(0)
}

async fn follower_db() -> TestDb {
    let db = TestDb::sqlite(&[]).await;
    for table in COPY_TABLES {
        sqlx::query(table).execute(db.pool()).await.unwrap();
    }
    db
}

/// The county's changes as the feed lists them for the follower's identity.
async fn feed_size(s: &Service, county: &str) -> usize {
    use cadre_proto::roster::v1::change_service_client::ChangeServiceClient;
    let token = s.node.token(&[cadre_kit::Role::Integration], county);
    let mut feed = ChangeServiceClient::new(s.channel.clone());
    let request = cadre_proto::changes::v1::ListChangesRequest { page_size: 1000, ..Default::default() };
    feed.list_changes(req(&token, request)).await.unwrap().into_inner().changes.len()
}

#[tokio::test]
async fn a_follower_keeps_a_countys_cadres_across_restarts_and_moves() {
    for roster_db in TestDb::all(cadre_roster::MIGRATIONS).await {
        let s = start(&roster_db).await;
        seed_regions(&s).await;
        let mut regions = RegionServiceClient::new(s.channel.clone());
        let more = vec![region("150526100000", "鲁北镇"), region(NEXT_VILLAGE, "新村")];
        regions.upsert_regions(req(&s.province, pb::UpsertRegionsRequest { regions: more })).await.unwrap();
        let bateer = create_cadre(&s, cadre("巴特尔", 11)).await;
        create_cadre(&s, cadre("其木格", 12)).await;
        create_cadre(&s, cadre("乌云", 13)).await;
        let mut cadres = CadreServiceClient::new(s.channel.clone());
        let elsewhere = pb::Cadre { region_code: NEXT_VILLAGE.into(), ..cadre("王芳", 14) };
        cadres
            .create_cadre(req(&s.province, pb::CreateCadreRequest { cadre: Some(elsewhere) }))
            .await
            .unwrap();

        // First run: three pages of three, the county's cadres copied, nothing twice.
        let here = follower_db().await;
        let first = follower(&s, &here, COUNTY, false);
        assert_eq!(catch_up(&first).await, feed_size(&s, COUNTY).await);
        let names: Vec<String> = copy_of(&here).await.into_iter().map(|(_, _, n)| n).collect();
        assert_eq!(names, ["乌云", "其木格", "巴特尔"]);
        let position = first.position().await.unwrap();
        drop(first);

        // Meanwhile: a rename, a new cadre, and 巴特尔 moves to the next county.
        let renamed = pb::Cadre {
            id: bateer.id.clone(),
            name: "巴特尔·朝鲁".into(),
            revision: 1,
            ..Default::default()
        };
        let mask = Some(prost_types::FieldMask { paths: vec!["name".into()] });
        let renamed = cadres
            .update_cadre(req(&s.admin, pb::UpdateCadreRequest { cadre: Some(renamed), update_mask: mask }))
            .await
            .unwrap()
            .into_inner();
        create_cadre(&s, cadre("其其格", 15)).await;
        let moved = pb::Cadre {
            id: bateer.id.clone(),
            region_code: NEXT_VILLAGE.into(),
            revision: renamed.revision,
            ..Default::default()
        };
        let mask = Some(prost_types::FieldMask { paths: vec!["region_code".into()] });
        cadres
            .update_cadre(req(&s.province, pb::UpdateCadreRequest { cadre: Some(moved), update_mask: mask }))
            .await
            .unwrap();

        // Restart, and the first apply fails after fetching: nothing of it is kept.
        let restarted = follower(&s, &here, COUNTY, true);
        assert_eq!(restarted.position().await.unwrap(), position, "resumes where it stopped");
        assert!(restarted.step().await.is_err());
        assert_eq!(restarted.position().await.unwrap(), position, "a failed page leaves the position");
        catch_up(&restarted).await;
        let copy = copy_of(&here).await;
        let names: Vec<&str> = copy.iter().map(|(_, _, n)| n.as_str()).collect();
        assert_eq!(names, ["乌云", "其其格", "其木格"], "the mover left this county's copy");
        assert!(copy.iter().all(|(_, region, _)| region.starts_with("150525")));
        // Every change of the county's feed applied exactly once (the primary key would
        // have refused a second), the move included.
        assert_eq!(applied(&here).await as usize, feed_size(&s, COUNTY).await);

        // The next county's follower sees the move too: 巴特尔 arrives there.
        let there = follower_db().await;
        let next = follower(&s, &there, NEXT_COUNTY, false);
        catch_up(&next).await;
        let copy = copy_of(&there).await;
        assert_eq!(copy.len(), 2, "{copy:?}");
        assert!(
            copy.iter().any(|(id, region, name)| *id == bateer.id
                && region == NEXT_VILLAGE
                && name == "巴特尔·朝鲁")
        );
        assert_eq!(applied(&there).await as usize, feed_size(&s, NEXT_COUNTY).await);
        s.stop().await;
    }
}

#[tokio::test]
async fn batch_reads_answer_in_order_and_never_say_why_a_key_is_missing() {
    let db = TestDb::sqlite(cadre_roster::MIGRATIONS).await;
    let s = start(&db).await;
    seed_regions(&s).await;
    let a = create_cadre(&s, cadre("巴特尔", 21)).await;
    let b = create_cadre(&s, cadre("其木格", 22)).await;
    let mut cadres = CadreServiceClient::new(s.channel.clone());
    let ids = vec![b.id.clone(), "no-such-cadre".into(), a.id.clone(), b.id.clone()];
    let got =
        cadres.batch_get_cadres(req(&s.admin, pb::BatchGetCadresRequest { ids: ids.clone() })).await.unwrap();
    let got = got.into_inner();
    assert_eq!(got.cadres.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["其木格", "巴特尔"]);
    assert!(got.cadres.iter().all(|c| c.pii_masked));
    assert_eq!(got.missing, ["no-such-cadre"]);
    // Next door: existing cadres are as missing as unknown ones.
    let theirs = cadres.batch_get_cadres(req(&s.neighbour, pb::BatchGetCadresRequest { ids })).await.unwrap();
    let theirs = theirs.into_inner();
    assert!(theirs.cadres.is_empty());
    assert_eq!(theirs.missing.len(), 3);
    // Bounded and named.
    let too_many = vec!["x".to_string(); 1001];
    let err = cadres
        .batch_get_cadres(req(&s.admin, pb::BatchGetCadresRequest { ids: too_many }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().starts_with("ids:"), "{err:?}");
    let mut regions = RegionServiceClient::new(s.channel.clone());
    let codes = vec![VILLAGE.to_string(), NEXT_COUNTY.to_string(), COUNTY.to_string()];
    let got = regions.batch_get_regions(req(&s.admin, pb::BatchGetRegionsRequest { codes })).await.unwrap();
    let got = got.into_inner();
    assert_eq!(got.regions.iter().map(|r| r.code.as_str()).collect::<Vec<_>>(), [VILLAGE, COUNTY]);
    assert_eq!(got.missing, [NEXT_COUNTY]);
    s.stop().await;
}
