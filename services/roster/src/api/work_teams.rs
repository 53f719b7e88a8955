//! WorkTeamService: stationed work teams (驻村工作队), their members and the villages
//! they cover (each assignment a period that may end and start again), and a summary
//! by village type.

use std::collections::HashMap;

use cadre_kit::db::{WriteTx, to_micros};
use cadre_kit::{ApiError, Principal};
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::work_team_service_server::WorkTeamService;
use sqlx::AnyConnection;
use tonic::{Request, Response, Status};

use super::RosterApi;
use super::regions::is_village;
use crate::domain::{dates, fields, work_teams};
use crate::error::RosterError;
use crate::store;
use crate::store::development::{self as dev, MemberRow, TeamRow, TeamVillageRow};
use cadre_kit::call::{Call, Changed, Mutation};

const MAX_NAME_CHARS: usize = 100;

fn member_to_proto(m: MemberRow) -> pb::TeamMember {
    pb::TeamMember {
        id: m.id,
        team_id: m.team_id,
        name: m.name,
        agency: m.agency,
        role: m.role as i32,
        cadre_id: m.cadre_id,
        start_date: m.start_date,
        end_date: m.end_date.unwrap_or_default(),
        end_reason: m.end_reason,
        revision: m.revision,
    }
}

fn village_to_proto(v: TeamVillageRow) -> pb::TeamVillage {
    pb::TeamVillage {
        village_code: v.village_code,
        village_name: v.village_name,
        village_type: v.village_type,
        start_date: v.start_date,
        end_date: v.end_date.unwrap_or_default(),
        end_reason: v.end_reason,
    }
}

/// The team's assignment periods as the rules see them.
fn assignments(rows: &[TeamVillageRow]) -> Result<Vec<work_teams::Assignment>, ApiError> {
    rows.iter()
        .map(|r| {
            r.assignment()
                .ok_or_else(|| ApiError::internal(format!("assignment {} has bad stored dates", r.id)))
        })
        .collect()
}

/// A change to `team` itself (its villages): the audit entry and change-feed row of
/// the team at its next revision, then the team as the caller gets it back.
async fn team_changed(
    tx: &mut Mutation<'_>,
    team: &TeamRow,
    detail: serde_json::Value,
) -> Result<pb::WorkTeam, ApiError> {
    tx.changed(Changed::updated(
        pb::Entity::WorkTeam.as_str_name(),
        &team.id,
        &team.county_code,
        team.revision + 1,
        detail,
    ))
    .await?;
    let updated = dev::get_team(tx.conn(), &team.id)
        .await?
        .ok_or_else(|| ApiError::internal("team vanished inside its transaction"))?;
    let mut out = teams_to_proto(tx.conn(), vec![updated]).await?;
    out.pop().ok_or_else(|| ApiError::internal("team vanished inside its transaction"))
}

/// The teams with their members and villages, in the order given.
async fn teams_to_proto(
    conn: &mut AnyConnection,
    teams: Vec<TeamRow>,
) -> Result<Vec<pb::WorkTeam>, ApiError> {
    let ids: Vec<String> = teams.iter().map(|t| t.id.clone()).collect();
    let mut members: HashMap<String, Vec<pb::TeamMember>> = HashMap::new();
    for m in dev::members_of(conn, &ids).await? {
        members.entry(m.team_id.clone()).or_default().push(member_to_proto(m));
    }
    let mut villages: HashMap<String, Vec<pb::TeamVillage>> = HashMap::new();
    for v in dev::villages_of(conn, &ids).await? {
        villages.entry(v.team_id.clone()).or_default().push(village_to_proto(v));
    }
    Ok(teams
        .into_iter()
        .map(|t| pb::WorkTeam {
            members: members.remove(&t.id).unwrap_or_default(),
            villages: villages.remove(&t.id).unwrap_or_default(),
            id: t.id,
            name: t.name,
            agency: t.agency,
            leader_name: t.leader_name,
            county_code: t.county_code,
            revision: t.revision,
        })
        .collect())
}

/// A stored team the caller may change (its county is in the caller's jurisdiction).
async fn writable_team(tx: &mut WriteTx, principal: &Principal, id: &str) -> Result<TeamRow, ApiError> {
    let team =
        dev::get_team(tx.conn(), id).await?.ok_or_else(|| ApiError::not_found(format!("work team {id}")))?;
    principal
        .ensure_can_write(&fields::region("county_code", &team.county_code).map_err(ApiError::internal)?)?;
    Ok(team)
}

#[tonic::async_trait]
impl WorkTeamService for RosterApi {
    async fn create_work_team(
        &self,
        request: Request<pb::CreateWorkTeamRequest>,
    ) -> Result<Response<pb::WorkTeam>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        let county = work_teams::county_of("region_code", &fields::region("region_code", &req.region_code)?)
            .map_err(ApiError::from)?;
        principal.ensure_can_write(&county)?;
        let name = fields::text("name", &req.name, true, MAX_NAME_CHARS).map_err(ApiError::from)?;
        let agency = fields::text("agency", &req.agency, true, MAX_NAME_CHARS).map_err(ApiError::from)?;
        let leader =
            fields::text("leader_name", &req.leader_name, false, MAX_NAME_CHARS).map_err(ApiError::from)?;
        let out = call
            .mutate(&self.db, &req, async |tx| {
                store::get_region(tx.conn(), county.as_str()).await?.ok_or_else(|| {
                    ApiError::invalid("region_code", format!("county {county} does not exist"))
                })?;
                let team = TeamRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    name: name.clone(),
                    agency: agency.clone(),
                    leader_name: leader.clone(),
                    county_code: county.to_string(),
                    revision: 1,
                };
                let now = to_micros(tx.now());
                dev::insert_team(tx.conn(), &team, now).await?;
                tx.changed(Changed::created(
                    pb::Entity::WorkTeam.as_str_name(),
                    &team.id,
                    &team.county_code,
                    serde_json::json!({ "name": team.name, "agency": team.agency }),
                ))
                .await?;
                let mut out = teams_to_proto(tx.conn(), vec![team]).await?;
                out.pop().ok_or_else(|| ApiError::internal("team vanished inside its transaction"))
            })
            .await?;
        Ok(Response::new(out))
    }

    async fn add_team_member(
        &self,
        request: Request<pb::AddTeamMemberRequest>,
    ) -> Result<Response<pb::TeamMember>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        fields::required_id("team_id", &req.team_id)?;
        let role = work_teams::role("role", req.role).map_err(ApiError::from)?;
        let start = dates::parse("start_date", &req.start_date).map_err(ApiError::from)?;
        let name = fields::text("name", &req.name, false, MAX_NAME_CHARS).map_err(ApiError::from)?;
        let agency = fields::text("agency", &req.agency, true, MAX_NAME_CHARS).map_err(ApiError::from)?;
        let cadre_id = req.cadre_id.trim().to_string();
        if cadre_id.is_empty() && name.is_empty() {
            return Err(ApiError::invalid("name", "is required when no cadre_id is given").into());
        }
        let out = call
            .mutate(&self.db, &req, async |tx| {
                let team = writable_team(tx, principal, req.team_id.trim()).await?;
                let mut name = name.clone();
                if !cadre_id.is_empty() {
                    let cadre = store::get_cadre(tx.conn(), &cadre_id).await?.ok_or_else(|| {
                        ApiError::invalid("cadre_id", format!("cadre {cadre_id} does not exist"))
                    })?;
                    principal.ensure_can_read_code(&cadre.region_code)?;
                    if name.is_empty() {
                        name = cadre.name.clone();
                    }
                    let serving = dev::members_of(tx.conn(), std::slice::from_ref(&team.id)).await?;
                    if serving.iter().any(|m| m.cadre_id == cadre_id && m.end_date.is_none()) {
                        return Err(ApiError::failed_precondition(format!(
                            "cadre {cadre_id} already serves in work team {}",
                            team.id
                        )));
                    }
                }
                let member = MemberRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    team_id: team.id.clone(),
                    name,
                    agency: agency.clone(),
                    role: role as i64,
                    cadre_id: cadre_id.clone(),
                    start_date: dates::format(start),
                    end_date: None,
                    end_reason: String::new(),
                    revision: 1,
                };
                let now = to_micros(tx.now());
                dev::insert_member(tx.conn(), &member, now).await?;
                dev::touch_team(tx.conn(), &team.id, now).await?;
                tx.changed(Changed::created(
                    pb::Entity::WorkTeamMember.as_str_name(),
                    &member.id,
                    &team.county_code,
                    serde_json::json!({
                            "team_id": team.id, "role": role.as_str_name(), "cadre_id": member.cadre_id,
                            "start_date": member.start_date}),
                ))
                .await?;
                Ok(member_to_proto(member))
            })
            .await?;
        Ok(Response::new(out))
    }

    async fn end_team_membership(
        &self,
        request: Request<pb::EndTeamMembershipRequest>,
    ) -> Result<Response<pb::TeamMember>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        fields::required_id("member_id", &req.member_id)?;
        let end = dates::parse("end_date", &req.end_date).map_err(ApiError::from)?;
        let reason = fields::text("reason", &req.reason, false, 200).map_err(ApiError::from)?;
        let out = call
            .mutate(&self.db, &req, async |tx| {
                let member = dev::get_member(tx.conn(), req.member_id.trim())
                    .await?
                    .ok_or_else(|| ApiError::not_found(format!("team member {}", req.member_id.trim())))?;
                if !req.team_id.trim().is_empty() && req.team_id.trim() != member.team_id {
                    return Err(ApiError::not_found(format!(
                        "team member {} in work team {}",
                        member.id,
                        req.team_id.trim()
                    )));
                }
                let team = writable_team(tx, principal, &member.team_id).await?;
                if let Some(ended) = &member.end_date {
                    return Err(ApiError::failed_precondition(format!(
                        "member {} already left on {ended}",
                        member.id
                    )));
                }
                let start = dates::parse("start_date", &member.start_date).map_err(ApiError::internal)?;
                if end <= start {
                    return Err(ApiError::invalid(
                        "end_date",
                        format!("{} must be after the start date {}", dates::format(end), member.start_date),
                    ));
                }
                let now = to_micros(tx.now());
                dev::end_member(tx.conn(), &member.id, &dates::format(end), &reason, now).await?;
                dev::touch_team(tx.conn(), &team.id, now).await?;
                tx.changed(Changed::updated(
                    pb::Entity::WorkTeamMember.as_str_name(),
                    &member.id,
                    &team.county_code,
                    member.revision + 1,
                    serde_json::json!({ "end_date": dates::format(end), "reason": reason }),
                ))
                .await?;
                let updated = dev::get_member(tx.conn(), &member.id)
                    .await?
                    .ok_or_else(|| ApiError::internal("member vanished inside its transaction"))?;
                Ok(member_to_proto(updated))
            })
            .await?;
        Ok(Response::new(out))
    }

    async fn assign_team_village(
        &self,
        request: Request<pb::AssignTeamVillageRequest>,
    ) -> Result<Response<pb::WorkTeam>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        fields::required_id("team_id", &req.team_id)?;
        let village = fields::region("village_code", &req.village_code)?;
        let start = dates::parse_or("start_date", &req.start_date, dates::today()).map_err(ApiError::from)?;
        let out = call
            .mutate(&self.db, &req, async |tx| {
                let team = writable_team(tx, principal, req.team_id.trim()).await?;
                let county = fields::region("county_code", &team.county_code).map_err(ApiError::internal)?;
                work_teams::check_village(&county, &village)?;
                let place = store::get_region(tx.conn(), village.as_str()).await?.ok_or_else(|| {
                    ApiError::invalid("village_code", format!("region {village} does not exist"))
                })?;
                if !is_village(&place) {
                    return Err(ApiError::invalid("village_code", format!("{village} is not a village")));
                }
                let assigned = dev::villages_of(tx.conn(), std::slice::from_ref(&team.id)).await?;
                work_teams::check_assignment(&team.id, village.as_str(), start, &assignments(&assigned)?)?;
                let row = TeamVillageRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    team_id: team.id.clone(),
                    village_code: village.to_string(),
                    village_name: place.name.clone(),
                    village_type: place.village_type.clone(),
                    start_date: dates::format(start),
                    end_date: None,
                    end_reason: String::new(),
                };
                let now = to_micros(tx.now());
                dev::insert_team_village(tx.conn(), &row, now).await?;
                dev::touch_team(tx.conn(), &team.id, now).await?;
                let detail = serde_json::json!({
                    "village_code": row.village_code, "village_type": row.village_type,
                    "start_date": row.start_date
                });
                team_changed(tx, &team, detail).await
            })
            .await?;
        Ok(Response::new(out))
    }

    async fn end_team_village(
        &self,
        request: Request<pb::EndTeamVillageRequest>,
    ) -> Result<Response<pb::WorkTeam>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        fields::required_id("team_id", &req.team_id)?;
        let village = fields::region("village_code", &req.village_code)?;
        let today = dates::today();
        let end = dates::parse_or("end_date", &req.end_date, today).map_err(ApiError::from)?;
        let reason = fields::text("reason", &req.reason, false, 200).map_err(ApiError::from)?;
        fields::revision("revision", req.revision)?;
        let out = call
            .mutate(&self.db, &req, async |tx| {
                let team = writable_team(tx, principal, req.team_id.trim()).await?;
                let stale =
                    || ApiError::from(RosterError::stale("work team", &team.id, req.revision, team.revision));
                if team.revision != req.revision {
                    return Err(stale());
                }
                let rows = dev::villages_of(tx.conn(), std::slice::from_ref(&team.id)).await?;
                let periods = assignments(&rows)?;
                let open = work_teams::assignment_to_end(&team.id, village.as_str(), end, today, &periods)?;
                let now = to_micros(tx.now());
                let day = dates::format(end);
                if !dev::touch_team_at(tx.conn(), &team.id, team.revision, now).await? {
                    return Err(stale());
                }
                if !dev::end_team_village(tx.conn(), &open.id, &day, &reason, now).await? {
                    return Err(ApiError::aborted(format!(
                        "the assignment of {village} to work team {} changed while it was being ended",
                        team.id
                    )));
                }
                let detail = serde_json::json!({
                    "village_code": village.as_str(), "start_date": dates::format(open.start),
                    "end_date": day, "reason": reason
                });
                team_changed(tx, &team, detail).await
            })
            .await?;
        Ok(Response::new(out))
    }

    async fn get_work_team(
        &self,
        request: Request<pb::GetWorkTeamRequest>,
    ) -> Result<Response<pb::WorkTeam>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        fields::required_id("id", &req.id)?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let team = dev::get_team(&mut conn, req.id.trim())
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::not_found(format!("work team {}", req.id.trim())))?;
        let mut out = teams_to_proto(&mut conn, vec![team]).await?;
        let team = out.pop().ok_or_else(|| ApiError::internal("team vanished"))?;
        // The county's department sees the team; a township sees it when it serves or
        // served there (ended assignments stay on the team).
        if principal.ensure_can_read_code(&team.county_code).is_err()
            && !team.villages.iter().any(|v| principal.jurisdiction.covers_str(&v.village_code))
        {
            principal.ensure_can_read_code(&team.county_code)?;
        }
        Ok(Response::new(team))
    }

    async fn list_work_teams(
        &self,
        request: Request<pb::ListWorkTeamsRequest>,
    ) -> Result<Response<pb::ListWorkTeamsResponse>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        let scope = principal.scope("region_code", &req.region_code)?;
        let page = call.page(req.page_size, &req.page_token, &format!("{scope}"))?;
        let mut rows = dev::list_teams(
            &self.db,
            scope.prefix(),
            page.after.as_deref().unwrap_or_default(),
            page.fetch_limit(),
        )
        .await
        .map_err(ApiError::from)?;
        let next_page_token = page.finish(&mut rows, |t| t.id.clone());
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let teams = teams_to_proto(&mut conn, rows).await?;
        Ok(Response::new(pb::ListWorkTeamsResponse { teams, next_page_token }))
    }

    async fn get_work_team_summary(
        &self,
        request: Request<pb::GetWorkTeamSummaryRequest>,
    ) -> Result<Response<pb::WorkTeamSummary>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        let region = fields::region("region_code", &req.region_code)?;
        principal.ensure_can_read(&region)?;
        let day =
            dates::format(dates::parse_or("as_of", &req.as_of, dates::today()).map_err(ApiError::from)?);
        let counts = dev::team_counts(&self.db, region.prefix(), &day).await.map_err(ApiError::from)?;
        Ok(Response::new(pb::WorkTeamSummary {
            region_code: region.to_string(),
            as_of: day,
            team_count: counts.teams as i32,
            member_count: counts.members as i32,
            village_count: counts.villages_by_type.iter().map(|(_, n)| *n as i32).sum(),
            villages_by_type: counts
                .villages_by_type
                .into_iter()
                .map(|(village_type, n)| pb::VillageTypeCount { village_type, village_count: n as i32 })
                .collect(),
        }))
    }
}
