//! Results (考核结果): each village's total as the configured combination of its parts,
//! its ranks (within township, county, and village type when the rules say so) and its
//! tier 1–4, by quota per scope or by thresholds; ties decided by configured
//! tie-breakers, then by the village code — never by row order. Every result carries its
//! explanation: its parts and the rule that put it in its tier. Pure; points in tenths.
//!
//! **Equal villages at a quota boundary** (equal total and equal on every configured
//! tie-breaker — the village code is not a merit): the rules choose. `lower_tier` (the
//! default): the whole group goes to the lower tier, so the quota is never exceeded;
//! `exceed_quota`: the whole group stays in the higher tier and the quota is exceeded by
//! the group. Quota counts are cumulative (`tier 1 + tier 2 at most 20% + 30% of n`),
//! rounded as configured (`floor` by default: "at most 20%" means at most).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::RuleError;
use super::lists::Adjustment;
use super::points::show;

/// The rules that turn scores into results, per county and year (data, never code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultRules {
    /// Weight of the indicator sum, in percent (100: as scored).
    #[serde(default = "hundred")]
    pub indicator_weight_percent: i64,
    /// Whether list adjustments count (within each list's cap).
    #[serde(default = "yes")]
    pub lists_count: bool,
    /// Rank also within each village type (差异化考核).
    #[serde(default)]
    pub rank_by_village_type: bool,
    pub tiers: TierRule,
    /// After the total, in order; the village code always decides last.
    #[serde(default)]
    pub tie_breakers: Vec<TieBreaker>,
    #[serde(default)]
    pub at_quota_boundary: Boundary,
}

fn hundred() -> i64 {
    100
}
fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "by")]
pub enum TierRule {
    /// Tiers 1–3 at most `percent[i]` of the villages of each scope; tier 4 the rest.
    Quota {
        scope: Scope,
        percent: [i64; 3],
        #[serde(default)]
        rounding: Rounding,
    },
    /// Tier 1 from `min_points[0]` (tenths) up, tier 2 from `[1]`, tier 3 from `[2]`; tier 4 below.
    Thresholds { min_points: [i64; 3] },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    County,
    Township,
    VillageType,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    #[default]
    Floor,
    Nearest,
    Ceil,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Boundary {
    #[default]
    LowerTier,
    ExceedQuota,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TieBreaker {
    /// The higher indicator sum first.
    HigherIndicatorTotal,
    /// Fewer negative-list events first.
    FewerNegativeEvents,
    /// The higher positive-list adjustment first.
    HigherPositiveAdjustment,
}

impl ResultRules {
    pub fn validate(&self) -> Result<(), RuleError> {
        if !(1..=1000).contains(&self.indicator_weight_percent) {
            return Err(RuleError::invalid("rules.indicator_weight_percent", "must be 1 to 1000"));
        }
        if self.tie_breakers.len() > 5 {
            return Err(RuleError::invalid("rules.tie_breakers", "at most 5"));
        }
        match &self.tiers {
            TierRule::Quota { percent, scope, .. } => {
                if percent.iter().any(|p| *p < 0) || percent.iter().sum::<i64>() > 100 {
                    return Err(RuleError::invalid(
                        "rules.tiers.percent",
                        "each at least 0 and together at most 100",
                    ));
                }
                if *scope == Scope::VillageType && !self.rank_by_village_type {
                    return Err(RuleError::invalid(
                        "rules.tiers.scope",
                        "village_type quotas need rank_by_village_type",
                    ));
                }
            }
            TierRule::Thresholds { min_points } => {
                if !(min_points[0] >= min_points[1] && min_points[1] >= min_points[2]) {
                    return Err(RuleError::invalid(
                        "rules.tiers.min_points",
                        "must not increase from tier 1 to 3",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A village as the computation reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VillageInput {
    pub code: String,
    pub township_code: String,
    pub village_type: String,
    /// Tenths: the sum of its indicator scores.
    pub indicator_sum: i64,
    pub score_count: u32,
    pub adjustments: Vec<Adjustment>,
}

/// One part of a total: its name (`indicators`, `list:GOOD`…; later `evaluation`,
/// `competition`), what it counted and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartOf {
    pub name: String,
    pub tenths: i64,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    pub parts: Vec<PartOf>,
    pub tier_rule: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VillageResult {
    pub code: String,
    pub township_code: String,
    pub village_type: String,
    pub total: i64,
    pub indicator_total: i64,
    pub negative_events: u32,
    pub rank_township: u32,
    pub rank_county: u32,
    /// 0 when the rules do not rank by type.
    pub rank_type: u32,
    pub tier: u8,
    pub explanation: Explanation,
}

/// `n × percent / 100`, rounded as configured (exact integers).
pub fn quota_count(n: usize, percent: i64, rounding: Rounding) -> usize {
    let num = n as i64 * percent;
    let q = match rounding {
        Rounding::Floor => num / 100,
        Rounding::Ceil => (num + 99) / 100,
        Rounding::Nearest => (num + 50) / 100,
    };
    q.max(0) as usize
}

/// `value × percent / 100` in tenths, half away from zero.
fn weighted(value: i64, percent: i64) -> i64 {
    let num = value * percent;
    if num >= 0 { (num + 50) / 100 } else { -((-num + 50) / 100) }
}

struct Row {
    r: VillageResult,
    positive: i64,
}

/// Merit order: total, then the tie-breakers (Less = better). The code is not merit.
fn merit(rules: &ResultRules, a: &Row, b: &Row) -> Ordering {
    let mut o = b.r.total.cmp(&a.r.total);
    for t in &rules.tie_breakers {
        if o != Ordering::Equal {
            break;
        }
        o = match t {
            TieBreaker::HigherIndicatorTotal => b.r.indicator_total.cmp(&a.r.indicator_total),
            TieBreaker::FewerNegativeEvents => a.r.negative_events.cmp(&b.r.negative_events),
            TieBreaker::HigherPositiveAdjustment => b.positive.cmp(&a.positive),
        };
    }
    o
}

/// Ranks within groups: rows (already in order) grouped by `key`; equal merit shares a
/// rank ("1, 2, 2, 4").
fn rank_in<F, S>(rules: &ResultRules, rows: &mut [Row], order: &[usize], key: F, mut set: S)
where
    F: Fn(&VillageResult) -> String,
    S: FnMut(&mut VillageResult, u32),
{
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for &i in order {
        groups.entry(key(&rows[i].r)).or_default().push(i);
    }
    for members in groups.values() {
        let mut rank = 0u32;
        for (pos, &i) in members.iter().enumerate() {
            if pos == 0 || merit(rules, &rows[members[pos - 1]], &rows[i]) != Ordering::Equal {
                rank = pos as u32 + 1;
            }
            set(&mut rows[i].r, rank);
        }
    }
}

/// Computes every village's result under `rules`. Villages come in any order; the
/// outcome does not depend on it.
pub fn compute(rules: &ResultRules, villages: &[VillageInput]) -> Vec<VillageResult> {
    let mut rows: Vec<Row> = villages
        .iter()
        .map(|v| {
            let weighted_sum = weighted(v.indicator_sum, rules.indicator_weight_percent);
            let mut parts = vec![PartOf {
                name: "indicators".into(),
                tenths: weighted_sum,
                note: if v.score_count == 0 {
                    "no scores: counted as 0.0".into()
                } else if rules.indicator_weight_percent == 100 {
                    format!("{} score(s) summing {}", v.score_count, show_i(v.indicator_sum))
                } else {
                    format!(
                        "{} score(s) summing {} × {}% (half away from zero)",
                        v.score_count,
                        show_i(v.indicator_sum),
                        rules.indicator_weight_percent
                    )
                },
            }];
            let mut total = weighted_sum;
            let (mut positive, mut negative_events) = (0, 0);
            for a in &v.adjustments {
                if a.counted < 0 {
                    negative_events += a.events;
                } else {
                    positive += a.counted;
                }
                if rules.lists_count {
                    total += a.counted;
                }
                parts.push(PartOf {
                    name: format!("list:{}", a.list_code),
                    tenths: if rules.lists_count { a.counted } else { 0 },
                    note: format!(
                        "{} event(s) worth {}{}{}",
                        a.events,
                        show_i(a.raw),
                        if a.capped { ", capped" } else { "" },
                        if rules.lists_count { "" } else { " (lists do not count this year)" }
                    ),
                });
            }
            Row {
                r: VillageResult {
                    code: v.code.clone(),
                    township_code: v.township_code.clone(),
                    village_type: v.village_type.clone(),
                    total,
                    indicator_total: v.indicator_sum,
                    negative_events,
                    rank_township: 0,
                    rank_county: 0,
                    rank_type: 0,
                    tier: 4,
                    explanation: Explanation { parts, tier_rule: String::new() },
                },
                positive,
            }
        })
        .collect();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order
        .sort_by(|&a, &b| merit(rules, &rows[a], &rows[b]).then_with(|| rows[a].r.code.cmp(&rows[b].r.code)));

    rank_in(rules, &mut rows, &order, |_| String::new(), |r, k| r.rank_county = k);
    rank_in(rules, &mut rows, &order, |r| r.township_code.clone(), |r, k| r.rank_township = k);
    if rules.rank_by_village_type {
        rank_in(rules, &mut rows, &order, |r| r.village_type.clone(), |r, k| r.rank_type = k);
    }

    match &rules.tiers {
        TierRule::Thresholds { min_points } => {
            for row in &mut rows {
                let t = min_points.iter().position(|m| row.r.total >= *m).map_or(4, |i| i as u8 + 1);
                row.r.tier = t;
                row.r.explanation.tier_rule = if t < 4 {
                    format!(
                        "tier {t}: total {} is at least {}",
                        show_i(row.r.total),
                        show_i(min_points[t as usize - 1])
                    )
                } else {
                    format!("tier 4: total {} is below {}", show_i(row.r.total), show_i(min_points[2]))
                };
            }
        }
        TierRule::Quota { scope, percent, rounding } => {
            let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            for &i in &order {
                let k = match scope {
                    Scope::County => String::new(),
                    Scope::Township => rows[i].r.township_code.clone(),
                    Scope::VillageType => rows[i].r.village_type.clone(),
                };
                groups.entry(k).or_default().push(i);
            }
            for (key, members) in groups {
                let n = members.len();
                let mut cum = [0usize; 3];
                let mut acc = 0;
                for t in 0..3 {
                    acc += percent[t];
                    cum[t] = quota_count(n, acc, *rounding);
                }
                let scope_name = match scope {
                    Scope::County => "the county".to_string(),
                    Scope::Township => format!("township {key}"),
                    Scope::VillageType => format!("{key} villages"),
                };
                let mut start = 0;
                while start < n {
                    // The group of equal merit starting here.
                    let mut end = start + 1;
                    while end < n
                        && merit(rules, &rows[members[start]], &rows[members[end]]) == Ordering::Equal
                    {
                        end += 1;
                    }
                    let tier = (0..3)
                        .find(|&t| match rules.at_quota_boundary {
                            Boundary::LowerTier => end <= cum[t],
                            Boundary::ExceedQuota => start < cum[t],
                        })
                        .map_or(4u8, |t| t as u8 + 1);
                    let straddles = (0..3).any(|t| start < cum[t] && cum[t] < end);
                    for &i in &members[start..end] {
                        let r = &mut rows[i].r;
                        r.tier = tier;
                        // The shared rank of the group (1, 2, 2, 4), never a position by code.
                        let place = format!("rank {} of {n} in {scope_name}", start + 1);
                        let tiers = if tier == 1 {
                            "tier 1 takes".to_string()
                        } else {
                            format!("tiers 1–{tier} take")
                        };
                        let mut why = if tier < 4 {
                            format!(
                                "tier {tier}: {place}; {tiers} at most {}% ({} villages, {})",
                                percent[..tier as usize].iter().sum::<i64>(),
                                cum[tier as usize - 1],
                                rounding_name(*rounding)
                            )
                        } else {
                            format!(
                                "tier 4: {place}, after tiers 1–3 ({}% together: {} villages, {})",
                                percent.iter().sum::<i64>(),
                                cum[2],
                                rounding_name(*rounding)
                            )
                        };
                        if straddles {
                            why.push_str(&format!(
                                "; {} villages of equal merit at the quota boundary {}",
                                end - start,
                                match rules.at_quota_boundary {
                                    Boundary::LowerTier => "all go to the lower tier",
                                    Boundary::ExceedQuota => "all stay, exceeding the quota",
                                }
                            ));
                        }
                        r.explanation.tier_rule = why;
                    }
                    start = end;
                }
            }
        }
    }
    let mut out: Vec<VillageResult> = rows.into_iter().map(|r| r.r).collect();
    out.sort_by(|a, b| a.code.cmp(&b.code));
    out
}

fn rounding_name(r: Rounding) -> &'static str {
    match r {
        Rounding::Floor => "rounded down",
        Rounding::Nearest => "rounded to nearest",
        Rounding::Ceil => "rounded up",
    }
}

fn show_i(t: i64) -> String {
    show(t.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::lists::ListKind;

    fn v(code: &str, town: &str, sum: i64) -> VillageInput {
        VillageInput {
            code: code.into(),
            township_code: town.into(),
            village_type: "ordinary".into(),
            indicator_sum: sum,
            score_count: u32::from(sum > 0),
            adjustments: vec![],
        }
    }

    fn quota(percent: [i64; 3], rounding: Rounding, boundary: Boundary) -> ResultRules {
        ResultRules {
            indicator_weight_percent: 100,
            lists_count: true,
            rank_by_village_type: false,
            tiers: TierRule::Quota { scope: Scope::County, percent, rounding },
            tie_breakers: vec![TieBreaker::HigherIndicatorTotal, TieBreaker::FewerNegativeEvents],
            at_quota_boundary: boundary,
        }
    }

    fn tiers(rs: &[VillageResult]) -> Vec<(String, u8)> {
        rs.iter().map(|r| (r.code.clone(), r.tier)).collect()
    }

    #[test]
    fn quota_counts_round_as_configured() {
        assert_eq!(quota_count(293, 20, Rounding::Floor), 58);
        assert_eq!(quota_count(293, 20, Rounding::Ceil), 59);
        assert_eq!(quota_count(293, 20, Rounding::Nearest), 59);
        assert_eq!(quota_count(10, 25, Rounding::Nearest), 3);
        assert_eq!(quota_count(10, 25, Rounding::Floor), 2);
        assert_eq!(quota_count(0, 20, Rounding::Ceil), 0);
    }

    #[test]
    fn tiers_by_quota_in_merit_order_whatever_the_row_order() {
        let rules = quota([20, 30, 30], Rounding::Floor, Boundary::LowerTier);
        let vs: Vec<_> = (0..10).map(|i| v(&format!("v{i}"), "t1", 900 - i * 10)).collect();
        let a = compute(&rules, &vs);
        let mut rev = vs.clone();
        rev.reverse();
        assert_eq!(a, compute(&rules, &rev));
        let t: Vec<u8> = a.iter().map(|r| r.tier).collect();
        assert_eq!(t, vec![1, 1, 2, 2, 2, 3, 3, 3, 4, 4]);
        assert_eq!(a[0].rank_county, 1);
        assert!(a[0].explanation.tier_rule.contains("rank 1 of 10"), "{}", a[0].explanation.tier_rule);
        assert!(a[9].explanation.tier_rule.starts_with("tier 4"));
    }

    #[test]
    fn equal_villages_at_the_boundary_go_down_together_or_exceed_as_configured() {
        // 10 villages, tier 1 at most 20% = 2; places 2 and 3 equal.
        let mut vs: Vec<_> = (0..10).map(|i| v(&format!("v{i}"), "t1", 900 - i * 10)).collect();
        vs[2].indicator_sum = vs[1].indicator_sum;
        let lower = compute(&quota([20, 30, 30], Rounding::Floor, Boundary::LowerTier), &vs);
        assert_eq!(&tiers(&lower)[..3], &[("v0".into(), 1), ("v1".into(), 2), ("v2".into(), 2)]);
        assert!(lower[1].explanation.tier_rule.contains("equal merit"), "{}", lower[1].explanation.tier_rule);
        assert_eq!((lower[1].rank_county, lower[2].rank_county, lower[3].rank_county), (2, 2, 4));
        let exceed = compute(&quota([20, 30, 30], Rounding::Floor, Boundary::ExceedQuota), &vs);
        assert_eq!(
            &tiers(&exceed)[..4],
            &[("v0".into(), 1), ("v1".into(), 1), ("v2".into(), 1), ("v3".into(), 2)]
        );
    }

    #[test]
    fn tie_breakers_decide_before_the_code() {
        // Equal totals; v1 has the higher indicator sum (its list deducted), v2 fewer negatives.
        let mut a = v("v2", "t1", 800);
        let mut b = v("v1", "t1", 850);
        b.adjustments = vec![Adjustment {
            list_code: "DONT".into(),
            kind: ListKind::Negative,
            events: 1,
            raw: 50,
            counted: -50,
            capped: false,
        }];
        a.score_count = 5;
        let rules = quota([50, 0, 0], Rounding::Floor, Boundary::LowerTier);
        let r = compute(&rules, &[a.clone(), b.clone()]);
        let by = |c: &str| r.iter().find(|x| x.code == c).unwrap().clone();
        assert_eq!((by("v1").total, by("v2").total), (800, 800));
        assert_eq!((by("v1").tier, by("v2").tier), (1, 4));
        let mut fewer = rules.clone();
        fewer.tie_breakers = vec![TieBreaker::FewerNegativeEvents];
        let r = compute(&fewer, &[a, b]);
        assert_eq!(r.iter().find(|x| x.code == "v2").unwrap().tier, 1);
        assert_eq!(r.iter().find(|x| x.code == "v1").unwrap().rank_county, 2);
    }

    #[test]
    fn thresholds_and_a_village_with_no_scores() {
        let rules = ResultRules {
            tiers: TierRule::Thresholds { min_points: [900, 800, 600] },
            ..quota([0, 0, 0], Rounding::Floor, Boundary::LowerTier)
        };
        rules.validate().unwrap();
        let r = compute(&rules, &[v("a", "t", 950), v("b", "t", 800), v("c", "t", 700), v("d", "t", 0)]);
        assert_eq!(r.iter().map(|x| x.tier).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
        assert_eq!(r[3].explanation.parts[0].note, "no scores: counted as 0.0");
        assert_eq!(r[3].explanation.tier_rule, "tier 4: total 0.0 is below 60.0");
        assert_eq!(r[1].explanation.tier_rule, "tier 2: total 80.0 is at least 80.0");
    }

    #[test]
    fn ranks_per_township_and_type_and_weights_are_exact() {
        let mut rules = quota([20, 30, 30], Rounding::Floor, Boundary::LowerTier);
        rules.rank_by_village_type = true;
        rules.indicator_weight_percent = 50;
        let mut vs = vec![v("a", "t1", 801), v("b", "t2", 700), v("c", "t1", 600)];
        vs[1].village_type = "key".into();
        let r = compute(&rules, &vs);
        assert_eq!(r[0].total, 401); // 400.5 half away from zero
        assert_eq!((r[0].rank_township, r[1].rank_township, r[2].rank_township), (1, 1, 2));
        assert_eq!((r[0].rank_type, r[1].rank_type, r[2].rank_type), (1, 1, 2));
        assert_eq!((r[0].rank_county, r[1].rank_county, r[2].rank_county), (1, 2, 3));
    }

    #[test]
    fn bad_rules_are_refused_naming_the_field() {
        let mut r = quota([50, 40, 20], Rounding::Floor, Boundary::LowerTier);
        assert!(r.validate().unwrap_err().to_string().starts_with("rules.tiers.percent"));
        r.tiers = TierRule::Thresholds { min_points: [100, 200, 50] };
        assert!(r.validate().unwrap_err().to_string().starts_with("rules.tiers.min_points"));
    }
}
