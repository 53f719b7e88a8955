//! `cadre import`, `cadre export` and `cadre demo`: roster files (and reserves) to and from a
//! running roster over gRPC, with progress for the person waiting, and a
//! deterministic province-scale roster to try them on.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::region_service_client::RegionServiceClient;
use cadre_proto::roster::v1::reserve_service_client::ReserveServiceClient;
use cadre_proto::roster::v1::transfer_service_client::TransferServiceClient;
use cadre_roster::demo::province;
use sha2::Digest;
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

/// Upserts the regions of a `regions.json` (when given), in chunks, parents first.
pub async fn upsert_regions(conn: &Connection, regions: Option<&Path>) -> anyhow::Result<()> {
    if regions.is_some() {
        upsert_regions_on(conn, &conn.channel().await?, regions).await?;
    }
    Ok(())
}

async fn upsert_regions_on(
    conn: &Connection,
    channel: &Channel,
    regions: Option<&Path>,
) -> anyhow::Result<()> {
    let Some(path) = regions else { return Ok(()) };
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let all =
        province::regions_from_json_text(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
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
    Ok(())
}

/// Bytes of the file per streamed message (the server takes up to 4 MiB each).
const PIECE_BYTES: usize = 1 << 20;
/// Attempts of a streamed import that failed in transport before its result came.
const IMPORT_ATTEMPTS: usize = 3;

/// What the server says it is doing, as one line for a terminal.
fn describe(p: &pb::ImportRosterProgress, file_bytes: usize) -> String {
    use pb::ImportPhase as P;
    let rows = |n: i32| format!("{n:>7}/{} rows", p.rows_total);
    match P::try_from(p.phase).unwrap_or(P::Unspecified) {
        P::Unspecified | P::Receiving => {
            format!("sending {} of {}", mib(p.bytes_received as usize), mib(file_bytes))
        }
        P::Reading => format!("server reading the file ({})", mib(file_bytes)),
        P::Checking => format!("checking every cell: {}", rows(p.rows_checked)),
        P::CheckingRoster => format!("checking {} rows against the roster", p.rows_total),
        P::Writing => format!(
            "checking every cell: {}; stored so far, in one transaction: {} cadres, {} posts",
            rows(p.rows_checked),
            p.cadres_written,
            p.posts_written
        ),
        P::Finishing => format!(
            "stored {} cadres, {} posts; recording the change feed and committing",
            p.cadres_written, p.posts_written
        ),
        P::Done => "done".to_string(),
    }
}

/// The key of one `cadre import` run: the same for its retries, new for the next run
/// (a file refused because, say, a village was missing can be sent again once it is
/// added, without getting the stored refusal back).
fn import_key(content: &[u8]) -> String {
    let digest = sha2::Sha256::digest(content);
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("import-{}-{:x}-{:x}", hex_prefix(&digest, 8), run.as_nanos(), std::process::id())
}

/// The first `n` bytes of a digest, in hex (idempotency keys stay short).
fn hex_prefix(digest: &[u8], n: usize) -> String {
    digest.iter().take(n).map(|b| format!("{b:02x}")).collect()
}

/// `cadre import FILE`: regions first (if given), then the file, streamed in pieces;
/// the server checks every row and stores all or nothing, reporting as it goes.
pub async fn import(
    conn: &Connection,
    file: &Path,
    regions: Option<&Path>,
    dry_run: bool,
) -> anyhow::Result<ExitCode> {
    let format = format_of(file)?;
    let content = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    eprintln!("read {} ({})", file.display(), mib(content.len()));
    let channel = conn.channel().await?;
    upsert_regions_on(conn, &channel, regions).await?;
    let mut client = TransferServiceClient::new(channel);
    let file_name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let key = import_key(&content);
    let started = Instant::now();
    let mut attempt = 0;
    let result = loop {
        attempt += 1;
        let pieces: Vec<pb::ImportRosterChunk> = content
            .chunks(PIECE_BYTES)
            .map(|piece| pb::ImportRosterChunk {
                format: format as i32,
                dry_run,
                file_name: file_name.clone(),
                content: piece.to_vec(),
            })
            .collect();
        let mut req = conn.request(futures::stream::iter(pieces))?;
        req.metadata_mut()
            .insert(cadre_kit::idempotency::METADATA_KEY, key.parse().context("idempotency key")?);
        match follow_import(&mut client, req, content.len(), started).await {
            Ok(result) => break result,
            Err(status)
                if attempt < IMPORT_ATTEMPTS
                    && matches!(status.code(), tonic::Code::Unavailable | tonic::Code::Unknown) =>
            {
                eprintln!("\nconnection lost ({}); sending again, same key", status.message());
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(status) => return Err(anyhow::Error::new(status).context("ImportRosterStream")),
        }
    };
    if result.error_count > 0 {
        println!("{} rows read; {} problems, nothing stored:", result.row_count, result.error_count);
        print_errors(&result);
        return Ok(ExitCode::from(1));
    }
    if result.dry_run {
        println!(
            "{} rows read, all valid (sha256 {}); dry run: nothing stored",
            result.row_count, result.checksum
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "imported {} cadres holding {} posts from {} rows (sha256 {})",
        result.cadres_created, result.posts_created, result.row_count, result.checksum
    );
    Ok(ExitCode::SUCCESS)
}

/// Sends one streamed import and shows its progress on stderr until the result.
async fn follow_import(
    client: &mut TransferServiceClient<Channel>,
    req: tonic::Request<impl futures::Stream<Item = pb::ImportRosterChunk> + Send + 'static>,
    file_bytes: usize,
    started: Instant,
) -> Result<pb::ImportRosterResponse, tonic::Status> {
    let mut reports = client.import_roster_stream(req).await?.into_inner();
    let mut width = 0;
    while let Some(p) = reports.message().await? {
        let line = format!("{} ({:.1} s)", describe(&p, file_bytes), started.elapsed().as_secs_f64());
        eprint!("\r{line:<width$}");
        width = width.max(display_width(&line));
        let _ = std::io::stderr().flush();
        if let Some(result) = p.result {
            eprintln!();
            return Ok(result);
        }
    }
    Err(tonic::Status::unknown("the server ended the import without a result"))
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
    reserves_out: Option<PathBuf>,
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
    let reserves_out = reserves_out.unwrap_or_else(|| out.with_file_name("reserves.jsonl"));
    std::fs::write(&reserves_out, province::reserves_jsonl(&demo))
        .with_context(|| format!("writing {}", reserves_out.display()))?;
    println!("wrote {} reserves to {}", demo.reserves.len(), reserves_out.display());
    println!(
        "load it: cadre import {} --regions {} --reserves {}",
        out.display(),
        regions_out.display(),
        reserves_out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Reserves created at once by `cadre import --reserves`.
const RESERVE_CONCURRENCY: usize = 16;

/// The idempotency key of a reserves-file line: a rerun of the same file creates nothing twice.
fn reserve_key(line: &str) -> String {
    let digest = sha2::Sha256::digest(line.trim().as_bytes());
    format!("import-reserve-{}", hex_prefix(&digest, 16))
}

async fn import_reserve(
    conn: &Connection,
    client: &mut ReserveServiceClient<Channel>,
    line: &str,
) -> anyhow::Result<usize> {
    let r = province::reserve_from_json_line(line).map_err(anyhow::Error::msg)?;
    let key = reserve_key(line);
    fn keyed<T>(conn: &Connection, message: T, key: String) -> anyhow::Result<tonic::Request<T>> {
        let mut req = conn.request(message)?;
        req.metadata_mut()
            .insert(cadre_kit::idempotency::METADATA_KEY, key.parse().context("idempotency key")?);
        Ok(req)
    }
    let mut at = client
        .create_reserve(keyed(conn, pb::CreateReserveRequest { reserve: Some(r.reserve) }, key.clone())?)
        .await
        .map_err(|s| anyhow::anyhow!("CreateReserve: {}: {}", s.code(), s.message()))?
        .into_inner();
    // A rerun gets the reserve as it is now: go on from its current stage.
    let skip = if at.stage == pb::ReserveStage::Recommended as i32 {
        0
    } else {
        match r.steps.iter().position(|s| s.stage as i32 == at.stage) {
            Some(p) => p + 1,
            None => r.steps.len(),
        }
    };
    let mut moved = 0;
    for step in &r.steps[skip..] {
        let message = pb::AdvanceReserveRequest {
            id: at.id.clone(),
            to_stage: step.stage as i32,
            date: cadre_roster::domain::dates::format(step.date),
            revision: at.revision,
            ..Default::default()
        };
        at = client
            .advance_reserve(keyed(conn, message, format!("{key}-{}", step.stage as i32))?)
            .await
            .map_err(|s| {
                anyhow::anyhow!(
                    "AdvanceReserve to {}: {}: {}",
                    step.stage.as_str_name(),
                    s.code(),
                    s.message()
                )
            })?
            .into_inner();
        moved += 1;
    }
    Ok(moved)
}

/// `cadre import --reserves FILE`: each line created through CreateReserve and moved
/// through its steps with AdvanceReserve, 16 at a time, each call with an idempotency
/// key from the line (a rerun after a failure picks up where it stopped). With
/// `dry_run`, only checks every line.
pub async fn import_reserves(conn: &Connection, path: &Path, dry_run: bool) -> anyhow::Result<ExitCode> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let lines: Vec<(usize, String)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l.to_string()))
        .collect();
    if dry_run {
        let mut problems = 0;
        for (n, line) in &lines {
            let checked = province::reserve_from_json_line(line).and_then(|r| {
                cadre_roster::domain::reserves::validate_new("reserve", &r.reserve)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            });
            if let Err(e) = checked {
                problems += 1;
                if problems <= 20 {
                    println!("{}:{n}: {e}", path.display());
                }
            }
        }
        println!("{} reserves read, {problems} problems; dry run: nothing stored", lines.len());
        return Ok(if problems == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) });
    }
    let channel = conn.channel().await?;
    let total = lines.len();
    let lines = Arc::new(lines);
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let steps = Arc::new(AtomicUsize::new(0));
    let conn = Arc::new(Connection { server: conn.server.clone(), token: conn.token.clone() });
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..RESERVE_CONCURRENCY {
        let (lines, next, done, steps, conn) =
            (lines.clone(), next.clone(), done.clone(), steps.clone(), conn.clone());
        let mut client = ReserveServiceClient::new(channel.clone());
        workers.spawn(async move {
            let mut failed = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((n, line)) = lines.get(i) else { break };
                match import_reserve(&conn, &mut client, line).await {
                    Ok(moved) => {
                        steps.fetch_add(moved, Ordering::Relaxed);
                    }
                    Err(e) => failed.push(format!("line {n}: {e:#}")),
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            failed
        });
    }
    let show = |done: usize| {
        let secs = started.elapsed().as_secs_f64();
        eprint!(
            "\rreserves: {done}/{total} ({:.0}/s, {} steps)   ",
            done as f64 / secs.max(0.001),
            steps.load(Ordering::Relaxed)
        );
        let _ = std::io::stderr().flush();
    };
    let mut failed = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            joined = workers.join_next() => match joined {
                Some(result) => failed.extend(result.context("an import worker stopped")?),
                None => break,
            },
            _ = tick.tick() => show(done.load(Ordering::Relaxed)),
        }
    }
    show(done.load(Ordering::Relaxed));
    eprintln!();
    failed.sort();
    let ok = total - failed.len();
    println!(
        "{ok} reserves created (or already there) and {} pipeline steps taken in {:.1} s; {} failed",
        steps.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
        failed.len()
    );
    for why in failed.iter().take(20) {
        println!("  {why}");
    }
    if failed.len() > 20 {
        println!("  … and {} more", failed.len() - 20);
    }
    Ok(if failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_keys_are_valid_keys_and_new_for_each_run() {
        let a = import_key(b"file");
        assert!(cadre_kit::idempotency::IdempotencyKey::parse(&a).is_ok(), "{a}");
        assert!(a.starts_with(&format!("import-{}", hex_prefix(&sha2::Sha256::digest(b"file"), 8))));
        std::thread::sleep(Duration::from_millis(1));
        assert_ne!(a, import_key(b"file"));
    }

    #[test]
    fn progress_lines_say_what_the_server_is_doing() {
        let mut p = pb::ImportRosterProgress {
            phase: pb::ImportPhase::Receiving as i32,
            bytes_received: 3 << 20,
            ..Default::default()
        };
        assert_eq!(describe(&p, 13 << 20), "sending 3.0 MiB of 13.0 MiB");
        p.phase = pb::ImportPhase::Checking as i32;
        p.rows_total = 99_809;
        p.rows_checked = 40_000;
        assert_eq!(describe(&p, 13 << 20), "checking every cell:   40000/99809 rows");
        p.phase = pb::ImportPhase::Writing as i32;
        p.cadres_written = 30_000;
        assert_eq!(
            describe(&p, 13 << 20),
            "checking every cell:   40000/99809 rows; stored so far, in one transaction: 30000 cadres, 0 posts"
        );
    }

    #[test]
    fn reserve_keys_follow_the_line_and_are_valid_keys() {
        let (a, b) = (r#"{"reserve":{"name":"甲"}}"#, r#"{"reserve":{"name":"乙"}}"#);
        assert_eq!(reserve_key(a), reserve_key(&format!("{a}\r")));
        assert_ne!(reserve_key(a), reserve_key(b));
        let step = format!("{}-{}", reserve_key(a), pb::ReserveStage::InTraining as i32);
        assert!(cadre_kit::idempotency::IdempotencyKey::parse(&step).is_ok());
    }
}
