//! The province coverage report of issue 10: 100,000 serving cadres in training's copy of
//! the roster (about 14,300 villages in 1,190 townships, 100 counties, 10 cities), 2
//! million attendance records (5,000 sessions of 5 sittings; cadre i attended i mod 9 of
//! them) and the hours ledger they led to (one credit of 4 hours per session attended,
//! about 400,000 entries); secretaries must reach 32 hours, members 16. Times the report
//! for the whole province and for one county (the handler in process, as the gateway
//! would call it), on SQLite and on PostgreSQL when CADRE_TEST_POSTGRES_URL is set.
//!
//! `cargo bench -p cadre-training --bench coverage` (env: BENCH_CADRES, default 100000;
//! BENCH_RUNS, default 5).

use std::time::{Duration, Instant};

use cadre_kit::call::local_request;
use cadre_kit::client::{ClientSettings, PartClient, Target};
use cadre_kit::config::PiiSettings;
use cadre_kit::pii::PiiCipher;
use cadre_kit::testing::TestDb;
use cadre_kit::{Principal, RegionCode, Role};
use cadre_proto::training::v1 as pb;
use cadre_proto::training::v1::completion_service_server::CompletionService;
use cadre_training::TrainingApi;

const SESSIONS: i64 = 5_000;
const SITTINGS: i64 = 5;

fn env_number(name: &str, default: i64) -> i64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The village code of cadre `i` (7 cadres a village, 12 villages a township, 12
/// townships a county, 10 counties a city), as SQL over a column `i`.
fn village(i: &str) -> String {
    let v = format!("(CAST({i} AS BIGINT) / 7)");
    let t = format!("({v} / 12)");
    let k = format!("({t} / 12)");
    format!(
        "CAST(150000000000 + ({k} / 10 + 1) * 100000000 + ({k} % 10 + 1) * 1000000 + ({t} % 12 + 1) * 1000 + ({v} % 12 + 1) AS TEXT)"
    )
}

async fn seed(db: &TestDb, cadres: i64) -> Result<(usize, usize), sqlx::Error> {
    let pool = db.pool();
    let numbers = |n: i64| {
        format!("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {})", n - 1)
    };
    sqlx::query(
        "INSERT INTO training_courses (id, title, topic, mode, credit_tenths, level, owner_region_code, description, \
         revision, created_at) VALUES ('course', '党性教育', 5, 1, 40, 2, '150000000000', '', 1, 0)",
    )
    .execute(pool)
    .await?;
    sqlx::query(&format!(
        "{} INSERT INTO training_roster_cadres (id, region_code, name, birth_month, education, post_kinds, revision, \
         updated_at) SELECT 'c' || CAST(i AS TEXT), {}, '学员' || CAST(i AS TEXT), '1980-01', 3, \
         CASE WHEN i % 7 = 0 THEN ',1,4,' ELSE ',6,' END, 1, 0 FROM n",
        numbers(cadres),
        village("i")
    ))
    .execute(pool)
    .await?;
    sqlx::query(&format!(
        "{} INSERT INTO training_sessions (id, title, organiser_level, organiser_region_code, course_id, teacher_id, \
         order_id, year, capacity, enrolled, waitlisted, next_seq, state, cancel_reason, code_step_seconds, \
         sign_in_opens_minutes, revision, created_at, updated_at) SELECT 's' || CAST(i AS TEXT), '专题班', 2, \
         '150101000000', 'course', '', '', 2026, 2000, 0, 0, 0, 3, '', 60, 30, 1, 0, 0 FROM n",
        numbers(SESSIONS)
    ))
    .execute(pool)
    .await?;
    sqlx::query(&format!(
        "{} INSERT INTO training_sittings (id, session_id, seq, day, start_time, end_time, place) \
         SELECT 't' || CAST(i AS TEXT), 's' || CAST(i / {SITTINGS} AS TEXT), i % {SITTINGS} + 1, '2026-05-01', \
         '09:00', '11:00', '党校' FROM n",
        numbers(SESSIONS * SITTINGS)
    ))
    .execute(pool)
    .await?;
    // Cadre i attended sessions (7i + m) mod 5000 for m < i mod 9, every sitting of each.
    let attended = format!(
        "{}, m(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM m WHERE j < 7), s(k) AS (SELECT 0 UNION ALL SELECT k + 1 \
         FROM s WHERE k < {}) ",
        numbers(cadres),
        SITTINGS - 1
    );
    sqlx::query(&format!(
        "{attended} INSERT INTO training_attendance (sitting_id, cadre_id, session_id, cadre_name, region_code, \
         signed_in_at, method, actor, reason) SELECT 't' || CAST(((i * 7 + j) % {SESSIONS}) * {SITTINGS} + k AS TEXT), \
         'c' || CAST(i AS TEXT), 's' || CAST((i * 7 + j) % {SESSIONS} AS TEXT), '学员', {}, 0, 2, 'bench', '纸质签到表' \
         FROM n, m, s WHERE j < i % 9",
        village("i")
    ))
    .execute(pool)
    .await?;
    sqlx::query(&format!(
        "{attended} INSERT INTO training_hours (id, cadre_id, year, session_id, kind, hours_tenths, region_code, note, \
         actor, recorded_at) SELECT 'h' || CAST(i AS TEXT) || '-' || CAST(j AS TEXT), 'c' || CAST(i AS TEXT), 2026, \
         's' || CAST((i * 7 + j) % {SESSIONS} AS TEXT), 1, 40, {}, '', 'bench', 0 FROM n, m, s WHERE j < i % 9 AND k = 0",
        village("i")
    ))
    .execute(pool)
    .await?;
    sqlx::query(
        "INSERT INTO training_rules (region_code, year, required_hours, default_min_percent, feedback_days, \
         feedback_min_answers, revision, updated_at) VALUES ('150000000000', 2026, ',1:320,6:160,', 80, 14, 3, 1, 0)",
    )
    .execute(pool)
    .await?;
    let count = |table: &'static str| async move {
        sqlx::query_scalar::<_, i64>(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(pool).await
    };
    Ok((count("training_attendance").await? as usize, count("training_hours").await? as usize))
}

async fn report(api: &TrainingApi, who: &Principal, region: &str) -> (Duration, pb::CoverageReport) {
    let request = local_request(
        who,
        "/cadre.training.v1.CompletionService/GetCoverage",
        pb::GetCoverageRequest {
            region_code: region.into(),
            year: 2026,
            page_size: 100,
            ..Default::default()
        },
    )
    .expect("allowed");
    let started = Instant::now();
    let out = api.get_coverage(request).await.expect("a report").into_inner();
    (started.elapsed(), out)
}

#[tokio::main]
async fn main() {
    let cadres = env_number("BENCH_CADRES", 100_000);
    let runs = env_number("BENCH_RUNS", 5).max(1) as usize;
    let who = Principal {
        subject: "bench".into(),
        roles: [Role::ProvinceAdmin].into(),
        jurisdiction: RegionCode::parse("150000000000").expect("a code"),
    };
    for db in TestDb::all(cadre_training::MIGRATIONS).await {
        let backend = format!("{:?}", db.backend());
        let started = Instant::now();
        let (attendance, entries) = seed(&db, cadres).await.expect("seeded");
        println!(
            "{backend}: {cadres} cadres, {attendance} attendance records, {entries} hours entries seeded in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let roster = PartClient::new(
            "roster",
            &Target::parse("http://127.0.0.1:9").expect("a target"),
            &ClientSettings::default(),
        )
        .expect("a client");
        let key =
            cadre_training::code_key(&PiiCipher::from_settings(&PiiSettings::default()).expect("dev keys"));
        let api = TrainingApi::new((*db).clone(), roster, key);
        for (what, region) in [("province", "150000000000"), ("county", "150101000000")] {
            let mut times = Vec::with_capacity(runs);
            let mut last = None;
            for _ in 0..runs {
                let (took, out) = report(&api, &who, region).await;
                times.push(took);
                last = Some(out);
            }
            times.sort();
            let total = last.and_then(|r| r.total).unwrap_or_default();
            println!(
                "{backend}: {what} report ({} cadres, {} short, {} untrained): median {:.0} ms, best {:.0} ms, worst {:.0} ms over {runs} runs",
                total.cadres,
                total.short,
                total.untrained,
                times[times.len() / 2].as_secs_f64() * 1000.0,
                times[0].as_secs_f64() * 1000.0,
                times[times.len() - 1].as_secs_f64() * 1000.0,
            );
        }
    }
}
