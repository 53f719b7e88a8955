//! SessionService: sessions (期次) planned by a city, county or township with their
//! sittings; closed, reopened, finished or cancelled by the organiser; the capacity
//! raised (promoting the waitlist) or lowered (never below those enrolled).

use std::collections::{HashMap, HashSet};

use cadre_kit::audit::prost_types_timestamp;
use cadre_kit::call::{Call, Changed, Mutation};
use cadre_kit::db::{from_micros, to_micros};
use cadre_kit::{ApiError, RegionCode, dates, fields};
use cadre_proto::training::v1 as pb;
use cadre_proto::training::v1::SessionState as State;
use cadre_proto::training::v1::session_service_server::SessionService;
use tonic::{Request, Response, Status};

use super::TrainingApi;
use super::catalogue::ancestors;
use super::completion::{evaluate_session, rules_for};
use crate::domain::completion::Rule;
use crate::domain::enrolment::{self, Waiting};
use crate::domain::levels;
use crate::domain::orders::format_time;
use crate::domain::sessions::{self, NewSession, Slot, state_name};
use crate::error::TrainingError;
use crate::store::courses as sc;
use crate::store::enrolments::{self as se, EnrolmentRow};
use crate::store::orders as so;
use crate::store::roster_copy;
use crate::store::sessions::{self as ss, SessionFilter, SessionRow, SittingRow};
use crate::store::{attendance as sa, teachers as stt};

pub(crate) fn entity() -> &'static str {
    pb::Entity::Session.as_str_name()
}

/// A session the caller may see (organised in its jurisdiction or above it), or NOT_FOUND.
pub(crate) async fn visible(
    conn: &mut sqlx::AnyConnection,
    call: &Call,
    id: &str,
) -> Result<SessionRow, ApiError> {
    ss::get(conn, id)
        .await?
        .filter(|s| levels::sees_kept_by(call.principal(), &s.organiser_region_code))
        .ok_or_else(|| ApiError::not_found(format!("session {id}")))
}

/// The caller organises `session`: it may change data in the organiser's region.
pub(crate) fn ensure_organiser(call: &Call, session: &SessionRow, what: &str) -> Result<(), ApiError> {
    let organiser = RegionCode::parse(&session.organiser_region_code).map_err(ApiError::internal)?;
    call.principal().ensure_can_write(&organiser).map_err(|_| {
        ApiError::permission_denied(format!(
            "{what} is the organiser's ({organiser}); your jurisdiction is {}",
            call.principal().jurisdiction
        ))
    })
}

/// A stored sitting as the domain reads it.
pub(crate) fn slot(t: &SittingRow) -> Result<Slot, ApiError> {
    Slot::stored(&t.day, &t.start_time, &t.end_time, &t.place)
        .ok_or_else(|| ApiError::internal(format!("sitting {} has a bad stored date or time", t.id)))
}

/// Sessions as callers see them: sittings with their sign-ins, course title, teacher.
pub(crate) async fn present(
    conn: &mut sqlx::AnyConnection,
    rows: Vec<SessionRow>,
) -> Result<Vec<pb::Session>, ApiError> {
    let ids: Vec<String> = rows.iter().map(|s| s.id.clone()).collect();
    let mut sittings: HashMap<String, Vec<SittingRow>> = HashMap::new();
    for t in ss::sittings_of(conn, &ids).await? {
        sittings.entry(t.session_id.clone()).or_default().push(t);
    }
    let signed = sa::counts(conn, &ids).await?;
    let course_ids: Vec<String> =
        rows.iter().map(|s| s.course_id.clone()).collect::<HashSet<_>>().into_iter().collect();
    let titles: HashMap<String, String> =
        sc::get_many(conn, &course_ids).await?.into_iter().map(|c| (c.id, c.title)).collect();
    let teacher_ids: Vec<String> = rows
        .iter()
        .filter(|s| !s.teacher_id.is_empty())
        .map(|s| s.teacher_id.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let names: HashMap<String, String> =
        stt::get_many(conn, &teacher_ids).await?.into_iter().map(|t| (t.id, t.name)).collect();
    Ok(rows
        .into_iter()
        .map(|s| pb::Session {
            sittings: sittings
                .remove(&s.id)
                .unwrap_or_default()
                .into_iter()
                .map(|t| pb::Sitting {
                    signed_in: signed.get(&t.id).copied().unwrap_or(0) as i32,
                    id: t.id,
                    date: t.day,
                    start_time: t.start_time,
                    end_time: t.end_time,
                    place: t.place,
                })
                .collect(),
            course_title: titles.get(&s.course_id).cloned().unwrap_or_default(),
            teacher_name: names.get(&s.teacher_id).cloned().unwrap_or_default(),
            id: s.id,
            title: s.title,
            organiser_level: s.organiser_level as i32,
            organiser_region_code: s.organiser_region_code,
            course_id: s.course_id,
            teacher_id: s.teacher_id,
            order_id: s.order_id,
            year: s.year as i32,
            capacity: s.capacity as i32,
            code_step_seconds: s.code_step_seconds as i32,
            sign_in_opens_minutes: s.sign_in_opens_minutes as i32,
            state: s.state as i32,
            cancel_reason: s.cancel_reason,
            enrolled: s.enrolled as i32,
            waitlisted: s.waitlisted as i32,
            revision: s.revision,
            completion_rule: Some(match Rule::stored(s.completion_percent, s.completion_sittings) {
                Rule::Percent(p) => pb::CompletionRule { min_percent: p, min_sittings: 0 },
                Rule::MinSittings(n) => pb::CompletionRule { min_percent: 0, min_sittings: n },
            }),
            finished_at: (s.finished_at > 0).then(|| prost_types_timestamp(from_micros(s.finished_at))),
        })
        .collect())
}

pub(crate) async fn present_one(
    conn: &mut sqlx::AnyConnection,
    row: SessionRow,
) -> Result<pb::Session, ApiError> {
    present(conn, vec![row]).await?.pop().ok_or_else(|| ApiError::internal("presented no session"))
}

/// Whether `owner` (who keeps a course or a teacher) is the organiser's region or above it.
fn kept_for(owner: &str, organiser: &RegionCode) -> bool {
    organiser.lineage().any(|r| r.as_str() == owner)
}

/// The waitlist of `session`, with who left the roster (as training's copy has it).
pub(crate) async fn queue(
    conn: &mut sqlx::AnyConnection,
    session_id: &str,
) -> Result<Vec<EnrolmentRow>, ApiError> {
    Ok(se::waitlist(conn, session_id).await?)
}

/// Cadres training's copy of the roster says hold no post any more, among `ids`.
pub(crate) async fn left_roster(
    conn: &mut sqlx::AnyConnection,
    ids: &[String],
) -> Result<HashSet<String>, ApiError> {
    Ok(roster_copy::trainees(conn, ids)
        .await?
        .into_iter()
        .filter(|t| enrolment::serving(&t.post_kinds).is_err())
        .map(|t| t.id)
        .collect())
}

/// Gives the free places of `session` (re-read in the transaction) to the waitlist, in
/// order, passing over those who left the roster; records each promotion.
pub(crate) async fn promote_waitlist(
    tx: &mut Mutation<'_>,
    session_id: &str,
) -> Result<Vec<EnrolmentRow>, ApiError> {
    let session = ss::get(tx.conn(), session_id)
        .await?
        .ok_or_else(|| ApiError::internal(format!("session {session_id} vanished in its transaction")))?;
    let free = session.capacity - session.enrolled;
    if free <= 0 {
        return Ok(Vec::new());
    }
    let waiting = queue(tx.conn(), session_id).await?;
    let ids: Vec<String> = waiting.iter().map(|e| e.cadre_id.clone()).collect();
    let left = left_roster(tx.conn(), &ids).await?;
    let facts: Vec<Waiting> = waiting
        .iter()
        .map(|e| Waiting { cadre_id: e.cadre_id.clone(), left_roster: left.contains(&e.cadre_id) })
        .collect();
    let chosen = enrolment::promote(&facts, free);
    let now = to_micros(tx.now());
    let mut promoted = Vec::with_capacity(chosen.len());
    for cadre_id in chosen {
        let Some(mut e) = waiting.iter().find(|e| e.cadre_id == cadre_id).cloned() else { continue };
        enrolment::check_move(&e.id, e.state, pb::EnrolmentState::Enrolled)?;
        e.state = pb::EnrolmentState::Enrolled;
        e.revision += 1;
        if !ss::shift(tx.conn(), session_id, 1, -1).await? {
            break;
        }
        if !se::set_state(tx.conn(), &e, pb::EnrolmentState::Waitlisted, now).await? {
            return Err(ApiError::internal(format!(
                "enrolment {} left the waitlist in its transaction",
                e.id
            )));
        }
        let detail =
            serde_json::json!({ "to": "ENROLLED", "promoted_from_waitlist": true, "session_id": session_id });
        tx.changed(Changed::updated(
            pb::Entity::Enrolment.as_str_name(),
            &e.id,
            &e.region_code,
            e.revision,
            detail,
        ))
        .await?;
        promoted.push(e);
    }
    Ok(promoted)
}

impl TrainingApi {
    /// What an order given on a new session carries over, checked: the order is the
    /// caller's, scheduled, within the organiser's region, of the same course.
    async fn take_from_order(
        &self,
        conn: &mut sqlx::AnyConnection,
        call: &Call,
        s: &mut NewSession,
    ) -> Result<(), ApiError> {
        let Some(order_id) = s.order_id.clone() else { return Ok(()) };
        let order = so::get(conn, &order_id)
            .await?
            .filter(|o| call.principal().jurisdiction.covers_str(&o.region_code))
            .ok_or_else(|| ApiError::invalid("session.order_id", format!("order {order_id} is not yours")))?;
        if order.state != pb::OrderState::Scheduled {
            return Err(ApiError::invalid(
                "session.order_id",
                format!(
                    "order {order_id} is {}, not SCHEDULED",
                    crate::domain::orders::state_name(order.state)
                ),
            ));
        }
        if !s.organiser.covers_str(&order.region_code) {
            return Err(ApiError::invalid(
                "session.order_id",
                format!(
                    "order {order_id} is of {}, outside the organiser's region {}",
                    order.region_code, s.organiser
                ),
            ));
        }
        match &s.course_id {
            Some(c) if *c != order.course_id => {
                return Err(ApiError::invalid(
                    "session.course_id",
                    format!("{c} is not the order's course {}", order.course_id),
                ));
            }
            _ => s.course_id = Some(order.course_id.clone()),
        }
        if s.teacher_id.is_none() && !order.teacher_id.is_empty() {
            s.teacher_id = Some(order.teacher_id);
        }
        Ok(())
    }

    /// The organiser moves a session: the revision is the one read, the lifecycle allows
    /// it; `change` adds what the move carries.
    async fn move_session<Req: prost::Message>(
        &self,
        call: &Call,
        request: &Req,
        (id, revision): (&str, i64),
        change: impl AsyncFnOnce(&mut Mutation<'_>, &mut SessionRow) -> Result<serde_json::Value, ApiError>,
    ) -> Result<pb::Session, ApiError> {
        let id = fields::required_id("session_id", id)?.to_string();
        fields::revision("revision", revision)?;
        call.mutate(&self.db, request, async move |tx| {
            let mut row = visible(tx.conn(), call, &id).await?;
            ensure_organiser(call, &row, "changing a session")?;
            if row.revision != revision {
                return Err(TrainingError::stale("session", &id, revision, row.revision).into());
            }
            let detail = change(tx, &mut row).await?;
            row.revision += 1;
            let now = to_micros(tx.now());
            if !ss::update(tx.conn(), &row, revision, now).await? {
                return Err(TrainingError::stale("session", &id, revision, revision + 1).into());
            }
            tx.changed(Changed::updated(entity(), &id, &row.organiser_region_code, row.revision, detail))
                .await?;
            let promoted =
                if sessions::signs_in(row.state) { promote_waitlist(tx, &id).await? } else { Vec::new() };
            let row = if promoted.is_empty() {
                row
            } else {
                ss::get(tx.conn(), &id).await?.ok_or_else(|| ApiError::internal("session vanished"))?
            };
            present_one(tx.conn(), row).await
        })
        .await
    }
}

#[tonic::async_trait]
impl SessionService for TrainingApi {
    async fn create_session(
        &self,
        request: Request<pb::CreateSessionRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let input = req.session.as_ref().ok_or_else(|| ApiError::invalid("session", "is required"))?;
        let mut s = sessions::validate_new("session", input).map_err(ApiError::from)?;
        call.principal().ensure_can_write(&s.organiser)?;
        let session = call
            .mutate(&self.db, &req, async |tx| {
                self.take_from_order(tx.conn(), &call, &mut s).await?;
                let course_id = s.course_id.clone().unwrap_or_default();
                let course = sc::get(tx.conn(), &course_id)
                    .await?
                    .filter(|c| kept_for(&c.owner_region_code, &s.organiser))
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "session.course_id",
                            format!("{course_id} is not a course kept by {} or above it", s.organiser),
                        )
                    })?;
                if let Some(teacher_id) = &s.teacher_id {
                    stt::get(tx.conn(), teacher_id)
                        .await?
                        .filter(|t| t.active && kept_for(&t.home_region_code, &s.organiser))
                        .ok_or_else(|| {
                            ApiError::invalid(
                                "session.teacher_id",
                                format!(
                                    "{teacher_id} is not an active teacher of {} or above it",
                                    s.organiser
                                ),
                            )
                        })?;
                }
                let given = s.completion_rule.as_ref();
                let rule = match Rule::from_fields(
                    "session.completion_rule",
                    given.map_or(0, |r| r.min_percent),
                    given.map_or(0, |r| r.min_sittings),
                    s.sittings.len(),
                )? {
                    Some(rule) => rule,
                    None => {
                        let year = i64::from(s.year());
                        Rule::Percent(rules_for(tx.conn(), &s.organiser, year).await?.0.default_min_percent)
                    }
                };
                let (completion_percent, completion_sittings) = rule.columns();
                let id = uuid::Uuid::now_v7().to_string();
                let row = SessionRow {
                    completion_percent,
                    completion_sittings,
                    finished_at: 0,
                    id: id.clone(),
                    title: s.title.clone(),
                    organiser_level: s.level,
                    organiser_region_code: s.organiser.to_string(),
                    course_id: course.id.clone(),
                    teacher_id: s.teacher_id.clone().unwrap_or_default(),
                    order_id: s.order_id.clone().unwrap_or_default(),
                    year: i64::from(s.year()),
                    capacity: i64::from(s.capacity),
                    enrolled: 0,
                    waitlisted: 0,
                    state: State::Open,
                    cancel_reason: String::new(),
                    code_step_seconds: i64::from(s.code_step_seconds),
                    sign_in_opens_minutes: i64::from(s.opens_minutes),
                    revision: 1,
                };
                let sittings: Vec<SittingRow> = s
                    .sittings
                    .iter()
                    .enumerate()
                    .map(|(i, t)| SittingRow {
                        id: uuid::Uuid::now_v7().to_string(),
                        session_id: id.clone(),
                        seq: i as i64 + 1,
                        day: dates::format(t.date),
                        start_time: format_time(t.start),
                        end_time: format_time(t.end),
                        place: t.place.clone(),
                    })
                    .collect();
                let now = to_micros(tx.now());
                ss::insert(tx.conn(), &row, &sittings, now).await?;
                let detail = serde_json::json!({
                    "title": row.title, "course_id": row.course_id, "capacity": row.capacity,
                    "sittings": sittings.len(), "order_id": row.order_id,
                });
                tx.changed(Changed::created(entity(), &id, &row.organiser_region_code, detail)).await?;
                present_one(tx.conn(), row).await
            })
            .await?;
        Ok(Response::new(session))
    }

    async fn get_session(
        &self,
        request: Request<pb::GetSessionRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        let call = Call::of(&request)?;
        let id = fields::required_id("id", &request.get_ref().id)?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let row = visible(&mut conn, &call, id).await?;
        Ok(Response::new(present_one(&mut conn, row).await?))
    }

    async fn list_sessions(
        &self,
        request: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let scope = call.principal().scope("region_code", &req.region_code)?;
        let state = fields::optional_enum::<State>("state", req.state, "session state")?;
        let year = if req.year == 0 { None } else { Some(fields::year("year", req.year)?) };
        let filter =
            SessionFilter { prefix: scope.prefix().to_string(), above: ancestors(&scope), state, year };
        let page = call.page(req.page_size, &req.page_token, &format!("{filter:?}"))?;
        let mut rows =
            ss::list(&self.db, &filter, page.after.as_deref().unwrap_or_default(), page.fetch_limit())
                .await?;
        let next_page_token = page.finish(&mut rows, |s| s.id.clone());
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        Ok(Response::new(pb::ListSessionsResponse {
            sessions: present(&mut conn, rows).await?,
            next_page_token,
        }))
    }

    async fn set_session_state(
        &self,
        request: Request<pb::SetSessionStateRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let to = fields::required_enum::<State>("state", req.state, "session state")?;
        let reason = fields::text("reason", &req.reason, to == State::Cancelled, 500)?;
        let session = self
            .move_session(&call, &req, (&req.session_id, req.revision), async |tx, row| {
                sessions::check_move(&row.id, row.state, to)?;
                if to == State::Finished {
                    let sittings = ss::sittings_of(tx.conn(), std::slice::from_ref(&row.id)).await?;
                    let slots = sittings.iter().map(slot).collect::<Result<Vec<_>, _>>()?;
                    let now = crate::domain::sign_in::local(tx.now());
                    if let Some(end) = sessions::last_end(&slots).filter(|end| *end > now) {
                        return Err(TrainingError::Conflict(format!(
                            "session {}'s last sitting ends {}; it cannot finish before",
                            row.id,
                            end.format("%Y-%m-%d %H:%M")
                        ))
                        .into());
                    }
                }
                let from = row.state;
                row.state = to;
                if to == State::Cancelled {
                    row.cancel_reason = reason.clone();
                }
                let mut detail =
                    serde_json::json!({ "from": state_name(from), "to": state_name(to), "reason": reason });
                if to == State::Finished {
                    row.finished_at = to_micros(tx.now());
                    let (completed, not_completed) = evaluate_session(tx, row).await?;
                    detail["completed"] = completed.into();
                    detail["not_completed"] = not_completed.into();
                }
                Ok(detail)
            })
            .await?;
        Ok(Response::new(session))
    }

    async fn set_session_capacity(
        &self,
        request: Request<pb::SetSessionCapacityRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let capacity = req.capacity;
        if !(1..=sessions::MAX_CAPACITY).contains(&capacity) {
            return Err(ApiError::invalid(
                "capacity",
                format!("must be within 1..={}, got {capacity}", sessions::MAX_CAPACITY),
            )
            .into());
        }
        let session = self
            .move_session(&call, &req, (&req.session_id, req.revision), async |_tx, row| {
                if !sessions::signs_in(row.state) {
                    return Err(TrainingError::Conflict(format!(
                        "session {} is {}: its capacity is final",
                        row.id,
                        state_name(row.state)
                    ))
                    .into());
                }
                if i64::from(capacity) < row.enrolled {
                    return Err(ApiError::invalid(
                        "capacity",
                        format!(
                            "{capacity} is below the {} trainees enrolled; withdraw some first",
                            row.enrolled
                        ),
                    ));
                }
                let from = row.capacity;
                row.capacity = i64::from(capacity);
                Ok(serde_json::json!({ "capacity_from": from, "capacity": capacity }))
            })
            .await?;
        Ok(Response::new(session))
    }

    async fn set_completion_rule(
        &self,
        request: Request<pb::SetCompletionRuleRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let given = req.completion_rule.unwrap_or_default();
        let session = self
            .move_session(&call, &req, (&req.session_id, req.revision), async |tx, row| {
                if !sessions::signs_in(row.state) {
                    return Err(TrainingError::Conflict(format!(
                        "session {} is {}: its completion rule is final",
                        row.id,
                        state_name(row.state)
                    ))
                    .into());
                }
                let sittings = ss::sittings_of(tx.conn(), std::slice::from_ref(&row.id)).await?.len();
                let rule = Rule::from_fields("completion_rule", given.min_percent, given.min_sittings, sittings)?
                    .ok_or_else(|| ApiError::invalid("completion_rule", "give min_percent or min_sittings"))?;
                let from = Rule::stored(row.completion_percent, row.completion_sittings);
                (row.completion_percent, row.completion_sittings) = rule.columns();
                Ok(serde_json::json!({ "completion_rule_from": from.describe(), "completion_rule": rule.describe() }))
            })
            .await?;
        Ok(Response::new(session))
    }
}
