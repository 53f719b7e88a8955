//! Resident identity numbers (居民身份证号码, GB 11643-1999): 6-digit region of first
//! registration, 8-digit birth date, 3-digit sequence (odd = male), and an ISO 7064
//! MOD 11-2 check character (`0`–`9` or `X`).

use std::fmt;

use chrono::{Datelike, NaiveDate};

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: &[u8; 11] = b"10X98765432";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    Male,
    Female,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResidentIdError {
    #[error("must be 18 characters, got {0}")]
    Length(usize),
    #[error("the first 17 characters must be digits and the last a digit or X")]
    Characters,
    #[error("the birth date {0} is not a real date")]
    BirthDate(String),
    #[error("the birth date {0} is in the future")]
    FutureBirth(NaiveDate),
    #[error("the check character is wrong (expected {expected})")]
    Checksum { expected: char },
    #[error("the area code {0} is not in a province (its first two digits name none)")]
    AreaCode(String),
}

/// The provinces' two-digit codes (GB/T 2260): the first two digits of any area code of
/// first registration.
pub const PROVINCE_CODES: [&str; 34] = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42",
    "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82",
];

/// A validated 18-character resident ID number (an `x` is normalised to `X`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResidentId(String);

impl ResidentId {
    pub fn parse(s: &str) -> Result<Self, ResidentIdError> {
        let s = s.trim().to_ascii_uppercase();
        let chars = s.chars().count();
        if chars != 18 {
            return Err(ResidentIdError::Length(chars));
        }
        let b = s.as_bytes();
        if !b[..17].iter().all(u8::is_ascii_digit) || !(b[17].is_ascii_digit() || b[17] == b'X') {
            return Err(ResidentIdError::Characters);
        }
        if !PROVINCE_CODES.contains(&&s[..2]) {
            return Err(ResidentIdError::AreaCode(s[..6].to_string()));
        }
        let birth = &s[6..14];
        let date = NaiveDate::parse_from_str(birth, "%Y%m%d")
            .map_err(|_| ResidentIdError::BirthDate(birth.to_string()))?;
        if date.year() < 1900 {
            return Err(ResidentIdError::BirthDate(birth.to_string()));
        }
        if date > chrono::Utc::now().date_naive() {
            return Err(ResidentIdError::FutureBirth(date));
        }
        let expected = check_char(&s[..17]);
        if b[17] as char != expected {
            return Err(ResidentIdError::Checksum { expected });
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn birth_date(&self) -> NaiveDate {
        NaiveDate::parse_from_str(&self.0[6..14], "%Y%m%d").expect("validated on parse")
    }

    pub fn sex(&self) -> Sex {
        if (self.0.as_bytes()[16] - b'0') % 2 == 1 { Sex::Male } else { Sex::Female }
    }

    /// The 6-digit administrative code of first registration.
    pub fn region_prefix(&self) -> &str {
        &self.0[..6]
    }
}

impl fmt::Debug for ResidentId {
    /// Never prints the whole number: debug output ends up in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResidentId({})", crate::pii::mask_id_number(&self.0))
    }
}

/// The check character for the first 17 digits. Panics if they are not 17 ASCII digits.
pub fn check_char(first17: &str) -> char {
    assert!(first17.len() == 17 && first17.bytes().all(|c| c.is_ascii_digit()), "17 digits expected");
    let sum: u32 = first17.bytes().zip(WEIGHTS).map(|(c, w)| u32::from(c - b'0') * w).sum();
    CHECK[(sum % 11) as usize] as char
}

/// Builds a valid number from its parts (demo data, tests). `seq` is taken modulo 1000;
/// its parity decides the sex.
pub fn build(region6: &str, birth: NaiveDate, seq: u16) -> ResidentId {
    let first17 = format!("{region6:0>6.6}{}{:03}", birth.format("%Y%m%d"), seq % 1000);
    let check = check_char(&first17);
    ResidentId(format!("{first17}{check}"))
}

/// Whole years of age on `on`.
pub fn age_on(birth: NaiveDate, on: NaiveDate) -> i32 {
    let mut age = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn accepts_the_standard_example_and_reads_its_parts() {
        // The example of GB 11643-1999.
        let id = ResidentId::parse("11010519491231002x").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.birth_date(), d(1949, 12, 31));
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.region_prefix(), "110105");
    }

    #[test]
    fn rejects_bad_checksums_dates_and_shapes() {
        assert_eq!(ResidentId::parse("110105194912310021"), Err(ResidentIdError::Checksum { expected: 'X' }));
        let feb30 = format!("15052519800230001{}", check_char("15052519800230001"));
        assert!(matches!(ResidentId::parse(&feb30), Err(ResidentIdError::BirthDate(_))));
        assert_eq!(ResidentId::parse("1234"), Err(ResidentIdError::Length(4)));
        assert_eq!(ResidentId::parse("1101051949123100AX"), Err(ResidentIdError::Characters));
        let future = build("150525", d(2999, 1, 1), 11);
        assert!(matches!(ResidentId::parse(future.as_str()), Err(ResidentIdError::FutureBirth(_))));
    }

    /// Issue 13, finding 8: an area code in no province (`000105`) is refused.
    #[test]
    fn the_area_code_must_be_in_a_province() {
        for area in ["000105", "990105", "160105", "700000"] {
            let id = build(area, d(1980, 1, 1), 11);
            assert_eq!(ResidentId::parse(id.as_str()), Err(ResidentIdError::AreaCode(area.into())), "{area}");
        }
        for area in ["110105", "150525", "652901", "820000"] {
            assert!(ResidentId::parse(build(area, d(1980, 1, 1), 11).as_str()).is_ok(), "{area}");
        }
    }

    #[test]
    fn built_numbers_parse_back() {
        for seq in [0u16, 1, 2, 999] {
            let id = build("150525", d(1983, 7, 9), seq);
            let parsed = ResidentId::parse(id.as_str()).unwrap();
            assert_eq!(parsed.birth_date(), d(1983, 7, 9));
            assert_eq!(parsed.sex(), if seq % 2 == 1 { Sex::Male } else { Sex::Female });
        }
    }

    #[test]
    fn age_counts_whole_years() {
        assert_eq!(age_on(d(1980, 6, 15), d(2026, 6, 14)), 45);
        assert_eq!(age_on(d(1980, 6, 15), d(2026, 6, 15)), 46);
        assert_eq!(age_on(d(2000, 2, 29), d(2026, 2, 28)), 25);
    }

    #[test]
    fn debug_output_is_masked() {
        let id = build("150525", d(1983, 7, 9), 11);
        assert!(!format!("{id:?}").contains("19830709"));
    }
}
