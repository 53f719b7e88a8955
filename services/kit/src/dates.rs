//! Dates as the API carries them and the store keeps them: exactly `YYYY-MM-DD` (four
//! digits, two, two) within [`EARLIEST`]..=[`LATEST`], in one validator that every date
//! and `as_of` entering a service goes through; and "today" on the calendar the offices
//! work by (UTC+8).

use chrono::NaiveDate;

use crate::fields::FieldError;

/// The earliest date a service accepts (no cadre record is older).
pub const EARLIEST: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(d) => d,
    None => panic!("a valid date"),
};

/// The latest date a service accepts.
pub const LATEST: NaiveDate = match NaiveDate::from_ymd_opt(2100, 12, 31) {
    Some(d) => d,
    None => panic!("a valid date"),
};

/// A date given as exactly `YYYY-MM-DD` within [`EARLIEST`]..=[`LATEST`]; nothing else
/// (no sign, no two-digit year, no missing zeros, no spaces, no time).
pub fn parse(field: &str, s: &str) -> Result<NaiveDate, FieldError> {
    let bad = || {
        FieldError::new(
            field,
            format!("{:?} is not a date like 2024-05-01 (YYYY-MM-DD)", crate::text::bounded(s, 40)),
        )
    };
    if s.is_empty() {
        return Err(FieldError::new(field, "is required: a date like 2024-05-01"));
    }
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return Err(bad());
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad())?;
    if !(EARLIEST..=LATEST).contains(&date) {
        return Err(FieldError::new(field, format!("{s} is outside {EARLIEST}..={LATEST}")));
    }
    Ok(date)
}

/// An optional date: empty (not given) means `default`; anything else must be a date.
pub fn parse_or(field: &str, s: &str, default: NaiveDate) -> Result<NaiveDate, FieldError> {
    if s.is_empty() { Ok(default) } else { parse(field, s) }
}

/// Whether `d` is within [`EARLIEST`]..=[`LATEST`] (dates read from files in other
/// layouts, checked after parsing).
pub fn in_range(d: NaiveDate) -> bool {
    (EARLIEST..=LATEST).contains(&d)
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
        assert_eq!(err.to_string(), "start_date: \"2024-02-30\" is not a date like 2024-05-01 (YYYY-MM-DD)");
        assert_eq!(parse_or("as_of", "", NaiveDate::MIN).unwrap(), NaiveDate::MIN);
        assert_eq!(format(parse("d", "2021-03-05").unwrap()), "2021-03-05");
    }

    /// The cases of issue 13 (finding 5) and their neighbours.
    #[test]
    fn only_yyyy_mm_dd_within_range_is_a_date() {
        let refused = [
            "24-05-01",
            "-2024-01-01",
            "+2024-05-01",
            "0000-01-01",
            "2024-1-1",
            "2024-01-1",
            "",
            " ",
            " 2024-05-01",
            "2024-05-01 ",
            "2024/05/01",
            "20240501",
            "2024-05-01T00:00:00",
            "1899-12-31",
            "2101-01-01",
            "9999-12-31",
            "2024-13-01",
            "2023-02-29",
            "２０２４-05-01",
            "2024-05-0１",
        ];
        for s in refused {
            let err = parse("as_of", s).expect_err(s);
            assert_eq!(err.field, "as_of", "{s}");
        }
        for (s, ymd) in [
            ("2024-05-01", (2024, 5, 1)),
            ("1900-01-01", (1900, 1, 1)),
            ("2100-12-31", (2100, 12, 31)),
            ("2024-02-29", (2024, 2, 29)),
        ] {
            assert_eq!(parse("d", s).unwrap(), NaiveDate::from_ymd_opt(ymd.0, ymd.1, ymd.2).unwrap(), "{s}");
        }
        // Optional dates: only the empty string means "not given".
        assert!(parse_or("as_of", " ", NaiveDate::MIN).is_err());
        assert!(parse_or("as_of", "24-05-01", NaiveDate::MIN).is_err());
    }

    /// Every date of the range round-trips; a sample of shapes around them does not parse.
    #[test]
    fn every_date_in_range_round_trips() {
        let mut d = EARLIEST;
        while d <= LATEST {
            let s = format(d);
            assert_eq!(parse("d", &s).unwrap(), d);
            // Dropping a leading zero of month or day, or the century, is refused.
            assert!(parse("d", &s[2..]).is_err());
            if s.as_bytes()[5] == b'0' {
                assert!(parse("d", &format!("{}{}", &s[..5], &s[6..])).is_err());
            }
            d = d.succ_opt().unwrap();
        }
    }
}
