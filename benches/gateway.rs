//! Unary GetCadre throughput and latency, direct to the roster versus through the
//! gateway (gRPC passthrough and REST/JSON), in one run on the same data.
//!
//! `cargo bench --bench gateway` (env: BENCH_SECONDS per mode, default 10;
//! BENCH_CONCURRENCY in-flight calls, default 32; BENCH_CONNECTIONS HTTP/2 connections
//! per gRPC mode, default 8). Targets of issue 2: passthrough
//! ≥ 0.6× direct, REST ≥ 0.4× direct.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cadre::suite::{self, SuiteOptions};
use cadre_kit::config::Settings;
use cadre_kit::shutdown::Shutdown;
use cadre_kit::{RegionCode, Role};
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::cadre_service_client::CadreServiceClient;
use tonic::transport::Channel;

#[derive(Debug)]
struct Outcome {
    calls: usize,
    errors: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

impl Outcome {
    fn per_second(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64()
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs `concurrency` loops of `call` for `seconds`, collecting latencies.
async fn drive<F, Fut>(seconds: u64, concurrency: usize, call: F) -> Outcome
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let call = Arc::new(call);
    // Warm-up: connections, caches, prepared statements.
    for _ in 0..200 {
        call().await;
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(50_000);
            let mut errors = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                if !call().await {
                    errors += 1;
                }
                latencies.push(t.elapsed());
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("load task");
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    all.sort();
    let at = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Outcome { calls: all.len(), errors, elapsed, p50: at(0.50), p99: at(0.99) }
}

fn authorized<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    req.metadata_mut().insert("authorization", format!("Bearer {token}").parse().expect("ascii token"));
    req
}

/// `n` separate HTTP/2 connections to `url`.
async fn connections(url: &str, n: usize) -> Vec<Channel> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(Channel::from_shared(url.to_string()).unwrap().connect().await.expect("reachable"));
    }
    out
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let seconds = env_number("BENCH_SECONDS", 10);
    let concurrency = env_number("BENCH_CONCURRENCY", 32) as usize;
    // gRPC clients multiplex calls over HTTP/2 connections: several, like a client population.
    let connections_per_mode = env_number("BENCH_CONNECTIONS", 8).max(1) as usize;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings {
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        demo: true,
        ..Settings::default()
    };
    settings.telemetry.log_filter = "warn".into();
    // The bench measures what the gateway carries, not a caller's rate limit.
    settings.gateway.rate_limits.default = cadre_kit::config::Rate::UNLIMITED;
    let shutdown = Shutdown::new();
    let seed_started = Instant::now();
    let running =
        suite::start(&settings, SuiteOptions::everything(), shutdown.clone()).await.expect("suite starts");
    assert!(!running.seeded.is_empty(), "demo seeded");
    println!(
        "seeded {} in {:.1} s (SQLite, through the API)",
        running.seeded.join("; "),
        seed_started.elapsed().as_secs_f64()
    );
    let grpc = format!("http://{}", running.grpc_addr.expect("grpc"));
    let http = format!("http://{}", running.http_addr.expect("http"));
    let token = cadre_kit::auth::issue_dev_token(
        &settings.auth.dev_secret,
        "bench",
        &[Role::CountyAdmin],
        &RegionCode::parse(cadre_roster::demo::DEMO_COUNTY).unwrap(),
        Duration::from_secs(3600),
    )
    .expect("token");

    let direct = connections(&grpc, connections_per_mode).await;
    let gateway = connections(&http, connections_per_mode).await;
    let first = CadreServiceClient::new(direct[0].clone())
        .list_cadres(authorized(pb::ListCadresRequest { page_size: 1, ..Default::default() }, &token))
        .await
        .expect("list")
        .into_inner();
    let id = first.cadres[0].id.clone();
    println!(
        "GetCadre {id}: {concurrency} calls in flight over {connections_per_mode} connections per mode, \
         {seconds} s per mode, one process"
    );

    let mut results = Vec::new();
    for (name, channels) in [("direct gRPC → roster", direct), ("gRPC → gateway → roster", gateway)] {
        let (id, token) = (id.clone(), token.clone());
        let next = AtomicUsize::new(0);
        let outcome = drive(seconds, concurrency, move || {
            let channel = &channels[next.fetch_add(1, Ordering::Relaxed) % channels.len()];
            let mut client = CadreServiceClient::new(channel.clone());
            let req = authorized(pb::GetCadreRequest { id: id.clone() }, &token);
            async move { client.get_cadre(req).await.is_ok() }
        })
        .await;
        results.push((name, outcome));
    }
    // HTTP/1.1 carries one call per connection at a time: one connection per call in flight.
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build().expect("http client");
    let url = format!("{http}/v1/cadres/{id}");
    let outcome = drive(seconds, concurrency, move || {
        let req = client.get(url.clone()).bearer_auth(token.clone());
        async move {
            match req.send().await {
                Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                _ => false,
            }
        }
    })
    .await;
    results.push(("REST/JSON → gateway → roster", outcome));

    let base = results[0].1.per_second();
    println!(
        "{:<30} {:>10} {:>9} {:>9} {:>9} {:>7}",
        "mode", "calls/s", "p50 ms", "p99 ms", "× direct", "errors"
    );
    for (name, o) in &results {
        println!(
            "{:<30} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>7}",
            name,
            o.per_second(),
            o.p50.as_secs_f64() * 1e3,
            o.p99.as_secs_f64() * 1e3,
            o.per_second() / base,
            o.errors
        );
    }
    shutdown.cancel();
    if let Err(e) = running.wait().await {
        eprintln!("suite stopped with an error: {e}");
    }
}
