//! ScoringUnitService: a county's agencies and townships that score, and the token
//! subjects acting for each (a county administrator or above keeps them).

use cadre_kit::ApiError;
use cadre_kit::call::{Call, Changed};
use cadre_kit::db::to_micros;
use cadre_kit::fields;
use cadre_proto::assessment::v1 as pb;
use cadre_proto::assessment::v1::scoring_unit_service_server::ScoringUnitService;
use tonic::{Request, Response, Status};

use super::{AssessmentApi, county};
use crate::domain::units::{self, UnitInput, UnitKind};
use crate::error::AssessmentError;
use crate::store::units::{self as st, UnitRow};

pub(crate) fn kind_to_proto(k: UnitKind) -> pb::UnitKind {
    match k {
        UnitKind::Agency => pb::UnitKind::Agency,
        UnitKind::Township => pb::UnitKind::Township,
    }
}

fn kind_of(field: &str, v: i32) -> Result<Option<UnitKind>, ApiError> {
    Ok(match fields::optional_enum::<pb::UnitKind>(field, v, "unit kind")? {
        None | Some(pb::UnitKind::Unspecified) => None,
        Some(pb::UnitKind::Agency) => Some(UnitKind::Agency),
        Some(pb::UnitKind::Township) => Some(UnitKind::Township),
    })
}

pub(crate) fn unit_to_proto(u: UnitRow) -> pb::ScoringUnit {
    let township_code = if u.kind == UnitKind::Township { u.region_code } else { String::new() };
    pb::ScoringUnit {
        id: u.id,
        county_code: u.county_code,
        name: u.name,
        kind: kind_to_proto(u.kind) as i32,
        township_code,
        subjects: u.subjects,
        revision: u.revision,
    }
}

/// The subjects are free, or act for this unit already.
async fn check_subjects(
    conn: &mut sqlx::AnyConnection,
    subjects: &[String],
    unit: &str,
) -> Result<(), ApiError> {
    if let Some((i, (subject, other))) = st::subjects_taken(conn, subjects, unit)
        .await?
        .into_iter()
        .filter_map(|(s, u)| subjects.iter().position(|x| *x == s).map(|i| (i, (s, u))))
        .min_by_key(|(i, _)| *i)
    {
        return Err(ApiError::invalid(
            &format!("unit.subjects[{i}]"),
            format!("{subject} acts for unit {other} already; a subject acts for one unit"),
        ));
    }
    Ok(())
}

#[tonic::async_trait]
impl ScoringUnitService for AssessmentApi {
    async fn create_scoring_unit(
        &self,
        request: Request<pb::CreateScoringUnitRequest>,
    ) -> Result<Response<pb::ScoringUnit>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let input = req.unit.as_ref().ok_or_else(|| ApiError::invalid("unit", "is required"))?;
        let valid = units::validate(&UnitInput {
            county_code: &input.county_code,
            name: &input.name,
            kind: kind_of("unit.kind", input.kind)?,
            township_code: &input.township_code,
            subjects: &input.subjects,
        })
        .map_err(AssessmentError::from)?;
        call.principal().ensure_can_write(&valid.county)?;
        let unit = call
            .mutate(&self.db, &req, async |tx| {
                let id = uuid::Uuid::now_v7().to_string();
                if st::name_taken(tx.conn(), valid.county.as_str(), &valid.name, &id).await? {
                    return Err(ApiError::already_exists(format!(
                        "unit.name: {} has a unit named {} already",
                        valid.county, valid.name
                    )));
                }
                check_subjects(tx.conn(), &valid.subjects, &id).await?;
                let row = UnitRow {
                    id,
                    county_code: valid.county.to_string(),
                    region_code: valid.region.to_string(),
                    name: valid.name.clone(),
                    kind: valid.kind,
                    subjects: valid.subjects.clone(),
                    revision: 1,
                };
                let now = to_micros(tx.now());
                st::insert(tx.conn(), &row, now).await?;
                let detail = serde_json::json!({
                    "name": row.name, "kind": kind_to_proto(row.kind).as_str_name(), "subjects": row.subjects,
                });
                let entity = pb::Entity::ScoringUnit.as_str_name();
                tx.changed(Changed::created(entity, &row.id, &row.region_code, detail)).await?;
                Ok(unit_to_proto(row))
            })
            .await?;
        Ok(Response::new(unit))
    }

    async fn update_scoring_unit(
        &self,
        request: Request<pb::UpdateScoringUnitRequest>,
    ) -> Result<Response<pb::ScoringUnit>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let input = req.unit.as_ref().ok_or_else(|| ApiError::invalid("unit", "is required"))?;
        let id = fields::required_id("unit.id", &input.id)?.to_string();
        let revision = fields::revision("unit.revision", input.revision)?;
        let name = fields::text("unit.name", &input.name, true, 100)?;
        let subjects = units::subjects("unit.subjects", &input.subjects).map_err(AssessmentError::from)?;
        let unit = call
            .mutate(&self.db, &req, async |tx| {
                let stored = st::get(tx.conn(), &id)
                    .await?
                    .filter(|u| tx.principal().jurisdiction.covers_str(&u.county_code))
                    .ok_or_else(|| AssessmentError::NotFound(format!("scoring unit {id}")))?;
                let county = cadre_kit::RegionCode::parse(&stored.county_code).map_err(ApiError::internal)?;
                tx.principal().ensure_can_write(&county)?;
                if stored.revision != revision {
                    return Err(AssessmentError::Stale {
                        what: "scoring unit",
                        id: id.clone(),
                        expected: revision,
                        current: stored.revision,
                    }
                    .into());
                }
                if stored.name == name
                    && stored.subjects.iter().collect::<std::collections::BTreeSet<_>>()
                        == subjects.iter().collect()
                {
                    return Ok(unit_to_proto(stored));
                }
                if st::name_taken(tx.conn(), &stored.county_code, &name, &id).await? {
                    return Err(ApiError::already_exists(format!(
                        "unit.name: {} has a unit named {name} already",
                        stored.county_code
                    )));
                }
                check_subjects(tx.conn(), &subjects, &id).await?;
                let row = UnitRow {
                    name: name.clone(),
                    subjects: subjects.clone(),
                    revision: stored.revision + 1,
                    ..stored
                };
                let now = to_micros(tx.now());
                st::update(tx.conn(), &row, now).await?;
                let detail = serde_json::json!({ "name": row.name, "subjects": row.subjects });
                let entity = pb::Entity::ScoringUnit.as_str_name();
                tx.changed(Changed::updated(entity, &row.id, &row.region_code, row.revision, detail)).await?;
                Ok(unit_to_proto(row))
            })
            .await?;
        Ok(Response::new(unit))
    }

    async fn get_scoring_unit(
        &self,
        request: Request<pb::GetScoringUnitRequest>,
    ) -> Result<Response<pb::ScoringUnit>, Status> {
        let call = Call::of(&request)?;
        let id = fields::required_id("id", &request.get_ref().id)?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let row = st::get(&mut conn, id)
            .await?
            .filter(|u| call.principal().jurisdiction.covers_str(&u.region_code))
            .ok_or_else(|| ApiError::not_found(format!("scoring unit {id}")))?;
        Ok(Response::new(unit_to_proto(row)))
    }

    async fn list_scoring_units(
        &self,
        request: Request<pb::ListScoringUnitsRequest>,
    ) -> Result<Response<pb::ListScoringUnitsResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let county = county("county_code", &req.county_code)?;
        super::ensure_sees_county(call.principal(), &county)?;
        let page = call.page(req.page_size, &req.page_token, county.as_str())?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let mut rows = st::list(
            &mut conn,
            county.as_str(),
            page.after.as_deref().unwrap_or_default(),
            page.fetch_limit(),
        )
        .await?;
        let next_page_token = page.finish(&mut rows, |u| u.id.clone());
        // A township sees its own unit and the county's agencies, not the other townships'.
        let p = call.principal();
        let units = rows
            .into_iter()
            .filter(|u| p.jurisdiction.covers_str(&u.region_code) || u.kind == UnitKind::Agency)
            .map(unit_to_proto)
            .collect();
        Ok(Response::new(pb::ListScoringUnitsResponse { units, next_page_token }))
    }
}
