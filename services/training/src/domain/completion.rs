//! Who completes a session: the rule (a percentage of the sittings or a minimum count)
//! and the evaluation of one trainee against it.
//!
//! Rounding: none. "At least 80 %" is read exactly, as integers (`attended × 100 ≥
//! percent × sittings`), so the sittings required are the smallest whole number that
//! reaches the percentage: 80 % of 3 is 2.4, so 3 (2 of 3 is 66.7 %, below 80 %). The
//! trainee is never credited below the configured share, and the note says how many
//! sittings the rule needed, so nobody is failed silently either.

use crate::error::TrainingError;

pub const DEFAULT_MIN_PERCENT: i32 = 80;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// At least this share of the sittings (1–100).
    Percent(i32),
    /// At least this many sittings (1 up to the session's sittings).
    MinSittings(i32),
}

impl Rule {
    /// From the request's two fields (both 0: `None`, the organiser's default), checked
    /// against the session's number of sittings.
    pub fn from_fields(
        field: &str,
        min_percent: i32,
        min_sittings: i32,
        sittings: usize,
    ) -> Result<Option<Rule>, TrainingError> {
        match (min_percent, min_sittings) {
            (0, 0) => Ok(None),
            (p, 0) if (1..=100).contains(&p) => Ok(Some(Rule::Percent(p))),
            (p, 0) => Err(TrainingError::invalid(
                &format!("{field}.min_percent"),
                format!("must be within 1..=100, got {p}"),
            )),
            (0, n) if n >= 1 && n as usize <= sittings => Ok(Some(Rule::MinSittings(n))),
            (0, n) => Err(TrainingError::invalid(
                &format!("{field}.min_sittings"),
                format!("must be within 1..={sittings} (the session's sittings), got {n}"),
            )),
            _ => Err(TrainingError::invalid(field, "give min_percent or min_sittings, not both")),
        }
    }

    /// As stored: (percent, sittings), one of them 0.
    pub fn stored(percent: i64, sittings: i64) -> Rule {
        if sittings > 0 { Rule::MinSittings(sittings as i32) } else { Rule::Percent(percent as i32) }
    }

    pub fn columns(self) -> (i64, i64) {
        match self {
            Rule::Percent(p) => (i64::from(p), 0),
            Rule::MinSittings(n) => (0, i64::from(n)),
        }
    }

    /// The sittings a trainee must attend out of `sittings`.
    pub fn required(self, sittings: i64) -> i64 {
        match self {
            // The smallest n with n × 100 ≥ p × sittings.
            Rule::Percent(p) => (i64::from(p) * sittings + 99) / 100,
            Rule::MinSittings(n) => i64::from(n),
        }
    }

    pub fn describe(self) -> String {
        match self {
            Rule::Percent(p) => format!("{p} % of the sittings"),
            Rule::MinSittings(n) => format!("{n} sittings"),
        }
    }
}

/// One trainee, evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub attended: i64,
    pub sittings: i64,
    pub required: i64,
    pub completed: bool,
    /// Why not completed, in words; empty when completed.
    pub note: String,
}

/// Whether a trainee who signed in at `attended` of `sittings` sittings completed.
/// A session without sittings completes nobody (there was nothing to attend).
pub fn evaluate(rule: Rule, attended: i64, sittings: i64) -> Evaluation {
    let attended = attended.clamp(0, sittings.max(0));
    if sittings <= 0 {
        return Evaluation {
            attended: 0,
            sittings: 0,
            required: 0,
            completed: false,
            note: "the session had no sittings".into(),
        };
    }
    let required = rule.required(sittings);
    let completed = attended >= required;
    let note = if completed {
        String::new()
    } else {
        format!("attended {attended} of {sittings} sittings; the rule ({}) needs {required}", rule.describe())
    };
    Evaluation { attended, sittings, required, completed, note }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eighty_percent_of_five_sittings_is_four() {
        let rule = Rule::Percent(80);
        assert!(evaluate(rule, 4, 5).completed);
        let three = evaluate(rule, 3, 5);
        assert!(!three.completed);
        assert_eq!(three.required, 4);
        assert_eq!(three.note, "attended 3 of 5 sittings; the rule (80 % of the sittings) needs 4");
    }

    #[test]
    fn a_share_is_never_rounded_down_in_the_trainees_favour() {
        // 80 % of 3 = 2.4: two of three (66.7 %) is not enough.
        assert_eq!(Rule::Percent(80).required(3), 3);
        assert!(!evaluate(Rule::Percent(80), 2, 3).completed);
        // Exactly on the share is enough: 50 % of 4 is 2.
        assert_eq!(Rule::Percent(50).required(4), 2);
        assert!(evaluate(Rule::Percent(50), 2, 4).completed);
        // 1 % of one sitting still needs that sitting; 100 % needs all.
        assert_eq!(Rule::Percent(1).required(1), 1);
        assert_eq!(Rule::Percent(100).required(7), 7);
    }

    #[test]
    fn a_minimum_count_is_a_count() {
        assert!(evaluate(Rule::MinSittings(2), 2, 6).completed);
        assert!(!evaluate(Rule::MinSittings(2), 1, 6).completed);
    }

    #[test]
    fn no_sittings_completes_nobody_and_attendance_cannot_exceed_the_sittings() {
        let none = evaluate(Rule::Percent(80), 0, 0);
        assert!(!none.completed);
        assert_eq!(none.note, "the session had no sittings");
        assert_eq!(evaluate(Rule::Percent(80), 9, 2).attended, 2);
        assert!(!evaluate(Rule::Percent(80), -1, 2).completed);
    }

    #[test]
    fn the_rule_is_one_of_two_fields_within_bounds() {
        assert_eq!(Rule::from_fields("r", 0, 0, 3).unwrap(), None);
        assert_eq!(Rule::from_fields("r", 80, 0, 3).unwrap(), Some(Rule::Percent(80)));
        assert_eq!(Rule::from_fields("r", 0, 3, 3).unwrap(), Some(Rule::MinSittings(3)));
        let e = Rule::from_fields("r", 0, 4, 3).unwrap_err().to_string();
        assert!(e.starts_with("r.min_sittings: must be within 1..=3"), "{e}");
        assert!(Rule::from_fields("r", 101, 0, 3).unwrap_err().to_string().starts_with("r.min_percent"));
        assert!(Rule::from_fields("r", -5, 0, 3).is_err());
        assert!(Rule::from_fields("r", 80, 2, 3).unwrap_err().to_string().starts_with("r: give"));
        assert_eq!(Rule::stored(80, 0), Rule::Percent(80));
        assert_eq!(Rule::stored(0, 2).columns(), (0, 2));
    }
}
