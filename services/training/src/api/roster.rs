//! What training asks the roster at write time, over the kit's client with the caller's
//! token and deadline (so the roster applies the caller's jurisdiction): is this cadre
//! there, what is their name and village, which posts do they hold? If the roster is down, the call fails
//! with UNAVAILABLE naming the roster; nothing else of training depends on it.

use cadre_kit::ApiError;
use cadre_kit::call::Call;
use cadre_kit::client::Idempotent;
use cadre_proto::roster::v1 as roster;
use cadre_proto::roster::v1::cadre_service_client::CadreServiceClient;
use cadre_proto::roster::v1::region_service_client::RegionServiceClient;

use super::TrainingApi;

/// A roster cadre as training keeps it: no ID number, no phone.
#[derive(Debug, Clone, PartialEq)]
pub struct RosterCadre {
    pub id: String,
    pub name: String,
    pub region_code: String,
    pub village_name: String,
}

/// A cadre as enrolment checks them in the roster at write time.
#[derive(Debug, Clone, PartialEq)]
pub struct RosterTrainee {
    pub id: String,
    pub name: String,
    pub region_code: String,
    /// The roster's PostKind numbers of the posts held today.
    pub post_kinds: Vec<i32>,
}

/// A failed roster call, as the caller of training should see it.
fn roster_failed(status: tonic::Status) -> ApiError {
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
            ApiError::unavailable(format!("roster: {}", cadre_kit::text::bounded(status.message(), 200)))
        }
        tonic::Code::PermissionDenied | tonic::Code::Unauthenticated => ApiError::permission_denied(format!(
            "roster: {}",
            cadre_kit::text::bounded(status.message(), 200)
        )),
        _ => ApiError::internal(format!("roster answered {:?}: {}", status.code(), status.message())),
    }
}

impl TrainingApi {
    /// The cadre `id` as the caller may see it in the roster, or NOT_FOUND (a cadre
    /// outside the caller's jurisdiction is as missing as one that does not exist).
    pub(crate) async fn roster_cadre(
        &self,
        call: &Call,
        field: &str,
        id: &str,
    ) -> Result<RosterCadre, ApiError> {
        let metadata = call.outgoing_metadata();
        let cadre = self.roster_record(call, field, id).await?;
        let codes = vec![cadre.region_code.clone()];
        let village_name = self
            .roster
            .call(Idempotent::Yes, call.deadline(), &metadata, |channel| {
                let request = roster::BatchGetRegionsRequest { codes: codes.clone() };
                async move {
                    RegionServiceClient::new(channel).batch_get_regions(request).await.map(|r| r.into_inner())
                }
            })
            .await
            .map_err(roster_failed)?
            .regions
            .into_iter()
            .next()
            .map(|r| r.name)
            .unwrap_or_default();
        Ok(RosterCadre { id: cadre.id, name: cadre.name, region_code: cadre.region_code, village_name })
    }

    /// The roster's record of cadre `id` as the caller may see it, or INVALID_ARGUMENT on
    /// `field` (outside the caller's jurisdiction is as missing as unknown).
    async fn roster_record(&self, call: &Call, field: &str, id: &str) -> Result<roster::Cadre, ApiError> {
        let ids = vec![id.to_string()];
        let found = self
            .roster
            .call(Idempotent::Yes, call.deadline(), &call.outgoing_metadata(), |channel| {
                let request = roster::BatchGetCadresRequest { ids: ids.clone() };
                async move {
                    CadreServiceClient::new(channel).batch_get_cadres(request).await.map(|r| r.into_inner())
                }
            })
            .await
            .map_err(roster_failed)?;
        found.cadres.into_iter().next().ok_or_else(|| {
            ApiError::invalid(field, format!("cadre {id} is not in the roster within your jurisdiction"))
        })
    }

    /// A cadre to enrol, as the roster has them now: name, village and the kinds of post
    /// held today (none: dismissed, resigned, term ended).
    pub(crate) async fn roster_trainee(
        &self,
        call: &Call,
        field: &str,
        id: &str,
    ) -> Result<RosterTrainee, ApiError> {
        let cadre = self.roster_record(call, field, id).await?;
        let mut post_kinds: Vec<i32> = cadre.current_posts.iter().map(|p| p.kind).collect();
        post_kinds.sort_unstable();
        post_kinds.dedup();
        Ok(RosterTrainee { id: cadre.id, name: cadre.name, region_code: cadre.region_code, post_kinds })
    }

    /// Whether the village or township `code` is in the roster, as the caller sees it.
    pub(crate) async fn roster_region_exists(&self, call: &Call, code: &str) -> Result<bool, ApiError> {
        let codes = vec![code.to_string()];
        let found = self
            .roster
            .call(Idempotent::Yes, call.deadline(), &call.outgoing_metadata(), |channel| {
                let request = roster::BatchGetRegionsRequest { codes: codes.clone() };
                async move {
                    RegionServiceClient::new(channel).batch_get_regions(request).await.map(|r| r.into_inner())
                }
            })
            .await
            .map_err(roster_failed)?;
        Ok(!found.regions.is_empty())
    }
}
