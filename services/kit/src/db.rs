//! The database: one code path for SQLite (embedded default, a file per service, WAL)
//! and PostgreSQL, through sqlx's `Any` driver and a portable SQL subset; embedded
//! migrations; and [`WriteTx`], the one way services open a write transaction.
//!
//! Portable subset, kept by every store: `$1` placeholders, BIGINT for every integer
//! (decoded as i64), TEXT for strings, dates as 'YYYY-MM-DD' text, instants as BIGINT
//! microseconds since the epoch, flags as BIGINT 0/1, no SUM/AVG without a CAST.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use sqlx::AnyConnection;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{MigrateError, Migration as SqlxMigration, MigrationSource, MigrationType, Migrator};
use sqlx::{Any, AnyPool, Executor, Row, Transaction};
use thiserror::Error;

use crate::config::DatabaseSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }
}

#[derive(Debug, Error)]
pub enum DbError {
    #[error("database URL must start with sqlite:, postgres:// or postgresql://")]
    UnknownScheme,
    #[error("could not create the data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("could not connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("no database at {path}: nothing to open (it is not created here)")]
    Missing { path: String },
    #[error("migration failed: {0}")]
    Migrate(#[from] MigrateError),
}

/// One embedded migration of a service: `include_str!`-ed SQL with its version.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub description: &'static str,
    pub sql: &'static str,
}

/// The kit's own tables (audit chain, idempotency); versions below 1000 are the kit's,
/// services use date-like versions (e.g. 2026112301).
pub const KIT_MIGRATIONS: &[Migration] = &[
    Migration { version: 1, description: "kit", sql: include_str!("../migrations/0001_kit.sql") },
    Migration { version: 2, description: "kit changes", sql: include_str!("../migrations/0002_changes.sql") },
    Migration {
        version: 3,
        description: "kit feed moves and followers",
        sql: include_str!("../migrations/0003_feed_moves_and_followers.sql"),
    },
];

#[derive(Debug)]
struct Embedded(Vec<Migration>);

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(self) -> BoxFuture<'s, Result<Vec<SqlxMigration>, sqlx::error::BoxDynError>> {
        Box::pin(async move {
            Ok(self
                .0
                .into_iter()
                .map(|m| {
                    SqlxMigration::new(
                        m.version,
                        Cow::Borrowed(m.description),
                        MigrationType::Simple,
                        Cow::Borrowed(m.sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// A service's database handle: a pool plus which backend it is.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// PostgreSQL: native connections for what the `Any` driver cannot do (`COPY`, for
    /// bulk inserts: see [`crate::bulk`]); opened on first use, at most two.
    native: Option<crate::bulk::Native>,
    /// Woken after a transaction that wrote change-feed rows commits (in this process;
    /// watchers also poll, for writes by other replicas).
    changed: Arc<tokio::sync::Notify>,
}

impl Db {
    /// Connects (creating a SQLite file and its directory when needed).
    pub async fn connect(url: &SecretString, settings: &DatabaseSettings) -> Result<Self, DbError> {
        Self::connect_with(url, settings, true).await
    }

    /// Connects to a database that must already exist: a missing SQLite file is
    /// [`DbError::Missing`] naming its path, and is not created (what a check such as
    /// `cadre audit verify` needs: no database, no verdict).
    pub async fn connect_existing(url: &SecretString, settings: &DatabaseSettings) -> Result<Self, DbError> {
        Self::connect_with(url, settings, false).await
    }

    async fn connect_with(
        url: &SecretString,
        settings: &DatabaseSettings,
        create: bool,
    ) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let url = url.expose_secret();
        let backend = Backend::of_url(url).ok_or(DbError::UnknownScheme)?;
        let native = match backend {
            Backend::Postgres => Some(crate::bulk::Native::new(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(2)
                    .acquire_timeout(Duration::from_secs(settings.acquire_timeout_secs))
                    .connect_lazy(url)
                    .map_err(DbError::Connect)?,
            )),
            Backend::Sqlite => None,
        };
        let mut url = url.to_string();
        if backend == Backend::Sqlite {
            let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or_default().to_string();
            let path = path.as_str();
            if !create {
                if path != ":memory:" && !Path::new(path).is_file() {
                    return Err(DbError::Missing { path: path.to_string() });
                }
                if !url.contains('?') {
                    url.push_str("?mode=rw");
                }
            }
            if path != ":memory:"
                && let Some(dir) = Path::new(path).parent()
                && !dir.as_os_str().is_empty()
                && create
            {
                std::fs::create_dir_all(dir)
                    .map_err(|source| DbError::DataDir { path: dir.display().to_string(), source })?;
            }
            if !url.contains('?') {
                url.push_str("?mode=rwc");
            }
        }
        let synchronous = settings.sqlite_synchronous.pragma();
        let pool = AnyPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(Duration::from_secs(settings.acquire_timeout_secs))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the one writer; busy_timeout makes
                        // writers queue instead of failing; foreign keys are off by default.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        // NORMAL by default (`database.sqlite_synchronous`): see README,
                        // "Durability".
                        conn.execute(synchronous).await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(DbError::Connect)?;
        Ok(Self { pool, backend, native, changed: Arc::default() })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The same for every clone of this handle, different for any other (another
    /// connection to the same database included): what in-process state is keyed by.
    pub(crate) fn identity(&self) -> usize {
        Arc::as_ptr(&self.changed) as usize
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies the kit's migrations and then the service's, once each.
    pub async fn migrate(&self, service: &[Migration]) -> Result<(), DbError> {
        let all: Vec<Migration> = KIT_MIGRATIONS.iter().chain(service.iter()).copied().collect();
        let migrator = Migrator::new(Embedded(all)).await?;
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// Resolves after the next local commit that recorded changes.
    pub(crate) fn changed(&self) -> Arc<tokio::sync::Notify> {
        self.changed.clone()
    }

    /// Whether the database answers within two seconds (health checks).
    pub async fn ping(&self) -> bool {
        let probe = sqlx::query("SELECT 1").execute(&self.pool);
        matches!(tokio::time::timeout(Duration::from_secs(2), probe).await, Ok(Ok(_)))
    }

    /// Opens a write transaction holding the audit chain's head (see [`WriteTx`]).
    pub async fn write(&self) -> Result<WriteTx, sqlx::Error> {
        // SQLite: take the write lock up front, so a transaction that reads first
        // never fails with SQLITE_BUSY when it later writes; the busy timeout queues it.
        let mut tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        // Locks the chain row until commit (a no-op update is a row lock on PostgreSQL).
        let row = sqlx::query(
            "UPDATE kit_chain SET last_sequence = last_sequence WHERE id = 1 \
             RETURNING last_sequence, last_hash, last_change",
        )
        .fetch_one(&mut *tx)
        .await?;
        Ok(WriteTx {
            tx,
            last_sequence: row.try_get(0)?,
            last_hash: row.try_get(1)?,
            last_change: row.try_get(2)?,
            changes_recorded: false,
            changed: self.changed.clone(),
            backend: self.backend,
            scratch: crate::bulk::ScratchTables::new(self.native.clone()),
            savepoints: 0,
            appended: false,
            now: Utc::now(),
        })
    }

    /// Closes the pools (graceful shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
        if let Some(native) = &self.native {
            native.close().await;
        }
    }
}

/// A write transaction. Every mutation in every service runs in one: it holds the
/// head of the audit chain, so audit entries (and change-feed rows) appended in it get
/// consecutive sequences in commit order. Dropped without `commit`, it rolls back.
pub struct WriteTx {
    tx: Transaction<'static, Any>,
    pub(crate) last_sequence: i64,
    pub(crate) last_hash: String,
    pub(crate) last_change: i64,
    changes_recorded: bool,
    changed: Arc<tokio::sync::Notify>,
    backend: Backend,
    pub(crate) scratch: crate::bulk::ScratchTables,
    savepoints: u32,
    pub(crate) appended: bool,
    now: DateTime<Utc>,
}

impl WriteTx {
    /// The connection for store queries.
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// The instant of this transaction: every row it writes carries the same time.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The sequence the next audit entry gets.
    pub fn next_sequence(&mut self) -> i64 {
        self.last_sequence += 1;
        self.appended = true;
        self.last_sequence
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The position the next change-feed row gets.
    pub fn next_change(&mut self) -> i64 {
        self.last_change += 1;
        self.appended = true;
        self.changes_recorded = true;
        self.last_change
    }

    /// The sequence of the audit entry appended last in this transaction.
    pub fn current_sequence(&self) -> i64 {
        self.last_sequence
    }

    /// A point this transaction can return to without ending ([`Self::rollback_to`]):
    /// an import that refuses its file after storing part of it keeps only what it
    /// wrote before (its idempotency record comes after).
    pub async fn savepoint(&mut self) -> Result<Savepoint, sqlx::Error> {
        self.savepoints += 1;
        let name = format!("kit_savepoint_{}", self.savepoints);
        sqlx::query(&format!("SAVEPOINT {name}")).execute(&mut *self.tx).await?;
        Ok(Savepoint {
            name,
            last_sequence: self.last_sequence,
            last_hash: self.last_hash.clone(),
            last_change: self.last_change,
            changes_recorded: self.changes_recorded,
            appended: self.appended,
        })
    }

    /// Undoes everything since `point`, audit entries and change-feed rows included.
    pub async fn rollback_to(&mut self, point: Savepoint) -> Result<(), sqlx::Error> {
        sqlx::query(&format!("ROLLBACK TO SAVEPOINT {}", point.name)).execute(&mut *self.tx).await?;
        self.last_sequence = point.last_sequence;
        self.last_hash = point.last_hash;
        self.last_change = point.last_change;
        self.changes_recorded = point.changes_recorded;
        self.appended = point.appended;
        self.scratch.rolled_back();
        Ok(())
    }

    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        if self.appended {
            sqlx::query(
                "UPDATE kit_chain SET last_sequence = $1, last_hash = $2, last_change = $3 WHERE id = 1",
            )
            .bind(self.last_sequence)
            .bind(self.last_hash.clone())
            .bind(self.last_change)
            .execute(&mut *self.tx)
            .await?;
        }
        self.tx.commit().await?;
        self.scratch.committed();
        if self.changes_recorded {
            self.changed.notify_waiters();
        }
        Ok(())
    }
}

/// A point in a [`WriteTx`] to return to, with the chain head as it was there.
#[derive(Debug)]
pub struct Savepoint {
    name: String,
    last_sequence: i64,
    last_hash: String,
    last_change: i64,
    changes_recorded: bool,
    appended: bool,
}

/// Microseconds since the epoch, the stored form of an instant.
pub fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// `LIKE` pattern for "starts with", with the wildcards in `prefix` escaped.
pub fn like_prefix(prefix: &str) -> String {
    format!("{}%", escape_like(prefix))
}

/// `LIKE` pattern for "contains".
pub fn like_contains(part: &str) -> String {
    format!("%{}%", escape_like(part))
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SqliteSynchronous;
    use crate::testing::TestDb;

    #[tokio::test]
    async fn sqlite_runs_in_wal_with_the_configured_synchronous_setting() {
        let dir = tempfile::tempdir().unwrap();
        let url = SecretString::from(format!("sqlite://{}", dir.path().join("s.db").display()));
        for (setting, expected) in [(SqliteSynchronous::Normal, 1_i64), (SqliteSynchronous::Full, 2)] {
            let settings = DatabaseSettings { sqlite_synchronous: setting, ..DatabaseSettings::default() };
            let db = Db::connect(&url, &settings).await.unwrap();
            let mode: String =
                sqlx::query("PRAGMA journal_mode").fetch_one(db.pool()).await.unwrap().try_get(0).unwrap();
            let sync: i64 =
                sqlx::query("PRAGMA synchronous").fetch_one(db.pool()).await.unwrap().try_get(0).unwrap();
            assert_eq!((mode.as_str(), sync), ("wal", expected), "{setting:?}");
        }
    }

    #[tokio::test]
    async fn numbered_placeholders_bind_by_number_on_every_backend() {
        for db in TestDb::all(&[]).await {
            let row = sqlx::query("SELECT $2 || '-' || $1 AS s, CAST($3 AS BIGINT) AS n")
                .bind("a")
                .bind("b")
                .bind(7_i64)
                .fetch_one(db.pool())
                .await
                .unwrap();
            let s: String = row.try_get("s").unwrap();
            let n: i64 = row.try_get("n").unwrap();
            assert_eq!((s.as_str(), n), ("b-a", 7), "{:?}", db.backend());
        }
    }

    #[tokio::test]
    async fn a_write_transaction_dropped_without_commit_leaves_nothing() {
        for db in TestDb::all(&[]).await {
            let mut tx = db.write().await.unwrap();
            let seq = tx.next_sequence();
            assert_eq!(seq, 1);
            sqlx::query("INSERT INTO kit_idempotency VALUES ('a', 'k', 'm', 'h', 'r', 0)")
                .execute(tx.conn())
                .await
                .unwrap();
            drop(tx);
            let n: i64 = sqlx::query("SELECT COUNT(*) FROM kit_idempotency")
                .fetch_one(db.pool())
                .await
                .unwrap()
                .try_get(0)
                .unwrap();
            assert_eq!(n, 0);
            let tx = db.write().await.unwrap();
            assert_eq!(tx.last_sequence, 0, "the chain head did not move");
        }
    }

    #[tokio::test]
    async fn rolling_back_to_a_savepoint_undoes_rows_and_the_chain_head_but_keeps_what_came_before() {
        for db in TestDb::all(&[]).await {
            let mut tx = db.write().await.unwrap();
            let insert = |key: &'static str| {
                sqlx::query("INSERT INTO kit_idempotency VALUES ('a', $1, 'm', 'h', 'r', 0)").bind(key)
            };
            insert("kept").execute(tx.conn()).await.unwrap();
            let point = tx.savepoint().await.unwrap();
            insert("undone").execute(tx.conn()).await.unwrap();
            assert_eq!((tx.next_sequence(), tx.next_change()), (1, 1));
            tx.rollback_to(point).await.unwrap();
            assert_eq!((tx.current_sequence(), tx.next_change()), (0, 1), "{:?}", db.backend());
            tx.commit().await.unwrap();
            let keys: Vec<String> = sqlx::query_scalar("SELECT idempotency_key FROM kit_idempotency")
                .fetch_all(db.pool())
                .await
                .unwrap();
            assert_eq!(keys, ["kept"]);
            let tx = db.write().await.unwrap();
            assert_eq!(tx.last_change, 1, "the change position taken after the rollback was committed");
        }
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_prefix("1505_"), "1505\\_%");
        assert_eq!(like_contains("50%"), "%50\\%%");
    }
}
