//! Which scores a unit's sheet may hold: for villages the year assessed (frozen when
//! scoring opened) within the unit's scope, for indicators the scheme gives this unit
//! and that apply to the village's type, between 0 and the maximum there, each village
//! and indicator once. Every bad row is reported; one bad row refuses the sheet.

use std::collections::HashMap;

use super::points::show;
use super::scheme::SchemeBody;
use super::units::Scorer;
use super::{RowProblem, RuleError};

/// The most scores one sheet holds.
pub const MAX_SCORES: usize = 20_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreInput {
    pub village_code: String,
    pub indicator_code: String,
    /// Tenths.
    pub points: i32,
}

/// What the rules need of a frozen village.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearVillage {
    pub code: String,
    pub name: String,
    pub village_type: String,
}

/// One row of what a unit scores: a village of its scope, an indicator of its own that
/// applies there, and the maximum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormRow<'a> {
    pub village: &'a YearVillage,
    pub indicator_code: &'a str,
    pub indicator_name: &'a str,
    pub max_points: i32,
}

/// The unit's form, by village then in the scheme's order of indicators.
pub fn form<'a>(scheme: &'a SchemeBody, scope: &Scorer, villages: &'a [YearVillage]) -> Vec<FormRow<'a>> {
    let mine: Vec<_> = scheme.indicators().filter(|i| scope.scores(i)).collect();
    let mut rows = Vec::new();
    for v in villages.iter().filter(|v| scope.covers(&v.code)) {
        for ind in &mine {
            if let Some(max) = scheme.max_for(ind, &v.village_type) {
                rows.push(FormRow {
                    village: v,
                    indicator_code: &ind.code,
                    indicator_name: &ind.name,
                    max_points: max,
                });
            }
        }
    }
    rows
}

/// The sheet's scores if every row is good, else every row's problem.
pub fn check(
    scheme: &SchemeBody,
    scope: &Scorer,
    villages: &HashMap<String, YearVillage>,
    scores: &[ScoreInput],
) -> Result<(), RuleError> {
    if scores.len() > MAX_SCORES {
        return Err(RuleError::invalid(
            "scores",
            format!("at most {MAX_SCORES} per sheet, got {}", scores.len()),
        ));
    }
    let mut problems = Vec::new();
    let mut seen: HashMap<(&str, &str), usize> = HashMap::new();
    let mut refuse = |row: usize, column: &'static str, reason: String| {
        problems.push(RowProblem { row, column, reason });
    };
    for (row, s) in scores.iter().enumerate() {
        let Some(village) = villages.get(&s.village_code) else {
            refuse(
                row,
                "village_code",
                format!("{} is not a village assessed this year", bounded(&s.village_code)),
            );
            continue;
        };
        if !scope.covers(&village.code) {
            refuse(
                row,
                "village_code",
                format!("{} is outside this unit's scope ({})", village.code, scope.region),
            );
            continue;
        }
        let Some(ind) = scheme.indicator(&s.indicator_code) else {
            refuse(
                row,
                "indicator_code",
                format!("{} is not an indicator of the scheme", bounded(&s.indicator_code)),
            );
            continue;
        };
        if !scope.scores(ind) {
            refuse(row, "indicator_code", format!("{} is scored by another unit, not this one", ind.code));
            continue;
        }
        let Some(max) = scheme.max_for(ind, &village.village_type) else {
            refuse(
                row,
                "indicator_code",
                format!(
                    "{} does not apply to {} villages such as {}",
                    ind.code, village.village_type, village.code
                ),
            );
            continue;
        };
        if s.points < 0 {
            refuse(row, "points", "must not be negative".into());
            continue;
        }
        if s.points > max {
            refuse(
                row,
                "points",
                format!(
                    "{} is above the maximum {} of {} for {} villages",
                    show(s.points),
                    show(max),
                    ind.code,
                    village.village_type
                ),
            );
            continue;
        }
        if let Some(first) = seen.insert((village.code.as_str(), ind.code.as_str()), row) {
            refuse(
                row,
                "indicator_code",
                format!("{} of {} is scored already in row {first}", ind.code, village.code),
            );
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(RuleError::Rows(problems)) }
}

fn bounded(s: &str) -> String {
    format!("{:?}", cadre_kit::text::bounded(s, 40))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scheme::tests::scheme;
    use crate::domain::scheme::validate;
    use crate::domain::units::UnitKind;

    fn villages() -> HashMap<String, YearVillage> {
        [("150525100201", "ordinary"), ("150525100202", "demonstration"), ("150525101201", "ordinary")]
            .into_iter()
            .map(|(c, t)| {
                (c.to_string(), YearVillage { code: c.into(), name: c.into(), village_type: t.into() })
            })
            .collect()
    }

    fn score(village: &str, indicator: &str, points: i32) -> ScoreInput {
        ScoreInput { village_code: village.into(), indicator_code: indicator.into(), points }
    }

    fn township() -> Scorer {
        Scorer { unit_id: "dqtl".into(), kind: UnitKind::Township, region: "150525100000".into() }
    }

    #[test]
    fn a_township_scores_its_own_indicator_in_its_own_villages() {
        let s = validate(&scheme()).unwrap();
        assert!(check(&s, &township(), &villages(), &[score("150525100201", "A02", 40)]).is_ok());
    }

    #[test]
    fn every_bad_row_is_named_and_one_refuses_the_sheet() {
        let s = validate(&scheme()).unwrap();
        let rows = [
            score("150525100201", "A02", 35),
            score("150525100201", "A01", 10), // the agency's indicator
            score("150525101201", "A02", 10), // next door's village (another township)
            score("150526100201", "A02", 10), // another county: not assessed here
            score("150525100202", "A02", 10), // left out of demonstration villages
            score("150525100201", "A02", 41), // above the maximum (and a repeat)
            score("150525100201", "A09", 1),
        ];
        let Err(RuleError::Rows(problems)) = check(&s, &township(), &villages(), &rows) else {
            panic!("refused")
        };
        let got: Vec<(usize, &str)> = problems.iter().map(|p| (p.row, p.column)).collect();
        assert_eq!(
            got,
            [
                (1, "indicator_code"),
                (2, "village_code"),
                (3, "village_code"),
                (4, "indicator_code"),
                (5, "points"),
                (6, "indicator_code")
            ]
        );
        assert!(problems[0].reason.contains("another unit"), "{problems:?}");
        assert!(problems[1].reason.contains("outside this unit's scope"), "{problems:?}");
        assert!(problems[4].reason.contains("4.1 is above the maximum 4.0"), "{problems:?}");
        let err = RuleError::Rows(problems).to_string();
        assert!(err.starts_with("6 row(s) refused; first: scores[1].indicator_code:"), "{err}");
    }

    #[test]
    fn a_score_given_twice_is_refused() {
        let s = validate(&scheme()).unwrap();
        let rows = [score("150525100201", "A02", 1), score("150525100201", "A02", 2)];
        let Err(RuleError::Rows(p)) = check(&s, &township(), &villages(), &rows) else { panic!() };
        assert_eq!((p[0].row, p.len()), (1, 1));
    }

    #[test]
    fn the_form_lists_what_the_unit_scores_with_each_types_maximum() {
        let s = validate(&scheme()).unwrap();
        let mut vs: Vec<YearVillage> = villages().into_values().collect();
        vs.sort_by(|a, b| a.code.cmp(&b.code));
        let agency =
            Scorer { unit_id: "agency".into(), kind: UnitKind::Agency, region: "150525000000".into() };
        let rows: Vec<(&str, &str, i32)> = form(&s, &agency, &vs)
            .iter()
            .map(|r| (r.village.code.as_str(), r.indicator_code, r.max_points))
            .collect();
        assert_eq!(
            rows,
            [("150525100201", "A01", 60), ("150525100202", "A01", 100), ("150525101201", "A01", 60)]
        );
        assert_eq!(form(&s, &township(), &vs).len(), 1, "A02 is left out of demonstration villages");
    }
}
