//! MentoringService: mentors paired with new cadres (导师帮带), their growth plans,
//! and coverage of new cadres by mentors.

use cadre_kit::db::to_micros;
use cadre_kit::{ApiError, Principal};
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::mentoring_service_server::MentoringService;
use tonic::{Request, Response, Status};

use super::RosterApi;
use crate::domain::mentoring::{self, MAX_GROWTH_PLAN_CHARS, Pairing};
use crate::domain::{dates, fields, posts};
use crate::error::RosterError;
use crate::store::development::{self as dev, PairingRow};
use crate::store::{self, CadreRow};
use cadre_kit::call::{Call, Changed};

fn pairing_to_proto(p: PairingRow) -> pb::MentorPairing {
    pb::MentorPairing {
        id: p.id,
        mentor_cadre_id: p.mentor_cadre_id,
        mentee_cadre_id: p.mentee_cadre_id,
        region_code: p.region_code,
        start_date: p.start_date,
        end_date: p.end_date.unwrap_or_default(),
        end_reason: p.end_reason,
        growth_plan: p.growth_plan,
        mentor_name: p.mentor_name,
        mentee_name: p.mentee_name,
        revision: p.revision,
    }
}

/// A cadre the caller may change: exists, and lies in the caller's writable jurisdiction.
async fn writable_cadre(
    tx: &mut cadre_kit::db::WriteTx,
    principal: &Principal,
    id: &str,
) -> Result<CadreRow, ApiError> {
    let cadre =
        store::get_cadre(tx.conn(), id).await?.ok_or_else(|| ApiError::not_found(format!("cadre {id}")))?;
    principal
        .ensure_can_write(&fields::region("region_code", &cadre.region_code).map_err(ApiError::internal)?)?;
    Ok(cadre)
}

/// A stored pairing the caller may change.
async fn writable_pairing(
    tx: &mut cadre_kit::db::WriteTx,
    principal: &Principal,
    id: &str,
) -> Result<(PairingRow, Pairing), ApiError> {
    let row = dev::get_pairing(tx.conn(), id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("mentor pairing {id}")))?;
    principal
        .ensure_can_write(&fields::region("region_code", &row.region_code).map_err(ApiError::internal)?)?;
    let pairing =
        row.pairing().ok_or_else(|| ApiError::internal(format!("pairing {} has bad dates", row.id)))?;
    Ok((row, pairing))
}

#[tonic::async_trait]
impl MentoringService for RosterApi {
    async fn pair_mentor(
        &self,
        request: Request<pb::PairMentorRequest>,
    ) -> Result<Response<pb::MentorPairing>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        fields::required_id("mentor_cadre_id", &req.mentor_cadre_id)?;
        fields::required_id("mentee_cadre_id", &req.mentee_cadre_id)?;
        let start = dates::parse("start_date", &req.start_date).map_err(ApiError::from)?;
        let plan = fields::text("growth_plan", &req.growth_plan, false, MAX_GROWTH_PLAN_CHARS)
            .map_err(ApiError::from)?;
        let out = call
            .mutate(&self.db, &req, async |tx| {
                let mentor = writable_cadre(tx, principal, req.mentor_cadre_id.trim()).await?;
                let mentee = writable_cadre(tx, principal, req.mentee_cadre_id.trim()).await?;
                let new = Pairing {
                    id: uuid::Uuid::now_v7().to_string(),
                    mentor_cadre_id: mentor.id.clone(),
                    mentee_cadre_id: mentee.id.clone(),
                    start,
                    end: None,
                };
                let existing: Vec<Pairing> = dev::pairings_of_mentee(tx.conn(), &mentee.id)
                    .await?
                    .iter()
                    .filter_map(PairingRow::pairing)
                    .collect();
                mentoring::check_pairing(&new, &existing)?;
                let row = PairingRow {
                    id: new.id.clone(),
                    mentor_cadre_id: mentor.id.clone(),
                    mentee_cadre_id: mentee.id.clone(),
                    region_code: mentee.region_code.clone(),
                    start_date: dates::format(start),
                    end_date: None,
                    end_reason: String::new(),
                    growth_plan: plan.clone(),
                    revision: 1,
                    mentor_name: mentor.name.clone(),
                    mentee_name: mentee.name.clone(),
                };
                let now = to_micros(tx.now());
                dev::insert_pairing(tx.conn(), &row, now).await?;
                tx.changed(Changed::created(
                    pb::Entity::MentorPairing.as_str_name(),
                    &row.id,
                    &row.region_code,
                    serde_json::json!({
                            "mentor_cadre_id": row.mentor_cadre_id, "mentee_cadre_id": row.mentee_cadre_id,
                            "start_date": row.start_date}),
                ))
                .await?;
                Ok(pairing_to_proto(row))
            })
            .await?;
        Ok(Response::new(out))
    }

    async fn end_mentoring(
        &self,
        request: Request<pb::EndMentoringRequest>,
    ) -> Result<Response<pb::MentorPairing>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        fields::required_id("pairing_id", &req.pairing_id)?;
        let end = dates::parse("end_date", &req.end_date).map_err(ApiError::from)?;
        let reason = fields::text("reason", &req.reason, false, 200).map_err(ApiError::from)?;
        let out = call
            .mutate(&self.db, &req, async |tx| {
                let (row, pairing) = writable_pairing(tx, principal, req.pairing_id.trim()).await?;
                mentoring::check_end(&pairing, end)?;
                let now = to_micros(tx.now());
                dev::end_pairing(tx.conn(), &row.id, &dates::format(end), &reason, now).await?;
                tx.changed(Changed::updated(
                    pb::Entity::MentorPairing.as_str_name(),
                    &row.id,
                    &row.region_code,
                    row.revision + 1,
                    serde_json::json!({ "end_date": dates::format(end), "reason": reason }),
                ))
                .await?;
                let updated = dev::get_pairing(tx.conn(), &row.id)
                    .await?
                    .ok_or_else(|| ApiError::internal("pairing vanished inside its transaction"))?;
                Ok(pairing_to_proto(updated))
            })
            .await?;
        Ok(Response::new(out))
    }

    async fn update_growth_plan(
        &self,
        request: Request<pb::UpdateGrowthPlanRequest>,
    ) -> Result<Response<pb::MentorPairing>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        fields::required_id("pairing_id", &req.pairing_id)?;
        fields::revision("revision", req.revision)?;
        let plan = fields::text("growth_plan", &req.growth_plan, false, MAX_GROWTH_PLAN_CHARS)
            .map_err(ApiError::from)?;
        let out = call
            .mutate(&self.db, &req, async |tx| {
                let (row, _) = writable_pairing(tx, principal, req.pairing_id.trim()).await?;
                let stale = || {
                    ApiError::from(RosterError::stale("mentor pairing", &row.id, req.revision, row.revision))
                };
                if row.revision != req.revision {
                    return Err(stale());
                }
                let now = to_micros(tx.now());
                if !dev::update_growth_plan(tx.conn(), &row.id, &plan, req.revision, now).await? {
                    return Err(stale());
                }
                tx.changed(Changed::updated(
                    pb::Entity::MentorPairing.as_str_name(),
                    &row.id,
                    &row.region_code,
                    row.revision + 1,
                    serde_json::json!({ "growth_plan_chars": plan.chars().count() }),
                ))
                .await?;
                let updated = dev::get_pairing(tx.conn(), &row.id)
                    .await?
                    .ok_or_else(|| ApiError::internal("pairing vanished inside its transaction"))?;
                Ok(pairing_to_proto(updated))
            })
            .await?;
        Ok(Response::new(out))
    }

    async fn list_pairings(
        &self,
        request: Request<pb::ListPairingsRequest>,
    ) -> Result<Response<pb::ListPairingsResponse>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        let scope = principal.scope("region_code", &req.region_code)?;
        let today = dates::format(dates::today());
        let active_on = req.active_only.then_some(today.as_str());
        let page = call.page(req.page_size, &req.page_token, &format!("{scope}|{active_on:?}"))?;
        let mut rows = dev::list_pairings(
            &self.db,
            scope.prefix(),
            active_on,
            page.after.as_deref().unwrap_or_default(),
            page.fetch_limit(),
        )
        .await
        .map_err(ApiError::from)?;
        let next_page_token = page.finish(&mut rows, |r| r.id.clone());
        Ok(Response::new(pb::ListPairingsResponse {
            pairings: rows.into_iter().map(pairing_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn get_mentoring_coverage(
        &self,
        request: Request<pb::GetMentoringCoverageRequest>,
    ) -> Result<Response<pb::MentoringCoverage>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        let region = fields::region("region_code", &req.region_code)?;
        principal.ensure_can_read(&region)?;
        let day = dates::parse_or("as_of", &req.as_of, dates::today()).map_err(ApiError::from)?;
        let since =
            dates::parse_or("new_since", &req.new_since, mentoring::default_new_since(&self.calendar))
                .map_err(ApiError::from)?;
        if since > day {
            return Err(ApiError::invalid("new_since", "must not be after as_of").into());
        }
        let page = call.page(req.page_size, &req.page_token, &format!("{region}|{day}|{since}"))?;
        let day_s = dates::format(day);
        let held = store::posts_under(&self.db, region.prefix(), &posts::two_committee_kinds(), &day_s)
            .await
            .map_err(ApiError::from)?;
        let new = mentoring::new_cadres(&held, day, since);
        let pairings = dev::active_pairings_of_post_holders(&self.db, region.prefix(), &day_s)
            .await
            .map_err(ApiError::from)?;
        let c = mentoring::coverage(new, &pairings, day);
        let after = page.after.clone().unwrap_or_default();
        let mut rows: Vec<_> = c
            .unmentored
            .into_iter()
            .filter(|n| n.cadre_id > after)
            .take(page.fetch_limit() as usize)
            .collect();
        let next_page_token = page.finish(&mut rows, |n| n.cadre_id.clone());
        Ok(Response::new(pb::MentoringCoverage {
            region_code: region.to_string(),
            as_of: day_s,
            new_since: dates::format(since),
            new_cadre_count: c.new_cadre_count as i32,
            mentored_count: c.mentored_count as i32,
            coverage_share: c.coverage_share,
            mentor_count: c.mentor_count as i32,
            unmentored: rows
                .into_iter()
                .map(|n| pb::UnmentoredCadre {
                    cadre_id: n.cadre_id,
                    name: n.name,
                    region_code: n.region_code,
                    first_post_start: dates::format(n.first_start),
                })
                .collect(),
            next_page_token,
        }))
    }
}
