//! OrderService: training ordered from the menu (点单式). A village or township submits;
//! the county matches a teacher (with the service's ranked suggestions), schedules,
//! delivers or declines; every move is a step on the order, audited and in the feed.

use std::collections::{HashMap, HashSet};

use cadre_kit::call::{Call, Changed, Mutation};
use cadre_kit::db::{from_micros, to_micros};
use cadre_kit::{ApiError, RegionCode, dates, fields};
use cadre_proto::training::v1 as pb;
use cadre_proto::training::v1::OrderState as State;
use cadre_proto::training::v1::order_service_server::OrderService;
use tonic::{Request, Response, Status};

use super::TrainingApi;
use super::catalogue::ancestors;
use crate::domain::orders::{self, format_time, state_name};
use crate::domain::suggestions::{self, Candidate, Wanted};
use crate::domain::{levels, waiting};
use crate::error::TrainingError;
use crate::store::courses as sc;
use crate::store::orders::{self as so, OrderFilter, OrderRow, StepRow};
use crate::store::teachers as stt;

fn entity() -> &'static str {
    pb::Entity::Order.as_str_name()
}

fn order_to_proto(
    o: OrderRow,
    steps: Vec<pb::OrderStep>,
    course: Option<&sc::CourseRow>,
    teacher_name: String,
) -> pb::Order {
    pb::Order {
        id: o.id,
        region_code: o.region_code,
        course_id: o.course_id,
        year: o.year,
        note: o.note,
        preferred_date: o.preferred_date,
        expected_trainees: o.expected_trainees,
        state: o.state as i32,
        teacher_id: o.teacher_id,
        teacher_name,
        scheduled_date: o.scheduled_date,
        start_time: o.start_time,
        end_time: o.end_time,
        place: o.place,
        decline_reason: o.decline_reason,
        delivered_date: o.delivered_date,
        attendees: o.attendees,
        submitted_at: Some(cadre_kit::audit::prost_types_timestamp(from_micros(o.submitted_at))),
        steps,
        course_title: course.map(|c| c.title.clone()).unwrap_or_default(),
        topic: course.map_or(0, |c| c.topic as i32),
        revision: o.revision,
    }
}

/// Orders as callers see them: with their steps, the course's title and topic, and the
/// teacher's name.
async fn present(conn: &mut sqlx::AnyConnection, rows: Vec<OrderRow>) -> Result<Vec<pb::Order>, ApiError> {
    let ids: Vec<String> = rows.iter().map(|o| o.id.clone()).collect();
    let mut steps: HashMap<String, Vec<pb::OrderStep>> = HashMap::new();
    for s in so::steps_of(conn, &ids).await? {
        steps.entry(s.order_id.clone()).or_default().push(pb::OrderStep {
            state: s.state as i32,
            at: Some(cadre_kit::audit::prost_types_timestamp(from_micros(s.at))),
            actor: s.actor,
            note: s.note,
        });
    }
    let course_ids: Vec<String> =
        rows.iter().map(|o| o.course_id.clone()).collect::<HashSet<_>>().into_iter().collect();
    let courses: HashMap<String, sc::CourseRow> =
        sc::get_many(conn, &course_ids).await?.into_iter().map(|c| (c.id.clone(), c)).collect();
    let teacher_ids: Vec<String> = rows
        .iter()
        .filter(|o| !o.teacher_id.is_empty())
        .map(|o| o.teacher_id.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let names: HashMap<String, String> =
        stt::get_many(conn, &teacher_ids).await?.into_iter().map(|t| (t.id, t.name)).collect();
    Ok(rows
        .into_iter()
        .map(|o| {
            let own_steps = steps.remove(&o.id).unwrap_or_default();
            let name = names.get(&o.teacher_id).cloned().unwrap_or_default();
            let course = courses.get(&o.course_id);
            order_to_proto(o, own_steps, course, name)
        })
        .collect())
}

async fn present_one(conn: &mut sqlx::AnyConnection, row: OrderRow) -> Result<pb::Order, ApiError> {
    present(conn, vec![row]).await?.pop().ok_or_else(|| ApiError::internal("presented no order"))
}

/// An order the caller may see, or NOT_FOUND.
async fn visible(conn: &mut sqlx::AnyConnection, call: &Call, id: &str) -> Result<OrderRow, ApiError> {
    so::get(conn, id)
        .await?
        .filter(|o| call.principal().jurisdiction.covers_str(&o.region_code))
        .ok_or_else(|| ApiError::not_found(format!("order {id}")))
}

fn step(tx: &Mutation<'_>, order_id: &str, state: State, note: String) -> StepRow {
    StepRow {
        order_id: order_id.to_string(),
        state,
        at: to_micros(tx.now()),
        actor: tx.principal().subject.clone(),
        note,
    }
}

impl TrainingApi {
    /// A county's move of an order to `to`: the caller covers the order and acts for a
    /// county or above, the revision is the one read, the lifecycle allows the move;
    /// `change` sets what the move carries and says it in the step's note.
    async fn move_order<Req: prost::Message>(
        &self,
        call: &Call,
        request: &Req,
        (id, revision): (&str, i64),
        to: State,
        change: impl AsyncFnOnce(&mut Mutation<'_>, &mut OrderRow) -> Result<String, ApiError>,
    ) -> Result<pb::Order, ApiError> {
        let id = fields::required_id("order_id", id)?.to_string();
        fields::revision("revision", revision)?;
        let what = format!("moving an order to {}", state_name(to));
        levels::ensure_county_or_above(call.principal(), &what)?;
        call.mutate(&self.db, request, async move |tx| {
            let mut row = visible(tx.conn(), call, &id).await?;
            if row.revision != revision {
                return Err(TrainingError::stale("order", &id, revision, row.revision).into());
            }
            orders::check_move(&id, row.state, to)?;
            let note = change(tx, &mut row).await?;
            row.state = to;
            row.revision += 1;
            let now = to_micros(tx.now());
            if !so::update(tx.conn(), &row, revision, now).await? {
                return Err(TrainingError::stale("order", &id, revision, revision + 1).into());
            }
            let s = step(tx, &id, to, note.clone());
            so::add_step(tx.conn(), &s).await?;
            let detail = serde_json::json!({ "to": to.as_str_name(), "note": note });
            tx.changed(Changed::updated(entity(), &id, &row.region_code, row.revision, detail)).await?;
            present_one(tx.conn(), row).await
        })
        .await
    }
}

#[tonic::async_trait]
impl OrderService for TrainingApi {
    async fn submit_order(
        &self,
        request: Request<pb::SubmitOrderRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let input = req.order.as_ref().ok_or_else(|| ApiError::invalid("order", "is required"))?;
        let o = orders::validate_new("order", input).map_err(ApiError::from)?;
        call.principal().ensure_can_write(&o.region)?;
        if !self.roster_region_exists(&call, o.region.as_str()).await? {
            return Err(
                ApiError::invalid("order.region_code", format!("{} is not in the roster", o.region)).into()
            );
        }
        let order = call
            .mutate(&self.db, &req, async |tx| {
                let on_menu = sc::menu(tx.conn(), o.county.as_str(), o.year)
                    .await?
                    .is_some_and(|(_, ids)| ids.contains(&o.course_id));
                if !on_menu {
                    return Err(ApiError::invalid(
                        "order.course_id",
                        format!("{} is not on the menu of {} for {}", o.course_id, o.county, o.year),
                    ));
                }
                let now = to_micros(tx.now());
                let row = OrderRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    region_code: o.region.to_string(),
                    county_code: o.county.to_string(),
                    course_id: o.course_id.clone(),
                    year: o.year,
                    note: o.note.clone(),
                    preferred_date: o.preferred_date.map(dates::format).unwrap_or_default(),
                    expected_trainees: o.expected_trainees,
                    state: State::Submitted,
                    teacher_id: String::new(),
                    scheduled_date: String::new(),
                    start_time: String::new(),
                    end_time: String::new(),
                    place: String::new(),
                    decline_reason: String::new(),
                    delivered_date: String::new(),
                    attendees: 0,
                    submitted_at: now,
                    submitted_date: dates::format(dates::today()),
                    revision: 1,
                };
                so::insert(tx.conn(), &row, now).await?;
                let s = step(tx, &row.id, State::Submitted, String::new());
                so::add_step(tx.conn(), &s).await?;
                let detail = serde_json::json!({ "course_id": row.course_id, "year": row.year });
                tx.changed(Changed::created(entity(), &row.id, &row.region_code, detail)).await?;
                present_one(tx.conn(), row).await
            })
            .await?;
        Ok(Response::new(order))
    }

    async fn match_order(
        &self,
        request: Request<pb::MatchOrderRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let teacher_id = fields::required_id("teacher_id", &req.teacher_id)?.to_string();
        let order = self
            .move_order(&call, &req, (&req.order_id, req.revision), State::Matched, async |tx, row| {
                let teacher = stt::get(tx.conn(), &teacher_id)
                    .await?
                    .filter(|t| levels::sees_kept_by(tx.principal(), &t.home_region_code))
                    .ok_or_else(|| {
                        ApiError::invalid("teacher_id", format!("teacher {teacher_id} is not in your pool"))
                    })?;
                if !teacher.active {
                    return Err(ApiError::invalid("teacher_id", format!("teacher {teacher_id} is inactive")));
                }
                row.teacher_id = teacher.id;
                Ok(format!("teacher {}", teacher.name))
            })
            .await?;
        Ok(Response::new(order))
    }

    async fn schedule_order(
        &self,
        request: Request<pb::ScheduleOrderRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let slot = orders::validate_slot(&req.date, &req.start_time, &req.end_time, &req.place)
            .map_err(ApiError::from)?;
        let order = self
            .move_order(&call, &req, (&req.order_id, req.revision), State::Scheduled, async |tx, row| {
                let day = dates::format(slot.date);
                for other in so::scheduled_for(tx.conn(), &row.teacher_id, &day).await? {
                    let (start, end) = (
                        orders::time("start_time", &other.start_time),
                        orders::time("end_time", &other.end_time),
                    );
                    let overlaps = match (start, end) {
                        (Ok(s), Ok(e)) => s < slot.end && slot.start < e,
                        _ => true,
                    };
                    if other.id != row.id && overlaps {
                        return Err(TrainingError::Conflict(format!(
                            "the teacher is scheduled on {day} {}–{} for order {}",
                            other.start_time, other.end_time, other.id
                        ))
                        .into());
                    }
                }
                row.scheduled_date = day.clone();
                row.start_time = format_time(slot.start);
                row.end_time = format_time(slot.end);
                row.place = slot.place.clone();
                Ok(format!("{day} {}–{} at {}", row.start_time, row.end_time, row.place))
            })
            .await?;
        Ok(Response::new(order))
    }

    async fn deliver_order(
        &self,
        request: Request<pb::DeliverOrderRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let order = self
            .move_order(&call, &req, (&req.order_id, req.revision), State::Delivered, async |_tx, row| {
                let scheduled = dates::parse_stored(&row.scheduled_date)
                    .ok_or_else(|| ApiError::internal(format!("order {} has no stored schedule", row.id)))?;
                let day =
                    orders::validate_delivery(&req.delivered_date, scheduled, dates::today(), req.attendees)?;
                row.delivered_date = dates::format(day);
                row.attendees = req.attendees;
                Ok(format!("delivered {} to {} trainees", row.delivered_date, row.attendees))
            })
            .await?;
        Ok(Response::new(order))
    }

    async fn decline_order(
        &self,
        request: Request<pb::DeclineOrderRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let reason = fields::text("reason", &req.reason, true, 500)?;
        let order = self
            .move_order(&call, &req, (&req.order_id, req.revision), State::Declined, async |_tx, row| {
                row.decline_reason = reason.clone();
                Ok(reason.clone())
            })
            .await?;
        Ok(Response::new(order))
    }

    async fn get_order(&self, request: Request<pb::GetOrderRequest>) -> Result<Response<pb::Order>, Status> {
        let call = Call::of(&request)?;
        let id = fields::required_id("id", &request.get_ref().id)?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let row = visible(&mut conn, &call, id).await?;
        Ok(Response::new(present_one(&mut conn, row).await?))
    }

    async fn list_orders(
        &self,
        request: Request<pb::ListOrdersRequest>,
    ) -> Result<Response<pb::ListOrdersResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let scope = call.principal().scope("region_code", &req.region_code)?;
        let state = fields::optional_enum::<State>("state", req.state, "order state")?;
        let year = if req.year == 0 { None } else { Some(fields::year("year", req.year)?) };
        let filter = OrderFilter { region_prefix: scope.prefix().to_string(), state, year };
        let page = call.page(req.page_size, &req.page_token, &format!("{filter:?}"))?;
        let mut rows =
            so::list(&self.db, &filter, page.after.as_deref().unwrap_or_default(), page.fetch_limit())
                .await?;
        let next_page_token = page.finish(&mut rows, |o| o.id.clone());
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        Ok(Response::new(pb::ListOrdersResponse { orders: present(&mut conn, rows).await?, next_page_token }))
    }

    async fn suggest_teachers(
        &self,
        request: Request<pb::SuggestTeachersRequest>,
    ) -> Result<Response<pb::SuggestTeachersResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let id = fields::required_id("order_id", &req.order_id)?;
        let limit = match req.limit {
            0 => 10,
            n @ 1..=50 => n as usize,
            n => return Err(ApiError::invalid("limit", format!("must be within 1..=50, got {n}")).into()),
        };
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let order = visible(&mut conn, &call, id).await?;
        let course = sc::get(&mut conn, &order.course_id)
            .await?
            .ok_or_else(|| ApiError::internal(format!("order {id} names a missing course")))?;
        drop(conn);
        let region = RegionCode::parse(&order.region_code).map_err(ApiError::internal)?;
        // Teachers kept by the order's county or above it.
        let county =
            levels::county_of(&region).ok_or_else(|| ApiError::internal("an order outside any county"))?;
        let mut keepers = ancestors(&county);
        keepers.push(county.to_string());
        let teachers = stt::active_kept_by(&self.db, &keepers).await?;
        let preferred = dates::parse_stored(&order.preferred_date);
        let busy: HashSet<String> = match preferred {
            Some(day) => so::busy_on(&self.db, &dates::format(day)).await?.into_iter().collect(),
            None => HashSet::new(),
        };
        let candidates: Vec<Candidate> = teachers
            .into_iter()
            .map(|t| Candidate {
                id: t.id,
                name: t.name,
                expertise: t.expertise,
                serves: t.serves,
                rating_sum: t.rating_sum,
                rating_count: t.rating_count,
            })
            .collect();
        let wanted = Wanted { topic: course.topic, region, preferred_date: preferred };
        let suggestions = suggestions::rank(&wanted, &candidates, &busy, limit)
            .into_iter()
            .map(|s| pb::TeacherSuggestion {
                teacher_id: s.teacher_id,
                teacher_name: s.teacher_name,
                score: s.score,
                reasons: s.reasons,
                available: s.available,
                rating: s.rating,
            })
            .collect();
        Ok(Response::new(pb::SuggestTeachersResponse { suggestions }))
    }

    async fn set_order_rules(
        &self,
        request: Request<pb::SetOrderRulesRequest>,
    ) -> Result<Response<pb::OrderRules>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let input = req.rules.as_ref().ok_or_else(|| ApiError::invalid("rules", "is required"))?;
        let region = fields::region("rules.region_code", &input.region_code)?;
        levels::keeper("rules.region_code", &region).map_err(ApiError::from)?;
        if !(1..=365).contains(&input.max_wait_days) {
            return Err(ApiError::invalid(
                "rules.max_wait_days",
                format!("must be within 1..=365, got {}", input.max_wait_days),
            )
            .into());
        }
        call.principal().ensure_can_write(&region)?;
        levels::ensure_county_or_above(call.principal(), "setting order rules").map_err(ApiError::from)?;
        let days = input.max_wait_days;
        let rules = call
            .mutate(&self.db, &req, async |tx| {
                let revision =
                    so::rules_of(&self.db, &[region.to_string()]).await?.first().map_or(1, |r| r.2 + 1);
                let now = to_micros(tx.now());
                so::put_rules(tx.conn(), region.as_str(), days, revision, now).await?;
                let detail = serde_json::json!({ "max_wait_days": days });
                let entity = pb::Entity::OrderRules.as_str_name();
                tx.changed(Changed::written(entity, region.as_str(), region.as_str(), revision, detail))
                    .await?;
                Ok(pb::OrderRules {
                    region_code: region.to_string(),
                    max_wait_days: days,
                    source_region_code: region.to_string(),
                    revision,
                })
            })
            .await?;
        Ok(Response::new(rules))
    }

    async fn get_order_rules(
        &self,
        request: Request<pb::GetOrderRulesRequest>,
    ) -> Result<Response<pb::OrderRules>, Status> {
        let call = Call::of(&request)?;
        let region = fields::region("region_code", &request.get_ref().region_code)?;
        if !levels::sees_kept_by(call.principal(), region.as_str()) {
            return Err(ApiError::permission_denied(format!(
                "region {region} is outside your jurisdiction {}",
                call.principal().jurisdiction
            ))
            .into());
        }
        let lineage: Vec<String> = region.lineage().map(|r| r.to_string()).collect();
        let stored = so::rules_of(&self.db, &lineage).await?;
        let configured: HashMap<String, i32> = stored.iter().map(|(r, d, _)| (r.clone(), *d)).collect();
        let (days, from) = waiting::effective(&region, &configured);
        let revision =
            from.as_ref().and_then(|f| stored.iter().find(|r| r.0 == f.as_str())).map_or(0, |r| r.2);
        Ok(Response::new(pb::OrderRules {
            region_code: region.to_string(),
            max_wait_days: days,
            source_region_code: from.map(|f| f.to_string()).unwrap_or_default(),
            revision,
        }))
    }

    async fn list_order_alerts(
        &self,
        request: Request<pb::ListOrderAlertsRequest>,
    ) -> Result<Response<pb::ListOrderAlertsResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let scope = call.principal().scope("region_code", &req.region_code)?;
        let as_of = dates::parse_or("as_of", &req.as_of, dates::today())?;
        let page = call.page(req.page_size, &req.page_token, &format!("{scope}|{as_of}"))?;
        let rows = so::waiting(&self.db, scope.prefix()).await?;
        let configured: HashMap<String, i32> = so::rules_near(&self.db, scope.prefix(), &ancestors(&scope))
            .await?
            .into_iter()
            .map(|(r, d, _)| (r, d))
            .collect();
        let facts: Vec<waiting::Waiting> = rows
            .iter()
            .filter_map(|o| {
                Some(waiting::Waiting {
                    order_id: o.id.clone(),
                    region: RegionCode::parse(&o.region_code).ok()?,
                    state: o.state,
                    submitted: dates::parse_stored(&o.submitted_date)?,
                })
            })
            .collect();
        let key = |a: &waiting::Alert| format!("{}|{}", dates::format(a.submitted), a.order_id);
        let after = page.after.clone().unwrap_or_default();
        let mut alerts: Vec<waiting::Alert> = waiting::overdue(&facts, &configured, as_of)
            .into_iter()
            .filter(|a| key(a) > after)
            .take(page.fetch_limit() as usize)
            .collect();
        let next_page_token = page.finish(&mut alerts, key);
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let course_of: HashMap<&str, &str> =
            rows.iter().map(|o| (o.id.as_str(), o.course_id.as_str())).collect();
        let course_ids: Vec<String> =
            alerts.iter().filter_map(|a| course_of.get(a.order_id.as_str()).map(|c| c.to_string())).collect();
        let titles: HashMap<String, String> =
            sc::get_many(&mut conn, &course_ids).await?.into_iter().map(|c| (c.id, c.title)).collect();
        let alerts = alerts
            .into_iter()
            .map(|a| pb::OrderAlert {
                course_title: course_of
                    .get(a.order_id.as_str())
                    .and_then(|c| titles.get(*c))
                    .cloned()
                    .unwrap_or_default(),
                order_id: a.order_id,
                region_code: a.region.to_string(),
                state: a.state as i32,
                submitted_date: dates::format(a.submitted),
                days_waiting: a.days_waiting,
                max_wait_days: a.max_wait_days,
            })
            .collect();
        Ok(Response::new(pb::ListOrderAlertsResponse { alerts, next_page_token }))
    }
}
