//! CadreService: the roster's people. ID numbers and phones are encrypted at rest,
//! found by blind index, and masked in responses unless the caller holds the PII
//! role — in which case each read is audited.

use chrono::Months;

use cadre_kit::audit::prost_types_timestamp;
use cadre_kit::db::{Db, from_micros};
use cadre_kit::pii::{self, PiiCipher};
use cadre_kit::resident_id::ResidentId;
use cadre_kit::{ApiError, Principal, RegionCode};
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::cadre_service_server::CadreService;
use tonic::{Request, Response, Status};

use super::RosterApi;
use super::posts::post_to_proto;
use crate::domain::cadre::{self, CadreFields};
use crate::domain::{dates, fields};
use crate::error::RosterError;
use crate::store::{self, CadreFilter, CadreRow};
use cadre_kit::call::{Call, Changed};

pub(crate) const ID_FIELD: &str = "id_number";
pub(crate) const PHONE_FIELD: &str = "phone";

/// Builds the stored row for validated fields.
pub(crate) fn row_from_fields(
    pii: &PiiCipher,
    id: String,
    f: &CadreFields,
    revision: i64,
    created_at: i64,
    now: i64,
) -> CadreRow {
    CadreRow {
        id,
        region_code: f.region_code.to_string(),
        name: f.name.clone(),
        id_number_enc: pii.encrypt(ID_FIELD, f.id_number.as_str()),
        id_number_index: pii.blind_index(ID_FIELD, f.id_number.as_str()),
        birth_date: dates::format(f.id_number.birth_date()),
        sex: store::sex_to_stored(f.id_number.sex()),
        ethnicity: f.ethnicity.clone(),
        phone_enc: if f.phone.is_empty() { String::new() } else { pii.encrypt(PHONE_FIELD, &f.phone) },
        political_status: f.political_status as i64,
        education: f.education as i64,
        full_time_education: f.full_time_education,
        tags: f.tags.iter().map(|t| *t as i32).collect(),
        revision,
        created_at,
        updated_at: now,
    }
}

fn decrypt(pii: &PiiCipher, field: &str, stored: &str) -> Result<String, RosterError> {
    if stored.is_empty() {
        return Ok(String::new());
    }
    pii.decrypt(field, stored).map_err(|e| RosterError::Pii(e.to_string()))
}

/// A stored PII value as the caller may see it: in clear when `reveal`, else masked
/// (ID numbers keep region and last four, phones first three and last four).
pub(crate) fn shown_pii(
    pii: &PiiCipher,
    field: &str,
    stored: &str,
    reveal: bool,
) -> Result<String, RosterError> {
    let value = decrypt(pii, field, stored)?;
    Ok(match (reveal, field) {
        (true, _) => value,
        (false, PHONE_FIELD) => pii::mask_phone(&value),
        (false, _) => pii::mask_id_number(&value),
    })
}

/// The stored row back as validated fields (for updates).
fn fields_from_row(pii: &PiiCipher, row: &CadreRow) -> Result<CadreFields, RosterError> {
    let id_number = decrypt(pii, ID_FIELD, &row.id_number_enc)?;
    let enums = row.enums()?;
    Ok(CadreFields {
        region_code: RegionCode::parse(&row.region_code).map_err(|e| RosterError::Pii(e.to_string()))?,
        name: row.name.clone(),
        id_number: ResidentId::parse(&id_number).map_err(|e| RosterError::Pii(e.to_string()))?,
        ethnicity: row.ethnicity.clone(),
        phone: decrypt(pii, PHONE_FIELD, &row.phone_enc)?,
        political_status: enums.political_status,
        education: enums.education,
        full_time_education: row.full_time_education,
        tags: enums.tags,
    })
}

/// The cadre as `reveal` allows: PII in clear, or masked.
pub(crate) fn cadre_to_proto(
    pii: &PiiCipher,
    row: CadreRow,
    current_posts: Vec<pb::Post>,
    reveal: bool,
) -> Result<pb::Cadre, RosterError> {
    let id_number = shown_pii(pii, ID_FIELD, &row.id_number_enc, reveal)?;
    let phone = shown_pii(pii, PHONE_FIELD, &row.phone_enc, reveal)?;
    Ok(pb::Cadre {
        id: row.id,
        region_code: row.region_code,
        name: row.name,
        id_number,
        birth_date: row.birth_date,
        sex: row.sex as i32,
        ethnicity: row.ethnicity,
        phone,
        political_status: row.political_status as i32,
        education: row.education as i32,
        full_time_education: row.full_time_education,
        tags: row.tags,
        current_posts,
        revision: row.revision,
        created_at: Some(prost_types_timestamp(from_micros(row.created_at))),
        updated_at: Some(prost_types_timestamp(from_micros(row.updated_at))),
        pii_masked: !reveal,
    })
}

impl RosterApi {
    /// Cadres with their posts held today, masked or revealed for the caller; an
    /// unmasked read is audited before it is returned.
    async fn present(&self, call: &Call, rows: Vec<CadreRow>) -> Result<Vec<pb::Cadre>, ApiError> {
        let principal = call.principal();
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let posts = store::posts_held_by(&self.db, &ids, &dates::format(dates::today())).await?;
        let reveal = principal.sees_pii();
        if reveal && !rows.is_empty() {
            // Audited under the region actually read: the smallest holding every row.
            let region = cadre_kit::region_code::smallest_common(rows.iter().map(|r| r.region_code.as_str()))
                .map_or_else(|| principal.jurisdiction.to_string(), |r| r.to_string());
            let target = if rows.len() == 1 { format!("cadre/{}", rows[0].id) } else { "cadres".to_string() };
            call.audit_unmasked_read(
                &self.db,
                &target,
                &region,
                serde_json::json!({ "cadre_ids": ids, "fields": [ID_FIELD, PHONE_FIELD] }),
            )
            .await?;
        }
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mine: Vec<pb::Post> =
                posts.iter().filter(|p| p.cadre_id == row.id).cloned().map(post_to_proto).collect();
            out.push(cadre_to_proto(&self.pii, row, mine, reveal)?);
        }
        Ok(out)
    }

    async fn present_one(&self, call: &Call, row: CadreRow) -> Result<pb::Cadre, ApiError> {
        let mut list = self.present(call, vec![row]).await?;
        list.pop().ok_or_else(|| ApiError::internal("presented no cadre"))
    }
}

async fn load(db: &Db, id: &str) -> Result<CadreRow, ApiError> {
    fields::required_id("id", id)?;
    let mut conn = db.pool().acquire().await?;
    store::get_cadre(&mut conn, id).await?.ok_or_else(|| ApiError::not_found(format!("cadre {id}")))
}

/// Region must exist for a cadre to belong to it.
async fn ensure_region_exists(
    conn: &mut sqlx::AnyConnection,
    field: &str,
    code: &RegionCode,
) -> Result<(), ApiError> {
    if store::get_region(conn, code.as_str()).await?.is_none() {
        return Err(ApiError::invalid(field, format!("region {code} does not exist")));
    }
    Ok(())
}

fn duplicate(existing: &CadreRow, principal: &Principal) -> ApiError {
    // Name the existing record only to a caller who may see it.
    if principal.jurisdiction.covers_str(&existing.region_code) {
        RosterError::DuplicateIdNumber { existing: existing.id.clone() }.into()
    } else {
        ApiError::already_exists("a cadre with this ID number already exists outside your jurisdiction")
    }
}

#[tonic::async_trait]
impl CadreService for RosterApi {
    async fn create_cadre(
        &self,
        request: Request<pb::CreateCadreRequest>,
    ) -> Result<Response<pb::Cadre>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        let input = req.cadre.as_ref().ok_or_else(|| ApiError::invalid("cadre", "is required"))?;
        let fields = cadre::validate_new("cadre", input).map_err(ApiError::from)?;
        cadre::plausible_age("cadre.id_number", &fields.id_number, dates::today()).map_err(ApiError::from)?;
        principal.ensure_can_write(&fields.region_code)?;
        let pii = self.pii.clone();
        let row = call
            .mutate(&self.db, &req, async |tx| {
                ensure_region_exists(tx.conn(), "cadre.region_code", &fields.region_code).await?;
                let index = pii.blind_index(ID_FIELD, fields.id_number.as_str());
                if let Some(existing) = store::find_cadre_by_index(tx.conn(), &index).await? {
                    return Err(duplicate(&existing, principal));
                }
                let now = cadre_kit::db::to_micros(tx.now());
                let row = row_from_fields(&pii, uuid::Uuid::now_v7().to_string(), &fields, 1, now, now);
                store::insert_cadres(tx, std::slice::from_ref(&row)).await?;
                let detail = serde_json::json!({ "name": row.name });
                tx.changed(Changed::created(
                    pb::Entity::Cadre.as_str_name(),
                    &row.id,
                    &row.region_code,
                    detail,
                ))
                .await?;
                // The stored response is the record's id; callers get it presented.
                Ok(pb::GetCadreRequest { id: row.id })
            })
            .await?;
        let stored = load(&self.db, &row.id).await?;
        Ok(Response::new(self.present_one(&call, stored).await?))
    }

    async fn update_cadre(
        &self,
        request: Request<pb::UpdateCadreRequest>,
    ) -> Result<Response<pb::Cadre>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        let patch = req.cadre.as_ref().ok_or_else(|| ApiError::invalid("cadre", "is required"))?;
        let paths = req.update_mask.as_ref().map(|m| m.paths.clone()).unwrap_or_default();
        if paths.is_empty() {
            return Err(ApiError::invalid("update_mask", "must name the fields to change").into());
        }
        fields::revision("cadre.revision", patch.revision)?;
        let id = patch.id.clone();
        let pii = self.pii.clone();
        let done = call
            .mutate(&self.db, &req, async |tx| {
                fields::required_id("cadre.id", &id)?;
                let row = store::get_cadre(tx.conn(), &id)
                    .await?
                    .ok_or_else(|| ApiError::not_found(format!("cadre {id}")))?;
                principal
                    .ensure_can_write(&RegionCode::parse(&row.region_code).map_err(ApiError::internal)?)?;
                if row.revision != patch.revision {
                    return Err(RosterError::stale("cadre", &id, patch.revision, row.revision).into());
                }
                let current = fields_from_row(&pii, &row)?;
                let updated = cadre::apply_update(current.clone(), patch, &paths)?;
                if updated.region_code != current.region_code {
                    principal.ensure_can_write(&updated.region_code)?;
                    ensure_region_exists(tx.conn(), "cadre.region_code", &updated.region_code).await?;
                }
                if updated.id_number != current.id_number {
                    cadre::plausible_age("cadre.id_number", &updated.id_number, dates::today())?;
                    let index = pii.blind_index(ID_FIELD, updated.id_number.as_str());
                    if let Some(existing) = store::find_cadre_by_index(tx.conn(), &index).await? {
                        return Err(duplicate(&existing, principal));
                    }
                }
                let now = cadre_kit::db::to_micros(tx.now());
                let new_row =
                    row_from_fields(&pii, row.id.clone(), &updated, row.revision + 1, row.created_at, now);
                if !store::update_cadre(tx.conn(), &new_row, row.revision).await? {
                    return Err(RosterError::stale("cadre", &id, patch.revision, row.revision + 1).into());
                }
                // A move to another village (another county, even) is seen by the feeds
                // of the region it left as well as the one it joined.
                let detail = serde_json::json!({ "fields": paths, "revision": new_row.revision });
                let entity = pb::Entity::Cadre.as_str_name();
                let change = Changed::updated(entity, &id, &new_row.region_code, new_row.revision, detail);
                tx.changed(change.moved_from(&row.region_code)).await?;
                Ok(pb::GetCadreRequest { id: id.clone() })
            })
            .await?;
        let stored = load(&self.db, &done.id).await?;
        Ok(Response::new(self.present_one(&call, stored).await?))
    }

    async fn get_cadre(&self, request: Request<pb::GetCadreRequest>) -> Result<Response<pb::Cadre>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let row = load(&self.db, &request.get_ref().id).await?;
        principal.ensure_can_read_code(&row.region_code)?;
        Ok(Response::new(self.present_one(&call, row).await?))
    }

    async fn batch_get_cadres(
        &self,
        request: Request<pb::BatchGetCadresRequest>,
    ) -> Result<Response<pb::BatchGetCadresResponse>, Status> {
        let call = Call::of(&request)?;
        let ids = fields::batch_keys("ids", &request.get_ref().ids).map_err(ApiError::from)?;
        let stored = store::get_cadres(&self.db, &ids).await.map_err(ApiError::from)?;
        let jurisdiction = &call.principal().jurisdiction;
        let (rows, missing) =
            cadre_kit::batch::in_order(ids, stored, |r| &r.id, |r| jurisdiction.covers_str(&r.region_code));
        let cadres = self.present(&call, rows).await?;
        Ok(Response::new(pb::BatchGetCadresResponse { cadres, missing }))
    }

    async fn list_cadres(
        &self,
        request: Request<pb::ListCadresRequest>,
    ) -> Result<Response<pb::ListCadresResponse>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        let scope = principal.scope("region_code", &req.region_code)?;
        let today = dates::today();
        let mut filter = CadreFilter {
            region_prefix: scope.prefix().to_string(),
            today: dates::format(today),
            name_contains: req.name_contains.trim().to_string(),
            ..Default::default()
        };
        if req.post_kind != 0 {
            filter.holding_kind =
                Some(crate::domain::posts::kind("post_kind", req.post_kind).map_err(ApiError::from)? as i64);
        }
        if req.min_age < 0 || req.max_age < 0 || req.min_age > 150 || req.max_age > 150 {
            return Err(ApiError::invalid("min_age", "ages must be within 0..=150").into());
        }
        if req.max_age != 0 && req.min_age > req.max_age {
            return Err(ApiError::invalid("min_age", "must not exceed max_age").into());
        }
        if req.min_age > 0 {
            // Aged at least N today: born on or before today minus N years.
            let d = today.checked_sub_months(Months::new(12 * req.min_age as u32)).unwrap_or(today);
            filter.born_on_or_before = Some(dates::format(d));
        }
        if req.max_age > 0 {
            // Aged at most N today: born after today minus N+1 years.
            let d = today.checked_sub_months(Months::new(12 * (req.max_age as u32 + 1))).unwrap_or(today);
            filter.born_after = Some(dates::format(d));
        }
        if let Some(e) = fields::optional_enum::<pb::Education>("education", req.education, "value")? {
            let levels = if req.education_or_above { cadre::at_or_above(e) } else { vec![e] };
            filter.educations = levels.into_iter().map(|e| e as i64).collect();
        }
        let party =
            fields::optional_enum::<pb::PoliticalStatus>("political_status", req.political_status, "value")?;
        filter.political_status = party.map(|p| p as i64);
        filter.tags = fields::tags("tags", &req.tags)?.into_iter().map(|t| t as i32).collect();
        let page_query = format!("{filter:?}|{}|{}", req.min_age, req.max_age);
        let page = call.page(req.page_size, &req.page_token, &page_query)?;
        let mut rows = store::list_cadres(
            &self.db,
            &filter,
            page.after.as_deref().unwrap_or_default(),
            page.fetch_limit(),
        )
        .await
        .map_err(ApiError::from)?;
        let next_page_token = page.finish(&mut rows, |r| r.id.clone());
        let cadres = self.present(&call, rows).await?;
        Ok(Response::new(pb::ListCadresResponse { cadres, next_page_token }))
    }

    async fn lookup_cadre(
        &self,
        request: Request<pb::LookupCadreRequest>,
    ) -> Result<Response<pb::Cadre>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let id_number =
            ResidentId::parse(&request.get_ref().id_number).map_err(|e| ApiError::invalid("id_number", e))?;
        let index = self.pii.blind_index(ID_FIELD, id_number.as_str());
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let row = store::find_cadre_by_index(&mut conn, &index)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::not_found("cadre with this ID number"))?;
        drop(conn);
        principal.ensure_can_read_code(&row.region_code)?;
        Ok(Response::new(self.present_one(&call, row).await?))
    }
}
