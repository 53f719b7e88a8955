//! ProgrammeService: programmes (cohorts) run by a county, city or province; members
//! picked from training's copy of the roster against the programme's eligibility rules
//! (each refusal naming the rule), within the places of their tier (never over, also
//! under parallel adds: the place is taken by the statement that checks it); milestones
//! ticked per member; progress per member and for the cohort.

use std::collections::HashMap;

use cadre_kit::call::{Call, Changed};
use cadre_kit::db::to_micros;
use cadre_kit::{ApiError, RegionCode, dates, fields};
use cadre_proto::training::v1 as pb;
use cadre_proto::training::v1::programme_service_server::ProgrammeService;
use tonic::{Request, Response, Status};

use super::TrainingApi;
use crate::domain::{levels, programmes};
use crate::error::TrainingError;
use crate::store::programmes::{self as sp, MemberRow, ProgrammeRow};
use crate::store::roster_copy;

/// A programme the caller may see (kept in or above the jurisdiction), or NOT_FOUND.
async fn visible(conn: &mut sqlx::AnyConnection, call: &Call, id: &str) -> Result<ProgrammeRow, ApiError> {
    sp::get(conn, id)
        .await?
        .filter(|p| levels::sees_kept_by(call.principal(), &p.region_code))
        .ok_or_else(|| ApiError::not_found(format!("programme {id}")))
}

async fn present(conn: &mut sqlx::AnyConnection, p: ProgrammeRow) -> Result<pb::Programme, ApiError> {
    let tiers = sp::tiers(conn, &p.id).await?;
    let milestones = sp::milestones(conn, &p.id).await?;
    Ok(pb::Programme {
        region_code: p.region_code,
        name: p.name,
        kind: p.kind as i32,
        start_date: p.start_date,
        end_date: p.end_date,
        eligibility: Some(pb::Eligibility {
            max_age: i32::try_from(p.max_age).unwrap_or_default(),
            age_on: p.age_on,
            post_kinds: p.post_kinds,
            min_education: i32::try_from(p.min_education).unwrap_or_default(),
        }),
        tiers: tiers
            .into_iter()
            .map(|(name, places, taken)| pb::Tier {
                name,
                places: i32::try_from(places).unwrap_or(i32::MAX),
                taken: i32::try_from(taken).unwrap_or(i32::MAX),
            })
            .collect(),
        milestones: milestones
            .into_iter()
            .map(|(id, name, due_date)| pb::Milestone { id, name, due_date })
            .collect(),
        revision: p.revision,
        id: p.id,
    })
}

fn member_to_proto(m: MemberRow, done: Vec<String>) -> pb::Member {
    pb::Member {
        programme_id: m.programme_id,
        cadre_id: m.cadre_id,
        name: m.name,
        region_code: m.region_code,
        tier: m.tier,
        done_milestone_ids: done,
    }
}

fn entity_member() -> &'static str {
    pb::Entity::ProgrammeMember.as_str_name()
}

/// The caller writes for the programme's region (a county, city or province administrator).
fn ensure_runs(call: &Call, p: &ProgrammeRow) -> Result<(), ApiError> {
    let region = RegionCode::parse(&p.region_code).map_err(ApiError::internal)?;
    call.principal().ensure_can_write(&region)
}

#[tonic::async_trait]
impl ProgrammeService for TrainingApi {
    async fn create_programme(
        &self,
        request: Request<pb::CreateProgrammeRequest>,
    ) -> Result<Response<pb::Programme>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let input = req.programme.as_ref().ok_or_else(|| ApiError::invalid("programme", "is required"))?;
        let p = programmes::validate("programme", input).map_err(ApiError::from)?;
        call.principal().ensure_can_write(&p.region)?;
        let out = call
            .mutate(&self.db, &req, async |tx| {
                let now = to_micros(tx.now());
                let row = ProgrammeRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    region_code: p.region.to_string(),
                    name: p.name.clone(),
                    kind: p.kind,
                    start_date: dates::format(p.start),
                    end_date: dates::format(p.end),
                    max_age: i64::from(p.rules.max_age),
                    age_on: dates::format(p.rules.age_on),
                    post_kinds: p.rules.post_kinds.clone(),
                    min_education: i64::from(p.rules.min_education),
                    revision: 1,
                };
                sp::insert(tx.conn(), &row, now).await?;
                for (i, (name, places)) in p.tiers.iter().enumerate() {
                    sp::insert_tier(tx.conn(), &row.id, i as i64, name, i64::from(*places)).await?;
                }
                for (i, (name, due)) in p.milestones.iter().enumerate() {
                    let m = (uuid::Uuid::now_v7().to_string(), name.clone(), dates::format(*due));
                    sp::insert_milestone(tx.conn(), &row.id, i as i64, &m).await?;
                }
                let detail = serde_json::json!({ "name": row.name, "tiers": p.tiers.len() });
                let entity = pb::Entity::Programme.as_str_name();
                tx.changed(Changed::created(entity, &row.id, &row.region_code, detail)).await?;
                present(tx.conn(), row).await
            })
            .await?;
        Ok(Response::new(out))
    }

    async fn get_programme(
        &self,
        request: Request<pb::GetProgrammeRequest>,
    ) -> Result<Response<pb::Programme>, Status> {
        let call = Call::of(&request)?;
        let id = fields::required_id("id", &request.get_ref().id)?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let row = visible(&mut conn, &call, id).await?;
        Ok(Response::new(present(&mut conn, row).await?))
    }

    async fn list_programmes(
        &self,
        request: Request<pb::ListProgrammesRequest>,
    ) -> Result<Response<pb::ListProgrammesResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let scope = call.principal().scope("region_code", &req.region_code)?;
        let page = call.page(req.page_size, &req.page_token, scope.as_str())?;
        let mut rows =
            sp::list(&self.db, scope.prefix(), page.after.as_deref().unwrap_or_default(), page.fetch_limit())
                .await?;
        let next_page_token = page.finish(&mut rows, |p| p.id.clone());
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let mut programmes = Vec::with_capacity(rows.len());
        for row in rows {
            programmes.push(present(&mut conn, row).await?);
        }
        Ok(Response::new(pb::ListProgrammesResponse { programmes, next_page_token }))
    }

    async fn add_member(
        &self,
        request: Request<pb::AddMemberRequest>,
    ) -> Result<Response<pb::Member>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let programme_id = fields::required_id("programme_id", &req.programme_id)?.to_string();
        let cadre_id = fields::required_id("cadre_id", &req.cadre_id)?.to_string();
        let tier = fields::text("tier", &req.tier, false, 100)?;
        let member = call
            .mutate(&self.db, &req, async |tx| {
                let p = visible(tx.conn(), &call, &programme_id).await?;
                ensure_runs(&call, &p)?;
                if roster_copy::size(tx.conn()).await? == 0 {
                    return Err(ApiError::unavailable(
                        "roster: training's copy of the roster is still empty (its first sync has not finished); try again shortly",
                    ));
                }
                let runs = RegionCode::parse(&p.region_code).map_err(ApiError::internal)?;
                let (region, name, birth_month, education, post_kinds) = roster_copy::profile(tx.conn(), &cadre_id)
                    .await?
                    .filter(|c| call.principal().jurisdiction.covers_str(&c.0) && runs.covers_str(&c.0))
                    .ok_or_else(|| {
                        ApiError::invalid("cadre_id", format!("cadre {cadre_id} is not in the roster of {runs}"))
                    })?;
                let rules = programmes::Rules {
                    max_age: i32::try_from(p.max_age).unwrap_or_default(),
                    age_on: dates::parse_stored(&p.age_on).ok_or_else(|| ApiError::internal("a stored age_on"))?,
                    post_kinds: p.post_kinds.clone(),
                    min_education: i32::try_from(p.min_education).unwrap_or_default(),
                };
                let candidate = programmes::Candidate { birth_month, education, post_kinds };
                programmes::check(&rules, &candidate).map_err(|rule| {
                    TrainingError::Conflict(format!("cadre {cadre_id} is not eligible: {rule}"))
                })?;
                if sp::get_member(tx.conn(), &p.id, &cadre_id).await?.is_some() {
                    return Err(TrainingError::Conflict(format!("cadre {cadre_id} is already a member")).into());
                }
                let tiers = sp::tiers(tx.conn(), &p.id).await?;
                let tier_name = if tier.is_empty() {
                    tiers.first().map(|t| t.0.clone()).unwrap_or_default()
                } else {
                    tier.clone()
                };
                let Some((_, places, _)) = tiers.iter().find(|t| t.0 == tier_name) else {
                    let names: Vec<&str> = tiers.iter().map(|t| t.0.as_str()).collect();
                    return Err(ApiError::invalid("tier", format!("{tier_name:?} is not one of {}", names.join(", "))));
                };
                if !sp::take_place(tx.conn(), &p.id, &tier_name).await? {
                    return Err(TrainingError::Conflict(format!(
                        "tier {tier_name} of programme {} is full ({places} places)",
                        p.id
                    ))
                    .into());
                }
                let row = MemberRow {
                    programme_id: p.id.clone(),
                    cadre_id: cadre_id.clone(),
                    name,
                    region_code: region,
                    tier: tier_name,
                };
                let now = to_micros(tx.now());
                sp::insert_member(tx.conn(), &row, now).await?;
                let key = format!("{}:{}", p.id, cadre_id);
                let detail = serde_json::json!({ "tier": row.tier });
                tx.changed(Changed::created(entity_member(), &key, &row.region_code, detail)).await?;
                Ok(member_to_proto(row, Vec::new()))
            })
            .await?;
        Ok(Response::new(member))
    }

    async fn list_members(
        &self,
        request: Request<pb::ListMembersRequest>,
    ) -> Result<Response<pb::ListMembersResponse>, Status> {
        let call = Call::of(&request)?;
        let id = fields::required_id("programme_id", &request.get_ref().programme_id)?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let p = visible(&mut conn, &call, id).await?;
        let mut done: HashMap<String, Vec<String>> = HashMap::new();
        for (cadre, milestone) in sp::done(&mut conn, &p.id).await? {
            done.entry(cadre).or_default().push(milestone);
        }
        let members = sp::members(&mut conn, &p.id)
            .await?
            .into_iter()
            .filter(|m| call.principal().jurisdiction.covers_str(&m.region_code))
            .map(|m| {
                let d = done.remove(&m.cadre_id).unwrap_or_default();
                member_to_proto(m, d)
            })
            .collect();
        Ok(Response::new(pb::ListMembersResponse { members }))
    }

    async fn set_milestone_done(
        &self,
        request: Request<pb::SetMilestoneDoneRequest>,
    ) -> Result<Response<pb::Member>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let programme_id = fields::required_id("programme_id", &req.programme_id)?.to_string();
        let milestone_id = fields::required_id("milestone_id", &req.milestone_id)?.to_string();
        let cadre_id = fields::required_id("cadre_id", &req.cadre_id)?.to_string();
        let member = call
            .mutate(&self.db, &req, async |tx| {
                let p = visible(tx.conn(), &call, &programme_id).await?;
                let m = sp::get_member(tx.conn(), &p.id, &cadre_id)
                    .await?
                    .filter(|m| call.principal().jurisdiction.covers_str(&m.region_code))
                    .ok_or_else(|| ApiError::not_found(format!("member {cadre_id} of programme {}", p.id)))?;
                let region = RegionCode::parse(&m.region_code).map_err(ApiError::internal)?;
                call.principal().ensure_can_write(&region)?;
                if !sp::milestones(tx.conn(), &p.id).await?.iter().any(|ms| ms.0 == milestone_id) {
                    return Err(ApiError::not_found(format!(
                        "milestone {milestone_id} of programme {}",
                        p.id
                    )));
                }
                let now = to_micros(tx.now());
                sp::set_done(tx.conn(), &p.id, &milestone_id, &cadre_id, req.done, now).await?;
                let done: Vec<String> = sp::done(tx.conn(), &p.id)
                    .await?
                    .into_iter()
                    .filter(|(c, _)| *c == cadre_id)
                    .map(|(_, ms)| ms)
                    .collect();
                let key = format!("{}:{}", p.id, cadre_id);
                let detail = serde_json::json!({ "milestone_id": milestone_id, "done": req.done });
                tx.changed(Changed::updated(
                    entity_member(),
                    &key,
                    &m.region_code,
                    done.len() as i64 + 1,
                    detail,
                ))
                .await?;
                Ok(member_to_proto(m, done))
            })
            .await?;
        Ok(Response::new(member))
    }

    async fn get_progress(
        &self,
        request: Request<pb::GetProgressRequest>,
    ) -> Result<Response<pb::ProgrammeProgress>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let id = fields::required_id("programme_id", &req.programme_id)?;
        let as_of = dates::parse_or("as_of", &req.as_of, dates::today())?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let p = visible(&mut conn, &call, id).await?;
        let milestones: Vec<(String, chrono::NaiveDate)> = sp::milestones(&mut conn, &p.id)
            .await?
            .into_iter()
            .filter_map(|(id, _, due)| Some((id, dates::parse_stored(&due)?)))
            .collect();
        let mut done: HashMap<String, Vec<String>> = HashMap::new();
        for (cadre, milestone) in sp::done(&mut conn, &p.id).await? {
            done.entry(cadre).or_default().push(milestone);
        }
        let members: Vec<pb::MemberProgress> = sp::members(&mut conn, &p.id)
            .await?
            .into_iter()
            .filter(|m| call.principal().jurisdiction.covers_str(&m.region_code))
            .map(|m| {
                let (d, due) =
                    programmes::progress(&milestones, done.get(&m.cadre_id).map_or(&[][..], |v| v), as_of);
                pb::MemberProgress { cadre_id: m.cadre_id, name: m.name, tier: m.tier, done: d, due }
            })
            .collect();
        Ok(Response::new(pb::ProgrammeProgress {
            programme_id: p.id,
            as_of: dates::format(as_of),
            done: members.iter().map(|m| m.done).sum(),
            due: members.iter().map(|m| m.due).sum(),
            members,
        }))
    }
}
