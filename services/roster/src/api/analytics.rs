//! AnalyticsService: structure of the two-committee teams under a region on a date.

use cadre_kit::{ApiError, RegionCode};
use cadre_proto::roster::v1 as pb;
use cadre_proto::roster::v1::analytics_service_server::AnalyticsService;
use tonic::{Request, Response, Status};

use super::RosterApi;
use crate::domain::{dates, fields, posts, structure};
use crate::store;
use cadre_kit::call::Call;

impl RosterApi {
    /// The structure report of `region` on `day` (also used by the term comparison).
    pub async fn structure(
        &self,
        region: &RegionCode,
        day: chrono::NaiveDate,
    ) -> Result<pb::StructureReport, ApiError> {
        let day_s = dates::format(day);
        let seats = [pb::PostKind::PartySecretary, pb::PostKind::CommitteeDirector];
        // Three reads side by side, each on a connection of its own: a province's
        // report reads ~100,000 rows and the database has more than one core.
        let (members, village_count, heads) = tokio::try_join!(
            async { store::members_under(&self.db, region.prefix(), &day_s).await.map_err(ApiError::from) },
            async { store::village_count_under(&self.db, region.prefix()).await.map_err(ApiError::from) },
            async {
                store::serving_under(&self.db, region.prefix(), &seats, &day_s).await.map_err(ApiError::from)
            },
        )?;
        let serving = heads.iter().map(|(village, cadre, kind)| posts::Serving {
            region_code: village,
            cadre_id: cadre,
            kind: *kind,
        });
        let one_shoulder = posts::one_shoulder_pairs(serving).len();
        let s = structure::compute(&members, day, village_count, one_shoulder);
        Ok(pb::StructureReport {
            region_code: region.to_string(),
            as_of: day_s,
            village_count: s.village_count as i32,
            head_count: s.head_count as i32,
            average_age: s.average_age,
            college_or_above_share: s.college_or_above_share,
            under_35_count: s.under_35_count as i32,
            women_share: s.women_share,
            party_member_share: s.party_member_share,
            one_shoulder_villages: s.one_shoulder_villages as i32,
            one_shoulder_share: s.one_shoulder_share,
        })
    }
}

#[tonic::async_trait]
impl AnalyticsService for RosterApi {
    async fn get_structure(
        &self,
        request: Request<pb::GetStructureRequest>,
    ) -> Result<Response<pb::StructureReport>, Status> {
        let call = Call::of(&request)?;
        let principal = call.principal();
        let req = request.into_inner();
        let region = fields::region("region_code", &req.region_code)?;
        principal.ensure_can_read(&region)?;
        let day = dates::parse_or("as_of", &req.as_of, dates::today()).map_err(ApiError::from)?;
        Ok(Response::new(self.structure(&region, day).await?))
    }
}
