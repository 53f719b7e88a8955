//! CertificateService: anyone holding a certificate's number checks it. Any token of
//! the suite will do (the security model: every request carries one), with no
//! jurisdiction: a certificate travels with its holder (to a new county, to an
//! employer's organisation department). The answer holds no more than the paper does,
//! and the holder's name masked; an unknown number is NOT_FOUND, a mistyped one is
//! refused by its check digits before any lookup.

use cadre_kit::call::Call;
use cadre_kit::{ApiError, fields};
use cadre_proto::training::v1 as pb;
use cadre_proto::training::v1::certificate_service_server::CertificateService;
use tonic::{Request, Response, Status};

use super::TrainingApi;
use crate::domain::certificates;
use crate::store::{completions as stc, roster_copy, sessions as ss};

#[tonic::async_trait]
impl CertificateService for TrainingApi {
    async fn verify_certificate(
        &self,
        request: Request<pb::VerifyCertificateRequest>,
    ) -> Result<Response<pb::CertificateCheck>, Status> {
        Call::of(&request)?;
        let given = &request.get_ref().number;
        if given.len() > 200 {
            return Err(fields::FieldError::new("number", "is too long for a certificate number").into());
        }
        let number = certificates::parse("number", given).map_err(ApiError::from)?;
        let mut conn = self.db.pool().acquire().await.map_err(ApiError::from)?;
        let c = stc::certificate_by_number(&mut conn, &number)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("certificate {number}")))?;
        let session = ss::get(&mut conn, &c.session_id).await?;
        let organiser = session.as_ref().map(|s| s.organiser_region_code.clone()).unwrap_or_default();
        let organiser_name = roster_copy::region_names(&mut conn, std::slice::from_ref(&organiser))
            .await?
            .remove(&organiser)
            .unwrap_or(organiser);
        Ok(Response::new(pb::CertificateCheck {
            number: c.number,
            state: c.state as i32,
            session_title: session.map(|s| s.title).unwrap_or_default(),
            hours_tenths: c.hours_tenths as i32,
            issued_on: c.issued_on,
            holder: certificates::mask_name(&c.holder_name),
            organiser: organiser_name,
            revoked_on: c.revoked_on,
        }))
    }
}
