//! Term over term (换届前后): the default dates compared and the deltas of the
//! structure, with "one up, one down" (一升一降: education share up, average age down).

use cadre_proto::roster::v1 as pb;
use chrono::NaiveDate;

use crate::domain::term_calendar::TermCalendar;

/// The day before the current term began: `latest_term` is the latest term any post
/// under the region belongs to (up to this year); a region with no posts yet is
/// compared across the calendar's last general election.
pub fn default_earlier(calendar: &TermCalendar, latest_term: Option<i32>) -> NaiveDate {
    let start = match latest_term {
        Some(term) => calendar.start_of(term),
        None => Some(calendar.last_held().start),
    };
    start.and_then(|d| d.pred_opt()).unwrap_or(NaiveDate::MIN)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Deltas {
    pub average_age: f64,
    pub college_or_above_share: f64,
    pub under_35: i32,
    pub women_share: f64,
    pub party_member_share: f64,
    pub one_shoulder_share: f64,
    pub education_up: bool,
    pub age_down: bool,
}

impl Deltas {
    pub fn one_up_one_down(&self) -> bool {
        self.education_up && self.age_down
    }
}

/// Later minus earlier. With nobody serving on either date the directions say
/// nothing, so both are false.
pub fn compare(earlier: &pb::StructureReport, later: &pb::StructureReport) -> Deltas {
    let comparable = earlier.head_count > 0 && later.head_count > 0;
    let average_age = later.average_age - earlier.average_age;
    let college_or_above_share = later.college_or_above_share - earlier.college_or_above_share;
    Deltas {
        average_age,
        college_or_above_share,
        under_35: later.under_35_count - earlier.under_35_count,
        women_share: later.women_share - earlier.women_share,
        party_member_share: later.party_member_share - earlier.party_member_share,
        one_shoulder_share: later.one_shoulder_share - earlier.one_shoulder_share,
        education_up: comparable && college_or_above_share > 0.0,
        age_down: comparable && average_age < 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(heads: i32, age: f64, college: f64, under_35: i32) -> pb::StructureReport {
        pb::StructureReport {
            head_count: heads,
            average_age: age,
            college_or_above_share: college,
            under_35_count: under_35,
            ..Default::default()
        }
    }

    #[test]
    fn younger_and_better_educated_is_one_up_one_down() {
        let d = compare(&report(10, 48.0, 0.3, 1), &report(12, 42.5, 0.455, 4));
        assert!((d.average_age + 5.5).abs() < 1e-9);
        assert!((d.college_or_above_share - 0.155).abs() < 1e-9);
        assert_eq!(d.under_35, 3);
        assert!(d.one_up_one_down());
        let older = compare(&report(10, 40.0, 0.3, 1), &report(10, 41.0, 0.5, 1));
        assert!(older.education_up && !older.age_down && !older.one_up_one_down());
    }

    #[test]
    fn an_empty_side_says_nothing_about_direction() {
        let d = compare(&report(0, 0.0, 0.0, 0), &report(3, 40.0, 1.0, 1));
        assert!(!d.education_up && !d.age_down);
    }

    #[test]
    fn the_default_earlier_date_is_the_eve_of_the_current_term() {
        let province = TermCalendar::default();
        assert_eq!(default_earlier(&province, None), NaiveDate::from_ymd_opt(2020, 12, 31).unwrap());
        assert_eq!(default_earlier(&province, Some(2026)), NaiveDate::from_ymd_opt(2025, 12, 31).unwrap());
    }

    #[test]
    fn a_region_without_posts_is_compared_across_the_calendar_s_last_election() {
        let after_2026 = TermCalendar::new(vec![2021, 2026], 5).unwrap();
        assert_eq!(default_earlier(&after_2026, None), NaiveDate::from_ymd_opt(2025, 12, 31).unwrap());
    }
}
