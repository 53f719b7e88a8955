//! Pay scales' rows: the grid as JSON, whole.

use sqlx::{AnyConnection, Row};

use crate::domain::pay::Scale;
use crate::error::IncentiveError;

#[derive(Debug, Clone, PartialEq)]
pub struct ScaleRow {
    pub region_code: String,
    pub year: i32,
    pub scale: Scale,
    pub revision: i64,
}

pub async fn get(
    conn: &mut AnyConnection,
    region_code: &str,
    year: i32,
) -> Result<Option<ScaleRow>, IncentiveError> {
    let row =
        sqlx::query("SELECT grid, revision FROM incentive_pay_scales WHERE region_code = $1 AND year = $2")
            .bind(region_code.to_string())
            .bind(i64::from(year))
            .fetch_optional(conn)
            .await?;
    let Some(row) = row else { return Ok(None) };
    let grid: String = row.try_get(0)?;
    let scale = serde_json::from_str(&grid).map_err(|_| IncentiveError::Corrupt {
        column: "incentive_pay_scales.grid",
        row: format!("{region_code}:{year}"),
        value: grid.chars().take(40).collect(),
    })?;
    Ok(Some(ScaleRow { region_code: region_code.to_string(), year, scale, revision: row.try_get(1)? }))
}

/// Writes the scale at `revision`: inserted at 1, else replacing `revision - 1`.
pub async fn put(conn: &mut AnyConnection, s: &ScaleRow, now: i64) -> Result<bool, IncentiveError> {
    let grid = serde_json::to_string(&s.scale).map_err(|e| IncentiveError::Conflict(e.to_string()))?;
    let done = if s.revision == 1 {
        sqlx::query(
            "INSERT INTO incentive_pay_scales (region_code, year, grid, revision, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (region_code, year) DO NOTHING",
        )
        .bind(s.region_code.clone())
        .bind(i64::from(s.year))
        .bind(grid)
        .bind(s.revision)
        .bind(now)
        .execute(conn)
        .await?
    } else {
        sqlx::query(
            "UPDATE incentive_pay_scales SET grid = $3, revision = $4, updated_at = $5 \
             WHERE region_code = $1 AND year = $2 AND revision = $6",
        )
        .bind(s.region_code.clone())
        .bind(i64::from(s.year))
        .bind(grid)
        .bind(s.revision)
        .bind(now)
        .bind(s.revision - 1)
        .execute(conn)
        .await?
    };
    Ok(done.rows_affected() == 1)
}
