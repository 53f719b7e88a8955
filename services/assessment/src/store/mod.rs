//! Assessment's SQL, the only place that knows it: scoring units and their subjects,
//! scheme versions, years with their frozen villages, sheets and scores, and
//! assessment's copy of the roster. Stored enums are decoded strictly (an unknown value
//! is `AssessmentError::Corrupt`, never a default).

pub mod results;
pub mod roster_copy;
pub mod schemes;
pub mod sheets;
pub mod units;
pub mod years;

use crate::error::AssessmentError;

/// A stored number as what it means, or `Corrupt` naming where it was found.
pub(crate) fn decode<E>(
    column: &'static str,
    row: &str,
    v: i64,
    from: impl Fn(i64) -> Option<E>,
) -> Result<E, AssessmentError> {
    from(v).ok_or_else(|| AssessmentError::Corrupt { column, row: row.to_string(), value: v.to_string() })
}
