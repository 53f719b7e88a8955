//! The phases of a county's assessment year and the moves between them: draft →
//! scoring open → scoring closed → computed → public notice → final. Sheets are
//! taken only while scoring is open; a scheme is in use from the moment scoring opens.

use super::RuleError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Draft,
    ScoringOpen,
    ScoringClosed,
    Computed,
    Notice,
    Final,
}

impl Phase {
    /// The name the API uses (`cadre.assessment.v1.Phase` without its prefix).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Draft => "DRAFT",
            Phase::ScoringOpen => "SCORING_OPEN",
            Phase::ScoringClosed => "SCORING_CLOSED",
            Phase::Computed => "COMPUTED",
            Phase::Notice => "NOTICE",
            Phase::Final => "FINAL",
        }
    }

    /// Whether its scheme is in use: edits make a new version instead of changing it.
    pub fn scheme_in_use(self) -> bool {
        self != Phase::Draft
    }
}

/// Whether the year `what` may move from `from` to `to`.
pub fn check_move(what: &str, from: Phase, to: Phase) -> Result<(), RuleError> {
    match (from, to) {
        (Phase::Draft, Phase::ScoringOpen)
        | (Phase::ScoringOpen, Phase::ScoringClosed)
        | (Phase::ScoringClosed, Phase::Computed)
        | (Phase::Computed, Phase::Notice)
        | (Phase::Notice, Phase::Final) => Ok(()),
        _ => Err(RuleError::IllegalMove { what: what.to_string(), from: from.as_str(), to: to.as_str() }),
    }
}

/// The rules and list events may change until the year is computed; the refusal names the phase.
pub fn accepts_rules(what: &str, phase: Phase) -> Result<(), RuleError> {
    if phase < Phase::Computed {
        Ok(())
    } else {
        Err(RuleError::invalid_phase(what, phase, "the rules and list events change only before COMPUTED"))
    }
}

/// Sheets are accepted only while scoring is open; the refusal names the phase.
pub fn accepts_sheets(what: &str, phase: Phase) -> Result<(), RuleError> {
    if phase == Phase::ScoringOpen {
        Ok(())
    } else {
        Err(RuleError::NotScoring { what: what.to_string(), phase: phase.as_str() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_year_opens_then_closes_and_never_goes_back() {
        assert!(check_move("y", Phase::Draft, Phase::ScoringOpen).is_ok());
        assert!(check_move("y", Phase::ScoringOpen, Phase::ScoringClosed).is_ok());
        let err = check_move("150525000000/2026", Phase::ScoringClosed, Phase::ScoringOpen).unwrap_err();
        assert_eq!(err.to_string(), "150525000000/2026 is SCORING_CLOSED; it cannot move to SCORING_OPEN");
        assert!(check_move("y", Phase::Draft, Phase::ScoringClosed).is_err());
        assert!(check_move("y", Phase::ScoringOpen, Phase::ScoringOpen).is_err());
    }

    #[test]
    fn sheets_only_while_scoring_is_open_naming_the_phase() {
        assert!(accepts_sheets("y", Phase::ScoringOpen).is_ok());
        let err = accepts_sheets("y", Phase::ScoringClosed).unwrap_err().to_string();
        assert!(err.contains("SCORING_CLOSED"), "{err}");
        assert!(accepts_sheets("y", Phase::Draft).unwrap_err().to_string().contains("DRAFT"));
        assert!(!Phase::Draft.scheme_in_use() && Phase::ScoringOpen.scheme_in_use());
    }
}
