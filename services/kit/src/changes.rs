//! The change feed (outbox): every mutation records which records it changed, in its
//! own transaction, at gap-free positions in commit order. Readers page through it
//! (`list`) or follow it (`watch`), from any position, filtered to their jurisdiction:
//! a record that moved between regions shows in the feeds of both. Rows name the
//! record, never its content: a consumer fetches what it needs through the normal,
//! jurisdiction-checked and PII-masked API. Entities are named by the publishing
//! service's proto `Entity` enum (its value names are stored).

use std::time::Duration;

use cadre_proto::changes::v1 as cpb;
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use sqlx::Row;

use crate::bulk;
use crate::db::{Db, WriteTx, from_micros, like_prefix, to_micros};
use crate::error::ApiError;
use crate::principal::Principal;

pub use cpb::Operation;

/// The stored form of an operation, decoded strictly: a value this code does not know
/// is an error, never a default.
fn operation_stored(op: Operation) -> &'static str {
    op.as_str_name()
}

fn operation_from_stored(s: &str) -> Result<Operation, sqlx::Error> {
    match Operation::from_str_name(s) {
        Some(op) if op != Operation::Unspecified => Ok(op),
        _ => Err(sqlx::Error::Decode(format!("unknown stored change operation {s:?}").into())),
    }
}

/// What a mutation records for each record it changed.
#[derive(Debug, Clone, Copy)]
pub struct ChangeRecord<'a> {
    /// The name of a value of the service's `Entity` enum, e.g. `ENTITY_CADRE`
    /// (`pb::Entity::Cadre.as_str_name()`).
    pub entity: &'a str,
    pub key: &'a str,
    pub operation: Operation,
    /// The record's region (decides who may see the change).
    pub region_code: &'a str,
    /// The record's region before this change when the change moved it, else empty.
    pub previous_region_code: &'a str,
    /// The record's revision after the change (0 when it has none).
    pub revision: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub position: i64,
    pub recorded_at: DateTime<Utc>,
    /// The name of a value of the publishing service's `Entity` enum.
    pub entity: String,
    pub key: String,
    pub operation: Operation,
    pub region_code: String,
    pub previous_region_code: String,
    pub revision: i64,
    /// The audit entry of the mutation that made the change.
    pub audit_sequence: i64,
}

/// Records one change in the mutation's transaction; returns its position.
pub async fn record(tx: &mut WriteTx, change: ChangeRecord<'_>) -> Result<i64, sqlx::Error> {
    record_many(tx, &[change]).await?;
    Ok(tx.last_change)
}

/// Records many changes (an import's) with bulk statements, at consecutive positions.
/// Changes of one call share their instant and audit entry, and runs of changes with the
/// same entity, operation and revision share those too: each is bound once per statement.
pub async fn record_many(tx: &mut WriteTx, changes: &[ChangeRecord<'_>]) -> Result<(), sqlx::Error> {
    const COLUMNS: [bulk::Column; 4] = [
        bulk::Column::bigint("position"),
        bulk::Column::text("entity_key"),
        bulk::Column::text("region_code"),
        bulk::Column::text("previous_region_code"),
    ];
    let at = to_micros(tx.now());
    let audit_sequence = tx.current_sequence();
    let alike = |a: &ChangeRecord, b: &ChangeRecord| {
        (a.entity, a.operation, a.revision) == (b.entity, b.operation, b.revision)
    };
    for run in changes.chunk_by(alike) {
        let first = run[0];
        let positioned: Vec<(i64, &ChangeRecord)> = run.iter().map(|c| (tx.next_change(), c)).collect();
        let shared = [
            ("recorded_at", bulk::Cell::BigInt(at)),
            ("entity", bulk::Cell::Text(first.entity)),
            ("operation", bulk::Cell::Text(operation_stored(first.operation))),
            ("revision", bulk::Cell::BigInt(first.revision)),
            ("audit_sequence", bulk::Cell::BigInt(audit_sequence)),
        ];
        let table = bulk::Table { name: "kit_changes", columns: &COLUMNS, shared: &shared };
        bulk::insert(tx, &table, &positioned, |(position, c)| {
            [
                bulk::Cell::BigInt(*position),
                bulk::Cell::Text(c.key),
                bulk::Cell::Text(c.region_code),
                bulk::Cell::Text(c.previous_region_code),
            ]
        })
        .await?;
    }
    Ok(())
}

/// Up to `limit` changes after `after` whose region, before or after the change,
/// starts with `region_prefix`.
pub async fn list(db: &Db, after: i64, region_prefix: &str, limit: i64) -> Result<Vec<Change>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT position, recorded_at, entity, entity_key, operation, region_code, revision, audit_sequence, \
         previous_region_code FROM kit_changes WHERE position > $1 \
         AND (region_code LIKE $2 ESCAPE '\\' OR previous_region_code LIKE $2 ESCAPE '\\') \
         ORDER BY position LIMIT $3",
    )
    .bind(after)
    .bind(like_prefix(region_prefix))
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Change {
                position: r.try_get(0)?,
                recorded_at: from_micros(r.try_get(1)?),
                entity: r.try_get(2)?,
                key: r.try_get(3)?,
                operation: operation_from_stored(&r.try_get::<String, _>(4)?)?,
                region_code: r.try_get(5)?,
                revision: r.try_get(6)?,
                audit_sequence: r.try_get(7)?,
                previous_region_code: r.try_get(8)?,
            })
        })
        .collect()
}

/// The position of the last committed change (0 for none).
pub async fn head(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT last_change FROM kit_chain WHERE id = 1").fetch_one(db.pool()).await?.try_get(0)
}

/// How often a watcher looks for changes committed by other processes.
pub const WATCH_POLL: Duration = Duration::from_millis(500);
const WATCH_BATCH: i64 = 500;

/// Every change after `after` under `region_prefix`, then each new one as it commits,
/// until the stream is dropped. Ends with the error if the database fails.
pub fn watch(db: Db, after: i64, region_prefix: String) -> impl Stream<Item = Result<Change, sqlx::Error>> {
    let changed = db.changed();
    let state = (db, after, region_prefix, std::collections::VecDeque::<Change>::new(), false);
    futures::stream::unfold(state, move |(db, mut after, prefix, mut queue, failed)| {
        let changed = changed.clone();
        async move {
            if failed {
                return None;
            }
            loop {
                if let Some(next) = queue.pop_front() {
                    return Some((Ok(next), (db, after, prefix, queue, false)));
                }
                // Register before reading, so a commit between the read and the wait wakes us.
                let notified = changed.notified();
                match list(&db, after, &prefix, WATCH_BATCH).await {
                    Ok(batch) if !batch.is_empty() => {
                        after = batch.last().map_or(after, |c| c.position);
                        queue.extend(batch);
                    }
                    Ok(_) => {
                        let _ = tokio::time::timeout(WATCH_POLL, notified).await;
                    }
                    Err(e) => return Some((Err(e), (db, after, prefix, queue, true))),
                }
            }
        }
    })
}

const DEFAULT_PAGE: i32 = 100;
const MAX_PAGE: i32 = 1000;

/// One page of a feed.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangesPage {
    pub changes: Vec<Change>,
    pub next_after_position: i64,
    pub head_position: i64,
}

/// `ListChanges` of any service: a page of its feed within the caller's jurisdiction.
pub async fn list_for(
    db: &Db,
    principal: &Principal,
    req: &cpb::ListChangesRequest,
) -> Result<ChangesPage, ApiError> {
    let scope = principal.scope("region_code", &req.region_code)?;
    if req.after_position < 0 {
        return Err(ApiError::invalid("after_position", "must not be negative"));
    }
    let size = match req.page_size {
        0 => DEFAULT_PAGE,
        n if (1..=MAX_PAGE).contains(&n) => n,
        n => return Err(ApiError::invalid("page_size", format!("must be within 1..={MAX_PAGE}, got {n}"))),
    };
    let head = head(db).await?;
    let changes = list(db, req.after_position, scope.prefix(), i64::from(size)).await?;
    // Nothing more in this region up to the head: the next poll may start at the head.
    let next_after_position = match changes.last() {
        Some(last) => last.position,
        None => head.max(req.after_position),
    };
    Ok(ChangesPage { changes, next_after_position, head_position: head })
}

/// `WatchChanges` of any service: the stream to return, within the caller's jurisdiction.
pub fn watch_for(
    db: &Db,
    principal: &Principal,
    req: &cpb::WatchChangesRequest,
) -> Result<impl Stream<Item = Result<Change, tonic::Status>> + Send + 'static, ApiError> {
    let scope = principal.scope("region_code", &req.region_code)?;
    if req.after_position < 0 {
        return Err(ApiError::invalid("after_position", "must not be negative"));
    }
    Ok(watch(db.clone(), req.after_position, scope.prefix().to_string())
        .map(|r| r.map_err(|e| tonic::Status::from(ApiError::from(e)))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;

    async fn change(db: &Db, key: &str, region: &str) -> i64 {
        let mut tx = db.write().await.unwrap();
        let change = ChangeRecord {
            entity: "ENTITY_CADRE",
            key,
            operation: Operation::Created,
            region_code: region,
            previous_region_code: "",
            revision: 1,
        };
        let position = record(&mut tx, change).await.unwrap();
        tx.commit().await.unwrap();
        position
    }

    #[tokio::test]
    async fn positions_are_gap_free_and_rolled_back_changes_leave_no_hole() {
        for db in TestDb::all(&[]).await {
            assert_eq!(change(&db, "a", "150525100201").await, 1);
            {
                let mut tx = db.write().await.unwrap();
                let c = ChangeRecord {
                    entity: "ENTITY_CADRE",
                    key: "lost",
                    operation: Operation::Created,
                    region_code: "150525100201",
                    previous_region_code: "",
                    revision: 1,
                };
                record(&mut tx, c).await.unwrap();
                // dropped: rolled back
            }
            assert_eq!(change(&db, "b", "150526100201").await, 2);
            assert_eq!(head(&db).await.unwrap(), 2);
            let mine = list(&db, 0, "150525", 10).await.unwrap();
            assert_eq!(mine.iter().map(|c| c.key.as_str()).collect::<Vec<_>>(), ["a"]);
            assert_eq!(list(&db, 1, "15", 10).await.unwrap()[0].key, "b");
        }
    }

    #[tokio::test]
    async fn a_record_that_moves_shows_in_the_feeds_of_both_regions() {
        for db in TestDb::all(&[]).await {
            let mut tx = db.write().await.unwrap();
            let moved = ChangeRecord {
                entity: "ENTITY_CADRE",
                key: "c1",
                operation: Operation::Updated,
                region_code: "150526100201",
                previous_region_code: "150525100201",
                revision: 2,
            };
            record(&mut tx, moved).await.unwrap();
            tx.commit().await.unwrap();
            for county in ["150525", "150526"] {
                let seen = list(&db, 0, county, 10).await.unwrap();
                assert_eq!(seen.len(), 1, "{county}");
                assert_eq!(seen[0].previous_region_code, "150525100201");
            }
            assert!(list(&db, 0, "150527", 10).await.unwrap().is_empty());
        }
    }

    #[tokio::test]
    async fn an_unknown_stored_operation_is_an_error_not_a_default() {
        for db in TestDb::all(&[]).await {
            change(&db, "a", "150525100201").await;
            sqlx::query("UPDATE kit_changes SET operation = 'renamed'").execute(db.pool()).await.unwrap();
            assert!(list(&db, 0, "15", 10).await.is_err());
        }
    }

    #[tokio::test]
    async fn a_watcher_sees_the_backlog_then_new_commits_in_its_region() {
        let db = TestDb::sqlite(&[]).await;
        change(&db, "old", "150525100201").await;
        let mut stream = Box::pin(watch(db.db().clone(), 0, "150525".into()));
        assert_eq!(stream.next().await.unwrap().unwrap().key, "old");
        let writer = db.db().clone();
        tokio::spawn(async move {
            change(&writer, "elsewhere", "150526100201").await;
            change(&writer, "new", "150525100202").await;
        });
        let next =
            tokio::time::timeout(Duration::from_secs(5), stream.next()).await.unwrap().unwrap().unwrap();
        assert_eq!((next.key.as_str(), next.position), ("new", 3));
    }
}
