//! Enrolment in a session: a place while places last, else the waitlist; a withdrawal
//! frees a place for the first on the waitlist who still serves; who may be enrolled.

use cadre_proto::training::v1::EnrolmentState as State;

use crate::error::TrainingError;

pub fn state_name(s: State) -> &'static str {
    s.as_str_name().trim_start_matches("ENROLMENT_STATE_")
}

/// Whether an enrolment may move from `from` to `to` (a withdrawn cadre may join again,
/// at the end of the queue).
pub fn may_move(from: State, to: State) -> bool {
    use State::*;
    matches!(
        (from, to),
        (Waitlisted, Enrolled) | (Enrolled | Waitlisted, Withdrawn) | (Withdrawn, Enrolled | Waitlisted)
    )
}

pub fn check_move(id: &str, from: State, to: State) -> Result<(), TrainingError> {
    if may_move(from, to) {
        Ok(())
    } else {
        Err(TrainingError::IllegalMove {
            what: "enrolment",
            id: id.to_string(),
            from: state_name(from),
            to: state_name(to),
        })
    }
}

/// Where a newcomer goes: a place if one is free, else the waitlist.
pub fn placement(enrolled: i64, capacity: i64) -> State {
    if enrolled < capacity { State::Enrolled } else { State::Waitlisted }
}

/// One waiting on the list, in queue order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub cadre_id: String,
    /// Training's copy of the roster says they hold no post any more.
    pub left_roster: bool,
}

/// Whom `free` places go to: the first of `queue` (in order) who still serve. Those who
/// left the roster stay on the list, passed over.
pub fn promote(queue: &[Waiting], free: i64) -> Vec<String> {
    queue
        .iter()
        .filter(|w| !w.left_roster)
        .take(usize::try_from(free).unwrap_or(0))
        .map(|w| w.cadre_id.clone())
        .collect()
}

/// Why a cadre of the roster's copy may not be enrolled, if so: they hold no post.
pub fn serving(post_kinds: &[i32]) -> Result<(), &'static str> {
    if post_kinds.is_empty() {
        Err("holds no post in the roster (dismissed, resigned or term ended)")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_then_the_waitlist_and_never_over_capacity() {
        assert_eq!(placement(0, 2), State::Enrolled);
        assert_eq!(placement(1, 2), State::Enrolled);
        assert_eq!(placement(2, 2), State::Waitlisted);
        assert_eq!(placement(3, 2), State::Waitlisted, "after the capacity was lowered");
    }

    #[test]
    fn a_freed_place_goes_to_the_first_who_still_serves() {
        let w = |id: &str, left| Waiting { cadre_id: id.into(), left_roster: left };
        let queue = [w("a", true), w("b", false), w("c", false)];
        assert_eq!(promote(&queue, 1), ["b"]);
        assert_eq!(promote(&queue, 5), ["b", "c"]);
        assert!(promote(&queue, 0).is_empty());
        assert!(promote(&queue, -1).is_empty());
    }

    #[test]
    fn withdrawn_may_join_again_and_the_refusal_names_from_and_to() {
        assert!(may_move(State::Withdrawn, State::Waitlisted));
        assert!(!may_move(State::Enrolled, State::Waitlisted));
        let err = check_move("e1", State::Withdrawn, State::Withdrawn).unwrap_err().to_string();
        assert_eq!(err, "enrolment e1 is WITHDRAWN; it cannot move to WITHDRAWN");
        assert!(serving(&[]).is_err() && serving(&[1]).is_ok());
    }
}
