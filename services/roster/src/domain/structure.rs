//! Structure analytics (班子结构) of the two-committee members serving under a region
//! on a date: head count, average age, education, youth, women, Party members and
//! one-shoulder villages, as the term-end reports count them.

use cadre_kit::resident_id::{Sex, age_on};
use cadre_proto::roster::v1 as pb;
use chrono::NaiveDate;

use crate::domain::cadre::{college_or_above, is_party_member};

/// What the analytics need of one serving member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub birth_date: NaiveDate,
    pub sex: Sex,
    pub education: pb::Education,
    pub political_status: pb::PoliticalStatus,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Structure {
    pub village_count: usize,
    pub head_count: usize,
    pub average_age: f64,
    pub college_or_above_share: f64,
    pub under_35_count: usize,
    pub women_share: f64,
    pub party_member_share: f64,
    pub one_shoulder_villages: usize,
    pub one_shoulder_share: f64,
}

/// Ages are whole years on `day`; "under 35" means an age of 34 or less.
pub fn compute(
    members: &[Member],
    day: NaiveDate,
    village_count: usize,
    one_shoulder_villages: usize,
) -> Structure {
    let n = members.len();
    let share = |count: usize, of: usize| if of == 0 { 0.0 } else { count as f64 / of as f64 };
    let ages: Vec<i32> = members.iter().map(|m| age_on(m.birth_date, day)).collect();
    Structure {
        village_count,
        head_count: n,
        average_age: if n == 0 { 0.0 } else { ages.iter().map(|a| f64::from(*a)).sum::<f64>() / n as f64 },
        college_or_above_share: share(members.iter().filter(|m| college_or_above(m.education)).count(), n),
        under_35_count: ages.iter().filter(|a| **a < 35).count(),
        women_share: share(members.iter().filter(|m| m.sex == Sex::Female).count(), n),
        party_member_share: share(members.iter().filter(|m| is_party_member(m.political_status)).count(), n),
        one_shoulder_villages,
        one_shoulder_share: share(one_shoulder_villages, village_count),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(birth: &str, sex: Sex, education: pb::Education, party: pb::PoliticalStatus) -> Member {
        Member {
            birth_date: NaiveDate::parse_from_str(birth, "%Y-%m-%d").unwrap(),
            sex,
            education,
            political_status: party,
        }
    }

    #[test]
    fn a_small_village_team_is_counted_as_the_reports_count_it() {
        use pb::{Education as E, PoliticalStatus as P};
        let day = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let members = vec![
            member("1974-06-01", Sex::Male, E::Secondary, P::PartyMember), // 49
            member("1990-01-01", Sex::Female, E::Bachelor, P::ProbationaryMember), // 34: under 35
            member("1989-01-01", Sex::Male, E::College, P::None),          // 35
            member("1980-12-31", Sex::Female, E::BelowSecondary, P::PartyMember), // 43
        ];
        let s = compute(&members, day, 2, 1);
        assert_eq!(s.head_count, 4);
        assert!((s.average_age - 40.25).abs() < 1e-9, "{}", s.average_age);
        assert!((s.college_or_above_share - 0.5).abs() < 1e-9);
        assert_eq!(s.under_35_count, 1);
        assert!((s.women_share - 0.5).abs() < 1e-9);
        assert!((s.party_member_share - 0.75).abs() < 1e-9);
        assert!((s.one_shoulder_share - 0.5).abs() < 1e-9);
    }

    #[test]
    fn an_empty_region_has_zero_shares_not_nan() {
        let s = compute(&[], NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(), 0, 0);
        assert_eq!(s.average_age, 0.0);
        assert_eq!(s.women_share, 0.0);
        assert_eq!(s.one_shoulder_share, 0.0);
    }
}
