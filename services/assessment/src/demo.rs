//! The demo county's assessment (filled in below).

use cadre_kit::identity::ServiceIdentity;
use tonic::Status;

use crate::AssessmentApi;

pub async fn seed(
    _api: &AssessmentApi,
    _identity: &ServiceIdentity,
    _progress: &(dyn Fn(usize, usize) + Send + Sync),
) -> Result<Option<String>, Status> {
    Ok(None)
}
