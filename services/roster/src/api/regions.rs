//! RegionService: the administrative hierarchy with local names and village types.

use std::collections::HashSet;

use cadre_kit::db::to_micros;
use cadre_kit::{ApiError, RegionLevel};
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::region_service_server::RegionService;
use tonic::{Request, Response, Status};

use super::RosterApi;
use crate::domain::fields;
use crate::domain::region::{self, level_to_proto};
use crate::error::RosterError;
use crate::store::{self, RegionRow};
use cadre_kit::call::{Call, Changed};

/// More than a province has counties and townships; villages come in batches.
pub const MAX_REGIONS_PER_REQUEST: usize = 20_000;

pub(crate) fn region_to_proto(r: RegionRow) -> pb::Region {
    pb::Region {
        code: r.code,
        name: r.name,
        level: r.level as i32,
        parent_code: r.parent_code,
        village_type: r.village_type,
        revision: r.revision,
    }
}

#[tonic::async_trait]
impl RegionService for RosterApi {
    async fn upsert_regions(
        &self,
        request: Request<pb::UpsertRegionsRequest>,
    ) -> Result<Response<pb::UpsertRegionsResponse>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        if req.regions.is_empty() {
            return Err(ApiError::invalid("regions", "must not be empty").into());
        }
        if req.regions.len() > MAX_REGIONS_PER_REQUEST {
            return Err(ApiError::invalid(
                "regions",
                format!("at most {MAX_REGIONS_PER_REQUEST} per request, got {}", req.regions.len()),
            )
            .into());
        }
        let mut valid = Vec::with_capacity(req.regions.len());
        let mut seen = HashSet::new();
        for (i, r) in req.regions.iter().enumerate() {
            let fields = region::validate(&format!("regions[{i}]"), r).map_err(ApiError::from)?;
            principal.ensure_can_write(&fields.code)?;
            if !seen.insert(fields.code.clone()) {
                return Err(ApiError::invalid(
                    format!("regions[{i}].code").as_str(),
                    format!("{} appears twice", fields.code),
                )
                .into());
            }
            valid.push(fields);
        }
        let response = call.mutate(&self.db, &req, async |tx| {
                let now = to_micros(tx.now());
                let mut out = pb::UpsertRegionsResponse::default();
                let mut known: HashSet<String> = HashSet::new();
                for (i, r) in valid.iter().enumerate() {
                    if let Some(parent) = r.code.parent() {
                        let parent = parent.to_string();
                        if !known.contains(&parent) && store::get_region(tx.conn(), &parent).await?.is_none() {
                            return Err(RosterError::invalid(
                                format!("regions[{i}].code"),
                                format!("parent region {parent} does not exist; send parents first"),
                            )
                            .into());
                        }
                    }
                    let code = r.code.to_string();
                    let existing = store::get_region(tx.conn(), &code).await?;
                    let outcome = match existing {
                        None => {
                            let row = RegionRow {
                                code: code.clone(),
                                name: r.name.clone(),
                                level: level_to_proto(r.code.level()) as i64,
                                parent_code: r.code.parent().map(|p| p.to_string()).unwrap_or_default(),
                                village_type: r.village_type.clone(),
                                revision: 1,
                            };
                            store::insert_region(tx.conn(), &row, now).await?;
                            out.created += 1;
                            Some(("created", row.revision))
                        }
                        Some(old) if old.name == r.name && old.village_type == r.village_type => {
                            out.unchanged += 1;
                            None
                        }
                        Some(old) => {
                            let row = RegionRow {
                                name: r.name.clone(),
                                village_type: r.village_type.clone(),
                                revision: old.revision + 1,
                                ..old
                            };
                            store::update_region(tx.conn(), &row, now).await?;
                            out.updated += 1;
                            Some(("updated", row.revision))
                        }
                    };
                    if let Some((result, revision)) = outcome {
                        let detail = serde_json::json!({ "result": result, "name": r.name, "village_type": r.village_type });
                        tx.changed(Changed::written(pb::Entity::Region.as_str_name(), &code, &code, revision, detail))
                            .await?;
                    }
                    known.insert(code);
                }
                Ok(out)
            },
        )
        .await?;
        Ok(Response::new(response))
    }

    async fn get_region(
        &self,
        request: Request<pb::GetRegionRequest>,
    ) -> Result<Response<pb::Region>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let code = fields::region("code", &request.get_ref().code)?;
        principal.ensure_can_read(&code)?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let row = store::get_region(&mut conn, code.as_str())
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::not_found(format!("region {code}")))?;
        Ok(Response::new(region_to_proto(row)))
    }

    async fn batch_get_regions(
        &self,
        request: Request<pb::BatchGetRegionsRequest>,
    ) -> Result<Response<pb::BatchGetRegionsResponse>, Status> {
        let call = Call::of(&request)?;
        let codes = fields::batch_keys("codes", &request.get_ref().codes).map_err(ApiError::from)?;
        let stored = store::get_regions(&self.db, &codes).await.map_err(ApiError::from)?;
        let jurisdiction = &call.principal().jurisdiction;
        let (rows, missing) =
            cadre_kit::batch::in_order(codes, stored, |r| &r.code, |r| jurisdiction.covers_str(&r.code));
        let regions = rows.into_iter().map(region_to_proto).collect();
        Ok(Response::new(pb::BatchGetRegionsResponse { regions, missing }))
    }

    async fn list_child_regions(
        &self,
        request: Request<pb::ListChildRegionsRequest>,
    ) -> Result<Response<pb::ListChildRegionsResponse>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        let code = fields::region("code", &req.code)?;
        principal.ensure_can_read(&code)?;
        let page = call.page(req.page_size, &req.page_token, &code.to_string())?;
        let mut rows = store::list_child_regions(
            &self.db,
            code.as_str(),
            page.after.as_deref().unwrap_or_default(),
            page.fetch_limit(),
        )
        .await
        .map_err(ApiError::from)?;
        let next_page_token = page.finish(&mut rows, |r| r.code.clone());
        Ok(Response::new(pb::ListChildRegionsResponse {
            regions: rows.into_iter().map(region_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn search_regions(
        &self,
        request: Request<pb::SearchRegionsRequest>,
    ) -> Result<Response<pb::SearchRegionsResponse>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        let scope = principal.scope("within", &req.within)?;
        let query = req.query.trim();
        if query.chars().count() > 64 {
            return Err(ApiError::invalid("query", "must be at most 64 characters").into());
        }
        let page = call.page(req.page_size, &req.page_token, &format!("{scope}|{query}"))?;
        let mut rows = store::search_regions(
            &self.db,
            scope.prefix(),
            query,
            page.after.as_deref().unwrap_or_default(),
            page.fetch_limit(),
        )
        .await
        .map_err(ApiError::from)?;
        let next_page_token = page.finish(&mut rows, |r| r.code.clone());
        Ok(Response::new(pb::SearchRegionsResponse {
            regions: rows.into_iter().map(region_to_proto).collect(),
            next_page_token,
        }))
    }
}

/// Whether a stored region is a village.
pub(crate) fn is_village(r: &RegionRow) -> bool {
    r.level == level_to_proto(RegionLevel::Village) as i64
}
