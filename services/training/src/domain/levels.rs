//! Who does what by level: a village or township orders, the county (or a city or the
//! province above it) matches, schedules, delivers, declines, keeps menus and rules.

use cadre_kit::{Principal, RegionCode, RegionLevel};

use crate::error::TrainingError;

/// The caller acts for a county or above (its jurisdiction is a county, city or province).
pub fn ensure_county_or_above(principal: &Principal, what: &str) -> Result<(), TrainingError> {
    if principal.jurisdiction.level() <= RegionLevel::County {
        Ok(())
    } else {
        Err(TrainingError::NotAllowed(format!(
            "{what} is the county's: your jurisdiction {} is a {}",
            principal.jurisdiction,
            principal.jurisdiction.level().name()
        )))
    }
}

/// A region code that must be a county, a city or the province (who keeps pools,
/// catalogues and rules).
pub fn keeper(field: &str, code: &RegionCode) -> Result<(), TrainingError> {
    if code.level() <= RegionLevel::County {
        Ok(())
    } else {
        Err(TrainingError::invalid(
            field,
            format!("{code} is a {}: a county, city or province keeps it", code.level().name()),
        ))
    }
}

/// The county a village or township lies in.
pub fn county_of(code: &RegionCode) -> Option<RegionCode> {
    code.ancestor_at(RegionLevel::County)
}

/// Whether reference data kept at `kept_by` is visible to `principal`: it lies in the
/// caller's jurisdiction, or above it (a township sees its county's teachers and menu).
pub fn sees_kept_by(principal: &Principal, kept_by: &str) -> bool {
    principal.jurisdiction.covers_str(kept_by)
        || principal.jurisdiction.as_str().starts_with(prefix_of(kept_by))
}

fn prefix_of(code: &str) -> &str {
    match RegionCode::parse(code) {
        Ok(c) => &code[..c.level().prefix_len()],
        // A stored code that does not parse is seen by nobody but its exact owner.
        Err(_) => code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadre_kit::Role;

    fn principal(region: &str) -> Principal {
        Principal {
            subject: "t".into(),
            roles: [Role::Integration].into(),
            jurisdiction: RegionCode::parse(region).unwrap(),
        }
    }

    #[test]
    fn a_township_may_not_act_for_its_county() {
        assert!(ensure_county_or_above(&principal("150525000000"), "matching").is_ok());
        let err = ensure_county_or_above(&principal("150525100000"), "matching").unwrap_err();
        assert!(err.to_string().contains("township"), "{err}");
    }

    #[test]
    fn reference_data_is_seen_below_and_above() {
        let township = principal("150525100000");
        assert!(sees_kept_by(&township, "150525000000"), "its county");
        assert!(sees_kept_by(&township, "150000000000"), "its province");
        assert!(!sees_kept_by(&township, "150526000000"), "the next county");
        assert!(sees_kept_by(&principal("150000000000"), "150525000000"), "a county below");
    }
}
