//! AuditService: the roster's audit log, read within the caller's jurisdiction, and
//! verification of its hash chain.

use cadre_kit::pagination::Page;
use cadre_kit::{ApiError, Role, audit};
use cadre_proto::audit::v1 as apb;
use cadre_proto::roster::v1::audit_service_server::AuditService;
use tonic::{Request, Response, Status};

use super::{RosterApi, caller};

#[tonic::async_trait]
impl AuditService for RosterApi {
    async fn list_audit_entries(
        &self,
        request: Request<apb::ListAuditEntriesRequest>,
    ) -> Result<Response<apb::ListAuditEntriesResponse>, Status> {
        let principal = caller(&request)?;
        let req = request.into_inner();
        let scope = principal.scope("region_code", &req.region_code)?;
        let page = Page::parse(req.page_size, &req.page_token, scope.as_str())?;
        let after = match page.after.as_deref() {
            None => 0,
            Some(s) => s
                .parse()
                .map_err(|_| ApiError::invalid("page_token", "is not a token this query returned"))?,
        };
        let mut entries =
            audit::list(&self.db, scope.prefix(), after, page.fetch_limit()).await.map_err(ApiError::from)?;
        let next_page_token = page.finish(&mut entries, |e| e.sequence.to_string());
        Ok(Response::new(apb::ListAuditEntriesResponse {
            entries: entries.into_iter().map(Into::into).collect(),
            next_page_token,
        }))
    }

    async fn verify_audit_chain(
        &self,
        request: Request<apb::VerifyAuditChainRequest>,
    ) -> Result<Response<apb::VerifyAuditChainResponse>, Status> {
        let principal = caller(&request)?;
        // The chain spans every region: verifying it is for auditors and the province.
        if !(principal.has(Role::Auditor) || principal.has(Role::ProvinceAdmin)) {
            return Err(ApiError::permission_denied(
                "verifying the audit chain needs the auditor or province_admin role",
            )
            .into());
        }
        let report = audit::verify(&self.db).await.map_err(ApiError::from)?;
        Ok(Response::new(report.into()))
    }
}
