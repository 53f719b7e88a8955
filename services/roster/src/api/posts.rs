//! PostService: appointments and ends of posts within terms, vacancies and
//! one-shoulder villages.

use cadre_kit::ApiError;
use cadre_kit::db::to_micros;
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::post_service_server::PostService;
use tonic::{Request, Response, Status};

use super::RosterApi;
use super::regions::is_village;
use crate::domain::posts::{self, Appointment, DEFAULT_VACANCY_SEATS};
use crate::domain::{dates, fields};
use crate::store::{self, PostFilter, PostRow};
use cadre_kit::call::{Call, Changed};

pub(crate) fn post_to_proto(p: PostRow) -> pb::Post {
    pb::Post {
        id: p.id,
        cadre_id: p.cadre_id,
        region_code: p.region_code,
        kind: p.kind as i32,
        term: p.term as i32,
        start_date: p.start_date,
        end_date: p.end_date.unwrap_or_default(),
        end_reason: p.end_reason,
        cadre_name: p.cadre_name,
        revision: p.revision,
    }
}

#[tonic::async_trait]
impl PostService for RosterApi {
    async fn appoint_post(
        &self,
        request: Request<pb::AppointPostRequest>,
    ) -> Result<Response<pb::Post>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        fields::required_id("cadre_id", &req.cadre_id)?;
        let village = fields::region("region_code", &req.region_code)?;
        principal.ensure_can_write(&village)?;
        let kind = posts::kind("kind", req.kind).map_err(ApiError::from)?;
        let start = dates::parse("start_date", &req.start_date).map_err(ApiError::from)?;
        let appointment = Appointment {
            cadre_id: req.cadre_id.clone(),
            region_code: village.to_string(),
            kind,
            term: req.term,
            start,
        };
        let post = call.mutate(&self.db, &req, async |tx| {
                let place = store::get_region(tx.conn(), village.as_str())
                    .await?
                    .ok_or_else(|| ApiError::invalid("region_code", format!("region {village} does not exist")))?;
                if !is_village(&place) {
                    return Err(ApiError::invalid("region_code", format!("{village} is not a village")));
                }
                let cadre = store::get_cadre(tx.conn(), &req.cadre_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found(format!("cadre {}", req.cadre_id)))?;
                principal.ensure_can_read_code(&cadre.region_code)?;
                let existing: Vec<_> = store::posts_in_village(tx.conn(), village.as_str())
                    .await?
                    .iter()
                    .map(PostRow::held)
                    .collect::<Result<_, _>>()?;
                posts::check_appointment(&appointment, &existing, &self.calendar)?;
                let row = PostRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    cadre_id: cadre.id.clone(),
                    cadre_name: cadre.name.clone(),
                    region_code: village.to_string(),
                    kind: kind as i64,
                    term: i64::from(req.term),
                    start_date: dates::format(start),
                    end_date: None,
                    end_reason: String::new(),
                    revision: 1,
                };
                let now = to_micros(tx.now());
                store::insert_posts(tx, std::slice::from_ref(&row), now).await?;
                tx.changed(Changed::created(pb::Entity::Post.as_str_name(), &row.id, &row.region_code, serde_json::json!({
                            "cadre_id": row.cadre_id, "kind": kind.as_str_name(), "term": req.term, "start_date": row.start_date})),
                )
                .await?;
                Ok(post_to_proto(row))
            },
        )
        .await?;
        Ok(Response::new(post))
    }

    async fn end_post(&self, request: Request<pb::EndPostRequest>) -> Result<Response<pb::Post>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        fields::required_id("post_id", &req.post_id)?;
        let end = dates::parse("end_date", &req.end_date).map_err(ApiError::from)?;
        let reason = req.reason.trim().to_string();
        if reason.chars().count() > 200 {
            return Err(ApiError::invalid("reason", "must be at most 200 characters").into());
        }
        let post = call
            .mutate(&self.db, &req, async |tx| {
                let row = store::get_post(tx.conn(), &req.post_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found(format!("post {}", req.post_id)))?;
                principal.ensure_can_write(&fields::region("region_code", &row.region_code)?)?;
                let held = row.held()?;
                posts::check_end(&held, end)?;
                let now = to_micros(tx.now());
                store::end_post(tx.conn(), &row.id, &dates::format(end), &reason, now).await?;
                tx.changed(Changed::updated(
                    pb::Entity::Post.as_str_name(),
                    &row.id,
                    &row.region_code,
                    row.revision + 1,
                    serde_json::json!({ "end_date": dates::format(end), "reason": reason }),
                ))
                .await?;
                let updated = store::get_post(tx.conn(), &row.id)
                    .await?
                    .ok_or_else(|| ApiError::internal("post vanished inside its transaction"))?;
                Ok(post_to_proto(updated))
            })
            .await?;
        Ok(Response::new(post))
    }

    async fn list_posts(
        &self,
        request: Request<pb::ListPostsRequest>,
    ) -> Result<Response<pb::ListPostsResponse>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        let scope = principal.scope("region_code", &req.region_code)?;
        let kind = if req.kind == 0 {
            None
        } else {
            Some(posts::kind("kind", req.kind).map_err(ApiError::from)? as i64)
        };
        let held_on = if req.include_ended {
            None
        } else {
            Some(dates::format(dates::parse_or("as_of", &req.as_of, dates::today()).map_err(ApiError::from)?))
        };
        let filter = PostFilter {
            region_prefix: scope.prefix().to_string(),
            cadre_id: req.cadre_id.trim().to_string(),
            kind,
            held_on,
        };
        let page = call.page(req.page_size, &req.page_token, &format!("{filter:?}"))?;
        let mut rows = store::list_posts(
            &self.db,
            &filter,
            page.after.as_deref().unwrap_or_default(),
            page.fetch_limit(),
        )
        .await
        .map_err(ApiError::from)?;
        let next_page_token = page.finish(&mut rows, |r| r.id.clone());
        Ok(Response::new(pb::ListPostsResponse {
            posts: rows.into_iter().map(post_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn list_vacancies(
        &self,
        request: Request<pb::ListVacanciesRequest>,
    ) -> Result<Response<pb::ListVacanciesResponse>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        let scope = principal.scope("region_code", &req.region_code)?;
        let day = dates::parse_or("as_of", &req.as_of, dates::today()).map_err(ApiError::from)?;
        let mut seats = Vec::new();
        for (i, k) in req.kinds.iter().enumerate() {
            seats.push(posts::kind(&format!("kinds[{i}]"), *k).map_err(ApiError::from)?);
        }
        if seats.is_empty() {
            seats = DEFAULT_VACANCY_SEATS.to_vec();
        }
        let page = call.page(req.page_size, &req.page_token, &format!("{scope}|{day}|{seats:?}"))?;
        let villages = store::villages_under(&self.db, scope.prefix()).await.map_err(ApiError::from)?;
        let held = store::posts_under(&self.db, scope.prefix(), &seats, &dates::format(day))
            .await
            .map_err(ApiError::from)?;
        let codes: Vec<String> = villages.iter().map(|(c, _)| c.clone()).collect();
        let key = |v: &posts::VacantSeat| format!("{}|{:02}", v.region_code, v.kind as i32);
        let after = page.after.clone().unwrap_or_default();
        let mut vacant: Vec<_> = posts::vacancies(&codes, &held, &seats, day)
            .into_iter()
            .filter(|v| key(v) > after)
            .take(page.fetch_limit() as usize)
            .collect();
        let next_page_token = page.finish(&mut vacant, key);
        let names: std::collections::HashMap<String, String> = villages.into_iter().collect();
        Ok(Response::new(pb::ListVacanciesResponse {
            vacancies: vacant
                .into_iter()
                .map(|v| pb::Vacancy {
                    region_name: names.get(&v.region_code).cloned().unwrap_or_default(),
                    region_code: v.region_code,
                    kind: v.kind as i32,
                    vacant_since: v.vacant_since.map(dates::format).unwrap_or_default(),
                })
                .collect(),
            next_page_token,
        }))
    }

    async fn list_one_shoulder(
        &self,
        request: Request<pb::ListOneShoulderRequest>,
    ) -> Result<Response<pb::ListOneShoulderResponse>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        let scope = principal.scope("region_code", &req.region_code)?;
        let day = dates::parse_or("as_of", &req.as_of, dates::today()).map_err(ApiError::from)?;
        let page = call.page(req.page_size, &req.page_token, &format!("{scope}|{day}"))?;
        let villages = store::villages_under(&self.db, scope.prefix()).await.map_err(ApiError::from)?;
        let seats = [pb::PostKind::PartySecretary, pb::PostKind::CommitteeDirector];
        let held = store::posts_under(&self.db, scope.prefix(), &seats, &dates::format(day))
            .await
            .map_err(ApiError::from)?;
        let all = posts::one_shoulder(&held, day);
        let one_shoulder_count = all.len() as i32;
        let after = page.after.clone().unwrap_or_default();
        let mut rows: Vec<_> =
            all.into_iter().filter(|o| o.region_code > after).take(page.fetch_limit() as usize).collect();
        let next_page_token = page.finish(&mut rows, |o| o.region_code.clone());
        let names: std::collections::HashMap<String, String> = villages.iter().cloned().collect();
        Ok(Response::new(pb::ListOneShoulderResponse {
            village_count: villages.len() as i32,
            one_shoulder_count,
            villages: rows
                .into_iter()
                .map(|o| pb::OneShoulderVillage {
                    region_name: names.get(&o.region_code).cloned().unwrap_or_default(),
                    region_code: o.region_code,
                    cadre_id: o.cadre_id,
                    cadre_name: o.cadre_name,
                })
                .collect(),
            next_page_token,
        }))
    }
}
