//! What a cadre record must hold to be stored: validated fields, with birth date and
//! sex derived from the resident ID number (never entered separately), and the
//! field-mask rules of an update.

use cadre_kit::RegionCode;
use cadre_kit::resident_id::ResidentId;
use cadre_proto::roster::v1 as pb;

use super::fields::{education, id_number, person_name, political_status, region, tags};
use crate::error::RosterError;

/// A cadre's editable fields, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CadreFields {
    pub region_code: RegionCode,
    pub name: String,
    pub id_number: ResidentId,
    pub ethnicity: String,
    /// Empty when unknown.
    pub phone: String,
    pub political_status: pb::PoliticalStatus,
    pub education: pb::Education,
    pub full_time_education: bool,
    pub tags: Vec<pb::BackgroundTag>,
}

/// The ages a village cadre's record may give on the day it is entered, as data: the
/// village committees' rules ask 18 and over, and an age over 80 is a mistyped ID number.
pub const CADRE_AGE_YEARS: std::ops::RangeInclusive<i32> = 18..=80;

/// Refuses an ID number whose birth date gives an age outside [`CADRE_AGE_YEARS`] on `today`.
pub fn plausible_age(field: &str, id: &ResidentId, today: chrono::NaiveDate) -> Result<(), RosterError> {
    let birth = id.birth_date();
    let age = cadre_kit::resident_id::age_on(birth, today);
    if CADRE_AGE_YEARS.contains(&age) {
        return Ok(());
    }
    Err(RosterError::invalid(
        field,
        format!(
            "gives a birth date of {birth}, age {age}; a village cadre is {} to {} years old",
            CADRE_AGE_YEARS.start(),
            CADRE_AGE_YEARS.end()
        ),
    ))
}

/// Paths an update mask may name.
pub const UPDATABLE: &[&str] = &[
    "name",
    "region_code",
    "id_number",
    "ethnicity",
    "phone",
    "political_status",
    "education",
    "full_time_education",
    "tags",
];

fn ethnicity(field: &str, s: &str) -> Result<String, RosterError> {
    let s = s.trim();
    if s.chars().count() > 16 || s.chars().any(char::is_control) {
        return Err(RosterError::invalid(field, "must be at most 16 characters, e.g. \"汉族\""));
    }
    Ok(s.to_string())
}

/// A mainland mobile number (11 digits starting 13–19), or empty.
fn phone(field: &str, s: &str) -> Result<String, RosterError> {
    let s = s.trim();
    let digits = s.strip_prefix("+86").unwrap_or(s);
    if digits.is_empty() {
        return Ok(String::new());
    }
    let b = digits.as_bytes();
    if b.len() != 11 || !b.iter().all(u8::is_ascii_digit) || b[0] != b'1' || b[1] < b'3' {
        return Err(RosterError::invalid(field, "must be an 11-digit mobile number like 13812345678"));
    }
    Ok(digits.to_string())
}

/// Validates a new cadre; `prefix` is the request path of the message, e.g. "cadre".
pub fn validate_new(prefix: &str, c: &pb::Cadre) -> Result<CadreFields, RosterError> {
    let f = |name: &str| format!("{prefix}.{name}");
    Ok(CadreFields {
        region_code: region(&f("region_code"), &c.region_code)?,
        name: person_name(&f("name"), &c.name)?,
        id_number: id_number(&f("id_number"), &c.id_number)?,
        ethnicity: ethnicity(&f("ethnicity"), &c.ethnicity)?,
        phone: phone(&f("phone"), &c.phone)?,
        political_status: political_status(&f("political_status"), c.political_status)?,
        education: education(&f("education"), c.education)?,
        full_time_education: c.full_time_education,
        tags: tags(&f("tags"), &c.tags)?,
    })
}

/// Applies the fields named by `paths` from `patch` onto `current`.
pub fn apply_update(
    mut current: CadreFields,
    patch: &pb::Cadre,
    paths: &[String],
) -> Result<CadreFields, RosterError> {
    if paths.is_empty() {
        return Err(RosterError::invalid("update_mask", "must name at least one field"));
    }
    for path in paths {
        let f = format!("cadre.{path}");
        match path.as_str() {
            "name" => current.name = person_name(&f, &patch.name)?,
            "region_code" => current.region_code = region(&f, &patch.region_code)?,
            "id_number" => current.id_number = id_number(&f, &patch.id_number)?,
            "ethnicity" => current.ethnicity = ethnicity(&f, &patch.ethnicity)?,
            "phone" => current.phone = phone(&f, &patch.phone)?,
            "political_status" => current.political_status = political_status(&f, patch.political_status)?,
            "education" => current.education = education(&f, patch.education)?,
            "full_time_education" => current.full_time_education = patch.full_time_education,
            "tags" => current.tags = tags(&f, &patch.tags)?,
            other => {
                return Err(RosterError::invalid(
                    "update_mask",
                    format!("{other:?} cannot be updated (updatable: {})", UPDATABLE.join(", ")),
                ));
            }
        }
    }
    Ok(current)
}

/// College (大专) or above.
pub fn college_or_above(e: pb::Education) -> bool {
    matches!(e, pb::Education::College | pb::Education::Bachelor | pb::Education::Postgraduate)
}

/// Educations at `e`'s level or above, for "education_or_above" filters.
pub fn at_or_above(e: pb::Education) -> Vec<pb::Education> {
    use pb::Education as E;
    // Lower enum numbers are higher levels (postgraduate = 1).
    [E::Postgraduate, E::Bachelor, E::College, E::Secondary, E::BelowSecondary]
        .into_iter()
        .filter(|x| (*x as i32) <= (e as i32))
        .collect()
}

pub fn is_party_member(p: pb::PoliticalStatus) -> bool {
    matches!(p, pb::PoliticalStatus::PartyMember | pb::PoliticalStatus::ProbationaryMember)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13, finding 8: a cadre born in 2020 (or in 1900) is refused by name.
    #[test]
    fn ages_outside_the_plausible_range_are_refused() {
        let on = chrono::NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let born = |y, m, d| {
            cadre_kit::resident_id::build("150525", chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap(), 11)
        };
        let err = plausible_age("cadre.id_number", &born(2020, 3, 1), on).unwrap_err();
        assert!(
            err.to_string().starts_with("cadre.id_number: gives a birth date of 2020-03-01, age 6"),
            "{err}"
        );
        assert!(plausible_age("cadre.id_number", &born(1930, 1, 1), on).is_err());
        assert!(plausible_age("cadre.id_number", &born(2008, 6, 1), on).is_ok(), "18 today");
        assert!(plausible_age("cadre.id_number", &born(2008, 6, 2), on).is_err(), "18 tomorrow");
        assert!(plausible_age("cadre.id_number", &born(1946, 1, 1), on).is_ok());
    }

    /// A valid cadre as an office would enter it.
    pub fn entered() -> pb::Cadre {
        pb::Cadre {
            region_code: "150525101201".into(),
            name: "巴特尔".into(),
            id_number: "15052519850312001X".into(),
            ethnicity: "蒙古族".into(),
            phone: "13847512345".into(),
            political_status: pb::PoliticalStatus::PartyMember as i32,
            education: pb::Education::College as i32,
            full_time_education: false,
            tags: vec![pb::BackgroundTag::Veteran as i32, pb::BackgroundTag::Veteran as i32],
            ..Default::default()
        }
    }

    fn valid_id() -> String {
        let first17 = "15052519850312001";
        format!("{first17}{}", cadre_kit::resident_id::check_char(first17))
    }

    #[test]
    fn a_valid_cadre_is_accepted_with_tags_deduplicated() {
        let c = pb::Cadre { id_number: valid_id(), ..entered() };
        let fields = validate_new("cadre", &c).unwrap();
        assert_eq!(fields.tags, vec![pb::BackgroundTag::Veteran]);
        assert_eq!(fields.id_number.birth_date().to_string(), "1985-03-12");
    }

    #[test]
    fn a_bad_checksum_is_refused_naming_the_field() {
        let mut id = valid_id();
        let last = if id.ends_with('1') { '2' } else { '1' };
        id.pop();
        id.push(last);
        let err = validate_new("cadre", &pb::Cadre { id_number: id, ..entered() }).unwrap_err();
        assert!(err.to_string().starts_with("cadre.id_number:"), "{err}");
    }

    #[test]
    fn empty_names_missing_enums_and_bad_phones_are_refused() {
        let base = pb::Cadre { id_number: valid_id(), ..entered() };
        let err = validate_new("cadre", &pb::Cadre { name: "  ".into(), ..base.clone() }).unwrap_err();
        assert_eq!(err.to_string(), "cadre.name: must not be empty");
        let err = validate_new("cadre", &pb::Cadre { education: 0, ..base.clone() }).unwrap_err();
        assert_eq!(err.to_string(), "cadre.education: is required");
        let err = validate_new("cadre", &pb::Cadre { phone: "12345".into(), ..base.clone() }).unwrap_err();
        assert!(err.to_string().starts_with("cadre.phone:"));
        let err = validate_new("cadre", &pb::Cadre { tags: vec![99], ..base }).unwrap_err();
        assert_eq!(err.to_string(), "cadre.tags[0]: unknown tag 99");
    }

    #[test]
    fn an_update_changes_only_the_masked_fields() {
        let current = validate_new("cadre", &pb::Cadre { id_number: valid_id(), ..entered() }).unwrap();
        let patch = pb::Cadre {
            name: "巴特尔2".into(),
            education: pb::Education::Bachelor as i32,
            ..Default::default()
        };
        let updated = apply_update(current.clone(), &patch, &["education".into()]).unwrap();
        assert_eq!(updated.education, pb::Education::Bachelor);
        assert_eq!(updated.name, current.name);
        let err = apply_update(current.clone(), &patch, &["birth_date".into()]).unwrap_err();
        assert!(err.to_string().starts_with("update_mask: \"birth_date\" cannot be updated"));
        assert!(apply_update(current, &patch, &[]).is_err());
    }

    #[test]
    fn college_or_above_covers_dazhuan_and_up() {
        assert!(college_or_above(pb::Education::College));
        assert!(!college_or_above(pb::Education::Secondary));
        assert_eq!(
            at_or_above(pb::Education::Bachelor),
            vec![pb::Education::Postgraduate, pb::Education::Bachelor]
        );
    }
}
