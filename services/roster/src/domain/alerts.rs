//! Staffing alerts: which ones villages raise on a day (cadres past the age limit,
//! seats vacant, the term ending, villages out of compliance), complete and in the
//! order of their keys, so that a list of them can be paged by key.

use std::collections::{BTreeSet, HashMap};

use cadre_kit::resident_id::age_on;
use cadre_proto::roster::v1::{PostKind, StaffingAlertKind};
use chrono::NaiveDate;

use crate::domain::dates;
use crate::domain::posts::{self, DEFAULT_VACANCY_SEATS, HeldPost};
use crate::domain::staffing::{self, Holder, Rules, VillageFacts};

/// Every kind of alert, for a request that names none.
pub const ALL_KINDS: [StaffingAlertKind; 4] = [
    StaffingAlertKind::OverAge,
    StaffingAlertKind::VacantPost,
    StaffingAlertKind::TermEnding,
    StaffingAlertKind::OutOfCompliance,
];

/// One village as the alert rules read it.
#[derive(Debug, Clone, Copy)]
pub struct Village<'a> {
    pub code: &'a str,
    pub name: &'a str,
    /// The rules that apply to it (its own, an ancestor's, or the defaults).
    pub rules: &'a Rules,
    /// Who holds a post there on the day, and its reserve seeds.
    pub facts: &'a VillageFacts,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub kind: StaffingAlertKind,
    /// The village.
    pub region_code: String,
    /// The cadre (over age) or the village (the other kinds).
    pub subject_id: String,
    /// The seat, for a vacant post.
    pub post_kind: Option<PostKind>,
    pub message: String,
}

impl Alert {
    /// Its place in a list and its page key: village, kind, subject, seat. Village
    /// codes all have twelve digits, so keys sort by village first.
    pub fn key(&self) -> String {
        let seat = self.post_kind.map_or(0, |k| k as i32);
        format!("{}|{:02}|{}|{seat:02}", self.region_code, self.kind as i32, self.subject_id)
    }
}

/// Cadres holding a post at or over the age limit on `day`: (holder, age).
pub fn over_age<'a>(rules: &Rules, holders: &'a [Holder], day: NaiveDate) -> Vec<(&'a Holder, i32)> {
    let mut seen = BTreeSet::new();
    holders
        .iter()
        .map(|h| (h, age_on(h.birth_date, day)))
        .filter(|(h, age)| *age >= rules.age_limit && seen.insert(h.cadre_id.as_str()))
        .collect()
}

/// Days until the term ends, when `day` is within the warning window (0 = ends today).
pub fn term_ending(rules: &Rules, day: NaiveDate) -> Option<i64> {
    let left = (rules.term_end_date - day).num_days();
    (0..=i64::from(rules.term_end_warning_days)).contains(&left).then_some(left)
}

fn seat_name(kind: PostKind) -> &'static str {
    kind.as_str_name().trim_start_matches("POST_KIND_")
}

/// Every alert of `kinds` the `villages` raise on `day`, sorted by [`Alert::key`].
/// `seat_posts` are the villages' posts of the [`DEFAULT_VACANCY_SEATS`] begun by
/// `day`, ended or not (when a seat fell vacant); they are read only for
/// vacant-post alerts.
pub fn raised(
    villages: &[Village<'_>],
    seat_posts: &[HeldPost],
    kinds: &[StaffingAlertKind],
    day: NaiveDate,
) -> Vec<Alert> {
    let wants = |k: StaffingAlertKind| kinds.contains(&k);
    let mut vacant: HashMap<String, Vec<posts::VacantSeat>> = HashMap::new();
    if wants(StaffingAlertKind::VacantPost) {
        let codes: Vec<String> = villages.iter().map(|v| v.code.to_string()).collect();
        for seat in posts::vacancies(&codes, seat_posts, &DEFAULT_VACANCY_SEATS, day) {
            vacant.entry(seat.region_code.clone()).or_default().push(seat);
        }
    }
    let mut out = Vec::new();
    for v in villages {
        let (rules, name) = (v.rules, v.name);
        let alert = |kind, subject: &str, post_kind, message| Alert {
            kind,
            region_code: v.code.to_string(),
            subject_id: subject.to_string(),
            post_kind,
            message,
        };
        if wants(StaffingAlertKind::OverAge) {
            for (h, age) in over_age(rules, &v.facts.holders, day) {
                let held: Vec<&str> = v
                    .facts
                    .holders
                    .iter()
                    .filter(|x| x.cadre_id == h.cadre_id)
                    .map(|x| seat_name(x.kind))
                    .collect();
                out.push(alert(
                    StaffingAlertKind::OverAge,
                    &h.cadre_id,
                    None,
                    format!(
                        "{} ({}) is {age}, at or over the age limit {} in {name}",
                        h.name,
                        held.join(", "),
                        rules.age_limit
                    ),
                ));
            }
        }
        for seat in vacant.get(v.code).into_iter().flatten() {
            let since = match seat.vacant_since {
                Some(d) => format!("since {}", dates::format(d)),
                None => "and has never been filled".to_string(),
            };
            out.push(alert(
                StaffingAlertKind::VacantPost,
                v.code,
                Some(seat.kind),
                format!("{} of {name} is vacant {since}", seat_name(seat.kind)),
            ));
        }
        if wants(StaffingAlertKind::TermEnding)
            && let Some(left) = term_ending(rules, day)
        {
            out.push(alert(
                StaffingAlertKind::TermEnding,
                v.code,
                None,
                format!(
                    "the term of {name} ends on {}, in {left} day(s)",
                    dates::format(rules.term_end_date)
                ),
            ));
        }
        if wants(StaffingAlertKind::OutOfCompliance) {
            let checks = staffing::evaluate(rules, v.facts, day);
            let failed: Vec<&str> = checks.iter().filter(|c| !c.passed).map(|c| c.reason.as_str()).collect();
            if !failed.is_empty() {
                out.push(alert(
                    StaffingAlertKind::OutOfCompliance,
                    v.code,
                    None,
                    format!("{name} fails: {}", failed.join("; ")),
                ));
            }
        }
    }
    out.sort_by_cached_key(Alert::key);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::term_calendar::TermCalendar;
    use cadre_proto::roster::v1 as pb;

    fn d(s: &str) -> NaiveDate {
        dates::parse("d", s).unwrap()
    }

    const VILLAGE: &str = "150525100201";
    const EAST: &str = "150525100202";

    fn holder(id: &str, kind: PostKind, born: &str) -> Holder {
        Holder {
            cadre_id: id.into(),
            name: id.into(),
            kind,
            birth_date: d(born),
            education: pb::Education::Bachelor,
            full_time_education: true,
        }
    }

    /// Every default seat held by someone young, two seeds: no alerts of its own.
    fn staffed() -> VillageFacts {
        VillageFacts {
            holders: vec![
                holder("sec", PostKind::PartySecretary, "1980-01-01"),
                holder("dir", PostKind::CommitteeDirector, "1982-01-01"),
                holder("sup", PostKind::SupervisionChair, "1983-01-01"),
                holder("yl", PostKind::YouthLeagueSecretary, "2000-06-01"),
                holder("wf", PostKind::WomensFederationChair, "1995-06-01"),
            ],
            seeds: 2,
        }
    }

    fn seat(id: &str, village: &str, kind: PostKind, start: &str, end: Option<&str>) -> HeldPost {
        HeldPost {
            id: id.into(),
            cadre_id: id.into(),
            cadre_name: id.into(),
            region_code: village.into(),
            kind,
            start: d(start),
            end: end.map(d),
        }
    }

    /// The staffed village's seats, all begun in the 2021 election.
    fn seats_of_staffed() -> Vec<HeldPost> {
        DEFAULT_VACANCY_SEATS
            .iter()
            .map(|k| seat(&format!("{k:?}"), VILLAGE, *k, "2021-03-01", None))
            .collect()
    }

    fn province_rules() -> Rules {
        Rules::defaults(&TermCalendar::default())
    }

    /// A village named by its code.
    fn village<'a>(code: &'a str, rules: &'a Rules, facts: &'a VillageFacts) -> Village<'a> {
        Village { code, name: code, rules, facts }
    }

    #[test]
    fn a_fully_staffed_village_mid_term_raises_nothing() {
        let (rules, facts) = (province_rules(), staffed());
        let v = village(VILLAGE, &rules, &facts);
        assert_eq!(raised(&[v], &seats_of_staffed(), &ALL_KINDS, d("2024-07-01")), []);
    }

    #[test]
    fn a_secretary_past_the_age_limit_is_named_once_with_every_post_held() {
        let mut facts = staffed();
        facts.holders[0].birth_date = d("1963-05-01");
        facts.holders.push(Holder { kind: PostKind::CommitteeMember, ..facts.holders[0].clone() });
        let rules = province_rules();
        let alerts =
            raised(&[village(VILLAGE, &rules, &facts)], &seats_of_staffed(), &ALL_KINDS, d("2024-07-01"));
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!((alerts[0].kind, alerts[0].subject_id.as_str()), (StaffingAlertKind::OverAge, "sec"));
        assert_eq!(
            alerts[0].message,
            "sec (PARTY_SECRETARY, COMMITTEE_MEMBER) is 61, at or over the age limit 60 in 150525100201"
        );
    }

    #[test]
    fn a_seat_vacant_since_its_holder_left_says_since_when() {
        let mut facts = staffed();
        facts.holders.retain(|h| h.kind != PostKind::CommitteeDirector);
        let mut seats = seats_of_staffed();
        seats[1].end = Some(d("2024-03-15"));
        let rules = province_rules();
        let v = village(VILLAGE, &rules, &facts);
        let alerts = raised(&[v], &seats, &[StaffingAlertKind::VacantPost], d("2024-07-01"));
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0].post_kind, Some(PostKind::CommitteeDirector));
        assert_eq!(alerts[0].message, "COMMITTEE_DIRECTOR of 150525100201 is vacant since 2024-03-15");
        assert_eq!(alerts[0].key(), "150525100201|02|150525100201|04");
    }

    #[test]
    fn a_term_ending_within_the_configured_window_warns_every_village() {
        let rules = Rules { term_end_warning_days: 90, ..province_rules() };
        let facts = staffed();
        let villages = [village(VILLAGE, &rules, &facts), village(EAST, &rules, &facts)];
        let kinds = [StaffingAlertKind::TermEnding];
        assert_eq!(raised(&villages, &[], &kinds, d("2026-10-01")).len(), 0, "92 days left");
        let ending = raised(&villages, &[], &kinds, d("2026-10-03"));
        assert_eq!(ending.len(), 2);
        assert_eq!(ending[0].message, "the term of 150525100201 ends on 2026-12-31, in 89 day(s)");
        assert_eq!(raised(&villages, &[], &kinds, d("2027-01-01")), []);
    }

    #[test]
    fn a_village_out_of_compliance_lists_every_failed_rule() {
        let mut facts = staffed();
        facts.seeds = 0;
        facts.holders.retain(|h| h.kind != PostKind::YouthLeagueSecretary);
        let rules = province_rules();
        let v = village(VILLAGE, &rules, &facts);
        let alerts = raised(&[v], &[], &[StaffingAlertKind::OutOfCompliance], d("2024-07-01"));
        assert_eq!(alerts.len(), 1);
        assert_eq!(
            alerts[0].message,
            "150525100201 fails: no Youth League secretary in post, one under 30 required; \
             0 reserve seed(s) in pool or training, at least 2 required"
        );
    }

    #[test]
    fn alerts_of_many_villages_come_complete_in_key_order_whatever_the_input_order() {
        let rules = province_rules();
        let mut old = staffed();
        old.holders[0].birth_date = d("1960-01-01");
        // The east village has no posts at all: five vacant seats, failing its rules.
        let empty = VillageFacts::default();
        let villages = [village(EAST, &rules, &empty), village(VILLAGE, &rules, &old)];
        let alerts = raised(&villages, &seats_of_staffed(), &ALL_KINDS, d("2024-07-01"));
        let keys: Vec<String> = alerts.iter().map(Alert::key).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(alerts[0].region_code, VILLAGE);
        let east: Vec<_> = alerts.iter().filter(|a| a.region_code == EAST).map(|a| a.kind).collect();
        assert_eq!(east.iter().filter(|k| **k == StaffingAlertKind::VacantPost).count(), 5);
        assert_eq!(east.last(), Some(&StaffingAlertKind::OutOfCompliance));
        assert!(alerts.iter().all(|a| a.kind != StaffingAlertKind::TermEnding));
    }

    #[test]
    fn cadres_at_the_age_limit_and_terms_near_their_end_raise_alerts() {
        let rules = province_rules();
        let holders = vec![
            holder("old", PostKind::PartySecretary, "1965-07-01"),
            holder("old", PostKind::CommitteeDirector, "1965-07-01"),
            holder("young", PostKind::CommitteeMember, "1965-07-02"),
        ];
        let old = over_age(&rules, &holders, d("2025-07-01"));
        assert_eq!(old.iter().map(|(h, a)| (h.cadre_id.as_str(), *a)).collect::<Vec<_>>(), [("old", 60)]);
        assert_eq!(term_ending(&rules, d("2026-07-04")), Some(180));
        assert_eq!(term_ending(&rules, d("2026-07-03")), None);
        assert_eq!(term_ending(&rules, d("2027-01-01")), None);
    }
}
