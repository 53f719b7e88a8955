//! ReserveService: candidates for village posts (后备力量) through the pipeline
//! 村推镇选县考. ID numbers are encrypted, blind-indexed and masked exactly as a
//! cadre's; each step is a history row, an audit entry and a change-feed row.

use cadre_kit::ApiError;
use cadre_kit::audit::prost_types_timestamp;
use cadre_kit::db::{Db, from_micros, to_micros};
use cadre_kit::pii::PiiCipher;
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::reserve_service_server::ReserveService;
use tonic::{Request, Response, Status};

use super::RosterApi;
use super::cadres::{ID_FIELD, shown_pii};
use super::regions::is_village;
use crate::domain::reserves::{self, MoveError, NeedsRole};
use crate::domain::{dates, fields};
use crate::error::RosterError;
use crate::store;
use crate::store::reserves::{ReserveFilter, ReserveRow, StageRow};
use cadre_kit::call::{Call, Changed};

fn reserve_to_proto(
    pii: &PiiCipher,
    row: ReserveRow,
    history: Vec<StageRow>,
    reveal: bool,
) -> Result<pb::Reserve, RosterError> {
    let id_number = shown_pii(pii, ID_FIELD, &row.id_number_enc, reveal)?;
    Ok(pb::Reserve {
        id: row.id,
        region_code: row.region_code,
        name: row.name,
        id_number,
        birth_date: row.birth_date,
        sex: row.sex as i32,
        source: row.source as i32,
        political_status: row.political_status as i32,
        education: row.education as i32,
        full_time_education: row.full_time_education,
        tags: row.tags,
        stage: row.stage as i32,
        stage_date: row.stage_date,
        cadre_id: row.cadre_id,
        history: history
            .into_iter()
            .map(|s| pb::ReserveStageEntry {
                stage: s.stage as i32,
                date: s.stage_date,
                note: s.note,
                actor: s.actor,
            })
            .collect(),
        revision: row.revision,
        pii_masked: !reveal,
        created_at: Some(prost_types_timestamp(from_micros(row.created_at))),
        updated_at: Some(prost_types_timestamp(from_micros(row.updated_at))),
    })
}

fn denied(NeedsRole(why): NeedsRole) -> ApiError {
    ApiError::permission_denied(why)
}

impl RosterApi {
    /// Reserves masked or revealed for the caller; an unmasked read is audited first.
    async fn present_reserves(
        &self,
        call: &Call,
        rows: Vec<(ReserveRow, Vec<StageRow>)>,
    ) -> Result<Vec<pb::Reserve>, ApiError> {
        let principal = call.principal();
        let reveal = principal.sees_pii();
        if reveal && !rows.is_empty() {
            let ids: Vec<&str> = rows.iter().map(|(r, _)| r.id.as_str()).collect();
            // Audited under the region actually read: the smallest holding every row.
            let region =
                cadre_kit::region_code::smallest_common(rows.iter().map(|(r, _)| r.region_code.as_str()))
                    .map_or_else(|| principal.jurisdiction.to_string(), |r| r.to_string());
            let target =
                if rows.len() == 1 { format!("reserve/{}", rows[0].0.id) } else { "reserves".to_string() };
            call.audit_unmasked_read(
                &self.db,
                &target,
                &region,
                serde_json::json!({ "reserve_ids": ids, "fields": [ID_FIELD] }),
            )
            .await?;
        }
        let mut out = Vec::with_capacity(rows.len());
        for (row, history) in rows {
            out.push(reserve_to_proto(&self.pii, row, history, reveal)?);
        }
        Ok(out)
    }

    /// One reserve with its history, for the caller.
    async fn present_reserve(&self, call: &Call, id: &str) -> Result<pb::Reserve, ApiError> {
        let (row, history) = load(&self.db, id).await?;
        call.principal().ensure_can_read_code(&row.region_code)?;
        let mut list = self.present_reserves(call, vec![(row, history)]).await?;
        list.pop().ok_or_else(|| ApiError::internal("presented no reserve"))
    }
}

async fn load(db: &Db, id: &str) -> Result<(ReserveRow, Vec<StageRow>), ApiError> {
    fields::required_id("id", id)?;
    let mut conn = db.pool().acquire().await?;
    let row = store::reserves::get_reserve(&mut conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("reserve {id}")))?;
    let history = store::reserves::stages_of(&mut conn, id).await?;
    Ok((row, history))
}

#[tonic::async_trait]
impl ReserveService for RosterApi {
    async fn create_reserve(
        &self,
        request: Request<pb::CreateReserveRequest>,
    ) -> Result<Response<pb::Reserve>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        let input = req.reserve.as_ref().ok_or_else(|| ApiError::invalid("reserve", "is required"))?;
        let fields = reserves::validate_new("reserve", input).map_err(ApiError::from)?;
        let recommended = dates::parse_or("reserve.stage_date", &input.stage_date, dates::today())
            .map_err(ApiError::from)?;
        principal.ensure_can_write(&fields.region_code)?;
        reserves::check_may_create(reserves::level_of(principal.roles.iter().copied())).map_err(denied)?;
        let pii = self.pii.clone();
        let done = call.mutate(&self.db, &req, async |tx| {
                let village = fields.region_code.as_str();
                let place = store::get_region(tx.conn(), village).await?.ok_or_else(|| {
                    ApiError::invalid("reserve.region_code", format!("region {village} does not exist"))
                })?;
                if !is_village(&place) {
                    return Err(ApiError::invalid("reserve.region_code", format!("{village} is not a village")));
                }
                let index = pii.blind_index(ID_FIELD, fields.id_number.as_str());
                if let Some(existing) = store::reserves::find_reserve_by_index(tx.conn(), &index).await? {
                    return Err(if principal.jurisdiction.covers_str(&existing.region_code) {
                        ApiError::already_exists(format!(
                            "a reserve with this ID number already exists (id {})",
                            existing.id
                        ))
                    } else {
                        ApiError::already_exists(
                            "a reserve with this ID number already exists outside your jurisdiction",
                        )
                    });
                }
                let now = to_micros(tx.now());
                let row = ReserveRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    region_code: village.to_string(),
                    name: fields.name.clone(),
                    id_number_enc: pii.encrypt(ID_FIELD, fields.id_number.as_str()),
                    id_number_index: index,
                    birth_date: dates::format(fields.id_number.birth_date()),
                    sex: store::sex_to_stored(fields.id_number.sex()),
                    source: fields.source as i64,
                    political_status: fields.political_status as i64,
                    education: fields.education as i64,
                    full_time_education: fields.full_time_education,
                    tags: fields.tags.iter().map(|t| *t as i32).collect(),
                    stage: pb::ReserveStage::Recommended as i64,
                    stage_date: dates::format(recommended),
                    cadre_id: String::new(),
                    revision: 1,
                    created_at: now,
                    updated_at: now,
                };
                store::reserves::insert_reserve(tx.conn(), &row).await?;
                let step = StageRow {
                    reserve_id: row.id.clone(),
                    region_code: row.region_code.clone(),
                    seq: 1,
                    stage: row.stage,
                    stage_date: row.stage_date.clone(),
                    note: String::new(),
                    actor: principal.subject.clone(),
                };
                store::reserves::insert_stage(tx.conn(), &step, now).await?;
                tx.changed(Changed::created(pb::Entity::Reserve.as_str_name(), &row.id, &row.region_code, serde_json::json!({
                            "name": row.name, "source": fields.source.as_str_name(), "stage_date": row.stage_date})),
                )
                .await?;
                Ok(pb::GetReserveRequest { id: row.id })
            },
        )
        .await?;
        Ok(Response::new(self.present_reserve(&call, &done.id).await?))
    }

    async fn get_reserve(
        &self,
        request: Request<pb::GetReserveRequest>,
    ) -> Result<Response<pb::Reserve>, Status> {
        let call = Call::of(&request)?;
        Ok(Response::new(self.present_reserve(&call, &request.get_ref().id).await?))
    }

    async fn list_reserves(
        &self,
        request: Request<pb::ListReservesRequest>,
    ) -> Result<Response<pb::ListReservesResponse>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        let scope = principal.scope("region_code", &req.region_code)?;
        let mut filter = ReserveFilter { region_prefix: scope.prefix().to_string(), ..Default::default() };
        if req.stage != 0 {
            filter.stage = Some(reserves::stage("stage", req.stage).map_err(ApiError::from)? as i64);
        }
        let source = fields::optional_enum::<pb::ReserveSource>("source", req.source, "value")?;
        filter.source = source.map(|s| s as i64);
        let page = call.page(req.page_size, &req.page_token, &format!("{filter:?}"))?;
        let mut rows = store::reserves::list_reserves(
            &self.db,
            &filter,
            page.after.as_deref().unwrap_or_default(),
            page.fetch_limit(),
        )
        .await
        .map_err(ApiError::from)?;
        let next_page_token = page.finish(&mut rows, |r| r.id.clone());
        let reserves =
            self.present_reserves(&call, rows.into_iter().map(|r| (r, Vec::new())).collect()).await?;
        Ok(Response::new(pb::ListReservesResponse { reserves, next_page_token }))
    }

    async fn advance_reserve(
        &self,
        request: Request<pb::AdvanceReserveRequest>,
    ) -> Result<Response<pb::Reserve>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        fields::required_id("id", &req.id)?;
        let to = reserves::stage("to_stage", req.to_stage).map_err(ApiError::from)?;
        let date = dates::parse_or("date", &req.date, dates::today()).map_err(ApiError::from)?;
        let note = reserves::note("note", &req.note).map_err(ApiError::from)?;
        fields::revision("revision", req.revision)?;
        let cadre_id = req.cadre_id.trim().to_string();
        if !cadre_id.is_empty() && to != pb::ReserveStage::Appointed {
            return Err(ApiError::invalid("cadre_id", "may only be given with to_stage APPOINTED").into());
        }
        let level = reserves::level_of(principal.roles.iter().copied());
        let done = call
            .mutate(&self.db, &req, async |tx| {
                let row = store::reserves::get_reserve(tx.conn(), &req.id)
                    .await?
                    .ok_or_else(|| ApiError::not_found(format!("reserve {}", req.id)))?;
                principal.ensure_can_write(
                    &cadre_kit::RegionCode::parse(&row.region_code).map_err(ApiError::internal)?,
                )?;
                if row.revision != req.revision {
                    return Err(RosterError::stale("reserve", &row.id, req.revision, row.revision).into());
                }
                let from = pb::ReserveStage::try_from(row.stage as i32)
                    .map_err(|_| ApiError::internal(format!("reserve {} has stage {}", row.id, row.stage)))?;
                let from_date = dates::parse("stage_date", &row.stage_date).map_err(ApiError::internal)?;
                reserves::check_move(from, from_date, to, date, level).map_err(|e| match e {
                    MoveError::Illegal(m) => ApiError::failed_precondition(m),
                    MoveError::Denied(n) => denied(n),
                    MoveError::Invalid(e) => e.into(),
                })?;
                if !cadre_id.is_empty() {
                    let cadre = store::get_cadre(tx.conn(), &cadre_id).await?.ok_or_else(|| {
                        ApiError::invalid("cadre_id", format!("cadre {cadre_id} does not exist"))
                    })?;
                    principal.ensure_can_read_code(&cadre.region_code)?;
                }
                let now = to_micros(tx.now());
                let day = dates::format(date);
                if !store::reserves::update_stage(
                    tx.conn(),
                    &row.id,
                    to as i64,
                    &day,
                    &cadre_id,
                    row.revision,
                    now,
                )
                .await?
                {
                    return Err(ApiError::aborted(format!(
                        "reserve {} changed while it was being moved",
                        row.id
                    )));
                }
                let seq = store::reserves::stages_of(tx.conn(), &row.id).await?.len() as i64 + 1;
                let step = StageRow {
                    reserve_id: row.id.clone(),
                    region_code: row.region_code.clone(),
                    seq,
                    stage: to as i64,
                    stage_date: day.clone(),
                    note: note.clone(),
                    actor: principal.subject.clone(),
                };
                store::reserves::insert_stage(tx.conn(), &step, now).await?;
                tx.changed(Changed::updated(
                    pb::Entity::Reserve.as_str_name(),
                    &row.id,
                    &row.region_code,
                    row.revision + 1,
                    serde_json::json!({
                            "from": from.as_str_name(), "to": to.as_str_name(), "date": day, "note": note,
                            "cadre_id": cadre_id,}),
                ))
                .await?;
                Ok(pb::GetReserveRequest { id: row.id })
            })
            .await?;
        Ok(Response::new(self.present_reserve(&call, &done.id).await?))
    }
}
