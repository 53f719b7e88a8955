//! Training rules per region and year (rules as data): the hours each kind of post must
//! reach, the default completion rule, and how feedback is collected. A region without
//! its own rules for the year takes its nearest configured ancestor's, else the
//! suite's defaults (no hours required, 80 %, 14 days, 3 answers).

use std::collections::{BTreeMap, HashMap};

use cadre_kit::RegionCode;

use super::completion::DEFAULT_MIN_PERCENT;
use super::feedback::{DEFAULT_DAYS, DEFAULT_MIN_ANSWERS};
use crate::error::TrainingError;

pub const MAX_HOURS_TENTHS: i32 = 2_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// Tenths of an hour per roster PostKind number.
    pub required: BTreeMap<i32, i32>,
    pub default_min_percent: i32,
    pub feedback_days: i32,
    pub feedback_min_answers: i32,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            required: BTreeMap::new(),
            default_min_percent: DEFAULT_MIN_PERCENT,
            feedback_days: DEFAULT_DAYS,
            feedback_min_answers: DEFAULT_MIN_ANSWERS,
        }
    }
}

impl Rules {
    /// What a cadre holding `post_kinds` must reach: the largest of their posts' hours.
    pub fn required_of(&self, post_kinds: &[i32]) -> i32 {
        post_kinds.iter().filter_map(|k| self.required.get(k)).copied().max().unwrap_or(0)
    }

    /// Stored as ",<kind>:<tenths>,…,".
    pub fn encode_required(&self) -> String {
        if self.required.is_empty() {
            return String::new();
        }
        let parts: Vec<String> = self.required.iter().map(|(k, t)| format!("{k}:{t}")).collect();
        format!(",{},", parts.join(","))
    }

    pub fn decode_required(s: &str) -> Option<BTreeMap<i32, i32>> {
        s.split(',')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, t) = p.split_once(':')?;
                Some((k.parse().ok()?, t.parse().ok()?))
            })
            .collect()
    }
}

/// Validates what a caller sets (0 for a setting: its default); `required` is
/// (post kind, tenths) with known kinds checked by the caller.
pub fn validate(
    field: &str,
    required: &[(i32, i32)],
    default_min_percent: i32,
    feedback_days: i32,
    feedback_min_answers: i32,
) -> Result<Rules, TrainingError> {
    let mut hours = BTreeMap::new();
    for (i, (kind, tenths)) in required.iter().enumerate() {
        if !(1..=MAX_HOURS_TENTHS).contains(tenths) {
            return Err(TrainingError::invalid(
                &format!("{field}.required_hours[{i}].hours_tenths"),
                format!("must be within 1..={MAX_HOURS_TENTHS} (tenths of an hour), got {tenths}"),
            ));
        }
        if hours.insert(*kind, *tenths).is_some() {
            return Err(TrainingError::invalid(
                &format!("{field}.required_hours[{i}].post_kind"),
                "is listed twice",
            ));
        }
    }
    let within = |name: &str, v: i32, default: i32, max: i32| -> Result<i32, TrainingError> {
        match v {
            0 => Ok(default),
            v if (1..=max).contains(&v) => Ok(v),
            v => Err(TrainingError::invalid(
                &format!("{field}.{name}"),
                format!("must be within 0..={max}, got {v}"),
            )),
        }
    };
    Ok(Rules {
        required: hours,
        default_min_percent: within("default_min_percent", default_min_percent, DEFAULT_MIN_PERCENT, 100)?,
        feedback_days: within("feedback_days", feedback_days, DEFAULT_DAYS, 90)?,
        feedback_min_answers: within("feedback_min_answers", feedback_min_answers, DEFAULT_MIN_ANSWERS, 50)?,
    })
}

/// The rules in force for `region`: its own, its nearest ancestor's, or the defaults;
/// with the region they come from.
pub fn effective<'a>(
    region: &RegionCode,
    configured: &'a HashMap<String, Rules>,
) -> (std::borrow::Cow<'a, Rules>, Option<RegionCode>) {
    region
        .lineage()
        .find_map(|r| configured.get(r.as_str()).map(|rules| (std::borrow::Cow::Borrowed(rules), Some(r))))
        .unwrap_or((std::borrow::Cow::Owned(Rules::default()), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cadre_must_reach_the_largest_of_their_posts_hours() {
        let rules = validate("rules", &[(1, 320), (3, 160)], 0, 0, 0).unwrap();
        assert_eq!(rules.required_of(&[1, 3]), 320);
        assert_eq!(rules.required_of(&[3]), 160);
        assert_eq!(rules.required_of(&[7]), 0, "a post not listed requires nothing");
        assert_eq!((rules.default_min_percent, rules.feedback_days, rules.feedback_min_answers), (80, 14, 3));
        assert_eq!(Rules::decode_required(&rules.encode_required()).unwrap(), rules.required);
    }

    #[test]
    fn bad_settings_name_their_field() {
        let e = validate("rules", &[(1, 0)], 0, 0, 0).unwrap_err().to_string();
        assert!(e.starts_with("rules.required_hours[0].hours_tenths"), "{e}");
        assert!(validate("rules", &[(1, 10), (1, 20)], 0, 0, 0).unwrap_err().to_string().contains("twice"));
        assert!(
            validate("rules", &[], 101, 0, 0)
                .unwrap_err()
                .to_string()
                .starts_with("rules.default_min_percent")
        );
        assert!(validate("rules", &[], 0, -1, 0).unwrap_err().to_string().starts_with("rules.feedback_days"));
        assert!(validate("rules", &[], 0, 0, 51).is_err());
    }

    #[test]
    fn the_nearest_configured_region_wins() {
        let county = RegionCode::parse("150525000000").unwrap();
        let township = RegionCode::parse("150525100000").unwrap();
        let mut configured = HashMap::new();
        configured.insert("150500000000".to_string(), Rules { default_min_percent: 70, ..Rules::default() });
        let (rules, from) = effective(&township, &configured);
        assert_eq!((rules.default_min_percent, from.unwrap().as_str()), (70, "150500000000"));
        configured.insert(county.to_string(), Rules { default_min_percent: 90, ..Rules::default() });
        assert_eq!(effective(&township, &configured).0.default_min_percent, 90);
        assert_eq!(effective(&RegionCode::parse("150600000000").unwrap(), &configured).1, None);
    }
}
