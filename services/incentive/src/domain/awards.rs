//! The award lifecycle: declared → reviewed → approved → paid, or rejected / cancelled,
//! and who may take each step. The choice: a township (or the county) declares for its
//! villages; the department that holds the pool's budget — administrators at the pool's
//! own level, the county for a county pool — reviews, approves, rejects and records
//! payment; a declared award may also be withdrawn (cancelled) by a township.

use cadre_kit::region_code::RegionLevel;
use cadre_proto::incentive::v1::AwardState;

/// A step of the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Review,
    Approve,
    Reject,
    Cancel,
    Pay,
}

impl Step {
    /// The state the step leads to.
    pub fn target(self) -> AwardState {
        match self {
            Step::Review => AwardState::Reviewed,
            Step::Approve => AwardState::Approved,
            Step::Reject => AwardState::Rejected,
            Step::Cancel => AwardState::Cancelled,
            Step::Pay => AwardState::Paid,
        }
    }

    /// Whether the step needs a note (the reason).
    pub fn needs_note(self) -> bool {
        matches!(self, Step::Reject | Step::Cancel)
    }
}

/// Why a move is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The lifecycle does not allow from → to.
    Illegal { from: &'static str, to: &'static str },
    /// The caller's level may not take this step.
    Level(String),
}

/// The state after `step` from `from`, if the lifecycle allows it.
pub fn next(from: AwardState, step: Step) -> Result<AwardState, Refusal> {
    use AwardState as S;
    let allowed = match step {
        Step::Review => from == S::Declared,
        Step::Approve => from == S::Reviewed,
        Step::Reject => matches!(from, S::Declared | S::Reviewed),
        Step::Cancel => matches!(from, S::Declared | S::Reviewed | S::Approved),
        Step::Pay => from == S::Approved,
    };
    if allowed {
        Ok(step.target())
    } else {
        Err(Refusal::Illegal { from: from.as_str_name(), to: step.target().as_str_name() })
    }
}

/// Whether a caller whose jurisdiction is at `caller` may take `step` from `from` on an
/// award drawing on a pool kept at `pool` (the jurisdiction itself is checked apart).
pub fn may(step: Step, from: AwardState, caller: RegionLevel, pool: RegionLevel) -> Result<(), Refusal> {
    let holder = caller == pool;
    let ok = match step {
        Step::Cancel if from == AwardState::Declared => holder || caller == RegionLevel::Township,
        _ => holder,
    };
    if ok {
        Ok(())
    } else {
        Err(Refusal::Level(format!(
            "{} → {} is for the {} that holds the pool's budget, not a {} caller",
            from.as_str_name(),
            step.target().as_str_name(),
            pool.name(),
            caller.name()
        )))
    }
}

/// Whether a caller at `caller` may declare awards (a township or a county).
pub fn may_declare(caller: RegionLevel) -> Result<(), Refusal> {
    match caller {
        RegionLevel::Township | RegionLevel::County => Ok(()),
        other => Err(Refusal::Level(format!(
            "awards are declared by townships and counties, not a {}",
            other.name()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AwardState as S;
    use RegionLevel as L;

    #[test]
    fn an_award_goes_declared_reviewed_approved_paid() {
        let mut state = S::Declared;
        for step in [Step::Review, Step::Approve, Step::Pay] {
            state = next(state, step).unwrap();
        }
        assert_eq!(state, S::Paid);
    }

    #[test]
    fn illegal_moves_name_from_and_to() {
        assert_eq!(
            next(S::Paid, Step::Cancel).unwrap_err(),
            Refusal::Illegal { from: "AWARD_STATE_PAID", to: "AWARD_STATE_CANCELLED" }
        );
        assert!(next(S::Declared, Step::Approve).is_err(), "approval needs a review first");
        assert!(next(S::Paid, Step::Pay).is_err(), "paid once");
        assert!(next(S::Approved, Step::Reject).is_err());
        assert!(next(S::Rejected, Step::Review).is_err());
    }

    #[test]
    fn the_township_declares_and_the_county_decides() {
        assert!(may_declare(L::Township).is_ok() && may_declare(L::County).is_ok());
        assert!(may_declare(L::Province).is_err());
        assert!(may(Step::Approve, S::Reviewed, L::County, L::County).is_ok());
        let Refusal::Level(why) = may(Step::Approve, S::Reviewed, L::Township, L::County).unwrap_err() else {
            panic!()
        };
        assert!(why.contains("county") && why.contains("township"), "{why}");
        assert!(may(Step::Approve, S::Reviewed, L::Province, L::County).is_err(), "not the budget holder");
        assert!(may(Step::Cancel, S::Declared, L::Township, L::County).is_ok(), "a township withdraws");
        assert!(may(Step::Cancel, S::Approved, L::Township, L::County).is_err());
    }
}
