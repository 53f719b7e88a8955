//! Region codes (统计用区划代码, 12 digits `PPCCDDTTTVVV`): parsing, level, parent and
//! the prefix that defines jurisdiction.

use std::fmt;

use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RegionLevel {
    Province,
    City,
    County,
    Township,
    Village,
}

impl RegionLevel {
    /// How many leading digits are significant at this level.
    pub fn prefix_len(self) -> usize {
        match self {
            Self::Province => 2,
            Self::City => 4,
            Self::County => 6,
            Self::Township => 9,
            Self::Village => 12,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Province => "province",
            Self::City => "city",
            Self::County => "county",
            Self::Township => "township",
            Self::Village => "village",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RegionCodeError {
    #[error("must be 12 digits, got {0:?}")]
    Format(String),
    #[error("province part {0:?} is not a province code (11-82)")]
    Province(String),
    #[error("{0:?} skips a level: a lower part is set while a higher one is zero")]
    Gap(String),
}

/// A valid 12-digit region code.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegionCode(String);

impl RegionCode {
    pub fn parse(s: &str) -> Result<Self, RegionCodeError> {
        let s = s.trim();
        if s.len() != 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RegionCodeError::Format(s.to_string()));
        }
        let province: u32 = s[..2].parse().map_err(|_| RegionCodeError::Format(s.to_string()))?;
        if !(11..=82).contains(&province) {
            return Err(RegionCodeError::Province(s[..2].to_string()));
        }
        // A part may only be non-zero when every higher part is non-zero.
        let parts = [&s[2..4], &s[4..6], &s[6..9], &s[9..12]];
        let mut seen_zero = false;
        for part in parts {
            let zero = part.bytes().all(|b| b == b'0');
            if zero {
                seen_zero = true;
            } else if seen_zero {
                return Err(RegionCodeError::Gap(s.to_string()));
            }
        }
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn level(&self) -> RegionLevel {
        let s = self.0.as_bytes();
        let zero = |r: std::ops::Range<usize>| s[r].iter().all(|&b| b == b'0');
        if zero(2..12) {
            RegionLevel::Province
        } else if zero(4..12) {
            RegionLevel::City
        } else if zero(6..12) {
            RegionLevel::County
        } else if zero(9..12) {
            RegionLevel::Township
        } else {
            RegionLevel::Village
        }
    }

    /// The significant digits: everything under this region starts with them.
    pub fn prefix(&self) -> &str {
        &self.0[..self.level().prefix_len()]
    }

    /// The region one level up; `None` for a province.
    pub fn parent(&self) -> Option<RegionCode> {
        let up = match self.level() {
            RegionLevel::Province => return None,
            RegionLevel::City => RegionLevel::Province,
            RegionLevel::County => RegionLevel::City,
            RegionLevel::Township => RegionLevel::County,
            RegionLevel::Village => RegionLevel::Township,
        };
        self.ancestor_at(up)
    }

    /// The region at `level` that this one lies in (itself at its own level); `None`
    /// when `level` is below this region's.
    pub fn ancestor_at(&self, level: RegionLevel) -> Option<RegionCode> {
        (level <= self.level()).then(|| Self(format!("{:0<12}", &self.0[..level.prefix_len()])))
    }

    /// This region, then each region above it up to the province.
    pub fn lineage(&self) -> impl Iterator<Item = RegionCode> {
        std::iter::successors(Some(self.clone()), RegionCode::parent)
    }

    /// Whether `other` is this region or lies under it.
    pub fn covers(&self, other: &RegionCode) -> bool {
        other.0.starts_with(self.prefix())
    }

    /// Whether a raw code string lies under this region (for stored codes).
    pub fn covers_str(&self, code: &str) -> bool {
        code.starts_with(self.prefix())
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The smallest region that holds every one of `codes` (what a read across several
/// records is about, and audited under); `None` when there are none, one is not a region
/// code, or they span provinces.
pub fn smallest_common<'a>(codes: impl IntoIterator<Item = &'a str>) -> Option<RegionCode> {
    let mut common: Option<&str> = None;
    for code in codes {
        RegionCode::parse(code).ok()?;
        common = Some(match common {
            None => code,
            Some(c) => {
                let same = c.bytes().zip(code.bytes()).take_while(|(a, b)| a == b).count();
                &c[..same]
            }
        });
    }
    let common = common?;
    let significant = [12, 9, 6, 4, 2].into_iter().find(|n| *n <= common.len())?;
    RegionCode::parse(&format!("{:0<12}", &common[..significant])).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smallest_region_holding_several_records() {
        let common = |codes: &[&str]| smallest_common(codes.iter().copied()).map(|c| c.to_string());
        assert_eq!(common(&["150525100201"]).as_deref(), Some("150525100201"));
        assert_eq!(common(&["150525100201", "150525100202"]).as_deref(), Some("150525100000"));
        assert_eq!(common(&["150525100201", "150525101201"]).as_deref(), Some("150525000000"));
        assert_eq!(common(&["150525100201", "150526100201"]).as_deref(), Some("150500000000"));
        assert_eq!(common(&["150525100201", "151525100201"]).as_deref(), Some("150000000000"));
        assert_eq!(common(&["150525100201", "320525100201"]), None);
        assert_eq!(common(&[]), None);
        assert_eq!(common(&["x"]), None);
    }

    fn code(s: &str) -> RegionCode {
        RegionCode::parse(s).unwrap()
    }

    #[test]
    fn levels_follow_the_trailing_zeros() {
        assert_eq!(code("150000000000").level(), RegionLevel::Province);
        assert_eq!(code("150500000000").level(), RegionLevel::City);
        assert_eq!(code("150523000000").level(), RegionLevel::County);
        assert_eq!(code("150523101000").level(), RegionLevel::Township);
        assert_eq!(code("150523101203").level(), RegionLevel::Village);
    }

    #[test]
    fn ancestors_and_lineage() {
        let village = RegionCode::parse("150525100201").unwrap();
        assert_eq!(village.ancestor_at(RegionLevel::County).unwrap().as_str(), "150525000000");
        assert_eq!(village.ancestor_at(RegionLevel::Village).unwrap(), village);
        assert!(RegionCode::parse("150525000000").unwrap().ancestor_at(RegionLevel::Township).is_none());
        let up: Vec<String> = village.lineage().map(|c| c.to_string()).collect();
        assert_eq!(up, ["150525100201", "150525100000", "150525000000", "150500000000", "150000000000"]);
    }

    #[test]
    fn parents_walk_up_one_level() {
        assert_eq!(code("150523101203").parent(), Some(code("150523101000")));
        assert_eq!(code("150523101000").parent(), Some(code("150523000000")));
        assert_eq!(code("150523000000").parent(), Some(code("150500000000")));
        assert_eq!(code("150500000000").parent(), Some(code("150000000000")));
        assert_eq!(code("150000000000").parent(), None);
    }

    #[test]
    fn a_county_covers_its_villages_and_not_the_next_county() {
        let county = code("150523000000");
        assert!(county.covers(&code("150523101203")));
        assert!(county.covers(&county));
        assert!(!county.covers(&code("150524101203")));
        assert!(!county.covers(&code("150500000000")));
    }

    #[test]
    fn malformed_codes_are_rejected_with_the_reason() {
        assert!(matches!(RegionCode::parse("15052310120"), Err(RegionCodeError::Format(_))));
        assert!(matches!(RegionCode::parse("15052310120X"), Err(RegionCodeError::Format(_))));
        assert!(matches!(RegionCode::parse("990000000000"), Err(RegionCodeError::Province(_))));
        assert!(matches!(RegionCode::parse("150000101000"), Err(RegionCodeError::Gap(_))));
    }
}
