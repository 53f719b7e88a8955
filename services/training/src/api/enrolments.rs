//! EnrolmentService: cadres into a session, one by one (checked against the roster with
//! the caller's token) or by list (from training's copy of the roster), up to the
//! capacity and then on the waitlist; withdrawals that promote the waitlist in order.
//! Every write runs in one transaction behind the part's write lock, and the place is
//! taken by the statement that checks the capacity, so parallel enrolments never pass it.

use std::collections::{HashMap, HashSet};

use cadre_kit::call::{Call, Changed, Mutation};
use cadre_kit::changes::{ChangeRecord, Operation};
use cadre_kit::db::{from_micros, to_micros};
use cadre_kit::{ApiError, RegionCode, fields};
use cadre_proto::training::v1 as pb;
use cadre_proto::training::v1::EnrolmentState as State;
use cadre_proto::training::v1::enrolment_service_server::EnrolmentService;
use tonic::{Request, Response, Status};

use super::TrainingApi;
use super::sessions::{left_roster, promote_waitlist, slot, visible};
use crate::domain::enrolment;
use crate::domain::sessions::{self, Booked, Slot};
use crate::error::TrainingError;
use crate::store::enrolments::{self as se, EnrolmentRow};
use crate::store::roster_copy::{self, Trainee};
use crate::store::sessions::{self as ss, SessionRow};

/// At most this many cadres in one list.
const MAX_LIST: usize = 2_000;

fn entity() -> &'static str {
    pb::Entity::Enrolment.as_str_name()
}

/// Enrolments as callers see them: with their place on the waitlist and whether the
/// cadre has since left the roster.
async fn present(
    conn: &mut sqlx::AnyConnection,
    rows: Vec<EnrolmentRow>,
) -> Result<Vec<pb::Enrolment>, ApiError> {
    let mut places: HashMap<String, Vec<i64>> = HashMap::new();
    for session in rows.iter().map(|e| &e.session_id).collect::<HashSet<_>>() {
        places.insert(session.clone(), se::waitlist_seqs(conn, session).await?);
    }
    let ids: Vec<String> = rows.iter().map(|e| e.cadre_id.clone()).collect();
    let left = left_roster(conn, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|e| {
            let waitlist_position = match e.state {
                State::Waitlisted => places
                    .get(&e.session_id)
                    .and_then(|seqs| seqs.iter().position(|s| *s == e.seq))
                    .map_or(0, |i| i as i32 + 1),
                _ => 0,
            };
            pb::Enrolment {
                left_roster: left.contains(&e.cadre_id),
                joined_at: Some(cadre_kit::audit::prost_types_timestamp(from_micros(e.joined_at))),
                id: e.id,
                session_id: e.session_id,
                cadre_id: e.cadre_id,
                cadre_name: e.cadre_name,
                region_code: e.region_code,
                state: e.state as i32,
                waitlist_position,
                withdraw_reason: e.withdraw_reason,
                revision: e.revision,
            }
        })
        .collect())
}

async fn present_one(conn: &mut sqlx::AnyConnection, row: EnrolmentRow) -> Result<pb::Enrolment, ApiError> {
    present(conn, vec![row]).await?.pop().ok_or_else(|| ApiError::internal("presented no enrolment"))
}

/// A session open for enrolment, or why not.
fn ensure_open(session: &SessionRow) -> Result<(), ApiError> {
    if session.state == pb::SessionState::Open {
        Ok(())
    } else {
        Err(TrainingError::Conflict(format!(
            "session {} is {}: enrolment is closed",
            session.id,
            sessions::state_name(session.state)
        ))
        .into())
    }
}

/// The session's sittings, and their days (to look for clashes on).
async fn sittings(
    conn: &mut sqlx::AnyConnection,
    session_id: &str,
) -> Result<(Vec<Slot>, Vec<String>), ApiError> {
    let rows = ss::sittings_of(conn, &[session_id.to_string()]).await?;
    let slots = rows.iter().map(slot).collect::<Result<Vec<_>, _>>()?;
    let mut days: Vec<String> = rows.into_iter().map(|t| t.day).collect();
    days.dedup();
    Ok((slots, days))
}

/// Why each of `cadre_ids` cannot join `session_id` for a clash with another session.
async fn clashes(
    conn: &mut sqlx::AnyConnection,
    session_id: &str,
    cadre_ids: &[String],
) -> Result<HashMap<String, String>, ApiError> {
    let (mine, days) = sittings(conn, session_id).await?;
    let mut booked: HashMap<String, Vec<Booked>> = HashMap::new();
    for chunk in cadre_ids.chunks(500) {
        for b in se::booked(conn, chunk, session_id, &days).await? {
            let Some(slot) = Slot::stored(&b.day, &b.start_time, &b.end_time, "") else { continue };
            booked.entry(b.cadre_id).or_default().push(Booked {
                session_id: b.session_id,
                title: b.title,
                slot,
            });
        }
    }
    Ok(booked
        .into_iter()
        .filter_map(|(cadre, theirs)| sessions::clash(&mine, &theirs).map(|why| (cadre, why)))
        .collect())
}

/// Enrols one cadre who may join (not enrolled or waitlisted already, no clash): a place
/// if one is free, else the waitlist. Returns the enrolment written.
async fn join(
    tx: &mut Mutation<'_>,
    session_id: &str,
    trainee: &Trainee,
    existing: Option<EnrolmentRow>,
) -> Result<EnrolmentRow, ApiError> {
    let (state, seq) = match ss::take_place(tx.conn(), session_id).await? {
        Some(seq) => (State::Enrolled, seq),
        None => (State::Waitlisted, ss::join_waitlist(tx.conn(), session_id).await?),
    };
    let now = to_micros(tx.now());
    let row = match existing {
        Some(e) => {
            enrolment::check_move(&e.id, e.state, state)?;
            EnrolmentRow {
                state,
                seq,
                joined_at: now,
                withdraw_reason: String::new(),
                revision: e.revision + 1,
                ..e
            }
        }
        None => EnrolmentRow {
            id: uuid::Uuid::now_v7().to_string(),
            session_id: session_id.to_string(),
            cadre_id: trainee.id.clone(),
            cadre_name: trainee.name.clone(),
            region_code: trainee.region_code.clone(),
            state,
            seq,
            joined_at: now,
            withdraw_reason: String::new(),
            revision: 1,
        },
    };
    se::put(tx.conn(), &row, now).await?;
    Ok(row)
}

fn detail(row: &EnrolmentRow) -> serde_json::Value {
    serde_json::json!({ "session_id": row.session_id, "cadre_id": row.cadre_id, "state": row.state.as_str_name() })
}

/// Who a list names, in its order: (trainee, or the reason it is skipped).
struct Listed {
    take: Vec<Trainee>,
    skipped: Vec<pb::SkippedCadre>,
}

impl TrainingApi {
    /// The cadres a list names, from training's copy of the roster, each within the
    /// caller's jurisdiction and the organiser's region and holding a post, or skipped
    /// with the reason.
    async fn listed(
        &self,
        conn: &mut sqlx::AnyConnection,
        call: &Call,
        organiser: &RegionCode,
        req: &pb::EnrolByListRequest,
    ) -> Result<Listed, ApiError> {
        let principal = call.principal();
        let mut skipped = Vec::new();
        let skip = |t: &Trainee, reason: &str| pb::SkippedCadre {
            cadre_id: t.id.clone(),
            cadre_name: t.name.clone(),
            reason: reason.to_string(),
        };
        let by_region = !req.region_code.trim().is_empty();
        if by_region != req.cadre_ids.is_empty() {
            return Err(ApiError::invalid(
                "region_code",
                "give either region_code (with post_kinds) or cadre_ids",
            ));
        }
        if roster_copy::size(conn).await? == 0 {
            return Err(ApiError::unavailable(
                "roster: training's copy of the roster is still empty (its first sync has not finished); try again shortly",
            ));
        }
        let take = if by_region {
            let region = fields::region("region_code", &req.region_code)?;
            call.principal().ensure_can_write(&region)?;
            if !organiser.covers(&region) {
                return Err(ApiError::invalid(
                    "region_code",
                    format!("{region} is outside the organiser's region {organiser}"),
                ));
            }
            let kinds: Vec<i32> = req.post_kinds.clone();
            for (i, k) in kinds.iter().enumerate() {
                if cadre_proto::roster::v1::PostKind::try_from(*k).is_err() || *k == 0 {
                    return Err(ApiError::invalid(
                        &format!("post_kinds[{i}]"),
                        format!("{k} is not a post kind"),
                    ));
                }
            }
            let found: Vec<Trainee> = roster_copy::serving_under(conn, region.prefix())
                .await?
                .into_iter()
                .filter(|t| kinds.is_empty() || t.post_kinds.iter().any(|k| kinds.contains(k)))
                .collect();
            if found.len() > MAX_LIST {
                return Err(ApiError::invalid(
                    "region_code",
                    format!("selects {} cadres; at most {MAX_LIST} at once", found.len()),
                ));
            }
            found
        } else {
            let ids = fields::batch_keys("cadre_ids", &req.cadre_ids)?;
            let mut found: HashMap<String, Trainee> =
                roster_copy::trainees(conn, &ids).await?.into_iter().map(|t| (t.id.clone(), t)).collect();
            let mut take = Vec::with_capacity(ids.len());
            for id in ids {
                match found.remove(&id).filter(|t| principal.jurisdiction.covers_str(&t.region_code)) {
                    None => skipped.push(pb::SkippedCadre {
                        cadre_id: id,
                        cadre_name: String::new(),
                        reason: "not in the roster within your jurisdiction".into(),
                    }),
                    Some(t) if !organiser.covers_str(&t.region_code) => {
                        skipped.push(skip(&t, &format!("outside the organiser's region {organiser}")));
                    }
                    Some(t) => match enrolment::serving(&t.post_kinds) {
                        Err(why) => skipped.push(skip(&t, why)),
                        Ok(()) => take.push(t),
                    },
                }
            }
            take
        };
        Ok(Listed { take, skipped })
    }
}

#[tonic::async_trait]
impl EnrolmentService for TrainingApi {
    async fn enrol(&self, request: Request<pb::EnrolRequest>) -> Result<Response<pb::Enrolment>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let session_id = fields::required_id("session_id", &req.session_id)?.to_string();
        let cadre_id = fields::required_id("cadre_id", &req.cadre_id)?.to_string();
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let session = visible(&mut conn, &call, &session_id).await?;
        drop(conn);
        ensure_open(&session)?;
        let found = self.roster_trainee(&call, "cadre_id", &cadre_id).await?;
        let region = RegionCode::parse(&found.region_code).map_err(ApiError::internal)?;
        call.principal().ensure_can_write(&region)?;
        let organiser = RegionCode::parse(&session.organiser_region_code).map_err(ApiError::internal)?;
        if !organiser.covers(&region) {
            return Err(ApiError::invalid(
                "cadre_id",
                format!(
                    "cadre {cadre_id} ({region}) is outside the organiser's region {}",
                    session.organiser_region_code
                ),
            )
            .into());
        }
        if let Err(why) = enrolment::serving(&found.post_kinds) {
            return Err(TrainingError::Conflict(format!("cadre {} {why}", found.name)).into());
        }
        let trainee = Trainee {
            id: found.id.clone(),
            region_code: found.region_code.clone(),
            name: found.name.clone(),
            post_kinds: found.post_kinds.clone(),
        };
        let enrolled = call
            .mutate(&self.db, &req, async |tx| {
                let session = ss::get(tx.conn(), &session_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found(format!("session {session_id}")))?;
                ensure_open(&session)?;
                let existing = se::get(tx.conn(), &session_id, &cadre_id).await?;
                if let Some(e) = existing.clone().filter(|e| e.state != State::Withdrawn) {
                    return present_one(tx.conn(), e).await;
                }
                if let Some(why) =
                    clashes(tx.conn(), &session_id, std::slice::from_ref(&cadre_id)).await?.remove(&cadre_id)
                {
                    return Err(TrainingError::Conflict(format!("cadre {} is {why}", trainee.name)).into());
                }
                let operation_created = existing.is_none();
                let row = join(tx, &session_id, &trainee, existing).await?;
                let change = if operation_created {
                    Changed::created(entity(), &row.id, &row.region_code, detail(&row))
                } else {
                    Changed::updated(entity(), &row.id, &row.region_code, row.revision, detail(&row))
                };
                tx.changed(change).await?;
                present_one(tx.conn(), row).await
            })
            .await?;
        Ok(Response::new(enrolled))
    }

    async fn enrol_by_list(
        &self,
        request: Request<pb::EnrolByListRequest>,
    ) -> Result<Response<pb::EnrolByListResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let session_id = fields::required_id("session_id", &req.session_id)?.to_string();
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let session = visible(&mut conn, &call, &session_id).await?;
        ensure_open(&session)?;
        let organiser = RegionCode::parse(&session.organiser_region_code).map_err(ApiError::internal)?;
        let Listed { take, mut skipped } = self.listed(&mut conn, &call, &organiser, &req).await?;
        drop(conn);
        let response = call
            .mutate(&self.db, &req, async |tx| {
                let session = ss::get(tx.conn(), &session_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found(format!("session {session_id}")))?;
                ensure_open(&session)?;
                let ids: Vec<String> = take.iter().map(|t| t.id.clone()).collect();
                let mut existing: HashMap<String, EnrolmentRow> = HashMap::new();
                for chunk in ids.chunks(500) {
                    existing.extend(
                        se::of_cadres(tx.conn(), &session_id, chunk)
                            .await?
                            .into_iter()
                            .map(|e| (e.cadre_id.clone(), e)),
                    );
                }
                let clash = clashes(tx.conn(), &session_id, &ids).await?;
                let mut written = Vec::new();
                let mut created = HashSet::new();
                for t in &take {
                    let before = existing.remove(&t.id);
                    match before.as_ref().map(|e| e.state) {
                        Some(State::Enrolled) => {
                            skipped.push(pb::SkippedCadre {
                                cadre_id: t.id.clone(),
                                cadre_name: t.name.clone(),
                                reason: "already enrolled".into(),
                            });
                            continue;
                        }
                        Some(State::Waitlisted) => {
                            skipped.push(pb::SkippedCadre {
                                cadre_id: t.id.clone(),
                                cadre_name: t.name.clone(),
                                reason: "already on the waitlist".into(),
                            });
                            continue;
                        }
                        _ => {}
                    }
                    if let Some(why) = clash.get(&t.id) {
                        skipped.push(pb::SkippedCadre {
                            cadre_id: t.id.clone(),
                            cadre_name: t.name.clone(),
                            reason: why.clone(),
                        });
                        continue;
                    }
                    if before.is_none() {
                        created.insert(t.id.clone());
                    }
                    written.push(join(tx, &session_id, t, before).await?);
                }
                if !written.is_empty() {
                    let records: Vec<ChangeRecord<'_>> = written
                        .iter()
                        .map(|e| ChangeRecord {
                            entity: entity(),
                            key: &e.id,
                            operation: if created.contains(&e.cadre_id) {
                                Operation::Created
                            } else {
                                Operation::Updated
                            },
                            region_code: &e.region_code,
                            previous_region_code: "",
                            revision: e.revision,
                        })
                        .collect();
                    let detail = serde_json::json!({
                        "session_id": session_id,
                        "region_code": req.region_code,
                        "post_kinds": req.post_kinds,
                        "enrolled": written.iter().filter(|e| e.state == State::Enrolled).count(),
                        "waitlisted": written.iter().filter(|e| e.state == State::Waitlisted).count(),
                        "cadre_ids": written.iter().map(|e| e.cadre_id.as_str()).collect::<Vec<_>>(),
                    });
                    let target = format!("session/{session_id}/enrolments");
                    tx.changed_in_bulk(&target, &session.organiser_region_code, detail, &records).await?;
                }
                let presented = present(tx.conn(), written).await?;
                let (enrolled, waitlisted) =
                    presented.into_iter().partition(|e| e.state == State::Enrolled as i32);
                Ok(pb::EnrolByListResponse { enrolled, waitlisted, skipped: std::mem::take(&mut skipped) })
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn withdraw(
        &self,
        request: Request<pb::WithdrawRequest>,
    ) -> Result<Response<pb::WithdrawResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let session_id = fields::required_id("session_id", &req.session_id)?.to_string();
        let cadre_id = fields::required_id("cadre_id", &req.cadre_id)?.to_string();
        let reason = fields::text("reason", &req.reason, false, 500)?;
        let response = call
            .mutate(&self.db, &req, async |tx| {
                let session = visible(tx.conn(), &call, &session_id).await?;
                let mut row = se::get(tx.conn(), &session_id, &cadre_id)
                    .await?
                    .filter(|e| call.principal().jurisdiction.covers_str(&e.region_code))
                    .ok_or_else(|| ApiError::not_found(format!("enrolment of cadre {cadre_id} in session {session_id}")))?;
                call.principal().ensure_can_write(&RegionCode::parse(&row.region_code).map_err(ApiError::internal)?)?;
                if !sessions::signs_in(session.state) {
                    return Err(TrainingError::Conflict(format!(
                        "session {session_id} is {}: its enrolment is final",
                        sessions::state_name(session.state)
                    ))
                    .into());
                }
                let from = row.state;
                enrolment::check_move(&row.id, from, State::Withdrawn)?;
                row.state = State::Withdrawn;
                row.withdraw_reason = reason.clone();
                row.revision += 1;
                let now = to_micros(tx.now());
                if !se::set_state(tx.conn(), &row, from, now).await? {
                    return Err(ApiError::internal(format!("enrolment {} moved in its transaction", row.id)));
                }
                let (enrolled, waitlisted) = if from == State::Enrolled { (-1, 0) } else { (0, -1) };
                if !ss::shift(tx.conn(), &session_id, enrolled, waitlisted).await? {
                    return Err(ApiError::internal(format!("session {session_id}'s counts are off")));
                }
                let detail = serde_json::json!({ "session_id": session_id, "from": from.as_str_name(), "to": "ENROLMENT_STATE_WITHDRAWN", "reason": reason });
                tx.changed(Changed::updated(entity(), &row.id, &row.region_code, row.revision, detail)).await?;
                let promoted = if from == State::Enrolled { promote_waitlist(tx, &session_id).await? } else { Vec::new() };
                Ok(pb::WithdrawResponse {
                    withdrawn: Some(present_one(tx.conn(), row).await?),
                    promoted: present(tx.conn(), promoted).await?,
                })
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn list_enrolments(
        &self,
        request: Request<pb::ListEnrolmentsRequest>,
    ) -> Result<Response<pb::ListEnrolmentsResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let session_id = fields::required_id("session_id", &req.session_id)?.to_string();
        let state = fields::optional_enum::<State>("state", req.state, "enrolment state")?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        visible(&mut conn, &call, &session_id).await?;
        let prefix = call.principal().jurisdiction.prefix().to_string();
        let page = call.page(req.page_size, &req.page_token, &format!("{session_id}|{state:?}|{prefix}"))?;
        let after = page
            .after
            .as_deref()
            .map_or(Ok(0), str::parse::<i64>)
            .map_err(|_| ApiError::invalid("page_token", "is not a page of this list"))?;
        let mut rows = se::list(&self.db, &session_id, &prefix, state, after, page.fetch_limit()).await?;
        let next_page_token = page.finish(&mut rows, |e| e.seq.to_string());
        Ok(Response::new(pb::ListEnrolmentsResponse {
            enrolments: present(&mut conn, rows).await?,
            next_page_token,
        }))
    }
}
