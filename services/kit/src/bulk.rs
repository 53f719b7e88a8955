//! Batched statements: multi-row `INSERT … VALUES (…), (…)` and `IN (…)` lists sized
//! to each backend's bind-parameter limit (PostgreSQL 65,535; SQLite 32,766).

use crate::db::Backend;

/// Bind parameters one statement may carry.
pub fn bind_limit(backend: Backend) -> usize {
    match backend {
        Backend::Postgres => 65_535,
        Backend::Sqlite => 32_766,
    }
}

/// Rows of `columns` binds each to put in one statement (at least 1, at most `cap`).
pub fn rows_per_statement(backend: Backend, columns: usize, cap: usize) -> usize {
    // sqlx binds each argument by looking its name up among the statement's
    // parameters, so the cost of a statement grows with the square of its binds:
    // past a few hundred (SQLite) or thousand (PostgreSQL) more rows per statement
    // cost more than the round trips they save (measured by benches/import.rs).
    let sweet_spot = match backend {
        Backend::Postgres => 2_000,
        Backend::Sqlite => 500,
    };
    (sweet_spot.min(bind_limit(backend)) / columns.max(1)).clamp(1, cap.max(1))
}

/// "($1, $2, …), ($n+1, …)" for `rows` rows of `columns`.
pub fn values_placeholders(rows: usize, columns: usize) -> String {
    let mut s = String::with_capacity(rows * columns * 7);
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        s.push_str(&placeholder_list(r * columns + 1, columns));
        s.push(')');
    }
    s
}

/// Where a column of a multi-row VALUES list takes its value from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// A bind of its own in every row.
    Row,
    /// The `n`-th (0-based) of the statement's shared binds, bound once and used by every
    /// row (the same instant, operation or revision for a whole batch).
    Shared(usize),
}

/// Like [`values_placeholders`], with shared columns: the first `shared` binds are the
/// shared ones, then each row's own, in the order of the `Row` slots.
pub fn values_with_shared(rows: usize, slots: &[Slot], shared: usize) -> String {
    let per_row = slots.iter().filter(|s| **s == Slot::Row).count();
    let mut s = String::with_capacity(rows * slots.len() * 7);
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        let mut k = 0;
        for (i, slot) in slots.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            let n = match slot {
                Slot::Shared(j) => j + 1,
                Slot::Row => {
                    k += 1;
                    shared + r * per_row + k
                }
            };
            s.push('$');
            s.push_str(&n.to_string());
        }
        s.push(')');
    }
    s
}

/// Rows per statement when each row carries `per_row` binds of its own.
pub fn rows_per_statement_shared(backend: Backend, per_row: usize, shared: usize, cap: usize) -> usize {
    let room = bind_limit(backend).saturating_sub(shared);
    rows_per_statement(backend, per_row, cap).min(room / per_row.max(1)).max(1)
}

/// "$from, $from+1, …" (`n` of them).
fn placeholder_list(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_rows_then_columns() {
        assert_eq!(values_placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(placeholder_list(3, 2), "$3, $4");
    }

    #[test]
    fn shared_columns_reuse_their_placeholder_in_every_row() {
        use Slot::*;
        assert_eq!(
            values_with_shared(2, &[Row, Shared(0), Row, Shared(1)], 2),
            "($3, $1, $4, $2), ($5, $1, $6, $2)"
        );
    }

    #[test]
    fn statements_stay_under_each_backend_s_bind_limit() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            for columns in [1, 8, 16, 40] {
                assert!(rows_per_statement(backend, columns, usize::MAX) * columns <= bind_limit(backend));
            }
            assert_eq!(rows_per_statement(backend, 100_000, 10), 1);
        }
    }
}
