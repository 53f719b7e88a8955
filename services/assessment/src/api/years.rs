//! YearService: a county's assessment year — its phase, opening scoring (which freezes
//! the county's villages, their types and secretaries from assessment's copy of the
//! roster) and closing it.

use std::collections::BTreeMap;

use cadre_kit::ApiError;
use cadre_kit::call::{Call, Changed};
use cadre_kit::db::to_micros;
use cadre_kit::{RegionCode, fields};
use cadre_proto::assessment::v1 as pb;
use cadre_proto::assessment::v1::year_service_server::YearService;
use tonic::{Request, Response, Status};

use super::{AssessmentApi, county, ensure_sees_county, timestamp, year_of};
use crate::domain::phase::{self, Phase};
use crate::error::AssessmentError;
use crate::store::roster_copy;
use crate::store::schemes as scheme_store;
use crate::store::years::{self as st, FrozenVillage, YearRow};

pub(crate) fn phase_to_proto(p: Phase) -> pb::Phase {
    match p {
        Phase::Draft => pb::Phase::Draft,
        Phase::ScoringOpen => pb::Phase::ScoringOpen,
        Phase::ScoringClosed => pb::Phase::ScoringClosed,
        Phase::Computed => pb::Phase::Computed,
        Phase::Notice => pb::Phase::Notice,
        Phase::Final => pb::Phase::Final,
    }
}

pub(crate) fn year_to_proto(y: YearRow, scheme_version: i32) -> pb::AssessmentYear {
    pb::AssessmentYear {
        county_code: y.county_code,
        year: y.year,
        phase: phase_to_proto(y.phase) as i32,
        scheme_id: y.scheme_id,
        scheme_version,
        village_count: y.village_count as i32,
        scoring_opened_at: timestamp(y.opened_at),
        scoring_closed_at: timestamp(y.closed_at),
        revision: y.revision,
    }
}

fn village_to_proto(v: FrozenVillage) -> pb::YearVillage {
    pb::YearVillage {
        code: v.code,
        name: v.name,
        township_code: v.township_code,
        village_type: v.village_type,
        secretary_cadre_id: v.secretary_id,
        secretary_name: v.secretary_name,
    }
}

impl AssessmentApi {
    /// Moves the year to `to` (the domain decides whether it may), freezing the villages
    /// when scoring opens; audited and in the feed.
    async fn move_year(
        &self,
        request: Request<pb::MoveYearRequest>,
        to: Phase,
    ) -> Result<pb::AssessmentYear, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let county = county("county_code", &req.county_code)?;
        let year = fields::year("year", req.year)?;
        call.principal().ensure_can_write(&county)?;
        call.mutate(&self.db, &req, async |tx| {
            let mut y = year_of(tx.conn(), county.as_str(), year).await?;
            phase::check_move(&y.key(), y.phase, to).map_err(AssessmentError::from)?;
            let scheme = scheme_store::get(tx.conn(), &y.scheme_id)
                .await?
                .ok_or_else(|| ApiError::internal(format!("year {} names no stored scheme", y.key())))?;
            let now = to_micros(tx.now());
            let mut detail = serde_json::json!({ "from": y.phase.as_str(), "to": to.as_str(), "scheme_id": y.scheme_id });
            if to == Phase::ScoringOpen {
                let now_villages = roster_copy::villages_under(tx.conn(), county.prefix()).await?;
                if now_villages.is_empty() {
                    return Err(AssessmentError::Conflict(format!(
                        "assessment's copy of the roster holds no village of {county} yet (it follows the roster's \
                         feed): try again in a moment"
                    ))
                    .into());
                }
                let mut types: BTreeMap<String, usize> = BTreeMap::new();
                for v in &now_villages {
                    *types.entry(v.village_type.clone()).or_default() += 1;
                }
                scheme.body.missing_variants(&types).map_err(AssessmentError::from)?;
                let frozen: Vec<FrozenVillage> = now_villages
                    .into_iter()
                    .map(|v| FrozenVillage {
                        township_code: RegionCode::parse(&v.code)
                            .ok()
                            .and_then(|c| c.parent())
                            .map(|t| t.to_string())
                            .unwrap_or_default(),
                        code: v.code,
                        name: v.name,
                        village_type: v.village_type,
                        secretary_id: v.secretary_id,
                        secretary_name: v.secretary_name,
                    })
                    .collect();
                st::freeze(tx, county.as_str(), year, &frozen).await?;
                y.village_count = frozen.len() as i64;
                y.opened_at = Some(now);
                detail["villages"] = serde_json::json!(frozen.len());
                detail["village_types"] = serde_json::json!(types);
            } else {
                y.closed_at = Some(now);
            }
            y.phase = to;
            y.revision += 1;
            st::update(tx.conn(), &y, now).await?;
            let key = y.key();
            tx.changed(Changed::updated(pb::Entity::Year.as_str_name(), &key, county.as_str(), y.revision, detail))
                .await?;
            Ok(year_to_proto(y, scheme.version))
        })
        .await
        .map_err(Status::from)
    }
}

#[tonic::async_trait]
impl YearService for AssessmentApi {
    async fn get_year(
        &self,
        request: Request<pb::GetYearRequest>,
    ) -> Result<Response<pb::AssessmentYear>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let county = county("county_code", &req.county_code)?;
        let year = fields::year("year", req.year)?;
        ensure_sees_county(call.principal(), &county)?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let y = year_of(&mut conn, county.as_str(), year).await?;
        let version = scheme_store::get(&mut conn, &y.scheme_id).await?.map_or(0, |s| s.version);
        Ok(Response::new(year_to_proto(y, version)))
    }

    async fn open_scoring(
        &self,
        request: Request<pb::MoveYearRequest>,
    ) -> Result<Response<pb::AssessmentYear>, Status> {
        Ok(Response::new(self.move_year(request, Phase::ScoringOpen).await?))
    }

    async fn close_scoring(
        &self,
        request: Request<pb::MoveYearRequest>,
    ) -> Result<Response<pb::AssessmentYear>, Status> {
        Ok(Response::new(self.move_year(request, Phase::ScoringClosed).await?))
    }

    async fn list_year_villages(
        &self,
        request: Request<pb::ListYearVillagesRequest>,
    ) -> Result<Response<pb::ListYearVillagesResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let county = county("county_code", &req.county_code)?;
        let year = fields::year("year", req.year)?;
        // Within the county and the caller's jurisdiction (a township sees its own villages).
        let within = if req.region_code.trim().is_empty() {
            if county.covers(&call.principal().jurisdiction) {
                call.principal().jurisdiction.clone()
            } else {
                county.clone()
            }
        } else {
            fields::region("region_code", &req.region_code)?
        };
        if !county.covers(&within) {
            return Err(ApiError::invalid("region_code", format!("{within} is not within {county}")).into());
        }
        call.principal().ensure_can_read(&within)?;
        let page = call.page(req.page_size, &req.page_token, &format!("{county}|{year}|{within}"))?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        year_of(&mut conn, county.as_str(), year).await?;
        let mut rows = st::villages(
            &mut conn,
            county.as_str(),
            year,
            within.prefix(),
            page.after.as_deref().unwrap_or_default(),
            page.fetch_limit(),
        )
        .await?;
        let next_page_token = page.finish(&mut rows, |v| v.code.clone());
        Ok(Response::new(pb::ListYearVillagesResponse {
            villages: rows.into_iter().map(village_to_proto).collect(),
            next_page_token,
        }))
    }
}
