//! SQL of reserves (后备力量) and their pipeline history. Same portable subset as the
//! rest of the store.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use cadre_kit::db::{Db, like_prefix};

use cadre_kit::sql::Sql;

use super::staffing::Area;
use super::{decode_tags, encode_tags};

/// A reserve as stored: ID number encrypted and blind-indexed, tags as ",n,m,".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveRow {
    pub id: String,
    pub region_code: String,
    pub name: String,
    pub id_number_enc: String,
    pub id_number_index: String,
    pub birth_date: String,
    pub sex: i64,
    pub source: i64,
    pub political_status: i64,
    pub education: i64,
    pub full_time_education: bool,
    pub tags: Vec<i32>,
    pub stage: i64,
    pub stage_date: String,
    /// Empty until appointed with a cadre record.
    pub cadre_id: String,
    pub revision: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, region_code, name, id_number_enc, id_number_index, birth_date, sex, source, \
     political_status, education, full_time_education, tags, stage, stage_date, cadre_id, revision, created_at, updated_at";

fn reserve_row(r: &AnyRow) -> Result<ReserveRow, sqlx::Error> {
    let tags: String = r.try_get(11)?;
    Ok(ReserveRow {
        id: r.try_get(0)?,
        region_code: r.try_get(1)?,
        name: r.try_get(2)?,
        id_number_enc: r.try_get(3)?,
        id_number_index: r.try_get(4)?,
        birth_date: r.try_get(5)?,
        sex: r.try_get(6)?,
        source: r.try_get(7)?,
        political_status: r.try_get(8)?,
        education: r.try_get(9)?,
        full_time_education: r.try_get::<i64, _>(10)? != 0,
        tags: decode_tags(&tags),
        stage: r.try_get(12)?,
        stage_date: r.try_get(13)?,
        cadre_id: r.try_get(14)?,
        revision: r.try_get(15)?,
        created_at: r.try_get(16)?,
        updated_at: r.try_get(17)?,
    })
}

pub async fn insert_reserve(conn: &mut AnyConnection, r: &ReserveRow) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO roster_reserves ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
         $14, $15, $16, $17, $18)"
    );
    sqlx::query(&sql)
        .bind(r.id.clone())
        .bind(r.region_code.clone())
        .bind(r.name.clone())
        .bind(r.id_number_enc.clone())
        .bind(r.id_number_index.clone())
        .bind(r.birth_date.clone())
        .bind(r.sex)
        .bind(r.source)
        .bind(r.political_status)
        .bind(r.education)
        .bind(i64::from(r.full_time_education))
        .bind(encode_tags(&r.tags))
        .bind(r.stage)
        .bind(r.stage_date.clone())
        .bind(r.cadre_id.clone())
        .bind(r.revision)
        .bind(r.created_at)
        .bind(r.updated_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Moves a reserve to `stage` if its stored revision is still `expected`; false if it moved.
pub async fn update_stage(
    conn: &mut AnyConnection,
    id: &str,
    stage: i64,
    stage_date: &str,
    cadre_id: &str,
    expected: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE roster_reserves SET stage = $2, stage_date = $3, cadre_id = $4, revision = revision + 1, \
         updated_at = $5 WHERE id = $1 AND revision = $6",
    )
    .bind(id.to_string())
    .bind(stage)
    .bind(stage_date.to_string())
    .bind(cadre_id.to_string())
    .bind(now)
    .bind(expected)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get_reserve(conn: &mut AnyConnection, id: &str) -> Result<Option<ReserveRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM roster_reserves WHERE id = $1");
    sqlx::query(&sql).bind(id.to_string()).fetch_optional(conn).await?.as_ref().map(reserve_row).transpose()
}

pub async fn find_reserve_by_index(
    conn: &mut AnyConnection,
    index: &str,
) -> Result<Option<ReserveRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM roster_reserves WHERE id_number_index = $1");
    sqlx::query(&sql)
        .bind(index.to_string())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(reserve_row)
        .transpose()
}

#[derive(Debug, Clone, Default)]
pub struct ReserveFilter {
    pub region_prefix: String,
    pub stage: Option<i64>,
    pub source: Option<i64>,
}

pub async fn list_reserves(
    db: &Db,
    f: &ReserveFilter,
    after: &str,
    limit: i64,
) -> Result<Vec<ReserveRow>, sqlx::Error> {
    let mut s = Sql::new(format!("SELECT {COLUMNS} FROM roster_reserves WHERE region_code LIKE "));
    s.bind(like_prefix(&f.region_prefix)).push(" ESCAPE '\\' AND id > ").bind(after);
    if let Some(stage) = f.stage {
        s.push(" AND stage = ").bind(stage);
    }
    if let Some(source) = f.source {
        s.push(" AND source = ").bind(source);
    }
    s.push(" ORDER BY id LIMIT ").bind(limit);
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter().map(reserve_row).collect()
}

/// Every reserve of villages under a prefix (for ranking: one village).
pub async fn reserves_under(db: &Db, prefix: &str) -> Result<Vec<ReserveRow>, sqlx::Error> {
    let sql =
        format!("SELECT {COLUMNS} FROM roster_reserves WHERE region_code LIKE $1 ESCAPE '\\' ORDER BY id");
    let rows = sqlx::query(&sql).bind(like_prefix(prefix)).fetch_all(db.pool()).await?;
    rows.iter().map(reserve_row).collect()
}

/// One step of a reserve's pipeline as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageRow {
    pub reserve_id: String,
    pub region_code: String,
    pub seq: i64,
    pub stage: i64,
    pub stage_date: String,
    pub note: String,
    pub actor: String,
}

pub async fn insert_stage(conn: &mut AnyConnection, s: &StageRow, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO roster_reserve_stages (reserve_id, seq, stage, stage_date, note, actor, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(s.reserve_id.clone())
    .bind(s.seq)
    .bind(s.stage)
    .bind(s.stage_date.clone())
    .bind(s.note.clone())
    .bind(s.actor.clone())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

const STAGE_SELECT: &str = "SELECT s.reserve_id, r.region_code, s.seq, s.stage, s.stage_date, s.note, s.actor \
     FROM roster_reserve_stages s JOIN roster_reserves r ON r.id = s.reserve_id";

fn stage_row(r: &AnyRow) -> Result<StageRow, sqlx::Error> {
    Ok(StageRow {
        reserve_id: r.try_get(0)?,
        region_code: r.try_get(1)?,
        seq: r.try_get(2)?,
        stage: r.try_get(3)?,
        stage_date: r.try_get(4)?,
        note: r.try_get(5)?,
        actor: r.try_get(6)?,
    })
}

/// One reserve's steps, oldest first.
pub async fn stages_of(conn: &mut AnyConnection, reserve_id: &str) -> Result<Vec<StageRow>, sqlx::Error> {
    let sql = format!("{STAGE_SELECT} WHERE s.reserve_id = $1 ORDER BY s.seq");
    let rows = sqlx::query(&sql).bind(reserve_id.to_string()).fetch_all(conn).await?;
    rows.iter().map(stage_row).collect()
}

/// Steps dated on or before `day` of every reserve in `area`, by reserve then order:
/// the last of each reserve is its stage on that day.
pub async fn stages_in(db: &Db, area: Area<'_>, day: &str) -> Result<Vec<StageRow>, sqlx::Error> {
    let mut s = Sql::new(format!("{STAGE_SELECT} WHERE "));
    area.push(&mut s, "r.region_code").push(" AND s.stage_date <= ").bind(day);
    s.push(" ORDER BY s.reserve_id, s.seq");
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter().map(stage_row).collect()
}
