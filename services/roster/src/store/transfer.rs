//! SQL of roster import and export: the lookups an import is checked against, and
//! the reads an export makes (an import writes through `insert_cadres`/`insert_posts`,
//! as single creations do).

use std::collections::{HashMap, HashSet};

use sqlx::{AnyConnection, Row};

use cadre_kit::db::{Db, like_prefix};

use cadre_kit::sql::Sql;

use super::{
    CadreRow, POST_COLUMNS, POST_FROM, PostRow, VILLAGES_UNDER, bind_villages_under, cadre_columns,
    cadre_row, held_on, post_row,
};
use crate::domain::posts::HeldPost;
use crate::error::RosterError;

/// Codes of the villages under `prefix`.
pub async fn village_codes(conn: &mut AnyConnection, prefix: &str) -> Result<HashSet<String>, sqlx::Error> {
    let sql = format!("SELECT code {VILLAGES_UNDER}");
    let rows = bind_villages_under(sqlx::query(&sql), prefix).fetch_all(conn).await?;
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
) -> Result<Vec<HeldPost>, RosterError> {
    let sql = format!(
        "SELECT {POST_COLUMNS} {POST_FROM} WHERE p.region_code LIKE $1 ESCAPE '\\' AND p.kind IN ({})",
        (0..kinds.len()).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(", ")
    );
    let mut q = sqlx::query(&sql).bind(like_prefix(prefix));
    for k in kinds {
        q = q.bind(*k);
    }
    let rows = q.fetch_all(conn).await?;
    rows.iter().map(|r| post_row(r)?.held()).collect()
}

/// Every cadre under `prefix`, in region then id order (exports).
pub async fn cadres_under(db: &Db, prefix: &str) -> Result<Vec<CadreRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {} FROM roster_cadres WHERE region_code LIKE $1 ESCAPE '\\' ORDER BY region_code, id",
        cadre_columns()
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
