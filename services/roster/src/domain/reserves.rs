//! Reserves (后备力量): what a candidate record must hold, the pipeline 村推镇选县考
//! (recommended → selected → examined → in pool → in training → appointed, or
//! dropped) and which administrative level may take each step.

use cadre_kit::resident_id::ResidentId;
use cadre_kit::{RegionCode, Role};
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::ReserveStage as Stage;
use chrono::NaiveDate;

use super::fields;
use crate::domain::dates;
use crate::error::RosterError;

/// A new reserve's fields, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveFields {
    pub region_code: RegionCode,
    pub name: String,
    pub id_number: ResidentId,
    pub source: pb::ReserveSource,
    pub political_status: pb::PoliticalStatus,
    pub education: pb::Education,
    pub full_time_education: bool,
    pub tags: Vec<pb::BackgroundTag>,
}

/// Validates a new reserve; `prefix` is the request path of the message ("reserve").
pub fn validate_new(prefix: &str, r: &pb::Reserve) -> Result<ReserveFields, RosterError> {
    let f = |name: &str| format!("{prefix}.{name}");
    let region_code = fields::region(&f("region_code"), &r.region_code)?;
    let name = fields::person_name(&f("name"), &r.name)?;
    let id_number = fields::id_number(&f("id_number"), &r.id_number)?;
    let source = fields::required_enum(&f("source"), r.source, "value")?;
    let political_status = fields::political_status(&f("political_status"), r.political_status)?;
    let education = fields::education(&f("education"), r.education)?;
    let tags = fields::tags(&f("tags"), &r.tags)?;
    Ok(ReserveFields {
        region_code,
        name,
        id_number,
        source,
        political_status,
        education,
        full_time_education: r.full_time_education,
        tags,
    })
}

pub fn stage(field: &str, v: i32) -> Result<Stage, RosterError> {
    Ok(fields::required_enum(field, v, "stage")?)
}

pub fn is_final(s: Stage) -> bool {
    matches!(s, Stage::Appointed | Stage::Dropped)
}

/// In the pool or in training: a "seed" (种子) of the village.
pub fn is_seed(s: Stage) -> bool {
    matches!(s, Stage::InPool | Stage::InTraining)
}

/// The stage after `s` on the main path.
fn next(s: Stage) -> Option<Stage> {
    match s {
        Stage::Recommended => Some(Stage::Selected),
        Stage::Selected => Some(Stage::Examined),
        Stage::Examined => Some(Stage::InPool),
        Stage::InPool => Some(Stage::InTraining),
        Stage::InTraining => Some(Stage::Appointed),
        Stage::Unspecified | Stage::Appointed | Stage::Dropped => None,
    }
}

/// Administrative levels, lowest first; the order of who may do more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Township,
    County,
    City,
    Province,
}

impl Level {
    fn role(self) -> Role {
        match self {
            Level::Township => Role::TownshipAdmin,
            Level::County => Role::CountyAdmin,
            Level::City => Role::CityAdmin,
            Level::Province => Role::ProvinceAdmin,
        }
    }
}

/// The highest administrative level among `roles` (integrations and auditors have none).
pub fn level_of(roles: impl IntoIterator<Item = Role>) -> Option<Level> {
    roles
        .into_iter()
        .filter_map(|r| match r {
            Role::TownshipAdmin => Some(Level::Township),
            Role::CountyAdmin => Some(Level::County),
            Role::CityAdmin => Some(Level::City),
            Role::ProvinceAdmin => Some(Level::Province),
            _ => None,
        })
        .max()
}

/// Why a caller may not take a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedsRole(pub String);

/// Checks that a caller at `level` may record a reserve at all (the village
/// recommends; a township administrator or above enters it).
pub fn check_may_create(level: Option<Level>) -> Result<(), NeedsRole> {
    require(level, Level::Township, "recording a recommended reserve")
}

fn require(level: Option<Level>, needed: Level, what: &str) -> Result<(), NeedsRole> {
    if level.is_some_and(|l| l >= needed) {
        return Ok(());
    }
    Err(NeedsRole(format!("{what} needs the {} role or above", needed.role())))
}

/// The level that decides a move to `to` from `from`.
fn level_for(from: Stage, to: Stage) -> Level {
    match to {
        Stage::Examined | Stage::InPool => Level::County,
        // Dropping a candidate the county examined is the county's decision.
        Stage::Dropped if from >= Stage::Examined => Level::County,
        _ => Level::Township,
    }
}

/// Failures of a stage move, mapped by the api layer.
#[derive(Debug)]
pub enum MoveError {
    /// Not a move the pipeline allows (FAILED_PRECONDITION).
    Illegal(String),
    /// The caller's level may not take it (PERMISSION_DENIED).
    Denied(NeedsRole),
    /// A bad input (INVALID_ARGUMENT).
    Invalid(RosterError),
}

/// Checks a move of a reserve from `from` (dated `from_date`) to `to` on `date`.
pub fn check_move(
    from: Stage,
    from_date: NaiveDate,
    to: Stage,
    date: NaiveDate,
    level: Option<Level>,
) -> Result<(), MoveError> {
    let name = |s: Stage| s.as_str_name().trim_start_matches("RESERVE_STAGE_").to_string();
    let legal = !is_final(from) && (next(from) == Some(to) || to == Stage::Dropped);
    if !legal {
        let why = if is_final(from) {
            format!("{} is final", name(from))
        } else {
            format!("the next stage is {} (or DROPPED)", next(from).map(name).unwrap_or_default())
        };
        return Err(MoveError::Illegal(format!(
            "cannot move a reserve from {} to {}: {why}",
            name(from),
            name(to)
        )));
    }
    require(level, level_for(from, to), &format!("moving a reserve to {}", name(to)))
        .map_err(MoveError::Denied)?;
    if date < from_date {
        return Err(MoveError::Invalid(RosterError::invalid(
            "date",
            format!(
                "{} is before the date of the current stage {} ({})",
                dates::format(date),
                name(from),
                dates::format(from_date)
            ),
        )));
    }
    Ok(())
}

/// A reserve's stage on `day` from its history (date order): the last step dated on or
/// before it; `None` before it was recommended.
pub fn stage_on(history: &[(Stage, NaiveDate)], day: NaiveDate) -> Option<Stage> {
    history.iter().rev().find(|(_, d)| *d <= day).map(|(s, _)| *s)
}

/// A note on a step: trimmed, bounded.
pub fn note(field: &str, s: &str) -> Result<String, RosterError> {
    Ok(fields::text(field, s, false, 500)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        dates::parse("d", s).unwrap()
    }

    #[test]
    fn the_pipeline_moves_one_step_at_a_time_by_the_right_level() {
        let day = d("2025-03-01");
        let county = Some(Level::County);
        let township = Some(Level::Township);
        assert!(check_move(Stage::Recommended, day, Stage::Selected, day, township).is_ok());
        assert!(check_move(Stage::Selected, day, Stage::Examined, day, county).is_ok());
        assert!(check_move(Stage::Examined, day, Stage::InPool, day, county).is_ok());
        assert!(check_move(Stage::InPool, day, Stage::InTraining, day, township).is_ok());
        assert!(check_move(Stage::InTraining, day, Stage::Appointed, day, township).is_ok());
        assert!(check_move(Stage::Selected, day, Stage::Dropped, day, township).is_ok());
    }

    #[test]
    fn skips_backward_moves_and_moves_out_of_final_stages_are_illegal() {
        let day = d("2025-03-01");
        let p = Some(Level::Province);
        for (from, to) in [
            (Stage::Recommended, Stage::Examined),
            (Stage::InTraining, Stage::InPool),
            (Stage::Appointed, Stage::Dropped),
            (Stage::Dropped, Stage::Recommended),
            (Stage::InPool, Stage::Recommended),
        ] {
            match check_move(from, day, to, day, p) {
                Err(MoveError::Illegal(m)) => {
                    assert!(
                        m.contains(&format!(
                            "from {}",
                            from.as_str_name().trim_start_matches("RESERVE_STAGE_")
                        )),
                        "{m}"
                    );
                }
                other => panic!("{from:?}→{to:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_township_may_not_examine_nor_drop_an_examined_candidate() {
        let day = d("2025-03-01");
        let t = Some(Level::Township);
        let Err(MoveError::Denied(NeedsRole(m))) = check_move(Stage::Selected, day, Stage::Examined, day, t)
        else {
            panic!("township examined");
        };
        assert!(m.contains("county_admin"), "{m}");
        assert!(matches!(check_move(Stage::InPool, day, Stage::Dropped, day, t), Err(MoveError::Denied(_))));
        assert!(matches!(
            check_move(Stage::Recommended, day, Stage::Selected, day, None),
            Err(MoveError::Denied(_))
        ));
        assert!(check_may_create(None).is_err());
        assert!(check_may_create(t).is_ok());
    }

    #[test]
    fn dates_never_go_backwards() {
        let Err(MoveError::Invalid(e)) = check_move(
            Stage::Recommended,
            d("2025-03-01"),
            Stage::Selected,
            d("2025-02-01"),
            Some(Level::County),
        ) else {
            panic!("accepted an earlier date");
        };
        assert!(e.to_string().starts_with("date: 2025-02-01 is before"), "{e}");
    }

    #[test]
    fn the_stage_on_a_day_comes_from_the_history() {
        let h = [
            (Stage::Recommended, d("2025-01-01")),
            (Stage::Selected, d("2025-02-01")),
            (Stage::InPool, d("2025-04-01")),
        ];
        assert_eq!(stage_on(&h, d("2024-12-31")), None);
        assert_eq!(stage_on(&h, d("2025-02-15")), Some(Stage::Selected));
        assert_eq!(stage_on(&h, d("2025-04-01")), Some(Stage::InPool));
    }

    #[test]
    fn levels_come_from_the_highest_administrative_role() {
        assert_eq!(level_of([Role::Pii, Role::TownshipAdmin, Role::CountyAdmin]), Some(Level::County));
        assert_eq!(level_of([Role::Integration, Role::Auditor]), None);
    }
}
