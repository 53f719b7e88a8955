//! Pools' rows and their ledger. The balance moves only through [`draw`] (a conditional
//! update: never below zero, whatever runs at the same time) and [`put_back`], each in
//! the transaction that writes the matching ledger entry.

use cadre_kit::db::{Db, like_prefix};
use cadre_kit::sql::Sql;
use cadre_proto::incentive::v1 as pb;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::decode_enum;
use crate::domain::ledger::{self, Books};
use crate::error::IncentiveError;

#[derive(Debug, Clone, PartialEq)]
pub struct PoolRow {
    pub id: String,
    pub region_code: String,
    pub year: i32,
    pub name: String,
    pub budget_fen: i64,
    pub balance_fen: i64,
    pub revision: i64,
}

const COLUMNS: &str = "id, region_code, year, name, budget_fen, balance_fen, revision";

fn from_row(r: &AnyRow) -> Result<PoolRow, IncentiveError> {
    Ok(PoolRow {
        id: r.try_get(0)?,
        region_code: r.try_get(1)?,
        year: r.try_get::<i64, _>(2)? as i32,
        name: r.try_get(3)?,
        budget_fen: r.try_get(4)?,
        balance_fen: r.try_get(5)?,
        revision: r.try_get(6)?,
    })
}

pub async fn insert(conn: &mut AnyConnection, p: &PoolRow, now: i64) -> Result<(), IncentiveError> {
    sqlx::query(
        "INSERT INTO incentive_pools (id, region_code, year, name, budget_fen, balance_fen, revision, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(p.id.clone())
    .bind(p.region_code.clone())
    .bind(i64::from(p.year))
    .bind(p.name.clone())
    .bind(p.budget_fen)
    .bind(p.balance_fen)
    .bind(p.revision)
    .bind(now)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<PoolRow>, IncentiveError> {
    let sql = format!("SELECT {COLUMNS} FROM incentive_pools WHERE id = $1");
    sqlx::query(&sql).bind(id.to_string()).fetch_optional(conn).await?.as_ref().map(from_row).transpose()
}

pub async fn list(
    db: &Db,
    prefix: &str,
    year: i32,
    after: &str,
    limit: i64,
) -> Result<Vec<PoolRow>, IncentiveError> {
    let mut s = Sql::new(format!("SELECT {COLUMNS} FROM incentive_pools WHERE region_code LIKE "));
    s.bind(like_prefix(prefix)).push(" ESCAPE '\\' AND id > ").bind(after);
    if year != 0 {
        s.push(" AND year = ").bind(i64::from(year));
    }
    s.push(" ORDER BY id LIMIT ").bind(limit);
    let rows = s.query().fetch_all(db.pool()).await?;
    rows.iter().map(from_row).collect()
}

/// A read-only transaction that sees one snapshot for all its statements (SQLite's
/// transactions do; PostgreSQL's need REPEATABLE READ): reconciliation reads the pool,
/// its postings and its awards as of one instant, never between two commits.
pub async fn snapshot(db: &Db) -> Result<sqlx::Transaction<'static, sqlx::Any>, IncentiveError> {
    let mut tx = db.pool().begin().await?;
    if db.backend() == cadre_kit::db::Backend::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
    }
    Ok(tx)
}

/// Takes `amount` from the pool if its balance covers it; `false` (nothing changed) if not.
pub async fn draw(
    conn: &mut AnyConnection,
    pool_id: &str,
    amount: i64,
    now: i64,
) -> Result<bool, IncentiveError> {
    let done = sqlx::query(
        "UPDATE incentive_pools SET balance_fen = balance_fen - $2, revision = revision + 1, updated_at = $3 \
         WHERE id = $1 AND balance_fen >= $2",
    )
    .bind(pool_id.to_string())
    .bind(amount)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Returns `amount` to the pool (an approved award cancelled).
pub async fn put_back(
    conn: &mut AnyConnection,
    pool_id: &str,
    amount: i64,
    now: i64,
) -> Result<(), IncentiveError> {
    sqlx::query(
        "UPDATE incentive_pools SET balance_fen = balance_fen + $2, revision = revision + 1, updated_at = $3 WHERE id = $1",
    )
    .bind(pool_id.to_string())
    .bind(amount)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Appends one entry (its two postings). A second APPROVE, PAY or RELEASE of the same
/// award violates `incentive_ledger_once`: the caller's transaction fails whole.
pub async fn append(
    conn: &mut AnyConnection,
    pool_id: &str,
    award_id: &str,
    kind: pb::EntryKind,
    amount: i64,
    now: i64,
) -> Result<String, IncentiveError> {
    let entry_id = uuid::Uuid::now_v7().to_string();
    for (line, (account, fen)) in ledger::postings(kind, amount).into_iter().enumerate() {
        sqlx::query(
            "INSERT INTO incentive_ledger (entry_id, line, pool_id, award_id, kind, account, amount_fen, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(entry_id.clone())
        .bind(line as i64 + 1)
        .bind(pool_id.to_string())
        .bind(award_id.to_string())
        .bind(kind as i64)
        .bind(account as i64)
        .bind(fen)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(entry_id)
}

#[derive(Debug, Clone, PartialEq)]
pub struct EntryRow {
    pub id: String,
    pub pool_id: String,
    pub award_id: String,
    pub kind: pb::EntryKind,
    pub from: pb::Account,
    pub to: pb::Account,
    pub amount_fen: i64,
    pub recorded_at: i64,
}

/// A pool's entries in order, each with both postings read back.
pub async fn entries(
    db: &Db,
    pool_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<EntryRow>, IncentiveError> {
    let rows = sqlx::query(
        "SELECT a.entry_id, a.award_id, a.kind, a.account, b.account, b.amount_fen, a.recorded_at \
         FROM incentive_ledger a JOIN incentive_ledger b ON b.entry_id = a.entry_id AND b.line = 2 \
         WHERE a.pool_id = $1 AND a.line = 1 AND a.entry_id > $2 ORDER BY a.entry_id LIMIT $3",
    )
    .bind(pool_id.to_string())
    .bind(after.to_string())
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let id: String = r.try_get(0)?;
            Ok(EntryRow {
                pool_id: pool_id.to_string(),
                award_id: r.try_get(1)?,
                kind: decode_enum("incentive_ledger.kind", &id, r.try_get(2)?)?,
                from: decode_enum("incentive_ledger.account", &id, r.try_get(3)?)?,
                to: decode_enum("incentive_ledger.account", &id, r.try_get(4)?)?,
                amount_fen: r.try_get(5)?,
                recorded_at: r.try_get(6)?,
                id,
            })
        })
        .collect()
}

/// The pool's books as stored: postings summed per account, awards summed per state.
pub async fn books(conn: &mut AnyConnection, pool: &PoolRow) -> Result<(Books, i64), IncentiveError> {
    let rows = sqlx::query(
        "SELECT account, CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT), CAST(COUNT(*) AS BIGINT) \
         FROM incentive_ledger WHERE pool_id = $1 GROUP BY account",
    )
    .bind(pool.id.clone())
    .fetch_all(&mut *conn)
    .await?;
    let mut b =
        Books { budget_fen: pool.budget_fen, pool_balance_fen: pool.balance_fen, ..Default::default() };
    let mut postings = 0;
    for r in &rows {
        let account: pb::Account = decode_enum("incentive_ledger.account", &pool.id, r.try_get(0)?)?;
        let sum: i64 = r.try_get(1)?;
        postings += r.try_get::<i64, _>(2)?;
        match account {
            pb::Account::Budget => b.budget_account = sum,
            pb::Account::Pool => b.pool_account = sum,
            pb::Account::Payable => b.payable_account = sum,
            pb::Account::Paid => b.paid_account = sum,
            pb::Account::Unspecified => {
                return Err(IncentiveError::Corrupt {
                    column: "incentive_ledger.account",
                    row: pool.id.clone(),
                    value: "0".into(),
                });
            }
        }
    }
    let awards = sqlx::query(
        "SELECT state, CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM incentive_awards \
         WHERE pool_id = $1 AND state IN ($2, $3) GROUP BY state",
    )
    .bind(pool.id.clone())
    .bind(pb::AwardState::Approved as i64)
    .bind(pb::AwardState::Paid as i64)
    .fetch_all(&mut *conn)
    .await?;
    for r in &awards {
        let (state, sum): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
        if state == pb::AwardState::Approved as i64 {
            b.approved_awards_fen = sum;
        } else {
            b.paid_awards_fen = sum;
        }
    }
    Ok((b, postings / 2))
}
