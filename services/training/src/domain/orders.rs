//! The order lifecycle (点单式): submitted → matched → scheduled → delivered, declined
//! from any state before delivered; a matched order may be matched again and a
//! scheduled one scheduled again. What each step must carry.

use cadre_kit::fields::{self, FieldError};
use cadre_kit::{RegionCode, RegionLevel, dates};
use cadre_proto::training::v1::OrderState as State;
use chrono::{NaiveDate, NaiveTime};

use crate::error::TrainingError;

pub fn state_name(s: State) -> &'static str {
    s.as_str_name().trim_start_matches("ORDER_STATE_")
}

/// Whether an order may move from `from` to `to`.
pub fn may_move(from: State, to: State) -> bool {
    use State::*;
    matches!(
        (from, to),
        (Submitted, Matched)
            | (Matched, Matched)
            | (Matched, Scheduled)
            | (Scheduled, Scheduled)
            | (Scheduled, Delivered)
            | (Submitted | Matched | Scheduled, Declined)
    )
}

/// The move, or why not: "order X is DELIVERED; it cannot move to MATCHED".
pub fn check_move(id: &str, from: State, to: State) -> Result<(), TrainingError> {
    if may_move(from, to) {
        Ok(())
    } else {
        Err(TrainingError::IllegalMove {
            what: "order",
            id: id.to_string(),
            from: state_name(from),
            to: state_name(to),
        })
    }
}

/// Whether an order is still waiting for the county (not yet scheduled).
pub fn is_waiting(s: State) -> bool {
    matches!(s, State::Submitted | State::Matched)
}

/// A submitted order's own fields, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOrder {
    pub region: RegionCode,
    pub county: RegionCode,
    pub course_id: String,
    pub year: i32,
    pub note: String,
    pub preferred_date: Option<NaiveDate>,
    pub expected_trainees: i32,
}

pub fn validate_new(prefix: &str, o: &cadre_proto::training::v1::Order) -> Result<NewOrder, TrainingError> {
    let f = |name: &str| format!("{prefix}.{name}");
    let region = fields::region(&f("region_code"), &o.region_code)?;
    if !matches!(region.level(), RegionLevel::Village | RegionLevel::Township) {
        return Err(TrainingError::invalid(
            &f("region_code"),
            format!("{region} is a {}: a village or township orders", region.level().name()),
        ));
    }
    let county = region
        .ancestor_at(RegionLevel::County)
        .ok_or_else(|| TrainingError::invalid(&f("region_code"), "has no county"))?;
    let preferred_date = if o.preferred_date.trim().is_empty() {
        None
    } else {
        Some(dates::parse(&f("preferred_date"), &o.preferred_date)?)
    };
    if !(1..=1000).contains(&o.expected_trainees) {
        return Err(TrainingError::invalid(
            &f("expected_trainees"),
            format!("must be within 1..=1000, got {}", o.expected_trainees),
        ));
    }
    Ok(NewOrder {
        region,
        county,
        course_id: fields::required_id(&f("course_id"), &o.course_id)?.to_string(),
        year: fields::year(&f("year"), o.year)?,
        note: fields::text(&f("note"), &o.note, false, 500)?,
        preferred_date,
        expected_trainees: o.expected_trainees,
    })
}

/// When and where a session is held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub date: NaiveDate,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub place: String,
}

pub fn time(field: &str, s: &str) -> Result<NaiveTime, FieldError> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").map_err(|_| {
        FieldError::new(field, format!("{:?} is not a time like 09:30", cadre_kit::text::bounded(s, 20)))
    })
}

pub fn format_time(t: NaiveTime) -> String {
    t.format("%H:%M").to_string()
}

pub fn validate_slot(date: &str, start: &str, end: &str, place: &str) -> Result<Slot, TrainingError> {
    let date = dates::parse("date", date)?;
    let (start, end) = (time("start_time", start)?, time("end_time", end)?);
    if end <= start {
        return Err(TrainingError::invalid(
            "end_time",
            format!("must be after start_time {}", format_time(start)),
        ));
    }
    Ok(Slot { date, start, end, place: fields::text("place", place, true, 200)? })
}

/// A delivery: on or after the scheduled day, not in the future; attendees within reason.
pub fn validate_delivery(
    delivered: &str,
    scheduled: NaiveDate,
    today: NaiveDate,
    attendees: i32,
) -> Result<NaiveDate, TrainingError> {
    let day = dates::parse_or("delivered_date", delivered, scheduled)?;
    if day > today {
        return Err(TrainingError::invalid("delivered_date", format!("{day} is in the future")));
    }
    if day < scheduled {
        return Err(TrainingError::invalid(
            "delivered_date",
            format!("{day} is before the scheduled {scheduled}"),
        ));
    }
    if !(0..=10_000).contains(&attendees) {
        return Err(TrainingError::invalid(
            "attendees",
            format!("must be within 0..=10000, got {attendees}"),
        ));
    }
    Ok(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifecycle_moves_forward_or_declines_and_says_from_and_to_when_not() {
        assert!(may_move(State::Submitted, State::Matched));
        assert!(may_move(State::Matched, State::Matched), "another teacher");
        assert!(may_move(State::Scheduled, State::Declined));
        assert!(!may_move(State::Submitted, State::Scheduled), "a teacher first");
        assert!(!may_move(State::Delivered, State::Declined));
        assert!(!may_move(State::Declined, State::Matched));
        let err = check_move("o1", State::Delivered, State::Matched).unwrap_err().to_string();
        assert_eq!(err, "order o1 is DELIVERED; it cannot move to MATCHED");
    }

    #[test]
    fn a_slot_ends_after_it_starts_and_a_delivery_is_not_in_the_future() {
        assert!(validate_slot("2026-05-20", "09:00", "11:30", "党群服务中心").is_ok());
        let err = validate_slot("2026-05-20", "11:00", "09:00", "x").unwrap_err().to_string();
        assert!(err.starts_with("end_time:"), "{err}");
        assert!(
            validate_slot("2026-05-20", "9h", "11:00", "x")
                .unwrap_err()
                .to_string()
                .starts_with("start_time:")
        );
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(validate_delivery("", d("2026-05-20"), d("2026-06-01"), 30).unwrap(), d("2026-05-20"));
        assert!(validate_delivery("2026-07-01", d("2026-05-20"), d("2026-06-01"), 30).is_err());
        assert!(validate_delivery("2026-05-19", d("2026-05-20"), d("2026-06-01"), 30).is_err());
    }

    #[test]
    fn only_villages_and_townships_order() {
        let order = cadre_proto::training::v1::Order {
            region_code: "150525000000".into(),
            course_id: "c".into(),
            year: 2026,
            expected_trainees: 30,
            ..Default::default()
        };
        let err = validate_new("order", &order).unwrap_err().to_string();
        assert!(err.starts_with("order.region_code:") && err.contains("county"), "{err}");
        let village = cadre_proto::training::v1::Order { region_code: "150525100201".into(), ..order };
        assert_eq!(validate_new("order", &village).unwrap().county.as_str(), "150525000000");
    }
}
