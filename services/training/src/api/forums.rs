//! ForumService: forums where secretaries teach secretaries (书记讲给书记听). A township,
//! county or city holds a forum; cadres (from training's copy of the roster) raise issues
//! there, each assigned to a responsible unit with a deadline and moved one step at a
//! time to closed; every move a step on the issue, audited and in the feed. Alerts for
//! open issues past their deadline; statistics per organising region and year.

use std::collections::HashMap;

use cadre_kit::call::{Call, Changed};
use cadre_kit::db::{from_micros, to_micros};
use cadre_kit::{ApiError, dates, fields};
use cadre_proto::training::v1 as pb;
use cadre_proto::training::v1::IssueState as State;
use cadre_proto::training::v1::forum_service_server::ForumService;
use tonic::{Request, Response, Status};

use super::TrainingApi;
use crate::domain::forums::{self, IssueFacts, state_name};
use crate::error::TrainingError;
use crate::store::forums::{self as sf, ForumRow, IssueFilter, IssueRow, IssueStepRow};
use crate::store::roster_copy;

fn forum_to_proto(f: ForumRow, issues: i64) -> pb::Forum {
    pb::Forum {
        id: f.id,
        region_code: f.region_code,
        held_date: f.held_date,
        place: f.place,
        title: f.title,
        revision: f.revision,
        issues: i32::try_from(issues).unwrap_or(i32::MAX),
    }
}

/// Issues as callers see them: with their steps.
async fn present(
    conn: &mut sqlx::AnyConnection,
    rows: Vec<IssueRow>,
) -> Result<Vec<pb::ForumIssue>, ApiError> {
    let ids: Vec<String> = rows.iter().map(|i| i.id.clone()).collect();
    let mut steps: HashMap<String, Vec<pb::IssueStep>> = HashMap::new();
    for s in sf::steps_of(conn, &ids).await? {
        steps.entry(s.issue_id.clone()).or_default().push(pb::IssueStep {
            state: s.state as i32,
            at: Some(cadre_kit::audit::prost_types_timestamp(from_micros(s.at))),
            actor: s.actor,
            note: s.note,
        });
    }
    Ok(rows
        .into_iter()
        .map(|i| pb::ForumIssue {
            steps: steps.remove(&i.id).unwrap_or_default(),
            id: i.id,
            forum_id: i.forum_id,
            cadre_id: i.cadre_id,
            cadre_name: i.cadre_name,
            title: i.title,
            unit_name: i.unit_name,
            unit_region_code: i.unit_region_code,
            deadline: i.deadline,
            state: i.state as i32,
            region_code: i.region_code,
            raised_date: i.raised_date,
            closed_date: i.closed_date,
            revision: i.revision,
        })
        .collect())
}

async fn present_one(conn: &mut sqlx::AnyConnection, row: IssueRow) -> Result<pb::ForumIssue, ApiError> {
    present(conn, vec![row]).await?.pop().ok_or_else(|| ApiError::internal("presented no issue"))
}

/// An issue the caller may see, or NOT_FOUND.
async fn visible(conn: &mut sqlx::AnyConnection, call: &Call, id: &str) -> Result<IssueRow, ApiError> {
    sf::get_issue(conn, id)
        .await?
        .filter(|i| call.principal().jurisdiction.covers_str(&i.region_code))
        .ok_or_else(|| ApiError::not_found(format!("issue {id}")))
}

fn facts(i: &IssueRow) -> Option<IssueFacts> {
    Some(IssueFacts {
        id: i.id.clone(),
        region: i.region_code.clone(),
        state: i.state,
        deadline: dates::parse_stored(&i.deadline)?,
        closed: dates::parse_stored(&i.closed_date),
    })
}

#[tonic::async_trait]
impl ForumService for TrainingApi {
    async fn create_forum(
        &self,
        request: Request<pb::CreateForumRequest>,
    ) -> Result<Response<pb::Forum>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let input = req.forum.as_ref().ok_or_else(|| ApiError::invalid("forum", "is required"))?;
        let f = forums::validate_forum("forum", input).map_err(ApiError::from)?;
        call.principal().ensure_can_write(&f.region)?;
        let forum = call
            .mutate(&self.db, &req, async |tx| {
                let row = ForumRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    region_code: f.region.to_string(),
                    held_date: dates::format(f.held),
                    year: chrono::Datelike::year(&f.held),
                    place: f.place.clone(),
                    title: f.title.clone(),
                    revision: 1,
                };
                let now = to_micros(tx.now());
                sf::insert_forum(tx.conn(), &row, now).await?;
                let detail = serde_json::json!({ "held_date": row.held_date });
                let entity = pb::Entity::Forum.as_str_name();
                tx.changed(Changed::created(entity, &row.id, &row.region_code, detail)).await?;
                Ok(forum_to_proto(row, 0))
            })
            .await?;
        Ok(Response::new(forum))
    }

    async fn list_forums(
        &self,
        request: Request<pb::ListForumsRequest>,
    ) -> Result<Response<pb::ListForumsResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let scope = call.principal().scope("region_code", &req.region_code)?;
        let year = if req.year == 0 { None } else { Some(fields::year("year", req.year)?) };
        let page = call.page(req.page_size, &req.page_token, &format!("{scope}|{year:?}"))?;
        let mut rows = sf::list_forums(
            &self.db,
            scope.prefix(),
            year,
            page.after.as_deref().unwrap_or_default(),
            page.fetch_limit(),
        )
        .await?;
        let next_page_token = page.finish(&mut rows, |f| f.id.clone());
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let ids: Vec<String> = rows.iter().map(|f| f.id.clone()).collect();
        let counts: HashMap<String, i64> = sf::issue_counts(&mut conn, &ids).await?.into_iter().collect();
        let forums = rows
            .into_iter()
            .map(|f| {
                let n = counts.get(&f.id).copied().unwrap_or(0);
                forum_to_proto(f, n)
            })
            .collect();
        Ok(Response::new(pb::ListForumsResponse { forums, next_page_token }))
    }

    async fn raise_issue(
        &self,
        request: Request<pb::RaiseIssueRequest>,
    ) -> Result<Response<pb::ForumIssue>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let input = req.issue.as_ref().ok_or_else(|| ApiError::invalid("issue", "is required"))?;
        let new = forums::validate_issue("issue", input).map_err(ApiError::from)?;
        let issue = call
            .mutate(&self.db, &req, async |tx| {
                let forum = sf::get_forum(tx.conn(), &new.forum_id)
                    .await?
                    .filter(|f| call.principal().jurisdiction.covers_str(&f.region_code))
                    .ok_or_else(|| ApiError::not_found(format!("forum {}", new.forum_id)))?;
                let region = cadre_kit::RegionCode::parse(&forum.region_code).map_err(ApiError::internal)?;
                call.principal().ensure_can_write(&region)?;
                let held = dates::parse_stored(&forum.held_date)
                    .ok_or_else(|| ApiError::internal(format!("forum {} has no stored day", forum.id)))?;
                forums::check_deadline("issue.deadline", new.deadline, held)?;
                if roster_copy::size(tx.conn()).await? == 0 {
                    return Err(ApiError::unavailable(
                        "roster: training's copy of the roster is still empty (its first sync has not finished); try again shortly",
                    ));
                }
                let cadre = roster_copy::trainees(tx.conn(), std::slice::from_ref(&new.cadre_id))
                    .await?
                    .pop()
                    .filter(|c| call.principal().jurisdiction.covers_str(&c.region_code))
                    .ok_or_else(|| {
                        ApiError::invalid("issue.cadre_id", format!("cadre {} is not in the roster", new.cadre_id))
                    })?;
                if !region.covers_str(&cadre.region_code) {
                    return Err(ApiError::invalid(
                        "issue.cadre_id",
                        format!("cadre {} serves {}, outside the forum's region {region}", cadre.id, cadre.region_code),
                    ));
                }
                let now = to_micros(tx.now());
                let row = IssueRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    forum_id: forum.id.clone(),
                    region_code: forum.region_code.clone(),
                    year: forum.year,
                    cadre_id: cadre.id.clone(),
                    cadre_name: cadre.name.clone(),
                    title: new.title.clone(),
                    unit_name: new.unit_name.clone(),
                    unit_region_code: new.unit_region.to_string(),
                    deadline: dates::format(new.deadline),
                    state: State::Assigned,
                    raised_date: dates::format(dates::today()),
                    closed_date: String::new(),
                    revision: 1,
                };
                sf::insert_issue(tx.conn(), &row, now).await?;
                let note = format!("assigned to {} ({}) by {}", row.unit_name, row.unit_region_code, row.deadline);
                let step = IssueStepRow {
                    issue_id: row.id.clone(),
                    state: State::Assigned,
                    at: now,
                    actor: tx.principal().subject.clone(),
                    note,
                };
                sf::add_step(tx.conn(), &step).await?;
                let detail = serde_json::json!({ "forum_id": row.forum_id, "deadline": row.deadline });
                let entity = pb::Entity::ForumIssue.as_str_name();
                tx.changed(Changed::created(entity, &row.id, &row.region_code, detail)).await?;
                present_one(tx.conn(), row).await
            })
            .await?;
        Ok(Response::new(issue))
    }

    async fn move_issue(
        &self,
        request: Request<pb::MoveIssueRequest>,
    ) -> Result<Response<pb::ForumIssue>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let id = fields::required_id("issue_id", &req.issue_id)?.to_string();
        let to = fields::required_enum::<State>("to", req.to, "issue state")?;
        let note = fields::text("note", &req.note, false, 500)?;
        let revision = fields::revision("revision", req.revision)?;
        let issue = call
            .mutate(&self.db, &req, async |tx| {
                let mut row = visible(tx.conn(), &call, &id).await?;
                let region = cadre_kit::RegionCode::parse(&row.region_code).map_err(ApiError::internal)?;
                call.principal().ensure_can_write(&region)?;
                if row.revision != revision {
                    return Err(TrainingError::stale("issue", &id, revision, row.revision).into());
                }
                forums::check_move(&id, row.state, to)?;
                row.state = to;
                row.revision += 1;
                if to == State::Closed {
                    row.closed_date = dates::format(dates::today());
                }
                let now = to_micros(tx.now());
                if !sf::update_issue(tx.conn(), &row, revision, now).await? {
                    return Err(TrainingError::stale("issue", &id, revision, revision + 1).into());
                }
                let step = IssueStepRow {
                    issue_id: id.clone(),
                    state: to,
                    at: now,
                    actor: tx.principal().subject.clone(),
                    note: note.clone(),
                };
                sf::add_step(tx.conn(), &step).await?;
                let detail = serde_json::json!({ "to": state_name(to), "note": note });
                let entity = pb::Entity::ForumIssue.as_str_name();
                tx.changed(Changed::updated(entity, &id, &row.region_code, row.revision, detail)).await?;
                present_one(tx.conn(), row).await
            })
            .await?;
        Ok(Response::new(issue))
    }

    async fn get_issue(
        &self,
        request: Request<pb::GetIssueRequest>,
    ) -> Result<Response<pb::ForumIssue>, Status> {
        let call = Call::of(&request)?;
        let id = fields::required_id("id", &request.get_ref().id)?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let row = visible(&mut conn, &call, id).await?;
        Ok(Response::new(present_one(&mut conn, row).await?))
    }

    async fn list_issues(
        &self,
        request: Request<pb::ListIssuesRequest>,
    ) -> Result<Response<pb::ListIssuesResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let scope = call.principal().scope("region_code", &req.region_code)?;
        let state = fields::optional_enum::<State>("state", req.state, "issue state")?;
        let forum_id = if req.forum_id.trim().is_empty() {
            None
        } else {
            Some(fields::required_id("forum_id", &req.forum_id)?.to_string())
        };
        let filter = IssueFilter {
            region_prefix: scope.prefix().to_string(),
            forum_id,
            state,
            year: None,
            open_only: false,
        };
        let page = call.page(req.page_size, &req.page_token, &format!("{filter:?}"))?;
        let mut rows = sf::list_issues(
            &self.db,
            &filter,
            page.after.as_deref().unwrap_or_default(),
            Some(page.fetch_limit()),
        )
        .await?;
        let next_page_token = page.finish(&mut rows, |i| i.id.clone());
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        Ok(Response::new(pb::ListIssuesResponse { issues: present(&mut conn, rows).await?, next_page_token }))
    }

    async fn list_issue_alerts(
        &self,
        request: Request<pb::ListIssueAlertsRequest>,
    ) -> Result<Response<pb::ListIssueAlertsResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let scope = call.principal().scope("region_code", &req.region_code)?;
        let as_of = dates::parse_or("as_of", &req.as_of, dates::today())?;
        let filter =
            IssueFilter { region_prefix: scope.prefix().to_string(), open_only: true, ..Default::default() };
        let rows = sf::list_issues(&self.db, &filter, "", None).await?;
        let by_id: HashMap<&str, &IssueRow> = rows.iter().map(|i| (i.id.as_str(), i)).collect();
        let all: Vec<IssueFacts> = rows.iter().filter_map(facts).collect();
        let alerts = forums::overdue(&all, as_of)
            .into_iter()
            .filter_map(|(f, days)| {
                let i = by_id.get(f.id.as_str())?;
                Some(pb::IssueAlert {
                    issue_id: i.id.clone(),
                    forum_id: i.forum_id.clone(),
                    region_code: i.region_code.clone(),
                    title: i.title.clone(),
                    unit_name: i.unit_name.clone(),
                    state: i.state as i32,
                    deadline: i.deadline.clone(),
                    days_overdue: days,
                })
            })
            .collect();
        Ok(Response::new(pb::ListIssueAlertsResponse { alerts }))
    }

    async fn get_forum_statistics(
        &self,
        request: Request<pb::GetForumStatisticsRequest>,
    ) -> Result<Response<pb::GetForumStatisticsResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let scope = call.principal().scope("region_code", &req.region_code)?;
        let year = fields::year("year", req.year)?;
        let as_of = dates::parse_or("as_of", &req.as_of, dates::today())?;
        let mut forum_days = Vec::new();
        let mut after = String::new();
        loop {
            let page = sf::list_forums(&self.db, scope.prefix(), Some(year), &after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = last.id.clone();
            forum_days.extend(
                page.iter().filter_map(|f| Some((f.region_code.clone(), dates::parse_stored(&f.held_date)?))),
            );
        }
        let filter =
            IssueFilter { region_prefix: scope.prefix().to_string(), year: Some(year), ..Default::default() };
        let issues: Vec<IssueFacts> =
            sf::list_issues(&self.db, &filter, "", None).await?.iter().filter_map(facts).collect();
        let (total, per) = forums::statistics(year, &forum_days, &issues, as_of);
        let row = |region: String, c: forums::Counts| pb::ForumStatistics {
            region_code: region,
            forums: c.forums,
            issues_raised: c.issues_raised,
            closed: c.closed,
            overdue: c.overdue,
            closed_on_time: c.closed_on_time,
        };
        Ok(Response::new(pb::GetForumStatisticsResponse {
            year,
            total: Some(row(scope.to_string(), total)),
            regions: per.into_iter().map(|(r, c)| row(r, c)).collect(),
        }))
    }
}
