//! Reward rules: what triggers an award, how much, to whom, and how a shared total is
//! split. Validation names the field; the good-secretary payee is decided per award.

use cadre_kit::RegionCode;
use cadre_kit::fields::{self, FieldError};
use cadre_proto::incentive::v1::{Payee, Split, Trigger};

use super::money;
use super::pay::keeper;

/// A validated rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFields {
    pub region: RegionCode,
    pub year: i32,
    pub name: String,
    pub trigger: Trigger,
    pub tier: i32,
    pub income_threshold_fen: i64,
    pub honour: String,
    pub amount_fen: i64,
    pub payee: Payee,
    pub split: Split,
}

/// The raw fields of a rule as sent (proto-free so the rules test without messages).
#[derive(Debug, Clone, Default)]
pub struct RuleInput<'a> {
    pub region_code: &'a str,
    pub year: i32,
    pub name: &'a str,
    pub trigger: i32,
    pub tier: i32,
    pub income_threshold_fen: i64,
    pub honour: &'a str,
    pub amount_fen: i64,
    pub payee: i32,
    pub split: i32,
}

pub fn validate(field: &str, r: &RuleInput<'_>) -> Result<RuleFields, FieldError> {
    let f = |name: &str| format!("{field}.{name}");
    let region = keeper(&f("region_code"), r.region_code)?;
    let year = fields::year(&f("year"), r.year)?;
    let name = fields::text(&f("name"), r.name, true, 100)?;
    let trigger: Trigger = fields::required_enum(&f("trigger"), r.trigger, "trigger")?;
    let payee: Payee = fields::required_enum(&f("payee"), r.payee, "payee")?;
    let split: Split = fields::required_enum(&f("split"), r.split, "split")?;
    let amount_fen = money::positive(&f("amount_fen"), r.amount_fen)?;
    let (mut tier, mut income_threshold_fen, mut honour) = (0, 0, String::new());
    match trigger {
        Trigger::AssessmentTier => {
            if !(1..=4).contains(&r.tier) {
                return Err(FieldError::new(f("tier"), format!("must be a tier 1..=4, got {}", r.tier)));
            }
            tier = r.tier;
        }
        Trigger::CollectiveIncome => {
            income_threshold_fen = money::positive(&f("income_threshold_fen"), r.income_threshold_fen)?;
        }
        Trigger::NamedHonour => honour = fields::text(&f("honour"), r.honour, true, 50)?,
        Trigger::Unspecified => return Err(FieldError::new(f("trigger"), "is required")),
    }
    if split == Split::ByIncome && trigger != Trigger::CollectiveIncome {
        return Err(FieldError::new(f("split"), "SPLIT_BY_INCOME needs TRIGGER_COLLECTIVE_INCOME"));
    }
    if split != Split::None && !matches!(payee, Payee::Village | Payee::VillagePartyOrganisation) {
        return Err(FieldError::new(
            f("payee"),
            "a shared total is paid to villages or their Party organisations",
        ));
    }
    Ok(RuleFields {
        region,
        year,
        name,
        trigger,
        tier,
        income_threshold_fen,
        honour,
        amount_fen,
        payee,
        split,
    })
}

/// Who an award under a rule with `payee` is paid to: the good-secretary rule pays the
/// village Party organisation if the cadre is on a government payroll, else the cadre.
pub fn payee_of(payee: Payee, on_government_payroll: bool) -> Payee {
    match payee {
        Payee::OrganisationIfOnPayrollElsePerson if on_government_payroll => Payee::VillagePartyOrganisation,
        Payee::OrganisationIfOnPayrollElsePerson => Payee::Person,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier_one() -> RuleInput<'static> {
        RuleInput {
            region_code: "150525000000",
            year: 2026,
            name: "考核一等次奖励",
            trigger: Trigger::AssessmentTier as i32,
            tier: 1,
            amount_fen: 1_000_000,
            payee: Payee::Village as i32,
            split: Split::None as i32,
            ..Default::default()
        }
    }

    #[test]
    fn tier_one_pays_ten_thousand_yuan_to_the_village() {
        let rule = validate("rule", &tier_one()).unwrap();
        assert_eq!(
            (rule.trigger, rule.tier, rule.amount_fen, rule.payee),
            (Trigger::AssessmentTier, 1, 1_000_000, Payee::Village)
        );
    }

    #[test]
    fn unknown_triggers_and_negative_amounts_are_refused_naming_the_field() {
        let err = validate("rule", &RuleInput { trigger: 99, ..tier_one() }).unwrap_err();
        assert_eq!(err.field, "rule.trigger");
        let err = validate("rule", &RuleInput { trigger: 0, ..tier_one() }).unwrap_err();
        assert_eq!(err.field, "rule.trigger");
        let err = validate("rule", &RuleInput { amount_fen: -100, ..tier_one() }).unwrap_err();
        assert_eq!(err.field, "rule.amount_fen");
        let err = validate("rule", &RuleInput { tier: 5, ..tier_one() }).unwrap_err();
        assert_eq!(err.field, "rule.tier");
        let err = validate("rule", &RuleInput { payee: 42, ..tier_one() }).unwrap_err();
        assert_eq!(err.field, "rule.payee");
        let income = RuleInput { trigger: Trigger::CollectiveIncome as i32, ..tier_one() };
        assert_eq!(validate("rule", &income).unwrap_err().field, "rule.income_threshold_fen");
        let by_income_on_tier = RuleInput { split: Split::ByIncome as i32, ..tier_one() };
        assert_eq!(validate("rule", &by_income_on_tier).unwrap_err().field, "rule.split");
    }

    #[test]
    fn the_good_secretary_is_paid_through_the_organisation_only_when_on_a_payroll() {
        let rule = Payee::OrganisationIfOnPayrollElsePerson;
        assert_eq!(payee_of(rule, true), Payee::VillagePartyOrganisation);
        assert_eq!(payee_of(rule, false), Payee::Person);
        assert_eq!(payee_of(Payee::Village, true), Payee::Village);
    }
}
