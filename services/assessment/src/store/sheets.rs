//! Sheets and their scores: a unit's sheet is replaced whole, its scores deleted and
//! written again in bulk statements.

use std::collections::HashMap;

use cadre_kit::bulk;
use cadre_kit::db::WriteTx;
use sqlx::{AnyConnection, Row};

use crate::domain::sheet::ScoreInput;
use crate::error::AssessmentError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetHead {
    pub unit_id: String,
    pub revision: i64,
    pub score_count: i64,
    pub submitted_by: String,
    pub submitted_at: i64,
}

pub async fn head(
    conn: &mut AnyConnection,
    county: &str,
    year: i32,
    unit: &str,
) -> Result<Option<SheetHead>, AssessmentError> {
    let row = sqlx::query(
        "SELECT unit_id, revision, score_count, submitted_by, submitted_at FROM assessment_sheets \
         WHERE county_code = $1 AND year = $2 AND unit_id = $3",
    )
    .bind(county.to_string())
    .bind(i64::from(year))
    .bind(unit.to_string())
    .fetch_optional(conn)
    .await?;
    row.map(|r| head_of(&r)).transpose()
}

fn head_of(r: &sqlx::any::AnyRow) -> Result<SheetHead, AssessmentError> {
    Ok(SheetHead {
        unit_id: r.try_get(0)?,
        revision: r.try_get(1)?,
        score_count: r.try_get(2)?,
        submitted_by: r.try_get(3)?,
        submitted_at: r.try_get(4)?,
    })
}

/// Every sheet of the county's year, by unit.
pub async fn heads(
    conn: &mut AnyConnection,
    county: &str,
    year: i32,
) -> Result<HashMap<String, SheetHead>, AssessmentError> {
    let rows = sqlx::query(
        "SELECT unit_id, revision, score_count, submitted_by, submitted_at FROM assessment_sheets \
         WHERE county_code = $1 AND year = $2",
    )
    .bind(county.to_string())
    .bind(i64::from(year))
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| head_of(r).map(|h| (h.unit_id.clone(), h))).collect()
}

/// The unit's scores, by village then indicator.
pub async fn scores(
    conn: &mut AnyConnection,
    county: &str,
    year: i32,
    unit: &str,
) -> Result<Vec<ScoreInput>, AssessmentError> {
    let rows = sqlx::query(
        "SELECT village_code, indicator_code, points FROM assessment_scores \
         WHERE county_code = $1 AND year = $2 AND unit_id = $3 ORDER BY village_code, indicator_code",
    )
    .bind(county.to_string())
    .bind(i64::from(year))
    .bind(unit.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let points: i64 = r.try_get(2)?;
            Ok(ScoreInput {
                village_code: r.try_get(0)?,
                indicator_code: r.try_get(1)?,
                points: points as i32,
            })
        })
        .collect()
}

/// Replaces the unit's sheet with `scores` at `head.revision`.
pub async fn replace(
    tx: &mut WriteTx,
    county: &str,
    year: i32,
    head: &SheetHead,
    scores: &[ScoreInput],
) -> Result<(), AssessmentError> {
    let (y, unit) = (i64::from(year), head.unit_id.clone());
    for table in ["assessment_scores", "assessment_sheets"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE county_code = $1 AND year = $2 AND unit_id = $3"))
            .bind(county.to_string())
            .bind(y)
            .bind(unit.clone())
            .execute(tx.conn())
            .await?;
    }
    sqlx::query(
        "INSERT INTO assessment_sheets (county_code, year, unit_id, revision, score_count, submitted_by, submitted_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(county.to_string())
    .bind(y)
    .bind(unit.clone())
    .bind(head.revision)
    .bind(head.score_count)
    .bind(head.submitted_by.clone())
    .bind(head.submitted_at)
    .execute(tx.conn())
    .await?;
    use bulk::Column as C;
    const COLUMNS: [C; 3] = [C::text("village_code"), C::text("indicator_code"), C::bigint("points")];
    let shared = [
        ("county_code", bulk::Cell::Text(county)),
        ("year", bulk::Cell::BigInt(y)),
        ("unit_id", bulk::Cell::Text(&head.unit_id)),
    ];
    let table = bulk::Table { name: "assessment_scores", columns: &COLUMNS, shared: &shared };
    bulk::insert(tx, &table, scores, |s| {
        [(&s.village_code).into(), (&s.indicator_code).into(), i64::from(s.points).into()]
    })
    .await?;
    Ok(())
}
