//! The append-only, hash-chained audit log: every mutation and every unmasked PII
//! read is an entry; each entry's hash covers its fields and the previous hash, so
//! changing, removing or reordering any entry breaks the chain, and `verify` says where.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::db::{Db, WriteTx, from_micros, to_micros};
use crate::principal::Principal;

/// What an audit entry says. `detail` is JSON and must never hold PII in clear.
#[derive(Debug, Clone)]
pub struct AuditRecord<'a> {
    pub action: &'a str,
    pub target: &'a str,
    pub region_code: &'a str,
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub sequence: i64,
    pub recorded_at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub region_code: String,
    pub detail: String,
    pub previous_hash: String,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    pub intact: bool,
    pub entries: i64,
    pub first_broken_sequence: Option<i64>,
    pub problem: Option<String>,
}

/// The hash of an entry: SHA-256 over length-prefixed fields, so no field's content
/// can shift into another's.
fn entry_hash(
    previous_hash: &str,
    sequence: i64,
    recorded_at: i64,
    actor: &str,
    action: &str,
    target: &str,
    region_code: &str,
    detail: &str,
) -> String {
    let mut h = Sha256::new();
    h.update(sequence.to_le_bytes());
    h.update(recorded_at.to_le_bytes());
    for field in [previous_hash, actor, action, target, region_code, detail] {
        h.update((field.len() as u64).to_le_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Appends an entry inside the caller's write transaction; it lands or not with it.
pub async fn append(
    tx: &mut WriteTx,
    actor: &Principal,
    record: AuditRecord<'_>,
) -> Result<i64, sqlx::Error> {
    let sequence = tx.next_sequence();
    let recorded_at = to_micros(tx.now());
    let detail = record.detail.to_string();
    let previous_hash = tx.last_hash.clone();
    let hash = entry_hash(
        &previous_hash,
        sequence,
        recorded_at,
        &actor.subject,
        record.action,
        record.target,
        record.region_code,
        &detail,
    );
    sqlx::query(
        "INSERT INTO kit_audit_log (sequence, recorded_at, actor, action, target, region_code, detail, \
         previous_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(sequence)
    .bind(recorded_at)
    .bind(actor.subject.clone())
    .bind(record.action.to_string())
    .bind(record.target.to_string())
    .bind(record.region_code.to_string())
    .bind(detail)
    .bind(previous_hash)
    .bind(hash.clone())
    .execute(tx.conn())
    .await?;
    tx.last_hash = hash;
    Ok(sequence)
}

/// Records a read of unmasked PII in a transaction of its own.
pub async fn record_pii_read(db: &Db, actor: &Principal, record: AuditRecord<'_>) -> Result<(), sqlx::Error> {
    let mut tx = db.write().await?;
    append(&mut tx, actor, record).await?;
    tx.commit().await
}

fn entry_from_row(row: &sqlx::any::AnyRow) -> Result<AuditEntry, sqlx::Error> {
    Ok(AuditEntry {
        sequence: row.try_get(0)?,
        recorded_at: from_micros(row.try_get(1)?),
        actor: row.try_get(2)?,
        action: row.try_get(3)?,
        target: row.try_get(4)?,
        region_code: row.try_get(5)?,
        detail: row.try_get(6)?,
        previous_hash: row.try_get(7)?,
        hash: row.try_get(8)?,
    })
}

const COLUMNS: &str =
    "sequence, recorded_at, actor, action, target, region_code, detail, previous_hash, hash";

/// Entries about regions starting with `region_prefix`, after `after_sequence`, oldest first.
pub async fn list(
    db: &Db,
    region_prefix: &str,
    after_sequence: i64,
    limit: i64,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM kit_audit_log WHERE region_code LIKE $1 ESCAPE '\\' AND sequence > $2 \
         ORDER BY sequence LIMIT $3"
    );
    let rows = sqlx::query(&sql)
        .bind(crate::db::like_prefix(region_prefix))
        .bind(after_sequence)
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(entry_from_row).collect()
}

/// Walks the whole chain, streaming, and reports the first break.
pub async fn verify(db: &Db) -> Result<ChainReport, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM kit_audit_log ORDER BY sequence");
    let mut rows = sqlx::query(&sql).fetch(db.pool());
    let mut expected_previous = String::new();
    let mut expected_sequence = 1_i64;
    let mut checked = 0_i64;
    let broken = |seq: i64, checked: i64, problem: String| ChainReport {
        intact: false,
        entries: checked,
        first_broken_sequence: Some(seq),
        problem: Some(problem),
    };
    while let Some(row) = rows.try_next().await? {
        let e = entry_from_row(&row)?;
        if e.sequence != expected_sequence {
            return Ok(broken(
                expected_sequence,
                checked,
                format!("entry {expected_sequence} is missing (next is {})", e.sequence),
            ));
        }
        if e.previous_hash != expected_previous {
            return Ok(broken(
                e.sequence,
                checked,
                format!("entry {} does not follow its predecessor", e.sequence),
            ));
        }
        let recomputed = entry_hash(
            &e.previous_hash,
            e.sequence,
            crate::db::to_micros(e.recorded_at),
            &e.actor,
            &e.action,
            &e.target,
            &e.region_code,
            &e.detail,
        );
        if recomputed != e.hash {
            return Ok(broken(e.sequence, checked, format!("entry {} was altered", e.sequence)));
        }
        expected_previous = e.hash;
        expected_sequence += 1;
        checked += 1;
    }
    drop(rows);
    let head = sqlx::query("SELECT last_sequence, last_hash FROM kit_chain WHERE id = 1")
        .fetch_one(db.pool())
        .await?;
    let (last_sequence, last_hash): (i64, String) = (head.try_get(0)?, head.try_get(1)?);
    if last_sequence != checked || last_hash != expected_previous {
        return Ok(broken(
            checked + 1,
            checked,
            format!("the chain head says {last_sequence} entries but {checked} remain: entries were removed"),
        ));
    }
    Ok(ChainReport { intact: true, entries: checked, first_broken_sequence: None, problem: None })
}

impl From<AuditEntry> for cadre_proto::audit::v1::AuditEntry {
    fn from(e: AuditEntry) -> Self {
        Self {
            sequence: e.sequence,
            recorded_at: Some(prost_types_timestamp(e.recorded_at)),
            actor: e.actor,
            action: e.action,
            target: e.target,
            region_code: e.region_code,
            detail: e.detail,
            previous_hash: e.previous_hash,
            hash: e.hash,
        }
    }
}

impl From<ChainReport> for cadre_proto::audit::v1::VerifyAuditChainResponse {
    fn from(r: ChainReport) -> Self {
        Self {
            intact: r.intact,
            entries: r.entries,
            first_broken_sequence: r.first_broken_sequence.unwrap_or_default(),
            problem: r.problem.unwrap_or_default(),
        }
    }
}

/// A `google.protobuf.Timestamp` for an instant.
pub fn prost_types_timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::principal::Role;
    use crate::region_code::RegionCode;
    use crate::testing::TestDb;

    fn actor() -> Principal {
        Principal {
            subject: "admin@150525".into(),
            roles: [Role::CountyAdmin].into(),
            jurisdiction: RegionCode::parse("150525000000").unwrap(),
        }
    }

    async fn write_entries(db: &Db, n: usize) {
        for i in 0..n {
            let mut tx = db.write().await.unwrap();
            let target = format!("cadre/{i}");
            append(
                &mut tx,
                &actor(),
                AuditRecord {
                    action: "CreateCadre",
                    target: &target,
                    region_code: "150525101201",
                    detail: serde_json::json!({"i": i}),
                },
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
        }
    }

    #[tokio::test]
    async fn an_untouched_chain_verifies() {
        for db in TestDb::all(&[]).await {
            write_entries(&db, 5).await;
            let report = verify(&db).await.unwrap();
            assert!(report.intact, "{report:?}");
            assert_eq!(report.entries, 5);
            assert_eq!(list(&db, "150525", 2, 10).await.unwrap().len(), 3);
            assert!(list(&db, "150526", 0, 10).await.unwrap().is_empty());
        }
    }

    #[tokio::test]
    async fn an_altered_entry_is_found() {
        for db in TestDb::all(&[]).await {
            write_entries(&db, 5).await;
            sqlx::query("UPDATE kit_audit_log SET actor = 'someone-else' WHERE sequence = 3")
                .execute(db.pool())
                .await
                .unwrap();
            let report = verify(&db).await.unwrap();
            assert!(!report.intact);
            assert_eq!(report.first_broken_sequence, Some(3));
        }
    }

    #[tokio::test]
    async fn a_removed_last_entry_is_found() {
        for db in TestDb::all(&[]).await {
            write_entries(&db, 4).await;
            sqlx::query("DELETE FROM kit_audit_log WHERE sequence = 4").execute(db.pool()).await.unwrap();
            let report = verify(&db).await.unwrap();
            assert!(!report.intact, "{report:?}");
            assert!(report.problem.unwrap().contains("removed"));
        }
    }

    #[tokio::test]
    async fn a_rolled_back_mutation_leaves_no_entry() {
        for db in TestDb::all(&[]).await {
            let mut tx = db.write().await.unwrap();
            append(
                &mut tx,
                &actor(),
                AuditRecord {
                    action: "X",
                    target: "t",
                    region_code: "150525",
                    detail: serde_json::Value::Null,
                },
            )
            .await
            .unwrap();
            drop(tx);
            write_entries(&db, 1).await;
            let report = verify(&db).await.unwrap();
            assert!(report.intact, "{report:?}");
            assert_eq!(report.entries, 1);
        }
    }
}
