//! `cadre`: one binary that runs any part of the suite, or all of it.

mod api_cli;
mod transfer_cli;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use cadre::registry;
use cadre::suite::{self, SuiteOptions};
use cadre_kit::config::Settings;
use cadre_kit::shutdown::{self, Shutdown};
use cadre_kit::{RegionCode, Role};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cadre", version, about = "Village cadre team suite: one binary that runs any part")]
struct Cli {
    /// TOML configuration file (values there override defaults; CADRE__… variables override it).
    #[arg(long, global = true, env = "CADRE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every part and the gateway in one process on SQLite under --data-dir, seeding demo data on first start.
    Up {
        #[arg(long)]
        http_addr: Option<SocketAddr>,
        #[arg(long)]
        grpc_addr: Option<SocketAddr>,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Do not seed the demo county.
        #[arg(long)]
        no_demo: bool,
    },
    /// Run one part (or the gateway) with its own configuration; never seeds demo data.
    Serve {
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(registry::targets()))]
        part: String,
    },
    /// Apply database migrations of every part (or of one) and exit, for operators who migrate separately.
    Migrate {
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(registry::names()))]
        part: Option<String>,
    },
    /// Print a development token signed with the configured dev secret.
    Token {
        /// Role names: province_admin, city_admin, county_admin, township_admin, scoring_unit, auditor, integration, pii.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Jurisdiction: a 12-digit region code, e.g. 150525000000.
        #[arg(long)]
        region: String,
        #[arg(long, default_value = "dev-user")]
        subject: String,
        #[arg(long, default_value_t = 8)]
        ttl_hours: u64,
    },
    /// Import a roster file (CSV or XLSX in the template) and/or reserves into a running roster over gRPC.
    Import {
        /// The file: .csv (UTF-8) or .xlsx.
        file: Option<PathBuf>,
        /// Check every row and report, storing nothing.
        #[arg(long)]
        dry_run: bool,
        /// Upsert these regions first (the regions.json `cadre demo` writes).
        #[arg(long)]
        regions: Option<PathBuf>,
        /// Then create these reserves (the JSON lines `cadre demo` writes), moving each through its steps.
        #[arg(long)]
        reserves: Option<PathBuf>,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Export a region's roster in the import template (PII masked unless your token has the pii role).
    Export {
        /// Region code; default: your token's jurisdiction.
        #[arg(long, default_value = "")]
        region: String,
        /// csv or xlsx; default: from the output file's extension.
        #[arg(long)]
        format: Option<String>,
        #[arg(short = 'o', long = "out")]
        out: PathBuf,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Demo data: `cadre demo seed` loads it into empty databases; `cadre demo roster` writes a
    /// province-scale roster file to import.
    Demo {
        #[command(subcommand)]
        action: DemoCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        action: AuditCommand,
    },
    /// The released API: check the protos against it, or record a release (README "For teams").
    Api {
        #[command(subcommand)]
        action: ApiCommand,
    },
}

#[derive(Subcommand)]
enum ApiCommand {
    /// Compare the API this binary was built with against proto/released/ (what the tests do).
    Check {
        /// The repository (default: the one this binary was built from).
        #[arg(long, default_value_os_t = api_cli::default_root())]
        root: PathBuf,
    },
    /// Record the current API of a service (or of every set) as released, in proto/released/.
    Release {
        /// A service (`roster`) or `shared`; default: every set.
        #[arg(long)]
        service: Option<String>,
        /// Record a breaking change anyway (a new package version is the way; this is for
        /// a set never deployed). The CHANGELOG must still name it.
        #[arg(long)]
        accept_breaking: bool,
        #[arg(long, default_value_os_t = api_cli::default_root())]
        root: PathBuf,
    },
}

#[derive(Subcommand)]
enum DemoCommand {
    /// Load each part's demo data into its database if empty (what `cadre up` does on first start).
    Seed,
    /// Write a deterministic province-scale roster CSV (≈ 6.7 cadres per village), its regions.json
    /// and reserves (≈ 3.3 per village) as JSON lines.
    Roster {
        #[arg(long, default_value_t = 15_000)]
        villages: usize,
        #[arg(long, default_value_t = 2021)]
        seed: u64,
        #[arg(long, default_value = "roster.csv")]
        out: PathBuf,
        /// Where the regions go; default: regions.json beside --out.
        #[arg(long)]
        regions_out: Option<PathBuf>,
        /// Where the reserves go; default: reserves.jsonl beside --out.
        #[arg(long)]
        reserves_out: Option<PathBuf>,
    },
}

/// Where the roster runs and who is calling.
#[derive(clap::Args)]
struct ConnArgs {
    /// A bearer token (`cadre token …`).
    #[arg(long, env = "CADRE_TOKEN", hide_env_values = true)]
    token: String,
    /// The roster's (or the suite's) gRPC address.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    server: String,
}

impl From<ConnArgs> for transfer_cli::Connection {
    fn from(a: ConnArgs) -> Self {
        Self { server: a.server, token: a.token }
    }
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify each part's hash chain (or one part's); exits 1 if one is broken.
    Verify {
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(registry::names()))]
        part: Option<String>,
    },
}

/// The parts a command names: one, or every part when none is named.
fn parts_named(part: Option<&str>) -> Vec<&'static dyn cadre_kit::part::Part> {
    match part.and_then(registry::find) {
        Some(p) => vec![p],
        None => registry::PARTS.to_vec(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut settings = Settings::load(cli.config.as_deref(), &registry::names())?;
    match cli.command {
        Command::Up { http_addr, grpc_addr, data_dir, no_demo } => {
            if let Some(a) = http_addr {
                settings.http_addr = a;
            }
            if let Some(a) = grpc_addr {
                settings.grpc_addr = a;
            }
            if let Some(d) = data_dir {
                settings.data_dir = d;
            }
            if no_demo {
                settings.demo = false;
            }
            let options = SuiteOptions { show_progress: true, ..SuiteOptions::everything() };
            serve(&settings, options, "cadre").await
        }
        Command::Serve { part } => {
            // A part alone never seeds: several replicas starting on an empty database
            // would race to load the demo; seeding is for `cadre up` and `cadre demo seed`.
            let options = match registry::find(&part) {
                Some(p) => {
                    SuiteOptions { parts: vec![p], gateway: false, seed_demo: false, show_progress: false }
                }
                None => {
                    SuiteOptions { parts: Vec::new(), gateway: true, seed_demo: false, show_progress: false }
                }
            };
            serve(&settings, options, &format!("cadre-{part}")).await
        }
        Command::Migrate { part } => {
            for p in parts_named(part.as_deref()) {
                cadre_kit::part::migrate(p, &settings).await?;
                println!("{}: migrations applied", p.name());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Token { roles, region, subject, ttl_hours } => {
            let roles = roles
                .iter()
                .map(|r| r.parse::<Role>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(anyhow::Error::msg)?;
            let region = RegionCode::parse(&region).with_context(|| format!("--region {region:?}"))?;
            // The services would refuse it with 403: say so here instead of printing it.
            let principal = cadre_kit::Principal {
                subject: subject.clone(),
                roles: roles.iter().copied().collect(),
                jurisdiction: region.clone(),
            };
            principal.check_roles().map_err(|why| anyhow::anyhow!("--role/--region: {why}"))?;
            if !settings.auth.accept_dev_tokens {
                bail!("auth.accept_dev_tokens is off: the services would refuse a dev token");
            }
            let token = cadre_kit::auth::issue_dev_token(
                &settings.auth.dev_secret,
                &subject,
                &roles,
                &region,
                Duration::from_secs(ttl_hours * 3600),
            )?;
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { file, dry_run, regions, reserves, conn } => {
            let conn = conn.into();
            let mut code = ExitCode::SUCCESS;
            match &file {
                Some(file) => code = transfer_cli::import(&conn, file, regions.as_deref(), dry_run).await?,
                None if reserves.is_none() => bail!("name a roster file, --reserves FILE or both"),
                None => transfer_cli::upsert_regions(&conn, regions.as_deref()).await?,
            }
            match reserves {
                Some(path) if code == ExitCode::SUCCESS => {
                    transfer_cli::import_reserves(&conn, &path, dry_run).await
                }
                _ => Ok(code),
            }
        }
        Command::Export { region, format, out, conn } => {
            let out = match format.as_deref() {
                None => out,
                Some(f @ ("csv" | "xlsx")) => out.with_extension(f),
                Some(other) => bail!("--format {other:?}: csv or xlsx"),
            };
            transfer_cli::export(&conn.into(), &region, &out).await
        }
        Command::Demo { action: DemoCommand::Roster { villages, seed, out, regions_out, reserves_out } } => {
            transfer_cli::demo(villages, seed, &out, regions_out, reserves_out)
        }
        Command::Demo { action: DemoCommand::Seed } => {
            // Every part on a port of its own choosing for the while: a part's demo may
            // ask another through its API.
            let settings =
                Settings { grpc_addr: "127.0.0.1:0".parse()?, metrics_addr: None, demo: true, ..settings };
            let options = SuiteOptions { gateway: false, show_progress: true, ..SuiteOptions::everything() };
            let shutdown = Shutdown::new();
            let running = suite::start(&settings, options, shutdown.clone()).await?;
            let seeded = running.seeded.clone();
            shutdown.cancel();
            running.wait().await?;
            for line in &seeded {
                println!("seeded {line}");
            }
            if seeded.is_empty() {
                println!("nothing seeded: every part already holds data");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit { action: AuditCommand::Verify { part } } => {
            let mut code = ExitCode::SUCCESS;
            for p in parts_named(part.as_deref()) {
                let report = cadre_kit::part::verify_audit(p, &settings).await?;
                if report.intact {
                    println!("{} audit chain intact: {} entries", p.name(), report.entries);
                } else {
                    println!(
                        "{} audit chain BROKEN at entry {}: {}",
                        p.name(),
                        report.first_broken_sequence.unwrap_or_default(),
                        report.problem.unwrap_or_default()
                    );
                    code = ExitCode::from(1);
                }
            }
            Ok(code)
        }
        Command::Api { action: ApiCommand::Check { root } } => api_cli::check(&root),
        Command::Api { action: ApiCommand::Release { service, accept_breaking, root } } => {
            api_cli::release(&root, service.as_deref(), accept_breaking)
        }
    }
}

async fn serve(settings: &Settings, options: SuiteOptions, service_name: &str) -> anyhow::Result<ExitCode> {
    let _telemetry = cadre_kit::telemetry::init(&settings.telemetry, service_name)?;
    let shutdown = Shutdown::new();
    shutdown::cancel_on_signal(shutdown.clone());
    let all = options.gateway && options.parts.len() == registry::PARTS.len();
    let mut names: Vec<&str> = options.parts.iter().map(|p| p.name()).collect();
    if options.gateway {
        names.push(registry::GATEWAY);
    }
    let gateway = options.gateway;
    let running = suite::start(settings, options, shutdown.clone()).await?;
    for line in &running.seeded {
        println!("seeded {line}");
    }
    println!("cadre is up ({})", names.join(", "));
    if let Some(addr) = running.http_addr {
        if gateway {
            println!("  gateway   http://{addr}   REST/JSON, gRPC passthrough, /openapi.json, /metrics");
        } else {
            println!("  metrics   http://{addr}/metrics");
        }
    }
    if let Some(addr) = running.grpc_addr {
        println!("  gRPC      {addr}   (reflection on: grpcurl -plaintext {addr} list)");
    }
    if all {
        println!("  data      {} (SQLite)", settings.data_dir.display());
        println!();
        println!("Get a token (county administrator of the demo banner, allowed to see PII):");
        println!("  export TOKEN=$(cadre token --role county_admin --role pii --region 150525000000)");
        if let Some(addr) = running.http_addr {
            println!("Then try:");
            println!(
                "  curl -s -H \"Authorization: Bearer $TOKEN\" http://{addr}/v1/regions/150525000000/structure"
            );
            println!("  curl -s -H \"Authorization: Bearer $TOKEN\" 'http://{addr}/v1/cadres?pageSize=3'");
        }
    }
    running.wait().await?;
    println!("stopped");
    Ok(ExitCode::SUCCESS)
}
