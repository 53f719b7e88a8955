//! Issue 11's province-scale compute: a year of every county of a province (default 100
//! counties × 150 villages = 15,000 villages, each scored on 189 indicator rows — 63
//! indicators × 3 scoring units — ≈ 2.8 million scores) written straight through the store's
//! bulk path, then every county computed through assessment's own handler
//! (`ComputeResults`: one GROUP BY over its scores, its events and frozen villages, ranks,
//! tiers by quota with tie-breakers, explanations, the results and their first revisions
//! written in bulk, one feed row per result, audited), timed against a bare
//! `SELECT village_code, SUM(points) … GROUP BY village_code` over the same scores in the
//! same run. On SQLite, and on PostgreSQL when CADRE_TEST_POSTGRES_URL is set.
//!
//! `cargo bench --bench assessment_compute` (env: BENCH_COUNTIES, default 100;
//! BENCH_VILLAGES_PER_COUNTY, default 150; BENCH_SCORE_ROWS, default 189; BENCH_CONCURRENCY,
//! counties computed at a time, default 1).

use std::time::{Duration, Instant};

use cadre_assessment::AssessmentApi;
use cadre_assessment::store::years::{FrozenVillage, YearRow};
use cadre_kit::bulk;
use cadre_kit::call::local_request;
use cadre_kit::db::Db;
use cadre_kit::testing::TestDb;
use cadre_kit::{Principal, RegionCode, Role};
use cadre_proto::assessment::v1 as pb;
use cadre_proto::assessment::v1::result_service_server::ResultService;
use futures::StreamExt;

const YEAR: i32 = 2026;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The n-th county of the province: 10 counties per city.
fn county(n: usize) -> String {
    format!("15{:02}{:02}000000", n / 10 + 1, n % 10 + 1)
}

struct Score {
    village: String,
    indicator: String,
    points: i64,
}

/// Writes one county's year: its frozen villages (15 per township), its scores, the year
/// (scoring closed) and its rules.
async fn load_county(db: &Db, county: &str, villages: usize, rows: usize) {
    let mut tx = db.write().await.expect("a write");
    let frozen: Vec<FrozenVillage> = (0..villages)
        .map(|i| {
            let township = format!("{}{:03}000", &county[..6], 101 + i / 15);
            FrozenVillage {
                code: format!("{}{:03}", &township[..9], 201 + i % 15),
                name: format!("村{i}"),
                township_code: township,
                village_type: ["ordinary", "key-assistance", "demonstration"][i % 3].to_string(),
                secretary_id: format!("cadre-{county}-{i}"),
                secretary_name: "书记".into(),
            }
        })
        .collect();
    cadre_assessment::store::years::freeze(&mut tx, county, YEAR, &frozen).await.expect("villages");
    let scores: Vec<Score> = frozen
        .iter()
        .flat_map(|v| {
            (0..rows).map(move |k| {
                let h = v
                    .code
                    .bytes()
                    .fold(k as u64 * 7919, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
                Score { village: v.code.clone(), indicator: format!("I{k:03}"), points: 30 + (h % 71) as i64 }
            })
        })
        .collect();
    use bulk::Column as C;
    const COLUMNS: [C; 3] = [C::text("village_code"), C::text("indicator_code"), C::bigint("points")];
    let shared = [
        ("county_code", bulk::Cell::Text(county)),
        ("year", bulk::Cell::BigInt(i64::from(YEAR))),
        ("unit_id", bulk::Cell::Text("bench-unit")),
    ];
    let table = bulk::Table { name: "assessment_scores", columns: &COLUMNS, shared: &shared };
    bulk::insert(&mut tx, &table, &scores, |s| [(&s.village).into(), (&s.indicator).into(), s.points.into()])
        .await
        .expect("scores");
    let year = YearRow {
        county_code: county.to_string(),
        year: YEAR,
        phase: cadre_assessment::domain::phase::Phase::ScoringClosed,
        scheme_id: "bench".into(),
        village_count: villages as i64,
        opened_at: Some(0),
        closed_at: Some(0),
        revision: 3,
    };
    cadre_assessment::store::years::insert(tx.conn(), &year, 0).await.expect("year");
    let rules: serde_json::Value = serde_json::from_str(cadre_assessment::demo::DEMO_RULES).expect("rules");
    cadre_assessment::store::results::put_rules(tx.conn(), county, YEAR, &rules.to_string(), 1, 0)
        .await
        .expect("rules");
    tx.commit().await.expect("commit");
}

async fn bare_sum(db: &Db) -> (Duration, usize) {
    let started = Instant::now();
    let rows = sqlx::query(
        "SELECT village_code, CAST(SUM(points) AS BIGINT) FROM assessment_scores GROUP BY village_code",
    )
    .fetch_all(db.pool())
    .await
    .expect("the bare sum");
    (started.elapsed(), rows.len())
}

#[tokio::main]
async fn main() {
    let counties = env_number("BENCH_COUNTIES", 100);
    let villages = env_number("BENCH_VILLAGES_PER_COUNTY", 150);
    let rows = env_number("BENCH_SCORE_ROWS", 189);
    let concurrency = env_number("BENCH_CONCURRENCY", 1).max(1);
    println!(
        "assessment compute: {counties} counties × {villages} villages × {rows} score rows = {} scores",
        counties * villages * rows
    );
    for test_db in TestDb::all(cadre_assessment::MIGRATIONS).await {
        let db = test_db.db().clone();
        let backend = format!("{:?}", db.backend());
        let started = Instant::now();
        for c in 0..counties {
            load_county(&db, &county(c), villages, rows).await;
        }
        let load = started.elapsed();
        if backend.contains("Postgres") {
            sqlx::query("ANALYZE").execute(db.pool()).await.expect("analyze");
        }
        let api = AssessmentApi::new(db.clone());
        let who = Principal {
            subject: "bench".into(),
            roles: [Role::ProvinceAdmin].into(),
            jurisdiction: RegionCode::parse("150000000000").expect("the province"),
        };
        // The bare sum first, warm, then compute, then the bare sum again.
        let (sum_before, groups) = bare_sum(&db).await;
        let started = Instant::now();
        futures::stream::iter(0..counties)
            .map(|c| {
                let (api, who) = (api.clone(), who.clone());
                async move {
                    let request = pb::MoveYearRequest { county_code: county(c), year: YEAR };
                    let path = "/cadre.assessment.v1.ResultService/ComputeResults";
                    let request = local_request(&who, path, request).expect("a request");
                    let year = api.compute_results(request).await.expect("computed").into_inner();
                    assert_eq!(year.phase, pb::Phase::Computed as i32);
                }
            })
            .buffer_unordered(concurrency)
            .collect::<Vec<()>>()
            .await;
        let compute = started.elapsed();
        let (sum_after, _) = bare_sum(&db).await;
        let sum = sum_before.min(sum_after);
        let results: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM assessment_results")
            .fetch_one(db.pool())
            .await
            .expect("a count");
        assert_eq!(results as usize, counties * villages);
        println!(
            "{backend}: loaded in {:.1} s; compute of {results} villages ({counties} counties, {concurrency} at a time) {:.2} s; \
             bare SUM … GROUP BY village over the same scores {:.2} s ({groups} groups; {:.2} s before, {:.2} s after); \
             ratio {:.2}×",
            load.as_secs_f64(),
            compute.as_secs_f64(),
            sum.as_secs_f64(),
            sum_before.as_secs_f64(),
            sum_after.as_secs_f64(),
            compute.as_secs_f64() / sum.as_secs_f64()
        );
    }
}
