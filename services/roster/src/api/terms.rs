//! TermService: the structure of a region's teams before and after a term began,
//! and whether it went "one up, one down" (一升一降).

use cadre_kit::ApiError;
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::term_service_server::TermService;
use chrono::Datelike;
use tonic::{Request, Response, Status};

use super::RosterApi;
use crate::domain::{dates, fields, terms};
use crate::store::development as dev;
use cadre_kit::call::Call;

#[tonic::async_trait]
impl TermService for RosterApi {
    async fn compare_terms(
        &self,
        request: Request<pb::CompareTermsRequest>,
    ) -> Result<Response<pb::TermComparison>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        let region = fields::region("region_code", &req.region_code)?;
        principal.ensure_can_read(&region)?;
        let later =
            dates::parse_or("later_as_of", &req.later_as_of, dates::today()).map_err(ApiError::from)?;
        let earlier = if req.earlier_as_of.trim().is_empty() {
            let latest = dev::latest_term_under(&self.db, region.prefix(), i64::from(later.year()))
                .await
                .map_err(ApiError::from)?;
            terms::default_earlier(&self.calendar, latest.and_then(|t| i32::try_from(t).ok()))
        } else {
            dates::parse("earlier_as_of", &req.earlier_as_of).map_err(ApiError::from)?
        };
        if earlier >= later {
            return Err(ApiError::invalid(
                "earlier_as_of",
                format!("{} must be before later_as_of {}", dates::format(earlier), dates::format(later)),
            )
            .into());
        }
        let before = self.structure(&region, earlier).await?;
        let after = self.structure(&region, later).await?;
        let d = terms::compare(&before, &after);
        Ok(Response::new(pb::TermComparison {
            earlier: Some(before),
            later: Some(after),
            average_age_change: d.average_age,
            college_or_above_share_change: d.college_or_above_share,
            under_35_change: d.under_35,
            women_share_change: d.women_share,
            party_member_share_change: d.party_member_share,
            one_shoulder_share_change: d.one_shoulder_share,
            education_up: d.education_up,
            age_down: d.age_down,
            one_up_one_down: d.one_up_one_down(),
        }))
    }
}
