//! ChangeService: the roster's change feed, paged or followed, within the caller's
//! jurisdiction (see proto/cadre/changes/v1/changes.proto).

use std::pin::Pin;

use cadre_kit::changes;
use cadre_proto::changes::v1 as cpb;
use cadre_proto::roster::v1::change_service_server::ChangeService;
use futures::Stream;
use tonic::{Request, Response, Status};

use super::{RosterApi, caller};

type ChangeStream = Pin<Box<dyn Stream<Item = Result<cpb::Change, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl ChangeService for RosterApi {
    async fn list_changes(
        &self,
        request: Request<cpb::ListChangesRequest>,
    ) -> Result<Response<cpb::ListChangesResponse>, Status> {
        let principal = caller(&request)?;
        Ok(Response::new(changes::list_for(&self.db, &principal, request.get_ref()).await?))
    }

    type WatchChangesStream = ChangeStream;

    async fn watch_changes(
        &self,
        request: Request<cpb::WatchChangesRequest>,
    ) -> Result<Response<Self::WatchChangesStream>, Status> {
        let principal = caller(&request)?;
        Ok(Response::new(Box::pin(changes::watch_for(&self.db, &principal, request.get_ref())?)))
    }
}
