//! Validation of regions as offices send them: codes, local names kept as given,
//! village types only on villages.

use cadre_kit::{RegionCode, RegionLevel};
use cadre_proto::roster::v1 as pb;

use crate::error::RosterError;

/// A region ready to store: level and parent derived from the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionFields {
    pub code: RegionCode,
    pub name: String,
    pub village_type: String,
}

pub fn level_to_proto(level: RegionLevel) -> pb::RegionLevel {
    match level {
        RegionLevel::Province => pb::RegionLevel::Province,
        RegionLevel::City => pb::RegionLevel::City,
        RegionLevel::County => pb::RegionLevel::County,
        RegionLevel::Township => pb::RegionLevel::Township,
        RegionLevel::Village => pb::RegionLevel::Village,
    }
}

/// `field` is the request path of this region, e.g. "regions[3]".
pub fn validate(field: &str, r: &pb::Region) -> Result<RegionFields, RosterError> {
    let code = RegionCode::parse(&r.code).map_err(|e| RosterError::invalid(format!("{field}.code"), e))?;
    let name = r.name.trim();
    if name.is_empty() {
        return Err(RosterError::invalid(format!("{field}.name"), "must not be empty"));
    }
    if name.chars().count() > 64 {
        return Err(RosterError::invalid(format!("{field}.name"), "must be at most 64 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(RosterError::invalid(format!("{field}.name"), "must not contain control characters"));
    }
    // Level and parent follow from the code; one sent that says otherwise is a mistake
    // in the sender's data, refused by name rather than silently corrected.
    let level = level_to_proto(code.level());
    if r.level != pb::RegionLevel::Unspecified as i32 && r.level != level as i32 {
        return Err(RosterError::invalid(
            format!("{field}.level"),
            format!("{code} is a {} ({}), not level {}", code.level().name(), level.as_str_name(), r.level),
        ));
    }
    let parent = code.parent().map(|p| p.to_string()).unwrap_or_default();
    if !r.parent_code.is_empty() && r.parent_code != parent {
        return Err(RosterError::invalid(
            format!("{field}.parent_code"),
            format!(
                "the parent of {code} is {}, not {}",
                if parent.is_empty() { "none" } else { &parent },
                cadre_kit::text::bounded(&r.parent_code, 20)
            ),
        ));
    }
    let village_type = r.village_type.trim();
    if !village_type.is_empty() && code.level() != RegionLevel::Village {
        return Err(RosterError::invalid(
            format!("{field}.village_type"),
            format!("only villages have a type; {code} is a {}", code.level().name()),
        ));
    }
    if village_type.chars().count() > 64 {
        return Err(RosterError::invalid(format!("{field}.village_type"), "must be at most 64 characters"));
    }
    Ok(RegionFields { code, name: name.to_string(), village_type: village_type.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(code: &str, name: &str, village_type: &str) -> pb::Region {
        pb::Region {
            code: code.into(),
            name: name.into(),
            village_type: village_type.into(),
            ..Default::default()
        }
    }

    #[test]
    fn local_names_are_kept_as_given() {
        let r = validate("regions[0]", &region("150525101201", " 大沁他拉嘎查 ", "demonstration")).unwrap();
        assert_eq!(r.name, "大沁他拉嘎查");
        assert_eq!(r.code.level(), RegionLevel::Village);
    }

    #[test]
    fn errors_name_the_element_and_field() {
        let err = validate("regions[2]", &region("15052510120", "x", "")).unwrap_err();
        assert!(err.to_string().starts_with("regions[2].code: must be 12 digits"), "{err}");
        let err = validate("regions[1]", &region("150525101000", "", "")).unwrap_err();
        assert_eq!(err.to_string(), "regions[1].name: must not be empty");
        let err = validate("regions[0]", &region("150525101000", "八仙筒镇", "demonstration")).unwrap_err();
        assert!(err.to_string().starts_with("regions[0].village_type: only villages"), "{err}");
    }

    /// Issue 13, finding 8: a wrong parent or level is refused, not corrected.
    #[test]
    fn a_parent_or_level_that_contradicts_the_code_is_refused() {
        let with = |parent: &str, level: pb::RegionLevel| pb::Region {
            parent_code: parent.into(),
            level: level as i32,
            ..region("150525101201", "嘎查", "")
        };
        let err = validate("regions[4]", &with("150526101000", pb::RegionLevel::Unspecified)).unwrap_err();
        assert!(
            err.to_string().starts_with("regions[4].parent_code: the parent of 150525101201 is 150525101000"),
            "{err}"
        );
        let err = validate("regions[4]", &with("", pb::RegionLevel::Township)).unwrap_err();
        assert!(err.to_string().starts_with("regions[4].level:"), "{err}");
        assert!(validate("regions[4]", &with("150525101000", pb::RegionLevel::Village)).is_ok());
        assert!(validate("regions[4]", &with("", pb::RegionLevel::Unspecified)).is_ok());
        let province =
            pb::Region { parent_code: "100000000000".into(), ..region("150000000000", "内蒙古", "") };
        assert!(validate("regions[0]", &province).unwrap_err().to_string().contains("is none"));
    }
}
