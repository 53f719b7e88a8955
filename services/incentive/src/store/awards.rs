//! Awards' rows. A move is written only if the award is still at the revision (and so
//! the state) it was read at: two callers moving the same award cannot both win.

use cadre_kit::db::{Db, like_prefix};
use cadre_kit::sql::Sql;
use cadre_proto::incentive::v1 as pb;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::decode_enum;
use crate::error::IncentiveError;

#[derive(Debug, Clone, PartialEq)]
pub struct AwardRow {
    pub id: String,
    pub pool_id: String,
    pub rule_id: String,
    pub region_code: String,
    pub year: i32,
    pub payee: pb::Payee,
    pub payee_name: String,
    /// The bank account, encrypted (kit PII cipher).
    pub account_cipher: String,
    pub cadre_id: String,
    pub on_payroll: bool,
    pub amount_fen: i64,
    pub reason: String,
    pub state: pb::AwardState,
    pub note: String,
    pub declared_by: String,
    pub reviewed_by: String,
    pub approved_by: String,
    pub paid_on: String,
    pub payment_reference: String,
    pub revision: i64,
}

const COLUMNS: &str = "id, pool_id, rule_id, region_code, year, payee, payee_name, account_cipher, cadre_id, \
                       on_payroll, amount_fen, reason, state, note, declared_by, reviewed_by, approved_by, paid_on, \
                       payment_reference, revision";

fn from_row(r: &AnyRow) -> Result<AwardRow, IncentiveError> {
    let id: String = r.try_get(0)?;
    Ok(AwardRow {
        pool_id: r.try_get(1)?,
        rule_id: r.try_get(2)?,
        region_code: r.try_get(3)?,
        year: r.try_get::<i64, _>(4)? as i32,
        payee: decode_enum("incentive_awards.payee", &id, r.try_get(5)?)?,
        payee_name: r.try_get(6)?,
        account_cipher: r.try_get(7)?,
        cadre_id: r.try_get(8)?,
        on_payroll: r.try_get::<i64, _>(9)? != 0,
        amount_fen: r.try_get(10)?,
        reason: r.try_get(11)?,
        state: decode_enum("incentive_awards.state", &id, r.try_get(12)?)?,
        note: r.try_get(13)?,
        declared_by: r.try_get(14)?,
        reviewed_by: r.try_get(15)?,
        approved_by: r.try_get(16)?,
        paid_on: r.try_get(17)?,
        payment_reference: r.try_get(18)?,
        revision: r.try_get(19)?,
        id,
    })
}

pub async fn insert(conn: &mut AnyConnection, a: &AwardRow, now: i64) -> Result<(), IncentiveError> {
    sqlx::query(&format!(
        "INSERT INTO incentive_awards ({COLUMNS}, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
         $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)"
    ))
    .bind(a.id.clone())
    .bind(a.pool_id.clone())
    .bind(a.rule_id.clone())
    .bind(a.region_code.clone())
    .bind(i64::from(a.year))
    .bind(a.payee as i64)
    .bind(a.payee_name.clone())
    .bind(a.account_cipher.clone())
    .bind(a.cadre_id.clone())
    .bind(i64::from(a.on_payroll))
    .bind(a.amount_fen)
    .bind(a.reason.clone())
    .bind(a.state as i64)
    .bind(a.note.clone())
    .bind(a.declared_by.clone())
    .bind(a.reviewed_by.clone())
    .bind(a.approved_by.clone())
    .bind(a.paid_on.clone())
    .bind(a.payment_reference.clone())
    .bind(a.revision)
    .bind(now)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<AwardRow>, IncentiveError> {
    let sql = format!("SELECT {COLUMNS} FROM incentive_awards WHERE id = $1");
    sqlx::query(&sql).bind(id.to_string()).fetch_optional(conn).await?.as_ref().map(from_row).transpose()
}

/// Writes a moved award at `a.revision` if the stored one is still `a.revision - 1`.
pub async fn save_move(conn: &mut AnyConnection, a: &AwardRow, now: i64) -> Result<bool, IncentiveError> {
    let done = sqlx::query(
        "UPDATE incentive_awards SET state = $2, note = $3, reviewed_by = $4, approved_by = $5, paid_on = $6, \
         payment_reference = $7, revision = $8, updated_at = $9 WHERE id = $1 AND revision = $10",
    )
    .bind(a.id.clone())
    .bind(a.state as i64)
    .bind(a.note.clone())
    .bind(a.reviewed_by.clone())
    .bind(a.approved_by.clone())
    .bind(a.paid_on.clone())
    .bind(a.payment_reference.clone())
    .bind(a.revision)
    .bind(now)
    .bind(a.revision - 1)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, Default)]
pub struct AwardFilter {
    pub prefix: String,
    pub pool_id: String,
    pub state: Option<pb::AwardState>,
}

pub async fn list(
    db: &Db,
    f: &AwardFilter,
    after: &str,
    limit: i64,
) -> Result<Vec<AwardRow>, IncentiveError> {
    let mut s = Sql::new(format!("SELECT {COLUMNS} FROM incentive_awards WHERE region_code LIKE "));
    s.bind(like_prefix(&f.prefix)).push(" ESCAPE '\\' AND id > ").bind(after);
    if !f.pool_id.is_empty() {
        s.push(" AND pool_id = ").bind(f.pool_id.as_str());
    }
    if let Some(state) = f.state {
        s.push(" AND state = ").bind(state as i64);
    }
    s.push(" ORDER BY id LIMIT ").bind(limit);
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter().map(from_row).collect()
}

/// The awards with these ids (any order).
pub async fn get_many(conn: &mut AnyConnection, ids: &[String]) -> Result<Vec<AwardRow>, IncentiveError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut s = Sql::new(format!("SELECT {COLUMNS} FROM incentive_awards WHERE id IN ("));
    s.bind_list(ids).push(")");
    let rows = s.query().fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}
