//! Orders, their steps, and the order rules of regions.

use cadre_kit::db::{Db, like_prefix};
use cadre_kit::sql::Sql;
use cadre_proto::training::v1::OrderState;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::decode_enum;
use crate::error::TrainingError;

#[derive(Debug, Clone, PartialEq)]
pub struct OrderRow {
    pub id: String,
    pub region_code: String,
    pub county_code: String,
    pub course_id: String,
    pub year: i32,
    pub note: String,
    pub preferred_date: String,
    pub expected_trainees: i32,
    pub state: OrderState,
    pub teacher_id: String,
    pub scheduled_date: String,
    pub start_time: String,
    pub end_time: String,
    pub place: String,
    pub decline_reason: String,
    pub delivered_date: String,
    pub attendees: i32,
    pub submitted_at: i64,
    pub submitted_date: String,
    pub revision: i64,
}

const COLUMNS: &str = "id, region_code, county_code, course_id, year, note, preferred_date, expected_trainees, state, \
                       teacher_id, scheduled_date, start_time, end_time, place, decline_reason, delivered_date, \
                       attendees, submitted_at, submitted_date, revision";

fn int(r: &AnyRow, i: usize) -> Result<i32, TrainingError> {
    let v: i64 = r.try_get(i)?;
    i32::try_from(v).map_err(|_| TrainingError::Corrupt {
        column: "training_orders",
        row: String::new(),
        value: v.to_string(),
    })
}

fn from_row(r: &AnyRow) -> Result<OrderRow, TrainingError> {
    let id: String = r.try_get(0)?;
    Ok(OrderRow {
        region_code: r.try_get(1)?,
        county_code: r.try_get(2)?,
        course_id: r.try_get(3)?,
        year: int(r, 4)?,
        note: r.try_get(5)?,
        preferred_date: r.try_get(6)?,
        expected_trainees: int(r, 7)?,
        state: decode_enum("training_orders.state", &id, r.try_get(8)?)?,
        teacher_id: r.try_get(9)?,
        scheduled_date: r.try_get(10)?,
        start_time: r.try_get(11)?,
        end_time: r.try_get(12)?,
        place: r.try_get(13)?,
        decline_reason: r.try_get(14)?,
        delivered_date: r.try_get(15)?,
        attendees: int(r, 16)?,
        submitted_at: r.try_get(17)?,
        submitted_date: r.try_get(18)?,
        revision: r.try_get(19)?,
        id,
    })
}

pub async fn insert(conn: &mut AnyConnection, o: &OrderRow, now: i64) -> Result<(), TrainingError> {
    sqlx::query(&format!(
        "INSERT INTO training_orders ({COLUMNS}, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
         $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
    ))
    .bind(o.id.clone())
    .bind(o.region_code.clone())
    .bind(o.county_code.clone())
    .bind(o.course_id.clone())
    .bind(i64::from(o.year))
    .bind(o.note.clone())
    .bind(o.preferred_date.clone())
    .bind(i64::from(o.expected_trainees))
    .bind(o.state as i64)
    .bind(o.teacher_id.clone())
    .bind(o.scheduled_date.clone())
    .bind(o.start_time.clone())
    .bind(o.end_time.clone())
    .bind(o.place.clone())
    .bind(o.decline_reason.clone())
    .bind(o.delivered_date.clone())
    .bind(i64::from(o.attendees))
    .bind(o.submitted_at)
    .bind(o.submitted_date.clone())
    .bind(o.revision)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes what a move changes (state, teacher, slot, decline, delivery) at
/// `o.revision` if the stored revision is still `expected`.
pub async fn update(
    conn: &mut AnyConnection,
    o: &OrderRow,
    expected: i64,
    now: i64,
) -> Result<bool, TrainingError> {
    let done = sqlx::query(
        "UPDATE training_orders SET state = $2, teacher_id = $3, scheduled_date = $4, start_time = $5, end_time = $6, \
         place = $7, decline_reason = $8, delivered_date = $9, attendees = $10, revision = $11, updated_at = $12 \
         WHERE id = $1 AND revision = $13",
    )
    .bind(o.id.clone())
    .bind(o.state as i64)
    .bind(o.teacher_id.clone())
    .bind(o.scheduled_date.clone())
    .bind(o.start_time.clone())
    .bind(o.end_time.clone())
    .bind(o.place.clone())
    .bind(o.decline_reason.clone())
    .bind(o.delivered_date.clone())
    .bind(i64::from(o.attendees))
    .bind(o.revision)
    .bind(now)
    .bind(expected)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<OrderRow>, TrainingError> {
    let sql = format!("SELECT {COLUMNS} FROM training_orders WHERE id = $1");
    sqlx::query(&sql).bind(id.to_string()).fetch_optional(conn).await?.as_ref().map(from_row).transpose()
}

#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub region_prefix: String,
    pub state: Option<OrderState>,
    pub year: Option<i32>,
}

pub async fn list(db: &Db, f: &OrderFilter, after: &str, limit: i64) -> Result<Vec<OrderRow>, TrainingError> {
    let mut s = Sql::new(format!("SELECT {COLUMNS} FROM training_orders WHERE region_code LIKE "));
    s.bind(like_prefix(&f.region_prefix)).push(" ESCAPE '\\' AND id > ").bind(after);
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

/// Orders still waiting for the county (submitted or matched) under `prefix`.
pub async fn waiting(db: &Db, prefix: &str) -> Result<Vec<OrderRow>, TrainingError> {
    let mut s = Sql::new(format!("SELECT {COLUMNS} FROM training_orders WHERE region_code LIKE "));
    s.bind(like_prefix(prefix))
        .push(" ESCAPE '\\' AND state IN (")
        .bind_list([OrderState::Submitted as i64, OrderState::Matched as i64])
        .push(") ORDER BY id");
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter().map(from_row).collect()
}

/// Teachers with an order scheduled (not yet delivered or declined) on `day`.
pub async fn busy_on(db: &Db, day: &str) -> Result<Vec<String>, TrainingError> {
    let rows = sqlx::query(
        "SELECT DISTINCT teacher_id FROM training_orders WHERE scheduled_date = $1 AND state = $2 AND teacher_id <> ''",
    )
    .bind(day.to_string())
    .bind(OrderState::Scheduled as i64)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?)
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepRow {
    pub order_id: String,
    pub state: OrderState,
    pub at: i64,
    pub actor: String,
    pub note: String,
}

pub async fn add_step(conn: &mut AnyConnection, step: &StepRow) -> Result<(), TrainingError> {
    sqlx::query(
        "INSERT INTO training_order_steps (order_id, seq, state, at, actor, note) \
         SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 FROM training_order_steps WHERE order_id = $6",
    )
    .bind(step.order_id.clone())
    .bind(step.state as i64)
    .bind(step.at)
    .bind(step.actor.clone())
    .bind(step.note.clone())
    .bind(step.order_id.clone())
    .execute(conn)
    .await?;
    Ok(())
}

/// The steps of these orders, oldest first per order.
pub async fn steps_of(conn: &mut AnyConnection, ids: &[String]) -> Result<Vec<StepRow>, TrainingError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut s =
        Sql::new("SELECT order_id, state, at, actor, note FROM training_order_steps WHERE order_id IN (");
    s.bind_list(ids).push(") ORDER BY order_id, seq");
    let rows = s.query().fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            let order_id: String = r.try_get(0)?;
            Ok(StepRow {
                state: decode_enum("training_order_steps.state", &order_id, r.try_get(1)?)?,
                at: r.try_get(2)?,
                actor: r.try_get(3)?,
                note: r.try_get(4)?,
                order_id,
            })
        })
        .collect()
}

/// Regions' configured order rules among `codes`: (region, max_wait_days, revision).
pub async fn rules_of(db: &Db, codes: &[String]) -> Result<Vec<(String, i32, i64)>, TrainingError> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let mut s = Sql::new(
        "SELECT region_code, max_wait_days, revision FROM training_order_rules WHERE region_code IN (",
    );
    s.bind_list(codes).push(")");
    rows_of_rules(s.query().fetch_all(db.pool()).await?)
}

/// Every configured rule of a region under `prefix` or above it (`ancestors`).
pub async fn rules_near(
    db: &Db,
    prefix: &str,
    ancestors: &[String],
) -> Result<Vec<(String, i32, i64)>, TrainingError> {
    let mut s = Sql::new(
        "SELECT region_code, max_wait_days, revision FROM training_order_rules WHERE region_code LIKE ",
    );
    s.bind(like_prefix(prefix)).push(" ESCAPE '\\'");
    if !ancestors.is_empty() {
        s.push(" OR region_code IN (").bind_list(ancestors).push(")");
    }
    rows_of_rules(s.query().fetch_all(db.pool()).await?)
}

fn rows_of_rules(rows: Vec<AnyRow>) -> Result<Vec<(String, i32, i64)>, TrainingError> {
    rows.iter().map(|r| Ok((r.try_get(0)?, int(r, 1)?, r.try_get(2)?))).collect()
}

pub async fn put_rules(
    conn: &mut AnyConnection,
    region: &str,
    max_wait_days: i32,
    revision: i64,
    now: i64,
) -> Result<(), TrainingError> {
    sqlx::query("DELETE FROM training_order_rules WHERE region_code = $1")
        .bind(region.to_string())
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO training_order_rules (region_code, max_wait_days, revision, updated_at) VALUES ($1, $2, $3, $4)")
        .bind(region.to_string())
        .bind(i64::from(max_wait_days))
        .bind(revision)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// A teacher's scheduled orders on `day` (to refuse a second booking at the same time).
pub async fn scheduled_for(
    conn: &mut AnyConnection,
    teacher_id: &str,
    day: &str,
) -> Result<Vec<OrderRow>, TrainingError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM training_orders WHERE teacher_id = $1 AND scheduled_date = $2 AND state = $3"
    );
    let rows = sqlx::query(&sql)
        .bind(teacher_id.to_string())
        .bind(day.to_string())
        .bind(OrderState::Scheduled as i64)
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}
