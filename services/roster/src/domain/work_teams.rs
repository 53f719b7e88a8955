//! Stationed work teams (驻村工作队): the county a team serves, member roles, and
//! which villages it may be assigned.

use cadre_kit::{RegionCode, RegionLevel};
use cadre_proto::roster::v1::TeamRole;

use crate::error::RosterError;

pub fn role(field: &str, v: i32) -> Result<TeamRole, RosterError> {
    super::fields::required_enum(field, v, "team role")
}

/// The county of a region at county level or below.
pub fn county_of(field: &str, region: &RegionCode) -> Result<RegionCode, RosterError> {
    region.ancestor_at(RegionLevel::County).ok_or_else(|| {
        RosterError::invalid(field, format!("{region} is above county level; name the county"))
    })
}

/// A team's villages lie in its county.
pub fn check_village(county: &RegionCode, village: &RegionCode) -> Result<(), RosterError> {
    if village.level() != RegionLevel::Village {
        return Err(RosterError::invalid("village_code", format!("{village} is not a village")));
    }
    if !county.covers(village) {
        return Err(RosterError::invalid(
            "village_code",
            format!("{village} is outside the team's county {county}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> RegionCode {
        RegionCode::parse(s).unwrap()
    }

    #[test]
    fn a_team_serves_the_county_of_the_region_named() {
        assert_eq!(county_of("region_code", &code("150525100201")).unwrap(), code("150525000000"));
        assert_eq!(county_of("region_code", &code("150525000000")).unwrap(), code("150525000000"));
        assert!(
            county_of("region_code", &code("150500000000"))
                .unwrap_err()
                .to_string()
                .starts_with("region_code:")
        );
    }

    #[test]
    fn villages_of_another_county_or_townships_are_refused() {
        let county = code("150525000000");
        check_village(&county, &code("150525100201")).unwrap();
        assert!(check_village(&county, &code("150526100201")).is_err());
        assert!(check_village(&county, &code("150525100000")).is_err());
        assert!(role("role", 0).is_err());
    }
}
