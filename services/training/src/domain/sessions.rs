//! Sessions (期次): what a new session must hold (an organiser region at its level,
//! sittings that do not overlap one another, a capacity, sign-in settings), the session
//! lifecycle, and when two sessions' sittings clash.

use cadre_kit::fields::{self, FieldError};
use cadre_kit::{RegionCode, RegionLevel, dates};
use cadre_proto::training::v1::{OrganiserLevel, Session, SessionState as State};
use chrono::{NaiveDate, NaiveTime};

use super::orders::{format_time, time};
use crate::error::TrainingError;

pub const MAX_SITTINGS: usize = 60;
pub const MAX_CAPACITY: i32 = 2_000;
pub const DEFAULT_CODE_STEP_SECONDS: i32 = 60;
pub const DEFAULT_OPENS_MINUTES: i32 = 30;

pub fn state_name(s: State) -> &'static str {
    s.as_str_name().trim_start_matches("SESSION_STATE_")
}

/// Whether a session may move from `from` to `to`.
pub fn may_move(from: State, to: State) -> bool {
    use State::*;
    matches!(
        (from, to),
        (Open, Closed) | (Closed, Open) | (Open | Closed, Finished) | (Open | Closed, Cancelled)
    )
}

pub fn check_move(id: &str, from: State, to: State) -> Result<(), TrainingError> {
    if may_move(from, to) {
        Ok(())
    } else {
        Err(TrainingError::IllegalMove {
            what: "session",
            id: id.to_string(),
            from: state_name(from),
            to: state_name(to),
        })
    }
}

/// Whether trainees may still sign in (the session is neither over nor called off).
pub fn signs_in(s: State) -> bool {
    matches!(s, State::Open | State::Closed)
}

/// One sitting: a day, a time and a place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub date: NaiveDate,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub place: String,
}

impl Slot {
    pub fn overlaps(&self, other: &Slot) -> bool {
        self.date == other.date && self.start < other.end && other.start < self.end
    }

    /// "2026-05-20 09:00–11:30"
    pub fn when(&self) -> String {
        format!("{} {}–{}", dates::format(self.date), format_time(self.start), format_time(self.end))
    }

    /// A stored sitting; `None` if its stored text is not a date and times.
    pub fn stored(date: &str, start: &str, end: &str, place: &str) -> Option<Slot> {
        Some(Slot {
            date: dates::parse_stored(date)?,
            start: time("start_time", start).ok()?,
            end: time("end_time", end).ok()?,
            place: place.to_string(),
        })
    }
}

/// A new session's fields, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSession {
    pub title: String,
    pub level: OrganiserLevel,
    pub organiser: RegionCode,
    pub course_id: Option<String>,
    pub teacher_id: Option<String>,
    pub order_id: Option<String>,
    pub capacity: i32,
    /// In date and time order.
    pub sittings: Vec<Slot>,
    pub code_step_seconds: i32,
    pub opens_minutes: i32,
    /// As given (checked against the sittings when the session is created).
    pub completion_rule: Option<cadre_proto::training::v1::CompletionRule>,
}

impl NewSession {
    pub fn year(&self) -> i32 {
        use chrono::Datelike;
        self.sittings.first().map_or(0, |s| s.date.year())
    }
}

/// The region level an organiser level organises at.
pub fn level_of(level: OrganiserLevel) -> Option<RegionLevel> {
    match level {
        OrganiserLevel::City => Some(RegionLevel::City),
        OrganiserLevel::County => Some(RegionLevel::County),
        OrganiserLevel::Township => Some(RegionLevel::Township),
        OrganiserLevel::Unspecified => None,
    }
}

fn optional_id(field: &str, s: &str) -> Result<Option<String>, FieldError> {
    if s.trim().is_empty() { Ok(None) } else { Ok(Some(fields::required_id(field, s)?.to_string())) }
}

/// `prefix` is the request field holding the session (`session`).
pub fn validate_new(prefix: &str, s: &Session) -> Result<NewSession, TrainingError> {
    let f = |name: &str| format!("{prefix}.{name}");
    let title = fields::text(&f("title"), &s.title, true, 100)?;
    let level =
        fields::required_enum::<OrganiserLevel>(&f("organiser_level"), s.organiser_level, "organiser level")?;
    let organiser = fields::region(&f("organiser_region_code"), &s.organiser_region_code)?;
    let wanted =
        level_of(level).ok_or_else(|| TrainingError::invalid(&f("organiser_level"), "is required"))?;
    if organiser.level() != wanted {
        return Err(TrainingError::invalid(
            &f("organiser_region_code"),
            format!(
                "{organiser} is a {}, but a {} organises at the {} level",
                organiser.level().name(),
                level.as_str_name().trim_start_matches("ORGANISER_LEVEL_").to_lowercase(),
                wanted.name()
            ),
        ));
    }
    let order_id = optional_id(&f("order_id"), &s.order_id)?;
    let course_id = optional_id(&f("course_id"), &s.course_id)?;
    if course_id.is_none() && order_id.is_none() {
        return Err(TrainingError::invalid(&f("course_id"), "is required (or an order_id to take it from)"));
    }
    if !(1..=MAX_CAPACITY).contains(&s.capacity) {
        return Err(TrainingError::invalid(
            &f("capacity"),
            format!("must be within 1..={MAX_CAPACITY}, got {}", s.capacity),
        ));
    }
    let code_step_seconds = match s.code_step_seconds {
        0 => DEFAULT_CODE_STEP_SECONDS,
        n @ 15..=600 => n,
        n => {
            return Err(TrainingError::invalid(
                &f("code_step_seconds"),
                format!("must be within 15..=600, got {n}"),
            ));
        }
    };
    let opens_minutes = match s.sign_in_opens_minutes {
        0 => DEFAULT_OPENS_MINUTES,
        n @ 1..=240 => n,
        n => {
            return Err(TrainingError::invalid(
                &f("sign_in_opens_minutes"),
                format!("must be within 0..=240, got {n}"),
            ));
        }
    };
    Ok(NewSession {
        title,
        level,
        organiser,
        course_id,
        teacher_id: optional_id(&f("teacher_id"), &s.teacher_id)?,
        order_id,
        capacity: s.capacity,
        sittings: validate_sittings(&f("sittings"), s)?,
        code_step_seconds,
        opens_minutes,
        completion_rule: s.completion_rule,
    })
}

fn validate_sittings(field: &str, s: &Session) -> Result<Vec<Slot>, TrainingError> {
    if s.sittings.is_empty() || s.sittings.len() > MAX_SITTINGS {
        return Err(TrainingError::invalid(
            field,
            format!("must hold 1 to {MAX_SITTINGS} sittings, got {}", s.sittings.len()),
        ));
    }
    let mut slots = Vec::with_capacity(s.sittings.len());
    for (i, sitting) in s.sittings.iter().enumerate() {
        let f = |name: &str| format!("{field}[{i}].{name}");
        let date = dates::parse(&f("date"), &sitting.date)?;
        let (start, end) =
            (time(&f("start_time"), &sitting.start_time)?, time(&f("end_time"), &sitting.end_time)?);
        if end <= start {
            return Err(TrainingError::invalid(
                &f("end_time"),
                format!("must be after start_time {}", format_time(start)),
            ));
        }
        slots.push((
            i,
            Slot { date, start, end, place: fields::text(&f("place"), &sitting.place, true, 200)? },
        ));
    }
    slots.sort_by_key(|(_, s)| (s.date, s.start));
    for pair in slots.windows(2) {
        let ((_, a), (j, b)) = (&pair[0], &pair[1]);
        if a.overlaps(b) {
            return Err(TrainingError::invalid(
                &format!("{field}[{j}]"),
                format!("{} overlaps another sitting of the session ({})", b.when(), a.when()),
            ));
        }
    }
    Ok(slots.into_iter().map(|(_, s)| s).collect())
}

/// A sitting of another session a cadre is in (enrolled or waitlisted).
#[derive(Debug, Clone, PartialEq)]
pub struct Booked {
    pub session_id: String,
    pub title: String,
    pub slot: Slot,
}

/// The first of `theirs` that overlaps one of `mine`, said as the refusal reads:
/// `in session S "title" at the same time (2026-05-20 09:00–11:30)`.
pub fn clash(mine: &[Slot], theirs: &[Booked]) -> Option<String> {
    theirs.iter().find(|b| mine.iter().any(|m| m.overlaps(&b.slot))).map(|b| {
        format!("enrolled in session {} \"{}\" at the same time ({})", b.session_id, b.title, b.slot.when())
    })
}

/// When a session's last sitting ends (it may finish only after that).
pub fn last_end(slots: &[Slot]) -> Option<chrono::NaiveDateTime> {
    slots.iter().map(|s| s.date.and_time(s.end)).max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadre_proto::training::v1::Sitting;

    fn sitting(date: &str, start: &str, end: &str) -> Sitting {
        Sitting {
            date: date.into(),
            start_time: start.into(),
            end_time: end.into(),
            place: "旗委党校".into(),
            ..Default::default()
        }
    }

    fn session(sittings: Vec<Sitting>) -> Session {
        Session {
            title: "村党组织书记集中轮训".into(),
            organiser_level: OrganiserLevel::County as i32,
            organiser_region_code: "150525000000".into(),
            course_id: "c1".into(),
            capacity: 60,
            sittings,
            ..Default::default()
        }
    }

    #[test]
    fn a_session_is_organised_at_its_level_with_sittings_in_order() {
        let s = validate_new(
            "session",
            &session(vec![sitting("2026-05-21", "09:00", "11:30"), sitting("2026-05-20", "14:00", "17:00")]),
        )
        .unwrap();
        assert_eq!(s.sittings[0].date.to_string(), "2026-05-20", "sorted");
        assert_eq!((s.code_step_seconds, s.opens_minutes, s.year()), (60, 30, 2026), "defaults");
        let township = Session { organiser_level: OrganiserLevel::Township as i32, ..session(vec![]) };
        let err = validate_new("session", &township).unwrap_err().to_string();
        assert!(err.starts_with("session.organiser_region_code:") && err.contains("county"), "{err}");
    }

    #[test]
    fn sittings_of_one_session_may_not_overlap_and_each_field_is_named() {
        let err = validate_new(
            "session",
            &session(vec![sitting("2026-05-20", "09:00", "11:30"), sitting("2026-05-20", "11:00", "12:00")]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("session.sittings[1]:") && err.contains("overlaps"), "{err}");
        let err = validate_new("session", &session(vec![sitting("2026-05-20", "11:00", "09:00")]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("session.sittings[0].end_time:"), "{err}");
        let err = validate_new("session", &session(vec![])).unwrap_err().to_string();
        assert!(err.starts_with("session.sittings:"), "{err}");
        let big = Session { capacity: 2_001, ..session(vec![sitting("2026-05-20", "09:00", "10:00")]) };
        assert!(validate_new("session", &big).unwrap_err().to_string().starts_with("session.capacity:"));
        let fast = Session { code_step_seconds: 5, ..session(vec![sitting("2026-05-20", "09:00", "10:00")]) };
        assert!(
            validate_new("session", &fast).unwrap_err().to_string().starts_with("session.code_step_seconds:")
        );
    }

    #[test]
    fn the_lifecycle_says_from_and_to_when_it_refuses() {
        assert!(may_move(State::Open, State::Closed) && may_move(State::Closed, State::Open));
        assert!(may_move(State::Closed, State::Cancelled));
        assert!(!may_move(State::Finished, State::Open));
        assert!(!may_move(State::Cancelled, State::Open));
        let err = check_move("s1", State::Cancelled, State::Finished).unwrap_err().to_string();
        assert_eq!(err, "session s1 is CANCELLED; it cannot move to FINISHED");
        assert!(signs_in(State::Closed) && !signs_in(State::Finished));
    }

    #[test]
    fn sessions_clash_when_any_sittings_overlap_on_the_same_day() {
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let t = |s| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        let slot = |day, a, b| Slot { date: d(day), start: t(a), end: t(b), place: String::new() };
        let mine = [slot("2026-05-20", "09:00", "11:30"), slot("2026-05-22", "09:00", "11:30")];
        let other =
            |day, a, b| Booked {
                session_id: "s2".into(), title: "电商培训".into(), slot: slot(day, a, b)
            };
        assert_eq!(clash(&mine, &[other("2026-05-20", "11:30", "12:00")]), None, "back to back is fine");
        assert_eq!(clash(&mine, &[other("2026-05-21", "09:00", "11:30")]), None, "another day");
        let why = clash(&mine, &[other("2026-05-22", "11:00", "12:00")]).unwrap();
        assert_eq!(why, "enrolled in session s2 \"电商培训\" at the same time (2026-05-22 11:00–12:00)");
    }
}
