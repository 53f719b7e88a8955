//! Stationed work teams (驻村工作队): the county a team serves, member roles, which
//! villages it may be assigned, and when a village's assignment may start and end.

use cadre_kit::{RegionCode, RegionLevel};
use cadre_proto::roster::v1::TeamRole;
use chrono::NaiveDate;

use crate::domain::dates;
use crate::error::RosterError;

pub fn role(field: &str, v: i32) -> Result<TeamRole, RosterError> {
    Ok(super::fields::required_enum(field, v, "team role")?)
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

/// One period of a village's assignment to a team: assigned on day D when
/// `start <= D` and (`end` is none or `D < end`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub id: String,
    pub village_code: String,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
}

/// Whether `village` may be assigned to team `team_id` from `start`, given the team's
/// periods (of any village). Refused while a period of the village is open; after the
/// last one ended, a new period starts on or after that end, so periods never overlap.
pub fn check_assignment(
    team_id: &str,
    village: &str,
    start: NaiveDate,
    periods: &[Assignment],
) -> Result<(), RosterError> {
    let of_village = periods.iter().filter(|p| p.village_code == village);
    let mut last_end: Option<NaiveDate> = None;
    for p in of_village {
        match p.end {
            None => {
                return Err(RosterError::Conflict(format!(
                    "{village} is already assigned to work team {team_id} (since {})",
                    dates::format(p.start)
                )));
            }
            Some(e) => last_end = Some(last_end.map_or(e, |l| l.max(e))),
        }
    }
    if let Some(end) = last_end.filter(|e| start < *e) {
        return Err(RosterError::invalid(
            "start_date",
            format!(
                "{} is before {}, when the village's previous assignment to the team ended",
                dates::format(start),
                dates::format(end)
            ),
        ));
    }
    Ok(())
}

/// The open period of `village` in the team's `periods` that may end on `end` (the
/// first day no longer assigned): not in the future, not before the period's start
/// (ending on the start day undoes an assignment that never counted).
pub fn assignment_to_end<'a>(
    team_id: &str,
    village: &str,
    end: NaiveDate,
    today: NaiveDate,
    periods: &'a [Assignment],
) -> Result<&'a Assignment, RosterError> {
    if end > today {
        return Err(RosterError::invalid("end_date", format!("{} is in the future", dates::format(end))));
    }
    let of_village: Vec<&Assignment> = periods.iter().filter(|p| p.village_code == village).collect();
    let Some(open) = of_village.iter().find(|p| p.end.is_none()) else {
        return match of_village.iter().filter_map(|p| p.end).max() {
            Some(ended) => Err(RosterError::Conflict(format!(
                "{village}'s assignment to work team {team_id} already ended on {}",
                dates::format(ended)
            ))),
            None => Err(RosterError::NotFound(format!("assignment of {village} to work team {team_id}"))),
        };
    };
    if end < open.start {
        return Err(RosterError::invalid(
            "end_date",
            format!("{} is before the assignment's start {}", dates::format(end), dates::format(open.start)),
        ));
    }
    Ok(open)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        dates::parse("d", s).unwrap()
    }

    fn period(id: &str, village: &str, start: &str, end: Option<&str>) -> Assignment {
        Assignment { id: id.into(), village_code: village.into(), start: d(start), end: end.map(d) }
    }

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

    #[test]
    fn a_village_is_assigned_again_only_after_its_assignment_ended() {
        let open = vec![period("a", "v1", "2023-03-01", None), period("b", "v2", "2023-03-01", None)];
        let err = check_assignment("t1", "v1", d("2024-01-01"), &open).unwrap_err();
        assert!(matches!(err, RosterError::Conflict(_)), "{err}");
        check_assignment("t1", "v3", d("2024-01-01"), &open).unwrap();
        let ended = vec![period("a", "v1", "2023-03-01", Some("2024-06-01"))];
        check_assignment("t1", "v1", d("2024-06-01"), &ended).unwrap();
        let overlap = check_assignment("t1", "v1", d("2024-05-31"), &ended).unwrap_err();
        assert!(overlap.to_string().starts_with("start_date: 2024-05-31 is before 2024-06-01"), "{overlap}");
    }

    #[test]
    fn only_a_current_assignment_ends_on_or_after_its_start_and_not_in_the_future() {
        let today = d("2025-01-01");
        let periods = vec![
            period("old", "v1", "2022-01-01", Some("2023-01-01")),
            period("now", "v1", "2023-03-01", None),
            period("gone", "v2", "2022-01-01", Some("2023-01-01")),
        ];
        assert_eq!(assignment_to_end("t1", "v1", d("2024-06-01"), today, &periods).unwrap().id, "now");
        assert_eq!(assignment_to_end("t1", "v1", d("2023-03-01"), today, &periods).unwrap().id, "now");
        let early = assignment_to_end("t1", "v1", d("2023-02-28"), today, &periods).unwrap_err();
        assert!(early.to_string().starts_with("end_date:"), "{early}");
        let future = assignment_to_end("t1", "v1", d("2025-01-02"), today, &periods).unwrap_err();
        assert!(future.to_string().starts_with("end_date:"), "{future}");
        let twice = assignment_to_end("t1", "v2", d("2024-06-01"), today, &periods).unwrap_err();
        assert!(matches!(twice, RosterError::Conflict(_)), "{twice}");
        let never = assignment_to_end("t1", "v3", d("2024-06-01"), today, &periods).unwrap_err();
        assert!(matches!(never, RosterError::NotFound(_)), "{never}");
    }
}
