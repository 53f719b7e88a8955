//! Assessment's copy of the roster (written only by the follower of the roster's feed):
//! villages with their name and type (and townships with their name, in the same table
//! with no type), and who holds each village's Party secretary post
//! now. Never an ID number or a phone.

use cadre_kit::db::like_prefix;
use cadre_kit::sql::Sql;
use sqlx::{AnyConnection, Row};

use crate::error::AssessmentError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiedVillage {
    pub code: String,
    pub name: String,
    pub village_type: String,
    pub revision: i64,
}

pub async fn put_village(conn: &mut AnyConnection, v: &CopiedVillage) -> Result<(), AssessmentError> {
    remove_village(conn, &v.code).await?;
    sqlx::query(
        "INSERT INTO assessment_roster_villages (code, name, village_type, revision) VALUES ($1, $2, $3, $4)",
    )
    .bind(v.code.clone())
    .bind(v.name.clone())
    .bind(v.village_type.clone())
    .bind(v.revision)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn remove_village(conn: &mut AnyConnection, code: &str) -> Result<(), AssessmentError> {
    sqlx::query("DELETE FROM assessment_roster_villages WHERE code = $1")
        .bind(code.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Replaces the secretaries of `villages` with `holders` (village, cadre id, name).
pub async fn put_secretaries(
    conn: &mut AnyConnection,
    villages: &[String],
    holders: &[(String, String, String)],
) -> Result<(), AssessmentError> {
    for chunk in villages.chunks(500) {
        let mut s = Sql::new("DELETE FROM assessment_roster_secretaries WHERE village_code IN (");
        s.bind_list(chunk).push(")");
        s.query().execute(&mut *conn).await?;
    }
    for (village, cadre, name) in holders {
        sqlx::query(
            "INSERT INTO assessment_roster_secretaries (village_code, cadre_id, name) VALUES ($1, $2, $3)",
        )
        .bind(village.clone())
        .bind(cadre.clone())
        .bind(name.clone())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A village under a county as the copy has it now, with its secretary (the first by
/// name when there are two; empty when the post is vacant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VillageNow {
    pub code: String,
    pub name: String,
    pub village_type: String,
    pub secretary_id: String,
    pub secretary_name: String,
}

pub async fn villages_under(
    conn: &mut AnyConnection,
    prefix: &str,
) -> Result<Vec<VillageNow>, AssessmentError> {
    let rows = sqlx::query(
        "SELECT v.code, v.name, v.village_type, s.cadre_id, s.name FROM assessment_roster_villages v \
         LEFT JOIN assessment_roster_secretaries s ON s.village_code = v.code \
         WHERE v.code LIKE $1 ESCAPE '\\' AND v.code NOT LIKE '%000' ORDER BY v.code, s.name, s.cadre_id",
    )
    .bind(like_prefix(prefix))
    .fetch_all(conn)
    .await?;
    let mut out: Vec<VillageNow> = Vec::new();
    for r in rows {
        let code: String = r.try_get(0)?;
        if out.last().is_some_and(|v| v.code == code) {
            continue;
        }
        let secretary_id: Option<String> = r.try_get(3)?;
        let secretary_name: Option<String> = r.try_get(4)?;
        out.push(VillageNow {
            code,
            name: r.try_get(1)?,
            village_type: r.try_get(2)?,
            secretary_id: secretary_id.unwrap_or_default(),
            secretary_name: secretary_name.unwrap_or_default(),
        });
    }
    Ok(out)
}

/// The townships under `prefix` the copy knows: (code, name), by code.
pub async fn townships_under(
    conn: &mut AnyConnection,
    prefix: &str,
) -> Result<Vec<(String, String)>, AssessmentError> {
    let rows = sqlx::query(
        "SELECT code, name FROM assessment_roster_villages WHERE code LIKE $1 ESCAPE '\\' AND code LIKE '%000' \
         AND code NOT LIKE '%000000' ORDER BY code",
    )
    .bind(like_prefix(prefix))
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}
