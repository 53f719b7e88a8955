//! TeacherService: the pool (师资库). A cadre teacher is checked against the roster with
//! the caller's token, and takes the roster's name; an expert's name is given.

use cadre_kit::call::{Call, Changed};
use cadre_kit::db::to_micros;
use cadre_kit::{ApiError, RegionCode, fields};
use cadre_proto::training::v1 as pb;
use cadre_proto::training::v1::teacher_service_server::TeacherService;
use tonic::{Request, Response, Status};

use super::TrainingApi;
use crate::domain::levels;
use crate::domain::suggestions::rating;
use crate::domain::teachers::{self, TeacherFields};
use crate::error::TrainingError;
use crate::store::teachers::{self as st, TeacherFilter, TeacherRow};

pub(crate) fn teacher_to_proto(t: TeacherRow) -> pb::Teacher {
    pb::Teacher {
        rating: rating(t.rating_sum, t.rating_count),
        rating_count: t.rating_count as i32,
        id: t.id,
        name: t.name,
        kind: t.kind as i32,
        cadre_id: t.cadre_id,
        affiliation: t.affiliation,
        expertise: t.expertise.into_iter().map(|e| e as i32).collect(),
        home_region_code: t.home_region_code,
        serves_region_codes: t.serves,
        active: t.active,
        revision: t.revision,
    }
}

fn row_of(id: String, f: &TeacherFields, revision: i64, rating: (i64, i64)) -> TeacherRow {
    TeacherRow {
        id,
        name: f.name.clone(),
        kind: f.kind,
        cadre_id: f.cadre_id.clone(),
        affiliation: f.affiliation.clone(),
        expertise: f.expertise.clone(),
        home_region_code: f.home_region.to_string(),
        serves: f.serves.iter().map(|r| r.to_string()).collect(),
        rating_sum: rating.0,
        rating_count: rating.1,
        active: f.active,
        revision,
    }
}

fn fields_of(t: &TeacherRow) -> Result<TeacherFields, ApiError> {
    let home = RegionCode::parse(&t.home_region_code).map_err(ApiError::internal)?;
    let serves = t
        .serves
        .iter()
        .map(|s| RegionCode::parse(s).map_err(ApiError::internal))
        .collect::<Result<_, _>>()?;
    Ok(TeacherFields {
        kind: t.kind,
        name: t.name.clone(),
        cadre_id: t.cadre_id.clone(),
        affiliation: t.affiliation.clone(),
        expertise: t.expertise.clone(),
        home_region: home,
        serves,
        active: t.active,
    })
}

#[tonic::async_trait]
impl TeacherService for TrainingApi {
    async fn create_teacher(
        &self,
        request: Request<pb::CreateTeacherRequest>,
    ) -> Result<Response<pb::Teacher>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let input = req.teacher.as_ref().ok_or_else(|| ApiError::invalid("teacher", "is required"))?;
        let mut fields = teachers::validate_new("teacher", input).map_err(ApiError::from)?;
        call.principal().ensure_can_write(&fields.home_region)?;
        if fields.kind == pb::TeacherKind::Cadre {
            // The roster says who the cadre is, with the caller's own rights.
            let cadre = self.roster_cadre(&call, "teacher.cadre_id", &fields.cadre_id).await?;
            if !fields.home_region.covers(&RegionCode::parse(&cadre.region_code).map_err(ApiError::internal)?)
            {
                return Err(ApiError::invalid(
                    "teacher.home_region_code",
                    format!(
                        "cadre {} serves in {}, outside {}",
                        cadre.id, cadre.region_code, fields.home_region
                    ),
                )
                .into());
            }
            fields.name = cadre.name;
            if fields.affiliation.is_empty() {
                fields.affiliation = cadre.village_name;
            }
        }
        let teacher = call
            .mutate(&self.db, &req, async |tx| {
                if !fields.cadre_id.is_empty()
                    && st::find_by_cadre(tx.conn(), &fields.cadre_id).await?.is_some()
                {
                    return Err(TrainingError::Conflict(format!(
                        "cadre {} is in the pool already",
                        fields.cadre_id
                    ))
                    .into());
                }
                let row = row_of(uuid::Uuid::now_v7().to_string(), &fields, 1, (0, 0));
                let now = to_micros(tx.now());
                st::insert(tx.conn(), &row, now).await?;
                let detail =
                    serde_json::json!({ "kind": fields.kind.as_str_name(), "cadre_id": row.cadre_id });
                tx.changed(Changed::created(
                    pb::Entity::Teacher.as_str_name(),
                    &row.id,
                    &row.home_region_code,
                    detail,
                ))
                .await?;
                Ok(teacher_to_proto(row))
            })
            .await?;
        Ok(Response::new(teacher))
    }

    async fn update_teacher(
        &self,
        request: Request<pb::UpdateTeacherRequest>,
    ) -> Result<Response<pb::Teacher>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let patch = req.teacher.as_ref().ok_or_else(|| ApiError::invalid("teacher", "is required"))?;
        let paths = req.update_mask.as_ref().map(|m| m.paths.clone()).unwrap_or_default();
        if paths.is_empty() {
            return Err(ApiError::invalid("update_mask", "must name the fields to change").into());
        }
        let id = fields::required_id("teacher.id", &patch.id)?.to_string();
        fields::revision("teacher.revision", patch.revision)?;
        let teacher = call
            .mutate(&self.db, &req, async |tx| {
                let row = st::get(tx.conn(), &id)
                    .await?
                    .ok_or_else(|| ApiError::not_found(format!("teacher {id}")))?;
                let home = RegionCode::parse(&row.home_region_code).map_err(ApiError::internal)?;
                tx.principal().ensure_can_write(&home)?;
                if row.revision != patch.revision {
                    return Err(TrainingError::stale("teacher", &id, patch.revision, row.revision).into());
                }
                let updated = teachers::apply_update(fields_of(&row)?, patch, &paths)?;
                let new_row =
                    row_of(id.clone(), &updated, row.revision + 1, (row.rating_sum, row.rating_count));
                let now = to_micros(tx.now());
                if !st::update(tx.conn(), &new_row, row.revision, now).await? {
                    return Err(TrainingError::stale("teacher", &id, patch.revision, row.revision + 1).into());
                }
                let detail = serde_json::json!({ "fields": paths });
                tx.changed(Changed::updated(
                    pb::Entity::Teacher.as_str_name(),
                    &id,
                    &new_row.home_region_code,
                    new_row.revision,
                    detail,
                ))
                .await?;
                Ok(teacher_to_proto(new_row))
            })
            .await?;
        Ok(Response::new(teacher))
    }

    async fn get_teacher(
        &self,
        request: Request<pb::GetTeacherRequest>,
    ) -> Result<Response<pb::Teacher>, Status> {
        let call = Call::of(&request)?;
        let id = fields::required_id("id", &request.get_ref().id)?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let row = st::get(&mut conn, id)
            .await?
            .filter(|t| levels::sees_kept_by(call.principal(), &t.home_region_code));
        let row = row.ok_or_else(|| ApiError::not_found(format!("teacher {id}")))?;
        Ok(Response::new(teacher_to_proto(row)))
    }

    async fn list_teachers(
        &self,
        request: Request<pb::ListTeachersRequest>,
    ) -> Result<Response<pb::ListTeachersResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let scope = call.principal().scope("region_code", &req.region_code)?;
        let topic = fields::optional_enum::<pb::Topic>("topic", req.topic, "topic")?;
        let filter = TeacherFilter {
            home_prefix: scope.prefix().to_string(),
            topic,
            include_inactive: req.include_inactive,
        };
        let page = call.page(req.page_size, &req.page_token, &format!("{filter:?}"))?;
        let mut rows =
            st::list(&self.db, &filter, page.after.as_deref().unwrap_or_default(), page.fetch_limit())
                .await?;
        let next_page_token = page.finish(&mut rows, |t| t.id.clone());
        Ok(Response::new(pb::ListTeachersResponse {
            teachers: rows.into_iter().map(teacher_to_proto).collect(),
            next_page_token,
        }))
    }
}
