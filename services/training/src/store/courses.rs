//! Courses and menus.

use cadre_kit::db::{Db, like_prefix};
use cadre_kit::sql::Sql;
use cadre_proto::training::v1 as pb;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::decode_enum;
use crate::error::TrainingError;

#[derive(Debug, Clone, PartialEq)]
pub struct CourseRow {
    pub id: String,
    pub title: String,
    pub topic: pb::Topic,
    pub mode: pb::CourseMode,
    pub credit_tenths: i64,
    pub level: pb::OrganiserLevel,
    pub owner_region_code: String,
    pub description: String,
    pub revision: i64,
}

const COLUMNS: &str =
    "id, title, topic, mode, credit_tenths, level, owner_region_code, description, revision";

fn from_row(r: &AnyRow) -> Result<CourseRow, TrainingError> {
    let id: String = r.try_get(0)?;
    Ok(CourseRow {
        title: r.try_get(1)?,
        topic: decode_enum("training_courses.topic", &id, r.try_get(2)?)?,
        mode: decode_enum("training_courses.mode", &id, r.try_get(3)?)?,
        credit_tenths: r.try_get(4)?,
        level: decode_enum("training_courses.level", &id, r.try_get(5)?)?,
        owner_region_code: r.try_get(6)?,
        description: r.try_get(7)?,
        revision: r.try_get(8)?,
        id,
    })
}

pub async fn insert(conn: &mut AnyConnection, c: &CourseRow, now: i64) -> Result<(), TrainingError> {
    sqlx::query(
        "INSERT INTO training_courses (id, title, topic, mode, credit_tenths, level, owner_region_code, description, \
         revision, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(c.id.clone())
    .bind(c.title.clone())
    .bind(c.topic as i64)
    .bind(c.mode as i64)
    .bind(c.credit_tenths)
    .bind(c.level as i64)
    .bind(c.owner_region_code.clone())
    .bind(c.description.clone())
    .bind(c.revision)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<CourseRow>, TrainingError> {
    let sql = format!("SELECT {COLUMNS} FROM training_courses WHERE id = $1");
    sqlx::query(&sql).bind(id.to_string()).fetch_optional(conn).await?.as_ref().map(from_row).transpose()
}

/// The courses with these ids (any order; unknown ids are absent).
pub async fn get_many(conn: &mut AnyConnection, ids: &[String]) -> Result<Vec<CourseRow>, TrainingError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut s = Sql::new(format!("SELECT {COLUMNS} FROM training_courses WHERE id IN ("));
    s.bind_list(ids).push(")");
    let rows = s.query().fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

/// Courses kept by one of `owners` or under `prefix` (a region's own, those above it,
/// and those below it), after `after`.
pub async fn list(
    db: &Db,
    owners: &[String],
    prefix: &str,
    topic: Option<pb::Topic>,
    after: &str,
    limit: i64,
) -> Result<Vec<CourseRow>, TrainingError> {
    let mut s = Sql::new(format!("SELECT {COLUMNS} FROM training_courses WHERE (owner_region_code LIKE "));
    s.bind(like_prefix(prefix)).push(" ESCAPE '\\'");
    if !owners.is_empty() {
        s.push(" OR owner_region_code IN (").bind_list(owners).push(")");
    }
    s.push(") AND id > ").bind(after);
    if let Some(topic) = topic {
        s.push(" AND topic = ").bind(topic as i64);
    }
    s.push(" ORDER BY id LIMIT ").bind(limit);
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter().map(from_row).collect()
}

/// A menu's revision and course ids in order, if the county has one for the year.
pub async fn menu(
    conn: &mut AnyConnection,
    county: &str,
    year: i32,
) -> Result<Option<(i64, Vec<String>)>, TrainingError> {
    let head = sqlx::query("SELECT revision FROM training_menus WHERE county_code = $1 AND year = $2")
        .bind(county.to_string())
        .bind(i64::from(year))
        .fetch_optional(&mut *conn)
        .await?;
    let Some(head) = head else { return Ok(None) };
    let revision: i64 = head.try_get(0)?;
    let ids = sqlx::query(
        "SELECT course_id FROM training_menu_courses WHERE county_code = $1 AND year = $2 ORDER BY position",
    )
    .bind(county.to_string())
    .bind(i64::from(year))
    .fetch_all(conn)
    .await?
    .iter()
    .map(|r| r.try_get(0))
    .collect::<Result<Vec<String>, _>>()?;
    Ok(Some((revision, ids)))
}

/// Replaces the county's menu for the year with `course_ids` at `revision`.
pub async fn put_menu(
    conn: &mut AnyConnection,
    county: &str,
    year: i32,
    course_ids: &[String],
    revision: i64,
    now: i64,
) -> Result<(), TrainingError> {
    let year = i64::from(year);
    sqlx::query("DELETE FROM training_menu_courses WHERE county_code = $1 AND year = $2")
        .bind(county.to_string())
        .bind(year)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM training_menus WHERE county_code = $1 AND year = $2")
        .bind(county.to_string())
        .bind(year)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO training_menus (county_code, year, revision, updated_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(county.to_string())
    .bind(year)
    .bind(revision)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    for (position, id) in course_ids.iter().enumerate() {
        sqlx::query(
            "INSERT INTO training_menu_courses (county_code, year, position, course_id) VALUES ($1, $2, $3, $4)",
        )
        .bind(county.to_string())
        .bind(year)
        .bind(position as i64)
        .bind(id.clone())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
