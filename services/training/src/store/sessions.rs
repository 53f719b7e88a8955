//! Sessions and their sittings; the counters that keep enrolment within capacity.

use cadre_kit::db::{Db, like_prefix};
use cadre_kit::sql::Sql;
use cadre_proto::training::v1::{OrganiserLevel, SessionState};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::decode_enum;
use crate::error::TrainingError;

#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub id: String,
    pub title: String,
    pub organiser_level: OrganiserLevel,
    pub organiser_region_code: String,
    pub course_id: String,
    pub teacher_id: String,
    pub order_id: String,
    pub year: i64,
    pub capacity: i64,
    pub enrolled: i64,
    pub waitlisted: i64,
    pub state: SessionState,
    pub cancel_reason: String,
    pub code_step_seconds: i64,
    pub sign_in_opens_minutes: i64,
    pub revision: i64,
    /// The completion rule's columns: one of the two is set (`domain::completion::Rule`).
    pub completion_percent: i64,
    pub completion_sittings: i64,
    /// When it was finished (micros; 0: not yet).
    pub finished_at: i64,
}

const COLUMNS: &str = "id, title, organiser_level, organiser_region_code, course_id, teacher_id, order_id, year, \
                       capacity, enrolled, waitlisted, state, cancel_reason, code_step_seconds, \
                       sign_in_opens_minutes, revision, completion_percent, completion_sittings, finished_at";

fn from_row(r: &AnyRow) -> Result<SessionRow, TrainingError> {
    let id: String = r.try_get(0)?;
    Ok(SessionRow {
        title: r.try_get(1)?,
        organiser_level: decode_enum("training_sessions.organiser_level", &id, r.try_get(2)?)?,
        organiser_region_code: r.try_get(3)?,
        course_id: r.try_get(4)?,
        teacher_id: r.try_get(5)?,
        order_id: r.try_get(6)?,
        year: r.try_get(7)?,
        capacity: r.try_get(8)?,
        enrolled: r.try_get(9)?,
        waitlisted: r.try_get(10)?,
        state: decode_enum("training_sessions.state", &id, r.try_get(11)?)?,
        cancel_reason: r.try_get(12)?,
        code_step_seconds: r.try_get(13)?,
        sign_in_opens_minutes: r.try_get(14)?,
        revision: r.try_get(15)?,
        completion_percent: r.try_get(16)?,
        completion_sittings: r.try_get(17)?,
        finished_at: r.try_get(18)?,
        id,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SittingRow {
    pub id: String,
    pub session_id: String,
    pub seq: i64,
    pub day: String,
    pub start_time: String,
    pub end_time: String,
    pub place: String,
}

pub async fn insert(
    conn: &mut AnyConnection,
    s: &SessionRow,
    sittings: &[SittingRow],
    now: i64,
) -> Result<(), TrainingError> {
    sqlx::query(&format!(
        "INSERT INTO training_sessions ({COLUMNS}, next_seq, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, \
         $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $18, $19, $20, 0, $17, $17)"
    ))
    .bind(s.id.clone())
    .bind(s.title.clone())
    .bind(s.organiser_level as i64)
    .bind(s.organiser_region_code.clone())
    .bind(s.course_id.clone())
    .bind(s.teacher_id.clone())
    .bind(s.order_id.clone())
    .bind(s.year)
    .bind(s.capacity)
    .bind(s.enrolled)
    .bind(s.waitlisted)
    .bind(s.state as i64)
    .bind(s.cancel_reason.clone())
    .bind(s.code_step_seconds)
    .bind(s.sign_in_opens_minutes)
    .bind(s.revision)
    .bind(now)
    .bind(s.completion_percent)
    .bind(s.completion_sittings)
    .bind(s.finished_at)
    .execute(&mut *conn)
    .await?;
    for t in sittings {
        sqlx::query(
            "INSERT INTO training_sittings (id, session_id, seq, day, start_time, end_time, place) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(t.id.clone())
        .bind(t.session_id.clone())
        .bind(t.seq)
        .bind(t.day.clone())
        .bind(t.start_time.clone())
        .bind(t.end_time.clone())
        .bind(t.place.clone())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<SessionRow>, TrainingError> {
    let sql = format!("SELECT {COLUMNS} FROM training_sessions WHERE id = $1");
    sqlx::query(&sql).bind(id.to_string()).fetch_optional(conn).await?.as_ref().map(from_row).transpose()
}

/// Where sessions are listed from: organised under `prefix`, or by one of `above` (the
/// regions above the caller, whose sessions its cadres attend).
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    pub prefix: String,
    pub above: Vec<String>,
    pub state: Option<SessionState>,
    pub year: Option<i32>,
}

pub async fn list(
    db: &Db,
    f: &SessionFilter,
    after: &str,
    limit: i64,
) -> Result<Vec<SessionRow>, TrainingError> {
    let mut s =
        Sql::new(format!("SELECT {COLUMNS} FROM training_sessions WHERE (organiser_region_code LIKE "));
    s.bind(like_prefix(&f.prefix)).push(" ESCAPE '\\'");
    if !f.above.is_empty() {
        s.push(" OR organiser_region_code IN (").bind_list(&f.above).push(")");
    }
    s.push(") AND id > ").bind(after);
    if let Some(state) = f.state {
        s.push(" AND state = ").bind(state as i64);
    }
    if let Some(year) = f.year {
        s.push(" AND year = ").bind(i64::from(year));
    }
    s.push(" ORDER BY id LIMIT ").bind(limit);
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter().map(from_row).collect()
}

/// Writes a session's own fields (state, reason, capacity, completion rule, finished)
/// at `s.revision` if the stored revision is still `expected`.
pub async fn update(
    conn: &mut AnyConnection,
    s: &SessionRow,
    expected: i64,
    now: i64,
) -> Result<bool, TrainingError> {
    let done = sqlx::query(
        "UPDATE training_sessions SET state = $2, cancel_reason = $3, capacity = $4, revision = $5, updated_at = $6, \
         completion_percent = $8, completion_sittings = $9, finished_at = $10 WHERE id = $1 AND revision = $7",
    )
    .bind(s.id.clone())
    .bind(s.state as i64)
    .bind(s.cancel_reason.clone())
    .bind(s.capacity)
    .bind(s.revision)
    .bind(now)
    .bind(expected)
    .bind(s.completion_percent)
    .bind(s.completion_sittings)
    .bind(s.finished_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes a place if one is free, in the one statement that checks the capacity: the
/// arrival's number in the queue, or `None` when the session is full.
pub async fn take_place(conn: &mut AnyConnection, id: &str) -> Result<Option<i64>, TrainingError> {
    let row = sqlx::query(
        "UPDATE training_sessions SET enrolled = enrolled + 1, next_seq = next_seq + 1 \
         WHERE id = $1 AND enrolled < capacity RETURNING next_seq",
    )
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// Joins the waitlist: the arrival's number in the queue.
pub async fn join_waitlist(conn: &mut AnyConnection, id: &str) -> Result<i64, TrainingError> {
    let row = sqlx::query(
        "UPDATE training_sessions SET waitlisted = waitlisted + 1, next_seq = next_seq + 1 WHERE id = $1 \
         RETURNING next_seq",
    )
    .bind(id.to_string())
    .fetch_one(conn)
    .await?;
    Ok(row.try_get(0)?)
}

/// Moves the counters when enrolments leave or are promoted (`enrolled` never past the
/// capacity: a promotion that would pass it changes nothing and returns false).
pub async fn shift(
    conn: &mut AnyConnection,
    id: &str,
    enrolled: i64,
    waitlisted: i64,
) -> Result<bool, TrainingError> {
    let done = sqlx::query(
        "UPDATE training_sessions SET enrolled = enrolled + $2, waitlisted = waitlisted + $3 \
         WHERE id = $1 AND enrolled + $2 <= capacity AND enrolled + $2 >= 0 AND waitlisted + $3 >= 0",
    )
    .bind(id.to_string())
    .bind(enrolled)
    .bind(waitlisted)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

const SITTING_COLUMNS: &str = "id, session_id, seq, day, start_time, end_time, place";

fn sitting_from_row(r: &AnyRow) -> Result<SittingRow, TrainingError> {
    Ok(SittingRow {
        id: r.try_get(0)?,
        session_id: r.try_get(1)?,
        seq: r.try_get(2)?,
        day: r.try_get(3)?,
        start_time: r.try_get(4)?,
        end_time: r.try_get(5)?,
        place: r.try_get(6)?,
    })
}

/// The sittings of these sessions, in order per session.
pub async fn sittings_of(
    conn: &mut AnyConnection,
    session_ids: &[String],
) -> Result<Vec<SittingRow>, TrainingError> {
    if session_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut s = Sql::new(format!("SELECT {SITTING_COLUMNS} FROM training_sittings WHERE session_id IN ("));
    s.bind_list(session_ids).push(") ORDER BY session_id, seq");
    let rows = s.query().fetch_all(conn).await?;
    rows.iter().map(sitting_from_row).collect()
}

pub async fn sitting(conn: &mut AnyConnection, id: &str) -> Result<Option<SittingRow>, TrainingError> {
    let sql = format!("SELECT {SITTING_COLUMNS} FROM training_sittings WHERE id = $1");
    sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(sitting_from_row)
        .transpose()
}
