//! Enrolments (one row per cadre and session) and the sittings a cadre is booked for.

use cadre_kit::db::{Db, like_prefix};
use cadre_kit::sql::Sql;
use cadre_proto::training::v1::{EnrolmentState, SessionState};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::decode_enum;
use crate::error::TrainingError;

#[derive(Debug, Clone, PartialEq)]
pub struct EnrolmentRow {
    pub id: String,
    pub session_id: String,
    pub cadre_id: String,
    pub cadre_name: String,
    pub region_code: String,
    pub state: EnrolmentState,
    pub seq: i64,
    pub joined_at: i64,
    pub withdraw_reason: String,
    pub revision: i64,
}

const COLUMNS: &str =
    "id, session_id, cadre_id, cadre_name, region_code, state, seq, joined_at, withdraw_reason, revision";

fn from_row(r: &AnyRow) -> Result<EnrolmentRow, TrainingError> {
    let id: String = r.try_get(0)?;
    Ok(EnrolmentRow {
        session_id: r.try_get(1)?,
        cadre_id: r.try_get(2)?,
        cadre_name: r.try_get(3)?,
        region_code: r.try_get(4)?,
        state: decode_enum("training_enrolments.state", &id, r.try_get(5)?)?,
        seq: r.try_get(6)?,
        joined_at: r.try_get(7)?,
        withdraw_reason: r.try_get(8)?,
        revision: r.try_get(9)?,
        id,
    })
}

pub async fn get(
    conn: &mut AnyConnection,
    session_id: &str,
    cadre_id: &str,
) -> Result<Option<EnrolmentRow>, TrainingError> {
    let sql = format!("SELECT {COLUMNS} FROM training_enrolments WHERE session_id = $1 AND cadre_id = $2");
    sqlx::query(&sql)
        .bind(session_id.to_string())
        .bind(cadre_id.to_string())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// The enrolments of these cadres in one session.
pub async fn of_cadres(
    conn: &mut AnyConnection,
    session_id: &str,
    cadre_ids: &[String],
) -> Result<Vec<EnrolmentRow>, TrainingError> {
    if cadre_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut s = Sql::new(format!("SELECT {COLUMNS} FROM training_enrolments WHERE session_id = "));
    s.bind(session_id).push(" AND cadre_id IN (").bind_list(cadre_ids).push(")");
    let rows = s.query().fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

/// Writes a new enrolment, or a withdrawn one joining again (same row, new place in
/// the queue).
pub async fn put(conn: &mut AnyConnection, e: &EnrolmentRow, now: i64) -> Result<(), TrainingError> {
    sqlx::query("DELETE FROM training_enrolments WHERE session_id = $1 AND cadre_id = $2")
        .bind(e.session_id.clone())
        .bind(e.cadre_id.clone())
        .execute(&mut *conn)
        .await?;
    sqlx::query(&format!(
        "INSERT INTO training_enrolments ({COLUMNS}, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(e.id.clone())
    .bind(e.session_id.clone())
    .bind(e.cadre_id.clone())
    .bind(e.cadre_name.clone())
    .bind(e.region_code.clone())
    .bind(e.state as i64)
    .bind(e.seq)
    .bind(e.joined_at)
    .bind(e.withdraw_reason.clone())
    .bind(e.revision)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves an enrolment to `state` (with the withdrawal's reason) if it is still `from`.
pub async fn set_state(
    conn: &mut AnyConnection,
    e: &EnrolmentRow,
    from: EnrolmentState,
    now: i64,
) -> Result<bool, TrainingError> {
    let done = sqlx::query(
        "UPDATE training_enrolments SET state = $3, withdraw_reason = $4, revision = $5, updated_at = $6 \
         WHERE session_id = $1 AND cadre_id = $2 AND state = $7",
    )
    .bind(e.session_id.clone())
    .bind(e.cadre_id.clone())
    .bind(e.state as i64)
    .bind(e.withdraw_reason.clone())
    .bind(e.revision)
    .bind(now)
    .bind(from as i64)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The waitlist of a session, in queue order.
pub async fn waitlist(
    conn: &mut AnyConnection,
    session_id: &str,
) -> Result<Vec<EnrolmentRow>, TrainingError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM training_enrolments WHERE session_id = $1 AND state = $2 ORDER BY seq"
    );
    let rows = sqlx::query(&sql)
        .bind(session_id.to_string())
        .bind(EnrolmentState::Waitlisted as i64)
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// The queue numbers of a session's waitlist, in order (a waitlisted enrolment's place
/// is its index + 1).
pub async fn waitlist_seqs(conn: &mut AnyConnection, session_id: &str) -> Result<Vec<i64>, TrainingError> {
    let rows =
        sqlx::query("SELECT seq FROM training_enrolments WHERE session_id = $1 AND state = $2 ORDER BY seq")
            .bind(session_id.to_string())
            .bind(EnrolmentState::Waitlisted as i64)
            .fetch_all(conn)
            .await?;
    Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?)
}

/// A session's enrolments of cadres under `prefix`, in queue order after `after_seq`.
pub async fn list(
    db: &Db,
    session_id: &str,
    prefix: &str,
    state: Option<EnrolmentState>,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<EnrolmentRow>, TrainingError> {
    let mut s = Sql::new(format!("SELECT {COLUMNS} FROM training_enrolments WHERE session_id = "));
    s.bind(session_id)
        .push(" AND region_code LIKE ")
        .bind(like_prefix(prefix))
        .push(" ESCAPE '\\' AND seq > ");
    s.bind(after_seq);
    if let Some(state) = state {
        s.push(" AND state = ").bind(state as i64);
    }
    s.push(" ORDER BY seq LIMIT ").bind(limit);
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter().map(from_row).collect()
}

/// A sitting of another live session (open or closed) one of `cadre_ids` is enrolled or
/// waitlisted in, on one of `days`.
#[derive(Debug, Clone, PartialEq)]
pub struct BookedRow {
    pub cadre_id: String,
    pub session_id: String,
    pub title: String,
    pub day: String,
    pub start_time: String,
    pub end_time: String,
}

pub async fn booked(
    conn: &mut AnyConnection,
    cadre_ids: &[String],
    except_session: &str,
    days: &[String],
) -> Result<Vec<BookedRow>, TrainingError> {
    if cadre_ids.is_empty() || days.is_empty() {
        return Ok(Vec::new());
    }
    let mut s = Sql::new(
        "SELECT e.cadre_id, s.id, s.title, t.day, t.start_time, t.end_time FROM training_enrolments e \
         JOIN training_sessions s ON s.id = e.session_id JOIN training_sittings t ON t.session_id = s.id \
         WHERE e.cadre_id IN (",
    );
    s.bind_list(cadre_ids).push(") AND e.state IN (");
    s.bind_list([EnrolmentState::Enrolled as i64, EnrolmentState::Waitlisted as i64]);
    s.push(") AND s.state IN (").bind_list([SessionState::Open as i64, SessionState::Closed as i64]);
    s.push(") AND s.id <> ").bind(except_session).push(" AND t.day IN (").bind_list(days).push(")");
    let rows = s.query().fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            Ok(BookedRow {
                cadre_id: r.try_get(0)?,
                session_id: r.try_get(1)?,
                title: r.try_get(2)?,
                day: r.try_get(3)?,
                start_time: r.try_get(4)?,
                end_time: r.try_get(5)?,
            })
        })
        .collect()
}
