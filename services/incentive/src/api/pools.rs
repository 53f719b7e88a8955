//! BonusPoolService: pools per region and year, funded by a ledger entry when created;
//! their ledger and their reconciliation.

use cadre_kit::audit::prost_types_timestamp;
use cadre_kit::call::{Call, Changed};
use cadre_kit::db::{from_micros, to_micros};
use cadre_kit::{ApiError, fields};
use cadre_proto::incentive::v1 as pb;
use cadre_proto::incentive::v1::bonus_pool_service_server::BonusPoolService;
use sqlx::AnyConnection;
use tonic::{Request, Response, Status};

use super::{IncentiveApi, visible};
use crate::domain::{ledger, money, pay};
use crate::store::pools::{self as st, PoolRow};

pub(crate) async fn pool_to_proto(conn: &mut AnyConnection, p: PoolRow) -> Result<pb::BonusPool, ApiError> {
    let (books, _) = st::books(conn, &p).await?;
    Ok(pb::BonusPool {
        id: p.id,
        region_code: p.region_code,
        year: p.year,
        name: p.name,
        budget_fen: p.budget_fen,
        available_fen: p.balance_fen,
        payable_fen: books.payable_account,
        paid_fen: books.paid_account,
        revision: p.revision,
    })
}

impl IncentiveApi {
    /// A pool the caller sees (its own, or one above it that its villages draw on).
    pub(crate) async fn visible_pool(
        &self,
        conn: &mut AnyConnection,
        call: &Call,
        field: &str,
        id: &str,
    ) -> Result<PoolRow, ApiError> {
        let id = fields::required_id(field, id)?;
        visible(call.principal(), st::get(conn, id).await?, |p| &p.region_code, format!("pool {id}"))
    }
}

#[tonic::async_trait]
impl BonusPoolService for IncentiveApi {
    async fn create_bonus_pool(
        &self,
        request: Request<pb::CreateBonusPoolRequest>,
    ) -> Result<Response<pb::BonusPool>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let p = req.pool.as_ref().ok_or_else(|| ApiError::invalid("pool", "is required"))?;
        let region = pay::keeper("pool.region_code", &p.region_code)?;
        let year = fields::year("pool.year", p.year)?;
        let name = fields::text("pool.name", &p.name, true, 100)?;
        let budget = money::positive("pool.budget_fen", p.budget_fen)?;
        call.principal().ensure_can_write(&region)?;
        let pool = call
            .mutate(&self.db, &req, async |tx| {
                let row = PoolRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    region_code: region.to_string(),
                    year,
                    name: name.clone(),
                    budget_fen: budget,
                    balance_fen: budget,
                    revision: 1,
                };
                let now = to_micros(tx.now());
                st::insert(tx.conn(), &row, now).await?;
                st::append(tx.conn(), &row.id, "", pb::EntryKind::Fund, budget, now).await?;
                let detail = serde_json::json!({ "year": year, "budget_fen": budget });
                tx.changed(Changed::created(
                    pb::Entity::BonusPool.as_str_name(),
                    &row.id,
                    &row.region_code,
                    detail,
                ))
                .await?;
                pool_to_proto(tx.conn(), row).await
            })
            .await?;
        Ok(Response::new(pool))
    }

    async fn get_bonus_pool(
        &self,
        request: Request<pb::GetBonusPoolRequest>,
    ) -> Result<Response<pb::BonusPool>, Status> {
        let call = Call::of(&request)?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let pool = self.visible_pool(&mut conn, &call, "id", &request.get_ref().id).await?;
        Ok(Response::new(pool_to_proto(&mut conn, pool).await?))
    }

    async fn list_bonus_pools(
        &self,
        request: Request<pb::ListBonusPoolsRequest>,
    ) -> Result<Response<pb::ListBonusPoolsResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let scope = call.principal().scope("region_code", &req.region_code)?;
        if req.year != 0 {
            fields::year("year", req.year)?;
        }
        let page = call.page(req.page_size, &req.page_token, &format!("{scope}|{}", req.year))?;
        let mut rows = st::list(
            &self.db,
            scope.prefix(),
            req.year,
            page.after.as_deref().unwrap_or_default(),
            page.fetch_limit(),
        )
        .await?;
        let next_page_token = page.finish(&mut rows, |p| p.id.clone());
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let mut pools = Vec::with_capacity(rows.len());
        for row in rows {
            pools.push(pool_to_proto(&mut conn, row).await?);
        }
        Ok(Response::new(pb::ListBonusPoolsResponse { pools, next_page_token }))
    }

    async fn list_ledger_entries(
        &self,
        request: Request<pb::ListLedgerEntriesRequest>,
    ) -> Result<Response<pb::ListLedgerEntriesResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let pool = {
            let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
            self.visible_pool(&mut conn, &call, "pool_id", &req.pool_id).await?
        };
        let page = call.page(req.page_size, &req.page_token, &pool.id)?;
        let mut rows =
            st::entries(&self.db, &pool.id, page.after.as_deref().unwrap_or_default(), page.fetch_limit())
                .await?;
        let next_page_token = page.finish(&mut rows, |e| e.id.clone());
        Ok(Response::new(pb::ListLedgerEntriesResponse {
            entries: rows
                .into_iter()
                .map(|e| pb::LedgerEntry {
                    id: e.id,
                    pool_id: e.pool_id,
                    award_id: e.award_id,
                    kind: e.kind as i32,
                    from: e.from as i32,
                    to: e.to as i32,
                    amount_fen: e.amount_fen,
                    recorded_at: Some(prost_types_timestamp(from_micros(e.recorded_at))),
                })
                .collect(),
            next_page_token,
        }))
    }

    async fn get_reconciliation(
        &self,
        request: Request<pb::GetReconciliationRequest>,
    ) -> Result<Response<pb::Reconciliation>, Status> {
        let call = Call::of(&request)?;
        // One read transaction, so the pool, its ledger and its awards are one snapshot.
        let mut tx = st::snapshot(&self.db).await?;
        let pool = self.visible_pool(&mut tx, &call, "pool_id", &request.get_ref().pool_id).await?;
        let (books, entry_count) = st::books(&mut tx, &pool).await?;
        tx.commit().await.map_err(ApiError::from)?;
        let discrepancies = ledger::discrepancies(&books);
        Ok(Response::new(pb::Reconciliation {
            pool_id: pool.id,
            budget_fen: books.budget_fen,
            available_fen: books.pool_account,
            payable_fen: books.payable_account,
            paid_fen: books.paid_account,
            pool_balance_fen: books.pool_balance_fen,
            approved_awards_fen: books.approved_awards_fen,
            paid_awards_fen: books.paid_awards_fen,
            entry_count,
            balanced: discrepancies.is_empty(),
            discrepancies,
        }))
    }
}
