//! CatalogueService: courses kept by a county, city or province, and each county's menu
//! for a year. Villages and townships read what is kept above them.

use std::collections::HashMap;

use cadre_kit::call::{Call, Changed};
use cadre_kit::db::to_micros;
use cadre_kit::{ApiError, fields};
use cadre_proto::training::v1 as pb;
use cadre_proto::training::v1::catalogue_service_server::CatalogueService;
use tonic::{Request, Response, Status};

use super::TrainingApi;
use crate::domain::courses::{self, hours};
use crate::domain::levels;
use crate::store::courses::{self as st, CourseRow};

pub(crate) fn course_to_proto(c: CourseRow) -> pb::Course {
    pb::Course {
        id: c.id,
        title: c.title,
        topic: c.topic as i32,
        mode: c.mode as i32,
        credit_hours: hours(c.credit_tenths),
        level: c.level as i32,
        owner_region_code: c.owner_region_code,
        description: c.description,
        revision: c.revision,
    }
}

/// The ancestors of a region, itself excluded (whose courses and rules reach it).
pub(crate) fn ancestors(region: &cadre_kit::RegionCode) -> Vec<String> {
    region.lineage().skip(1).map(|r| r.to_string()).collect()
}

#[tonic::async_trait]
impl CatalogueService for TrainingApi {
    async fn create_course(
        &self,
        request: Request<pb::CreateCourseRequest>,
    ) -> Result<Response<pb::Course>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let input = req.course.as_ref().ok_or_else(|| ApiError::invalid("course", "is required"))?;
        let f = courses::validate_new("course", input).map_err(ApiError::from)?;
        call.principal().ensure_can_write(&f.owner)?;
        let course = call
            .mutate(&self.db, &req, async |tx| {
                let row = CourseRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    title: f.title.clone(),
                    topic: f.topic,
                    mode: f.mode,
                    credit_tenths: f.credit_tenths,
                    level: f.level,
                    owner_region_code: f.owner.to_string(),
                    description: f.description.clone(),
                    revision: 1,
                };
                let now = to_micros(tx.now());
                st::insert(tx.conn(), &row, now).await?;
                let detail = serde_json::json!({ "title": row.title, "topic": f.topic.as_str_name() });
                let entity = pb::Entity::Course.as_str_name();
                tx.changed(Changed::created(entity, &row.id, &row.owner_region_code, detail)).await?;
                Ok(course_to_proto(row))
            })
            .await?;
        Ok(Response::new(course))
    }

    async fn get_course(
        &self,
        request: Request<pb::GetCourseRequest>,
    ) -> Result<Response<pb::Course>, Status> {
        let call = Call::of(&request)?;
        let id = fields::required_id("id", &request.get_ref().id)?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let row = st::get(&mut conn, id)
            .await?
            .filter(|c| levels::sees_kept_by(call.principal(), &c.owner_region_code));
        Ok(Response::new(course_to_proto(row.ok_or_else(|| ApiError::not_found(format!("course {id}")))?)))
    }

    async fn list_courses(
        &self,
        request: Request<pb::ListCoursesRequest>,
    ) -> Result<Response<pb::ListCoursesResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let scope = call.principal().scope("region_code", &req.region_code)?;
        let topic = fields::optional_enum::<pb::Topic>("topic", req.topic, "topic")?;
        let above = ancestors(&scope);
        let page = call.page(req.page_size, &req.page_token, &format!("{scope}|{topic:?}"))?;
        let mut rows = st::list(
            &self.db,
            &above,
            scope.prefix(),
            topic,
            page.after.as_deref().unwrap_or_default(),
            page.fetch_limit(),
        )
        .await?;
        let next_page_token = page.finish(&mut rows, |c| c.id.clone());
        Ok(Response::new(pb::ListCoursesResponse {
            courses: rows.into_iter().map(course_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn set_menu(&self, request: Request<pb::SetMenuRequest>) -> Result<Response<pb::Menu>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let input = req.menu.as_ref().ok_or_else(|| ApiError::invalid("menu", "is required"))?;
        let f = courses::validate_menu("menu", input).map_err(ApiError::from)?;
        call.principal().ensure_can_write(&f.county)?;
        levels::ensure_county_or_above(call.principal(), "keeping the menu").map_err(ApiError::from)?;
        let menu = call
            .mutate(&self.db, &req, async |tx| {
                let found: HashMap<String, CourseRow> = st::get_many(tx.conn(), &f.course_ids)
                    .await?
                    .into_iter()
                    .map(|c| (c.id.clone(), c))
                    .collect();
                let mut listed = Vec::with_capacity(f.course_ids.len());
                for (i, id) in f.course_ids.iter().enumerate() {
                    let course = found
                        .get(id)
                        .filter(|c| courses::may_list(&c.owner_region_code, &f.county))
                        .ok_or_else(|| {
                            ApiError::invalid(
                                &format!("menu.course_ids[{i}]"),
                                format!("{id} is not a course kept by {} or above it", f.county),
                            )
                        })?;
                    listed.push(course.clone());
                }
                let revision =
                    st::menu(tx.conn(), f.county.as_str(), f.year).await?.map_or(1, |(r, _)| r + 1);
                let now = to_micros(tx.now());
                st::put_menu(tx.conn(), f.county.as_str(), f.year, &f.course_ids, revision, now).await?;
                let key = format!("{}/{}", f.county, f.year);
                let detail = serde_json::json!({ "course_ids": f.course_ids });
                let entity = pb::Entity::Menu.as_str_name();
                tx.changed(Changed::written(entity, &key, f.county.as_str(), revision, detail)).await?;
                Ok(pb::Menu {
                    county_code: f.county.to_string(),
                    year: f.year,
                    course_ids: f.course_ids.clone(),
                    courses: listed.into_iter().map(course_to_proto).collect(),
                    revision,
                })
            })
            .await?;
        Ok(Response::new(menu))
    }

    async fn get_menu(&self, request: Request<pb::GetMenuRequest>) -> Result<Response<pb::Menu>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let county = fields::region("county_code", &req.county_code)?;
        let year = fields::year("year", req.year)?;
        if !levels::sees_kept_by(call.principal(), county.as_str()) {
            return Err(ApiError::permission_denied(format!(
                "the menu of {county} is outside your jurisdiction {}",
                call.principal().jurisdiction
            ))
            .into());
        }
        Ok(Response::new(self.menu(county.as_str(), year).await?))
    }
}

impl TrainingApi {
    /// A county's menu for a year with its courses (an empty menu when none is set).
    pub(crate) async fn menu(&self, county: &str, year: i32) -> Result<pb::Menu, ApiError> {
        let mut conn = self.db.pool().acquire().await?;
        let Some((revision, ids)) = st::menu(&mut conn, county, year).await? else {
            return Ok(pb::Menu { county_code: county.to_string(), year, ..Default::default() });
        };
        let mut found: HashMap<String, CourseRow> =
            st::get_many(&mut conn, &ids).await?.into_iter().map(|c| (c.id.clone(), c)).collect();
        let courses = ids.iter().filter_map(|id| found.remove(id)).map(course_to_proto).collect();
        Ok(pb::Menu { county_code: county.to_string(), year, course_ids: ids, courses, revision })
    }
}
