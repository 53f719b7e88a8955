//! Posts within terms: which posts have a single seat per village, when an
//! appointment may be made or a post ended, which seats are vacant on a date, and
//! which villages are "one shoulder" (一肩挑: one person is secretary and director).

use std::collections::{BTreeMap, BTreeSet};

use cadre_proto::roster::v1::PostKind;
use chrono::{Datelike, NaiveDate};

use crate::domain::dates;
use crate::domain::term_calendar::TermCalendar;
use crate::error::RosterError;

/// Seats checked for vacancies when a request names none.
pub const DEFAULT_VACANCY_SEATS: [PostKind; 5] = [
    PostKind::PartySecretary,
    PostKind::CommitteeDirector,
    PostKind::SupervisionChair,
    PostKind::YouthLeagueSecretary,
    PostKind::WomensFederationChair,
];

/// Posts a village has exactly one of.
pub fn is_single_seat(kind: PostKind) -> bool {
    matches!(
        kind,
        PostKind::PartySecretary
            | PostKind::CommitteeDirector
            | PostKind::SupervisionChair
            | PostKind::YouthLeagueSecretary
            | PostKind::WomensFederationChair
            | PostKind::FirstSecretary
    )
}

/// Members of the "two committees" (两委): Party branch and villagers' committee.
pub fn is_two_committee(kind: PostKind) -> bool {
    matches!(
        kind,
        PostKind::PartySecretary
            | PostKind::PartyDeputySecretary
            | PostKind::PartyCommitteeMember
            | PostKind::CommitteeDirector
            | PostKind::CommitteeDeputyDirector
            | PostKind::CommitteeMember
    )
}

pub fn two_committee_kinds() -> Vec<PostKind> {
    all_kinds().into_iter().filter(|k| is_two_committee(*k)).collect()
}

pub fn all_kinds() -> Vec<PostKind> {
    (1..=15).filter_map(|v| PostKind::try_from(v).ok()).collect()
}

pub fn kind(field: &str, v: i32) -> Result<PostKind, RosterError> {
    Ok(super::fields::required_enum(field, v, "post kind")?)
}

/// A post as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldPost {
    pub id: String,
    pub cadre_id: String,
    pub cadre_name: String,
    pub region_code: String,
    pub kind: PostKind,
    pub start: NaiveDate,
    /// First day no longer held.
    pub end: Option<NaiveDate>,
}

impl HeldPost {
    pub fn held_on(&self, day: NaiveDate) -> bool {
        self.start <= day && self.end.is_none_or(|e| day < e)
    }

    /// Whether it is held on any day from `from` on.
    fn held_from(&self, from: NaiveDate) -> bool {
        self.end.is_none_or(|e| e > from)
    }
}

#[derive(Debug, Clone)]
pub struct Appointment {
    pub cadre_id: String,
    pub region_code: String,
    pub kind: PostKind,
    pub term: i32,
    pub start: NaiveDate,
}

/// Checks an appointment against the posts already in its village: it starts
/// between its term's election year and the next election's (`calendar`'s).
pub fn check_appointment(
    new: &Appointment,
    in_village: &[HeldPost],
    calendar: &TermCalendar,
) -> Result<(), RosterError> {
    if !(1949..=2200).contains(&new.term) {
        return Err(RosterError::invalid("term", format!("{} is not a term's election year", new.term)));
    }
    let year = new.start.year();
    let last = calendar.last_start_year(new.term);
    if year < new.term || year > last {
        return Err(RosterError::invalid(
            "start_date",
            format!("{} is outside term {} ({}–{last})", dates::format(new.start), new.term, new.term),
        ));
    }
    for p in in_village.iter().filter(|p| p.kind == new.kind && p.held_from(new.start)) {
        if p.cadre_id == new.cadre_id {
            return Err(RosterError::Conflict(format!(
                "cadre {} already holds {} in {} (post {})",
                new.cadre_id,
                new.kind.as_str_name(),
                new.region_code,
                p.id
            )));
        }
        if is_single_seat(new.kind) {
            return Err(RosterError::SeatTaken {
                what: format!("{} of {}", new.kind.as_str_name(), new.region_code),
                holder: format!("{} ({})", p.cadre_name, p.cadre_id),
                since: dates::format(p.start),
            });
        }
    }
    Ok(())
}

/// Checks that `post` may end on `end`.
pub fn check_end(post: &HeldPost, end: NaiveDate) -> Result<(), RosterError> {
    if let Some(ended) = post.end {
        return Err(RosterError::Conflict(format!(
            "post {} already ended on {}",
            post.id,
            dates::format(ended)
        )));
    }
    if end <= post.start {
        return Err(RosterError::invalid(
            "end_date",
            format!("{} must be after the start date {}", dates::format(end), dates::format(post.start)),
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VacantSeat {
    pub region_code: String,
    pub kind: PostKind,
    /// When the last holder left, if the seat was ever filled before `day`.
    pub vacant_since: Option<NaiveDate>,
}

/// Seats in `villages` not held on `day`, in village then seat order.
pub fn vacancies(
    villages: &[String],
    posts: &[HeldPost],
    seats: &[PostKind],
    day: NaiveDate,
) -> Vec<VacantSeat> {
    let mut held: BTreeSet<(&str, i32)> = BTreeSet::new();
    let mut last_end: BTreeMap<(&str, i32), NaiveDate> = BTreeMap::new();
    for p in posts {
        if p.held_on(day) {
            held.insert((&p.region_code, p.kind as i32));
        } else if let Some(end) = p.end.filter(|e| *e <= day) {
            let e = last_end.entry((&p.region_code, p.kind as i32)).or_insert(end);
            *e = (*e).max(end);
        }
    }
    let mut out = Vec::new();
    for v in villages {
        for kind in seats {
            let key = (v.as_str(), *kind as i32);
            if !held.contains(&key) {
                out.push(VacantSeat {
                    region_code: v.clone(),
                    kind: *kind,
                    vacant_since: last_end.get(&key).copied(),
                });
            }
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneShoulder {
    pub region_code: String,
    pub cadre_id: String,
    pub cadre_name: String,
}

/// A post as the one-shoulder rule reads it: who serves, where, in which post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Serving<'a> {
    pub region_code: &'a str,
    pub cadre_id: &'a str,
    pub kind: PostKind,
}

/// Village → the cadre who is both its Party secretary and its committee director,
/// among posts all served on one day.
pub fn one_shoulder_pairs<'a>(serving: impl IntoIterator<Item = Serving<'a>>) -> BTreeMap<&'a str, &'a str> {
    let mut secretaries: BTreeMap<&str, &str> = BTreeMap::new();
    let mut directors: BTreeSet<(&str, &str)> = BTreeSet::new();
    for p in serving {
        match p.kind {
            PostKind::PartySecretary => {
                secretaries.insert(p.region_code, p.cadre_id);
            }
            PostKind::CommitteeDirector => {
                directors.insert((p.region_code, p.cadre_id));
            }
            _ => {}
        }
    }
    secretaries.retain(|village, cadre| directors.contains(&(*village, *cadre)));
    secretaries
}

/// Villages where one cadre is both Party secretary and committee director on `day`.
pub fn one_shoulder(posts: &[HeldPost], day: NaiveDate) -> Vec<OneShoulder> {
    let held: Vec<&HeldPost> = posts.iter().filter(|p| p.held_on(day)).collect();
    let names: BTreeMap<&str, &str> =
        held.iter().map(|p| (p.cadre_id.as_str(), p.cadre_name.as_str())).collect();
    let serving =
        held.iter().map(|p| Serving { region_code: &p.region_code, cadre_id: &p.cadre_id, kind: p.kind });
    one_shoulder_pairs(serving)
        .into_iter()
        .map(|(village, cadre)| OneShoulder {
            region_code: village.to_string(),
            cadre_id: cadre.to_string(),
            cadre_name: names.get(cadre).copied().unwrap_or_default().to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        dates::parse("d", s).unwrap()
    }

    fn post(
        id: &str,
        cadre: &str,
        village: &str,
        kind: PostKind,
        start: &str,
        end: Option<&str>,
    ) -> HeldPost {
        HeldPost {
            id: id.into(),
            cadre_id: cadre.into(),
            cadre_name: format!("name-{cadre}"),
            region_code: village.into(),
            kind,
            start: d(start),
            end: end.map(d),
        }
    }

    fn province() -> TermCalendar {
        TermCalendar::default()
    }

    fn appoint(cadre: &str, kind: PostKind, start: &str) -> Appointment {
        Appointment { cadre_id: cadre.into(), region_code: "v1".into(), kind, term: 2021, start: d(start) }
    }

    #[test]
    fn a_taken_secretary_seat_refuses_a_second_secretary_until_it_ends() {
        let existing = vec![post("p1", "c1", "v1", PostKind::PartySecretary, "2021-04-01", None)];
        let err =
            check_appointment(&appoint("c2", PostKind::PartySecretary, "2023-01-01"), &existing, &province())
                .unwrap_err();
        assert!(matches!(err, RosterError::SeatTaken { .. }), "{err}");
        let ended = vec![post("p1", "c1", "v1", PostKind::PartySecretary, "2021-04-01", Some("2023-01-01"))];
        check_appointment(&appoint("c2", PostKind::PartySecretary, "2023-01-01"), &ended, &province())
            .unwrap();
    }

    #[test]
    fn committee_members_have_many_seats_but_one_per_person() {
        let existing = vec![post("p1", "c1", "v1", PostKind::CommitteeMember, "2021-04-01", None)];
        check_appointment(&appoint("c2", PostKind::CommitteeMember, "2021-04-01"), &existing, &province())
            .unwrap();
        let err = check_appointment(
            &appoint("c1", PostKind::CommitteeMember, "2022-01-01"),
            &existing,
            &province(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("already holds"));
    }

    #[test]
    fn a_start_outside_the_term_is_refused() {
        let err =
            check_appointment(&appoint("c1", PostKind::CommitteeMember, "2019-05-01"), &[], &province())
                .unwrap_err();
        assert!(err.to_string().starts_with("start_date: 2019-05-01 is outside term 2021"), "{err}");
        // Term 2021 runs into the 2026 election year, not beyond it.
        check_appointment(&appoint("c1", PostKind::CommitteeMember, "2026-06-01"), &[], &province()).unwrap();
        let err =
            check_appointment(&appoint("c1", PostKind::CommitteeMember, "2027-01-01"), &[], &province())
                .unwrap_err();
        assert!(err.to_string().ends_with("outside term 2021 (2021–2026)"), "{err}");
    }

    #[test]
    fn a_term_ends_with_the_next_election_year_the_calendar_holds() {
        // Three-year terms until 2018: a 2015 post may not start in 2019.
        let old = TermCalendar::new(vec![2015, 2018, 2021], 5).unwrap();
        let mut a = appoint("c1", PostKind::CommitteeMember, "2019-03-01");
        a.term = 2015;
        let err = check_appointment(&a, &[], &old).unwrap_err();
        assert!(err.to_string().ends_with("outside term 2015 (2015–2018)"), "{err}");
        // The province's calendar does not list 2015: the term spans one cycle.
        check_appointment(&a, &[], &province()).unwrap();
        a.start = d("2018-03-01");
        check_appointment(&a, &[], &old).unwrap();
    }

    #[test]
    fn a_post_ends_after_it_starts_and_only_once() {
        let p = post("p1", "c1", "v1", PostKind::CommitteeMember, "2021-04-01", None);
        assert!(check_end(&p, d("2021-04-01")).unwrap_err().to_string().starts_with("end_date:"));
        check_end(&p, d("2022-01-01")).unwrap();
        let ended = post("p1", "c1", "v1", PostKind::CommitteeMember, "2021-04-01", Some("2022-01-01"));
        assert!(check_end(&ended, d("2023-01-01")).is_err());
    }

    #[test]
    fn vacancies_say_since_when_a_seat_is_empty() {
        let posts = vec![
            post("p1", "c1", "v1", PostKind::PartySecretary, "2021-04-01", Some("2024-06-01")),
            post("p2", "c1", "v1", PostKind::CommitteeDirector, "2021-04-01", None),
        ];
        let villages = vec!["v1".to_string(), "v2".to_string()];
        let seats = [PostKind::PartySecretary, PostKind::CommitteeDirector];
        let v = vacancies(&villages, &posts, &seats, d("2025-01-01"));
        assert_eq!(
            v,
            vec![
                VacantSeat {
                    region_code: "v1".into(),
                    kind: PostKind::PartySecretary,
                    vacant_since: Some(d("2024-06-01"))
                },
                VacantSeat { region_code: "v2".into(), kind: PostKind::PartySecretary, vacant_since: None },
                VacantSeat {
                    region_code: "v2".into(),
                    kind: PostKind::CommitteeDirector,
                    vacant_since: None
                },
            ]
        );
        // Before the secretary left, only v2 was vacant.
        assert_eq!(vacancies(&villages, &posts, &seats, d("2023-01-01")).len(), 2);
    }

    #[test]
    fn one_shoulder_needs_the_same_person_in_both_seats_on_the_day() {
        let posts = vec![
            post("p1", "c1", "v1", PostKind::PartySecretary, "2021-04-01", None),
            post("p2", "c1", "v1", PostKind::CommitteeDirector, "2021-04-01", Some("2024-01-01")),
            post("p3", "c2", "v2", PostKind::PartySecretary, "2021-04-01", None),
            post("p4", "c3", "v2", PostKind::CommitteeDirector, "2021-04-01", None),
        ];
        assert_eq!(one_shoulder(&posts, d("2023-06-01")).len(), 1);
        assert!(one_shoulder(&posts, d("2024-06-01")).is_empty());
    }
}
