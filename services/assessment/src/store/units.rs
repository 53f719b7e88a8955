//! Scoring units and the token subjects acting for them.

use cadre_kit::sql::Sql;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::decode;
use crate::domain::units::UnitKind;
use crate::error::AssessmentError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitRow {
    pub id: String,
    pub county_code: String,
    /// The county (agency) or the township.
    pub region_code: String,
    pub name: String,
    pub kind: UnitKind,
    pub subjects: Vec<String>,
    pub revision: i64,
}

pub fn kind_number(k: UnitKind) -> i64 {
    match k {
        UnitKind::Agency => 1,
        UnitKind::Township => 2,
    }
}

fn kind_of(v: i64) -> Option<UnitKind> {
    match v {
        1 => Some(UnitKind::Agency),
        2 => Some(UnitKind::Township),
        _ => None,
    }
}

const COLUMNS: &str = "id, county_code, region_code, name, kind, revision";

fn from_row(r: &AnyRow) -> Result<UnitRow, AssessmentError> {
    let id: String = r.try_get(0)?;
    Ok(UnitRow {
        county_code: r.try_get(1)?,
        region_code: r.try_get(2)?,
        name: r.try_get(3)?,
        kind: decode("assessment_units.kind", &id, r.try_get(4)?, kind_of)?,
        subjects: Vec::new(),
        revision: r.try_get(5)?,
        id,
    })
}

async fn with_subjects(
    conn: &mut AnyConnection,
    mut units: Vec<UnitRow>,
) -> Result<Vec<UnitRow>, AssessmentError> {
    if units.is_empty() {
        return Ok(units);
    }
    let ids: Vec<String> = units.iter().map(|u| u.id.clone()).collect();
    let mut s = Sql::new("SELECT unit_id, subject FROM assessment_unit_subjects WHERE unit_id IN (");
    s.bind_list(&ids).push(") ORDER BY subject");
    for r in s.query().fetch_all(conn).await? {
        let (unit, subject): (String, String) = (r.try_get(0)?, r.try_get(1)?);
        if let Some(u) = units.iter_mut().find(|u| u.id == unit) {
            u.subjects.push(subject);
        }
    }
    Ok(units)
}

pub async fn insert(conn: &mut AnyConnection, u: &UnitRow, now: i64) -> Result<(), AssessmentError> {
    sqlx::query(
        "INSERT INTO assessment_units (id, county_code, region_code, name, kind, revision, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(u.id.clone())
    .bind(u.county_code.clone())
    .bind(u.region_code.clone())
    .bind(u.name.clone())
    .bind(kind_number(u.kind))
    .bind(u.revision)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    put_subjects(conn, &u.id, &u.subjects).await
}

/// Name, subjects and revision of a unit.
pub async fn update(conn: &mut AnyConnection, u: &UnitRow, now: i64) -> Result<(), AssessmentError> {
    sqlx::query("UPDATE assessment_units SET name = $2, revision = $3, updated_at = $4 WHERE id = $1")
        .bind(u.id.clone())
        .bind(u.name.clone())
        .bind(u.revision)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    put_subjects(conn, &u.id, &u.subjects).await
}

async fn put_subjects(
    conn: &mut AnyConnection,
    unit: &str,
    subjects: &[String],
) -> Result<(), AssessmentError> {
    sqlx::query("DELETE FROM assessment_unit_subjects WHERE unit_id = $1")
        .bind(unit.to_string())
        .execute(&mut *conn)
        .await?;
    for s in subjects {
        sqlx::query("INSERT INTO assessment_unit_subjects (subject, unit_id) VALUES ($1, $2)")
            .bind(s.clone())
            .bind(unit.to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Which of `subjects` act for a unit other than `except`: (subject, unit).
pub async fn subjects_taken(
    conn: &mut AnyConnection,
    subjects: &[String],
    except: &str,
) -> Result<Vec<(String, String)>, AssessmentError> {
    if subjects.is_empty() {
        return Ok(Vec::new());
    }
    let mut s = Sql::new("SELECT subject, unit_id FROM assessment_unit_subjects WHERE subject IN (");
    s.bind_list(subjects).push(") AND unit_id <> ").bind(except);
    let rows = s.query().fetch_all(conn).await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

/// Whether a unit of the county has this name (other than `except`).
pub async fn name_taken(
    conn: &mut AnyConnection,
    county: &str,
    name: &str,
    except: &str,
) -> Result<bool, AssessmentError> {
    let row =
        sqlx::query("SELECT id FROM assessment_units WHERE county_code = $1 AND name = $2 AND id <> $3")
            .bind(county.to_string())
            .bind(name.to_string())
            .bind(except.to_string())
            .fetch_optional(conn)
            .await?;
    Ok(row.is_some())
}

pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<UnitRow>, AssessmentError> {
    let sql = format!("SELECT {COLUMNS} FROM assessment_units WHERE id = $1");
    let Some(row) = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut *conn).await? else {
        return Ok(None);
    };
    Ok(with_subjects(conn, vec![from_row(&row)?]).await?.pop())
}

/// The county's units after `after` (by id), at most `limit`.
pub async fn list(
    conn: &mut AnyConnection,
    county: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<UnitRow>, AssessmentError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM assessment_units WHERE county_code = $1 AND id > $2 ORDER BY id LIMIT $3"
    );
    let rows = sqlx::query(&sql)
        .bind(county.to_string())
        .bind(after.to_string())
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    let units = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    with_subjects(conn, units).await
}

/// Every unit of the county (a county has tens).
pub async fn all(conn: &mut AnyConnection, county: &str) -> Result<Vec<UnitRow>, AssessmentError> {
    list(conn, county, "", i64::MAX).await
}

/// The unit a token subject acts for, if any.
pub async fn unit_of_subject(
    conn: &mut AnyConnection,
    subject: &str,
) -> Result<Option<String>, AssessmentError> {
    let row = sqlx::query("SELECT unit_id FROM assessment_unit_subjects WHERE subject = $1")
        .bind(subject.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}
