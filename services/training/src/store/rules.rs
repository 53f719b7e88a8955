//! Training rules per region and year.

use cadre_kit::db::like_prefix;
use cadre_kit::sql::Sql;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::domain::rules::Rules;
use crate::error::TrainingError;

#[derive(Debug, Clone, PartialEq)]
pub struct RulesRow {
    pub region_code: String,
    pub year: i64,
    pub rules: Rules,
    pub revision: i64,
}

const COLUMNS: &str =
    "region_code, year, required_hours, default_min_percent, feedback_days, feedback_min_answers, revision";

fn from_row(r: &AnyRow) -> Result<RulesRow, TrainingError> {
    let region_code: String = r.try_get(0)?;
    let stored: String = r.try_get(2)?;
    let required = Rules::decode_required(&stored).ok_or_else(|| TrainingError::Corrupt {
        column: "training_rules.required_hours",
        row: region_code.clone(),
        value: stored.clone(),
    })?;
    Ok(RulesRow {
        year: r.try_get(1)?,
        rules: Rules {
            required,
            default_min_percent: r.try_get::<i64, _>(3)? as i32,
            feedback_days: r.try_get::<i64, _>(4)? as i32,
            feedback_min_answers: r.try_get::<i64, _>(5)? as i32,
        },
        revision: r.try_get(6)?,
        region_code,
    })
}

/// The rules of `year` configured for any of `codes` (a region's lineage).
pub async fn of(
    conn: &mut AnyConnection,
    codes: &[String],
    year: i64,
) -> Result<Vec<RulesRow>, TrainingError> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let mut s = Sql::new(format!("SELECT {COLUMNS} FROM training_rules WHERE year = "));
    s.bind(year).push(" AND region_code IN (").bind_list(codes).push(")");
    let rows = s.query().fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

/// The rules of `year` configured under `prefix` or for one of `ancestors`.
pub async fn near(
    conn: &mut AnyConnection,
    prefix: &str,
    ancestors: &[String],
    year: i64,
) -> Result<Vec<RulesRow>, TrainingError> {
    let mut s = Sql::new(format!("SELECT {COLUMNS} FROM training_rules WHERE year = "));
    s.bind(year).push(" AND (region_code LIKE ").bind(like_prefix(prefix)).push(" ESCAPE '\\'");
    if !ancestors.is_empty() {
        s.push(" OR region_code IN (").bind_list(ancestors).push(")");
    }
    s.push(")");
    let rows = s.query().fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

/// Writes a region's rules for a year at `row.revision` if the stored revision is still
/// `expected` (0: none stored yet); false when it was not.
pub async fn put(
    conn: &mut AnyConnection,
    row: &RulesRow,
    expected: i64,
    now: i64,
) -> Result<bool, TrainingError> {
    let done = if expected == 0 {
        sqlx::query(&format!(
            "INSERT INTO training_rules ({COLUMNS}, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (region_code, year) DO NOTHING"
        ))
        .bind(row.region_code.clone())
        .bind(row.year)
        .bind(row.rules.encode_required())
        .bind(i64::from(row.rules.default_min_percent))
        .bind(i64::from(row.rules.feedback_days))
        .bind(i64::from(row.rules.feedback_min_answers))
        .bind(row.revision)
        .bind(now)
        .execute(conn)
        .await?
    } else {
        sqlx::query(
            "UPDATE training_rules SET required_hours = $3, default_min_percent = $4, feedback_days = $5, \
             feedback_min_answers = $6, revision = $7, updated_at = $8 WHERE region_code = $1 AND year = $2 \
             AND revision = $9",
        )
        .bind(row.region_code.clone())
        .bind(row.year)
        .bind(row.rules.encode_required())
        .bind(i64::from(row.rules.default_min_percent))
        .bind(i64::from(row.rules.feedback_days))
        .bind(i64::from(row.rules.feedback_min_answers))
        .bind(row.revision)
        .bind(now)
        .bind(expected)
        .execute(conn)
        .await?
    };
    Ok(done.rows_affected() == 1)
}
