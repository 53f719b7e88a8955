//! Reward rules' rows.

use cadre_kit::db::{Db, like_prefix};
use cadre_kit::sql::Sql;
use cadre_proto::incentive::v1 as pb;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::decode_enum;
use crate::error::IncentiveError;

#[derive(Debug, Clone, PartialEq)]
pub struct RuleRow {
    pub id: String,
    pub region_code: String,
    pub year: i32,
    pub name: String,
    pub trigger: pb::Trigger,
    pub tier: i32,
    pub income_threshold_fen: i64,
    pub honour: String,
    pub amount_fen: i64,
    pub payee: pb::Payee,
    pub split: pb::Split,
    pub revision: i64,
}

const COLUMNS: &str = "id, region_code, year, name, trigger_kind, tier, income_threshold_fen, honour, amount_fen, payee, split, revision";

fn from_row(r: &AnyRow) -> Result<RuleRow, IncentiveError> {
    let id: String = r.try_get(0)?;
    Ok(RuleRow {
        region_code: r.try_get(1)?,
        year: r.try_get::<i64, _>(2)? as i32,
        name: r.try_get(3)?,
        trigger: decode_enum("incentive_rules.trigger_kind", &id, r.try_get(4)?)?,
        tier: r.try_get::<i64, _>(5)? as i32,
        income_threshold_fen: r.try_get(6)?,
        honour: r.try_get(7)?,
        amount_fen: r.try_get(8)?,
        payee: decode_enum("incentive_rules.payee", &id, r.try_get(9)?)?,
        split: decode_enum("incentive_rules.split", &id, r.try_get(10)?)?,
        revision: r.try_get(11)?,
        id,
    })
}

pub async fn insert(conn: &mut AnyConnection, r: &RuleRow, now: i64) -> Result<(), IncentiveError> {
    sqlx::query(
        "INSERT INTO incentive_rules (id, region_code, year, name, trigger_kind, tier, income_threshold_fen, honour, \
         amount_fen, payee, split, revision, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(r.id.clone())
    .bind(r.region_code.clone())
    .bind(i64::from(r.year))
    .bind(r.name.clone())
    .bind(r.trigger as i64)
    .bind(i64::from(r.tier))
    .bind(r.income_threshold_fen)
    .bind(r.honour.clone())
    .bind(r.amount_fen)
    .bind(r.payee as i64)
    .bind(r.split as i64)
    .bind(r.revision)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<RuleRow>, IncentiveError> {
    let sql = format!("SELECT {COLUMNS} FROM incentive_rules WHERE id = $1");
    sqlx::query(&sql).bind(id.to_string()).fetch_optional(conn).await?.as_ref().map(from_row).transpose()
}

/// Rules kept under `prefix` or by one of `ancestors` (exact codes), of `year` (0: any).
pub async fn list(
    db: &Db,
    prefix: &str,
    ancestors: &[String],
    year: i32,
    after: &str,
    limit: i64,
) -> Result<Vec<RuleRow>, IncentiveError> {
    let mut s = Sql::new(format!("SELECT {COLUMNS} FROM incentive_rules WHERE (region_code LIKE "));
    s.bind(like_prefix(prefix)).push(" ESCAPE '\\'");
    if !ancestors.is_empty() {
        s.push(" OR region_code IN (").bind_list(ancestors).push(")");
    }
    s.push(") AND id > ").bind(after);
    if year != 0 {
        s.push(" AND year = ").bind(i64::from(year));
    }
    s.push(" ORDER BY id LIMIT ").bind(limit);
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter().map(from_row).collect()
}
