//! RewardRuleService: rules per region and year, and the preview of a shared total's
//! split (largest remainder, exact to the fen).

use cadre_kit::call::{Call, Changed};
use cadre_kit::db::to_micros;
use cadre_kit::{ApiError, fields};
use cadre_proto::incentive::v1 as pb;
use cadre_proto::incentive::v1::reward_rule_service_server::RewardRuleService;
use tonic::{Request, Response, Status};

use super::{IncentiveApi, ancestors, visible};
use crate::domain::rules::{self, RuleInput};
use crate::domain::share::{self, Share};
use crate::store::rules::{self as st, RuleRow};

pub(crate) fn rule_to_proto(r: RuleRow) -> pb::RewardRule {
    pb::RewardRule {
        id: r.id,
        region_code: r.region_code,
        year: r.year,
        name: r.name,
        trigger: r.trigger as i32,
        tier: r.tier,
        income_threshold_fen: r.income_threshold_fen,
        honour: r.honour,
        amount_fen: r.amount_fen,
        payee: r.payee as i32,
        split: r.split as i32,
        revision: r.revision,
    }
}

/// The split of a shared rule among `qualifiers` (key, income): equal or by income;
/// `field` names the list. Incomes below the rule's threshold are refused.
pub(crate) fn split_for(
    field: &str,
    rule: &RuleRow,
    qualifiers: &[(&str, i64)],
) -> Result<Vec<i64>, ApiError> {
    if rule.split == pb::Split::None {
        return Err(ApiError::failed_precondition(format!(
            "rule {} pays each award in full (SPLIT_NONE): it has no shared total",
            rule.id
        )));
    }
    if qualifiers.len() > 1000 {
        return Err(ApiError::invalid(field, "at most 1000 villages"));
    }
    for (i, (code, income)) in qualifiers.iter().enumerate() {
        let code = fields::region(&format!("{field}[{i}].region_code"), code)?;
        if code.level() != cadre_kit::region_code::RegionLevel::Village {
            return Err(ApiError::invalid(&format!("{field}[{i}].region_code"), "must be a village"));
        }
        if !covers(&rule.region_code, code.as_str()) {
            return Err(ApiError::invalid(
                &format!("{field}[{i}].region_code"),
                format!("{code} is outside the rule's region {}", rule.region_code),
            ));
        }
        if rule.trigger == pb::Trigger::CollectiveIncome && *income < rule.income_threshold_fen {
            return Err(ApiError::invalid(
                &format!("{field}[{i}].income_fen"),
                format!("{income} fen is below the rule's threshold of {} fen", rule.income_threshold_fen),
            ));
        }
    }
    let shares: Vec<Share<'_>> = qualifiers
        .iter()
        .map(|(key, income)| Share {
            key,
            weight: if rule.split == pb::Split::ByIncome { *income } else { 1 },
        })
        .collect();
    Ok(share::split(field, rule.amount_fen, &shares)?)
}

/// Whether the region kept as `keeper` covers `code`.
pub(crate) fn covers(keeper: &str, code: &str) -> bool {
    cadre_kit::RegionCode::parse(keeper).is_ok_and(|k| k.covers_str(code))
}

#[tonic::async_trait]
impl RewardRuleService for IncentiveApi {
    async fn create_reward_rule(
        &self,
        request: Request<pb::CreateRewardRuleRequest>,
    ) -> Result<Response<pb::RewardRule>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let r = req.rule.as_ref().ok_or_else(|| ApiError::invalid("rule", "is required"))?;
        let f = rules::validate(
            "rule",
            &RuleInput {
                region_code: &r.region_code,
                year: r.year,
                name: &r.name,
                trigger: r.trigger,
                tier: r.tier,
                income_threshold_fen: r.income_threshold_fen,
                honour: &r.honour,
                amount_fen: r.amount_fen,
                payee: r.payee,
                split: r.split,
            },
        )?;
        call.principal().ensure_can_write(&f.region)?;
        let rule = call
            .mutate(&self.db, &req, async |tx| {
                let row = RuleRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    region_code: f.region.to_string(),
                    year: f.year,
                    name: f.name.clone(),
                    trigger: f.trigger,
                    tier: f.tier,
                    income_threshold_fen: f.income_threshold_fen,
                    honour: f.honour.clone(),
                    amount_fen: f.amount_fen,
                    payee: f.payee,
                    split: f.split,
                    revision: 1,
                };
                {
                    let now = to_micros(tx.now());
                    st::insert(tx.conn(), &row, now)
                }
                .await?;
                let detail = serde_json::json!({
                    "trigger": row.trigger.as_str_name(), "amount_fen": row.amount_fen,
                    "payee": row.payee.as_str_name(), "split": row.split.as_str_name(), "year": row.year
                });
                tx.changed(Changed::created(
                    pb::Entity::RewardRule.as_str_name(),
                    &row.id,
                    &row.region_code,
                    detail,
                ))
                .await?;
                Ok(rule_to_proto(row))
            })
            .await?;
        Ok(Response::new(rule))
    }

    async fn get_reward_rule(
        &self,
        request: Request<pb::GetRewardRuleRequest>,
    ) -> Result<Response<pb::RewardRule>, Status> {
        let call = Call::of(&request)?;
        let id = fields::required_id("id", &request.get_ref().id)?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let row = visible(
            call.principal(),
            st::get(&mut conn, id).await?,
            |r| &r.region_code,
            format!("rule {id}"),
        )?;
        Ok(Response::new(rule_to_proto(row)))
    }

    async fn list_reward_rules(
        &self,
        request: Request<pb::ListRewardRulesRequest>,
    ) -> Result<Response<pb::ListRewardRulesResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let scope = call.principal().scope("region_code", &req.region_code)?;
        if req.year != 0 {
            fields::year("year", req.year)?;
        }
        let page = call.page(req.page_size, &req.page_token, &format!("{scope}|{}", req.year))?;
        let mut rows = st::list(
            &self.db,
            scope.prefix(),
            &ancestors(&scope),
            req.year,
            page.after.as_deref().unwrap_or_default(),
            page.fetch_limit(),
        )
        .await?;
        let next_page_token = page.finish(&mut rows, |r| r.id.clone());
        Ok(Response::new(pb::ListRewardRulesResponse {
            rules: rows.into_iter().map(rule_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn preview_share(
        &self,
        request: Request<pb::PreviewShareRequest>,
    ) -> Result<Response<pb::PreviewShareResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.get_ref();
        let id = fields::required_id("rule_id", &req.rule_id)?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let rule = visible(
            call.principal(),
            st::get(&mut conn, id).await?,
            |r| &r.region_code,
            format!("rule {id}"),
        )?;
        let qualifiers: Vec<(&str, i64)> =
            req.qualifiers.iter().map(|q| (q.region_code.as_str(), q.income_fen)).collect();
        let parts = split_for("qualifiers", &rule, &qualifiers)?;
        Ok(Response::new(pb::PreviewShareResponse {
            total_fen: parts.iter().sum(),
            parts: qualifiers
                .iter()
                .zip(parts)
                .map(|((code, _), amount_fen)| pb::SharePart { region_code: code.to_string(), amount_fen })
                .collect(),
        }))
    }
}
