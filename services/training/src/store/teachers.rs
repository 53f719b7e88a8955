//! The teacher pool's rows.

use cadre_kit::db::{Db, like_prefix};
use cadre_kit::sql::Sql;
use cadre_proto::training::v1 as pb;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{decode_enum, join, split};
use crate::error::TrainingError;

#[derive(Debug, Clone, PartialEq)]
pub struct TeacherRow {
    pub id: String,
    pub name: String,
    pub kind: pb::TeacherKind,
    pub cadre_id: String,
    pub affiliation: String,
    pub expertise: Vec<pb::Topic>,
    pub home_region_code: String,
    pub serves: Vec<String>,
    pub rating_sum: i64,
    pub rating_count: i64,
    pub active: bool,
    pub revision: i64,
}

const COLUMNS: &str = "id, name, kind, cadre_id, affiliation, expertise, home_region_code, serves, rating_sum, \
                       rating_count, active, revision";

fn from_row(r: &AnyRow) -> Result<TeacherRow, TrainingError> {
    let id: String = r.try_get(0)?;
    let expertise = split(&r.try_get::<String, _>(5)?)
        .iter()
        .map(|t| {
            let n: i64 = t.parse().map_err(|_| TrainingError::Corrupt {
                column: "training_teachers.expertise",
                row: id.clone(),
                value: t.clone(),
            })?;
            decode_enum("training_teachers.expertise", &id, n)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TeacherRow {
        name: r.try_get(1)?,
        kind: decode_enum("training_teachers.kind", &id, r.try_get(2)?)?,
        cadre_id: r.try_get(3)?,
        affiliation: r.try_get(4)?,
        expertise,
        home_region_code: r.try_get(6)?,
        serves: split(&r.try_get::<String, _>(7)?),
        rating_sum: r.try_get(8)?,
        rating_count: r.try_get(9)?,
        active: r.try_get::<i64, _>(10)? != 0,
        revision: r.try_get(11)?,
        id,
    })
}

pub async fn insert(conn: &mut AnyConnection, t: &TeacherRow, now: i64) -> Result<(), TrainingError> {
    sqlx::query(
        "INSERT INTO training_teachers (id, name, kind, cadre_id, affiliation, expertise, home_region_code, serves, \
         rating_sum, rating_count, active, revision, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(t.id.clone())
    .bind(t.name.clone())
    .bind(t.kind as i64)
    .bind(t.cadre_id.clone())
    .bind(t.affiliation.clone())
    .bind(join(t.expertise.iter().map(|e| *e as i32)))
    .bind(t.home_region_code.clone())
    .bind(join(&t.serves))
    .bind(t.rating_sum)
    .bind(t.rating_count)
    .bind(i64::from(t.active))
    .bind(t.revision)
    .bind(now)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes `t` at `t.revision` if the stored revision is still `expected`.
pub async fn update(
    conn: &mut AnyConnection,
    t: &TeacherRow,
    expected: i64,
    now: i64,
) -> Result<bool, TrainingError> {
    let done = sqlx::query(
        "UPDATE training_teachers SET name = $2, affiliation = $3, expertise = $4, serves = $5, active = $6, \
         revision = $7, updated_at = $8 WHERE id = $1 AND revision = $9",
    )
    .bind(t.id.clone())
    .bind(t.name.clone())
    .bind(t.affiliation.clone())
    .bind(join(t.expertise.iter().map(|e| *e as i32)))
    .bind(join(&t.serves))
    .bind(i64::from(t.active))
    .bind(t.revision)
    .bind(now)
    .bind(expected)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<TeacherRow>, TrainingError> {
    let sql = format!("SELECT {COLUMNS} FROM training_teachers WHERE id = $1");
    sqlx::query(&sql).bind(id.to_string()).fetch_optional(conn).await?.as_ref().map(from_row).transpose()
}

pub async fn find_by_cadre(
    conn: &mut AnyConnection,
    cadre_id: &str,
) -> Result<Option<TeacherRow>, TrainingError> {
    let sql = format!("SELECT {COLUMNS} FROM training_teachers WHERE cadre_id = $1");
    sqlx::query(&sql)
        .bind(cadre_id.to_string())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

#[derive(Debug, Clone, Default)]
pub struct TeacherFilter {
    /// Kept under this prefix.
    pub home_prefix: String,
    pub topic: Option<pb::Topic>,
    pub include_inactive: bool,
}

pub async fn list(
    db: &Db,
    f: &TeacherFilter,
    after: &str,
    limit: i64,
) -> Result<Vec<TeacherRow>, TrainingError> {
    let mut s = Sql::new(format!("SELECT {COLUMNS} FROM training_teachers WHERE home_region_code LIKE "));
    s.bind(like_prefix(&f.home_prefix)).push(" ESCAPE '\\' AND id > ").bind(after);
    if !f.include_inactive {
        s.push(" AND active = 1");
    }
    if let Some(topic) = f.topic {
        // Expertise is a comma list: match the number as a whole item.
        s.push(" AND (',' || expertise || ',') LIKE ").bind(format!("%,{},%", topic as i32));
    }
    s.push(" ORDER BY id LIMIT ").bind(limit);
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter().map(from_row).collect()
}

/// Active teachers kept by any of `keepers` (a region and its ancestors): who may be
/// suggested for an order in that region.
pub async fn active_kept_by(db: &Db, keepers: &[String]) -> Result<Vec<TeacherRow>, TrainingError> {
    if keepers.is_empty() {
        return Ok(Vec::new());
    }
    let mut s = Sql::new(format!(
        "SELECT {COLUMNS} FROM training_teachers WHERE active = 1 AND home_region_code IN ("
    ));
    s.bind_list(keepers).push(") ORDER BY id");
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter().map(from_row).collect()
}

/// The teachers with these ids (any order).
pub async fn get_many(conn: &mut AnyConnection, ids: &[String]) -> Result<Vec<TeacherRow>, TrainingError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut s = Sql::new(format!("SELECT {COLUMNS} FROM training_teachers WHERE id IN ("));
    s.bind_list(ids).push(")");
    let rows = s.query().fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

/// Moves a teacher's rating by an answer given (`count` 1) or revised (`count` 0): the
/// rating is output only, so the teacher's revision stays as it was.
pub async fn add_rating(
    conn: &mut AnyConnection,
    id: &str,
    sum: i64,
    count: i64,
) -> Result<(), TrainingError> {
    sqlx::query("UPDATE training_teachers SET rating_sum = rating_sum + $2, rating_count = rating_count + $3 WHERE id = $1")
        .bind(id.to_string())
        .bind(sum)
        .bind(count)
        .execute(conn)
        .await?;
    Ok(())
}
