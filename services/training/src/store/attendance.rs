//! Sign-ins (once per trainee and sitting), and what a sign-in needs to know about its
//! sitting, read in one statement.

use std::collections::HashMap;

use cadre_kit::db::{Db, like_prefix};
use cadre_kit::sql::Sql;
use cadre_proto::training::v1::{EnrolmentState, SessionState, SignInMethod};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::decode_enum;
use crate::error::TrainingError;

#[derive(Debug, Clone, PartialEq)]
pub struct AttendanceRow {
    pub sitting_id: String,
    pub cadre_id: String,
    pub session_id: String,
    pub cadre_name: String,
    pub region_code: String,
    pub signed_in_at: i64,
    pub method: SignInMethod,
    pub actor: String,
    pub reason: String,
}

const COLUMNS: &str =
    "sitting_id, cadre_id, session_id, cadre_name, region_code, signed_in_at, method, actor, reason";

fn from_row(r: &AnyRow) -> Result<AttendanceRow, TrainingError> {
    let sitting_id: String = r.try_get(0)?;
    Ok(AttendanceRow {
        cadre_id: r.try_get(1)?,
        session_id: r.try_get(2)?,
        cadre_name: r.try_get(3)?,
        region_code: r.try_get(4)?,
        signed_in_at: r.try_get(5)?,
        method: decode_enum("training_attendance.method", &sitting_id, r.try_get(6)?)?,
        actor: r.try_get(7)?,
        reason: r.try_get(8)?,
        sitting_id,
    })
}

/// Records a sign-in if the trainee is still enrolled and not yet signed in, in one
/// statement; false when it wrote nothing.
pub async fn record(conn: &mut AnyConnection, a: &AttendanceRow) -> Result<bool, TrainingError> {
    let done = sqlx::query(
        "INSERT INTO training_attendance (sitting_id, cadre_id, session_id, cadre_name, region_code, signed_in_at, \
         method, actor, reason) SELECT $1, e.cadre_id, e.session_id, e.cadre_name, e.region_code, $4, $5, $6, $7 \
         FROM training_enrolments e WHERE e.session_id = $3 AND e.cadre_id = $2 AND e.state = $8 \
         ON CONFLICT (sitting_id, cadre_id) DO NOTHING",
    )
    .bind(a.sitting_id.clone())
    .bind(a.cadre_id.clone())
    .bind(a.session_id.clone())
    .bind(a.signed_in_at)
    .bind(a.method as i64)
    .bind(a.actor.clone())
    .bind(a.reason.clone())
    .bind(EnrolmentState::Enrolled as i64)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(
    conn: &mut AnyConnection,
    sitting_id: &str,
    cadre_id: &str,
) -> Result<Option<AttendanceRow>, TrainingError> {
    let sql = format!("SELECT {COLUMNS} FROM training_attendance WHERE sitting_id = $1 AND cadre_id = $2");
    sqlx::query(&sql)
        .bind(sitting_id.to_string())
        .bind(cadre_id.to_string())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// A sitting's sign-ins of trainees under `prefix`, in the order they came, after
/// (`signed_in_at`, `cadre_id`).
pub async fn list(
    db: &Db,
    sitting_id: &str,
    prefix: &str,
    after: (i64, &str),
    limit: i64,
) -> Result<Vec<AttendanceRow>, TrainingError> {
    let mut s = Sql::new(format!("SELECT {COLUMNS} FROM training_attendance WHERE sitting_id = "));
    s.bind(sitting_id).push(" AND region_code LIKE ").bind(like_prefix(prefix)).push(" ESCAPE '\\'");
    s.push(" AND (signed_in_at > ").bind(after.0).push(" OR (signed_in_at = ").bind(after.0);
    s.push(" AND cadre_id > ").bind(after.1).push(")) ORDER BY signed_in_at, cadre_id LIMIT ").bind(limit);
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter().map(from_row).collect()
}

/// Sign-ins per sitting of these sessions.
pub async fn counts(
    conn: &mut AnyConnection,
    session_ids: &[String],
) -> Result<HashMap<String, i64>, TrainingError> {
    if session_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut s = Sql::new("SELECT sitting_id, COUNT(*) FROM training_attendance WHERE session_id IN (");
    s.bind_list(session_ids).push(") GROUP BY sitting_id");
    let rows = s.query().fetch_all(conn).await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

/// Sign-ins of a sitting and enrolled trainees of its session, under `prefix`.
pub async fn tally(
    db: &Db,
    sitting_id: &str,
    session_id: &str,
    prefix: &str,
) -> Result<(i64, i64), TrainingError> {
    let signed: i64 = sqlx::query(
        "SELECT COUNT(*) FROM training_attendance WHERE sitting_id = $1 AND region_code LIKE $2 ESCAPE '\\'",
    )
    .bind(sitting_id.to_string())
    .bind(like_prefix(prefix))
    .fetch_one(db.pool())
    .await?
    .try_get(0)?;
    let enrolled: i64 = sqlx::query(
        "SELECT COUNT(*) FROM training_enrolments WHERE session_id = $1 AND state = $2 \
         AND region_code LIKE $3 ESCAPE '\\'",
    )
    .bind(session_id.to_string())
    .bind(EnrolmentState::Enrolled as i64)
    .bind(like_prefix(prefix))
    .fetch_one(db.pool())
    .await?
    .try_get(0)?;
    Ok((signed, enrolled))
}

/// What a sign-in to a sitting needs, read in one statement: the sitting, its session,
/// the trainee's enrolment there and any sign-in already recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct SignInContext {
    pub session_id: String,
    pub day: String,
    pub start_time: String,
    pub end_time: String,
    pub place: String,
    pub session_state: SessionState,
    pub code_step_seconds: i64,
    pub opens_minutes: i64,
    pub organiser_region_code: String,
    /// The trainee's enrolment: its state, region and name as enrolled.
    pub enrolment: Option<(EnrolmentState, String, String)>,
    pub attendance: Option<AttendanceRow>,
}

pub async fn context(
    conn: &mut AnyConnection,
    sitting_id: &str,
    cadre_id: &str,
) -> Result<Option<SignInContext>, TrainingError> {
    let row = sqlx::query(
        "SELECT t.session_id, t.day, t.start_time, t.end_time, t.place, s.state, s.code_step_seconds, \
         s.sign_in_opens_minutes, s.organiser_region_code, e.state, e.region_code, e.cadre_name, \
         a.signed_in_at, a.method, a.actor, a.reason \
         FROM training_sittings t JOIN training_sessions s ON s.id = t.session_id \
         LEFT JOIN training_enrolments e ON e.session_id = t.session_id AND e.cadre_id = $2 \
         LEFT JOIN training_attendance a ON a.sitting_id = t.id AND a.cadre_id = $2 \
         WHERE t.id = $1",
    )
    .bind(sitting_id.to_string())
    .bind(cadre_id.to_string())
    .fetch_optional(conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let session_id: String = r.try_get(0)?;
    let enrolment = match r.try_get::<Option<i64>, _>(9)? {
        Some(state) => Some((
            decode_enum("training_enrolments.state", &session_id, state)?,
            r.try_get::<String, _>(10)?,
            r.try_get::<String, _>(11)?,
        )),
        None => None,
    };
    let attendance = match (r.try_get::<Option<i64>, _>(12)?, &enrolment) {
        (Some(at), Some((_, region, name))) => Some(AttendanceRow {
            sitting_id: sitting_id.to_string(),
            cadre_id: cadre_id.to_string(),
            session_id: session_id.clone(),
            cadre_name: name.clone(),
            region_code: region.clone(),
            signed_in_at: at,
            method: decode_enum("training_attendance.method", sitting_id, r.try_get(13)?)?,
            actor: r.try_get(14)?,
            reason: r.try_get(15)?,
        }),
        _ => None,
    };
    Ok(Some(SignInContext {
        day: r.try_get(1)?,
        start_time: r.try_get(2)?,
        end_time: r.try_get(3)?,
        place: r.try_get(4)?,
        session_state: decode_enum("training_sessions.state", &session_id, r.try_get(5)?)?,
        code_step_seconds: r.try_get(6)?,
        opens_minutes: r.try_get(7)?,
        organiser_region_code: r.try_get(8)?,
        enrolment,
        attendance,
        session_id,
    }))
}
