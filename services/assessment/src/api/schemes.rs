//! SchemeService: a county's indicator scheme for a year — created, copied from another
//! year, updated in place while a draft and by a new version once in use.

use std::collections::HashSet;

use cadre_kit::ApiError;
use cadre_kit::call::{Call, Changed, Mutation};
use cadre_kit::db::to_micros;
use cadre_kit::fields;
use cadre_proto::assessment::v1 as pb;
use cadre_proto::assessment::v1::scheme_service_server::SchemeService;
use tonic::{Request, Response, Status};

use super::{AssessmentApi, county, year_of};
use crate::domain::phase::Phase;
use crate::domain::scheme::{self, Indicator, Item, SchemeBody, Variant, VariantRule};
use crate::error::AssessmentError;
use crate::store::schemes::{self as st, SchemeRow};
use crate::store::years::{self as years, YearRow};
use crate::store::{units as unit_store, years::key};

pub(crate) fn body_of(s: &pb::Scheme) -> SchemeBody {
    SchemeBody {
        name: s.name.clone(),
        variants: s
            .variants
            .iter()
            .map(|v| Variant { village_type: v.village_type.clone(), total_points: v.total_points })
            .collect(),
        items: s
            .items
            .iter()
            .map(|i| Item {
                name: i.name.clone(),
                indicators: i
                    .indicators
                    .iter()
                    .map(|ind| Indicator {
                        code: ind.code.clone(),
                        name: ind.name.clone(),
                        max_points: ind.max_points,
                        unit_id: ind.unit_id.clone(),
                        by_township: ind.by_township,
                        evidence: ind.evidence.clone(),
                        variants: ind
                            .variants
                            .iter()
                            .map(|r| VariantRule {
                                village_type: r.village_type.clone(),
                                excluded: r.excluded,
                                max_points: r.max_points,
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

pub(crate) fn scheme_to_proto(s: SchemeRow, year: Option<&YearRow>) -> pb::Scheme {
    let in_use = year.is_some_and(|y| y.phase.scheme_in_use());
    let current = year.is_some_and(|y| y.scheme_id == s.id);
    pb::Scheme {
        id: s.id,
        county_code: s.county_code,
        year: s.year,
        version: s.version,
        name: s.body.name,
        variants: s
            .body
            .variants
            .into_iter()
            .map(|v| pb::Variant { village_type: v.village_type, total_points: v.total_points })
            .collect(),
        items: s
            .body
            .items
            .into_iter()
            .map(|i| pb::Item {
                name: i.name,
                indicators: i
                    .indicators
                    .into_iter()
                    .map(|ind| pb::Indicator {
                        code: ind.code,
                        name: ind.name,
                        max_points: ind.max_points,
                        unit_id: ind.unit_id,
                        by_township: ind.by_township,
                        evidence: ind.evidence,
                        variants: ind
                            .variants
                            .into_iter()
                            .map(|r| pb::VariantRule {
                                village_type: r.village_type,
                                excluded: r.excluded,
                                max_points: r.max_points,
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
        in_use,
        copied_from: s.copied_from,
        current,
        revision: s.revision,
    }
}

/// Every indicator names one of the county's units (checked in the write's transaction).
async fn check_units(tx: &mut Mutation<'_>, body: &SchemeBody, county: &str) -> Result<(), ApiError> {
    let known: HashSet<String> =
        unit_store::all(tx.conn(), county).await?.into_iter().map(|u| u.id).collect();
    scheme::check_units(body, &known, county).map_err(AssessmentError::from)?;
    Ok(())
}

/// A new line of schemes for a year: version 1 and the year in draft.
async fn begin_year(
    tx: &mut Mutation<'_>,
    county: &str,
    year: i32,
    body: SchemeBody,
    copied_from: &str,
) -> Result<pb::Scheme, ApiError> {
    if let Some(y) = years::get(tx.conn(), county, year).await? {
        return Err(AssessmentError::Conflict(format!(
            "{county}/{year} has a scheme already ({}): update it instead",
            y.scheme_id
        ))
        .into());
    }
    check_units(tx, &body, county).await?;
    let row = SchemeRow {
        id: uuid::Uuid::now_v7().to_string(),
        county_code: county.to_string(),
        year,
        version: 1,
        body,
        copied_from: copied_from.to_string(),
        revision: 1,
    };
    let now = to_micros(tx.now());
    st::insert(tx.conn(), &row, now).await?;
    let y = YearRow {
        county_code: county.to_string(),
        year,
        phase: Phase::Draft,
        scheme_id: row.id.clone(),
        village_count: 0,
        opened_at: None,
        closed_at: None,
        revision: 1,
    };
    years::insert(tx.conn(), &y, now).await?;
    let detail = serde_json::json!({
        "year": year, "version": 1, "name": row.body.name, "copied_from": copied_from,
        "indicators": row.body.indicators().count(),
    });
    tx.changed(Changed::created(pb::Entity::Scheme.as_str_name(), &row.id, county, detail)).await?;
    let detail = serde_json::json!({ "phase": Phase::Draft.as_str(), "scheme_id": row.id });
    tx.changed(Changed::created(pb::Entity::Year.as_str_name(), &y.key(), county, detail)).await?;
    Ok(scheme_to_proto(row, Some(&y)))
}

#[tonic::async_trait]
impl SchemeService for AssessmentApi {
    async fn create_scheme(
        &self,
        request: Request<pb::CreateSchemeRequest>,
    ) -> Result<Response<pb::Scheme>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let input = req.scheme.as_ref().ok_or_else(|| ApiError::invalid("scheme", "is required"))?;
        let county = county("scheme.county_code", &input.county_code)?;
        let year = fields::year("scheme.year", input.year)?;
        let body = scheme::validate(&body_of(input)).map_err(AssessmentError::from)?;
        call.principal().ensure_can_write(&county)?;
        let scheme = call
            .mutate(&self.db, &req, async |tx| begin_year(tx, county.as_str(), year, body.clone(), "").await)
            .await?;
        Ok(Response::new(scheme))
    }

    async fn copy_scheme(
        &self,
        request: Request<pb::CopySchemeRequest>,
    ) -> Result<Response<pb::Scheme>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let from_id = fields::required_id("from_id", &req.from_id)?.to_string();
        let year = fields::year("year", req.year)?;
        let scheme = call
            .mutate(&self.db, &req, async |tx| {
                let from = st::get(tx.conn(), &from_id)
                    .await?
                    .filter(|s| tx.principal().jurisdiction.covers_str(&s.county_code))
                    .ok_or_else(|| AssessmentError::NotFound(format!("scheme {from_id}")))?;
                let county = cadre_kit::RegionCode::parse(&from.county_code).map_err(ApiError::internal)?;
                tx.principal().ensure_can_write(&county)?;
                begin_year(tx, &from.county_code, year, from.body.clone(), &from.id).await
            })
            .await?;
        Ok(Response::new(scheme))
    }

    async fn update_scheme(
        &self,
        request: Request<pb::UpdateSchemeRequest>,
    ) -> Result<Response<pb::Scheme>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let input = req.scheme.as_ref().ok_or_else(|| ApiError::invalid("scheme", "is required"))?;
        let id = fields::required_id("scheme.id", &input.id)?.to_string();
        let revision = fields::revision("scheme.revision", input.revision)?;
        let body = scheme::validate(&body_of(input)).map_err(AssessmentError::from)?;
        let scheme = call
            .mutate(&self.db, &req, async |tx| {
                let stored = st::get(tx.conn(), &id)
                    .await?
                    .filter(|s| tx.principal().jurisdiction.covers_str(&s.county_code))
                    .ok_or_else(|| AssessmentError::NotFound(format!("scheme {id}")))?;
                let county = cadre_kit::RegionCode::parse(&stored.county_code).map_err(ApiError::internal)?;
                tx.principal().ensure_can_write(&county)?;
                let mut year = year_of(tx.conn(), &stored.county_code, stored.year).await?;
                if year.scheme_id != stored.id {
                    return Err(AssessmentError::Conflict(format!(
                        "scheme {id} is version {} of {}; the current version is {}: update that one",
                        stored.version,
                        year.key(),
                        year.scheme_id
                    ))
                    .into());
                }
                if stored.revision != revision {
                    return Err(AssessmentError::Stale {
                        what: "scheme",
                        id: id.clone(),
                        expected: revision,
                        current: stored.revision,
                    }
                    .into());
                }
                check_units(tx, &body, &stored.county_code).await?;
                let now = to_micros(tx.now());
                let entity = pb::Entity::Scheme.as_str_name();
                if !year.phase.scheme_in_use() {
                    let row = SchemeRow { body: body.clone(), revision: stored.revision + 1, ..stored };
                    st::update_draft(tx.conn(), &row, now).await?;
                    let detail = serde_json::json!({ "version": row.version, "name": row.body.name });
                    tx.changed(Changed::updated(entity, &row.id, county.as_str(), row.revision, detail))
                        .await?;
                    return Ok(scheme_to_proto(row, Some(&year)));
                }
                // In use: the version scored under stays as it was; a new one takes over.
                let frozen =
                    years::villages(tx.conn(), county.as_str(), year.year, county.prefix(), "", i64::MAX)
                        .await?;
                let mut types = std::collections::BTreeMap::new();
                for v in frozen {
                    *types.entry(v.village_type).or_insert(0usize) += 1;
                }
                body.missing_variants(&types).map_err(AssessmentError::from)?;
                let row = SchemeRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    version: stored.version + 1,
                    body: body.clone(),
                    copied_from: stored.copied_from.clone(),
                    revision: 1,
                    ..stored.clone()
                };
                st::insert(tx.conn(), &row, now).await?;
                year.scheme_id = row.id.clone();
                year.revision += 1;
                years::update(tx.conn(), &year, now).await?;
                let detail = serde_json::json!({
                    "version": row.version, "replaces": stored.id, "phase": year.phase.as_str(),
                    "name": row.body.name,
                });
                tx.changed(Changed::created(entity, &row.id, county.as_str(), detail)).await?;
                let detail = serde_json::json!({ "scheme_id": row.id, "scheme_version": row.version });
                let key = key(county.as_str(), year.year);
                tx.changed(Changed::updated(
                    pb::Entity::Year.as_str_name(),
                    &key,
                    county.as_str(),
                    year.revision,
                    detail,
                ))
                .await?;
                Ok(scheme_to_proto(row, Some(&year)))
            })
            .await?;
        Ok(Response::new(scheme))
    }

    async fn get_scheme(
        &self,
        request: Request<pb::GetSchemeRequest>,
    ) -> Result<Response<pb::Scheme>, Status> {
        let call = Call::of(&request)?;
        let id = fields::required_id("id", &request.get_ref().id)?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let not_found = || ApiError::not_found(format!("scheme {id}"));
        let row = st::get(&mut conn, id).await?.ok_or_else(not_found)?;
        let county = cadre_kit::RegionCode::parse(&row.county_code).map_err(ApiError::internal)?;
        if !super::sees_county(call.principal(), &county) {
            return Err(not_found().into());
        }
        let year = years::get(&mut conn, &row.county_code, row.year).await?;
        Ok(Response::new(scheme_to_proto(row, year.as_ref())))
    }

    async fn list_schemes(
        &self,
        request: Request<pb::ListSchemesRequest>,
    ) -> Result<Response<pb::ListSchemesResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let scope = call.principal().scope("region_code", &req.region_code)?;
        let year = if req.year == 0 { 0 } else { fields::year("year", req.year)? };
        let page = call.page(req.page_size, &req.page_token, &format!("{scope}|{year}"))?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        // A township sees its county's schemes.
        let prefix = match scope.ancestor_at(cadre_kit::RegionLevel::County) {
            Some(county) if scope.level() > cadre_kit::RegionLevel::County => county.prefix().to_string(),
            _ => scope.prefix().to_string(),
        };
        let mut rows =
            st::list(&mut conn, &prefix, year, page.after.as_deref().unwrap_or_default(), page.fetch_limit())
                .await?;
        let next_page_token = page.finish(&mut rows, |s| s.id.clone());
        let mut schemes = Vec::with_capacity(rows.len());
        for row in rows {
            let y = years::get(&mut conn, &row.county_code, row.year).await?;
            schemes.push(scheme_to_proto(row, y.as_ref()));
        }
        Ok(Response::new(pb::ListSchemesResponse { schemes, next_page_token }))
    }
}
