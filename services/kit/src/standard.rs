//! The services every part serves the same way over the kit's tables: its change feed
//! (`ChangeService`) and its audit log (`AuditService`). Each part declares both in its
//! own proto package (so the gateway routes them to it, and its `Entity` enum types its
//! feed); [`standard_services!`](crate::standard_services) implements them in one line.

use cadre_proto::audit::v1 as apb;

use crate::audit;
use crate::call::Call;
use crate::changes::Change;
use crate::db::Db;
use crate::error::ApiError;

/// `ListAuditEntries` of any part: its log, oldest first, within the caller's jurisdiction.
pub async fn list_audit_entries(
    db: &Db,
    call: &Call,
    req: &apb::ListAuditEntriesRequest,
) -> Result<apb::ListAuditEntriesResponse, ApiError> {
    let scope = call.principal().scope("region_code", &req.region_code)?;
    let page = call.page(req.page_size, &req.page_token, scope.as_str())?;
    let after = match page.after.as_deref() {
        None => 0,
        Some(s) => {
            s.parse().map_err(|_| ApiError::invalid("page_token", "is not a token this query returned"))?
        }
    };
    let mut entries = audit::list(db, scope.prefix(), after, page.fetch_limit()).await?;
    let next_page_token = page.finish(&mut entries, |e| e.sequence.to_string());
    Ok(apb::ListAuditEntriesResponse {
        entries: entries.into_iter().map(Into::into).collect(),
        next_page_token,
    })
}

/// `VerifyAuditChain` of any part (the permission, auditors and the province, is declared
/// in the proto and checked by the kit's layer).
pub async fn verify_audit_chain(db: &Db) -> Result<apb::VerifyAuditChainResponse, ApiError> {
    Ok(audit::verify(db).await?.into())
}

/// The entity enum number of a stored change, strictly: a name the part's proto does not
/// know is an error, never a default.
pub fn entity_number(change: &Change, from_name: impl Fn(&str) -> Option<i32>) -> Result<i32, ApiError> {
    from_name(&change.entity).ok_or_else(|| {
        ApiError::internal(format!(
            "stored change {} names unknown entity {:?}",
            change.position, change.entity
        ))
    })
}

#[doc(hidden)]
pub mod __private {
    pub use cadre_proto;
    pub use futures;
    pub use tonic;
}

/// Implements a part's `ChangeService` and `AuditService` over the kit's change feed and
/// audit log: `cadre_kit::standard_services!(cadre_proto::roster::v1);` defines
/// `StandardServices`, whose `add_to(host)` the part calls in `register`. The package must
/// declare `Entity`, `Change` and `ListChangesResponse` as cadre.roster.v1 does.
#[macro_export]
macro_rules! standard_services {
    ($($pkg:ident)::+) => {
        /// This part's change feed and audit log, served by the kit.
        #[derive(Clone)]
        pub struct StandardServices(pub $crate::db::Db);

        impl StandardServices {
            pub fn add_to(self, host: &mut $crate::server::GrpcHost) {
                host.add($($pkg)::+::change_service_server::ChangeServiceServer::new(self.clone()));
                host.add($($pkg)::+::audit_service_server::AuditServiceServer::new(self));
            }

            fn change_to_proto(
                change: $crate::changes::Change,
            ) -> ::std::result::Result<$($pkg)::+::Change, $crate::ApiError> {
                let entity = $crate::standard::entity_number(&change, |name| {
                    $($pkg)::+::Entity::from_str_name(name).map(|e| e as i32)
                })?;
                Ok($($pkg)::+::Change {
                    position: change.position,
                    recorded_at: Some($crate::audit::prost_types_timestamp(change.recorded_at)),
                    entity,
                    key: change.key,
                    operation: change.operation as i32,
                    region_code: change.region_code,
                    revision: change.revision,
                    audit_sequence: change.audit_sequence,
                    previous_region_code: change.previous_region_code,
                })
            }
        }

        #[$crate::standard::__private::tonic::async_trait]
        impl $($pkg)::+::change_service_server::ChangeService for StandardServices {
            async fn list_changes(
                &self,
                request: $crate::standard::__private::tonic::Request<
                    $crate::standard::__private::cadre_proto::changes::v1::ListChangesRequest,
                >,
            ) -> ::std::result::Result<
                $crate::standard::__private::tonic::Response<$($pkg)::+::ListChangesResponse>,
                $crate::standard::__private::tonic::Status,
            > {
                let call = $crate::call::Call::of(&request)?;
                let page = $crate::changes::list_for(&self.0, call.principal(), request.get_ref()).await?;
                let changes = page
                    .changes
                    .into_iter()
                    .map(Self::change_to_proto)
                    .collect::<::std::result::Result<Vec<_>, _>>()?;
                Ok($crate::standard::__private::tonic::Response::new($($pkg)::+::ListChangesResponse {
                    changes,
                    next_after_position: page.next_after_position,
                    head_position: page.head_position,
                }))
            }

            type WatchChangesStream = ::std::pin::Pin<
                Box<
                    dyn $crate::standard::__private::futures::Stream<
                            Item = ::std::result::Result<
                                $($pkg)::+::Change,
                                $crate::standard::__private::tonic::Status,
                            >,
                        > + Send
                        + 'static,
                >,
            >;

            async fn watch_changes(
                &self,
                request: $crate::standard::__private::tonic::Request<
                    $crate::standard::__private::cadre_proto::changes::v1::WatchChangesRequest,
                >,
            ) -> ::std::result::Result<
                $crate::standard::__private::tonic::Response<Self::WatchChangesStream>,
                $crate::standard::__private::tonic::Status,
            > {
                use $crate::standard::__private::futures::StreamExt as _;
                let call = $crate::call::Call::of(&request)?;
                let stream = $crate::changes::watch_for(&self.0, call.principal(), request.get_ref())?
                    .map(|r| r.and_then(|c| Self::change_to_proto(c).map_err(Into::into)));
                Ok($crate::standard::__private::tonic::Response::new(Box::pin(stream)))
            }
        }

        #[$crate::standard::__private::tonic::async_trait]
        impl $($pkg)::+::audit_service_server::AuditService for StandardServices {
            async fn list_audit_entries(
                &self,
                request: $crate::standard::__private::tonic::Request<
                    $crate::standard::__private::cadre_proto::audit::v1::ListAuditEntriesRequest,
                >,
            ) -> ::std::result::Result<
                $crate::standard::__private::tonic::Response<
                    $crate::standard::__private::cadre_proto::audit::v1::ListAuditEntriesResponse,
                >,
                $crate::standard::__private::tonic::Status,
            > {
                let call = $crate::call::Call::of(&request)?;
                let response = $crate::standard::list_audit_entries(&self.0, &call, request.get_ref()).await?;
                Ok($crate::standard::__private::tonic::Response::new(response))
            }

            async fn verify_audit_chain(
                &self,
                request: $crate::standard::__private::tonic::Request<
                    $crate::standard::__private::cadre_proto::audit::v1::VerifyAuditChainRequest,
                >,
            ) -> ::std::result::Result<
                $crate::standard::__private::tonic::Response<
                    $crate::standard::__private::cadre_proto::audit::v1::VerifyAuditChainResponse,
                >,
                $crate::standard::__private::tonic::Status,
            > {
                $crate::call::Call::of(&request)?;
                Ok($crate::standard::__private::tonic::Response::new(
                    $crate::standard::verify_audit_chain(&self.0).await?,
                ))
            }
        }
    };
}
