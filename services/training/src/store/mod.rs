//! Training's SQL, the only place that knows it: teachers, courses and menus, orders
//! with their steps and rules, sessions with their sittings, enrolments and sign-ins,
//! completions, the hours ledger, certificates, feedback and training rules, and
//! training's copy of the roster. Stored enums are decoded strictly (an unknown
//! value is `TrainingError::Corrupt`, never a default).

pub mod attendance;
pub mod completions;
pub mod courses;
pub mod enrolments;
pub mod feedback;
pub mod forums;
pub mod orders;
pub mod programmes;
pub mod roster_copy;
pub mod rules;
pub mod sessions;
pub mod teachers;

use crate::error::TrainingError;

/// A stored enum number as its proto enum, or `Corrupt` naming where it was found.
pub(crate) fn decode_enum<E: TryFrom<i32>>(
    column: &'static str,
    row: &str,
    v: i64,
) -> Result<E, TrainingError> {
    i32::try_from(v).ok().and_then(|v| E::try_from(v).ok()).ok_or_else(|| TrainingError::Corrupt {
        column,
        row: row.to_string(),
        value: v.to_string(),
    })
}

/// Comma-separated numbers or codes, as some columns keep lists.
pub(crate) fn join<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    items.into_iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

pub(crate) fn split(s: &str) -> Vec<String> {
    s.split(',').filter(|p| !p.is_empty()).map(str::to_string).collect()
}
