//! The context of one call a service handles, as the kit's server layer left it on the
//! request: who is calling, which RPC (from the request's path, never typed by hand),
//! the idempotency key, the deadline, and what to pass on when this call calls another
//! part. And [`Call::mutate`], the one way a handler changes data: idempotency, the
//! change, its audit entries and its change-feed rows in one transaction.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tonic::metadata::{Ascii, MetadataMap, MetadataValue};
use tonic::{Request, Status};

use crate::audit::{self, AuditRecord};
use crate::changes::{self, ChangeRecord, Operation};
use crate::client::deadline::parse_grpc_timeout;
use crate::db::{Db, WriteTx};
use crate::error::ApiError;
use crate::idempotency::{self, IdempotencyKey};
use crate::pagination::Page;
use crate::permission::{RpcInfo, Rpcs};
use crate::principal::Principal;

/// What the server layer learned before the handler runs; in the request's extensions.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub rpc: Arc<RpcInfo>,
    pub received: Instant,
}

/// The context of the call being handled.
#[derive(Debug, Clone)]
pub struct Call {
    principal: Principal,
    rpc: Arc<RpcInfo>,
    key: Option<IdempotencyKey>,
    deadline: Option<Instant>,
    authorization: Option<MetadataValue<Ascii>>,
    request_id: Option<MetadataValue<Ascii>>,
}

impl Call {
    /// The context of `request`; UNAUTHENTICATED if the kit's layer did not admit it.
    pub fn of<T>(request: &Request<T>) -> Result<Self, Status> {
        let caller = request
            .extensions()
            .get::<Caller>()
            .ok_or_else(|| Status::unauthenticated("no authenticated caller on this request"))?;
        let md = request.metadata();
        let key = IdempotencyKey::from_metadata(md)?;
        let deadline = md
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_timeout)
            .map(|t| caller.received + t);
        Ok(Self {
            principal: caller.principal.clone(),
            rpc: caller.rpc.clone(),
            key,
            deadline,
            authorization: md.get("authorization").cloned(),
            request_id: md.get("x-request-id").cloned(),
        })
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    pub fn rpc(&self) -> &RpcInfo {
        &self.rpc
    }

    /// The RPC's full name, `cadre.roster.v1.CadreService/CreateCadre`: the audit action
    /// and the idempotency record's method.
    pub fn action(&self) -> &str {
        &self.rpc.name
    }

    pub fn idempotency_key(&self) -> Option<&IdempotencyKey> {
        self.key.as_ref()
    }

    /// When the caller stops waiting, if it said.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Time left before the caller's deadline (`None`: no deadline).
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline.map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// What a call to another part made while handling this one carries: the caller's
    /// token (the other part checks the same person), the request id, and the current
    /// span's trace context.
    pub fn outgoing_metadata(&self) -> MetadataMap {
        let mut headers = http::HeaderMap::new();
        crate::telemetry::inject_current(&mut headers);
        let mut md = MetadataMap::from_headers(headers);
        if let Some(auth) = &self.authorization {
            md.insert("authorization", auth.clone());
        }
        if let Some(id) = &self.request_id {
            md.insert("x-request-id", id.clone());
        }
        md
    }

    /// A page of a list call, its token bound to this RPC and `query` (the filters), so a
    /// token cannot be replayed on another list or with other filters.
    pub fn page(&self, page_size: i32, page_token: &str, query: &str) -> Result<Page, ApiError> {
        Page::parse(page_size, page_token, &format!("{}|{query}", self.rpc.name))
    }

    /// Runs `body` in a write transaction, at most once per idempotency key: the first
    /// result is stored with the change and a retry gets it back. `body` records what it
    /// changed through [`Mutation::changed`]; the change, its audit entries, its change-feed
    /// rows and the stored result commit together or not at all.
    pub async fn mutate<Req, Resp>(
        &self,
        db: &Db,
        request: &Req,
        body: impl AsyncFnOnce(&mut Mutation<'_>) -> Result<Resp, ApiError>,
    ) -> Result<Resp, ApiError>
    where
        Req: prost::Message,
        Resp: prost::Message + Default,
    {
        idempotency::once(db, &self.principal, self.action(), self.key.as_ref(), request, async |tx| {
            let mut mutation = Mutation { tx, call: self };
            body(&mut mutation).await
        })
        .await
    }

    /// Audits a read of unmasked PII (its own transaction), as `<rpc>:unmasked`.
    pub async fn audit_unmasked_read(
        &self,
        db: &Db,
        target: &str,
        region_code: &str,
        detail: serde_json::Value,
    ) -> Result<(), ApiError> {
        let action = format!("{}:unmasked", self.action());
        audit::record_pii_read(
            db,
            &self.principal,
            AuditRecord { action: &action, target, region_code, detail },
        )
        .await
        .map_err(ApiError::from)
    }
}

/// A request made inside the process (the demo seed), admitted as the kit's layer
/// would admit it over the network: the permission is checked the same way.
pub fn local_request<T>(principal: &Principal, path: &str, message: T) -> Result<Request<T>, ApiError> {
    let rpc = Rpcs::suite().get(path).ok_or_else(|| ApiError::internal(format!("no RPC at {path}")))?;
    crate::permission::check(principal, rpc)?;
    let mut request = Request::new(message);
    request.extensions_mut().insert(Caller {
        principal: principal.clone(),
        rpc: rpc.clone(),
        received: Instant::now(),
    });
    Ok(request)
}

/// One changed record, as a handler reports it: its audit entry and its change-feed row
/// follow from it (the action is the call's RPC).
#[derive(Debug, Clone)]
pub struct Changed<'a> {
    /// A value name of the service's `Entity` enum: `pb::Entity::Cadre.as_str_name()`.
    pub entity: &'static str,
    pub key: &'a str,
    pub operation: Operation,
    pub region_code: &'a str,
    /// The region the record left, when the change moved it; else empty.
    pub previous_region_code: &'a str,
    pub revision: i64,
    /// What the audit entry says beyond who, what and where; never PII in clear.
    pub detail: serde_json::Value,
}

impl<'a> Changed<'a> {
    /// A record created (revision 1).
    pub fn created(
        entity: &'static str,
        key: &'a str,
        region_code: &'a str,
        detail: serde_json::Value,
    ) -> Self {
        Self {
            entity,
            key,
            operation: Operation::Created,
            region_code,
            previous_region_code: "",
            revision: 1,
            detail,
        }
    }

    /// A record changed in place, now at `revision`.
    pub fn updated(
        entity: &'static str,
        key: &'a str,
        region_code: &'a str,
        revision: i64,
        detail: serde_json::Value,
    ) -> Self {
        Self {
            entity,
            key,
            operation: Operation::Updated,
            region_code,
            previous_region_code: "",
            revision,
            detail,
        }
    }

    /// A record written whole at `revision`: created at 1, updated after.
    pub fn written(
        entity: &'static str,
        key: &'a str,
        region_code: &'a str,
        revision: i64,
        detail: serde_json::Value,
    ) -> Self {
        let operation = if revision == 1 { Operation::Created } else { Operation::Updated };
        Self { operation, ..Self::updated(entity, key, region_code, revision, detail) }
    }

    /// The change moved the record out of `previous` (when it differs from its region now).
    pub fn moved_from(self, previous: &'a str) -> Self {
        let previous_region_code = if previous == self.region_code { "" } else { previous };
        Self { previous_region_code, ..self }
    }
}

/// The transaction of a [`Call::mutate`], which knows whose call it runs for.
pub struct Mutation<'a> {
    tx: &'a mut WriteTx,
    call: &'a Call,
}

impl std::ops::Deref for Mutation<'_> {
    type Target = WriteTx;
    fn deref(&self) -> &WriteTx {
        self.tx
    }
}

impl std::ops::DerefMut for Mutation<'_> {
    fn deref_mut(&mut self) -> &mut WriteTx {
        self.tx
    }
}

impl Mutation<'_> {
    pub fn call(&self) -> &Call {
        self.call
    }

    pub fn principal(&self) -> &Principal {
        &self.call.principal
    }

    /// Records one changed record: its audit entry and its change-feed row.
    pub async fn changed(&mut self, c: Changed<'_>) -> Result<(), ApiError> {
        let target = target_of(c.entity, c.key);
        audit::append(
            self.tx,
            &self.call.principal,
            AuditRecord {
                action: self.call.action(),
                target: &target,
                region_code: c.region_code,
                detail: c.detail,
            },
        )
        .await?;
        changes::record(
            self.tx,
            ChangeRecord {
                entity: c.entity,
                key: c.key,
                operation: c.operation,
                region_code: c.region_code,
                previous_region_code: c.previous_region_code,
                revision: c.revision,
            },
        )
        .await?;
        Ok(())
    }

    /// Records a bulk change (an import): one audit entry for the whole, and a
    /// change-feed row per record, written with bulk statements.
    pub async fn changed_in_bulk(
        &mut self,
        target: &str,
        region_code: &str,
        detail: serde_json::Value,
        records: &[ChangeRecord<'_>],
    ) -> Result<(), ApiError> {
        audit::append(
            self.tx,
            &self.call.principal,
            AuditRecord { action: self.call.action(), target, region_code, detail },
        )
        .await?;
        changes::record_many(self.tx, records).await?;
        Ok(())
    }
}

/// The audit target of a record: `cadre/0193…` for `ENTITY_CADRE`.
fn target_of(entity: &str, key: &str) -> String {
    let kind = entity.strip_prefix("ENTITY_").unwrap_or(entity).to_ascii_lowercase();
    format!("{kind}/{key}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::principal::Role;
    use crate::region_code::RegionCode;

    fn county_admin() -> Principal {
        Principal {
            subject: "admin".into(),
            roles: [Role::CountyAdmin].into(),
            jurisdiction: RegionCode::parse("150525000000").unwrap(),
        }
    }

    #[test]
    fn a_call_knows_its_rpc_from_the_request_and_its_deadline_from_grpc_timeout() {
        let mut request =
            local_request(&county_admin(), "/cadre.roster.v1.CadreService/GetCadre", ()).unwrap();
        request.metadata_mut().insert("grpc-timeout", "250m".parse().unwrap());
        request.metadata_mut().insert("authorization", "Bearer t".parse().unwrap());
        let call = Call::of(&request).unwrap();
        assert_eq!(call.action(), "cadre.roster.v1.CadreService/GetCadre");
        let left = call.remaining().unwrap();
        assert!(left <= Duration::from_millis(250) && left > Duration::from_millis(100), "{left:?}");
        assert_eq!(call.outgoing_metadata().get("authorization").unwrap(), "Bearer t");
    }

    #[test]
    fn in_process_requests_obey_the_declared_permission() {
        let auditor = Principal { roles: [Role::Auditor].into(), ..county_admin() };
        let err = local_request(&auditor, "/cadre.roster.v1.CadreService/CreateCadre", ()).unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::PermissionDenied);
        assert!(Call::of(&Request::new(())).is_err(), "a request the layer did not admit has no caller");
    }

    #[test]
    fn page_tokens_are_bound_to_the_rpc() {
        let list = Call::of(
            &local_request(&county_admin(), "/cadre.roster.v1.CadreService/ListCadres", ()).unwrap(),
        )
        .unwrap();
        let posts =
            Call::of(&local_request(&county_admin(), "/cadre.roster.v1.PostService/ListPosts", ()).unwrap())
                .unwrap();
        let page = list.page(1, "", "q").unwrap();
        let mut rows = vec!["a".to_string(), "b".to_string()];
        let token = page.finish(&mut rows, |r| r.clone());
        assert!(list.page(1, &token, "q").is_ok());
        assert!(posts.page(1, &token, "q").is_err());
    }

    #[test]
    fn audit_targets_read_like_paths() {
        assert_eq!(target_of("ENTITY_MENTOR_PAIRING", "p1"), "mentor_pairing/p1");
    }
}
