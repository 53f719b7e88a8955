//! Feedback of trainees (1–5 and a comment), and what organisers see of it: an
//! aggregate only, and none below a minimum of answers, so no single answer can be
//! told apart.

use crate::error::TrainingError;

pub const DEFAULT_DAYS: i32 = 14;
pub const DEFAULT_MIN_ANSWERS: i32 = 3;
pub const MAX_COMMENT: usize = 500;

pub fn score(field: &str, v: i32) -> Result<i32, TrainingError> {
    if (1..=5).contains(&v) {
        Ok(v)
    } else {
        Err(TrainingError::invalid(field, format!("must be within 1..=5, got {v}")))
    }
}

/// The aggregate organisers see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub answers: i64,
    /// Shown only from the minimum of answers on.
    pub shown: bool,
    pub mean_tenths: i64,
    /// Answers per score 1..=5.
    pub distribution: [i64; 5],
}

/// The aggregate of `scores`, shown when there are at least `minimum`.
pub fn summarise(scores: &[i64], minimum: i64) -> Summary {
    let answers = scores.len() as i64;
    if answers == 0 || answers < minimum {
        return Summary { answers, shown: false, mean_tenths: 0, distribution: [0; 5] };
    }
    let mut distribution = [0; 5];
    for s in scores.iter().filter(|s| (1..=5).contains(*s)) {
        distribution[(*s - 1) as usize] += 1;
    }
    Summary { answers, shown: true, mean_tenths: mean_tenths(scores.iter().sum(), answers), distribution }
}

/// A mean in tenths, rounded half up: (sum × 10) / count.
pub fn mean_tenths(sum: i64, count: i64) -> i64 {
    if count <= 0 { 0 } else { (sum * 20 + count) / (2 * count) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_the_minimum_only_the_count_shows() {
        let s = summarise(&[5, 1], 3);
        assert_eq!((s.answers, s.shown, s.mean_tenths, s.distribution), (2, false, 0, [0; 5]));
        assert!(!summarise(&[], 1).shown);
    }

    #[test]
    fn from_the_minimum_the_mean_and_distribution_show() {
        let s = summarise(&[5, 4, 4], 3);
        assert!(s.shown);
        assert_eq!(s.mean_tenths, 43, "13 / 3 = 4.333… → 4.3");
        assert_eq!(s.distribution, [0, 0, 0, 2, 1]);
    }

    #[test]
    fn means_round_half_up() {
        assert_eq!(mean_tenths(9, 2), 45);
        assert_eq!(mean_tenths(29, 6), 48, "4.8333…");
        assert_eq!(mean_tenths(9, 4), 23, "2.25 → 2.3");
        assert_eq!(mean_tenths(0, 0), 0);
    }

    #[test]
    fn scores_are_one_to_five() {
        assert!(score("score", 0).is_err());
        assert!(score("score", 6).unwrap_err().to_string().starts_with("score: must be within 1..=5"));
        assert_eq!(score("score", 5).unwrap(), 5);
    }
}
