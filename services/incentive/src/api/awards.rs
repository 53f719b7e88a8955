//! AwardService: awards declared under a rule against a pool, moved through their
//! lifecycle by the right level, each movement of money a ledger entry in the same
//! transaction; the pool drawn by a conditional update so it never goes negative.

use cadre_kit::call::{Call, Changed, Mutation};
use cadre_kit::db::to_micros;
use cadre_kit::pii::PiiCipher;
use cadre_kit::region_code::RegionLevel;
use cadre_kit::{ApiError, RegionCode, fields};
use cadre_proto::incentive::v1 as pb;
use cadre_proto::incentive::v1::award_service_server::AwardService;
use tonic::{Request, Response, Status};

use super::IncentiveApi;
use super::rules::{covers, split_for};
use crate::domain::awards::{self, Refusal, Step};
use crate::domain::{money, rules};
use crate::error::IncentiveError;
use crate::store::awards::{self as st, AwardFilter, AwardRow};
use crate::store::pools::{self as pools, PoolRow};
use crate::store::rules::{self as rules_store, RuleRow};

/// The field the bank account is encrypted under.
pub(crate) const ACCOUNT_FIELD: &str = "incentive.payee_account";

/// A bank account shown masked: every digit but the last four starred.
pub(crate) fn mask_account(account: &str) -> String {
    let n = account.chars().count();
    account.chars().enumerate().map(|(i, c)| if i + 4 < n { '*' } else { c }).collect()
}

pub(crate) fn account_of(pii: &PiiCipher, a: &AwardRow, unmasked: bool) -> Result<String, ApiError> {
    let clear = pii.decrypt(ACCOUNT_FIELD, &a.account_cipher).map_err(ApiError::internal)?;
    Ok(if unmasked { clear } else { mask_account(&clear) })
}

pub(crate) fn award_to_proto(pii: &PiiCipher, a: AwardRow, unmasked: bool) -> Result<pb::Award, ApiError> {
    let payee_account = account_of(pii, &a, unmasked)?;
    Ok(pb::Award {
        id: a.id,
        pool_id: a.pool_id,
        rule_id: a.rule_id,
        region_code: a.region_code,
        year: a.year,
        payee: a.payee as i32,
        payee_name: a.payee_name,
        payee_account,
        cadre_id: a.cadre_id,
        on_government_payroll: a.on_payroll,
        amount_fen: a.amount_fen,
        reason: a.reason,
        state: a.state as i32,
        note: a.note,
        declared_by: a.declared_by,
        reviewed_by: a.reviewed_by,
        approved_by: a.approved_by,
        paid_on: a.paid_on,
        payment_reference: a.payment_reference,
        pii_masked: !unmasked,
        revision: a.revision,
    })
}

fn refused(id: &str, r: Refusal) -> ApiError {
    match r {
        Refusal::Illegal { from, to } => IncentiveError::IllegalMove { id: id.to_string(), from, to }.into(),
        Refusal::Level(why) => IncentiveError::NotAllowed(why).into(),
    }
}

/// A bank account: 8–30 digits (spaces allowed and dropped).
fn bank_account(field: &str, s: &str) -> Result<String, ApiError> {
    let digits: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !(8..=30).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid(field, "must be a bank account of 8 to 30 digits"));
    }
    Ok(digits)
}

/// A village code under the caller's jurisdiction, which a township or county may declare for.
fn declarable_village(call: &Call, field: &str, code: &str) -> Result<RegionCode, ApiError> {
    let village = fields::region(field, code)?;
    if village.level() != RegionLevel::Village {
        return Err(ApiError::invalid(field, "must be a village (12 digits)"));
    }
    call.principal().ensure_can_write(&village)?;
    awards::may_declare(call.principal().jurisdiction.level()).map_err(|r| refused("", r))?;
    Ok(village)
}

/// The rule and pool an award under `village` draws on, checked against each other.
async fn rule_and_pool(
    tx: &mut Mutation<'_>,
    rule_id: &str,
    pool_id: &str,
    village: &RegionCode,
) -> Result<(RuleRow, PoolRow), ApiError> {
    let rule = rules_store::get(tx.conn(), rule_id)
        .await?
        .filter(|r| covers(&r.region_code, village.as_str()))
        .ok_or_else(|| ApiError::not_found(format!("rule {rule_id} over {village}")))?;
    let pool = pools::get(tx.conn(), pool_id)
        .await?
        .filter(|p| covers(&p.region_code, village.as_str()))
        .ok_or_else(|| ApiError::not_found(format!("pool {pool_id} over {village}")))?;
    if pool.year != rule.year {
        return Err(ApiError::invalid(
            "award.pool_id",
            format!("pool {} is for {}, rule {} for {}", pool.id, pool.year, rule.id, rule.year),
        ));
    }
    Ok((rule, pool))
}

impl IncentiveApi {
    /// One step of the lifecycle, in one transaction with its ledger entry.
    async fn move_award(
        &self,
        request: Request<pb::MoveAwardRequest>,
        step: Step,
    ) -> Result<Response<pb::Award>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let id = fields::required_id("id", &req.id)?.to_string();
        let note = fields::text("note", &req.note, step.needs_note(), 200)?;
        let award = call
            .mutate(&self.db, &req, async |tx| {
                let moved = move_one(tx, &id, req.revision, step, &note, None).await?;
                award_to_proto(&self.pii, moved, false)
            })
            .await?;
        Ok(Response::new(award))
    }
}

/// Moves award `id` by `step` inside `tx` (payment details for `Step::Pay`).
pub(crate) async fn move_one(
    tx: &mut Mutation<'_>,
    id: &str,
    revision: i64,
    step: Step,
    note: &str,
    payment: Option<(&str, &str)>,
) -> Result<AwardRow, ApiError> {
    let mut a = st::get(tx.conn(), id)
        .await?
        .filter(|a| tx.principal().jurisdiction.covers_str(&a.region_code))
        .ok_or_else(|| ApiError::not_found(format!("award {id}")))?;
    tx.principal().ensure_can_write(&RegionCode::parse(&a.region_code).map_err(ApiError::internal)?)?;
    if revision != 0 && revision != a.revision {
        return Err(IncentiveError::Stale {
            what: "award",
            id: id.to_string(),
            expected: revision,
            current: a.revision,
        }
        .into());
    }
    let pool = pools::get(tx.conn(), &a.pool_id)
        .await?
        .ok_or_else(|| ApiError::internal(format!("award {id} draws on missing pool {}", a.pool_id)))?;
    // Who first (a township learns nothing of the county's steps), then the lifecycle.
    let pool_level = RegionCode::parse(&pool.region_code).map_err(ApiError::internal)?.level();
    awards::may(step, a.state, tx.principal().jurisdiction.level(), pool_level)
        .map_err(|r| refused(id, r))?;
    let to = awards::next(a.state, step).map_err(|r| refused(id, r))?;
    let now = to_micros(tx.now());
    let from = a.state;
    match (step, from) {
        (Step::Approve, _) => {
            // The database decides: a conditional update, so concurrent approvals can
            // never take the pool below zero.
            if !pools::draw(tx.conn(), &pool.id, a.amount_fen, now).await? {
                let balance = pools::get(tx.conn(), &pool.id).await?.map_or(0, |p| p.balance_fen);
                return Err(IncentiveError::PoolDry {
                    pool: pool.id.clone(),
                    balance_fen: balance,
                    balance_yuan: money::yuan(balance),
                    award: id.to_string(),
                    amount_fen: a.amount_fen,
                }
                .into());
            }
            pools::append(tx.conn(), &pool.id, id, pb::EntryKind::Approve, a.amount_fen, now).await?;
            a.approved_by = tx.principal().subject.clone();
        }
        (Step::Cancel, pb::AwardState::Approved) => {
            pools::put_back(tx.conn(), &pool.id, a.amount_fen, now).await?;
            pools::append(tx.conn(), &pool.id, id, pb::EntryKind::Release, a.amount_fen, now).await?;
        }
        (Step::Pay, _) => {
            pools::append(tx.conn(), &pool.id, id, pb::EntryKind::Pay, a.amount_fen, now).await.map_err(
                |e| {
                    match e {
                        // The unique index on the ledger: this award was paid already.
                        IncentiveError::Db(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                            ApiError::failed_precondition(format!("award {id} is paid already"))
                        }
                        other => other.into(),
                    }
                },
            )?;
            let (paid_on, reference) = payment.unwrap_or_default();
            a.paid_on = paid_on.to_string();
            a.payment_reference = reference.to_string();
        }
        (Step::Review, _) => a.reviewed_by = tx.principal().subject.clone(),
        _ => {}
    }
    if !note.is_empty() {
        a.note = note.to_string();
    }
    a.state = to;
    a.revision += 1;
    if !st::save_move(tx.conn(), &a, now).await? {
        return Err(IncentiveError::Stale {
            what: "award",
            id: id.to_string(),
            expected: a.revision - 1,
            current: a.revision,
        }
        .into());
    }
    let detail = serde_json::json!({
        "from": from.as_str_name(), "to": to.as_str_name(), "amount_fen": a.amount_fen, "pool_id": a.pool_id
    });
    tx.changed(Changed::updated(pb::Entity::Award.as_str_name(), id, &a.region_code, a.revision, detail))
        .await?;
    Ok(a)
}

#[tonic::async_trait]
impl AwardService for IncentiveApi {
    async fn declare_award(
        &self,
        request: Request<pb::DeclareAwardRequest>,
    ) -> Result<Response<pb::Award>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let input = req.award.as_ref().ok_or_else(|| ApiError::invalid("award", "is required"))?;
        let village = declarable_village(&call, "award.region_code", &input.region_code)?;
        let rule_id = fields::required_id("award.rule_id", &input.rule_id)?.to_string();
        let pool_id = fields::required_id("award.pool_id", &input.pool_id)?.to_string();
        let payee_name = fields::person_name("award.payee_name", &input.payee_name)?;
        let account = bank_account("award.payee_account", &input.payee_account)?;
        let cadre_id = fields::text("award.cadre_id", &input.cadre_id, false, fields::MAX_KEY_CHARS)?;
        let reason = fields::text("award.reason", &input.reason, false, 200)?;
        let cipher = self.pii.encrypt(ACCOUNT_FIELD, &account);
        let award = call
            .mutate(&self.db, &req, async |tx| {
                let (rule, pool) = rule_and_pool(tx, &rule_id, &pool_id, &village).await?;
                if rule.split != pb::Split::None {
                    return Err(ApiError::failed_precondition(format!(
                        "rule {} shares a fixed total ({}): declare its awards together (DeclareSharedAwards)",
                        rule.id,
                        rule.split.as_str_name()
                    )));
                }
                let payee = rules::payee_of(rule.payee, input.on_government_payroll);
                if matches!(rule.payee, pb::Payee::Person | pb::Payee::OrganisationIfOnPayrollElsePerson)
                    && cadre_id.is_empty()
                {
                    return Err(ApiError::invalid("award.cadre_id", "is required: the rule rewards a cadre"));
                }
                let row = AwardRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    pool_id: pool.id,
                    rule_id: rule.id,
                    region_code: village.to_string(),
                    year: rule.year,
                    payee,
                    payee_name: payee_name.clone(),
                    account_cipher: cipher.clone(),
                    cadre_id: cadre_id.clone(),
                    on_payroll: input.on_government_payroll,
                    amount_fen: rule.amount_fen,
                    reason: if reason.is_empty() { rule.name } else { reason.clone() },
                    state: pb::AwardState::Declared,
                    note: String::new(),
                    declared_by: tx.principal().subject.clone(),
                    reviewed_by: String::new(),
                    approved_by: String::new(),
                    paid_on: String::new(),
                    payment_reference: String::new(),
                    revision: 1,
                };
                { let now = to_micros(tx.now()); st::insert(tx.conn(), &row, now) }.await?;
                let detail = serde_json::json!({
                    "pool_id": row.pool_id, "rule_id": row.rule_id, "amount_fen": row.amount_fen,
                    "payee": row.payee.as_str_name()
                });
                tx.changed(Changed::created(pb::Entity::Award.as_str_name(), &row.id, &row.region_code, detail))
                    .await?;
                award_to_proto(&self.pii, row, false)
            })
            .await?;
        Ok(Response::new(award))
    }

    async fn declare_shared_awards(
        &self,
        request: Request<pb::DeclareSharedAwardsRequest>,
    ) -> Result<Response<pb::DeclareSharedAwardsResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let rule_id = fields::required_id("rule_id", &req.rule_id)?.to_string();
        let pool_id = fields::required_id("pool_id", &req.pool_id)?.to_string();
        let reason = fields::text("reason", &req.reason, false, 200)?;
        if req.villages.is_empty() || req.villages.len() > 1000 {
            return Err(ApiError::invalid("villages", "must name 1 to 1000 villages").into());
        }
        let mut inputs = Vec::with_capacity(req.villages.len());
        for (i, v) in req.villages.iter().enumerate() {
            let village = declarable_village(&call, &format!("villages[{i}].region_code"), &v.region_code)?;
            let name = fields::person_name(&format!("villages[{i}].payee_name"), &v.payee_name)?;
            let account = bank_account(&format!("villages[{i}].payee_account"), &v.payee_account)?;
            inputs.push((village, name, self.pii.encrypt(ACCOUNT_FIELD, &account)));
        }
        let awards = call
            .mutate(&self.db, &req, async |tx| {
                let (rule, pool) = rule_and_pool(tx, &rule_id, &pool_id, &inputs[0].0).await?;
                let qualifiers: Vec<(&str, i64)> =
                    req.villages.iter().map(|v| (v.region_code.as_str(), v.income_fen)).collect();
                let parts = split_for("villages", &rule, &qualifiers)?;
                let mut out = Vec::with_capacity(parts.len());
                for ((village, name, cipher), amount) in inputs.iter().zip(parts) {
                    if !covers(&pool.region_code, village.as_str()) {
                        return Err(ApiError::invalid(
                            "villages",
                            format!("{village} is outside pool {}", pool.id),
                        ));
                    }
                    if amount == 0 {
                        // A share rounded to nothing is not an award.
                        continue;
                    }
                    let row = AwardRow {
                        id: uuid::Uuid::now_v7().to_string(),
                        pool_id: pool.id.clone(),
                        rule_id: rule.id.clone(),
                        region_code: village.to_string(),
                        year: rule.year,
                        payee: rule.payee,
                        payee_name: name.clone(),
                        account_cipher: cipher.clone(),
                        cadre_id: String::new(),
                        on_payroll: false,
                        amount_fen: amount,
                        reason: if reason.is_empty() { rule.name.clone() } else { reason.clone() },
                        state: pb::AwardState::Declared,
                        note: String::new(),
                        declared_by: tx.principal().subject.clone(),
                        reviewed_by: String::new(),
                        approved_by: String::new(),
                        paid_on: String::new(),
                        payment_reference: String::new(),
                        revision: 1,
                    };
                    {
                        let now = to_micros(tx.now());
                        st::insert(tx.conn(), &row, now)
                    }
                    .await?;
                    let detail = serde_json::json!({
                        "pool_id": row.pool_id, "rule_id": row.rule_id, "amount_fen": row.amount_fen,
                        "shared": rule.split.as_str_name()
                    });
                    tx.changed(Changed::created(
                        pb::Entity::Award.as_str_name(),
                        &row.id,
                        &row.region_code,
                        detail,
                    ))
                    .await?;
                    out.push(award_to_proto(&self.pii, row, false)?);
                }
                Ok(pb::DeclareSharedAwardsResponse { awards: out })
            })
            .await?;
        Ok(Response::new(awards))
    }

    async fn review_award(
        &self,
        request: Request<pb::MoveAwardRequest>,
    ) -> Result<Response<pb::Award>, Status> {
        self.move_award(request, Step::Review).await
    }

    async fn approve_award(
        &self,
        request: Request<pb::MoveAwardRequest>,
    ) -> Result<Response<pb::Award>, Status> {
        self.move_award(request, Step::Approve).await
    }

    async fn reject_award(
        &self,
        request: Request<pb::MoveAwardRequest>,
    ) -> Result<Response<pb::Award>, Status> {
        self.move_award(request, Step::Reject).await
    }

    async fn cancel_award(
        &self,
        request: Request<pb::MoveAwardRequest>,
    ) -> Result<Response<pb::Award>, Status> {
        self.move_award(request, Step::Cancel).await
    }

    async fn get_award(&self, request: Request<pb::GetAwardRequest>) -> Result<Response<pb::Award>, Status> {
        let call = Call::of(&request)?;
        let id = fields::required_id("id", &request.get_ref().id)?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let row = st::get(&mut conn, id)
            .await?
            .filter(|a| call.principal().jurisdiction.covers_str(&a.region_code))
            .ok_or_else(|| ApiError::not_found(format!("award {id}")))?;
        let unmasked = call.principal().sees_pii();
        if unmasked {
            call.audit_unmasked_read(
                &self.db,
                &format!("award/{id}"),
                &row.region_code,
                serde_json::json!({}),
            )
            .await?;
        }
        Ok(Response::new(award_to_proto(&self.pii, row, unmasked)?))
    }

    async fn list_awards(
        &self,
        request: Request<pb::ListAwardsRequest>,
    ) -> Result<Response<pb::ListAwardsResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let scope = call.principal().scope("region_code", &req.region_code)?;
        let state = fields::optional_enum::<pb::AwardState>("state", req.state, "award state")?;
        let pool_id = fields::text("pool_id", &req.pool_id, false, fields::MAX_KEY_CHARS)?;
        let filter = AwardFilter { prefix: scope.prefix().to_string(), pool_id, state };
        let page = call.page(req.page_size, &req.page_token, &format!("{filter:?}"))?;
        let mut rows =
            st::list(&self.db, &filter, page.after.as_deref().unwrap_or_default(), page.fetch_limit())
                .await?;
        let next_page_token = page.finish(&mut rows, |a| a.id.clone());
        let unmasked = call.principal().sees_pii();
        if unmasked && !rows.is_empty() {
            let detail = serde_json::json!({ "awards": rows.len(), "pool_id": filter.pool_id });
            call.audit_unmasked_read(&self.db, "award/*", scope.as_str(), detail).await?;
        }
        let awards =
            rows.into_iter().map(|a| award_to_proto(&self.pii, a, unmasked)).collect::<Result<_, _>>()?;
        Ok(Response::new(pb::ListAwardsResponse { awards, next_page_token }))
    }

    async fn export_payment_list(
        &self,
        request: Request<pb::ExportPaymentListRequest>,
    ) -> Result<Response<pb::ExportPaymentListResponse>, Status> {
        self.export(request).await
    }

    async fn upload_payment_confirmations(
        &self,
        request: Request<pb::UploadPaymentConfirmationsRequest>,
    ) -> Result<Response<pb::UploadPaymentConfirmationsResponse>, Status> {
        self.upload(request).await
    }
}

/// Whether the caller sees awards of `village`: only under its own jurisdiction (a
/// county's awards are not a township's business, unlike its rules and pools).
pub(crate) fn sees_award(call: &Call, village: &str) -> bool {
    call.principal().jurisdiction.covers_str(village)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_keep_their_last_four_digits() {
        assert_eq!(mask_account("6228480012345678901"), "***************8901");
        assert_eq!(mask_account("1234"), "1234");
    }
}
