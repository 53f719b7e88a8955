//! The payment list for the finance system (CSV, yuan with two decimals, accounts masked
//! unless the caller holds `pii`), and the finance system's confirmations coming back:
//! every row checked before anything is stored, then every award paid in one
//! transaction — or none.

use std::collections::BTreeMap;

use cadre_kit::call::Call;
use cadre_kit::{ApiError, RegionCode};
use cadre_proto::incentive::v1 as pb;
use tonic::{Request, Response, Status};

use super::IncentiveApi;
use super::awards::{account_of, move_one, sees_award};
use crate::domain::awards::{self as lifecycle, Step};
use crate::domain::money;
use crate::domain::payments::{self, RowError};
use crate::store::awards::{self as st, AwardFilter};

const HEADER: [&str; 9] = [
    "award_id",
    "region_code",
    "payee",
    "payee_name",
    "payee_account",
    "amount_yuan",
    "reason",
    "paid_on",
    "payment_reference",
];

fn payee_label(p: pb::Payee) -> &'static str {
    match p {
        pb::Payee::Village => "village",
        pb::Payee::Person => "person",
        pb::Payee::VillagePartyOrganisation => "village_party_organisation",
        _ => "unknown",
    }
}

fn write_csv(rows: &[[String; 9]]) -> Result<Vec<u8>, String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(HEADER).map_err(|e| e.to_string())?;
    for r in rows {
        out.write_record(r).map_err(|e| e.to_string())?;
    }
    out.into_inner().map_err(|e| e.to_string())
}

fn write_xlsx(rows: &[[String; 9]]) -> Result<Vec<u8>, String> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("发放清单").map_err(|e| e.to_string())?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (c, h) in HEADER.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *h, &bold).map_err(|e| e.to_string())?;
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            // Everything as text: accounts must not become numbers, amounts stay exact.
            sheet.write_string(r as u32 + 1, c as u16, v).map_err(|e| e.to_string())?;
        }
    }
    book.save_to_buffer().map_err(|e| e.to_string())
}

impl IncentiveApi {
    pub(crate) async fn export(
        &self,
        request: Request<pb::ExportPaymentListRequest>,
    ) -> Result<Response<pb::ExportPaymentListResponse>, Status> {
        let call = Call::of(&request)?;
        let pool = {
            let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
            self.visible_pool(&mut conn, &call, "pool_id", &request.get_ref().pool_id).await?
        };
        // The caller's own villages' approved awards of the pool, in id order.
        let scope = &call.principal().jurisdiction;
        let filter = AwardFilter {
            prefix: scope.prefix().to_string(),
            pool_id: pool.id.clone(),
            state: Some(pb::AwardState::Approved),
        };
        let mut rows = Vec::new();
        loop {
            let after = rows.last().map(|a: &st::AwardRow| a.id.clone()).unwrap_or_default();
            let batch = st::list(&self.db, &filter, &after, 1000).await?;
            let done = batch.len() < 1000;
            rows.extend(batch);
            if done {
                break;
            }
        }
        let unmasked = call.principal().sees_pii();
        if unmasked && !rows.is_empty() {
            let detail = serde_json::json!({ "pool_id": pool.id, "awards": rows.len() });
            call.audit_unmasked_read(&self.db, &format!("bonus_pool/{}", pool.id), scope.as_str(), detail)
                .await?;
        }
        let format = cadre_kit::fields::optional_enum::<pb::PaymentListFormat>(
            "format",
            request.get_ref().format,
            "format",
        )?
        .unwrap_or(pb::PaymentListFormat::Csv);
        let mut table = Vec::with_capacity(rows.len());
        let mut total = 0;
        for a in &rows {
            total += a.amount_fen;
            table.push([
                a.id.clone(),
                a.region_code.clone(),
                payee_label(a.payee).to_string(),
                a.payee_name.clone(),
                account_of(&self.pii, a, unmasked)?,
                money::yuan(a.amount_fen),
                a.reason.clone(),
                String::new(),
                String::new(),
            ]);
        }
        let (content, extension) = match format {
            pb::PaymentListFormat::Xlsx => (write_xlsx(&table).map_err(ApiError::internal)?, "xlsx"),
            _ => (write_csv(&table).map_err(ApiError::internal)?, "csv"),
        };
        Ok(Response::new(pb::ExportPaymentListResponse {
            file_name: format!("payment-list-{}-{}.{extension}", pool.year, pool.id),
            content,
            row_count: rows.len() as i32,
            total_fen: total,
            pii_masked: !unmasked,
        }))
    }

    pub(crate) async fn upload(
        &self,
        request: Request<pb::UploadPaymentConfirmationsRequest>,
    ) -> Result<Response<pb::UploadPaymentConfirmationsResponse>, Status> {
        let call = Call::of(&request)?;
        let req = request.into_inner();
        let pool = {
            let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
            self.visible_pool(&mut conn, &call, "pool_id", &req.pool_id).await?
        };
        let region = RegionCode::parse(&pool.region_code).map_err(ApiError::internal)?;
        call.principal().ensure_can_write(&region)?;
        // Recording payment is the budget holder's step: refuse a township before reading.
        lifecycle::may(
            Step::Pay,
            pb::AwardState::Approved,
            call.principal().jurisdiction.level(),
            region.level(),
        )
        .map_err(|r| match r {
            lifecycle::Refusal::Level(why) => ApiError::permission_denied(why),
            lifecycle::Refusal::Illegal { .. } => ApiError::internal("approved awards are payable"),
        })?;
        let (rows, mut errors) = payments::read(&req.content);
        let row_count = (rows.len() + errors.iter().filter(|e| e.row > 1).count()) as i32;
        let refused = |errors: Vec<RowError>| pb::UploadPaymentConfirmationsResponse {
            row_count,
            paid_count: 0,
            paid_fen: 0,
            errors: errors
                .into_iter()
                .map(|e| pb::PaymentRowError { row: e.row, field: e.field, message: e.message })
                .collect(),
        };
        if !errors.is_empty() {
            return Ok(Response::new(refused(errors)));
        }
        let response = call
            .mutate(&self.db, &req, async |tx| {
                let ids: Vec<String> = rows.iter().map(|r| r.award_id.clone()).collect();
                let stored: BTreeMap<String, st::AwardRow> =
                    st::get_many(tx.conn(), &ids).await?.into_iter().map(|a| (a.id.clone(), a)).collect();
                for r in &rows {
                    let Some(a) = stored
                        .get(&r.award_id)
                        .filter(|a| a.pool_id == pool.id && sees_award(tx.call(), &a.region_code))
                    else {
                        errors.push(RowError::new(
                            r.row,
                            "award_id",
                            format!("no award {} in pool {}", r.award_id, pool.id),
                        ));
                        continue;
                    };
                    match a.state {
                        pb::AwardState::Approved => {}
                        pb::AwardState::Paid => {
                            errors.push(RowError::new(
                                r.row,
                                "award_id",
                                format!("award {} is paid already", a.id),
                            ));
                            continue;
                        }
                        other => {
                            errors.push(RowError::new(
                                r.row,
                                "award_id",
                                format!("award {} is {}, not approved", a.id, other.as_str_name()),
                            ));
                            continue;
                        }
                    }
                    if r.amount_fen != a.amount_fen {
                        errors.push(RowError::new(
                            r.row,
                            "amount_yuan",
                            format!(
                                "{} yuan confirmed, award {} is {} yuan",
                                money::yuan(r.amount_fen),
                                a.id,
                                money::yuan(a.amount_fen)
                            ),
                        ));
                    }
                }
                if !errors.is_empty() {
                    // Nothing is written: the transaction holds no change.
                    return Ok(refused(std::mem::take(&mut errors)));
                }
                let mut paid_fen = 0;
                for r in &rows {
                    let a =
                        move_one(tx, &r.award_id, 0, Step::Pay, "", Some((&r.paid_on, &r.reference))).await?;
                    paid_fen += a.amount_fen;
                }
                Ok(pb::UploadPaymentConfirmationsResponse {
                    row_count,
                    paid_count: rows.len() as i32,
                    paid_fen,
                    errors: Vec::new(),
                })
            })
            .await?;
        Ok(Response::new(response))
    }
}
