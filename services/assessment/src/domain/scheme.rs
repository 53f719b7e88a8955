//! What an indicator scheme must hold. A scheme has variants (one per village type, each
//! declaring its total) and items of indicators; an indicator has a maximum, the unit
//! that scores it, evidence notes, and may be left out of a variant or carry another
//! maximum there. Valid when every field is bounded, every indicator has a unit and
//! each variant's maxima add up to its declared total.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use cadre_kit::fields;
use serde::{Deserialize, Serialize};

use super::RuleError;
use super::points::{MAX_TENTHS, show};

pub const MAX_NAME: usize = 100;
pub const MAX_INDICATOR_NAME: usize = 200;
pub const MAX_EVIDENCE: usize = 1000;
pub const MAX_CODE: usize = 16;
pub const MAX_TYPE: usize = 40;
pub const MAX_VARIANTS: usize = 20;
pub const MAX_ITEMS: usize = 50;
pub const MAX_INDICATORS: usize = 300;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantRule {
    pub village_type: String,
    pub excluded: bool,
    /// Tenths; 0: the indicator's own maximum.
    pub max_points: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Indicator {
    pub code: String,
    pub name: String,
    /// Tenths.
    pub max_points: i32,
    /// Empty when `by_township`.
    pub unit_id: String,
    /// Scored by each village's township unit (乡镇评分), not by one named unit.
    #[serde(default)]
    pub by_township: bool,
    pub evidence: String,
    pub variants: Vec<VariantRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub name: String,
    pub indicators: Vec<Indicator>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    pub village_type: String,
    /// Tenths.
    pub total_points: i32,
}

/// A scheme's content: what a version holds, beside its county, year and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemeBody {
    pub name: String,
    pub variants: Vec<Variant>,
    pub items: Vec<Item>,
}

impl SchemeBody {
    pub fn indicators(&self) -> impl Iterator<Item = &Indicator> {
        self.items.iter().flat_map(|i| i.indicators.iter())
    }

    pub fn indicator(&self, code: &str) -> Option<&Indicator> {
        self.indicators().find(|i| i.code == code)
    }

    /// The maximum of `indicator` for villages of `village_type`; `None` when it is left
    /// out of that variant (or the scheme has no such variant).
    pub fn max_for(&self, indicator: &Indicator, village_type: &str) -> Option<i32> {
        if !self.variants.iter().any(|v| v.village_type == village_type) {
            return None;
        }
        match indicator.variants.iter().find(|r| r.village_type == village_type) {
            Some(r) if r.excluded => None,
            Some(r) if r.max_points > 0 => Some(r.max_points),
            _ => Some(indicator.max_points),
        }
    }

    /// The types among `types` (each with how many villages) that no variant covers.
    pub fn missing_variants(&self, types: &BTreeMap<String, usize>) -> Result<(), RuleError> {
        let missing: Vec<(&String, &usize)> =
            types.iter().filter(|(t, _)| !self.variants.iter().any(|v| &v.village_type == *t)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = missing
            .iter()
            .map(|(t, _)| if t.is_empty() { "(none)".to_string() } else { (*t).clone() })
            .collect();
        Err(RuleError::MissingVariants {
            types: names.join(", "),
            villages: missing.iter().map(|(_, n)| **n).sum(),
        })
    }

    /// The units the scheme names, each once.
    pub fn unit_ids(&self) -> BTreeSet<&str> {
        self.indicators().filter(|i| !i.by_township).map(|i| i.unit_id.as_str()).collect()
    }
}

/// Every indicator names a unit among `known` (the county's units), or the first that
/// does not is refused by its field.
pub fn check_units(body: &SchemeBody, known: &HashSet<String>, county: &str) -> Result<(), RuleError> {
    for (i, item) in body.items.iter().enumerate() {
        for (j, ind) in item.indicators.iter().enumerate() {
            if !ind.by_township && !known.contains(&ind.unit_id) {
                return Err(RuleError::invalid(
                    format!("items[{i}].indicators[{j}].unit_id"),
                    format!(
                        "{} is not a scoring unit of {county}",
                        cadre_kit::text::bounded(&ind.unit_id, 64)
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn key(field: &str, s: &str, max: usize) -> Result<String, RuleError> {
    let t = fields::text(field, s, true, max)?;
    if !t.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err(RuleError::invalid(field, "may hold only letters, digits, '-', '_' and '.'"));
    }
    Ok(t)
}

fn points(field: &str, v: i32) -> Result<i32, RuleError> {
    if v <= 0 {
        return Err(RuleError::invalid(field, "must be more than 0 (tenths of a point: 50 is 5.0)"));
    }
    if v > MAX_TENTHS {
        return Err(RuleError::invalid(
            field,
            format!("must be at most {MAX_TENTHS} ({})", show(MAX_TENTHS)),
        ));
    }
    Ok(v)
}

/// The scheme trimmed and checked, or the first field that is wrong.
pub fn validate(body: &SchemeBody) -> Result<SchemeBody, RuleError> {
    let name = fields::text("name", &body.name, true, MAX_NAME)?;
    if body.variants.is_empty() {
        return Err(RuleError::invalid(
            "variants",
            "must declare at least one variant (a village type and its total)",
        ));
    }
    if body.variants.len() > MAX_VARIANTS {
        return Err(RuleError::invalid("variants", format!("at most {MAX_VARIANTS}")));
    }
    let mut variants = Vec::with_capacity(body.variants.len());
    for (i, v) in body.variants.iter().enumerate() {
        let village_type = key(&format!("variants[{i}].village_type"), &v.village_type, MAX_TYPE)?;
        if variants.iter().any(|w: &Variant| w.village_type == village_type) {
            return Err(RuleError::invalid(
                format!("variants[{i}].village_type"),
                format!("{village_type} is declared twice"),
            ));
        }
        let total_points = points(&format!("variants[{i}].total_points"), v.total_points)?;
        variants.push(Variant { village_type, total_points });
    }
    if body.items.is_empty() {
        return Err(RuleError::invalid("items", "must hold at least one item"));
    }
    if body.items.len() > MAX_ITEMS {
        return Err(RuleError::invalid("items", format!("at most {MAX_ITEMS}")));
    }
    let count: usize = body.items.iter().map(|i| i.indicators.len()).sum();
    if count > MAX_INDICATORS {
        return Err(RuleError::invalid(
            "items",
            format!("at most {MAX_INDICATORS} indicators in all, got {count}"),
        ));
    }
    let mut codes: BTreeMap<String, String> = BTreeMap::new();
    let mut items = Vec::with_capacity(body.items.len());
    for (i, item) in body.items.iter().enumerate() {
        let at = format!("items[{i}]");
        let name = fields::text(&format!("{at}.name"), &item.name, true, MAX_NAME)?;
        if item.indicators.is_empty() {
            return Err(RuleError::invalid(format!("{at}.indicators"), "must hold at least one indicator"));
        }
        let mut indicators = Vec::with_capacity(item.indicators.len());
        for (j, ind) in item.indicators.iter().enumerate() {
            let at = format!("{at}.indicators[{j}]");
            let code = key(&format!("{at}.code"), &ind.code, MAX_CODE)?;
            if let Some(first) = codes.insert(code.clone(), at.clone()) {
                return Err(RuleError::invalid(
                    format!("{at}.code"),
                    format!("{code} is used already by {first}"),
                ));
            }
            let name = fields::text(&format!("{at}.name"), &ind.name, true, MAX_INDICATOR_NAME)?;
            let max_points = points(&format!("{at}.max_points"), ind.max_points)?;
            let unit_id = fields::text(&format!("{at}.unit_id"), &ind.unit_id, false, fields::MAX_KEY_CHARS)?;
            match (unit_id.is_empty(), ind.by_township) {
                (true, false) => {
                    return Err(RuleError::invalid(
                        format!("{at}.unit_id"),
                        "is required: every indicator has a scoring unit (or is scored by_township)",
                    ));
                }
                (false, true) => {
                    return Err(RuleError::invalid(
                        format!("{at}.unit_id"),
                        "must be empty: the indicator is scored by each village's township",
                    ));
                }
                _ => {}
            }
            let evidence = fields::text(&format!("{at}.evidence"), &ind.evidence, false, MAX_EVIDENCE)?;
            let mut rules: Vec<VariantRule> = Vec::with_capacity(ind.variants.len());
            for (k, r) in ind.variants.iter().enumerate() {
                let field = format!("{at}.variants[{k}]");
                let village_type = key(&format!("{field}.village_type"), &r.village_type, MAX_TYPE)?;
                if !variants.iter().any(|v| v.village_type == village_type) {
                    return Err(RuleError::invalid(
                        format!("{field}.village_type"),
                        format!("{village_type} is not a variant of the scheme"),
                    ));
                }
                if rules.iter().any(|q| q.village_type == village_type) {
                    return Err(RuleError::invalid(
                        format!("{field}.village_type"),
                        format!("{village_type} is given twice"),
                    ));
                }
                let max_points = match (r.excluded, r.max_points) {
                    (_, 0) => 0,
                    (true, _) => {
                        return Err(RuleError::invalid(
                            format!("{field}.max_points"),
                            "an excluded indicator has no maximum",
                        ));
                    }
                    (false, v) => points(&format!("{field}.max_points"), v)?,
                };
                rules.push(VariantRule { village_type, excluded: r.excluded, max_points });
            }
            indicators.push(Indicator {
                code,
                name,
                max_points,
                unit_id,
                by_township: ind.by_township,
                evidence,
                variants: rules,
            });
        }
        items.push(Item { name, indicators });
    }
    let scheme = SchemeBody { name, variants, items };
    for (i, v) in scheme.variants.iter().enumerate() {
        let sum: i32 = scheme.indicators().filter_map(|ind| scheme.max_for(ind, &v.village_type)).sum();
        if sum != v.total_points {
            return Err(RuleError::invalid(
                format!("variants[{i}].total_points"),
                format!(
                    "the indicators add up to {} for {} villages, not the declared {}",
                    show(sum),
                    v.village_type,
                    show(v.total_points)
                ),
            ));
        }
    }
    Ok(scheme)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn indicator(code: &str, max: i32, unit: &str) -> Indicator {
        Indicator {
            code: code.into(),
            name: format!("指标 {code}"),
            max_points: max,
            unit_id: unit.into(),
            by_township: false,
            evidence: "会议记录".into(),
            variants: vec![],
        }
    }

    /// Two variants: ordinary villages score A01 (6.0) + A02 (4.0) = 10.0; demonstration
    /// villages leave A02 out and score A01 out of 10.0.
    pub(crate) fn scheme() -> SchemeBody {
        let mut a01 = indicator("A01", 60, "agency");
        a01.variants.push(VariantRule {
            village_type: "demonstration".into(),
            excluded: false,
            max_points: 100,
        });
        let mut a02 = Indicator { unit_id: String::new(), by_township: true, ..indicator("A02", 40, "") };
        a02.variants.push(VariantRule {
            village_type: "demonstration".into(),
            excluded: true,
            max_points: 0,
        });
        SchemeBody {
            name: "2026 年村党组织书记考核".into(),
            variants: vec![
                Variant { village_type: "ordinary".into(), total_points: 100 },
                Variant { village_type: "demonstration".into(), total_points: 100 },
            ],
            items: vec![Item { name: "党建".into(), indicators: vec![a01, a02] }],
        }
    }

    #[test]
    fn a_scheme_whose_variants_add_up_is_valid_and_each_type_has_its_maxima() {
        let s = validate(&scheme()).unwrap();
        let (a01, a02) = (s.indicator("A01").unwrap(), s.indicator("A02").unwrap());
        assert_eq!(s.max_for(a01, "ordinary"), Some(60));
        assert_eq!(s.max_for(a01, "demonstration"), Some(100));
        assert_eq!(s.max_for(a02, "demonstration"), None, "left out of the demonstration variant");
        assert_eq!(s.max_for(a02, "key-assistance"), None, "no such variant");
    }

    #[test]
    fn totals_that_do_not_add_up_are_refused_naming_the_variant() {
        let mut s = scheme();
        s.variants[1].total_points = 90;
        let err = validate(&s).unwrap_err().to_string();
        assert!(err.starts_with("variants[1].total_points:"), "{err}");
        assert!(err.contains("10.0") && err.contains("9.0") && err.contains("demonstration"), "{err}");
    }

    #[test]
    fn errors_name_the_indicator_field() {
        let mut s = scheme();
        s.items.push(Item { name: "治理".into(), indicators: vec![indicator("B01", 0, "agency")] });
        let err = validate(&s).unwrap_err().to_string();
        assert!(err.starts_with("items[1].indicators[0].max_points:"), "{err}");

        let mut s = scheme();
        s.items[0].indicators[1].by_township = false;
        let err = validate(&s).unwrap_err().to_string();
        assert!(err.starts_with("items[0].indicators[1].unit_id: is required"), "{err}");
        let mut s = scheme();
        s.items[0].indicators[1].unit_id = "agency".into();
        let err = validate(&s).unwrap_err().to_string();
        assert!(err.starts_with("items[0].indicators[1].unit_id: must be empty"), "{err}");

        let mut s = scheme();
        s.items[0].indicators[1].code = "A01".into();
        let err = validate(&s).unwrap_err().to_string();
        assert!(
            err.starts_with("items[0].indicators[1].code:") && err.contains("items[0].indicators[0]"),
            "{err}"
        );

        let mut s = scheme();
        s.items[0].indicators[0].name = "名".repeat(MAX_INDICATOR_NAME + 1);
        assert!(validate(&s).unwrap_err().to_string().starts_with("items[0].indicators[0].name:"));

        let mut s = scheme();
        s.items[0].indicators[0].variants[0].village_type = "key-assistance".into();
        let err = validate(&s).unwrap_err().to_string();
        assert!(err.starts_with("items[0].indicators[0].variants[0].village_type:"), "{err}");

        let mut s = scheme();
        s.variants.clear();
        assert!(validate(&s).unwrap_err().to_string().starts_with("variants:"));
    }

    #[test]
    fn unknown_units_and_uncovered_village_types_are_named() {
        let s = validate(&scheme()).unwrap();
        let known: HashSet<String> = ["agency".to_string()].into();
        assert!(check_units(&s, &known, "150525000000").is_ok(), "A02 is scored by the townships");
        let err = check_units(&s, &HashSet::new(), "150525000000").unwrap_err().to_string();
        assert!(err.starts_with("items[0].indicators[0].unit_id:"), "{err}");
        let types: BTreeMap<String, usize> =
            [("ordinary".to_string(), 12), ("key-assistance".to_string(), 3)].into();
        let err = s.missing_variants(&types).unwrap_err();
        assert_eq!(err, RuleError::MissingVariants { types: "key-assistance".into(), villages: 3 });
    }
}
