//! TransferService: a county's roster imported from, or exported to, the template
//! offices keep (CSV or XLSX). Imports are all or nothing: every row is checked
//! first, and either every row lands in one transaction or none does and the
//! response lists every problem with its row and column.

pub mod file;
pub mod progress;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tonic::{Request, Response, Status};

use cadre_kit::changes::{ChangeRecord, Operation};
use cadre_kit::db::to_micros;
use cadre_kit::pii::PiiCipher;
use cadre_kit::{ApiError, RegionCode};
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::transfer_service_server::{TransferService, TransferServiceServer};
use cadre_proto::roster::v1::{ImportPhase, TransferFormat};

use super::RosterApi;
use super::cadres::{ID_FIELD, PHONE_FIELD, row_from_fields, shown_pii};
use crate::domain::import::{self, Column, ImportRow, RowError};
use crate::domain::term_calendar::TermCalendar;
use crate::domain::{dates, posts};
use crate::error::RosterError;
use crate::store::transfer as st;
use crate::store::{CadreRow, PostRow};
use cadre_kit::call::Call;
use file::Table;
use progress::Progress;

/// Largest file a gRPC import may carry (the gateway's own body limit applies to REST).
pub const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;
/// Row errors returned in one response; `error_count` has the total.
pub const MAX_REPORTED_ERRORS: usize = 1000;

/// The service, accepting files up to [`MAX_IMPORT_BYTES`].
pub fn server(api: RosterApi) -> TransferServiceServer<RosterApi> {
    TransferServiceServer::new(api).max_decoding_message_size(MAX_IMPORT_BYTES)
}

fn format(field: &str, v: i32, default: TransferFormat) -> Result<TransferFormat, ApiError> {
    match TransferFormat::try_from(v) {
        Ok(TransferFormat::Unspecified) => Ok(default),
        Ok(f) => Ok(f),
        Err(_) => Err(ApiError::invalid(field, format!("unknown format {v}: CSV or XLSX"))),
    }
}

/// Rows per piece of an import: the server checks one piece while it stores the one
/// before (measured by benches/import.rs: 10,000 keeps both sides busy).
pub const PIECE_ROWS: usize = 10_000;

/// One checked piece of a file: its good rows with their stored forms (same order),
/// their posts, and its problems.
struct Piece {
    rows: Vec<ImportRow>,
    cadres: Vec<CadreRow>,
    posts: Vec<PostRow>,
    errors: Vec<RowError>,
}

/// The stored forms of good rows: IDs, and PII encrypted and indexed on all cores (the
/// slow part of a large import).
fn prepare(pii: &PiiCipher, rows: Vec<ImportRow>, errors: Vec<RowError>, now: i64) -> Piece {
    let cadres: Vec<CadreRow> = cadre_kit::parallel::map_pieces(&rows, 256, |_, part| {
        part.iter()
            .map(|row| row_from_fields(pii, uuid::Uuid::now_v7().to_string(), &row.cadre, 1, now, now))
            .collect()
    });
    let mut post_rows = Vec::new();
    for (row, c) in rows.iter().zip(&cadres) {
        for post in &row.posts {
            post_rows.push(PostRow {
                id: uuid::Uuid::now_v7().to_string(),
                cadre_id: c.id.clone(),
                cadre_name: c.name.clone(),
                region_code: c.region_code.clone(),
                kind: post.kind as i64,
                term: i64::from(post.term),
                start_date: dates::format(post.start),
                end_date: None,
                end_reason: String::new(),
                revision: 1,
            });
        }
    }
    Piece { rows, cadres, posts: post_rows, errors }
}

/// What a file is checked against in the roster: villages that exist, ID numbers not
/// yet in it, single seats not held by someone else. Villages and held seats are read
/// once; ID numbers piece by piece.
struct StoreCheck {
    villages: HashSet<String>,
    held: HashMap<String, Vec<posts::HeldPost>>,
    calendar: Arc<TermCalendar>,
}

impl StoreCheck {
    async fn load(
        conn: &mut sqlx::AnyConnection,
        jurisdiction: &RegionCode,
        calendar: &Arc<TermCalendar>,
    ) -> Result<Self, RosterError> {
        let villages = st::village_codes(conn, jurisdiction.prefix()).await?;
        let single: Vec<i64> =
            posts::all_kinds().into_iter().filter(|k| posts::is_single_seat(*k)).map(|k| k as i64).collect();
        let mut held: HashMap<String, Vec<posts::HeldPost>> = HashMap::new();
        for p in st::posts_of_kinds_under(conn, jurisdiction.prefix(), &single).await? {
            held.entry(p.region_code.clone()).or_default().push(p);
        }
        Ok(Self { villages, held, calendar: calendar.clone() })
    }

    async fn check(
        &self,
        conn: &mut sqlx::AnyConnection,
        jurisdiction: &RegionCode,
        piece: &Piece,
    ) -> Result<Vec<RowError>, sqlx::Error> {
        let mut errors = Vec::new();
        let indexes: Vec<&str> = piece.cadres.iter().map(|c| c.id_number_index.as_str()).collect();
        let existing = st::existing_indexes(conn, &indexes).await?;
        for (r, cadre) in piece.rows.iter().zip(&piece.cadres) {
            let village = cadre.region_code.as_str();
            if !self.villages.contains(village) {
                errors.push(RowError::new(
                    r.row,
                    Column::Village,
                    format!("{village} is not a village in the roster"),
                ));
            }
            if let Some(region) = existing.get(&cadre.id_number_index) {
                let where_ =
                    if jurisdiction.covers_str(region) { format!(" (in {region})") } else { String::new() };
                errors.push(RowError::new(
                    r.row,
                    Column::IdNumber,
                    format!("a cadre with this ID number is already in the roster{where_}"),
                ));
            }
            let in_village = self.held.get(village).map(Vec::as_slice).unwrap_or_default();
            for post in r.posts.iter().filter(|x| posts::is_single_seat(x.kind)) {
                let appointment = posts::Appointment {
                    cadre_id: cadre.id.clone(),
                    region_code: village.to_string(),
                    kind: post.kind,
                    term: post.term,
                    start: post.start,
                };
                if let Err(e) = posts::check_appointment(&appointment, in_village, &self.calendar) {
                    errors.push(RowError::new(r.row, Column::Posts, e));
                }
            }
        }
        Ok(errors)
    }
}

fn to_proto(mut errors: Vec<RowError>) -> (Vec<pb::ImportRowError>, i32) {
    errors.sort_by_key(|e| e.row);
    let count = errors.len() as i32;
    let out = errors
        .into_iter()
        .take(MAX_REPORTED_ERRORS)
        .map(|e| pb::ImportRowError { row: e.row as i32, column: e.column, reason: e.reason })
        .collect();
    (out, count)
}

impl RosterApi {
    /// ImportRoster (or its streamed form) for `call`, in process (the RPCs and the
    /// import bench call it).
    pub async fn import_roster_as(
        &self,
        call: &Call,
        mut req: pb::ImportRosterRequest,
        progress: &Arc<Progress>,
    ) -> Result<pb::ImportRosterResponse, ApiError> {
        let principal = call.principal();
        principal.ensure_can_write(&principal.jurisdiction)?;
        let t0 = std::time::Instant::now();
        let fmt = format("format", req.format, TransferFormat::Unspecified)?;
        progress.phase(ImportPhase::Reading);
        // Parsing and hashing up to 64 MiB is CPU work: off the async workers, with the
        // file lent to the task rather than copied.
        let content = std::mem::take(&mut req.content);
        let (table, checksum, content) = tokio::task::spawn_blocking(move || {
            let table = file::read(fmt, &content);
            let checksum = hex_sha256(&content);
            (table, checksum, content)
        })
        .await
        .map_err(|e| ApiError::internal(format!("reading the file: {e}")))?;
        req.content = content;
        let table: Table = table.map_err(|e| ApiError::invalid("content", e))?;
        let layout = import::layout(&table.headers).map_err(|e| ApiError::invalid("content", e))?;
        let jurisdiction = principal.jurisdiction.clone();
        let row_count = (table.rows.iter().filter(|r| r.iter().any(|c| !c.trim().is_empty())).count()) as i32;
        progress.rows_total(row_count as usize);
        progress.phase(ImportPhase::Checking);
        let pii = self.pii.clone();
        let now = to_micros(chrono::Utc::now());
        let scope = jurisdiction.clone();
        let reporter = progress.clone();
        let calendar = self.calendar.clone();
        // Checking and encrypting (CPU, off the async workers) runs a piece ahead of
        // checking against the roster and storing (the database): both sides stay busy.
        let (pieces_in, mut pieces) = tokio::sync::mpsc::channel::<Piece>(1);
        let checking = tokio::task::spawn_blocking(move || {
            let on_checked = |rows: usize| reporter.checked(rows);
            let mut checker = import::RowChecker::new(&layout, &scope, dates::today(), &calendar);
            for (k, rows) in table.rows.chunks(PIECE_ROWS).enumerate() {
                let (good, errors) = checker.check(rows, 2 + k * PIECE_ROWS, &on_checked);
                if pieces_in.blocking_send(prepare(&pii, good, errors, now)).is_err() {
                    return; // the import stopped (a database error): no one reads on
                }
            }
        });
        let report = |errors: Vec<RowError>, cadres: usize, posts: usize| {
            let (errors, error_count) = to_proto(errors);
            pb::ImportRosterResponse {
                row_count,
                cadres_created: cadres as i32,
                posts_created: posts as i32,
                errors,
                error_count,
                dry_run: req.dry_run,
                checksum: checksum.clone(),
            }
        };
        let outcome = if req.dry_run {
            // Nothing will be written: no write lock, every problem reported.
            let mut conn = self.db.pool().acquire().await?;
            let store = StoreCheck::load(&mut conn, &jurisdiction, &self.calendar).await?;
            let mut errors = Vec::new();
            while let Some(piece) = pieces.recv().await {
                progress.phase(ImportPhase::CheckingRoster);
                errors.extend(store.check(&mut conn, &jurisdiction, &piece).await?);
                errors.extend(piece.errors);
            }
            Ok(report(errors, 0, 0))
        } else {
            let file_name = req.file_name.trim().chars().take(200).collect::<String>();
            call.mutate(&self.db, &req, async |tx| {
                // Checked under the write lock, so no other writer slips in between.
                let store = StoreCheck::load(tx.conn(), &jurisdiction, &self.calendar).await?;
                let before = tx.savepoint().await?;
                let at = to_micros(tx.now());
                let (mut errors, mut cadres, mut posts_created) = (Vec::new(), Vec::new(), Vec::new());
                while let Some(mut piece) = pieces.recv().await {
                    progress.phase(ImportPhase::CheckingRoster);
                    errors.extend(store.check(tx.conn(), &jurisdiction, &piece).await?);
                    errors.append(&mut piece.errors);
                    if !errors.is_empty() {
                        continue; // nothing more is stored; the rest is still checked
                    }
                    progress.phase(ImportPhase::Writing);
                    for c in &mut piece.cadres {
                        (c.created_at, c.updated_at) = (at, at);
                    }
                    crate::store::insert_cadres(tx, &piece.cadres).await?;
                    crate::store::insert_posts(tx, &piece.posts, at).await?;
                    progress.written(piece.cadres.len(), piece.posts.len());
                    cadres.extend(piece.cadres.into_iter().map(|c| (c.id, c.region_code)));
                    posts_created.extend(piece.posts.into_iter().map(|p| (p.id, p.region_code)));
                }
                if !errors.is_empty() {
                    // A refused file stores nothing: only its report, under its key.
                    tx.rollback_to(before).await?;
                    progress.rolled_back();
                    return Ok(report(errors, 0, 0));
                }
                let t_written = t0.elapsed();
                progress.phase(ImportPhase::Finishing);
                fn created<'a>(
                    entity: pb::Entity,
                    (key, region_code): &'a (String, String),
                ) -> ChangeRecord<'a> {
                    ChangeRecord {
                        entity: entity.as_str_name(),
                        key,
                        operation: Operation::Created,
                        region_code,
                        previous_region_code: "",
                        revision: 1,
                    }
                }
                let records: Vec<ChangeRecord> = cadres
                    .iter()
                    .map(|c| created(pb::Entity::Cadre, c))
                    .chain(posts_created.iter().map(|p| created(pb::Entity::Post, p)))
                    .collect();
                let detail = serde_json::json!({
                    "file_name": file_name,
                    "format": fmt.as_str_name(),
                    "sha256": checksum,
                    "bytes": req.content.len(),
                    "rows": row_count,
                    "cadres_created": cadres.len(),
                    "posts_created": posts_created.len(),
                });
                tx.changed_in_bulk(
                    &format!("roster/{jurisdiction}"),
                    jurisdiction.as_str(),
                    detail,
                    &records,
                )
                .await?;
                let ms = |d: std::time::Duration| d.as_millis() as u64;
                tracing::info!(
                    rows = row_count,
                    posts = posts_created.len(),
                    written_ms = ms(t_written),
                    total_ms = ms(t0.elapsed()),
                    "roster import written"
                );
                Ok(report(Vec::new(), cadres.len(), posts_created.len()))
            })
            .await
        };
        drop(pieces);
        checking.await.map_err(|e| ApiError::internal(format!("checking rows: {e}")))?;
        outcome
    }

    /// ExportRoster for `call`: the template's columns, PII masked unless the caller
    /// holds the PII role (then the export is audited as an unmasked read).
    pub async fn export_roster_as(
        &self,
        call: &Call,
        req: &pb::ExportRosterRequest,
    ) -> Result<pb::ExportRosterResponse, ApiError> {
        let principal = call.principal();
        let scope = principal.scope("region_code", &req.region_code)?;
        let fmt = format("format", req.format, TransferFormat::Csv)?;
        let cadres = st::cadres_under(&self.db, scope.prefix()).await?;
        let today = dates::format(dates::today());
        let mut held: BTreeMap<String, Vec<PostRow>> = BTreeMap::new();
        for p in st::posts_held_under(&self.db, scope.prefix(), &today).await? {
            held.entry(p.cadre_id.clone()).or_default().push(p);
        }
        let reveal = principal.sees_pii();
        if reveal && !cadres.is_empty() {
            call.audit_unmasked_read(
                &self.db,
                &format!("roster/{scope}"),
                scope.as_str(),
                serde_json::json!({ "cadres": cadres.len(), "fields": [ID_FIELD, PHONE_FIELD] }),
            )
            .await?;
        }
        let row_count = cadres.len() as i32;
        let content = write_export(self.pii.clone(), cadres, held, reveal, fmt).await?;
        let ext = if fmt == TransferFormat::Xlsx { "xlsx" } else { "csv" };
        Ok(pb::ExportRosterResponse {
            content,
            file_name: format!("roster-{scope}.{ext}"),
            row_count,
            pii_masked: !reveal,
        })
    }
}

/// The export file of `cadres` with the posts they hold (by cadre id), PII shown as
/// `reveal` allows. Decrypting every ID number and phone and writing the file is CPU
/// work: it runs off the async workers, on the rows handed to it rather than copies.
async fn write_export(
    pii: PiiCipher,
    cadres: Vec<CadreRow>,
    held: BTreeMap<String, Vec<PostRow>>,
    reveal: bool,
    fmt: TransferFormat,
) -> Result<Vec<u8>, ApiError> {
    tokio::task::spawn_blocking(move || {
        let mut table =
            Table { headers: Column::ALL.map(|c| c.header().to_string()).to_vec(), rows: Vec::new() };
        for c in &cadres {
            let id_number = shown_pii(&pii, ID_FIELD, &c.id_number_enc, reveal)?;
            let phone = shown_pii(&pii, PHONE_FIELD, &c.phone_enc, reveal)?;
            let posts = held.get(&c.id).map(Vec::as_slice).unwrap_or_default();
            table.rows.push(template_row(c, id_number, phone, posts)?);
        }
        file::write(fmt, &table).map_err(ApiError::internal)
    })
    .await
    .map_err(|e| ApiError::internal(format!("writing the export: {e}")))?
}

/// One cadre as a template row; posts' terms and start dates are listed once when
/// they are all the same, else one per post in the order of 职务.
fn template_row(
    c: &CadreRow,
    id_number: String,
    phone: String,
    held: &[PostRow],
) -> Result<Vec<String>, RosterError> {
    let joined = |values: Vec<String>| {
        if values.windows(2).all(|w| w[0] == w[1]) {
            values.into_iter().next().unwrap_or_default()
        } else {
            values.join(import::LIST_SEPARATOR)
        }
    };
    let kinds: Vec<pb::PostKind> = held.iter().map(PostRow::post_kind).collect::<Result<_, _>>()?;
    let enums = c.enums()?;
    Ok(Column::ALL
        .map(|col| match col {
            Column::Name => c.name.clone(),
            Column::IdNumber => id_number.clone(),
            Column::Ethnicity => c.ethnicity.clone(),
            Column::Phone => phone.clone(),
            Column::PoliticalStatus => import::political_name(enums.political_status).to_string(),
            Column::Education => import::education_name(enums.education).to_string(),
            Column::FullTime => if c.full_time_education { "是" } else { "否" }.to_string(),
            Column::Village => c.region_code.clone(),
            Column::Posts => {
                kinds.iter().map(|k| import::post_name(*k)).collect::<Vec<_>>().join(import::LIST_SEPARATOR)
            }
            Column::Term => joined(held.iter().map(|p| p.term.to_string()).collect()),
            Column::StartDate => joined(held.iter().map(|p| p.start_date.clone()).collect()),
            Column::Background => enums
                .tags
                .iter()
                .map(|t| import::tag_name(*t))
                .collect::<Vec<_>>()
                .join(import::LIST_SEPARATOR),
        })
        .to_vec())
}

/// The whole file of a streamed import, with the first piece's settings.
async fn receive(
    pieces: &mut tonic::Streaming<pb::ImportRosterChunk>,
    progress: &Progress,
) -> Result<pb::ImportRosterRequest, Status> {
    let mut req: Option<pb::ImportRosterRequest> = None;
    while let Some(piece) = pieces.message().await? {
        let req = req.get_or_insert_with(|| pb::ImportRosterRequest {
            format: piece.format,
            content: Vec::new(),
            dry_run: piece.dry_run,
            file_name: piece.file_name.clone(),
        });
        if req.content.len() + piece.content.len() > MAX_IMPORT_BYTES {
            return Err(ApiError::invalid(
                "content",
                format!("the file is over {} MiB: split it by county", MAX_IMPORT_BYTES >> 20),
            )
            .into());
        }
        req.content.extend_from_slice(&piece.content);
        progress.received(piece.content.len());
    }
    req.ok_or_else(|| ApiError::invalid("content", "no file was sent").into())
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[tonic::async_trait]
impl TransferService for RosterApi {
    async fn import_roster(
        &self,
        request: Request<pb::ImportRosterRequest>,
    ) -> Result<Response<pb::ImportRosterResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let progress = Arc::new(Progress::new());
        Ok(Response::new(self.import_roster_as(&call, req, &progress).await?))
    }

    type ImportRosterStreamStream =
        std::pin::Pin<Box<dyn futures::Stream<Item = Result<pb::ImportRosterProgress, Status>> + Send>>;

    async fn import_roster_stream(
        &self,
        request: Request<tonic::Streaming<pb::ImportRosterChunk>>,
    ) -> Result<Response<Self::ImportRosterStreamStream>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        // Refused before the file is taken in (import_roster_as checks it again).
        principal.ensure_can_write(&principal.jurisdiction).map_err(Status::from)?;
        let mut pieces = request.into_inner();
        let progress = Arc::new(Progress::new());
        progress.phase(ImportPhase::Receiving);
        let (finish, finished) = tokio::sync::oneshot::channel();
        let reports = progress::reports(&progress, finished);
        let api = self.clone();
        // The import runs to its end even if the caller goes away once the file is in:
        // it commits whole or not at all, and a retry with the same key gets its result.
        tokio::spawn(async move {
            let outcome = async {
                let req = receive(&mut pieces, &progress).await?;
                let result = api.import_roster_as(&call, req, &progress).await?;
                progress.done(result);
                Ok::<(), Status>(())
            }
            .await;
            let _ = finish.send(outcome);
        });
        Ok(Response::new(Box::pin(reports)))
    }

    async fn export_roster(
        &self,
        request: Request<pb::ExportRosterRequest>,
    ) -> Result<Response<pb::ExportRosterResponse>, Status> {
        let call = Call::of(&request)?;
        Ok(Response::new(self.export_roster_as(&call, request.get_ref()).await?))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use cadre_kit::config::PiiSettings;
    use cadre_kit::resident_id::build;
    use chrono::NaiveDate;

    use super::*;
    use crate::domain::cadre::CadreFields;

    fn cadres(pii: &PiiCipher, n: u16) -> Vec<CadreRow> {
        let born = NaiveDate::from_ymd_opt(1985, 3, 14).unwrap();
        (1..=n)
            .map(|seq| {
                let fields = CadreFields {
                    region_code: RegionCode::parse("150525100201").unwrap(),
                    name: format!("干部{seq}"),
                    id_number: build("150525", born, seq),
                    ethnicity: "蒙古族".into(),
                    phone: "13912345678".into(),
                    political_status: pb::PoliticalStatus::PartyMember,
                    education: pb::Education::College,
                    full_time_education: false,
                    tags: vec![],
                };
                row_from_fields(pii, format!("c{seq:05}"), &fields, 1, 0, 0)
            })
            .collect()
    }

    /// On a single-threaded runtime, a task can only run while the export waits: it
    /// would not if decrypting and writing ran on the runtime's one thread.
    #[tokio::test(flavor = "current_thread")]
    async fn a_large_export_is_written_while_other_requests_go_on() {
        let pii = PiiCipher::from_settings(&PiiSettings::default()).unwrap();
        let rows = cadres(&pii, 3000);
        let ticks = Arc::new(AtomicUsize::new(0));
        let counter = ticks.clone();
        let other = tokio::spawn(async move {
            loop {
                counter.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        });
        let content =
            write_export(pii.clone(), rows, BTreeMap::new(), false, TransferFormat::Xlsx).await.unwrap();
        let during = ticks.load(Ordering::Relaxed);
        other.abort();
        assert!(during > 0, "nothing else ran while the export was written");
        let table = file::read(TransferFormat::Xlsx, &content).unwrap();
        assert_eq!(table.rows.len(), 3000);
        // Masked: the region and the last four of the ID number only.
        assert!(
            table.rows[0][1].starts_with("150525") && table.rows[0][1].contains('*'),
            "{:?}",
            table.rows[0]
        );
    }
}
