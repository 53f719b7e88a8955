//! Assessment's rules, pure: no I/O, no SQL, no proto. Points in tenths; what a scheme
//! must hold (its totals per variant, a unit for every indicator); the year's phases and
//! which moves they allow; what a scoring unit is and which villages it scores; which
//! scores a sheet may hold. Every refusal is a [`RuleError`] naming the field or the phase.

pub mod consequences;
pub mod error;
pub mod lists;
pub mod phase;
pub mod points;
pub mod results;
pub mod scheme;
pub mod sheet;
pub mod units;

pub use error::{RowProblem, RuleError};
