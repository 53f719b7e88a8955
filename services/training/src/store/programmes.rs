//! Programmes, their tiers (places taken only by the statement that checks them),
//! milestones, members and the milestones members have done.

use cadre_kit::db::{Db, like_prefix};
use cadre_kit::sql::Sql;
use cadre_proto::training::v1::ProgrammeKind;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{decode_enum, join, split};
use crate::error::TrainingError;

#[derive(Debug, Clone, PartialEq)]
pub struct ProgrammeRow {
    pub id: String,
    pub region_code: String,
    pub name: String,
    pub kind: ProgrammeKind,
    pub start_date: String,
    pub end_date: String,
    pub max_age: i64,
    pub age_on: String,
    pub post_kinds: Vec<i32>,
    pub min_education: i64,
    pub revision: i64,
}

const COLUMNS: &str =
    "id, region_code, name, kind, start_date, end_date, max_age, age_on, post_kinds, min_education, revision";

fn programme(r: &AnyRow) -> Result<ProgrammeRow, TrainingError> {
    let id: String = r.try_get(0)?;
    let kinds: String = r.try_get(8)?;
    Ok(ProgrammeRow {
        region_code: r.try_get(1)?,
        name: r.try_get(2)?,
        kind: decode_enum("training_programmes.kind", &id, r.try_get(3)?)?,
        start_date: r.try_get(4)?,
        end_date: r.try_get(5)?,
        max_age: r.try_get(6)?,
        age_on: r.try_get(7)?,
        post_kinds: split(&kinds).iter().filter_map(|k| k.parse().ok()).collect(),
        min_education: r.try_get(9)?,
        revision: r.try_get(10)?,
        id,
    })
}

pub async fn insert(conn: &mut AnyConnection, p: &ProgrammeRow, now: i64) -> Result<(), TrainingError> {
    sqlx::query(&format!(
        "INSERT INTO training_programmes ({COLUMNS}, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    ))
    .bind(p.id.clone())
    .bind(p.region_code.clone())
    .bind(p.name.clone())
    .bind(p.kind as i64)
    .bind(p.start_date.clone())
    .bind(p.end_date.clone())
    .bind(p.max_age)
    .bind(p.age_on.clone())
    .bind(join(&p.post_kinds))
    .bind(p.min_education)
    .bind(p.revision)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<ProgrammeRow>, TrainingError> {
    let sql = format!("SELECT {COLUMNS} FROM training_programmes WHERE id = $1");
    sqlx::query(&sql).bind(id.to_string()).fetch_optional(conn).await?.as_ref().map(programme).transpose()
}

pub async fn list(
    db: &Db,
    prefix: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<ProgrammeRow>, TrainingError> {
    let mut s = Sql::new(format!("SELECT {COLUMNS} FROM training_programmes WHERE region_code LIKE "));
    s.bind(like_prefix(prefix))
        .push(" ESCAPE '\\' AND id > ")
        .bind(after)
        .push(" ORDER BY id LIMIT ")
        .bind(limit);
    s.query().fetch_all(db.pool()).await?.iter().map(programme).collect()
}

/// A tier: (name, places, taken), in order.
pub type TierRow = (String, i64, i64);

pub async fn insert_tier(
    conn: &mut AnyConnection,
    programme_id: &str,
    seq: i64,
    name: &str,
    places: i64,
) -> Result<(), TrainingError> {
    sqlx::query(
        "INSERT INTO training_programme_tiers (programme_id, seq, name, places, taken) VALUES ($1, $2, $3, $4, 0)",
    )
    .bind(programme_id.to_string())
    .bind(seq)
    .bind(name.to_string())
    .bind(places)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn tiers(conn: &mut AnyConnection, programme_id: &str) -> Result<Vec<TierRow>, TrainingError> {
    let rows = sqlx::query(
        "SELECT name, places, taken FROM training_programme_tiers WHERE programme_id = $1 ORDER BY seq",
    )
    .bind(programme_id.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
}

/// Takes a place of the tier if one is free, in the one statement that checks it.
pub async fn take_place(
    conn: &mut AnyConnection,
    programme_id: &str,
    tier: &str,
) -> Result<bool, TrainingError> {
    let done = sqlx::query(
        "UPDATE training_programme_tiers SET taken = taken + 1 WHERE programme_id = $1 AND name = $2 AND taken < places",
    )
    .bind(programme_id.to_string())
    .bind(tier.to_string())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A milestone: (id, name, due date), in order.
pub type MilestoneRow = (String, String, String);

pub async fn insert_milestone(
    conn: &mut AnyConnection,
    programme_id: &str,
    seq: i64,
    m: &MilestoneRow,
) -> Result<(), TrainingError> {
    sqlx::query(
        "INSERT INTO training_programme_milestones (id, programme_id, seq, name, due_date) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(m.0.clone())
    .bind(programme_id.to_string())
    .bind(seq)
    .bind(m.1.clone())
    .bind(m.2.clone())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn milestones(
    conn: &mut AnyConnection,
    programme_id: &str,
) -> Result<Vec<MilestoneRow>, TrainingError> {
    let rows = sqlx::query(
        "SELECT id, name, due_date FROM training_programme_milestones WHERE programme_id = $1 ORDER BY seq",
    )
    .bind(programme_id.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct MemberRow {
    pub programme_id: String,
    pub cadre_id: String,
    pub name: String,
    pub region_code: String,
    pub tier: String,
}

fn member(r: &AnyRow) -> Result<MemberRow, TrainingError> {
    Ok(MemberRow {
        programme_id: r.try_get(0)?,
        cadre_id: r.try_get(1)?,
        name: r.try_get(2)?,
        region_code: r.try_get(3)?,
        tier: r.try_get(4)?,
    })
}

const MEMBER_COLUMNS: &str = "programme_id, cadre_id, name, region_code, tier";

pub async fn insert_member(conn: &mut AnyConnection, m: &MemberRow, now: i64) -> Result<(), TrainingError> {
    sqlx::query(&format!(
        "INSERT INTO training_programme_members ({MEMBER_COLUMNS}, joined_at) VALUES ($1, $2, $3, $4, $5, $6)"
    ))
    .bind(m.programme_id.clone())
    .bind(m.cadre_id.clone())
    .bind(m.name.clone())
    .bind(m.region_code.clone())
    .bind(m.tier.clone())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get_member(
    conn: &mut AnyConnection,
    programme_id: &str,
    cadre_id: &str,
) -> Result<Option<MemberRow>, TrainingError> {
    let sql = format!(
        "SELECT {MEMBER_COLUMNS} FROM training_programme_members WHERE programme_id = $1 AND cadre_id = $2"
    );
    sqlx::query(&sql)
        .bind(programme_id.to_string())
        .bind(cadre_id.to_string())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(member)
        .transpose()
}

pub async fn members(conn: &mut AnyConnection, programme_id: &str) -> Result<Vec<MemberRow>, TrainingError> {
    let sql = format!(
        "SELECT {MEMBER_COLUMNS} FROM training_programme_members WHERE programme_id = $1 ORDER BY region_code, name, cadre_id"
    );
    let rows = sqlx::query(&sql).bind(programme_id.to_string()).fetch_all(conn).await?;
    rows.iter().map(member).collect()
}

/// (cadre id, milestone id) of every milestone done in the programme.
pub async fn done(
    conn: &mut AnyConnection,
    programme_id: &str,
) -> Result<Vec<(String, String)>, TrainingError> {
    let rows =
        sqlx::query("SELECT cadre_id, milestone_id FROM training_programme_done WHERE programme_id = $1")
            .bind(programme_id.to_string())
            .fetch_all(conn)
            .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

/// Marks a milestone done (or not) for a member.
pub async fn set_done(
    conn: &mut AnyConnection,
    programme_id: &str,
    milestone_id: &str,
    cadre_id: &str,
    done: bool,
    now: i64,
) -> Result<(), TrainingError> {
    sqlx::query("DELETE FROM training_programme_done WHERE milestone_id = $1 AND cadre_id = $2")
        .bind(milestone_id.to_string())
        .bind(cadre_id.to_string())
        .execute(&mut *conn)
        .await?;
    if done {
        sqlx::query(
            "INSERT INTO training_programme_done (milestone_id, programme_id, cadre_id, done_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(milestone_id.to_string())
        .bind(programme_id.to_string())
        .bind(cadre_id.to_string())
        .bind(now)
        .execute(conn)
        .await?;
    }
    Ok(())
}
