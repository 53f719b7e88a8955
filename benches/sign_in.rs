//! The sign-in storm of issue 10: trainees of ten halls signing in at once through the
//! gateway (REST/JSON, as their phones would), each with the code their hall's screen
//! shows, many in flight; every sign-in must be recorded exactly once (checked at the
//! end: one attendance row, one feed row and one audit entry per trainee). Compared in
//! the same run with the roster's single-record write (CreateCadre through the gateway)
//! at the same concurrency. On SQLite, and on PostgreSQL when CADRE_TEST_POSTGRES_URL is
//! set. The trainees come from a province-scale roster imported into the roster and
//! followed into training's copy, as in production.
//!
//! `cargo bench --bench sign_in` (env: BENCH_TRAINEES, default 5000; BENCH_CONCURRENCY,
//! default 200; BENCH_HALLS, default 10).

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use cadre::suite::{self, SuiteOptions};
use cadre_kit::config::Settings;
use cadre_kit::db::Db;
use cadre_kit::shutdown::Shutdown;
use cadre_kit::testing::TestDb;
use cadre_kit::{RegionCode, Role};
use cadre_proto::roster::v1 as pb;
use cadre_roster::demo::province;
use futures::StreamExt;
use serde_json::{Value, json};
use sqlx::Row;

/// The city every hall and trainee is in (the province demo fills its first city first).
const CITY: &str = "150100000000";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn token(settings: &Settings, roles: &[Role], region: &str) -> String {
    cadre_kit::auth::issue_dev_token(
        &settings.auth.dev_secret,
        &format!("bench:{}", roles[0]),
        roles,
        &RegionCode::parse(region).expect("a region code"),
        Duration::from_secs(3600),
    )
    .expect("a token")
}

/// Calls per second and latencies of one load.
struct Outcome {
    calls: usize,
    errors: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

impl Outcome {
    fn of(mut latencies: Vec<Duration>, errors: usize, elapsed: Duration) -> Self {
        latencies.sort();
        let at = |q: f64| {
            latencies
                .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        Outcome { calls: latencies.len(), errors, elapsed, p50: at(0.5), p99: at(0.99) }
    }

    fn per_second(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64()
    }
}

struct Gateway {
    base: String,
    http: reqwest::Client,
}

impl Gateway {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the gateway answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> Value {
        let (status, body) = self.call(reqwest::Method::POST, path, token, Some(body)).await;
        assert_eq!(status, 200, "POST {path}: {body}");
        body
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        let (status, body) = self.call(reqwest::Method::GET, path, token, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }
}

/// A sitting today around now in China Standard Time (sign-in open for an hour or more).
fn sitting_now() -> Value {
    use chrono::Timelike;
    let now = (chrono::Utc::now() + chrono::Duration::hours(8)).naive_utc();
    let start = if now.hour() == 0 { "00:00".to_string() } else { format!("{:02}:00", now.hour() - 1) };
    let end = if now.hour() == 23 { "23:59".to_string() } else { format!("{:02}:59", now.hour() + 1) };
    json!({ "date": now.date().format("%Y-%m-%d").to_string(), "startTime": start, "endTime": end, "place": "市委党校" })
}

async fn count(db: &Db, sql: &str) -> i64 {
    sqlx::query(sql).fetch_one(db.pool()).await.expect(sql).get(0)
}

fn authorized<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// The province-scale roster (regions, then cadres with posts, imported in one call).
async fn load_roster(grpc: &str, province_token: &str, villages: usize) -> usize {
    let demo = province::demo_province(villages, 7);
    let channel = tonic::transport::Channel::from_shared(grpc.to_string()).unwrap().connect().await.unwrap();
    pb::region_service_client::RegionServiceClient::new(channel.clone())
        .upsert_regions(authorized(
            province_token,
            pb::UpsertRegionsRequest { regions: demo.regions.clone() },
        ))
        .await
        .expect("regions");
    let import = pb::ImportRosterRequest {
        format: pb::TransferFormat::Csv as i32,
        content: province::template_csv(&demo),
        dry_run: false,
        file_name: "bench.csv".into(),
    };
    let mut transfer = pb::transfer_service_client::TransferServiceClient::new(channel)
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20);
    let out = transfer.import_roster(authorized(province_token, import)).await.expect("import").into_inner();
    assert!(out.errors.is_empty(), "{:?}", out.errors.first());
    out.cadres_created as usize
}

async fn run_on(
    backend: &str,
    roster_db: TestDb,
    training_db: TestDb,
    trainees: usize,
    halls: usize,
    concurrency: usize,
) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings {
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        demo: false,
        ..Settings::default()
    };
    settings.telemetry.log_filter = "warn".into();
    // The bench measures what the gateway carries, not a caller's rate limit.
    settings.gateway.rate_limits.default = cadre_kit::config::Rate::UNLIMITED;
    settings.gateway.concurrency_limit = settings.gateway.concurrency_limit.max(concurrency);
    settings.part_mut("roster").database.url = Some(roster_db.url().clone());
    settings.part_mut("training").database.url = Some(training_db.url().clone());
    let shutdown = Shutdown::new();
    let options = SuiteOptions { seed_demo: false, ..SuiteOptions::everything() };
    let running = suite::start(&settings, options, shutdown.clone()).await.expect("suite starts");
    let grpc = format!("http://{}", running.grpc_addr.expect("grpc"));
    let gateway = Gateway {
        base: format!("http://{}", running.http_addr.expect("http")),
        http: reqwest::Client::builder().pool_max_idle_per_host(concurrency).build().expect("http client"),
    };
    let training = running.database("training").expect("training runs here").clone();
    let province_token = token(&settings, &[Role::ProvinceAdmin], "150000000000");
    let city = token(&settings, &[Role::CityAdmin], CITY);
    // The trainees' phones: an integration acting for the city's sign-in app.
    let app = token(&settings, &[Role::Integration], CITY);

    // The roster, and training's copy of it through the feed.
    let started = Instant::now();
    let cadres = load_roster(&grpc, &province_token, trainees * 10 / 60 + 60).await;
    let imported = started.elapsed();
    let serving = "SELECT COUNT(*) FROM training_roster_cadres WHERE post_kinds <> ''";
    let followed = Instant::now();
    while (count(&training, serving).await as usize) < cadres {
        assert!(followed.elapsed() < Duration::from_secs(600), "training's copy never caught up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "{backend:<10} roster: {cadres} cadres imported in {:.1} s; training's copy followed the feed in {:.1} s more",
        imported.as_secs_f64(),
        followed.elapsed().as_secs_f64()
    );
    assert!(cadres >= trainees, "{cadres} cadres for {trainees} trainees");
    let ids: Vec<String> = sqlx::query(&format!(
        "SELECT id FROM training_roster_cadres WHERE post_kinds <> '' ORDER BY id LIMIT {trainees}"
    ))
    .fetch_all(training.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect();

    // Ten halls of the city's key training, each sitting now, enrolled by list.
    let course = json!({ "title": "全市村党组织书记示范培训", "topic": "TOPIC_PARTY_EDUCATION", "mode": "COURSE_MODE_CENTRALISED_ROTATION",
        "creditHours": 8, "level": "ORGANISER_LEVEL_CITY", "ownerRegionCode": CITY });
    let course = gateway.post("/v1/training/courses", &city, course).await;
    let per_hall = trainees.div_ceil(halls);
    let mut sittings = Vec::new();
    let mut rooms: Vec<Vec<String>> = Vec::new();
    for (h, hall) in ids.chunks(per_hall).enumerate() {
        let session = json!({ "title": format!("示范培训第{}分会场", h + 1), "organiserLevel": "ORGANISER_LEVEL_CITY",
            "organiserRegionCode": CITY, "courseId": course["id"], "capacity": hall.len(), "sittings": [sitting_now()] });
        let session = gateway.post("/v1/training/sessions", &city, session).await;
        let id = session["id"].as_str().unwrap().to_string();
        for chunk in hall.chunks(500) {
            let out = gateway
                .post(
                    &format!("/v1/training/sessions/{id}/enrolments:batchCreate"),
                    &city,
                    json!({ "cadreIds": chunk }),
                )
                .await;
            assert_eq!(out["enrolled"].as_array().map_or(0, Vec::len), chunk.len(), "{}", out["skipped"]);
        }
        sittings.push(session["sittings"][0]["id"].as_str().unwrap().to_string());
        rooms.push(hall.to_vec());
    }
    // The halls interleaved, as phones in many rooms at once.
    let jobs: Vec<(usize, String)> = (0..per_hall)
        .flat_map(|i| rooms.iter().enumerate().filter_map(move |(h, room)| Some((h, room.get(i)?.clone()))))
        .collect();

    // Each hall's screen shows its code, renewed every 20 s.
    let codes = Arc::new(RwLock::new(vec![String::new(); sittings.len()]));
    let screens = {
        let (codes, sittings, city, gateway) = (
            codes.clone(),
            sittings.clone(),
            city.clone(),
            Gateway { base: gateway.base.clone(), http: reqwest::Client::new() },
        );
        async move {
            loop {
                for (i, sitting) in sittings.iter().enumerate() {
                    let shown =
                        gateway.get(&format!("/v1/training/sittings/{sitting}/sign-in-code"), &city).await;
                    codes.write().unwrap()[i] = shown["code"].as_str().unwrap().to_string();
                }
                tokio::time::sleep(Duration::from_secs(20)).await;
            }
        }
    };
    let screens = tokio::spawn(screens);
    while codes.read().unwrap().iter().any(String::is_empty) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The storm.
    let started = Instant::now();
    let results: Vec<(Duration, bool, bool)> = futures::stream::iter(jobs)
        .map(|(hall, cadre)| {
            let code = codes.read().unwrap()[hall].clone();
            let request = gateway
                .http
                .post(format!("{}/v1/training/sittings/{}:signIn", gateway.base, sittings[hall]))
                .bearer_auth(&app)
                .json(&json!({ "cadreId": cadre, "code": code }));
            async move {
                let t = Instant::now();
                let (ok, first) = match request.send().await {
                    Ok(r) if r.status().is_success() => {
                        let body: Value = r.json().await.unwrap_or_default();
                        (true, body["alreadySignedIn"] != true)
                    }
                    _ => (false, false),
                };
                (t.elapsed(), ok, first)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    screens.abort();
    let errors = results.iter().filter(|r| !r.1).count();
    let repeats = results.iter().filter(|r| r.1 && !r.2).count();
    let sign_ins = Outcome::of(results.iter().map(|r| r.0).collect(), errors, elapsed);

    // Exactly once: one attendance row, one feed row, one audit entry per trainee.
    let rows = count(&training, "SELECT COUNT(*) FROM training_attendance").await as usize;
    let distinct =
        count(&training, "SELECT COUNT(DISTINCT cadre_id) FROM training_attendance").await as usize;
    let feed = count(&training, "SELECT COUNT(*) FROM kit_changes WHERE entity = 'ENTITY_ATTENDANCE'").await
        as usize;
    let audit = count(
        &training,
        "SELECT COUNT(*) FROM kit_audit_log WHERE action = 'cadre.training.v1.SignInService/SignIn'",
    )
    .await as usize;
    assert_eq!((errors, repeats), (0, 0), "every sign-in answered once as new");
    assert_eq!(
        (rows, distinct, feed, audit),
        (trainees, trainees, trainees, trainees),
        "recorded exactly once"
    );

    // The roster's single-record write, the same way: CreateCadre through the gateway.
    let villages: Vec<String> =
        sqlx::query("SELECT DISTINCT region_code FROM training_roster_cadres ORDER BY region_code LIMIT 50")
            .fetch_all(training.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
    let started = Instant::now();
    let results: Vec<(Duration, bool)> = futures::stream::iter(0..trainees)
        .map(|i| {
            // ID numbers of another county than the demo's, one per cadre.
            let birth = chrono::NaiveDate::from_ymd_opt(1960, 1, 1).unwrap() + chrono::Duration::days((i / 1000) as i64);
            let id_number = cadre_kit::resident_id::build("152921", birth, (i % 1000) as u16);
            let body = json!({ "regionCode": villages[i % villages.len()], "name": format!("新任委员{i}"),
                "idNumber": id_number.as_str(), "ethnicity": "汉族", "phone": "13847512345",
                "politicalStatus": "POLITICAL_STATUS_PARTY_MEMBER", "education": "EDUCATION_COLLEGE", "fullTimeEducation": true });
            let request = gateway.http.post(format!("{}/v1/cadres", gateway.base)).bearer_auth(&city).json(&body);
            async move {
                let t = Instant::now();
                let ok = matches!(request.send().await, Ok(r) if r.status().is_success());
                (t.elapsed(), ok)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let errors = results.iter().filter(|r| !r.1).count();
    let writes = Outcome::of(results.iter().map(|r| r.0).collect(), errors, elapsed);

    for (name, o) in [("SignIn (training)", &sign_ins), ("CreateCadre (roster)", &writes)] {
        println!(
            "{backend:<10} {name:<22} {:>6} calls {:>9.0}/s  p50 {:>7.1} ms  p99 {:>7.1} ms  errors {}",
            o.calls,
            o.per_second(),
            o.p50.as_secs_f64() * 1e3,
            o.p99.as_secs_f64() * 1e3,
            o.errors
        );
    }
    println!(
        "{backend:<10} sign-ins per roster write: {:.2}×; every sign-in recorded once ({rows} rows, {feed} feed rows, {audit} audit entries)",
        sign_ins.per_second() / writes.per_second()
    );
    shutdown.cancel();
    if let Err(e) = running.wait().await {
        eprintln!("suite stopped with an error: {e}");
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let trainees = env_number("BENCH_TRAINEES", 5000) as usize;
        let concurrency = env_number("BENCH_CONCURRENCY", 200) as usize;
        let halls = env_number("BENCH_HALLS", 10).clamp(1, 100) as usize;
        assert!(trainees.div_ceil(halls) <= 2000, "a hall holds at most 2,000");
        println!("sign-in storm: {trainees} trainees in {halls} halls, {concurrency} in flight, through the gateway (REST)");
        let roster = TestDb::sqlite(cadre_roster::MIGRATIONS).await;
        let training = TestDb::sqlite(cadre_training::MIGRATIONS).await;
        run_on("SQLite", roster, training, trainees, halls, concurrency).await;
        match (TestDb::postgres(cadre_roster::MIGRATIONS).await, TestDb::postgres(cadre_training::MIGRATIONS).await) {
            (Some(roster), Some(training)) => run_on("PostgreSQL", roster, training, trainees, halls, concurrency).await,
            _ => println!("PostgreSQL: skipped (set CADRE_TEST_POSTGRES_URL)"),
        }
    });
}
