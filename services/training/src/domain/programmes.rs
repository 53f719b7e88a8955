//! Programmes (cohorts): what a programme must hold; eligibility rules as data, each
//! refusal naming the rule that failed; progress as milestones done against those due.

use cadre_kit::{RegionCode, dates, fields};
use cadre_proto::roster::v1::{Education, PostKind};
use cadre_proto::training::v1 as pb;
use chrono::{Datelike, NaiveDate};

use super::levels;
use crate::error::TrainingError;

/// Eligibility, validated: a rule at its neutral value is not checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub max_age: i32,
    pub age_on: NaiveDate,
    pub post_kinds: Vec<i32>,
    /// The roster's Education number (1 postgraduate … 5 below secondary; 0: any).
    pub min_education: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewProgramme {
    pub region: RegionCode,
    pub name: String,
    pub kind: pb::ProgrammeKind,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub rules: Rules,
    /// (name, places)
    pub tiers: Vec<(String, i32)>,
    /// (name, due)
    pub milestones: Vec<(String, NaiveDate)>,
}

pub fn validate(prefix: &str, p: &pb::Programme) -> Result<NewProgramme, TrainingError> {
    let n = |name: &str| format!("{prefix}.{name}");
    let region = fields::region(&n("region_code"), &p.region_code)?;
    levels::keeper(&n("region_code"), &region)?;
    let name = fields::text(&n("name"), &p.name, true, 200)?;
    let kind = fields::required_enum::<pb::ProgrammeKind>(&n("kind"), p.kind, "programme kind")?;
    let start = dates::parse(&n("start_date"), &p.start_date)?;
    let end = dates::parse(&n("end_date"), &p.end_date)?;
    if end < start {
        return Err(TrainingError::invalid(&n("end_date"), format!("{end} is before start_date {start}")));
    }
    let e = p.eligibility.clone().unwrap_or_default();
    if !(0..=100).contains(&e.max_age) {
        return Err(TrainingError::invalid(
            &n("eligibility.max_age"),
            format!("must be within 0..=100, got {}", e.max_age),
        ));
    }
    let post_kinds =
        fields::enum_set::<PostKind>(&n("eligibility.post_kinds"), &e.post_kinds, "post kind", false)?
            .into_iter()
            .map(|k| k as i32)
            .collect();
    let min_education = if e.min_education == 0 {
        0
    } else {
        fields::required_enum::<Education>(&n("eligibility.min_education"), e.min_education, "education")?
            as i32
    };
    let rules = Rules {
        max_age: e.max_age,
        age_on: dates::parse_or(&n("eligibility.age_on"), &e.age_on, start)?,
        post_kinds,
        min_education,
    };
    if p.tiers.is_empty() || p.tiers.len() > 10 {
        return Err(TrainingError::invalid(
            &n("tiers"),
            format!("must hold 1 to 10 tiers, got {}", p.tiers.len()),
        ));
    }
    let mut tiers = Vec::new();
    for (i, t) in p.tiers.iter().enumerate() {
        let tn = fields::text(&n(&format!("tiers[{i}].name")), &t.name, true, 100)?;
        if tiers.iter().any(|(other, _)| other == &tn) {
            return Err(TrainingError::invalid(
                &n(&format!("tiers[{i}].name")),
                format!("{tn:?} is named twice"),
            ));
        }
        if !(1..=10_000).contains(&t.places) {
            return Err(TrainingError::invalid(
                &n(&format!("tiers[{i}].places")),
                format!("must be within 1..=10000, got {}", t.places),
            ));
        }
        tiers.push((tn, t.places));
    }
    if p.milestones.len() > 50 {
        return Err(TrainingError::invalid(&n("milestones"), "must hold at most 50"));
    }
    let mut milestones = Vec::new();
    for (i, m) in p.milestones.iter().enumerate() {
        let mn = fields::text(&n(&format!("milestones[{i}].name")), &m.name, true, 200)?;
        let due = dates::parse(&n(&format!("milestones[{i}].due_date")), &m.due_date)?;
        if due < start || due > end {
            return Err(TrainingError::invalid(
                &n(&format!("milestones[{i}].due_date")),
                format!("{due} is outside the programme's {start}..={end}"),
            ));
        }
        milestones.push((mn, due));
    }
    Ok(NewProgramme { region, name, kind, start, end, rules, tiers, milestones })
}

/// What eligibility is checked against: training's copy of the roster.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// "YYYY-MM", or empty when the roster gave none.
    pub birth_month: String,
    pub education: i64,
    pub post_kinds: Vec<i32>,
}

/// Whole years on `on` of someone born in `birth_month` (taken as its first day).
pub fn age_on(birth_month: &str, on: NaiveDate) -> Option<i32> {
    let born = NaiveDate::parse_from_str(&format!("{birth_month}-01"), "%Y-%m-%d").ok()?;
    let mut age = on.year() - born.year();
    if (on.month(), on.day()) < (born.month(), born.day()) {
        age -= 1;
    }
    Some(age)
}

/// The candidate meets every rule, or the first rule that failed, named with why.
pub fn check(rules: &Rules, c: &Candidate) -> Result<(), String> {
    if rules.max_age > 0 {
        let rule = format!("age at most {} on {}", rules.max_age, dates::format(rules.age_on));
        match age_on(&c.birth_month, rules.age_on) {
            None => return Err(format!("{rule}: the roster has no birth date")),
            Some(age) if age > rules.max_age => return Err(format!("{rule}: {age}")),
            Some(_) => {}
        }
    }
    if !rules.post_kinds.is_empty() && !c.post_kinds.iter().any(|k| rules.post_kinds.contains(k)) {
        let names: Vec<&str> = rules
            .post_kinds
            .iter()
            .filter_map(|k| PostKind::try_from(*k).ok())
            .map(|k| k.as_str_name().trim_start_matches("POST_KIND_"))
            .collect();
        return Err(format!("holding a post of {}: holds none of them", names.join(", ")));
    }
    if rules.min_education > 0 {
        let name = |v: i64| {
            i32::try_from(v)
                .ok()
                .and_then(|v| Education::try_from(v).ok())
                .map_or("UNKNOWN", |e| e.as_str_name().trim_start_matches("EDUCATION_"))
        };
        let rule = format!("education at least {}", name(i64::from(rules.min_education)));
        // Lower numbers are higher education; 0 is unknown.
        if c.education == 0 || c.education > i64::from(rules.min_education) {
            return Err(format!("{rule}: {}", name(c.education)));
        }
    }
    Ok(())
}

/// (done, due): milestones due on or before `as_of`, and those of them done.
pub fn progress(milestones: &[(String, NaiveDate)], done: &[String], as_of: NaiveDate) -> (i32, i32) {
    let due: Vec<&String> = milestones.iter().filter(|(_, d)| *d <= as_of).map(|(id, _)| id).collect();
    let done_n = due.iter().filter(|id| done.contains(id)).count();
    (done_n as i32, due.len() as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn rules() -> Rules {
        Rules {
            max_age: 35,
            age_on: d("2026-03-01"),
            post_kinds: vec![PostKind::PartySecretary as i32],
            min_education: Education::College as i32,
        }
    }

    #[test]
    fn age_is_in_whole_years_on_the_day() {
        assert_eq!(age_on("1991-03", d("2026-03-01")), Some(35));
        assert_eq!(age_on("1991-04", d("2026-03-01")), Some(34));
        assert_eq!(age_on("", d("2026-03-01")), None);
    }

    #[test]
    fn each_refusal_names_the_rule_that_failed() {
        let ok = Candidate {
            birth_month: "1992-05".into(),
            education: Education::Bachelor as i64,
            post_kinds: vec![PostKind::PartySecretary as i32],
        };
        assert_eq!(check(&rules(), &ok), Ok(()));
        let old = Candidate { birth_month: "1978-03".into(), ..ok.clone() };
        assert_eq!(check(&rules(), &old).unwrap_err(), "age at most 35 on 2026-03-01: 48");
        let unknown = Candidate { birth_month: String::new(), ..ok.clone() };
        assert!(check(&rules(), &unknown).unwrap_err().contains("no birth date"));
        let member = Candidate { post_kinds: vec![PostKind::CommitteeMember as i32], ..ok.clone() };
        assert_eq!(
            check(&rules(), &member).unwrap_err(),
            "holding a post of PARTY_SECRETARY: holds none of them"
        );
        let school = Candidate { education: Education::Secondary as i64, ..ok };
        assert_eq!(check(&rules(), &school).unwrap_err(), "education at least COLLEGE: SECONDARY");
    }

    #[test]
    fn progress_counts_done_among_due() {
        let ms = vec![
            ("a".to_string(), d("2026-01-01")),
            ("b".into(), d("2026-06-01")),
            ("c".into(), d("2027-01-01")),
        ];
        assert_eq!(progress(&ms, &["a".into(), "c".into()], d("2026-07-01")), (1, 2));
        assert_eq!(progress(&ms, &[], d("2025-01-01")), (0, 0));
    }

    #[test]
    fn a_programme_holds_tiers_and_milestones_within_its_years() {
        let p = pb::Programme {
            region_code: "150525000000".into(),
            name: "兴村特岗书记".into(),
            kind: pb::ProgrammeKind::SpecialPostSecretaries as i32,
            start_date: "2026-03-01".into(),
            end_date: "2028-12-31".into(),
            tiers: vec![pb::Tier { name: "第一批".into(), places: 25, taken: 0 }],
            milestones: vec![pb::Milestone {
                id: String::new(),
                name: "入学".into(),
                due_date: "2029-01-01".into(),
            }],
            ..Default::default()
        };
        let err = validate("programme", &p).unwrap_err().to_string();
        assert!(err.starts_with("programme.milestones[0].due_date:"), "{err}");
        let none = pb::Programme { tiers: vec![], milestones: vec![], ..p.clone() };
        assert!(validate("programme", &none).unwrap_err().to_string().starts_with("programme.tiers:"));
        let ok = pb::Programme { milestones: vec![], ..p };
        assert_eq!(validate("programme", &ok).unwrap().rules.age_on, d("2026-03-01"));
    }
}
