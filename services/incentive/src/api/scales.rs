//! PayScaleService: a region's pay scale for a year, written whole, and a cadre's base
//! pay read from the nearest scale above the cadre's village.

use cadre_kit::call::{Call, Changed};
use cadre_kit::db::to_micros;
use cadre_kit::{ApiError, fields};
use cadre_proto::incentive::v1 as pb;
use cadre_proto::incentive::v1::pay_scale_service_server::PayScaleService;
use tonic::{Request, Response, Status};

use super::{IncentiveApi, sees_kept_by};
use crate::domain::pay;
use crate::error::IncentiveError;
use crate::store::scales::{self as st, ScaleRow};

fn to_proto(s: ScaleRow) -> pb::PayScale {
    pb::PayScale {
        region_code: s.region_code,
        year: s.year,
        level_count: s.scale.level_count,
        classes: s
            .scale
            .classes
            .into_iter()
            .map(|(name, base_pay_fen)| pb::PostClassPay { name, base_pay_fen })
            .collect(),
        revision: s.revision,
    }
}

#[tonic::async_trait]
impl PayScaleService for IncentiveApi {
    async fn put_pay_scale(
        &self,
        request: Request<pb::PutPayScaleRequest>,
    ) -> Result<Response<pb::PayScale>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let input = req.scale.as_ref().ok_or_else(|| ApiError::invalid("scale", "is required"))?;
        let region = pay::keeper("scale.region_code", &input.region_code)?;
        let year = fields::year("scale.year", input.year)?;
        let grid: Vec<(String, Vec<i64>)> =
            input.classes.iter().map(|c| (c.name.clone(), c.base_pay_fen.clone())).collect();
        let scale = pay::validate("scale", input.level_count, &grid)?;
        call.principal().ensure_can_write(&region)?;
        let sent_revision = input.revision;
        let saved = call
            .mutate(&self.db, &req, async |tx| {
                let stored = st::get(tx.conn(), region.as_str(), year).await?;
                let current = stored.as_ref().map_or(0, |s| s.revision);
                if current != sent_revision {
                    return Err(IncentiveError::Stale {
                        what: "pay scale",
                        id: format!("{region}:{year}"),
                        expected: sent_revision,
                        current,
                    }
                    .into());
                }
                let row = ScaleRow {
                    region_code: region.to_string(),
                    year,
                    scale: scale.clone(),
                    revision: current + 1,
                };
                if !{
                    let now = to_micros(tx.now());
                    st::put(tx.conn(), &row, now)
                }
                .await?
                {
                    return Err(IncentiveError::Stale {
                        what: "pay scale",
                        id: format!("{region}:{year}"),
                        expected: sent_revision,
                        current: current + 1,
                    }
                    .into());
                }
                let key = format!("{region}:{year}");
                let detail = serde_json::json!({
                    "classes": row.scale.classes.len(), "levels": row.scale.level_count
                });
                tx.changed(Changed::written(
                    pb::Entity::PayScale.as_str_name(),
                    &key,
                    region.as_str(),
                    row.revision,
                    detail,
                ))
                .await?;
                Ok(to_proto(row))
            })
            .await?;
        Ok(Response::new(saved))
    }

    async fn get_pay_scale(
        &self,
        request: Request<pb::GetPayScaleRequest>,
    ) -> Result<Response<pb::PayScale>, Status> {
        let call = Call::of(&request)?;
        let req = request.get_ref();
        let region = fields::region("region_code", &req.region_code)?;
        let year = fields::year("year", req.year)?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let row = st::get(&mut conn, region.as_str(), year)
            .await?
            .filter(|s| sees_kept_by(call.principal(), &s.region_code))
            .ok_or_else(|| ApiError::not_found(format!("pay scale of {region} for {year}")))?;
        Ok(Response::new(to_proto(row)))
    }

    async fn get_base_pay(
        &self,
        request: Request<pb::GetBasePayRequest>,
    ) -> Result<Response<pb::BasePay>, Status> {
        let call = Call::of(&request)?;
        let req = request.get_ref();
        let region = fields::region("region_code", &req.region_code)?;
        let year = fields::year("year", req.year)?;
        if !sees_kept_by(call.principal(), region.as_str()) {
            return Err(ApiError::permission_denied(format!(
                "region {region} is outside your jurisdiction {}",
                call.principal().jurisdiction
            ))
            .into());
        }
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        for keeper in region.lineage() {
            if let Some(row) = st::get(&mut conn, keeper.as_str(), year).await? {
                let (name, fen) = row.scale.base_pay(req.post_class, req.level)?;
                return Ok(Response::new(pb::BasePay {
                    scale_region_code: row.region_code.clone(),
                    year,
                    post_class: req.post_class,
                    post_class_name: name.to_string(),
                    level: req.level,
                    base_pay_fen: fen,
                }));
            }
        }
        Err(ApiError::not_found(format!("a pay scale for {year} over {region}")).into())
    }
}
