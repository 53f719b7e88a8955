//! ExitService: sanctions and exits (提醒谈话 … 免职). Dismissals and resignations end
//! every post the cadre holds, an organisational adjustment the posts it names, all
//! in the transaction that records the sanction, so the vacancies open at once. A
//! revocation (撤销) marks the sanction revoked and may reopen the posts it ended.

use cadre_kit::ApiError;
use cadre_kit::db::to_micros;
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::exit_service_server::ExitService;
use tonic::{Request, Response, Status};

use super::RosterApi;
use crate::domain::exits::{self, MAX_REASON_CHARS};
use crate::domain::posts::HeldPost;
use crate::domain::{dates, fields};
use crate::error::RosterError;
use crate::store::development::{self as dev, Revocation, SanctionFilter, SanctionRow};
use crate::store::{self, PostRow};
use cadre_kit::call::{Call, Changed, Mutation};

const MAX_DECIDED_BY_CHARS: usize = 100;

fn sanction_to_proto(s: SanctionRow) -> pb::Sanction {
    pb::Sanction {
        id: s.id,
        cadre_id: s.cadre_id,
        region_code: s.region_code,
        kind: s.kind as i32,
        date: s.decided_on,
        reason: s.reason,
        decided_by: s.decided_by,
        assessment_result_id: s.assessment_result_id,
        post_ids: s.post_ids,
        ended_post_ids: s.ended_post_ids,
        cadre_name: s.cadre_name,
        revision: s.revision,
        revoked: s.revoked_date.is_some(),
        revoked_date: s.revoked_date.unwrap_or_default(),
        revoke_reason: s.revoke_reason,
        revoked_by: s.revoked_by,
        reinstated_post_ids: s.reinstated_post_ids,
    }
}

fn held(r: &PostRow) -> Result<HeldPost, ApiError> {
    Ok(r.held()?)
}

fn stored_date(what: &str, s: &str) -> Result<chrono::NaiveDate, ApiError> {
    dates::parse_stored(s).ok_or_else(|| ApiError::internal(format!("{what} has a bad stored date {s:?}")))
}

/// The audit entry and change-feed row of a post the sanction (or its revocation)
/// ended or reopened, at its next revision.
async fn post_changed(
    tx: &mut Mutation<'_>,
    post: &PostRow,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    tx.changed(Changed::updated(
        pb::Entity::Post.as_str_name(),
        &post.id,
        &post.region_code,
        post.revision + 1,
        detail,
    ))
    .await
}

#[tonic::async_trait]
impl ExitService for RosterApi {
    async fn record_sanction(
        &self,
        request: Request<pb::RecordSanctionRequest>,
    ) -> Result<Response<pb::Sanction>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        let cadre_id = req.cadre_id.trim().to_string();
        if cadre_id.is_empty() {
            return Err(ApiError::invalid("cadre_id", "is required").into());
        }
        let kind = exits::kind("kind", req.kind).map_err(ApiError::from)?;
        let today = dates::today();
        let date = dates::parse_or("date", &req.date, today).map_err(ApiError::from)?;
        let reason = fields::text("reason", &req.reason, true, MAX_REASON_CHARS).map_err(ApiError::from)?;
        let decided_by = fields::text("decided_by", &req.decided_by, true, MAX_DECIDED_BY_CHARS)
            .map_err(ApiError::from)?;
        let assessment_result_id =
            fields::text("assessment_result_id", &req.assessment_result_id, false, 100)
                .map_err(ApiError::from)?;
        let named: Vec<String> = req.post_ids.iter().map(|p| p.trim().to_string()).collect();
        if let Some(i) = named.iter().position(String::is_empty) {
            return Err(ApiError::invalid(&format!("post_ids[{i}]"), "is empty").into());
        }
        let out = call.mutate(&self.db, &req, async |tx| {
            let cadre = store::get_cadre(tx.conn(), &cadre_id)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("cadre {cadre_id}")))?;
            principal.ensure_can_write(&fields::region("region_code", &cadre.region_code).map_err(ApiError::internal)?)?;
            let rows = dev::posts_of_cadre(tx.conn(), &cadre.id).await?;
            let cadre_posts = rows.iter().map(held).collect::<Result<Vec<_>, _>>()?;
            let to_end = exits::posts_to_end(kind, date, today, &cadre_posts, &named)?;
            let now = to_micros(tx.now());
            let end_s = dates::format(date);
            let end_reason = format!("{}: {reason}", kind.as_str_name());
            let sanction = SanctionRow {
                id: uuid::Uuid::now_v7().to_string(),
                cadre_id: cadre.id.clone(),
                region_code: cadre.region_code.clone(),
                kind: kind as i64,
                decided_on: end_s.clone(),
                reason: reason.clone(),
                decided_by: decided_by.clone(),
                assessment_result_id: assessment_result_id.clone(),
                post_ids: named.clone(),
                ended_post_ids: to_end.iter().map(|p| p.id.clone()).collect(),
                revision: 1,
                cadre_name: cadre.name.clone(),
                revoked_date: None,
                revoke_reason: String::new(),
                revoked_by: String::new(),
                reinstated_post_ids: Vec::new(),
            };
            dev::insert_sanction(tx.conn(), &sanction, now).await?;
            tx.changed(Changed::created(pb::Entity::Sanction.as_str_name(), &sanction.id, &sanction.region_code, serde_json::json!({
                        "cadre_id": sanction.cadre_id, "kind": kind.as_str_name(), "date": end_s,
                        "decided_by": sanction.decided_by, "assessment_result_id": sanction.assessment_result_id,
                        "ended_post_ids": sanction.ended_post_ids})),
            )
            .await?;
            for p in &to_end {
                let row: &PostRow = rows
                    .iter()
                    .find(|r| r.id == p.id)
                    .ok_or_else(|| ApiError::internal("post to end is not the cadre's"))?;
                principal.ensure_can_write(&fields::region("region_code", &row.region_code).map_err(ApiError::internal)?)?;
                store::end_post(tx.conn(), &row.id, &end_s, &end_reason, now).await?;
                let detail = serde_json::json!({
                    "end_date": end_s, "reason": end_reason, "sanction_id": sanction.id
                });
                post_changed(tx, row, detail)
                .await?;
            }
            Ok(sanction_to_proto(sanction))
        })
        .await?;
        Ok(Response::new(out))
    }

    async fn list_sanctions(
        &self,
        request: Request<pb::ListSanctionsRequest>,
    ) -> Result<Response<pb::ListSanctionsResponse>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        let scope = principal.scope("region_code", &req.region_code)?;
        let kind = if req.kind == 0 {
            None
        } else {
            Some(exits::kind("kind", req.kind).map_err(ApiError::from)? as i64)
        };
        let year = match req.year {
            0 => None,
            y if (1949..=2200).contains(&y) => Some(y),
            y => return Err(ApiError::invalid("year", format!("{y} is not a plausible year")).into()),
        };
        let filter = SanctionFilter {
            region_prefix: scope.prefix().to_string(),
            cadre_id: req.cadre_id.trim().to_string(),
            kind,
            year,
            exclude_revoked: req.exclude_revoked,
        };
        let page = call.page(req.page_size, &req.page_token, &format!("{filter:?}"))?;
        let mut rows = dev::list_sanctions(
            &self.db,
            &filter,
            page.after.as_deref().unwrap_or_default(),
            page.fetch_limit(),
        )
        .await
        .map_err(ApiError::from)?;
        let next_page_token = page.finish(&mut rows, |r| r.id.clone());
        Ok(Response::new(pb::ListSanctionsResponse {
            sanctions: rows.into_iter().map(sanction_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn revoke_sanction(
        &self,
        request: Request<pb::RevokeSanctionRequest>,
    ) -> Result<Response<pb::Sanction>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        let id = fields::required_id("id", &req.id)?.to_string();
        fields::revision("revision", req.revision)?;
        let today = dates::today();
        let date = dates::parse_or("date", &req.date, today).map_err(ApiError::from)?;
        let reason = fields::text("reason", &req.reason, true, MAX_REASON_CHARS).map_err(ApiError::from)?;
        let decided_by = fields::text("decided_by", &req.decided_by, true, MAX_DECIDED_BY_CHARS)
            .map_err(ApiError::from)?;
        let out = call
            .mutate(&self.db, &req, async |tx| {
                let row = dev::get_sanction(tx.conn(), &id)
                    .await?
                    .ok_or_else(|| ApiError::not_found(format!("sanction {id}")))?;
                principal.ensure_can_write(
                    &fields::region("region_code", &row.region_code).map_err(ApiError::internal)?,
                )?;
                let sanctioned_on = stored_date("sanction", &row.decided_on)?;
                let revoked_on =
                    row.revoked_date.as_deref().map(|d| stored_date("sanction", d)).transpose()?;
                exits::check_revocation(&row.id, sanctioned_on, revoked_on, date, today)?;
                let stale =
                    || ApiError::from(RosterError::stale("sanction", &row.id, req.revision, row.revision));
                if row.revision != req.revision {
                    return Err(stale());
                }
                // The posts to reopen, checked against every post of their villages since.
                let mut to_reopen: Vec<PostRow> = Vec::new();
                if req.reinstate_posts && !row.ended_post_ids.is_empty() {
                    let mut ended = Vec::with_capacity(row.ended_post_ids.len());
                    for post_id in &row.ended_post_ids {
                        if let Some(p) = store::get_post(tx.conn(), post_id).await? {
                            ended.push(p);
                        }
                    }
                    let mut villages: Vec<&str> = ended.iter().map(|p| p.region_code.as_str()).collect();
                    villages.sort_unstable();
                    villages.dedup();
                    let mut in_villages = Vec::new();
                    for village in villages {
                        principal.ensure_can_write(
                            &fields::region("region_code", village).map_err(ApiError::internal)?,
                        )?;
                        for p in store::posts_in_village(tx.conn(), village).await? {
                            in_villages.push(held(&p)?);
                        }
                    }
                    let ended_held = ended.iter().map(held).collect::<Result<Vec<_>, _>>()?;
                    let back = exits::posts_to_reinstate(
                        sanctioned_on,
                        &row.ended_post_ids,
                        &ended_held,
                        &in_villages,
                    )?;
                    for p in back {
                        let r = ended.iter().find(|r| r.id == p.id).ok_or_else(|| {
                            ApiError::internal("reinstated post is not one the sanction ended")
                        })?;
                        to_reopen.push(r.clone());
                    }
                }
                let now = to_micros(tx.now());
                let day = dates::format(date);
                let reinstated: Vec<String> = to_reopen.iter().map(|p| p.id.clone()).collect();
                let revocation = Revocation {
                    date: &day,
                    reason: &reason,
                    decided_by: &decided_by,
                    reinstated_post_ids: &reinstated,
                };
                if !dev::revoke_sanction(tx.conn(), &row.id, &revocation, row.revision, now).await? {
                    return Err(stale());
                }
                tx.changed(Changed::updated(
                    pb::Entity::Sanction.as_str_name(),
                    &row.id,
                    &row.region_code,
                    row.revision + 1,
                    serde_json::json!({
                            "cadre_id": row.cadre_id, "revoked_date": day, "decided_by": decided_by,
                            "reinstated_post_ids": reinstated}),
                ))
                .await?;
                for p in &to_reopen {
                    if !dev::reopen_post(tx.conn(), &p.id, p.revision, now).await? {
                        return Err(ApiError::aborted(format!(
                            "post {} changed while it was being reinstated",
                            p.id
                        )));
                    }
                    let detail = serde_json::json!({
                        "end_date": null, "previous_end_date": p.end_date, "sanction_id": row.id
                    });
                    post_changed(tx, p, detail).await?;
                }
                let updated = dev::get_sanction(tx.conn(), &row.id)
                    .await?
                    .ok_or_else(|| ApiError::internal("sanction vanished inside its transaction"))?;
                Ok(sanction_to_proto(updated))
            })
            .await?;
        Ok(Response::new(out))
    }
}
