//! Incentive's pure rules: no I/O, no proto types beyond the API's enums, unit-tested.
//! Money is integer fen throughout; yuan appear only in [`money`]'s formatting.

pub mod awards;
pub mod ledger;
pub mod money;
pub mod pay;
pub mod payments;
pub mod rules;
pub mod share;
