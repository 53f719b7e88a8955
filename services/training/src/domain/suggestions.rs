//! Which teachers to suggest for an order, best first, and why: the county decides,
//! the service shows its reasoning. Each consideration outweighs all that follow it:
//! expertise in the order's topic, then being free on the preferred day, then serving
//! the orderer's township (or the whole county), then trainees' rating.

use std::collections::HashSet;

use cadre_kit::RegionCode;
use cadre_proto::training::v1::Topic;
use chrono::NaiveDate;

use super::labels;

/// What ranking needs of a teacher.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: String,
    pub name: String,
    pub expertise: Vec<Topic>,
    pub serves: Vec<String>,
    pub rating_sum: i64,
    pub rating_count: i64,
}

/// What ranking needs of the order.
#[derive(Debug, Clone, PartialEq)]
pub struct Wanted {
    pub topic: Topic,
    pub region: RegionCode,
    pub preferred_date: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub teacher_id: String,
    pub teacher_name: String,
    pub score: i32,
    pub reasons: Vec<String>,
    pub available: bool,
    pub rating: f64,
}

// Weights chosen so that each consideration outweighs every one after it together.
const EXPERTISE: i32 = 1000;
const FREE: i32 = 200;
const SERVES_TOWNSHIP: i32 = 100;
const SERVES_COUNTY: i32 = 50;
/// A full 5.0 rating adds this much (an unrated teacher neither gains nor loses).
const RATING_MAX: i32 = 20;

pub fn rating(sum: i64, count: i64) -> f64 {
    if count > 0 { sum as f64 / count as f64 } else { 0.0 }
}

/// Every candidate scored, best first; `busy` holds the teachers already scheduled on
/// the preferred day. Ties break by rating, then name, then id, so the order is stable.
pub fn rank(
    wanted: &Wanted,
    candidates: &[Candidate],
    busy: &HashSet<String>,
    limit: usize,
) -> Vec<Suggestion> {
    let mut out: Vec<Suggestion> = candidates.iter().map(|c| score(wanted, c, busy)).collect();
    out.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then(b.rating.total_cmp(&a.rating))
            .then(a.teacher_name.cmp(&b.teacher_name))
            .then(a.teacher_id.cmp(&b.teacher_id))
    });
    out.truncate(limit);
    out
}

fn score(wanted: &Wanted, c: &Candidate, busy: &HashSet<String>) -> Suggestion {
    let mut score = 0;
    let mut reasons = Vec::new();
    let topic = labels::topic(wanted.topic);
    if c.expertise.contains(&wanted.topic) {
        score += EXPERTISE;
        reasons.push(format!("teaches {topic}"));
    } else {
        reasons.push(format!("does not list {topic} among what they teach"));
    }
    let serving: Vec<RegionCode> = c.serves.iter().filter_map(|s| RegionCode::parse(s).ok()).collect();
    let township = wanted.region.ancestor_at(cadre_kit::RegionLevel::Township);
    if let Some(t) = township.as_ref().filter(|t| serving.iter().any(|s| s == *t)) {
        score += SERVES_TOWNSHIP;
        reasons.push(format!("serves township {t}"));
    } else if serving.iter().any(|s| s.covers(&wanted.region)) {
        score += SERVES_COUNTY;
        reasons.push("serves the orderer's county".to_string());
    } else {
        reasons.push("does not serve the orderer's region".to_string());
    }
    let mut available = true;
    if let Some(day) = wanted.preferred_date {
        if busy.contains(&c.id) {
            available = false;
            reasons.push(format!("busy on {day}"));
        } else {
            score += FREE;
            reasons.push(format!("free on {day}"));
        }
    }
    let rating = rating(c.rating_sum, c.rating_count);
    if c.rating_count > 0 {
        score += (rating / 5.0 * f64::from(RATING_MAX)).round() as i32;
        reasons.push(format!("rated {rating:.1} by {} trainees", c.rating_count));
    } else {
        reasons.push("not yet rated".to_string());
    }
    Suggestion { teacher_id: c.id.clone(), teacher_name: c.name.clone(), score, reasons, available, rating }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(id: &str, topics: &[Topic], serves: &[&str], rating: (i64, i64)) -> Candidate {
        Candidate {
            id: id.into(),
            name: id.into(),
            expertise: topics.to_vec(),
            serves: serves.iter().map(|s| s.to_string()).collect(),
            rating_sum: rating.0,
            rating_count: rating.1,
        }
    }

    fn wanted() -> Wanted {
        Wanted {
            topic: Topic::LandTransfer,
            region: RegionCode::parse("150525100201").unwrap(),
            preferred_date: NaiveDate::from_ymd_opt(2026, 5, 20),
        }
    }

    #[test]
    fn the_local_expert_who_is_free_comes_first_and_says_why() {
        let all = [
            candidate("far", &[Topic::LandTransfer], &["150525000000"], (45, 10)),
            candidate("local", &[Topic::LandTransfer], &["150525100000"], (0, 0)),
            candidate("wrong-topic", &[Topic::Law], &["150525100000"], (50, 10)),
            candidate("busy", &[Topic::LandTransfer], &["150525100000"], (50, 10)),
        ];
        let busy: HashSet<String> = ["busy".to_string()].into();
        let ranked = rank(&wanted(), &all, &busy, 10);
        let order: Vec<&str> = ranked.iter().map(|s| s.teacher_id.as_str()).collect();
        assert_eq!(
            order,
            ["local", "far", "busy", "wrong-topic"],
            "the right topic first, then free, then local"
        );
        assert!(ranked[0].reasons.contains(&"teaches 土地流转".to_string()), "{:?}", ranked[0].reasons);
        assert!(ranked[0].reasons.contains(&"serves township 150525100000".to_string()));
        assert!(ranked[0].reasons.contains(&"free on 2026-05-20".to_string()));
        assert!(!ranked[2].available && ranked[2].reasons.contains(&"busy on 2026-05-20".to_string()));
        assert!(ranked[1].reasons.contains(&"rated 4.5 by 10 trainees".to_string()));
        assert_eq!(rank(&wanted(), &all, &busy, 2).len(), 2);
    }

    #[test]
    fn without_a_preferred_day_availability_does_not_count() {
        let w = Wanted { preferred_date: None, ..wanted() };
        let s = rank(
            &w,
            &[candidate("a", &[Topic::LandTransfer], &["150525000000"], (0, 0))],
            &HashSet::new(),
            5,
        );
        assert_eq!(s[0].score, EXPERTISE + SERVES_COUNTY);
        assert!(s[0].available);
    }
}
