//! A county's years: phase, the scheme version in force, and the villages frozen when
//! scoring opened.

use cadre_kit::bulk;
use cadre_kit::db::{WriteTx, like_prefix};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::decode;
use crate::domain::phase::Phase;
use crate::error::AssessmentError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearRow {
    pub county_code: String,
    pub year: i32,
    pub phase: Phase,
    pub scheme_id: String,
    pub village_count: i64,
    pub opened_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub revision: i64,
}

impl YearRow {
    /// "150525000000/2026": its key in the feed, and how messages name it.
    pub fn key(&self) -> String {
        key(&self.county_code, self.year)
    }
}

pub fn key(county: &str, year: i32) -> String {
    format!("{county}/{year}")
}

pub fn phase_number(p: Phase) -> i64 {
    match p {
        Phase::Draft => 1,
        Phase::ScoringOpen => 2,
        Phase::ScoringClosed => 3,
        Phase::Computed => 4,
        Phase::Notice => 5,
        Phase::Final => 6,
    }
}

fn phase_of(v: i64) -> Option<Phase> {
    match v {
        1 => Some(Phase::Draft),
        2 => Some(Phase::ScoringOpen),
        3 => Some(Phase::ScoringClosed),
        4 => Some(Phase::Computed),
        5 => Some(Phase::Notice),
        6 => Some(Phase::Final),
        _ => None,
    }
}

const COLUMNS: &str = "county_code, year, phase, scheme_id, village_count, opened_at, closed_at, revision";

fn from_row(r: &AnyRow) -> Result<YearRow, AssessmentError> {
    let county: String = r.try_get(0)?;
    let year: i64 = r.try_get(1)?;
    Ok(YearRow {
        phase: decode("assessment_years.phase", &key(&county, year as i32), r.try_get(2)?, phase_of)?,
        scheme_id: r.try_get(3)?,
        village_count: r.try_get(4)?,
        opened_at: r.try_get(5)?,
        closed_at: r.try_get(6)?,
        revision: r.try_get(7)?,
        county_code: county,
        year: year as i32,
    })
}

pub async fn get(
    conn: &mut AnyConnection,
    county: &str,
    year: i32,
) -> Result<Option<YearRow>, AssessmentError> {
    let sql = format!("SELECT {COLUMNS} FROM assessment_years WHERE county_code = $1 AND year = $2");
    sqlx::query(&sql)
        .bind(county.to_string())
        .bind(i64::from(year))
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub async fn insert(conn: &mut AnyConnection, y: &YearRow, now: i64) -> Result<(), AssessmentError> {
    sqlx::query(
        "INSERT INTO assessment_years (county_code, year, phase, scheme_id, village_count, opened_at, closed_at, \
         revision, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(y.county_code.clone())
    .bind(i64::from(y.year))
    .bind(phase_number(y.phase))
    .bind(y.scheme_id.clone())
    .bind(y.village_count)
    .bind(y.opened_at)
    .bind(y.closed_at)
    .bind(y.revision)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn update(conn: &mut AnyConnection, y: &YearRow, now: i64) -> Result<(), AssessmentError> {
    sqlx::query(
        "UPDATE assessment_years SET phase = $3, scheme_id = $4, village_count = $5, opened_at = $6, closed_at = $7, \
         revision = $8, updated_at = $9 WHERE county_code = $1 AND year = $2",
    )
    .bind(y.county_code.clone())
    .bind(i64::from(y.year))
    .bind(phase_number(y.phase))
    .bind(y.scheme_id.clone())
    .bind(y.village_count)
    .bind(y.opened_at)
    .bind(y.closed_at)
    .bind(y.revision)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// A village of a year as frozen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrozenVillage {
    pub code: String,
    pub name: String,
    pub township_code: String,
    pub village_type: String,
    pub secretary_id: String,
    pub secretary_name: String,
}

pub async fn freeze(
    tx: &mut WriteTx,
    county: &str,
    year: i32,
    villages: &[FrozenVillage],
) -> Result<(), AssessmentError> {
    use bulk::Column as C;
    const COLUMNS: [C; 6] = [
        C::text("village_code"),
        C::text("name"),
        C::text("township_code"),
        C::text("village_type"),
        C::text("secretary_id"),
        C::text("secretary_name"),
    ];
    let shared = [("county_code", bulk::Cell::Text(county)), ("year", bulk::Cell::BigInt(i64::from(year)))];
    let table = bulk::Table { name: "assessment_year_villages", columns: &COLUMNS, shared: &shared };
    bulk::insert(tx, &table, villages, |v| {
        [
            (&v.code).into(),
            (&v.name).into(),
            (&v.township_code).into(),
            (&v.village_type).into(),
            (&v.secretary_id).into(),
            (&v.secretary_name).into(),
        ]
    })
    .await?;
    Ok(())
}

const VILLAGE_COLUMNS: &str = "village_code, name, township_code, village_type, secretary_id, secretary_name";

fn village(r: &AnyRow) -> Result<FrozenVillage, AssessmentError> {
    Ok(FrozenVillage {
        code: r.try_get(0)?,
        name: r.try_get(1)?,
        township_code: r.try_get(2)?,
        village_type: r.try_get(3)?,
        secretary_id: r.try_get(4)?,
        secretary_name: r.try_get(5)?,
    })
}

/// The year's villages under `prefix`, by code, after `after`.
pub async fn villages(
    conn: &mut AnyConnection,
    county: &str,
    year: i32,
    prefix: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<FrozenVillage>, AssessmentError> {
    let sql = format!(
        "SELECT {VILLAGE_COLUMNS} FROM assessment_year_villages WHERE county_code = $1 AND year = $2 \
         AND village_code LIKE $3 ESCAPE '\\' AND village_code > $4 ORDER BY village_code LIMIT $5"
    );
    let rows = sqlx::query(&sql)
        .bind(county.to_string())
        .bind(i64::from(year))
        .bind(like_prefix(prefix))
        .bind(after.to_string())
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(village).collect()
}
