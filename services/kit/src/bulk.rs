//! Bulk inserts: many rows into one table inside a write transaction, the one way
//! services write large batches (an import's cadres and posts, its change-feed rows).
//!
//! Small batches, and every batch on SQLite, go as multi-row `VALUES` lists sized to the
//! backend's bind limit. Large batches on PostgreSQL are staged: the rows are `COPY`-ed
//! over a native connection into an unlogged scratch table, then moved into place by
//! one `INSERT … SELECT` inside the caller's transaction, so they commit or roll back
//! with everything else it wrote. sqlx's `Any` connection cannot `COPY`, and binding
//! every value costs PostgreSQL more than parsing them from `COPY` text (measured by
//! benches/import.rs).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::TryStreamExt;

use crate::db::{Backend, WriteTx};
use crate::sql::AnyQuery;

/// How a column's values travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Text,
    BigInt,
}

impl Type {
    fn sql(self) -> &'static str {
        match self {
            Type::Text => "TEXT",
            Type::BigInt => "BIGINT",
        }
    }
}

/// A column every row gives its own value for.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub ty: Type,
}

impl Column {
    pub const fn text(name: &'static str) -> Self {
        Self { name, ty: Type::Text }
    }

    pub const fn bigint(name: &'static str) -> Self {
        Self { name, ty: Type::BigInt }
    }
}

/// One value of a row. A text column takes `Text` or `Null`; a BIGINT column `BigInt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell<'a> {
    Text(&'a str),
    Null,
    BigInt(i64),
}

impl<'a> From<&'a str> for Cell<'a> {
    fn from(v: &'a str) -> Self {
        Cell::Text(v)
    }
}

impl<'a> From<&'a String> for Cell<'a> {
    fn from(v: &'a String) -> Self {
        Cell::Text(v)
    }
}

impl<'a> From<Option<&'a str>> for Cell<'a> {
    fn from(v: Option<&'a str>) -> Self {
        v.map_or(Cell::Null, Cell::Text)
    }
}

impl From<i64> for Cell<'_> {
    fn from(v: i64) -> Self {
        Cell::BigInt(v)
    }
}

impl From<bool> for Cell<'_> {
    fn from(v: bool) -> Self {
        Cell::BigInt(i64::from(v))
    }
}

/// A table to insert into: the columns each row fills, then the columns whose value is
/// the same for every row of the call (the transaction's instant, an operation), bound
/// once per statement.
#[derive(Debug, Clone, Copy)]
pub struct Table<'a, const N: usize> {
    pub name: &'a str,
    pub columns: &'a [Column; N],
    pub shared: &'a [(&'a str, Cell<'a>)],
}

/// From this many rows PostgreSQL batches are staged through `COPY`.
pub const STAGE_FROM_ROWS: usize = 2_000;
/// Binds per `VALUES` statement, far below each backend's limit (PostgreSQL 65,535;
/// SQLite 32,766): sqlx looks each argument up among the statement's parameters, so a
/// statement's cost grows with the square of its binds; past a few hundred (SQLite) or
/// thousand (PostgreSQL), more rows per statement cost more than the round trips they
/// save (measured by benches/import.rs).
fn binds_per_statement(backend: Backend) -> usize {
    match backend {
        Backend::Postgres => 2_000,
        Backend::Sqlite => 500,
    }
}
/// Scratch tables older than this are leftovers of a process that died mid-import.
const STAGE_LEFTOVER_AGE: Duration = Duration::from_secs(3600);
const STAGE_PREFIX: &str = "kit_stage_";

/// Inserts `rows` into `table` in the transaction, `cells` giving each row's values in
/// column order; returns the rows written.
pub async fn insert<'r, T, const N: usize>(
    tx: &mut WriteTx,
    table: &Table<'_, N>,
    rows: &'r [T],
    cells: impl Fn(&'r T) -> [Cell<'r>; N],
) -> Result<u64, sqlx::Error> {
    if rows.len() >= STAGE_FROM_ROWS
        && let Some(native) = tx.scratch.native.clone()
    {
        match stage(&native, table, rows, &cells).await {
            Ok(scratch) => return move_staged(tx, table, scratch).await,
            // A role without CREATE on the schema can still insert: slower, same rows.
            Err(e) => {
                tracing::warn!(table = table.name, error = %e, "staging for COPY failed; inserting with VALUES")
            }
        }
    }
    insert_values(tx, table, rows, &cells).await
}

async fn insert_values<'r, T, const N: usize>(
    tx: &mut WriteTx,
    table: &Table<'_, N>,
    rows: &'r [T],
    cells: &impl Fn(&'r T) -> [Cell<'r>; N],
) -> Result<u64, sqlx::Error> {
    let room = binds_per_statement(tx.backend()).saturating_sub(table.shared.len());
    let mut written = 0;
    for chunk in rows.chunks((room / N.max(1)).max(1)) {
        let sql = values_statement(table, chunk.len());
        let mut q = sqlx::query(&sql);
        for (_, value) in table.shared {
            q = bind_cell(q, *value);
        }
        for row in chunk {
            for cell in cells(row) {
                q = bind_cell(q, cell);
            }
        }
        written += q.execute(tx.conn()).await?.rows_affected();
    }
    Ok(written)
}

fn bind_cell<'q>(q: AnyQuery<'q>, cell: Cell<'q>) -> AnyQuery<'q> {
    match cell {
        Cell::Text(s) => q.bind(s),
        Cell::Null => q.bind(None::<String>),
        Cell::BigInt(n) => q.bind(n),
    }
}

fn column_list<const N: usize>(table: &Table<'_, N>) -> String {
    let names: Vec<&str> =
        table.columns.iter().map(|c| c.name).chain(table.shared.iter().map(|(name, _)| *name)).collect();
    names.join(", ")
}

/// `INSERT INTO t (a, b, s) VALUES ($2, $3, $1), ($4, $5, $1)`: shared binds first.
fn values_statement<const N: usize>(table: &Table<'_, N>, rows: usize) -> String {
    let shared = table.shared.len();
    let mut s = format!("INSERT INTO {} ({}) VALUES ", table.name, column_list(table));
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for i in 0..N {
            if i > 0 {
                s.push_str(", ");
            }
            s.push('$');
            s.push_str(&(shared + r * N + i + 1).to_string());
        }
        for j in 0..shared {
            s.push_str(", $");
            s.push_str(&(j + 1).to_string());
        }
        s.push(')');
    }
    s
}

/// PostgreSQL's native connections, for `COPY`; and when leftovers were last swept.
#[derive(Debug, Clone)]
pub(crate) struct Native {
    pool: sqlx::PgPool,
    last_sweep: Arc<Mutex<Option<Instant>>>,
}

impl Native {
    pub(crate) fn new(pool: sqlx::PgPool) -> Self {
        Self { pool, last_sweep: Arc::default() }
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    /// Whether leftovers are due a sweep (at most once per [`STAGE_LEFTOVER_AGE`]): the
    /// sweep reads the catalogue, which an import staging many pieces need not repeat.
    fn sweep_due(&self) -> bool {
        let mut last = self.last_sweep.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let due = last.is_none_or(|t| t.elapsed() >= STAGE_LEFTOVER_AGE);
        if due {
            *last = Some(Instant::now());
        }
        due
    }
}

/// Creates a scratch table and `COPY`s the rows into it, on a native connection
/// (committed at once, so the caller's transaction sees them: it reads committed data);
/// returns the table's name.
async fn stage<'r, T, const N: usize>(
    native: &Native,
    table: &Table<'_, N>,
    rows: &'r [T],
    cells: &impl Fn(&'r T) -> [Cell<'r>; N],
) -> Result<String, sqlx::Error> {
    let mut conn = native.pool.acquire().await?;
    if native.sweep_due() {
        drop_leftovers(&mut conn).await;
    }
    let created = chrono::Utc::now().timestamp_micros();
    let name = format!("{STAGE_PREFIX}{created}_{}", uuid::Uuid::now_v7().simple());
    let columns: Vec<String> =
        table.columns.iter().enumerate().map(|(i, c)| format!("c{i} {}", c.ty.sql())).collect();
    sqlx::query(&format!("CREATE UNLOGGED TABLE {name} ({})", columns.join(", ")))
        .execute(&mut *conn)
        .await?;
    let copied = async {
        let mut sink = conn.copy_in_raw(&format!("COPY {name} FROM STDIN")).await?;
        let mut buf = String::with_capacity(1 << 20);
        for row in rows {
            push_copy_row(&mut buf, table.columns, &cells(row))?;
            if buf.len() >= 1 << 20 {
                sink.send(std::mem::take(&mut buf).into_bytes()).await?;
                buf.reserve(1 << 20);
            }
        }
        if !buf.is_empty() {
            sink.send(buf.into_bytes()).await?;
        }
        sink.finish().await
    }
    .await;
    if let Err(e) = copied {
        let _ = sqlx::query(&format!("DROP TABLE IF EXISTS {name}")).execute(&mut *conn).await;
        return Err(e);
    }
    Ok(name)
}

/// Moves the staged rows into `table` in the transaction and drops the scratch table in
/// it too, so a commit leaves nothing behind; a rollback would keep the table, which
/// is dropped once the rollback is done (see [`ScratchTables`]).
async fn move_staged<const N: usize>(
    tx: &mut WriteTx,
    table: &Table<'_, N>,
    scratch: String,
) -> Result<u64, sqlx::Error> {
    tx.scratch.names.push(scratch.clone());
    let mut select: Vec<String> = (0..N).map(|i| format!("c{i}")).collect();
    select.extend((0..table.shared.len()).map(|j| format!("${}", j + 1)));
    let sql = format!(
        "INSERT INTO {} ({}) SELECT {} FROM {}",
        table.name,
        column_list(table),
        select.join(", "),
        scratch
    );
    let mut q = sqlx::query(&sql);
    for (_, value) in table.shared {
        q = bind_cell(q, *value);
    }
    let moved = q.execute(tx.conn()).await?.rows_affected();
    sqlx::query(&format!("DROP TABLE {scratch}")).execute(tx.conn()).await?;
    Ok(moved)
}

/// The scratch tables a transaction used. They are dropped in it; if it rolls back
/// (or back to a savepoint before the drop), they are dropped after it ends, from a
/// native connection (the drop waits for the transaction to release them).
#[derive(Debug, Default)]
pub(crate) struct ScratchTables {
    native: Option<Native>,
    names: Vec<String>,
    /// A rollback to a savepoint may have undone some of the drops.
    rolled_back: bool,
}

impl ScratchTables {
    pub(crate) fn new(native: Option<Native>) -> Self {
        Self { native, names: Vec::new(), rolled_back: false }
    }

    pub(crate) fn rolled_back(&mut self) {
        self.rolled_back = true;
    }

    /// After the commit: nothing left to drop unless a rollback undid a drop.
    pub(crate) fn committed(&mut self) {
        if !self.rolled_back {
            self.names.clear();
        }
    }
}

impl Drop for ScratchTables {
    fn drop(&mut self) {
        let (Some(native), false) = (self.native.as_ref().map(|n| n.pool.clone()), self.names.is_empty())
        else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let names = std::mem::take(&mut self.names);
        runtime.spawn(async move {
            for name in names {
                if let Err(e) = sqlx::query(&format!("DROP TABLE IF EXISTS {name}")).execute(&native).await {
                    tracing::warn!(table = %name, error = %e, "could not drop a bulk insert's scratch table");
                }
            }
        });
    }
}

/// Drops scratch tables left by a process that died between staging and moving.
async fn drop_leftovers(conn: &mut sqlx::PgConnection) {
    let cutoff = chrono::Utc::now().timestamp_micros() - STAGE_LEFTOVER_AGE.as_micros() as i64;
    let names: Result<Vec<String>, sqlx::Error> =
        sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE tablename LIKE 'kit\\_stage\\_%'")
            .fetch(&mut *conn)
            .try_collect()
            .await;
    for name in names.unwrap_or_default() {
        let created =
            name.trim_start_matches(STAGE_PREFIX).split('_').next().and_then(|t| t.parse::<i64>().ok());
        if created.is_some_and(|t| t < cutoff) {
            let _ = sqlx::query(&format!("DROP TABLE IF EXISTS {name}")).execute(&mut *conn).await;
        }
    }
}

/// One row of `COPY` text: tab-separated, `\N` for NULL, backslash escapes for the
/// characters the format reserves.
fn push_copy_row<const N: usize>(
    out: &mut String,
    columns: &[Column; N],
    cells: &[Cell<'_>; N],
) -> Result<(), sqlx::Error> {
    for (i, (column, cell)) in columns.iter().zip(cells).enumerate() {
        if i > 0 {
            out.push('\t');
        }
        match (column.ty, cell) {
            (Type::Text, Cell::Text(s)) => push_copy_text(out, s),
            (Type::Text, Cell::Null) => out.push_str("\\N"),
            (Type::BigInt, Cell::BigInt(n)) => out.push_str(&n.to_string()),
            (ty, cell) => {
                return Err(sqlx::Error::Encode(
                    format!("column {}: a {cell:?} in a {ty:?} column", column.name).into(),
                ));
            }
        }
    }
    out.push('\n');
    Ok(())
}

fn push_copy_text(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(i) = rest.find(['\\', '\t', '\n', '\r']) {
        out.push_str(&rest[..i]);
        out.push_str(match rest.as_bytes()[i] {
            b'\\' => "\\\\",
            b'\t' => "\\t",
            b'\n' => "\\n",
            _ => "\\r",
        });
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;
    use sqlx::Row;

    const COLUMNS: [Column; 3] = [Column::text("a"), Column::bigint("n"), Column::text("maybe")];

    fn table<'a>(shared: &'a [(&'a str, Cell<'a>)]) -> Table<'a, 3> {
        Table { name: "bulk_test", columns: &COLUMNS, shared }
    }

    #[test]
    fn values_lists_put_the_shared_binds_first() {
        let shared = [("at", Cell::BigInt(7))];
        assert_eq!(
            values_statement(&table(&shared), 2),
            "INSERT INTO bulk_test (a, n, maybe, at) VALUES ($2, $3, $4, $1), ($5, $6, $7, $1)"
        );
    }

    #[test]
    fn copy_rows_escape_what_the_format_reserves() {
        let mut out = String::new();
        push_copy_row(
            &mut out,
            &COLUMNS,
            &[Cell::Text("tab\there\\ \r\nnext"), Cell::BigInt(-3), Cell::Null],
        )
        .unwrap();
        push_copy_row(&mut out, &COLUMNS, &[Cell::Text("\\N 奈曼旗"), Cell::BigInt(4), Cell::Text("")])
            .unwrap();
        assert_eq!(out, "tab\\there\\\\ \\r\\nnext\t-3\t\\N\n\\\\N 奈曼旗\t4\t\n");
    }

    #[test]
    fn a_value_of_the_wrong_type_is_an_error_not_a_bad_row() {
        let mut out = String::new();
        assert!(push_copy_row(&mut out, &COLUMNS, &[Cell::BigInt(1), Cell::BigInt(2), Cell::Null]).is_err());
    }

    async fn scratch_tables(db: &TestDb) -> i64 {
        sqlx::query("SELECT COUNT(*) FROM pg_tables WHERE tablename LIKE 'kit\\_stage\\_%'")
            .fetch_one(db.pool())
            .await
            .unwrap()
            .get(0)
    }

    /// Every awkward value survives both ways of inserting, on both backends.
    #[tokio::test]
    async fn rows_read_back_as_written_on_every_backend_and_batch_size() {
        let texts: Vec<String> = (0..2_500)
            .map(|i| match i % 6 {
                0 => format!("plain {i}"),
                1 => format!("quote \" and backslash \\ {i}"),
                2 => format!("{{braces, commas}} \\N NULL {i}"),
                3 => format!("巴彦塔拉苏木 {i}\n第二行\r\t"),
                4 => "\\".repeat(i % 7),
                _ => String::new(),
            })
            .collect();
        for db in TestDb::all(&[]).await {
            sqlx::query(
                "CREATE TABLE bulk_test (a TEXT NOT NULL, n BIGINT NOT NULL, maybe TEXT, at BIGINT NOT NULL)",
            )
            .execute(db.pool())
            .await
            .unwrap();
            for count in [1, 40, texts.len()] {
                sqlx::query("DELETE FROM bulk_test").execute(db.pool()).await.unwrap();
                let rows: Vec<(i64, &String)> =
                    texts[..count].iter().enumerate().map(|(i, t)| (i as i64, t)).collect();
                let shared = [("at", Cell::BigInt(42))];
                let mut tx = db.write().await.unwrap();
                let written = insert(&mut tx, &table(&shared), &rows, |(i, t)| {
                    [
                        Cell::Text(t),
                        Cell::BigInt(*i - 1000),
                        if i % 2 == 0 { Cell::Null } else { Cell::Text(t) },
                    ]
                })
                .await
                .unwrap();
                tx.commit().await.unwrap();
                assert_eq!(written, count as u64, "{:?} {count}", db.backend());
                let back = sqlx::query("SELECT a, n, maybe, at FROM bulk_test ORDER BY n")
                    .fetch_all(db.pool())
                    .await
                    .unwrap();
                assert_eq!(back.len(), count);
                for (r, (i, t)) in back.iter().zip(&rows) {
                    assert_eq!(r.get::<String, _>(0), **t, "{:?}", db.backend());
                    assert_eq!(r.get::<i64, _>(1), i - 1000);
                    let maybe: Option<String> = r.get(2);
                    assert_eq!(maybe.as_deref(), if i % 2 == 0 { None } else { Some(t.as_str()) });
                    assert_eq!(r.get::<i64, _>(3), 42);
                }
            }
        }
    }

    /// A staged batch whose transaction rolls back leaves neither rows nor scratch table.
    #[tokio::test]
    async fn a_staged_batch_rolls_back_with_its_transaction() {
        let Some(db) = TestDb::postgres(&[]).await else { return };
        sqlx::query(
            "CREATE TABLE bulk_test (a TEXT NOT NULL, n BIGINT NOT NULL, maybe TEXT, at BIGINT NOT NULL)",
        )
        .execute(db.pool())
        .await
        .unwrap();
        let rows: Vec<i64> = (0..STAGE_FROM_ROWS as i64).collect();
        let shared = [("at", Cell::BigInt(1))];
        let mut tx = db.write().await.unwrap();
        let written =
            insert(&mut tx, &table(&shared), &rows, |n| [Cell::Text("x"), Cell::BigInt(*n), Cell::Null])
                .await
                .unwrap();
        assert_eq!(written, rows.len() as u64);
        drop(tx);
        assert_eq!(
            scratch_tables_soon(&db).await,
            0,
            "the scratch table is dropped once the transaction ends"
        );
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM bulk_test").fetch_one(db.pool()).await.unwrap().get(0);
        assert_eq!(n, 0);

        // Rolled back to a savepoint and then committed: the rows are gone, and so is
        // the scratch table whose drop the rollback undid.
        let mut tx = db.write().await.unwrap();
        let point = tx.savepoint().await.unwrap();
        insert(&mut tx, &table(&shared), &rows, |n| [Cell::Text("x"), Cell::BigInt(*n), Cell::Null])
            .await
            .unwrap();
        tx.rollback_to(point).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(scratch_tables_soon(&db).await, 0);
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM bulk_test").fetch_one(db.pool()).await.unwrap().get(0);
        assert_eq!(n, 0);
    }

    /// Scratch tables left after up to five seconds (drops after a rollback run behind).
    async fn scratch_tables_soon(db: &TestDb) -> i64 {
        let mut left = i64::MAX;
        for _ in 0..50 {
            left = scratch_tables(db).await;
            if left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        left
    }
}
