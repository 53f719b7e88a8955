//! What a scoring unit is: a county agency (县直部门), which scores every village of the
//! county, or a township, which scores its own villages; the token subjects acting for
//! it. A unit's scope is where its sheets may reach.

use cadre_kit::fields;
use cadre_kit::{RegionCode, RegionLevel};

use super::RuleError;
use super::scheme::Indicator;

pub const MAX_SUBJECTS: usize = 20;
pub const MAX_SUBJECT: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    Agency,
    Township,
}

/// A unit as given, before checks.
#[derive(Debug, Clone, Default)]
pub struct UnitInput<'a> {
    pub county_code: &'a str,
    pub name: &'a str,
    pub kind: Option<UnitKind>,
    pub township_code: &'a str,
    pub subjects: &'a [String],
}

/// A unit that passed: its region is the county (agency) or its township.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidUnit {
    pub county: RegionCode,
    pub name: String,
    pub kind: UnitKind,
    pub region: RegionCode,
    pub subjects: Vec<String>,
}

/// A unit as its sheets see it: which indicators it scores (those naming it, and for a
/// township those scored by each village's township) and where (villages under
/// `region`: the county, or its township).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scorer {
    pub unit_id: String,
    pub kind: UnitKind,
    pub region: String,
}

impl Scorer {
    pub fn covers(&self, village_code: &str) -> bool {
        RegionCode::parse(&self.region).is_ok_and(|r| r.covers_str(village_code))
    }

    pub fn scores(&self, indicator: &Indicator) -> bool {
        if indicator.by_township {
            self.kind == UnitKind::Township
        } else {
            indicator.unit_id == self.unit_id
        }
    }
}

/// The subjects: each 1–128 characters without spaces, at most 20, repeats once.
pub fn subjects(field: &str, given: &[String]) -> Result<Vec<String>, RuleError> {
    if given.len() > MAX_SUBJECTS {
        return Err(RuleError::invalid(field, format!("at most {MAX_SUBJECTS}")));
    }
    let mut out: Vec<String> = Vec::with_capacity(given.len());
    for (i, s) in given.iter().enumerate() {
        let t = fields::text(&format!("{field}[{i}]"), s, true, MAX_SUBJECT)?;
        if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(RuleError::invalid(format!("{field}[{i}]"), "must not contain spaces"));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

pub fn validate(u: &UnitInput<'_>) -> Result<ValidUnit, RuleError> {
    let county = fields::region("unit.county_code", u.county_code)?;
    if county.level() != RegionLevel::County {
        return Err(RuleError::invalid("unit.county_code", format!("{county} is not a county")));
    }
    let name = fields::text("unit.name", u.name, true, 100)?;
    let kind = u.kind.ok_or_else(|| RuleError::invalid("unit.kind", "is required"))?;
    let region = match kind {
        UnitKind::Agency if !u.township_code.trim().is_empty() => {
            return Err(RuleError::invalid(
                "unit.township_code",
                "an agency scores the whole county: leave it empty",
            ));
        }
        UnitKind::Agency => county.clone(),
        UnitKind::Township => {
            let t = fields::region("unit.township_code", u.township_code)?;
            if t.level() != RegionLevel::Township || !county.covers(&t) {
                return Err(RuleError::invalid(
                    "unit.township_code",
                    format!("{t} is not a township of {county}"),
                ));
            }
            t
        }
    };
    let subjects = subjects("unit.subjects", u.subjects)?;
    Ok(ValidUnit { county, name, kind, region, subjects })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(kind: UnitKind, township: &'a str, subjects: &'a [String]) -> UnitInput<'a> {
        UnitInput {
            county_code: "150525000000",
            name: "大沁他拉镇",
            kind: Some(kind),
            township_code: township,
            subjects,
        }
    }

    #[test]
    fn a_township_unit_scores_its_own_villages_and_an_agency_the_county() {
        let subjects = vec!["dqtl-1".to_string(), "dqtl-1".to_string()];
        let u = validate(&input(UnitKind::Township, "150525100000", &subjects)).unwrap();
        assert_eq!(u.subjects, ["dqtl-1"]);
        let scope = Scorer { unit_id: "t".into(), kind: u.kind, region: u.region.to_string() };
        assert!(
            scope.covers("150525100201") && !scope.covers("150525101201") && !scope.covers("150526100201")
        );
        let a = validate(&input(UnitKind::Agency, "", &[])).unwrap();
        assert!(
            Scorer { unit_id: "a".into(), kind: a.kind, region: a.region.to_string() }.covers("150525101201")
        );
    }

    #[test]
    fn a_township_elsewhere_or_an_agency_with_a_township_is_refused() {
        let err = validate(&input(UnitKind::Township, "150526100000", &[])).unwrap_err().to_string();
        assert!(err.starts_with("unit.township_code:"), "{err}");
        assert!(validate(&input(UnitKind::Agency, "150525100000", &[])).is_err());
        let bad = vec!["has space".to_string()];
        assert!(
            validate(&input(UnitKind::Agency, "", &bad))
                .unwrap_err()
                .to_string()
                .starts_with("unit.subjects[0]:")
        );
        let county = UnitInput { county_code: "150525100000", ..input(UnitKind::Agency, "", &[]) };
        assert!(validate(&county).unwrap_err().to_string().starts_with("unit.county_code:"));
    }
}
