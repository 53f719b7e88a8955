//! Consequences (结果运用) as configured rules, per county and year: what a final result
//! leads to — a reward for a tier-1 village, the rectification list for tier 4, a
//! secretary recommended for dismissal after tier 4 two years running, priority for
//! honours for the top of a township, a reminder talk for its bottom. Assessment only
//! publishes them (records in its feed and API); other services act on them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::RuleError;
use super::results::VillageResult;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "when")]
pub enum Condition {
    /// The village's tier this year.
    Tier { tier: u8 },
    /// The tier this year and in last year's final result.
    TierTwoYears { tier: u8 },
    /// Rank within its township at most `n` (ties included).
    TopInTownship { n: u32 },
    /// Among the last `n` places of its township.
    BottomInTownship { n: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsequenceRule {
    /// e.g. `reward`, `rectification`, `dismissal_recommended`, `honours_priority`, `reminder_talk`.
    pub kind: String,
    /// Who it concerns: `village` or `secretary`.
    #[serde(default = "village")]
    pub subject: String,
    #[serde(flatten)]
    pub condition: Condition,
}

fn village() -> String {
    "village".into()
}

impl ConsequenceRule {
    pub fn describe(&self) -> String {
        let what = match &self.condition {
            Condition::Tier { tier } => format!("tier {tier}"),
            Condition::TierTwoYears { tier } => format!("tier {tier} this year and last year (final)"),
            Condition::TopInTownship { n } => format!("top {n} in its township"),
            Condition::BottomInTownship { n } => format!("bottom {n} in its township"),
        };
        format!("{what} → {} ({})", self.kind, self.subject)
    }
}

pub fn validate(rules: &[ConsequenceRule]) -> Result<(), RuleError> {
    if rules.len() > 20 {
        return Err(RuleError::invalid("consequences", "at most 20 rules"));
    }
    for (i, r) in rules.iter().enumerate() {
        cadre_kit::fields::text(&format!("consequences[{i}].kind"), &r.kind, true, 40)?;
        if r.subject != "village" && r.subject != "secretary" {
            return Err(RuleError::invalid(format!("consequences[{i}].subject"), "village or secretary"));
        }
        match r.condition {
            Condition::Tier { tier } | Condition::TierTwoYears { tier } if !(1..=4).contains(&tier) => {
                return Err(RuleError::invalid(format!("consequences[{i}].tier"), "1 to 4"));
            }
            Condition::TopInTownship { n } | Condition::BottomInTownship { n } if !(1..=50).contains(&n) => {
                return Err(RuleError::invalid(format!("consequences[{i}].n"), "1 to 50"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// One consequence: the rule, the village, and the results behind it ("<county>/<year>/<village>").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consequence {
    pub kind: String,
    pub subject: String,
    pub village_code: String,
    pub rule: String,
    pub because: Vec<String>,
}

/// What the rules give for `results` of (`county`, `year`), with `last_year` the final
/// tiers of the year before (village → tier; empty if none).
pub fn derive(
    rules: &[ConsequenceRule],
    county: &str,
    year: i32,
    results: &[VillageResult],
    last_year: &BTreeMap<String, u8>,
) -> Vec<Consequence> {
    let mut per_township: BTreeMap<&str, u32> = BTreeMap::new();
    for r in results {
        *per_township.entry(r.township_code.as_str()).or_default() += 1;
    }
    let mut out = Vec::new();
    for rule in rules {
        for r in results {
            let this =
                format!("{county}/{year}/{}: tier {}, rank {} in township", r.code, r.tier, r.rank_township);
            let because = match rule.condition {
                Condition::Tier { tier } if r.tier == tier => Some(vec![this]),
                Condition::TierTwoYears { tier }
                    if r.tier == tier && last_year.get(&r.code) == Some(&tier) =>
                {
                    Some(vec![this, format!("{county}/{}/{}: tier {tier} (final)", year - 1, r.code)])
                }
                Condition::TopInTownship { n } if r.rank_township <= n => Some(vec![this]),
                Condition::BottomInTownship { n } => {
                    let size = per_township[r.township_code.as_str()];
                    (r.rank_township + n > size).then(|| vec![format!("{this} of {size}")])
                }
                _ => None,
            };
            if let Some(because) = because {
                out.push(Consequence {
                    kind: rule.kind.clone(),
                    subject: rule.subject.clone(),
                    village_code: r.code.clone(),
                    rule: rule.describe(),
                    because,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::results::Explanation;

    fn r(code: &str, tier: u8, rank: u32) -> VillageResult {
        VillageResult {
            code: code.into(),
            township_code: "t".into(),
            village_type: "ordinary".into(),
            total: 0,
            indicator_total: 0,
            negative_events: 0,
            rank_township: rank,
            rank_county: rank,
            rank_type: 0,
            tier,
            explanation: Explanation { parts: vec![], tier_rule: String::new() },
        }
    }

    #[test]
    fn rules_give_rewards_rectification_dismissal_honours_and_talks() {
        let rules: Vec<ConsequenceRule> = serde_json::from_str(
            r#"[{"kind":"reward","when":"tier","tier":1},
                {"kind":"rectification","when":"tier","tier":4},
                {"kind":"dismissal_recommended","subject":"secretary","when":"tier_two_years","tier":4},
                {"kind":"honours_priority","when":"top_in_township","n":3},
                {"kind":"reminder_talk","subject":"secretary","when":"bottom_in_township","n":3}]"#,
        )
        .unwrap();
        validate(&rules).unwrap();
        let results: Vec<_> =
            (1..=6).map(|i| r(&format!("v{i}"), [1, 2, 2, 3, 4, 4][i - 1], i as u32)).collect();
        let last = BTreeMap::from([("v5".to_string(), 3u8), ("v6".to_string(), 4u8)]);
        let c = derive(&rules, "150525000000", 2026, &results, &last);
        let of =
            |k: &str| c.iter().filter(|c| c.kind == k).map(|c| c.village_code.as_str()).collect::<Vec<_>>();
        assert_eq!(of("reward"), ["v1"]);
        assert_eq!(of("rectification"), ["v5", "v6"]);
        assert_eq!(of("dismissal_recommended"), ["v6"]);
        assert_eq!(of("honours_priority"), ["v1", "v2", "v3"]);
        assert_eq!(of("reminder_talk"), ["v4", "v5", "v6"]);
        let d = c.iter().find(|c| c.kind == "dismissal_recommended").unwrap();
        assert_eq!(d.because.len(), 2);
        assert!(d.because[1].starts_with("150525000000/2025/v6: tier 4"), "{:?}", d.because);
    }

    #[test]
    fn bad_rules_name_the_field() {
        let bad = vec![ConsequenceRule {
            kind: "x".into(),
            subject: "v".into(),
            condition: Condition::Tier { tier: 1 },
        }];
        assert!(validate(&bad).unwrap_err().to_string().starts_with("consequences[0].subject"));
    }
}
