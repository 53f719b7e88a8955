//! Scheme versions: one row each, the body (variants, items, indicators) as JSON of the
//! domain's validated scheme.

use cadre_kit::db::like_prefix;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::domain::scheme::SchemeBody;
use crate::error::AssessmentError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemeRow {
    pub id: String,
    pub county_code: String,
    pub year: i32,
    pub version: i32,
    pub body: SchemeBody,
    pub copied_from: String,
    pub revision: i64,
}

const COLUMNS: &str = "id, county_code, year, version, body, copied_from, revision";

fn from_row(r: &AnyRow) -> Result<SchemeRow, AssessmentError> {
    let id: String = r.try_get(0)?;
    let body: String = r.try_get(4)?;
    let body = serde_json::from_str(&body).map_err(|e| AssessmentError::Corrupt {
        column: "assessment_schemes.body",
        row: id.clone(),
        value: e.to_string(),
    })?;
    let year: i64 = r.try_get(2)?;
    let version: i64 = r.try_get(3)?;
    Ok(SchemeRow {
        county_code: r.try_get(1)?,
        year: year as i32,
        version: version as i32,
        body,
        copied_from: r.try_get(5)?,
        revision: r.try_get(6)?,
        id,
    })
}

fn json(body: &SchemeBody) -> Result<String, AssessmentError> {
    serde_json::to_string(body)
        .map_err(|e| AssessmentError::Conflict(format!("the scheme cannot be stored: {e}")))
}

pub async fn insert(conn: &mut AnyConnection, s: &SchemeRow, now: i64) -> Result<(), AssessmentError> {
    sqlx::query(
        "INSERT INTO assessment_schemes (id, county_code, year, version, name, body, copied_from, revision, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(s.id.clone())
    .bind(s.county_code.clone())
    .bind(i64::from(s.year))
    .bind(i64::from(s.version))
    .bind(s.body.name.clone())
    .bind(json(&s.body)?)
    .bind(s.copied_from.clone())
    .bind(s.revision)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Rewrites a draft version (never one in use: the caller decides, by the year's phase).
pub async fn update_draft(conn: &mut AnyConnection, s: &SchemeRow, now: i64) -> Result<(), AssessmentError> {
    sqlx::query(
        "UPDATE assessment_schemes SET name = $2, body = $3, revision = $4, updated_at = $5 WHERE id = $1",
    )
    .bind(s.id.clone())
    .bind(s.body.name.clone())
    .bind(json(&s.body)?)
    .bind(s.revision)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<SchemeRow>, AssessmentError> {
    let sql = format!("SELECT {COLUMNS} FROM assessment_schemes WHERE id = $1");
    sqlx::query(&sql).bind(id.to_string()).fetch_optional(conn).await?.as_ref().map(from_row).transpose()
}

/// The schemes of counties under `prefix` (of `year`, unless 0) after `after`, by id.
pub async fn list(
    conn: &mut AnyConnection,
    prefix: &str,
    year: i32,
    after: &str,
    limit: i64,
) -> Result<Vec<SchemeRow>, AssessmentError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM assessment_schemes WHERE county_code LIKE $1 ESCAPE '\\' AND ($2 = 0 OR year = $2) \
         AND id > $3 ORDER BY id LIMIT $4"
    );
    let rows = sqlx::query(&sql)
        .bind(like_prefix(prefix))
        .bind(i64::from(year))
        .bind(after.to_string())
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}
