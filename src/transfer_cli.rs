//! `cadre import`, `cadre export` and `cadre demo`: roster files to and from a
//! running roster over gRPC, with progress for the person waiting, and a
//! deterministic province-scale roster to try them on.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::region_service_client::RegionServiceClient;
use cadre_proto::roster::v1::transfer_service_client::TransferServiceClient;
use cadre_roster::demo::province;
use tonic::transport::Channel;

/// Largest message either way (a province's roster is ≈ 13 MiB of CSV).
const MAX_MESSAGE: usize = 256 * 1024 * 1024;
/// Regions per UpsertRegions call (each call is one transaction; parents come first).
const REGIONS_PER_CALL: usize = 5000;

pub struct Connection {
    pub server: String,
    pub token: String,
}

impl Connection {
    async fn channel(&self) -> anyhow::Result<Channel> {
        Channel::from_shared(self.server.clone())
            .with_context(|| format!("--server {:?}", self.server))?
            .connect()
            .await
            .with_context(|| format!("cannot reach the roster at {}", self.server))
    }

    fn request<T>(&self, message: T) -> anyhow::Result<tonic::Request<T>> {
        let mut r = tonic::Request::new(message);
        r.metadata_mut().insert(
            "authorization",
            format!("Bearer {}", self.token).parse().context("the token is not a valid header value")?,
        );
        Ok(r)
    }
}

fn format_of(path: &Path) -> anyhow::Result<pb::TransferFormat> {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("csv") => Ok(pb::TransferFormat::Csv),
        Some("xlsx") => Ok(pb::TransferFormat::Xlsx),
        _ => bail!("{}: name a .csv or .xlsx file", path.display()),
    }
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Runs `call` while a line on stderr says what is happening and for how long.
async fn with_progress<T>(what: &str, call: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let mut call = std::pin::pin!(call);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            out = &mut call => {
                eprintln!("\r{what} done in {:.1} s   ", started.elapsed().as_secs_f64());
                return out;
            }
            _ = tick.tick() => {
                eprint!("\r{what} {:.1} s", started.elapsed().as_secs_f64());
                let _ = std::io::stderr().flush();
            }
        }
    }
}

/// Terminal columns `s` takes: CJK characters are two wide.
fn display_width(s: &str) -> usize {
    s.chars().map(|c| if c >= '\u{1100}' { 2 } else { 1 }).sum()
}

fn print_errors(r: &pb::ImportRosterResponse) {
    let width = r.errors.iter().map(|e| display_width(&e.column)).max().unwrap_or(6).max(6);
    println!("{:>6}  {:<width$}  reason", "row", "column");
    for e in &r.errors {
        let pad = width - display_width(&e.column).min(width);
        println!("{:>6}  {}{}  {}", e.row, e.column, " ".repeat(pad), e.reason);
    }
    if r.error_count as usize > r.errors.len() {
        println!("… and {} more", r.error_count as usize - r.errors.len());
    }
}

/// `cadre import FILE`: regions first (if given), then a dry run (the server checks
/// every row), then the import itself if the file is clean.
pub async fn import(
    conn: &Connection,
    file: &Path,
    regions: Option<&Path>,
    dry_run: bool,
) -> anyhow::Result<ExitCode> {
    let format = format_of(file)?;
    eprintln!("reading {} …", file.display());
    let content = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    eprintln!("read {} ({})", file.display(), mib(content.len()));
    let channel = conn.channel().await?;
    if let Some(path) = regions {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let all = province::regions_from_json_text(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let mut client = RegionServiceClient::new(channel.clone());
        let (mut created, mut updated) = (0, 0);
        for chunk in all.chunks(REGIONS_PER_CALL) {
            let out = with_progress(
                &format!("upserting regions ({} of {})", created + updated + chunk.len(), all.len()),
                client.upsert_regions(conn.request(pb::UpsertRegionsRequest { regions: chunk.to_vec() })?),
            )
            .await
            .context("UpsertRegions")?
            .into_inner();
            created += out.created as usize;
            updated += (out.updated + out.unchanged) as usize;
        }
        eprintln!("regions: {created} created, {updated} already there");
    }
    let mut client = TransferServiceClient::new(channel)
        .max_encoding_message_size(MAX_MESSAGE)
        .max_decoding_message_size(MAX_MESSAGE);
    let file_name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let call = |dry_run: bool| pb::ImportRosterRequest {
        format: format as i32,
        content: content.clone(),
        dry_run,
        file_name: file_name.clone(),
    };
    let checked = with_progress(
        &format!("validating: sent {}, server checking every row", mib(content.len())),
        client.import_roster(conn.request(call(true))?),
    )
    .await
    .context("ImportRoster (dry run)")?
    .into_inner();
    if checked.error_count > 0 {
        println!("{} rows read; {} problems, nothing stored:", checked.row_count, checked.error_count);
        print_errors(&checked);
        return Ok(ExitCode::from(1));
    }
    println!("{} rows read, all valid (sha256 {})", checked.row_count, checked.checksum);
    if dry_run {
        println!("dry run: nothing stored");
        return Ok(ExitCode::SUCCESS);
    }
    let done = with_progress(
        &format!("storing: sent {}, server writing in one transaction", mib(content.len())),
        client.import_roster(conn.request(call(false))?),
    )
    .await
    .context("ImportRoster")?
    .into_inner();
    if done.error_count > 0 {
        // The roster changed between the check and the import.
        println!("{} problems, nothing stored:", done.error_count);
        print_errors(&done);
        return Ok(ExitCode::from(1));
    }
    println!("imported {} cadres holding {} posts", done.cadres_created, done.posts_created);
    Ok(ExitCode::SUCCESS)
}

/// `cadre export`.
pub async fn export(conn: &Connection, region: &str, out: &Path) -> anyhow::Result<ExitCode> {
    let format = format_of(out)?;
    let mut client = TransferServiceClient::new(conn.channel().await?).max_decoding_message_size(MAX_MESSAGE);
    let got = with_progress(
        "exporting",
        client.export_roster(
            conn.request(pb::ExportRosterRequest { region_code: region.to_string(), format: format as i32 })?,
        ),
    )
    .await
    .context("ExportRoster")?
    .into_inner();
    std::fs::write(out, &got.content).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "wrote {} cadres to {} ({}{})",
        got.row_count,
        out.display(),
        mib(got.content.len()),
        if got.pii_masked { ", ID numbers and phones masked" } else { "" }
    );
    Ok(ExitCode::SUCCESS)
}

/// `cadre demo`: a province roster CSV and the regions it needs.
pub fn demo(
    villages: usize,
    seed: u64,
    out: &Path,
    regions_out: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    if villages == 0 || villages > 100_000 {
        bail!("--villages must be within 1..=100000");
    }
    let started = Instant::now();
    let demo = province::demo_province(villages, seed);
    let csv = province::template_csv(&demo);
    std::fs::write(out, &csv).with_context(|| format!("writing {}", out.display()))?;
    let regions_out = regions_out.unwrap_or_else(|| out.with_file_name("regions.json"));
    std::fs::write(&regions_out, province::regions_json(&demo).to_string())
        .with_context(|| format!("writing {}", regions_out.display()))?;
    println!(
        "wrote {} cadres in {} villages to {} ({}) and {} regions to {} in {:.1} s",
        demo.cadres.len(),
        villages,
        out.display(),
        mib(csv.len()),
        demo.regions.len(),
        regions_out.display(),
        started.elapsed().as_secs_f64()
    );
    println!("load it: cadre import {} --regions {}", out.display(), regions_out.display());
    Ok(ExitCode::SUCCESS)
}
