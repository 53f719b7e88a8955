//! Importing a province's roster (≈ 100,000 cadres over 15,000 villages) through the
//! roster's own import code path (the function ImportRoster runs, in process), into a
//! fresh SQLite database and a fresh PostgreSQL database, compared with PostgreSQL's
//! `COPY … FROM STDIN` of the same stored rows (same encrypted values) into fresh
//! copies of the tables; then GetStructure over the whole province.
//!
//! `cargo bench --bench import` (env: BENCH_VILLAGES, default 15000; BENCH_SEED; BENCH_LOG;
//! CADRE_TEST_POSTGRES_URL for the PostgreSQL part, skipped when unset). Targets:
//! import ≥ 0.5× COPY, 100k rows in < 10 s, GetStructure < 1 s.

use std::time::{Duration, Instant};

use cadre_kit::call::{Call, local_request};
use cadre_kit::config::PiiSettings;
use cadre_kit::pii::PiiCipher;
use cadre_kit::testing::TestDb;
use cadre_kit::{Principal, RegionCode, Role};
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::region_service_server::RegionService;
use cadre_roster::RosterApi;
use cadre_roster::api::transfer::progress::Progress;
use cadre_roster::demo::province::{self, PROVINCE};
use futures::TryStreamExt;
use secrecy::ExposeSecret;
use sqlx::Connection;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn admin() -> Principal {
    Principal {
        subject: "bench:province-admin".into(),
        roles: [Role::ProvinceAdmin].into(),
        jurisdiction: RegionCode::parse(PROVINCE).expect("province code"),
    }
}

struct Imported {
    rows: usize,
    posts: usize,
    elapsed: Duration,
}

async fn import_into(db: &TestDb, regions: &[pb::Region]) -> RosterApi {
    let api =
        RosterApi::new(db.db().clone(), PiiCipher::from_settings(&PiiSettings::default()).expect("keys"));
    let req = local_request(
        &admin(),
        "/cadre.roster.v1.RegionService/UpsertRegions",
        pb::UpsertRegionsRequest { regions: regions.to_vec() },
    )
    .expect("the province administrator may upsert regions");
    api.upsert_regions(req).await.expect("regions");
    api
}

async fn run_import(api: &RosterApi, csv: &[u8], label: &str) -> Imported {
    let started = Instant::now();
    let call = local_request(&admin(), "/cadre.roster.v1.TransferService/ImportRoster", ())
        .and_then(|r| Call::of(&r).map_err(|s| cadre_kit::ApiError::internal(s.message())))
        .expect("the province administrator may import");
    let out = api
        .import_roster_as(
            &call,
            pb::ImportRosterRequest {
                format: pb::TransferFormat::Csv as i32,
                content: csv.to_vec(),
                dry_run: false,
                file_name: "province.csv".into(),
            },
            &std::sync::Arc::new(Progress::new()),
        )
        .await
        .expect("import");
    let elapsed = started.elapsed();
    assert!(out.errors.is_empty(), "{label}: {} errors, first {:?}", out.error_count, out.errors.first());
    let rows = out.cadres_created as usize;
    println!(
        "{label:<10} import  {rows} cadres + {} posts in {:.2} s: {:.0} cadres/s, {:.0} rows/s",
        out.posts_created,
        elapsed.as_secs_f64(),
        rows as f64 / elapsed.as_secs_f64(),
        (rows + out.posts_created as usize) as f64 / elapsed.as_secs_f64()
    );
    Imported { rows, posts: out.posts_created as usize, elapsed }
}

async fn structure(api: &RosterApi, label: &str) -> Duration {
    let started = Instant::now();
    let report = api
        .structure(&RegionCode::parse(PROVINCE).expect("code"), chrono::Utc::now().date_naive())
        .await
        .expect("structure");
    let elapsed = started.elapsed();
    println!(
        "{label:<10} GetStructure(province) in {:.3} s: {} villages, {} members, average age {:.1}",
        elapsed.as_secs_f64(),
        report.village_count,
        report.head_count,
        report.average_age
    );
    elapsed
}

/// COPY of the stored rows into fresh copies of the tables; the time of the COPY FROM.
async fn copy_same_rows(url: &str) -> Result<Duration, sqlx::Error> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let mut total = Duration::ZERO;
    for table in ["roster_cadres", "roster_posts"] {
        let out: Vec<u8> = conn
            .copy_out_raw(&format!("COPY {table} TO STDOUT"))
            .await?
            .try_fold(Vec::new(), |mut acc, chunk| async move {
                acc.extend_from_slice(&chunk);
                Ok(acc)
            })
            .await?;
        let copy = format!("{table}_copy");
        // The same table: columns, defaults, indexes, and its foreign keys.
        let keys = if table == "roster_cadres" {
            "FOREIGN KEY (region_code) REFERENCES roster_regions (code)"
        } else {
            "FOREIGN KEY (cadre_id) REFERENCES roster_cadres_copy (id), \
             FOREIGN KEY (region_code) REFERENCES roster_regions (code)"
        };
        sqlx::query(&format!("CREATE TABLE {copy} (LIKE {table} INCLUDING ALL, {keys})"))
            .execute(&mut conn)
            .await?;
        let started = Instant::now();
        let mut sink = conn.copy_in_raw(&format!("COPY {copy} FROM STDIN")).await?;
        for chunk in out.chunks(1 << 20) {
            sink.send(chunk).await?;
        }
        sink.finish().await?;
        total += started.elapsed();
    }
    Ok(total)
}

#[tokio::main]
async fn main() {
    // BENCH_LOG=info logs when the import had written every piece and when it finished.
    let telemetry = cadre_kit::config::TelemetrySettings {
        log_filter: std::env::var("BENCH_LOG").unwrap_or_else(|_| "warn".into()),
        ..Default::default()
    };
    let _telemetry = cadre_kit::telemetry::init(&telemetry, "bench-import").expect("telemetry");
    let villages = env_number("BENCH_VILLAGES", 15_000) as usize;
    let seed = env_number("BENCH_SEED", 2021);
    let started = Instant::now();
    let demo = province::demo_province(villages, seed);
    let csv = province::template_csv(&demo);
    println!(
        "generated {} regions, {} cadres ({:.1} MiB CSV) in {:.2} s",
        demo.regions.len(),
        demo.cadres.len(),
        csv.len() as f64 / (1024.0 * 1024.0),
        started.elapsed().as_secs_f64()
    );

    let sqlite = TestDb::sqlite(cadre_roster::MIGRATIONS).await;
    let api = import_into(&sqlite, &demo.regions).await;
    let lite = run_import(&api, &csv, "SQLite").await;
    structure(&api, "SQLite").await;

    let Some(pg) = TestDb::postgres(cadre_roster::MIGRATIONS).await else {
        println!("PostgreSQL skipped: set CADRE_TEST_POSTGRES_URL to compare with COPY");
        return;
    };
    let api = import_into(&pg, &demo.regions).await;
    let imported = run_import(&api, &csv, "PostgreSQL").await;
    let structure_time = structure(&api, "PostgreSQL").await;
    let copy = copy_same_rows(pg.url().expose_secret()).await.expect("COPY");
    let rows = (imported.rows + imported.posts) as f64;
    let ratio = copy.as_secs_f64() / imported.elapsed.as_secs_f64();
    println!(
        "PostgreSQL COPY    the same {} rows in {:.2} s: {:.0} rows/s",
        imported.rows + imported.posts,
        copy.as_secs_f64(),
        rows / copy.as_secs_f64()
    );
    println!(
        "import/COPY throughput ratio {ratio:.2} (target ≥ 0.5); import {:.2} s (target < 10 s); \
         SQLite {:.2} s; GetStructure {:.3} s (target < 1 s)",
        imported.elapsed.as_secs_f64(),
        lite.elapsed.as_secs_f64(),
        structure_time.as_secs_f64()
    );
}
