//! What the tests that run the `cadre` binary as separate processes share: a child process
//! that is killed when the test ends however it ends, configured only through `CADRE__…`
//! variables as a Kubernetes pod is, and a fresh database of its own.
#![allow(dead_code)] // each test file uses a part of it

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cadre_kit::{RegionCode, Role};

/// A running `cadre` process; killed (SIGKILL) and reaped when dropped, so a failing test
/// leaves nothing behind.
pub struct Proc {
    pub name: String,
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    /// `cadre <args>` with `env` on top of a clean environment (no inherited `CADRE__…`).
    pub fn spawn(name: &str, args: &[&str], env: &[(&str, String)]) -> Proc {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cadre"));
        command.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        for (key, _) in std::env::vars() {
            if key.starts_with("CADRE__") || key == "CADRE_CONFIG" {
                command.env_remove(key);
            }
        }
        command.env("CADRE__TELEMETRY__LOG_FILTER", "warn");
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap_or_else(|e| panic!("{name}: cannot start cadre: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        Proc { name: name.to_string(), child, lines }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it printed so far (stdout and stderr), for failure messages.
    pub fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// Waits for a line containing `needle`; returns it.
    pub fn wait_for(&mut self, needle: &str, within: Duration) -> String {
        let started = Instant::now();
        loop {
            if let Some(line) = self.lines.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return line.clone();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited ({status}) before printing {needle:?}:\n{}", self.name, self.output());
            }
            assert!(
                started.elapsed() < within,
                "{} did not print {needle:?} within {within:?}:\n{}",
                self.name,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The address printed after `label` (`  gateway   http://127.0.0.1:PORT   …`).
    pub fn address(&mut self, label: &str) -> SocketAddr {
        let line = self.wait_for(&format!("{label}   http://"), Duration::from_secs(60));
        let url =
            line.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("{line}"));
        url.trim_start_matches("http://")
            .trim_end_matches("/metrics")
            .parse()
            .unwrap_or_else(|_| panic!("{line}"))
    }

    /// Whether it has not exited yet.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, as the kubelet sends it.
    pub fn terminate(&self) {
        let status =
            Command::new("kill").args(["-TERM", &self.pid().to_string()]).status().expect("kill runs");
        assert!(status.success(), "kill -TERM {}", self.pid());
    }

    /// SIGKILL: the process is gone at once, its connections reset.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for it to exit on its own.
    pub fn wait(&mut self, within: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                started.elapsed() < within,
                "{} still running after {within:?}:\n{}",
                self.name,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Resident memory (VmRSS), in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A fresh database for one test: a new PostgreSQL database when `CADRE_TEST_POSTGRES_URL`
/// names a server (as CI does), else a SQLite file several processes share.
pub struct Database {
    pub url: String,
    pub postgres: bool,
    _dir: Option<tempfile::TempDir>,
}

pub async fn database() -> Database {
    use sqlx::Executor;
    let server = std::env::var(cadre_kit::testing::POSTGRES_URL_VAR).ok().filter(|s| !s.is_empty());
    let Some(server) = server else {
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = format!("sqlite://{}", dir.path().join("shared.db").display());
        return Database { url, postgres: false, _dir: Some(dir) };
    };
    sqlx::any::install_default_drivers();
    let name = format!("{}{}", cadre_kit::testing::TEST_DATABASE_PREFIX, uuid::Uuid::now_v7().simple());
    let admin =
        sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&server).await.expect("PostgreSQL");
    admin.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create a test database");
    admin.close().await;
    Database { url: cadre_kit::testing::with_database(&server, &name), postgres: true, _dir: None }
}

/// A development token, signed with the built-in development secret the children accept.
pub fn token(roles: &[Role], region: &str) -> String {
    cadre_kit::auth::issue_dev_token(
        &cadre_kit::config::AuthSettings::default().dev_secret,
        "tester",
        roles,
        &RegionCode::parse(region).expect("a region code"),
        Duration::from_secs(3600),
    )
    .expect("a token")
}

/// A port free on every address given (replicas on 127.0.0.2 and 127.0.0.3 share it, as
/// pods share their container port).
pub fn free_port(ips: &[&str]) -> u16 {
    for _ in 0..50 {
        let probe = std::net::TcpListener::bind((ips[0], 0)).expect("bind");
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        if ips.iter().all(|ip| std::net::TcpListener::bind((*ip, port)).is_ok()) {
            return port;
        }
    }
    panic!("no port free on {ips:?}");
}

/// The value of one sample in a Prometheus text page, e.g.
/// `cadre_rpc_requests_total{…method="GetRegion",code="Ok"}`: the sum over the lines whose
/// name and labels contain every `needle`.
pub fn sample(page: &str, needles: &[&str]) -> u64 {
    page.lines()
        .filter(|l| !l.starts_with('#') && needles.iter().all(|n| l.contains(n)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}
