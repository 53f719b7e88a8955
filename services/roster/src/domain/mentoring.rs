//! Mentoring (导师帮带): who may be paired with whom and when, and the coverage of
//! new cadres by mentors on a date.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use crate::domain::dates;
use crate::domain::posts::{HeldPost, is_two_committee};
use crate::domain::term_calendar::TermCalendar;
use crate::error::RosterError;

/// Growth plans are free text of at most this many characters.
pub const MAX_GROWTH_PLAN_CHARS: usize = 4000;

/// The start of the calendar's current term (2021-01-01 for the province): cadres
/// first serving since then are "new".
pub fn default_new_since(calendar: &TermCalendar) -> NaiveDate {
    calendar.last_held().start
}

/// A pairing as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pairing {
    pub id: String,
    pub mentor_cadre_id: String,
    pub mentee_cadre_id: String,
    pub start: NaiveDate,
    /// First day no longer active.
    pub end: Option<NaiveDate>,
}

impl Pairing {
    pub fn active_on(&self, day: NaiveDate) -> bool {
        self.start <= day && self.end.is_none_or(|e| day < e)
    }
}

/// Checks a new pairing against the mentee's existing pairings: no self-pairing,
/// and at most one active pairing per mentee (a mentor may have several mentees).
pub fn check_pairing(new: &Pairing, mentee_pairings: &[Pairing]) -> Result<(), RosterError> {
    if new.mentor_cadre_id == new.mentee_cadre_id {
        return Err(RosterError::invalid("mentor_cadre_id", "a cadre cannot mentor themself"));
    }
    if let Some(p) = mentee_pairings.iter().find(|p| p.end.is_none_or(|e| e > new.start)) {
        return Err(RosterError::Conflict(format!(
            "cadre {} already has an active mentor ({}, pairing {} since {}); end it first",
            new.mentee_cadre_id,
            p.mentor_cadre_id,
            p.id,
            dates::format(p.start)
        )));
    }
    Ok(())
}

/// Checks that `p` may end on `end`.
pub fn check_end(p: &Pairing, end: NaiveDate) -> Result<(), RosterError> {
    if let Some(ended) = p.end {
        return Err(RosterError::Conflict(format!(
            "pairing {} already ended on {}",
            p.id,
            dates::format(ended)
        )));
    }
    if end <= p.start {
        return Err(RosterError::invalid(
            "end_date",
            format!("{} must be after the start date {}", dates::format(end), dates::format(p.start)),
        ));
    }
    Ok(())
}

/// A cadre serving on the day whose first two-committee post started on or after
/// the cut-off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCadre {
    pub cadre_id: String,
    pub name: String,
    /// The village of the first post.
    pub region_code: String,
    pub first_start: NaiveDate,
}

/// New cadres among the holders of `posts` (any kinds; only two-committee posts
/// count), in cadre id order. A cadre re-elected at the term start is not new: their
/// earlier, ended post counts as their first.
pub fn new_cadres(posts: &[HeldPost], day: NaiveDate, since: NaiveDate) -> Vec<NewCadre> {
    let mut first: BTreeMap<&str, &HeldPost> = BTreeMap::new();
    let mut serving: BTreeSet<&str> = BTreeSet::new();
    for p in posts.iter().filter(|p| is_two_committee(p.kind) && p.start <= day) {
        if p.held_on(day) {
            serving.insert(&p.cadre_id);
        }
        let e = first.entry(&p.cadre_id).or_insert(p);
        if p.start < e.start {
            *e = p;
        }
    }
    first
        .into_iter()
        .filter(|(id, p)| serving.contains(id) && p.start >= since)
        .map(|(id, p)| NewCadre {
            cadre_id: id.to_string(),
            name: p.cadre_name.clone(),
            region_code: p.region_code.clone(),
            first_start: p.start,
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    pub new_cadre_count: usize,
    pub mentored_count: usize,
    pub coverage_share: f64,
    pub mentor_count: usize,
    /// New cadres without an active mentor, in cadre id order.
    pub unmentored: Vec<NewCadre>,
}

/// Coverage of `new` by the pairings active on `day` (pairings of mentees under the
/// region: their distinct mentors are counted).
pub fn coverage(new: Vec<NewCadre>, pairings: &[Pairing], day: NaiveDate) -> Coverage {
    let active: Vec<&Pairing> = pairings.iter().filter(|p| p.active_on(day)).collect();
    let mentored_ids: BTreeSet<&str> = active.iter().map(|p| p.mentee_cadre_id.as_str()).collect();
    let mentor_count = active.iter().map(|p| p.mentor_cadre_id.as_str()).collect::<BTreeSet<_>>().len();
    let new_cadre_count = new.len();
    let (mentored, unmentored): (Vec<_>, Vec<_>) =
        new.into_iter().partition(|c| mentored_ids.contains(c.cadre_id.as_str()));
    let mentored_count = mentored.len();
    Coverage {
        new_cadre_count,
        mentored_count,
        coverage_share: if new_cadre_count == 0 {
            1.0
        } else {
            mentored_count as f64 / new_cadre_count as f64
        },
        mentor_count,
        unmentored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadre_proto::roster::v1::PostKind;

    fn d(s: &str) -> NaiveDate {
        dates::parse("d", s).unwrap()
    }

    fn pairing(id: &str, mentor: &str, mentee: &str, start: &str, end: Option<&str>) -> Pairing {
        Pairing {
            id: id.into(),
            mentor_cadre_id: mentor.into(),
            mentee_cadre_id: mentee.into(),
            start: d(start),
            end: end.map(d),
        }
    }

    fn post(cadre: &str, kind: PostKind, start: &str, end: Option<&str>) -> HeldPost {
        HeldPost {
            id: format!("p-{cadre}-{start}"),
            cadre_id: cadre.into(),
            cadre_name: format!("name-{cadre}"),
            region_code: "v1".into(),
            kind,
            start: d(start),
            end: end.map(d),
        }
    }

    #[test]
    fn a_mentee_has_one_active_mentor_and_nobody_mentors_themself() {
        let new = pairing("n", "m2", "c1", "2024-01-01", None);
        let open = [pairing("p1", "m1", "c1", "2023-01-01", None)];
        assert!(matches!(check_pairing(&new, &open).unwrap_err(), RosterError::Conflict(_)));
        let ended = [pairing("p1", "m1", "c1", "2023-01-01", Some("2024-01-01"))];
        check_pairing(&new, &ended).unwrap();
        let selfish = pairing("n", "c1", "c1", "2024-01-01", None);
        assert!(check_pairing(&selfish, &[]).unwrap_err().to_string().starts_with("mentor_cadre_id:"));
    }

    #[test]
    fn a_pairing_ends_after_it_starts_and_only_once() {
        let p = pairing("p1", "m1", "c1", "2023-01-01", None);
        assert!(check_end(&p, d("2023-01-01")).unwrap_err().to_string().starts_with("end_date:"));
        check_end(&p, d("2024-01-01")).unwrap();
        let ended = pairing("p1", "m1", "c1", "2023-01-01", Some("2024-01-01"));
        assert!(check_end(&ended, d("2025-01-01")).is_err());
    }

    #[test]
    fn new_cadres_first_served_since_the_cut_off_and_serve_now() {
        let posts = vec![
            // Re-elected: served the previous term, so not new.
            post("old", PostKind::PartySecretary, "2018-03-01", Some("2021-03-01")),
            post("old", PostKind::PartySecretary, "2021-03-01", None),
            post("new", PostKind::CommitteeMember, "2021-03-01", None),
            // Left already: not serving.
            post("gone", PostKind::CommitteeMember, "2021-03-01", Some("2022-01-01")),
            // Not a two-committee post.
            post("spec", PostKind::RevitalisationSpecialist, "2022-01-01", None),
        ];
        let new = new_cadres(&posts, d("2024-01-01"), d("2021-01-01"));
        assert_eq!(new.iter().map(|c| c.cadre_id.as_str()).collect::<Vec<_>>(), ["new"]);
        assert_eq!(new[0].first_start, d("2021-03-01"));
    }

    #[test]
    fn new_means_first_serving_in_the_calendar_s_current_term() {
        assert_eq!(default_new_since(&TermCalendar::default()), d("2021-01-01"));
        let after_2026 = TermCalendar::new(vec![2021, 2026], 5).unwrap();
        assert_eq!(default_new_since(&after_2026), d("2026-01-01"));
    }

    #[test]
    fn coverage_counts_active_mentors_and_lists_the_uncovered() {
        let new = |id: &str| NewCadre {
            cadre_id: id.into(),
            name: id.into(),
            region_code: "v1".into(),
            first_start: d("2021-03-01"),
        };
        let pairings = [
            pairing("p1", "m1", "a", "2021-04-01", None),
            pairing("p2", "m1", "b", "2021-04-01", None),
            pairing("p3", "m2", "c", "2021-04-01", Some("2022-01-01")),
        ];
        let c = coverage(vec![new("a"), new("b"), new("c"), new("d")], &pairings, d("2024-01-01"));
        assert_eq!((c.new_cadre_count, c.mentored_count, c.mentor_count), (4, 2, 1));
        assert!((c.coverage_share - 0.5).abs() < 1e-9);
        assert_eq!(c.unmentored.iter().map(|c| c.cadre_id.as_str()).collect::<Vec<_>>(), ["c", "d"]);
        assert_eq!(coverage(vec![], &[], d("2024-01-01")).coverage_share, 1.0);
    }
}
