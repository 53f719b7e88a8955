//! Forums where secretaries teach secretaries (书记讲给书记听) and the issues raised at
//! them: what a forum and an issue must hold; the issue lifecycle assigned → supervised
//! → verified → closed, one step at a time; which open issues are past their deadline;
//! statistics per organising region and year.

use std::collections::BTreeMap;

use cadre_kit::{RegionCode, RegionLevel, dates, fields};
use cadre_proto::training::v1::IssueState as State;
use chrono::{Datelike, NaiveDate};

use crate::error::TrainingError;

pub fn state_name(s: State) -> &'static str {
    s.as_str_name().trim_start_matches("ISSUE_STATE_")
}

/// Whether an issue may move from `from` to `to`: only to the next state.
pub fn may_move(from: State, to: State) -> bool {
    use State::*;
    matches!((from, to), (Assigned, Supervised) | (Supervised, Verified) | (Verified, Closed))
}

/// The move, or why not: "issue X is ASSIGNED; it cannot move to CLOSED".
pub fn check_move(id: &str, from: State, to: State) -> Result<(), TrainingError> {
    if may_move(from, to) {
        Ok(())
    } else {
        Err(TrainingError::IllegalMove {
            what: "issue",
            id: id.to_string(),
            from: state_name(from),
            to: state_name(to),
        })
    }
}

pub fn is_open(s: State) -> bool {
    s != State::Closed
}

/// A new forum's fields, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct NewForum {
    pub region: RegionCode,
    pub held: NaiveDate,
    pub place: String,
    pub title: String,
}

pub fn validate_forum(prefix: &str, f: &cadre_proto::training::v1::Forum) -> Result<NewForum, TrainingError> {
    let n = |name: &str| format!("{prefix}.{name}");
    let region = fields::region(&n("region_code"), &f.region_code)?;
    if region.level() == RegionLevel::Village {
        return Err(TrainingError::invalid(
            &n("region_code"),
            format!("{region} is a village: a township, county or city organises forums"),
        ));
    }
    Ok(NewForum {
        region,
        held: dates::parse(&n("held_date"), &f.held_date)?,
        place: fields::text(&n("place"), &f.place, true, 200)?,
        title: fields::text(&n("title"), &f.title, true, 200)?,
    })
}

/// A new issue's own fields, validated against its forum's day.
#[derive(Debug, Clone, PartialEq)]
pub struct NewIssue {
    pub forum_id: String,
    pub cadre_id: String,
    pub title: String,
    pub unit_name: String,
    pub unit_region: RegionCode,
    pub deadline: NaiveDate,
}

pub fn validate_issue(
    prefix: &str,
    i: &cadre_proto::training::v1::ForumIssue,
) -> Result<NewIssue, TrainingError> {
    let n = |name: &str| format!("{prefix}.{name}");
    Ok(NewIssue {
        forum_id: fields::required_id(&n("forum_id"), &i.forum_id)?.to_string(),
        cadre_id: fields::required_id(&n("cadre_id"), &i.cadre_id)?.to_string(),
        title: fields::text(&n("title"), &i.title, true, 500)?,
        unit_name: fields::text(&n("unit_name"), &i.unit_name, true, 100)?,
        unit_region: fields::region(&n("unit_region_code"), &i.unit_region_code)?,
        deadline: dates::parse(&n("deadline"), &i.deadline)?,
    })
}

/// A deadline is on or after the forum's day.
pub fn check_deadline(field: &str, deadline: NaiveDate, held: NaiveDate) -> Result<(), TrainingError> {
    if deadline < held {
        return Err(TrainingError::invalid(field, format!("{deadline} is before the forum's day {held}")));
    }
    Ok(())
}

/// What judging and counting an issue needs.
#[derive(Debug, Clone, PartialEq)]
pub struct IssueFacts {
    pub id: String,
    pub region: String,
    pub state: State,
    pub deadline: NaiveDate,
    pub closed: Option<NaiveDate>,
}

/// Days an open issue is past its deadline on `as_of`, if it is.
pub fn days_overdue(i: &IssueFacts, as_of: NaiveDate) -> Option<i32> {
    let days = (as_of - i.deadline).num_days();
    (is_open(i.state) && days > 0).then_some(days as i32)
}

/// Open issues past their deadline on `as_of`, longest overdue first (then by id).
pub fn overdue(issues: &[IssueFacts], as_of: NaiveDate) -> Vec<(IssueFacts, i32)> {
    let mut out: Vec<(IssueFacts, i32)> =
        issues.iter().filter_map(|i| days_overdue(i, as_of).map(|d| (i.clone(), d))).collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.id.cmp(&b.0.id)));
    out
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub forums: i32,
    pub issues_raised: i32,
    pub closed: i32,
    pub overdue: i32,
    pub closed_on_time: i32,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.forums += o.forums;
        self.issues_raised += o.issues_raised;
        self.closed += o.closed;
        self.overdue += o.overdue;
        self.closed_on_time += o.closed_on_time;
    }
}

/// Counts per organising region for forums held in `year` (`forums`: the organising
/// region and day of each forum; `issues`: those raised at forums of that year), and
/// their total. Overdue is judged on `as_of`; closed on time means closed on or before
/// the deadline.
pub fn statistics(
    year: i32,
    forums: &[(String, NaiveDate)],
    issues: &[IssueFacts],
    as_of: NaiveDate,
) -> (Counts, BTreeMap<String, Counts>) {
    let mut per: BTreeMap<String, Counts> = BTreeMap::new();
    for (region, _) in forums.iter().filter(|(_, d)| d.year() == year) {
        per.entry(region.clone()).or_default().forums += 1;
    }
    for i in issues {
        let c = per.entry(i.region.clone()).or_default();
        c.issues_raised += 1;
        if let Some(closed) = i.closed.filter(|_| i.state == State::Closed) {
            c.closed += 1;
            if closed <= i.deadline {
                c.closed_on_time += 1;
            }
        }
        if days_overdue(i, as_of).is_some() {
            c.overdue += 1;
        }
    }
    let mut total = Counts::default();
    per.values().for_each(|c| total.add(c));
    (total, per)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn issue(id: &str, region: &str, state: State, deadline: &str, closed: Option<&str>) -> IssueFacts {
        IssueFacts {
            id: id.into(),
            region: region.into(),
            state,
            deadline: d(deadline),
            closed: closed.map(d),
        }
    }

    #[test]
    fn an_issue_moves_one_step_at_a_time_and_says_from_and_to_when_not() {
        assert!(may_move(State::Assigned, State::Supervised));
        assert!(may_move(State::Supervised, State::Verified));
        assert!(may_move(State::Verified, State::Closed));
        assert!(!may_move(State::Assigned, State::Closed), "no skipping supervision");
        assert!(!may_move(State::Closed, State::Assigned), "closed stays closed");
        assert!(!may_move(State::Verified, State::Supervised), "no going back");
        assert!(!may_move(State::Assigned, State::Assigned));
        let err = check_move("i1", State::Assigned, State::Closed).unwrap_err().to_string();
        assert_eq!(err, "issue i1 is ASSIGNED; it cannot move to CLOSED");
    }

    #[test]
    fn open_issues_past_their_deadline_are_overdue_longest_first() {
        let issues = [
            issue("a", "r", State::Assigned, "2026-03-01", None),
            issue("b", "r", State::Verified, "2026-02-01", None),
            issue("c", "r", State::Closed, "2026-01-01", Some("2026-03-05")),
            issue("d", "r", State::Supervised, "2026-03-10", None),
        ];
        let alerts = overdue(&issues, d("2026-03-10"));
        let got: Vec<(&str, i32)> = alerts.iter().map(|(i, days)| (i.id.as_str(), *days)).collect();
        assert_eq!(got, [("b", 37), ("a", 9)], "closed never, the deadline day itself not yet");
    }

    #[test]
    fn statistics_count_per_region_and_year_with_closed_on_time() {
        let forums = [
            ("t1".to_string(), d("2026-02-01")),
            ("t1".to_string(), d("2026-05-01")),
            ("t2".to_string(), d("2026-03-01")),
            ("t2".to_string(), d("2025-12-01")),
        ];
        let issues = [
            issue("a", "t1", State::Closed, "2026-03-01", Some("2026-02-20")),
            issue("b", "t1", State::Closed, "2026-03-01", Some("2026-03-02")),
            issue("c", "t1", State::Supervised, "2026-03-01", None),
            issue("d", "t2", State::Assigned, "2026-12-01", None),
        ];
        let (total, per) = statistics(2026, &forums, &issues, d("2026-06-01"));
        assert_eq!(total, Counts { forums: 3, issues_raised: 4, closed: 2, overdue: 1, closed_on_time: 1 });
        assert_eq!(
            per["t1"],
            Counts { forums: 2, issues_raised: 3, closed: 2, overdue: 1, closed_on_time: 1 }
        );
        assert_eq!(per["t2"].forums, 1, "the 2025 forum is not counted in 2026");
    }

    #[test]
    fn forums_are_organised_above_villages_and_deadlines_follow_the_forum() {
        let forum = cadre_proto::training::v1::Forum {
            region_code: "150525100201".into(),
            held_date: "2026-03-01".into(),
            place: "镇党委会议室".into(),
            title: "书记讲给书记听".into(),
            ..Default::default()
        };
        let err = validate_forum("forum", &forum).unwrap_err().to_string();
        assert!(err.starts_with("forum.region_code:"), "{err}");
        let township = cadre_proto::training::v1::Forum { region_code: "150525100000".into(), ..forum };
        assert_eq!(validate_forum("forum", &township).unwrap().held, d("2026-03-01"));
        let err = check_deadline("issue.deadline", d("2026-02-01"), d("2026-03-01")).unwrap_err().to_string();
        assert!(err.starts_with("issue.deadline:"), "{err}");
    }
}
