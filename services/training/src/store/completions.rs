//! Completions of finished sessions, the hours ledger (entries only ever added) and
//! certificates.

use cadre_kit::db::like_prefix;
use cadre_kit::sql::Sql;
use cadre_proto::training::v1::{CertificateState, CompletionState, EnrolmentState, HoursEntryKind};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::decode_enum;
use crate::error::TrainingError;

#[derive(Debug, Clone, PartialEq)]
pub struct CompletionRow {
    pub session_id: String,
    pub cadre_id: String,
    pub cadre_name: String,
    pub region_code: String,
    pub year: i64,
    pub attended: i64,
    pub sittings: i64,
    pub required: i64,
    pub state: CompletionState,
    pub hours_tenths: i64,
    pub certificate_id: String,
    pub note: String,
    pub evaluated_at: i64,
    pub revision: i64,
}

const COLUMNS: &str = "session_id, cadre_id, cadre_name, region_code, year, attended, sittings, required, state, \
                       hours_tenths, certificate_id, note, evaluated_at, revision";

fn from_row(r: &AnyRow) -> Result<CompletionRow, TrainingError> {
    let session_id: String = r.try_get(0)?;
    Ok(CompletionRow {
        cadre_id: r.try_get(1)?,
        cadre_name: r.try_get(2)?,
        region_code: r.try_get(3)?,
        year: r.try_get(4)?,
        attended: r.try_get(5)?,
        sittings: r.try_get(6)?,
        required: r.try_get(7)?,
        state: decode_enum("training_completions.state", &session_id, r.try_get(8)?)?,
        hours_tenths: r.try_get(9)?,
        certificate_id: r.try_get(10)?,
        note: r.try_get(11)?,
        evaluated_at: r.try_get(12)?,
        revision: r.try_get(13)?,
        session_id,
    })
}

/// Records an evaluation unless the trainee was evaluated already; false when it was.
pub async fn insert(conn: &mut AnyConnection, c: &CompletionRow) -> Result<bool, TrainingError> {
    let done = sqlx::query(&format!(
        "INSERT INTO training_completions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
         $13, $14) ON CONFLICT (session_id, cadre_id) DO NOTHING"
    ))
    .bind(c.session_id.clone())
    .bind(c.cadre_id.clone())
    .bind(c.cadre_name.clone())
    .bind(c.region_code.clone())
    .bind(c.year)
    .bind(c.attended)
    .bind(c.sittings)
    .bind(c.required)
    .bind(c.state as i64)
    .bind(c.hours_tenths)
    .bind(c.certificate_id.clone())
    .bind(c.note.clone())
    .bind(c.evaluated_at)
    .bind(c.revision)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(
    conn: &mut AnyConnection,
    session_id: &str,
    cadre_id: &str,
) -> Result<Option<CompletionRow>, TrainingError> {
    let sql = format!("SELECT {COLUMNS} FROM training_completions WHERE session_id = $1 AND cadre_id = $2");
    sqlx::query(&sql)
        .bind(session_id.to_string())
        .bind(cadre_id.to_string())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Reverses a completed evaluation (revision moves on); false if it was not COMPLETED
/// at `expected`.
pub async fn reverse(
    conn: &mut AnyConnection,
    c: &CompletionRow,
    expected: i64,
) -> Result<bool, TrainingError> {
    let done = sqlx::query(
        "UPDATE training_completions SET state = $3, note = $4, revision = $5 \
         WHERE session_id = $1 AND cadre_id = $2 AND state = $6 AND revision = $7",
    )
    .bind(c.session_id.clone())
    .bind(c.cadre_id.clone())
    .bind(CompletionState::Reversed as i64)
    .bind(c.note.clone())
    .bind(c.revision)
    .bind(CompletionState::Completed as i64)
    .bind(expected)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A session's evaluations of trainees under `prefix`, by cadre id after `after`.
pub async fn list(
    conn: &mut AnyConnection,
    session_id: &str,
    prefix: &str,
    state: Option<CompletionState>,
    after: &str,
    limit: i64,
) -> Result<Vec<CompletionRow>, TrainingError> {
    let mut s = Sql::new(format!("SELECT {COLUMNS} FROM training_completions WHERE session_id = "));
    s.bind(session_id).push(" AND region_code LIKE ").bind(like_prefix(prefix)).push(" ESCAPE '\\'");
    s.push(" AND cadre_id > ").bind(after);
    if let Some(state) = state {
        s.push(" AND state = ").bind(state as i64);
    }
    s.push(" ORDER BY cadre_id LIMIT ").bind(limit);
    let rows = s.query().fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

/// Sign-ins per enrolled trainee of a session: (cadre id, name, region, sittings
/// attended), every enrolled trainee once (0 when never signed in).
pub async fn attendance_of_enrolled(
    conn: &mut AnyConnection,
    session_id: &str,
) -> Result<Vec<(String, String, String, i64)>, TrainingError> {
    let rows = sqlx::query(
        "SELECT e.cadre_id, e.cadre_name, e.region_code, \
         (SELECT COUNT(*) FROM training_attendance a WHERE a.session_id = e.session_id AND a.cadre_id = e.cadre_id) \
         FROM training_enrolments e WHERE e.session_id = $1 AND e.state = $2 ORDER BY e.cadre_id",
    )
    .bind(session_id.to_string())
    .bind(EnrolmentState::Enrolled as i64)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))).collect()
}

/// Sittings a cadre signed in at, of one session.
pub async fn attended(
    conn: &mut AnyConnection,
    session_id: &str,
    cadre_id: &str,
) -> Result<i64, TrainingError> {
    Ok(sqlx::query("SELECT COUNT(*) FROM training_attendance WHERE session_id = $1 AND cadre_id = $2")
        .bind(session_id.to_string())
        .bind(cadre_id.to_string())
        .fetch_one(conn)
        .await?
        .try_get(0)?)
}

// ---------------------------------------------------------------- hours

#[derive(Debug, Clone, PartialEq)]
pub struct HoursRow {
    pub id: String,
    pub cadre_id: String,
    pub year: i64,
    pub session_id: String,
    pub kind: HoursEntryKind,
    pub hours_tenths: i64,
    pub region_code: String,
    pub note: String,
    pub actor: String,
    pub recorded_at: i64,
}

const HOURS_COLUMNS: &str =
    "id, cadre_id, year, session_id, kind, hours_tenths, region_code, note, actor, recorded_at";

fn hours_from_row(r: &AnyRow) -> Result<HoursRow, TrainingError> {
    let id: String = r.try_get(0)?;
    Ok(HoursRow {
        cadre_id: r.try_get(1)?,
        year: r.try_get(2)?,
        session_id: r.try_get(3)?,
        kind: decode_enum("training_hours.kind", &id, r.try_get(4)?)?,
        hours_tenths: r.try_get(5)?,
        region_code: r.try_get(6)?,
        note: r.try_get(7)?,
        actor: r.try_get(8)?,
        recorded_at: r.try_get(9)?,
        id,
    })
}

/// Adds an entry unless the session already credited (or reversed) this cadre; false
/// when it had.
pub async fn add_hours(conn: &mut AnyConnection, h: &HoursRow) -> Result<bool, TrainingError> {
    let done = sqlx::query(&format!(
        "INSERT INTO training_hours ({HOURS_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (session_id, cadre_id, kind) DO NOTHING"
    ))
    .bind(h.id.clone())
    .bind(h.cadre_id.clone())
    .bind(h.year)
    .bind(h.session_id.clone())
    .bind(h.kind as i64)
    .bind(h.hours_tenths)
    .bind(h.region_code.clone())
    .bind(h.note.clone())
    .bind(h.actor.clone())
    .bind(h.recorded_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A cadre's entries of a year, in the order recorded.
pub async fn hours_of(
    conn: &mut AnyConnection,
    cadre_id: &str,
    year: i64,
) -> Result<Vec<HoursRow>, TrainingError> {
    let sql = format!(
        "SELECT {HOURS_COLUMNS} FROM training_hours WHERE cadre_id = $1 AND year = $2 ORDER BY recorded_at, id"
    );
    let rows = sqlx::query(&sql).bind(cadre_id.to_string()).bind(year).fetch_all(conn).await?;
    rows.iter().map(hours_from_row).collect()
}

/// A serving cadre of training's copy of the roster with their hours of a year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoveredRow {
    pub id: String,
    pub region_code: String,
    pub name: String,
    pub post_kinds: Vec<i32>,
    pub hours_tenths: i64,
}

/// Every cadre training's copy of the roster places under `prefix` holding a post now,
/// with their hours of `year`: one pass over the copy's region index, the hours summed
/// per cadre through the ledger's (cadre, year) index. The region is matched as a range
/// (`prefix` ≤ code < `prefix:`), which both backends answer from the index.
pub async fn coverage_under(
    conn: &mut AnyConnection,
    prefix: &str,
    year: i64,
) -> Result<Vec<CoveredRow>, TrainingError> {
    let rows = sqlx::query(
        "SELECT c.id, c.region_code, c.name, c.post_kinds, \
         COALESCE((SELECT CAST(SUM(h.hours_tenths) AS BIGINT) FROM training_hours h \
         WHERE h.cadre_id = c.id AND h.year = $1), 0) \
         FROM training_roster_cadres c WHERE c.region_code >= $2 AND c.region_code < $3 AND c.post_kinds <> ''",
    )
    .bind(year)
    .bind(prefix.to_string())
    .bind(format!("{prefix}:"))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let kinds: String = r.try_get(3)?;
            Ok(CoveredRow {
                id: r.try_get(0)?,
                region_code: r.try_get(1)?,
                name: r.try_get(2)?,
                post_kinds: super::split(&kinds).iter().filter_map(|k| k.parse().ok()).collect(),
                hours_tenths: r.try_get(4)?,
            })
        })
        .collect()
}

// ---------------------------------------------------------------- certificates

#[derive(Debug, Clone, PartialEq)]
pub struct CertificateRow {
    pub id: String,
    pub number: String,
    pub session_id: String,
    pub cadre_id: String,
    pub holder_name: String,
    pub region_code: String,
    pub hours_tenths: i64,
    pub issued_on: String,
    pub state: CertificateState,
    pub revoked_on: String,
    pub revision: i64,
}

const CERT_COLUMNS: &str = "id, number, session_id, cadre_id, holder_name, region_code, hours_tenths, issued_on, state, revoked_on, revision";

fn cert_from_row(r: &AnyRow) -> Result<CertificateRow, TrainingError> {
    let id: String = r.try_get(0)?;
    Ok(CertificateRow {
        number: r.try_get(1)?,
        session_id: r.try_get(2)?,
        cadre_id: r.try_get(3)?,
        holder_name: r.try_get(4)?,
        region_code: r.try_get(5)?,
        hours_tenths: r.try_get(6)?,
        issued_on: r.try_get(7)?,
        state: decode_enum("training_certificates.state", &id, r.try_get(8)?)?,
        revoked_on: r.try_get(9)?,
        revision: r.try_get(10)?,
        id,
    })
}

pub async fn issue(conn: &mut AnyConnection, c: &CertificateRow) -> Result<(), TrainingError> {
    sqlx::query(&format!(
        "INSERT INTO training_certificates ({CERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(c.id.clone())
    .bind(c.number.clone())
    .bind(c.session_id.clone())
    .bind(c.cadre_id.clone())
    .bind(c.holder_name.clone())
    .bind(c.region_code.clone())
    .bind(c.hours_tenths)
    .bind(c.issued_on.clone())
    .bind(c.state as i64)
    .bind(c.revoked_on.clone())
    .bind(c.revision)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn certificate_by_number(
    conn: &mut AnyConnection,
    number: &str,
) -> Result<Option<CertificateRow>, TrainingError> {
    let sql = format!("SELECT {CERT_COLUMNS} FROM training_certificates WHERE number = $1");
    sqlx::query(&sql)
        .bind(number.to_string())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(cert_from_row)
        .transpose()
}

pub async fn certificates(
    conn: &mut AnyConnection,
    ids: &[String],
) -> Result<Vec<CertificateRow>, TrainingError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut s = Sql::new(format!("SELECT {CERT_COLUMNS} FROM training_certificates WHERE id IN ("));
    s.bind_list(ids).push(")");
    let rows = s.query().fetch_all(conn).await?;
    rows.iter().map(cert_from_row).collect()
}

pub async fn revoke(conn: &mut AnyConnection, id: &str, on: &str) -> Result<bool, TrainingError> {
    let done = sqlx::query(
        "UPDATE training_certificates SET state = $2, revoked_on = $3, revision = revision + 1 \
         WHERE id = $1 AND state = $4",
    )
    .bind(id.to_string())
    .bind(CertificateState::Revoked as i64)
    .bind(on.to_string())
    .bind(CertificateState::Valid as i64)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
