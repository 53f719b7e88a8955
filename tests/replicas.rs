//! Replicas for real: two `cadre serve roster` processes on one database, each on its own
//! address as two pods are (127.0.0.2 and 127.0.0.3, the same port), behind a `cadre serve
//! gateway` process whose kit client balances over both; load goes through the gateway's
//! REST API as a province's clients send it. The load is shared; a rolling restart (SIGTERM
//! one replica, start its successor, then the other) fails no call; a replica killed with
//! SIGKILL fails only the calls in flight on it, and those that are safe to repeat (reads,
//! writes with an Idempotency-Key) are retried on the other, so their callers see none fail.
//!
//! The gateway is given the replicas as a static list: two processes on one machine cannot
//! answer to one DNS name without editing the system's hosts file. Re-resolution of a
//! `dns://` name as pods come and go is proven in-process by services/roster/tests/replicas.rs;
//! this test proves the processes, signals, draining and retries around it.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cadre_kit::Role;
use common::{Database, Proc, database, free_port, sample, token};
use serde_json::{Value, json};

const COUNTY: &str = "150525000000";
const VILLAGE: &str = "150525100201";

/// Where the two replicas listen: two addresses and one port, as two pods; where the
/// system routes only 127.0.0.1 (macOS), two ports on it.
fn replica_addrs() -> [SocketAddr; 2] {
    let ips = ["127.0.0.2", "127.0.0.3"];
    if std::net::TcpListener::bind((ips[1], 0)).is_ok() {
        let port = free_port(&ips);
        return ips.map(|ip| SocketAddr::new(ip.parse().unwrap(), port));
    }
    let first = free_port(&["127.0.0.1"]);
    let second = std::iter::repeat_with(|| free_port(&["127.0.0.1"])).find(|p| *p != first).expect("a port");
    [first, second].map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
}

fn start_replica(name: &str, addr: SocketAddr, db: &Database) -> (Proc, String) {
    let mut replica = Proc::spawn(
        name,
        &["serve", "roster"],
        &[
            ("CADRE__GRPC_ADDR", addr.to_string()),
            ("CADRE__METRICS_ADDR", format!("{}:0", addr.ip())),
            ("CADRE__ROSTER__DATABASE__URL", db.url.clone()),
            // Short, so the test is quick; on Kubernetes 10 s (k8s/base/service).
            ("CADRE__DRAIN_GRACE_MS", "500".into()),
        ],
    );
    let metrics = format!("http://{}/metrics", replica.address("metrics"));
    replica.wait_for("cadre is up", Duration::from_secs(60));
    (replica, metrics)
}

/// GetRegion calls a replica answered OK, from its own /metrics.
async fn served(http: &reqwest::Client, metrics: &str) -> u64 {
    let page = http.get(metrics).send().await.expect("metrics answer").text().await.unwrap();
    sample(&page, &["cadre_rpc_requests_total{", "method=\"GetRegion\"", "code=\"Ok\""])
}

/// Calls of one kind: how many succeeded, how many failed and the first failures.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    first_failures: std::sync::Mutex<Vec<String>>,
}

impl Tally {
    fn record(&self, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(why) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                let mut first = self.first_failures.lock().unwrap();
                if first.len() < 5 {
                    first.push(why);
                }
            }
        }
    }

    fn line(&self, what: &str) -> String {
        format!(
            "{what}: {} ok, {} failed {:?}",
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.first_failures.lock().unwrap()
        )
    }

    fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
}

/// Continuous load through the gateway until stopped: reads (GetRegion, declared without
/// side effects), writes carrying an Idempotency-Key, and writes without one (CreateCadre).
struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    reads: Arc<Tally>,
    keyed: Arc<Tally>,
    unkeyed: Arc<Tally>,
}

/// Distinct, valid ID numbers for the cadres the writers create.
static NEXT_CADRE: AtomicU64 = AtomicU64::new(0);

fn new_cadre() -> Value {
    let n = NEXT_CADRE.fetch_add(1, Ordering::Relaxed);
    let birth = chrono::NaiveDate::from_ymd_opt(1965, 1, 1).unwrap() + chrono::Days::new(n / 900);
    let id = cadre_kit::resident_id::build("150525", birth, (n % 900 + 100) as u16);
    json!({
        "regionCode": VILLAGE, "name": format!("测试{n}"), "idNumber": id.as_str(),
        "politicalStatus": "POLITICAL_STATUS_PARTY_MEMBER", "education": "EDUCATION_BACHELOR"
    })
}

impl Load {
    fn start(base: &str, token: &str, readers: usize, keyed: usize, unkeyed: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let (reads, keyed_tally, unkeyed_tally) =
            (Arc::new(Tally::default()), Arc::new(Tally::default()), Arc::new(Tally::default()));
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        let mut tasks = Vec::new();
        let kinds = [
            (readers, 0u8, reads.clone()),
            (keyed, 1, keyed_tally.clone()),
            (unkeyed, 2, unkeyed_tally.clone()),
        ];
        for (workers, kind, tally) in kinds {
            for _ in 0..workers {
                let (http, stop, tally) = (http.clone(), stop.clone(), tally.clone());
                let (base, token) = (base.to_string(), token.to_string());
                tasks.push(tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let request = match kind {
                            0 => http.get(format!("{base}/v1/regions/{VILLAGE}")),
                            1 => http
                                .post(format!("{base}/v1/cadres"))
                                .header("Idempotency-Key", uuid::Uuid::now_v7().to_string())
                                .json(&new_cadre()),
                            _ => http.post(format!("{base}/v1/cadres")).json(&new_cadre()),
                        };
                        let outcome = match request.bearer_auth(&token).send().await {
                            Ok(r) if r.status() == 200 => Ok(()),
                            Ok(r) => Err(format!("{}: {}", r.status(), r.text().await.unwrap_or_default())),
                            Err(e) => Err(format!("no answer: {e}")),
                        };
                        tally.record(outcome);
                    }
                }));
            }
        }
        Load { stop, tasks, reads, keyed: keyed_tally, unkeyed: unkeyed_tally }
    }

    async fn stop(mut self) -> Load {
        self.stop.store(true, Ordering::Relaxed);
        for task in std::mem::take(&mut self.tasks) {
            task.await.expect("a load task");
        }
        self
    }

    fn report(&self) -> String {
        [self.reads.line("reads"), self.keyed.line("keyed writes"), self.unkeyed.line("unkeyed writes")]
            .join("; ")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_the_load_and_survive_a_rolling_restart_and_a_kill() {
    let db = database().await;
    let addrs = replica_addrs();
    let http = reqwest::Client::new();

    // Two replicas starting together on an empty database: both migrate at start, under
    // PostgreSQL's advisory lock (on SQLite, its write lock).
    let (mut a, mut a_metrics) = start_replica("roster-a", addrs[0], &db);
    let (mut b, mut b_metrics) = start_replica("roster-b", addrs[1], &db);
    let endpoints = addrs.map(|addr| format!("http://{addr}")).join(",");
    let mut gateway = Proc::spawn(
        "gateway",
        &["serve", "gateway"],
        &[
            ("CADRE__HTTP_ADDR", "127.0.0.1:0".into()),
            ("CADRE__ROSTER__ENDPOINTS", endpoints),
            // Training, assessment and incentive are not under test here: ports nothing listens on (the
            // gateway is ready all the same, reporting them down).
            ("CADRE__TRAINING__ENDPOINTS", format!("http://127.0.0.1:{}", free_port(&["127.0.0.1"]))),
            ("CADRE__ASSESSMENT__ENDPOINTS", format!("http://127.0.0.1:{}", free_port(&["127.0.0.1"]))),
            ("CADRE__INCENTIVE__ENDPOINTS", format!("http://127.0.0.1:{}", free_port(&["127.0.0.1"]))),
            ("CADRE__DRAIN_GRACE_MS", "0".into()),
            // Thousands of reads with one county token: a load test, not a person.
            ("CADRE__GATEWAY__RATE_LIMITS__DEFAULT__PER_SECOND", "0".into()),
        ],
    );
    let base = format!("http://{}", gateway.address("gateway"));
    gateway.wait_for("cadre is up", Duration::from_secs(60));
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "{}", ready.text().await.unwrap());

    let province = token(&[Role::ProvinceAdmin], "150000000000");
    let county = token(&[Role::CountyAdmin], COUNTY);
    let regions = json!({ "regions": [
        { "code": "150000000000", "name": "内蒙古自治区" },
        { "code": "150500000000", "name": "通辽市" },
        { "code": COUNTY, "name": "奈曼旗" },
        { "code": "150525100000", "name": "大沁他拉镇" },
        { "code": VILLAGE, "name": "白音他拉嘎查", "villageType": "demonstration" },
    ]});
    let seeded = http
        .post(format!("{base}/v1/regions:batchUpsert"))
        .bearer_auth(&province)
        .json(&regions)
        .send()
        .await
        .unwrap();
    assert_eq!(seeded.status(), 200, "{}", seeded.text().await.unwrap());

    // 1. The load is shared: 2,000 reads through the gateway, 8 at a time.
    let before = (served(&http, &a_metrics).await, served(&http, &b_metrics).await);
    let load = Load::start(&base, &county, 8, 0, 0);
    while load.reads.ok.load(Ordering::Relaxed) + load.reads.failed() < 2_000 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let load = load.stop().await;
    let split = (served(&http, &a_metrics).await - before.0, served(&http, &b_metrics).await - before.1);
    let total = split.0 + split.1;
    eprintln!(
        "split over two replicas: {} / {} of {total} reads ({:.0}% / {:.0}%); {}",
        split.0,
        split.1,
        100.0 * split.0 as f64 / total as f64,
        100.0 * split.1 as f64 / total as f64,
        load.report()
    );
    assert_eq!(load.reads.failed(), 0, "{}", load.report());
    assert!(split.0 * 10 >= total * 3 && split.1 * 10 >= total * 3, "one replica took under 30%: {split:?}");
    eprintln!(
        "resident memory under load (debug build): roster-a {} KiB, roster-b {} KiB, gateway {} KiB",
        a.rss_kib().unwrap_or(0),
        b.rss_kib().unwrap_or(0),
        gateway.rss_kib().unwrap_or(0)
    );

    // 2. A rolling restart under continuous load fails no call: each replica gets SIGTERM,
    // drains and exits, and its successor comes up on its address before the next one goes.
    let load = Load::start(&base, &county, 6, 2, 2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    for (old, metrics, addr, name) in
        [(&mut a, &mut a_metrics, addrs[0], "roster-a2"), (&mut b, &mut b_metrics, addrs[1], "roster-b2")]
    {
        old.terminate();
        let status = old.wait(Duration::from_secs(30));
        assert!(
            status.success(),
            "{} did not stop cleanly on SIGTERM ({status}):\n{}",
            old.name,
            old.output()
        );
        let (successor, successor_metrics) = start_replica(name, addr, &db);
        *old = successor;
        *metrics = successor_metrics;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let restart = started.elapsed();
    let load = load.stop().await;
    eprintln!("rolling restart of both replicas in {restart:.1?} under load: {}", load.report());
    for tally in [&load.reads, &load.keyed, &load.unkeyed] {
        assert_eq!(tally.failed(), 0, "a call failed during the rolling restart: {}", load.report());
        assert!(tally.ok.load(Ordering::Relaxed) > 0, "no call made: {}", load.report());
    }

    // 3. SIGKILL: no draining, connections reset mid-call.
    let unkeyed_writers = 2;
    let load = Load::start(&base, &county, 6, 2, unkeyed_writers);
    tokio::time::sleep(Duration::from_millis(700)).await;
    b.kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let load = load.stop().await;
    eprintln!("one replica killed (SIGKILL) under load: {}", load.report());
    assert_eq!(load.reads.failed(), 0, "reads are retried: {}", load.report());
    assert_eq!(load.keyed.failed(), 0, "keyed writes are retried: {}", load.report());
    // A write without a key is not repeated: it may fail if it was in flight on the killed
    // replica, and each writer has at most one call in flight.
    assert!(
        load.unkeyed.failed() <= unkeyed_writers as u64,
        "more failed than were in flight: {}",
        load.report()
    );
    assert!(load.reads.ok.load(Ordering::Relaxed) > 0);

    gateway.terminate();
    assert!(gateway.wait(Duration::from_secs(20)).success(), "{}", gateway.output());
    a.terminate();
    assert!(a.wait(Duration::from_secs(20)).success(), "{}", a.output());
}
