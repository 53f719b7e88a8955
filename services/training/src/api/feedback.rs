//! FeedbackService: a trainee who attended answers 1–5 and a comment, once per session,
//! revisable until the region's close; organisers read only the aggregate, and nothing
//! below the region's minimum of answers. Every answer moves the teacher's rating.

use cadre_kit::audit::prost_types_timestamp;
use cadre_kit::call::{Call, Changed};
use cadre_kit::db::{from_micros, to_micros};
use cadre_kit::{ApiError, RegionCode, fields};
use cadre_proto::training::v1 as pb;
use cadre_proto::training::v1::feedback_service_server::FeedbackService;
use cadre_proto::training::v1::{EnrolmentState, SessionState};
use chrono::{DateTime, Duration, Utc};
use tonic::{Request, Response, Status};

use super::TrainingApi;
use super::completion::rules_for;
use super::sessions::visible;
use crate::domain::feedback;
use crate::error::TrainingError;
use crate::store::sessions::SessionRow;
use crate::store::{completions as stc, enrolments as se, feedback as sf, teachers as stt};

/// When feedback on `session` closes: `days` after it finished (`None`: not finished).
fn closes_at(session: &SessionRow, days: i32) -> Option<DateTime<Utc>> {
    (session.finished_at > 0).then(|| from_micros(session.finished_at) + Duration::days(i64::from(days)))
}

async fn rules_of(
    conn: &mut sqlx::AnyConnection,
    session: &SessionRow,
) -> Result<crate::domain::rules::Rules, ApiError> {
    let organiser = RegionCode::parse(&session.organiser_region_code).map_err(ApiError::internal)?;
    Ok(rules_for(conn, &organiser, session.year).await?.0)
}

#[tonic::async_trait]
impl FeedbackService for TrainingApi {
    async fn submit_feedback(
        &self,
        request: Request<pb::SubmitFeedbackRequest>,
    ) -> Result<Response<pb::FeedbackReceipt>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let session_id = fields::required_id("session_id", &req.session_id)?.to_string();
        let cadre_id = fields::required_id("cadre_id", &req.cadre_id)?.to_string();
        let score = feedback::score("score", req.score).map_err(ApiError::from)?;
        let comment = fields::text("comment", &req.comment, false, feedback::MAX_COMMENT)?;
        let receipt = call
            .mutate(&self.db, &req, async |tx| {
                let session = visible(tx.conn(), &call, &session_id).await?;
                let enrolment = se::get(tx.conn(), &session_id, &cadre_id)
                    .await?
                    .filter(|e| call.principal().jurisdiction.covers_str(&e.region_code))
                    .ok_or_else(|| ApiError::not_found(format!("trainee {cadre_id} of session {session_id}")))?;
                call.principal().ensure_can_write(&RegionCode::parse(&enrolment.region_code).map_err(ApiError::internal)?)?;
                if session.state == SessionState::Cancelled || enrolment.state == EnrolmentState::Waitlisted {
                    return Err(TrainingError::Conflict(format!(
                        "{cadre_id} did not attend session {session_id}: only trainees who attended give feedback"
                    ))
                    .into());
                }
                if stc::attended(tx.conn(), &session_id, &cadre_id).await? == 0 {
                    return Err(TrainingError::Conflict(format!(
                        "{cadre_id} signed in at no sitting of session {session_id}: only trainees who attended give feedback"
                    ))
                    .into());
                }
                let rules = rules_of(tx.conn(), &session).await?;
                let now = tx.now();
                let closes = closes_at(&session, rules.feedback_days);
                if let Some(closed) = closes.filter(|c| *c <= now) {
                    return Err(TrainingError::Conflict(format!(
                        "feedback on session {session_id} closed at {} ({} days after it finished)",
                        closed.format("%Y-%m-%d %H:%M UTC"),
                        rules.feedback_days
                    ))
                    .into());
                }
                let before = sf::get(tx.conn(), &session_id, &cadre_id).await?;
                let written = sf::put(
                    tx.conn(),
                    &session_id,
                    &cadre_id,
                    (i64::from(score), &comment),
                    before.map(|b| b.1),
                    to_micros(now),
                )
                .await?;
                if !written {
                    return Err(ApiError::aborted(format!(
                        "feedback of {cadre_id} on session {session_id} changed meanwhile; send it again"
                    )));
                }
                if !session.teacher_id.is_empty() {
                    let (sum, count) = match before {
                        Some((old, _)) => (i64::from(score) - old, 0),
                        None => (i64::from(score), 1),
                    };
                    stt::add_rating(tx.conn(), &session.teacher_id, sum, count).await?;
                }
                let key = format!("{session_id}:{cadre_id}");
                // Never the score or the comment: the audit log is read by organisers too.
                let detail = serde_json::json!({ "session_id": session_id, "revised": before.is_some() });
                let revision = before.map_or(1, |b| b.1 + 1);
                tx.changed(Changed::written(
                    pb::Entity::Feedback.as_str_name(),
                    &key,
                    &enrolment.region_code,
                    revision,
                    detail,
                ))
                .await?;
                Ok(pb::FeedbackReceipt {
                    session_id: session_id.clone(),
                    cadre_id: cadre_id.clone(),
                    revised: before.is_some(),
                    closes_at: closes.map(prost_types_timestamp),
                })
            })
            .await?;
        Ok(Response::new(receipt))
    }

    async fn get_feedback_summary(
        &self,
        request: Request<pb::GetFeedbackSummaryRequest>,
    ) -> Result<Response<pb::FeedbackSummary>, Status> {
        let call = Call::of(&request)?;
        let session_id = fields::required_id("session_id", &request.get_ref().session_id)?.to_string();
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let session = visible(&mut conn, &call, &session_id).await?;
        // The organiser's (or above): a township sees its county's sessions, not their feedback.
        call.principal().ensure_can_read_code(&session.organiser_region_code).map_err(|_| {
            ApiError::permission_denied(format!(
                "feedback on session {session_id} is the organiser's ({}); your jurisdiction is {}",
                session.organiser_region_code,
                call.principal().jurisdiction
            ))
        })?;
        let rules = rules_of(&mut conn, &session).await?;
        let (scores, comments) = sf::of_session(&mut conn, &session_id).await?;
        let s = feedback::summarise(&scores, i64::from(rules.feedback_min_answers));
        Ok(Response::new(pb::FeedbackSummary {
            session_id,
            answers: s.answers as i32,
            minimum: rules.feedback_min_answers,
            shown: s.shown,
            mean_tenths: s.mean_tenths as i32,
            distribution: if s.shown {
                s.distribution.iter().map(|n| *n as i32).collect()
            } else {
                Vec::new()
            },
            comments: if s.shown { comments } else { Vec::new() },
            closes_at: closes_at(&session, rules.feedback_days).map(prost_types_timestamp),
        }))
    }
}
