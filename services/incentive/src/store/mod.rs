//! Incentive's SQL, the only place that knows it: pay scales, rules, pools with their
//! ledger, and awards. Stored enums are decoded strictly (an unknown value is
//! `IncentiveError::Corrupt`, never a default).

pub mod awards;
pub mod pools;
pub mod rules;
pub mod scales;

use crate::error::IncentiveError;

/// A stored enum number as its proto enum, or `Corrupt` naming where it was found.
pub(crate) fn decode_enum<E: TryFrom<i32>>(
    column: &'static str,
    row: &str,
    v: i64,
) -> Result<E, IncentiveError> {
    i32::try_from(v).ok().and_then(|v| E::try_from(v).ok()).ok_or_else(|| IncentiveError::Corrupt {
        column,
        row: row.to_string(),
        value: v.to_string(),
    })
}
