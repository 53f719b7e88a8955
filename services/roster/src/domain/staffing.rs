//! Staffing rules (configured per region, nearest ancestor wins, else defaults), their
//! evaluation per village into a compliance report, and the ranking of candidates for
//! a vacant seat by a region's priority list (the alerts built on them: `alerts`).

use std::collections::BTreeMap;

use cadre_kit::RegionCode;
use cadre_kit::resident_id::age_on;
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::{PostKind, StaffingRule, VacancyCriterion};
use chrono::NaiveDate;

use crate::domain::cadre::is_party_member;
use crate::domain::dates;
use crate::domain::term_calendar::TermCalendar;
use crate::error::RosterError;

// ---------------------------------------------------------------- configuration

/// A region's staffing rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub min_full_time_bachelor: i32,
    /// The Youth League secretary must be younger than this.
    pub youth_league_secretary_max_age: i32,
    pub womens_federation_chair_max_age: i32,
    pub min_reserve_seeds: i32,
    pub age_limit: i32,
    pub term_end_warning_days: i32,
    pub term_end_date: NaiveDate,
}

impl Rules {
    /// The rules DOMAIN.md's counties report, for regions that configured none; the
    /// term ends when the calendar's current term does.
    pub fn defaults(calendar: &TermCalendar) -> Self {
        Self {
            min_full_time_bachelor: 1,
            youth_league_secretary_max_age: 30,
            womens_federation_chair_max_age: 35,
            min_reserve_seeds: 2,
            age_limit: 60,
            term_end_warning_days: 180,
            term_end_date: calendar.last_held().end,
        }
    }
}

/// Validates rules as sent; `prefix` is the message's request path ("rules").
pub fn validate_rules(prefix: &str, r: &pb::StaffingRules) -> Result<Rules, RosterError> {
    let within = |name: &str, v: i32, lo: i32, hi: i32| {
        if (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(RosterError::invalid(
                format!("{prefix}.{name}"),
                format!("must be within {lo}..={hi}, got {v}"),
            ))
        }
    };
    Ok(Rules {
        min_full_time_bachelor: within("min_full_time_bachelor", r.min_full_time_bachelor, 0, 20)?,
        youth_league_secretary_max_age: within(
            "youth_league_secretary_max_age",
            r.youth_league_secretary_max_age,
            18,
            100,
        )?,
        womens_federation_chair_max_age: within(
            "womens_federation_chair_max_age",
            r.womens_federation_chair_max_age,
            18,
            100,
        )?,
        min_reserve_seeds: within("min_reserve_seeds", r.min_reserve_seeds, 0, 100)?,
        age_limit: within("age_limit", r.age_limit, 18, 100)?,
        term_end_warning_days: within("term_end_warning_days", r.term_end_warning_days, 0, 3660)?,
        term_end_date: dates::parse(&format!("{prefix}.term_end_date"), &r.term_end_date)?,
    })
}

/// The criteria of a vacancy priority list, validated: known, unique, not empty.
pub fn validate_criteria(field: &str, values: &[i32]) -> Result<Vec<VacancyCriterion>, RosterError> {
    if values.is_empty() {
        return Err(RosterError::invalid(field, "must list at least one criterion"));
    }
    let mut out = Vec::new();
    for (i, v) in values.iter().enumerate() {
        match VacancyCriterion::try_from(*v) {
            Ok(VacancyCriterion::Unspecified) | Err(_) => {
                return Err(RosterError::invalid(format!("{field}[{i}]"), format!("unknown criterion {v}")));
            }
            Ok(c) if out.contains(&c) => {
                return Err(RosterError::invalid(
                    format!("{field}[{i}]"),
                    format!("{} is listed twice", c.as_str_name()),
                ));
            }
            Ok(c) => out.push(c),
        }
    }
    Ok(out)
}

/// One county's vacancy rule: revitalisation specialists first, then reserves with a
/// full-time bachelor degree, then other reserves.
pub const DEFAULT_PRIORITY: [VacancyCriterion; 3] = [
    VacancyCriterion::RevitalisationSpecialist,
    VacancyCriterion::FullTimeBachelorReserve,
    VacancyCriterion::AnyReserve,
];

/// The configuration that applies to `region`: its own, else its nearest ancestor's,
/// with the code it came from; `None` when no ancestor has one (use the defaults).
pub fn effective<'a, T>(
    region: &RegionCode,
    configured: &'a BTreeMap<String, T>,
) -> Option<(&'a str, &'a T)> {
    region.lineage().find_map(|code| configured.get_key_value(code.as_str())).map(|(k, v)| (k.as_str(), v))
}

// ---------------------------------------------------------------- compliance

/// A person holding a post in a village on the day checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub cadre_id: String,
    pub name: String,
    pub kind: PostKind,
    pub birth_date: NaiveDate,
    pub education: pb::Education,
    pub full_time_education: bool,
}

/// What the rules look at in one village on one day.
#[derive(Debug, Clone, Default)]
pub struct VillageFacts {
    pub holders: Vec<Holder>,
    /// Reserves in pool or in training on the day.
    pub seeds: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub rule: StaffingRule,
    pub passed: bool,
    pub reason: String,
}

pub fn bachelor_or_above(e: pb::Education) -> bool {
    matches!(e, pb::Education::Bachelor | pb::Education::Postgraduate)
}

fn age_check(
    rule: StaffingRule,
    title: &str,
    kind: PostKind,
    max_age: i32,
    f: &VillageFacts,
    day: NaiveDate,
) -> Check {
    let holder = f.holders.iter().find(|h| h.kind == kind);
    match holder {
        None => {
            Check { rule, passed: false, reason: format!("no {title} in post, one under {max_age} required") }
        }
        Some(h) => {
            let age = age_on(h.birth_date, day);
            let passed = age < max_age;
            let verdict = if passed { "under" } else { "not under" };
            Check { rule, passed, reason: format!("{title} {} is {age}, {verdict} {max_age}", h.name) }
        }
    }
}

/// Every rule's verdict for one village on `day`.
pub fn evaluate(rules: &Rules, f: &VillageFacts, day: NaiveDate) -> Vec<Check> {
    let mut graduates: Vec<&str> = f
        .holders
        .iter()
        .filter(|h| crate::domain::posts::is_two_committee(h.kind))
        .filter(|h| h.full_time_education && bachelor_or_above(h.education))
        .map(|h| h.cadre_id.as_str())
        .collect();
    graduates.sort();
    graduates.dedup();
    let n = graduates.len() as i32;
    vec![
        Check {
            rule: StaffingRule::FullTimeBachelor,
            passed: n >= rules.min_full_time_bachelor,
            reason: format!(
                "{n} two-committee member(s) with a full-time bachelor degree or above, at least {} required",
                rules.min_full_time_bachelor
            ),
        },
        age_check(
            StaffingRule::YouthLeagueSecretaryAge,
            "Youth League secretary",
            PostKind::YouthLeagueSecretary,
            rules.youth_league_secretary_max_age,
            f,
            day,
        ),
        age_check(
            StaffingRule::WomensFederationChairAge,
            "Women's Federation chair",
            PostKind::WomensFederationChair,
            rules.womens_federation_chair_max_age,
            f,
            day,
        ),
        Check {
            rule: StaffingRule::ReserveSeeds,
            passed: f.seeds >= rules.min_reserve_seeds,
            reason: format!(
                "{} reserve seed(s) in pool or training, at least {} required",
                f.seeds, rules.min_reserve_seeds
            ),
        },
    ]
}

/// Counts for a roll-up: villages checked, compliant, failures per rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rollup {
    pub checked: i32,
    pub compliant: i32,
    pub failures: BTreeMap<i32, i32>,
}

impl Rollup {
    pub fn add(&mut self, checks: &[Check]) {
        self.checked += 1;
        if checks.iter().all(|c| c.passed) {
            self.compliant += 1;
        }
        for c in checks.iter().filter(|c| !c.passed) {
            *self.failures.entry(c.rule as i32).or_default() += 1;
        }
    }
}

// ---------------------------------------------------------------- vacancy ranking

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandidateKind {
    /// A cadre holding the revitalisation-specialist post in the village.
    Specialist,
    /// A reserve of the village in pool or in training.
    Reserve,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub kind: CandidateKind,
    pub id: String,
    pub name: String,
    pub birth_date: NaiveDate,
    pub education: pb::Education,
    pub full_time_education: bool,
    pub political_status: pb::PoliticalStatus,
    pub tags: Vec<pb::BackgroundTag>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked {
    pub rank: i32,
    pub candidate: Candidate,
    pub criterion: VacancyCriterion,
    pub reason: String,
}

fn meets(c: &Candidate, criterion: VacancyCriterion) -> bool {
    let reserve = c.kind == CandidateKind::Reserve;
    match criterion {
        VacancyCriterion::RevitalisationSpecialist => c.kind == CandidateKind::Specialist,
        VacancyCriterion::FullTimeBachelorReserve => {
            reserve && c.full_time_education && bachelor_or_above(c.education)
        }
        VacancyCriterion::PartyMemberReserve => reserve && is_party_member(c.political_status),
        VacancyCriterion::ReturnedGraduateReserve => {
            reserve && c.tags.contains(&pb::BackgroundTag::ReturnedGraduate)
        }
        VacancyCriterion::AnyReserve => reserve,
        VacancyCriterion::Unspecified => false,
    }
}

fn reason(criterion: VacancyCriterion) -> &'static str {
    match criterion {
        VacancyCriterion::RevitalisationSpecialist => "rural-revitalisation specialist in this village",
        VacancyCriterion::FullTimeBachelorReserve => "reserve with a full-time bachelor degree or above",
        VacancyCriterion::PartyMemberReserve => "reserve who is a Party member",
        VacancyCriterion::ReturnedGraduateReserve => "reserve who is a returned graduate",
        VacancyCriterion::AnyReserve => "reserve in the pool or in training",
        VacancyCriterion::Unspecified => "",
    }
}

/// Education as a sort key: postgraduate first, unknown last.
fn education_order(e: pb::Education) -> i32 {
    if e == pb::Education::Unspecified { i32::MAX } else { e as i32 }
}

/// Candidates in the order they are offered the seat: by the first criterion of
/// `priority` each meets, then higher education, then younger; those meeting none
/// are left out.
pub fn rank(candidates: Vec<Candidate>, priority: &[VacancyCriterion]) -> Vec<Ranked> {
    let mut scored: Vec<(usize, Candidate)> = candidates
        .into_iter()
        .filter_map(|c| priority.iter().position(|p| meets(&c, *p)).map(|i| (i, c)))
        .collect();
    scored.sort_by(|(ia, a), (ib, b)| {
        ia.cmp(ib)
            .then(education_order(a.education).cmp(&education_order(b.education)))
            .then(b.full_time_education.cmp(&a.full_time_education))
            .then(b.birth_date.cmp(&a.birth_date))
            .then(a.id.cmp(&b.id))
    });
    scored
        .into_iter()
        .enumerate()
        .map(|(n, (i, c))| Ranked {
            rank: n as i32 + 1,
            criterion: priority[i],
            reason: reason(priority[i]).to_string(),
            candidate: c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        dates::parse("d", s).unwrap()
    }

    /// The province's defaults: the 2021 term ends on 2026-12-31.
    fn defaults() -> Rules {
        Rules::defaults(&TermCalendar::default())
    }

    fn holder(id: &str, kind: PostKind, born: &str, education: pb::Education, full_time: bool) -> Holder {
        Holder {
            cadre_id: id.into(),
            name: id.into(),
            kind,
            birth_date: d(born),
            education,
            full_time_education: full_time,
        }
    }

    fn compliant_village() -> VillageFacts {
        VillageFacts {
            holders: vec![
                holder("sec", PostKind::PartySecretary, "1980-01-01", pb::Education::Bachelor, true),
                holder("yl", PostKind::YouthLeagueSecretary, "2000-06-01", pb::Education::College, false),
                holder("wf", PostKind::WomensFederationChair, "1995-06-01", pb::Education::College, false),
            ],
            seeds: 2,
        }
    }

    #[test]
    fn a_fully_staffed_village_passes_every_default_rule() {
        let checks = evaluate(&defaults(), &compliant_village(), d("2025-07-01"));
        assert!(checks.iter().all(|c| c.passed), "{checks:?}");
        assert_eq!(checks.len(), 4);
    }

    #[test]
    fn a_youth_league_secretary_of_thirty_fails_and_a_missing_seed_is_named() {
        let mut f = compliant_village();
        f.holders[1].birth_date = d("1995-06-01");
        f.seeds = 1;
        let checks = evaluate(&defaults(), &f, d("2025-07-01"));
        let failed: Vec<_> = checks.iter().filter(|c| !c.passed).map(|c| c.rule).collect();
        assert_eq!(failed, [StaffingRule::YouthLeagueSecretaryAge, StaffingRule::ReserveSeeds]);
        assert_eq!(checks[1].reason, "Youth League secretary yl is 30, not under 30");
        assert!(checks[3].reason.starts_with("1 reserve seed(s)"));
    }

    #[test]
    fn a_part_time_degree_or_a_non_committee_post_does_not_count_as_a_graduate() {
        let mut f = compliant_village();
        f.holders[0].full_time_education = false;
        f.holders.push(holder(
            "fs",
            PostKind::FirstSecretary,
            "1990-01-01",
            pb::Education::Postgraduate,
            true,
        ));
        let checks = evaluate(&defaults(), &f, d("2025-07-01"));
        assert!(!checks[0].passed);
        let lenient = Rules { min_full_time_bachelor: 0, ..defaults() };
        assert!(evaluate(&lenient, &f, d("2025-07-01"))[0].passed);
    }

    #[test]
    fn a_vacant_womens_federation_chair_fails_its_rule() {
        let mut f = compliant_village();
        f.holders.retain(|h| h.kind != PostKind::WomensFederationChair);
        let checks = evaluate(&defaults(), &f, d("2025-07-01"));
        assert!(!checks[2].passed);
        assert!(checks[2].reason.starts_with("no Women's Federation chair"));
    }

    #[test]
    fn the_nearest_configured_ancestor_wins() {
        let mut configured = BTreeMap::new();
        configured.insert("150525000000".to_string(), 1);
        configured.insert("150525100000".to_string(), 2);
        let village = RegionCode::parse("150525100201").unwrap();
        assert_eq!(effective(&village, &configured), Some(("150525100000", &2)));
        let other = RegionCode::parse("150525200201").unwrap();
        assert_eq!(effective(&other, &configured), Some(("150525000000", &1)));
        assert_eq!(effective(&RegionCode::parse("150526100201").unwrap(), &configured), None);
    }

    #[test]
    fn without_configured_rules_the_term_ends_when_the_calendar_s_current_term_does() {
        assert_eq!(defaults().term_end_date, d("2026-12-31"));
        let after_2026 = TermCalendar::new(vec![2021, 2026], 5).unwrap();
        assert_eq!(Rules::defaults(&after_2026).term_end_date, d("2031-12-31"));
    }

    #[test]
    fn rules_out_of_range_name_their_field() {
        let sent = pb::StaffingRules {
            min_full_time_bachelor: 1,
            youth_league_secretary_max_age: 30,
            womens_federation_chair_max_age: 35,
            min_reserve_seeds: 2,
            age_limit: 7,
            term_end_warning_days: 180,
            term_end_date: "2026-12-31".into(),
            ..Default::default()
        };
        let err = validate_rules("rules", &sent).unwrap_err();
        assert!(err.to_string().starts_with("rules.age_limit: must be within 18..=100"), "{err}");
        let err = validate_rules(
            "rules",
            &pb::StaffingRules { age_limit: 60, term_end_date: "soon".into(), ..sent },
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("rules.term_end_date:"), "{err}");
        assert!(validate_criteria("criteria", &[1, 1]).unwrap_err().to_string().contains("twice"));
        assert!(validate_criteria("criteria", &[]).is_err());
    }

    fn candidate(
        kind: CandidateKind,
        id: &str,
        born: &str,
        education: pb::Education,
        full_time: bool,
    ) -> Candidate {
        Candidate {
            kind,
            id: id.into(),
            name: id.into(),
            birth_date: d(born),
            education,
            full_time_education: full_time,
            political_status: pb::PoliticalStatus::None,
            tags: vec![],
        }
    }

    #[test]
    fn specialists_come_first_then_full_time_graduates_then_other_reserves() {
        use CandidateKind::*;
        let ranked = rank(
            vec![
                candidate(Reserve, "college", "1998-01-01", pb::Education::College, true),
                candidate(Reserve, "bachelor-older", "1990-01-01", pb::Education::Bachelor, true),
                candidate(Reserve, "bachelor-younger", "1996-01-01", pb::Education::Bachelor, true),
                candidate(Reserve, "master", "1985-01-01", pb::Education::Postgraduate, true),
                candidate(Specialist, "specialist", "1992-01-01", pb::Education::College, false),
            ],
            &DEFAULT_PRIORITY,
        );
        let order: Vec<_> = ranked.iter().map(|r| r.candidate.id.as_str()).collect();
        assert_eq!(order, ["specialist", "master", "bachelor-younger", "bachelor-older", "college"]);
        assert_eq!(ranked[0].reason, "rural-revitalisation specialist in this village");
        assert_eq!(ranked[1].criterion, VacancyCriterion::FullTimeBachelorReserve);
        assert_eq!(ranked[4].rank, 5);
    }

    #[test]
    fn a_list_without_a_criterion_leaves_its_candidates_out() {
        use CandidateKind::*;
        let mut member = candidate(Reserve, "member", "1990-01-01", pb::Education::College, false);
        member.political_status = pb::PoliticalStatus::PartyMember;
        let ranked = rank(
            vec![member, candidate(Specialist, "specialist", "1992-01-01", pb::Education::College, false)],
            &[VacancyCriterion::PartyMemberReserve],
        );
        assert_eq!(ranked.len(), 1);
        assert_eq!(ranked[0].reason, "reserve who is a Party member");
    }
}
