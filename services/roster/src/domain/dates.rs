//! Dates as the API carries them: the kit's one definition ("YYYY-MM-DD", errors
//! naming the field, today in UTC+8).

pub use cadre_kit::dates::{format, parse, parse_or, parse_stored, today};
