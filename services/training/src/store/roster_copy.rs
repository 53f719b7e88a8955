//! Training's copy of the roster (written only by the follower of the roster's feed):
//! cadres with their name, village, birth month, education and the posts they hold now,
//! and region names. Never an ID number or a phone.

use cadre_kit::db::like_prefix;
use cadre_kit::sql::Sql;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{join, split};
use crate::error::TrainingError;

/// A cadre as training keeps them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiedCadre {
    pub id: String,
    pub region_code: String,
    pub name: String,
    /// "YYYY-MM", or empty when the roster gave no birth date.
    pub birth_month: String,
    /// The roster's Education number.
    pub education: i64,
    /// Posts held now: (post id, the roster's PostKind number).
    pub posts: Vec<(String, i32)>,
    pub revision: i64,
}

impl CopiedCadre {
    /// The kinds of post held now, each once, in ascending order.
    pub fn post_kinds(&self) -> Vec<i32> {
        let mut kinds: Vec<i32> = self.posts.iter().map(|(_, k)| *k).collect();
        kinds.sort_unstable();
        kinds.dedup();
        kinds
    }
}

/// Replaces a cadre (and the posts they hold now).
pub async fn put_cadre(conn: &mut AnyConnection, c: &CopiedCadre, now: i64) -> Result<(), TrainingError> {
    remove_cadre(conn, &c.id).await?;
    let kinds = c.post_kinds();
    let kinds = if kinds.is_empty() { String::new() } else { format!(",{},", join(kinds)) };
    sqlx::query(
        "INSERT INTO training_roster_cadres (id, region_code, name, birth_month, education, post_kinds, revision, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(c.id.clone())
    .bind(c.region_code.clone())
    .bind(c.name.clone())
    .bind(c.birth_month.clone())
    .bind(c.education)
    .bind(kinds)
    .bind(c.revision)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    for (post, kind) in &c.posts {
        sqlx::query("INSERT INTO training_roster_posts (id, cadre_id, kind) VALUES ($1, $2, $3)")
            .bind(post.clone())
            .bind(c.id.clone())
            .bind(i64::from(*kind))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Forgets a cadre (gone from the roster, or out of training's jurisdiction).
pub async fn remove_cadre(conn: &mut AnyConnection, id: &str) -> Result<(), TrainingError> {
    sqlx::query("DELETE FROM training_roster_posts WHERE cadre_id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM training_roster_cadres WHERE id = $1")
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Who holds these posts, as far as the copy knows: (post id, cadre id).
pub async fn holders(
    conn: &mut AnyConnection,
    post_ids: &[String],
) -> Result<Vec<(String, String)>, TrainingError> {
    let mut out = Vec::new();
    for chunk in post_ids.chunks(500) {
        let mut s = Sql::new("SELECT id, cadre_id FROM training_roster_posts WHERE id IN (");
        s.bind_list(chunk).push(")");
        for r in s.query().fetch_all(&mut *conn).await? {
            out.push((r.try_get(0)?, r.try_get(1)?));
        }
    }
    Ok(out)
}

pub async fn put_region(
    conn: &mut AnyConnection,
    code: &str,
    name: &str,
    revision: i64,
) -> Result<(), TrainingError> {
    sqlx::query("DELETE FROM training_roster_regions WHERE code = $1")
        .bind(code.to_string())
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO training_roster_regions (code, name, revision) VALUES ($1, $2, $3)")
        .bind(code.to_string())
        .bind(name.to_string())
        .bind(revision)
        .execute(conn)
        .await?;
    Ok(())
}

/// A copied cadre as lists read them: the post kinds held now, empty when none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trainee {
    pub id: String,
    pub region_code: String,
    pub name: String,
    pub post_kinds: Vec<i32>,
}

const TRAINEE_COLUMNS: &str = "id, region_code, name, post_kinds";

fn trainee(r: &AnyRow) -> Result<Trainee, TrainingError> {
    let kinds: String = r.try_get(3)?;
    Ok(Trainee {
        id: r.try_get(0)?,
        region_code: r.try_get(1)?,
        name: r.try_get(2)?,
        post_kinds: split(&kinds).iter().filter_map(|k| k.parse().ok()).collect(),
    })
}

/// Cadres under `prefix` holding a post now, by village then name.
pub async fn serving_under(conn: &mut AnyConnection, prefix: &str) -> Result<Vec<Trainee>, TrainingError> {
    let rows = sqlx::query(&format!(
        "SELECT {TRAINEE_COLUMNS} FROM training_roster_cadres WHERE region_code LIKE $1 ESCAPE '\\' \
         AND post_kinds <> '' ORDER BY region_code, name, id"
    ))
    .bind(like_prefix(prefix))
    .fetch_all(conn)
    .await?;
    rows.iter().map(trainee).collect()
}

/// These cadres as the copy has them (unknown ids are absent).
pub async fn trainees(conn: &mut AnyConnection, ids: &[String]) -> Result<Vec<Trainee>, TrainingError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let mut s = Sql::new(format!("SELECT {TRAINEE_COLUMNS} FROM training_roster_cadres WHERE id IN ("));
        s.bind_list(chunk).push(")");
        for r in s.query().fetch_all(&mut *conn).await? {
            out.push(trainee(&r)?);
        }
    }
    Ok(out)
}

/// A cadre as eligibility rules read them: (region, name, birth month, education, post kinds).
pub async fn profile(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<(String, String, String, i64, Vec<i32>)>, TrainingError> {
    let row = sqlx::query(
        "SELECT region_code, name, birth_month, education, post_kinds FROM training_roster_cadres WHERE id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        let kinds: String = r.try_get(4)?;
        Ok((
            r.try_get(0)?,
            r.try_get(1)?,
            r.try_get(2)?,
            r.try_get(3)?,
            split(&kinds).iter().filter_map(|k| k.parse().ok()).collect(),
        ))
    })
    .transpose()
}

/// How many cadres the copy holds (0 until the follower's first pages are applied).
pub async fn size(conn: &mut AnyConnection) -> Result<i64, TrainingError> {
    Ok(sqlx::query("SELECT COUNT(*) FROM training_roster_cadres").fetch_one(conn).await?.try_get(0)?)
}

/// Names of these regions, as far as the copy knows them.
pub async fn region_names(
    conn: &mut AnyConnection,
    codes: &[String],
) -> Result<std::collections::HashMap<String, String>, TrainingError> {
    let mut out = std::collections::HashMap::new();
    for chunk in codes.chunks(500) {
        let mut s = Sql::new("SELECT code, name FROM training_roster_regions WHERE code IN (");
        s.bind_list(chunk).push(")");
        for r in s.query().fetch_all(&mut *conn).await? {
            out.insert(r.try_get(0)?, r.try_get(1)?);
        }
    }
    Ok(out)
}
