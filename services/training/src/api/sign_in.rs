//! SignInService: the room's rotating code, trainees signing in with it, the organiser
//! signing someone in by hand, and who has signed in. Sign-in is the service's peak
//! (a hall of hundreds within minutes, many halls at once), so a sign-in checks its code
//! without the database, reads what it needs in one statement outside the write lock,
//! writes nothing for a retry, and otherwise writes one row (plus its audit entry and
//! feed row) in one short transaction.

use cadre_kit::call::{Call, Changed};
use cadre_kit::db::{from_micros, to_micros};
use cadre_kit::{ApiError, RegionCode, fields};
use cadre_proto::training::v1 as pb;
use cadre_proto::training::v1::sign_in_service_server::SignInService;
use cadre_proto::training::v1::{EnrolmentState, SignInMethod};
use chrono::Utc;
use tonic::{Request, Response, Status};

use super::TrainingApi;
use super::sessions::{ensure_organiser, visible};
use crate::domain::sessions::{self, Slot};
use crate::domain::{enrolment, levels, sign_in};
use crate::error::TrainingError;
use crate::store::attendance::{self as sa, AttendanceRow, SignInContext};
use crate::store::sessions as ss;

fn entity() -> &'static str {
    pb::Entity::Attendance.as_str_name()
}

fn to_proto(a: AttendanceRow, already_signed_in: bool) -> pb::Attendance {
    pb::Attendance {
        signed_in_at: Some(cadre_kit::audit::prost_types_timestamp(from_micros(a.signed_in_at))),
        sitting_id: a.sitting_id,
        session_id: a.session_id,
        cadre_id: a.cadre_id,
        cadre_name: a.cadre_name,
        region_code: a.region_code,
        method: a.method as i32,
        actor: a.actor,
        reason: a.reason,
        already_signed_in,
    }
}

fn slot_of(c: &SignInContext, sitting_id: &str) -> Result<Slot, ApiError> {
    Slot::stored(&c.day, &c.start_time, &c.end_time, &c.place)
        .ok_or_else(|| ApiError::internal(format!("sitting {sitting_id} has a bad stored date or time")))
}

impl TrainingApi {
    /// Signs `cadre_id` in at `sitting_id` once: the caller may see the session and
    /// change the trainee's data, the trainee is enrolled, sign-in is open (`check`
    /// decides what "open" means for this method). A second sign-in returns the first.
    async fn sign_in_once<Req: prost::Message>(
        &self,
        call: &Call,
        request: &Req,
        (sitting_id, cadre_id): (&str, &str),
        method: SignInMethod,
        reason: String,
        check: impl FnOnce(&SignInContext, &Slot) -> Result<(), ApiError>,
    ) -> Result<pb::Attendance, ApiError> {
        let mut conn = self.db.pool().acquire().await?;
        let context = sa::context(&mut conn, sitting_id, cadre_id).await?;
        drop(conn);
        let principal = call.principal();
        let context = context
            .filter(|c| {
                levels::sees_kept_by(principal, &c.organiser_region_code)
                    || c.enrolment
                        .as_ref()
                        .is_some_and(|(_, region, _)| principal.jurisdiction.covers_str(region))
            })
            .ok_or_else(|| ApiError::not_found(format!("sitting {sitting_id}")))?;
        let slot = slot_of(&context, sitting_id)?;
        check(&context, &slot)?;
        let not_enrolled = || {
            ApiError::not_found(format!("an enrolment of cadre {cadre_id} in session {}", context.session_id))
        };
        let (state, region, _) = context
            .enrolment
            .as_ref()
            .filter(|(_, region, _)| principal.jurisdiction.covers_str(region))
            .ok_or_else(not_enrolled)?;
        principal.ensure_can_write(&RegionCode::parse(region).map_err(ApiError::internal)?)?;
        if let Some(done) = context.attendance.clone() {
            return Ok(to_proto(done, true));
        }
        if *state != EnrolmentState::Enrolled {
            return Err(TrainingError::Conflict(format!(
                "cadre {cadre_id} is {} in session {}, not enrolled",
                enrolment::state_name(*state),
                context.session_id
            ))
            .into());
        }
        let (name, region) = (context.enrolment.as_ref().map(|e| e.2.clone()), region.clone());
        call.mutate(&self.db, request, async |tx| {
            let row = AttendanceRow {
                sitting_id: sitting_id.to_string(),
                cadre_id: cadre_id.to_string(),
                session_id: context.session_id.clone(),
                cadre_name: name.unwrap_or_default(),
                region_code: region,
                signed_in_at: to_micros(tx.now()),
                method,
                actor: tx.principal().subject.clone(),
                reason: reason.clone(),
            };
            // One statement: written only while enrolled and not yet signed in.
            if sa::record(tx.conn(), &row).await? {
                let key = format!("{sitting_id}:{cadre_id}");
                let detail = serde_json::json!({
                    "session_id": context.session_id, "method": method.as_str_name(), "reason": reason,
                });
                tx.changed(Changed::created(entity(), &key, &row.region_code, detail)).await?;
                return Ok(to_proto(row, false));
            }
            // Signed in meanwhile (a retry arriving at once), or no longer enrolled.
            match sa::get(tx.conn(), sitting_id, cadre_id).await? {
                Some(first) => Ok(to_proto(first, true)),
                None => Err(TrainingError::Conflict(format!(
                    "cadre {cadre_id} is no longer enrolled in session {}",
                    context.session_id
                ))
                .into()),
            }
        })
        .await
    }
}

#[tonic::async_trait]
impl SignInService for TrainingApi {
    async fn get_sign_in_code(
        &self,
        request: Request<pb::GetSignInCodeRequest>,
    ) -> Result<Response<pb::SignInCode>, Status> {
        let call = Call::of(&request)?;
        let sitting_id = fields::required_id("sitting_id", &request.get_ref().sitting_id)?.to_string();
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let sitting = ss::sitting(&mut conn, &sitting_id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("sitting {sitting_id}")))?;
        let session = visible(&mut conn, &call, &sitting.session_id)
            .await
            .map_err(|_| ApiError::not_found(format!("sitting {sitting_id}")))?;
        ensure_organiser(&call, &session, "showing the sign-in code")?;
        if !sessions::signs_in(session.state) {
            return Err(TrainingError::Conflict(format!(
                "session {} is {}: nobody signs in",
                session.id,
                sessions::state_name(session.state)
            ))
            .into());
        }
        let slot = super::sessions::slot(&sitting)?;
        let now = Utc::now();
        if let Some(why) = sign_in::closed_because(&slot, session.sign_in_opens_minutes, now) {
            return Err(TrainingError::Conflict(why).into());
        }
        let (_, closes) = sign_in::window(&slot, session.sign_in_opens_minutes);
        let issued = sign_in::issue(&self.code_key, &sitting_id, session.code_step_seconds, now, closes);
        Ok(Response::new(pb::SignInCode {
            sitting_id,
            code: issued.code,
            refresh_at: Some(cadre_kit::audit::prost_types_timestamp(issued.refresh_at)),
            valid_until: Some(cadre_kit::audit::prost_types_timestamp(issued.valid_until)),
            step_seconds: session.code_step_seconds as i32,
        }))
    }

    async fn sign_in(&self, request: Request<pb::SignInRequest>) -> Result<Response<pb::Attendance>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let sitting_id = fields::required_id("sitting_id", &req.sitting_id)?;
        let cadre_id = fields::required_id("cadre_id", &req.cadre_id)?;
        if req.code.trim().is_empty() {
            return Err(ApiError::invalid("code", "is required").into());
        }
        if req.code.chars().count() > 200 {
            return Err(ApiError::invalid("code", sign_in::CodeError::Malformed).into());
        }
        let now = Utc::now();
        // The code first: a forged, stale or other sitting's code costs no database work.
        sign_in::verify(&self.code_key, &req.code, sitting_id, now)
            .map_err(|e| ApiError::invalid("code", e))?;
        let attendance = self
            .sign_in_once(
                &call,
                &req,
                (sitting_id, cadre_id),
                SignInMethod::Code,
                String::new(),
                |c, slot| {
                    if !sessions::signs_in(c.session_state) {
                        return Err(TrainingError::Conflict(format!(
                            "session {} is {}: nobody signs in",
                            c.session_id,
                            sessions::state_name(c.session_state)
                        ))
                        .into());
                    }
                    match sign_in::closed_because(slot, c.opens_minutes, now) {
                        Some(why) => Err(TrainingError::Conflict(why).into()),
                        None => Ok(()),
                    }
                },
            )
            .await?;
        Ok(Response::new(attendance))
    }

    async fn sign_in_by_hand(
        &self,
        request: Request<pb::SignInByHandRequest>,
    ) -> Result<Response<pb::Attendance>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let sitting_id = fields::required_id("sitting_id", &req.sitting_id)?;
        let cadre_id = fields::required_id("cadre_id", &req.cadre_id)?;
        let reason = fields::text("reason", &req.reason, true, 200)?;
        let organiser_of = |c: &SignInContext| -> Result<(), ApiError> {
            let organiser = RegionCode::parse(&c.organiser_region_code).map_err(ApiError::internal)?;
            call.principal().ensure_can_write(&organiser).map_err(|_| {
                ApiError::permission_denied(format!(
                    "signing in by hand is the organiser's ({organiser}); your jurisdiction is {}",
                    call.principal().jurisdiction
                ))
            })
        };
        let now = Utc::now();
        let attendance = self
            .sign_in_once(
                &call,
                &req,
                (sitting_id, cadre_id),
                SignInMethod::ByHand,
                reason.clone(),
                |c, slot| {
                    organiser_of(c)?;
                    if c.session_state == pb::SessionState::Cancelled {
                        return Err(TrainingError::Conflict(format!(
                            "session {} is CANCELLED",
                            c.session_id
                        ))
                        .into());
                    }
                    // From the paper sheet afterwards too, but not before sign-in opens.
                    let (opens, _) = sign_in::window(slot, c.opens_minutes);
                    match sign_in::closed_because(slot, c.opens_minutes, now).filter(|_| now < opens) {
                        Some(why) => Err(TrainingError::Conflict(why).into()),
                        None => Ok(()),
                    }
                },
            )
            .await?;
        Ok(Response::new(attendance))
    }

    async fn list_attendance(
        &self,
        request: Request<pb::ListAttendanceRequest>,
    ) -> Result<Response<pb::ListAttendanceResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let sitting_id = fields::required_id("sitting_id", &req.sitting_id)?.to_string();
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let sitting = ss::sitting(&mut conn, &sitting_id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("sitting {sitting_id}")))?;
        visible(&mut conn, &call, &sitting.session_id)
            .await
            .map_err(|_| ApiError::not_found(format!("sitting {sitting_id}")))?;
        drop(conn);
        let prefix = call.principal().jurisdiction.prefix().to_string();
        let page = call.page(req.page_size, &req.page_token, &format!("{sitting_id}|{prefix}"))?;
        let after = match page.after.as_deref() {
            None => (i64::MIN, String::new()),
            Some(token) => token
                .split_once('|')
                .and_then(|(at, cadre)| Some((at.parse::<i64>().ok()?, cadre.to_string())))
                .ok_or_else(|| ApiError::invalid("page_token", "is not a page of this list"))?,
        };
        let mut rows =
            sa::list(&self.db, &sitting_id, &prefix, (after.0, &after.1), page.fetch_limit()).await?;
        let next_page_token = page.finish(&mut rows, |a| format!("{}|{}", a.signed_in_at, a.cadre_id));
        let (signed_in, enrolled) = sa::tally(&self.db, &sitting_id, &sitting.session_id, &prefix).await?;
        Ok(Response::new(pb::ListAttendanceResponse {
            attendance: rows.into_iter().map(|a| to_proto(a, false)).collect(),
            next_page_token,
            signed_in: signed_in as i32,
            enrolled: enrolled as i32,
        }))
    }
}
