//! Dates as the API carries them ("YYYY-MM-DD") and the store keeps them, validated with
//! the field's name; and "today" on the calendar the offices work by (UTC+8).

use chrono::NaiveDate;

use crate::fields::FieldError;

pub fn parse(field: &str, s: &str) -> Result<NaiveDate, FieldError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        FieldError::new(field, format!("{:?} is not a date like 2024-05-01", crate::text::bounded(s, 40)))
    })
}

/// An optional date: empty means `default`.
pub fn parse_or(field: &str, s: &str, default: NaiveDate) -> Result<NaiveDate, FieldError> {
    if s.trim().is_empty() { Ok(default) } else { parse(field, s) }
}

/// A date as a store keeps it; `None` if the stored text is not one.
pub fn parse_stored(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

pub fn format(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Today in China Standard Time (UTC+8), the calendar the offices work by.
pub fn today() -> NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_dates_name_their_field() {
        let err = parse("start_date", "2024-02-30").unwrap_err();
        assert_eq!(err.to_string(), "start_date: \"2024-02-30\" is not a date like 2024-05-01");
        assert_eq!(parse_or("as_of", "", NaiveDate::MIN).unwrap(), NaiveDate::MIN);
        assert_eq!(format(parse("d", "2021-03-05").unwrap()), "2021-03-05");
    }
}
