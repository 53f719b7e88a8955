//! What a course and a county's menu must hold. Credit hours travel as a number of
//! hours (1.5) and are kept in tenths of an hour, so sums are exact.

use cadre_kit::RegionCode;
use cadre_kit::fields::{self, FieldError};
use cadre_proto::training::v1 as pb;

use super::levels;
use crate::error::TrainingError;

/// Courses on one menu, at most.
pub const MAX_MENU: usize = 200;

#[derive(Debug, Clone, PartialEq)]
pub struct CourseFields {
    pub title: String,
    pub topic: pb::Topic,
    pub mode: pb::CourseMode,
    pub credit_tenths: i64,
    pub level: pb::OrganiserLevel,
    pub owner: RegionCode,
    pub description: String,
}

pub fn validate_new(prefix: &str, c: &pb::Course) -> Result<CourseFields, TrainingError> {
    let f = |name: &str| format!("{prefix}.{name}");
    let owner = fields::region(&f("owner_region_code"), &c.owner_region_code)?;
    levels::keeper(&f("owner_region_code"), &owner)?;
    Ok(CourseFields {
        title: fields::text(&f("title"), &c.title, true, 100)?,
        topic: fields::required_enum(&f("topic"), c.topic, "topic")?,
        mode: fields::required_enum(&f("mode"), c.mode, "course mode")?,
        credit_tenths: credit_tenths(&f("credit_hours"), c.credit_hours)?,
        level: fields::required_enum(&f("level"), c.level, "organiser level")?,
        owner,
        description: fields::text(&f("description"), &c.description, false, 1000)?,
    })
}

/// Credit hours as tenths: more than 0, at most 200, in steps of 0.5.
pub fn credit_tenths(field: &str, hours: f64) -> Result<i64, FieldError> {
    if !hours.is_finite() || hours <= 0.0 || hours > 200.0 {
        return Err(FieldError::new(field, format!("must be more than 0 and at most 200, got {hours}")));
    }
    let halves = hours * 2.0;
    if (halves - halves.round()).abs() > 1e-9 {
        return Err(FieldError::new(field, format!("must be in steps of 0.5 hours, got {hours}")));
    }
    Ok(halves.round() as i64 * 5)
}

pub fn hours(tenths: i64) -> f64 {
    tenths as f64 / 10.0
}

/// A menu's county, year and courses (ids, in order, no repeats).
#[derive(Debug, Clone, PartialEq)]
pub struct MenuFields {
    pub county: RegionCode,
    pub year: i32,
    pub course_ids: Vec<String>,
}

pub fn validate_menu(prefix: &str, m: &pb::Menu) -> Result<MenuFields, TrainingError> {
    let f = |name: &str| format!("{prefix}.{name}");
    let county = fields::region(&f("county_code"), &m.county_code)?;
    if county.level() != cadre_kit::RegionLevel::County {
        return Err(TrainingError::invalid(&f("county_code"), format!("{county} is not a county")));
    }
    let year = fields::year(&f("year"), m.year)?;
    if m.course_ids.len() > MAX_MENU {
        return Err(TrainingError::invalid(
            &f("course_ids"),
            format!("at most {MAX_MENU} courses, got {}", m.course_ids.len()),
        ));
    }
    let course_ids = if m.course_ids.is_empty() {
        Vec::new()
    } else {
        fields::batch_keys(&f("course_ids"), &m.course_ids)?
    };
    Ok(MenuFields { county, year, course_ids })
}

/// Whether a course kept by `owner` may be on `county`'s menu: the county's own, or its
/// city's or province's.
pub fn may_list(owner: &str, county: &RegionCode) -> bool {
    RegionCode::parse(owner).is_ok_and(|o| o.covers(county))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_hours_are_kept_exactly_in_tenths() {
        assert_eq!(credit_tenths("h", 1.5), Ok(15));
        assert_eq!(credit_tenths("h", 32.0), Ok(320));
        assert_eq!(hours(15), 1.5);
        for bad in [0.0, -1.0, 200.5, 1.25, f64::NAN, f64::INFINITY] {
            let err = credit_tenths("course.credit_hours", bad).unwrap_err();
            assert_eq!(err.field, "course.credit_hours", "{bad}");
        }
    }

    #[test]
    fn a_menu_lists_the_countys_own_courses_or_those_above_it() {
        let county = RegionCode::parse("150525000000").unwrap();
        assert!(may_list("150525000000", &county));
        assert!(may_list("150500000000", &county));
        assert!(!may_list("150526000000", &county));
        let township_menu = pb::Menu { county_code: "150525100000".into(), year: 2026, ..Default::default() };
        assert!(
            validate_menu("menu", &township_menu).unwrap_err().to_string().starts_with("menu.county_code:")
        );
    }
}
