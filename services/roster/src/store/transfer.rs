//! SQL of roster import and export: the lookups an import is checked against, and
//! batched multi-row INSERTs of cadres, posts and their change-feed rows, sized to
//! each backend's bind-parameter limit (PostgreSQL 65,535; SQLite 32,766).

use std::collections::{HashMap, HashSet};

use sqlx::{AnyConnection, Row};

use cadre_kit::bulk;
use cadre_kit::db::{Backend, Db, like_prefix};

use cadre_kit::sql::Sql;

use super::{CADRE_COLUMNS, CadreRow, POST_COLUMNS, POST_FROM, PostRow, cadre_row, held_on, post_row};
use crate::domain::posts::HeldPost;

/// Codes of the villages under `prefix`.
pub async fn village_codes(conn: &mut AnyConnection, prefix: &str) -> Result<HashSet<String>, sqlx::Error> {
    let rows = sqlx::query("SELECT code FROM roster_regions WHERE level = $1 AND code LIKE $2 ESCAPE '\\'")
        .bind(crate::domain::region::level_to_proto(cadre_kit::RegionLevel::Village) as i64)
        .bind(like_prefix(prefix))
        .fetch_all(conn)
        .await?;
    rows.iter().map(|r| r.try_get(0)).collect()
}

/// Which of these blind indexes are stored already: index → region code of the cadre.
pub async fn existing_indexes(
    conn: &mut AnyConnection,
    indexes: &[&str],
) -> Result<HashMap<String, String>, sqlx::Error> {
    let mut found = HashMap::new();
    for chunk in indexes.chunks(1000) {
        let sql = format!(
            "SELECT id_number_index, region_code FROM roster_cadres WHERE id_number_index IN ({})",
            (1..=chunk.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
        );
        let mut q = sqlx::query(&sql);
        for i in chunk {
            q = q.bind(i.to_string());
        }
        for r in q.fetch_all(&mut *conn).await? {
            found.insert(r.try_get(0)?, r.try_get(1)?);
        }
    }
    Ok(found)
}

/// Posts of the given kinds under `prefix`, ended or not (the seat rules read both).
pub async fn posts_of_kinds_under(
    conn: &mut AnyConnection,
    prefix: &str,
    kinds: &[i64],
) -> Result<Vec<HeldPost>, sqlx::Error> {
    let sql = format!(
        "SELECT {POST_COLUMNS} {POST_FROM} WHERE p.region_code LIKE $1 ESCAPE '\\' AND p.kind IN ({})",
        (0..kinds.len()).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(", ")
    );
    let mut q = sqlx::query(&sql).bind(like_prefix(prefix));
    for k in kinds {
        q = q.bind(*k);
    }
    let rows = q.fetch_all(conn).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        if let Some(held) = post_row(r)?.held() {
            out.push(held);
        }
    }
    Ok(out)
}

const CADRE_FIELDS: usize = 16;

pub async fn insert_cadres(
    conn: &mut AnyConnection,
    backend: Backend,
    cadres: &[CadreRow],
) -> Result<(), sqlx::Error> {
    for chunk in cadres.chunks(bulk::rows_per_statement(backend, CADRE_FIELDS, 2000)) {
        let sql = format!(
            "INSERT INTO roster_cadres ({CADRE_COLUMNS}) VALUES {}",
            bulk::values_placeholders(chunk.len(), CADRE_FIELDS)
        );
        let mut q = sqlx::query(&sql);
        for c in chunk {
            q = super::bind_cadre(q, c).bind(c.created_at).bind(c.updated_at);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

const POST_INSERT_COLUMNS: &str = "id, cadre_id, region_code, kind, term, start_date, end_date, end_reason, revision, created_at, updated_at";

pub async fn insert_posts(
    conn: &mut AnyConnection,
    backend: Backend,
    posts: &[PostRow],
    now: i64,
) -> Result<(), sqlx::Error> {
    use bulk::Slot::{Row, Shared};
    // The batch's instant is bound once per statement for created_at and updated_at.
    const SLOTS: [bulk::Slot; 11] = [Row, Row, Row, Row, Row, Row, Row, Row, Row, Shared(0), Shared(0)];
    for chunk in posts.chunks(bulk::rows_per_statement_shared(backend, 9, 1, 3000)) {
        let sql = format!(
            "INSERT INTO roster_posts ({POST_INSERT_COLUMNS}) VALUES {}",
            bulk::values_with_shared(chunk.len(), &SLOTS, 1)
        );
        let mut q = sqlx::query(&sql).bind(now);
        for p in chunk {
            q = q
                .bind(p.id.clone())
                .bind(p.cadre_id.clone())
                .bind(p.region_code.clone())
                .bind(p.kind)
                .bind(p.term)
                .bind(p.start_date.clone())
                .bind(p.end_date.clone())
                .bind(p.end_reason.clone())
                .bind(p.revision);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Every cadre under `prefix`, in region then id order (exports).
pub async fn cadres_under(db: &Db, prefix: &str) -> Result<Vec<CadreRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {CADRE_COLUMNS} FROM roster_cadres WHERE region_code LIKE $1 ESCAPE '\\' ORDER BY region_code, id"
    );
    let rows = sqlx::query(&sql).bind(like_prefix(prefix)).fetch_all(db.pool()).await?;
    rows.iter().map(cadre_row).collect()
}

/// Posts under `prefix` held on `day`, by cadre then kind (exports).
pub async fn posts_held_under(db: &Db, prefix: &str, day: &str) -> Result<Vec<PostRow>, sqlx::Error> {
    let mut s = Sql::new(format!("SELECT {POST_COLUMNS} {POST_FROM} WHERE p.region_code LIKE "));
    held_on(s.bind(like_prefix(prefix)).push(" ESCAPE '\\' AND"), "p", day)
        .push(" ORDER BY p.cadre_id, p.kind");
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter().map(post_row).collect()
}
