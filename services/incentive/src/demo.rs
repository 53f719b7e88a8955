//! The demo county's incentives, loaded through incentive's own API.

use tonic::Status;

use crate::IncentiveApi;

/// Seeds the demo county if incentive holds no pool yet; says what it loaded.
pub async fn seed(
    _api: &IncentiveApi,
    _progress: &(dyn Fn(usize, usize) + Send + Sync),
) -> Result<Option<String>, Status> {
    Ok(None)
}
