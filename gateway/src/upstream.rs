//! Every part's balanced client (the kit's: endpoints from a fixed list or a DNS name
//! re-resolved, power of two choices over calls in flight, retries only where safe), a
//! raw unary call over it (protobuf bytes in, bytes out), and load shedding when too
//! many calls are in flight.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes};
use cadre_kit::client::{ClientSettings, Idempotent, PartChannel, PartClient, Target};
use http::uri::PathAndQuery;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::MetadataMap;
use tonic::{Request, Status};

use crate::GatewayError;

/// The longest a call through the gateway may run when neither its client nor the
/// gateway set a shorter deadline: a passthrough stream (WatchChanges) stays open up to
/// a day, then its client resumes from the last position it saw.
const STREAM_DEADLINE: Duration = Duration::from_secs(86_400);

/// The client of one part, balanced over all its endpoints.
#[derive(Clone)]
pub struct Upstream {
    pub part: String,
    client: PartClient,
    permits: Arc<Semaphore>,
    bulk: BulkPool,
}

/// Bulk calls (imports, client streams) of one part: a pool of their own, apart from
/// ordinary calls, and a share per caller, so one county's imports cannot take the slots
/// another county's reads need, nor all the import slots.
#[derive(Clone)]
struct BulkPool {
    permits: Arc<Semaphore>,
    limit: usize,
    per_caller: usize,
    callers: Arc<Mutex<HashMap<String, usize>>>,
}

/// How many calls an upstream may have in flight.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Ordinary calls in flight.
    pub calls: usize,
    /// Bulk calls in flight, in a pool of their own.
    pub bulk: usize,
    /// Bulk calls in flight per caller.
    pub bulk_per_caller: usize,
}

/// A slot held for the length of a call: ordinary or bulk.
pub enum Slot {
    Ordinary(OwnedSemaphorePermit),
    Bulk(BulkSlot),
}

/// A bulk slot: gives back the part's permit and the caller's share when dropped.
#[derive(Debug)]
pub struct BulkSlot {
    _permit: OwnedSemaphorePermit,
    caller: String,
    callers: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for BulkSlot {
    fn drop(&mut self) {
        let mut callers = self.callers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = callers.get_mut(&self.caller) {
            *n -= 1;
            if *n == 0 {
                callers.remove(&self.caller);
            }
        }
    }
}

/// How long a caller refused a bulk slot is told to wait: an import takes seconds.
pub const BULK_RETRY_AFTER_SECS: u64 = 5;

/// A bulk call refused: the part's bulk pool or the caller's share of it is full. Shed,
/// not queued: the caller is told when to try again.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "{what} already has {limit} bulk calls (imports, streams) in flight to {part}; retry after {BULK_RETRY_AFTER_SECS} s"
)]
pub struct BulkBusy {
    pub part: String,
    pub what: &'static str,
    pub limit: usize,
}

impl From<BulkBusy> for Status {
    fn from(busy: BulkBusy) -> Self {
        let mut status = Status::resource_exhausted(busy.to_string());
        status.metadata_mut().insert("retry-after", BULK_RETRY_AFTER_SECS.into());
        status
    }
}

impl Upstream {
    /// Connects lazily: endpoints that are down at start are tried per call, and a DNS
    /// target is resolved again every `client.refresh`.
    pub fn new(
        part: &str,
        target: &Target,
        client: &ClientSettings,
        limits: Limits,
    ) -> Result<Self, GatewayError> {
        // Deadlines are the gateway's to set per call (REST and unary passthrough get
        // `gateway.default_deadline_ms`); the client's own default only bounds streams.
        let settings = ClientSettings { default_deadline: STREAM_DEADLINE, ..client.clone() };
        let client = PartClient::new(part, target, &settings).map_err(|e| GatewayError::BadUpstream {
            part: part.into(),
            url: target.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            part: part.to_string(),
            client,
            permits: Arc::new(Semaphore::new(limits.calls.max(1))),
            bulk: BulkPool {
                permits: Arc::new(Semaphore::new(limits.bulk.max(1))),
                limit: limits.bulk.max(1),
                per_caller: limits.bulk_per_caller.max(1),
                callers: Arc::default(),
            },
        })
    }

    /// The balanced channel, for passthrough.
    pub fn channel(&self) -> PartChannel {
        self.client.channel()
    }

    /// How many endpoints are known now (lazily connected: some may be down).
    pub fn endpoints(&self) -> usize {
        self.client.endpoints()
    }

    /// A slot for one call, or [`Shed`] when the part is saturated (shed, not queued).
    pub fn permit(&self) -> Result<OwnedSemaphorePermit, Shed> {
        self.permits.clone().try_acquire_owned().map_err(|_| Shed { part: self.part.clone() })
    }

    /// A slot in the part's bulk pool for `caller`, or [`BulkBusy`] when the pool or
    /// the caller's share of it is full (shed, not queued).
    pub fn bulk_permit(&self, caller: &str) -> Result<BulkSlot, BulkBusy> {
        let pool = &self.bulk;
        let mut callers = pool.callers.lock().unwrap_or_else(|p| p.into_inner());
        let held = callers.get(caller).copied().unwrap_or(0);
        if held >= pool.per_caller {
            return Err(BulkBusy { part: self.part.clone(), what: "this caller", limit: pool.per_caller });
        }
        let permit = pool.permits.clone().try_acquire_owned().map_err(|_| BulkBusy {
            part: self.part.clone(),
            what: "the gateway",
            limit: pool.limit,
        })?;
        callers.insert(caller.to_string(), held + 1);
        Ok(BulkSlot { _permit: permit, caller: caller.to_string(), callers: pool.callers.clone() })
    }

    /// The slot a call takes: a bulk one for `caller` if `bulk`, else an ordinary one.
    pub fn slot(&self, bulk: bool, caller: &str) -> Result<Slot, CallError> {
        if bulk { Ok(Slot::Bulk(self.bulk_permit(caller)?)) } else { Ok(Slot::Ordinary(self.permit()?)) }
    }

    /// One unary call with an encoded request, in a slot of the part's (see
    /// [`Upstream::call`]; `slot` says which), or [`CallError`] when there is none.
    pub async fn unary(
        &self,
        path: &str,
        metadata: MetadataMap,
        body: Bytes,
        idempotent: Idempotent,
        deadline: Duration,
        slot: (bool, &str),
    ) -> Result<Bytes, CallError> {
        let _slot = self.slot(slot.0, slot.1)?;
        Ok(self.call(path, metadata, body, idempotent, deadline).await?)
    }

    /// One unary call with an encoded request, outside load shedding (the gateway's own
    /// health checks; traffic goes through [`Upstream::unary`]). The deadline is sent as
    /// `grpc-timeout` and enforced here too. The kit's client tries again on another
    /// endpoint a call that never reached a server, and an `idempotent` one that a
    /// replica answered UNAVAILABLE, within its retry budget.
    pub(crate) async fn call(
        &self,
        path: &str,
        metadata: MetadataMap,
        body: Bytes,
        idempotent: Idempotent,
        deadline: Duration,
    ) -> Result<Bytes, Status> {
        let path =
            PathAndQuery::try_from(path).map_err(|e| Status::internal(format!("bad path {path}: {e}")))?;
        let at = Instant::now() + deadline;
        self.client
            .call(idempotent, Some(at), &metadata, |channel| {
                let (path, body) = (path.clone(), body.clone());
                async move {
                    let mut grpc = tonic::client::Grpc::new(channel);
                    grpc.ready().await.map_err(|e| Status::unavailable(e.to_string()))?;
                    let request = Request::new(body);
                    grpc.unary(request, path, BytesCodec).await.map(tonic::Response::into_inner)
                }
            })
            .await
    }
}

/// A call refused by the gateway's own load shedding: the part has as many calls in
/// flight as it may, so this one never left the gateway. Not to be retried: a second
/// try would add load exactly when the part is saturated.
#[derive(Debug, Clone, thiserror::Error)]
#[error("too many calls in flight to {part}; retry later")]
pub struct Shed {
    pub part: String,
}

impl From<Shed> for Status {
    fn from(shed: Shed) -> Self {
        Status::unavailable(shed.to_string())
    }
}

/// Why [`Upstream::unary`] has no reply: shed by the gateway, or the part's own
/// status (UNAVAILABLE included) when the call was made.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Shed(#[from] Shed),
    #[error(transparent)]
    BulkBusy(#[from] BulkBusy),
    #[error(transparent)]
    Status(#[from] Status),
}

impl From<CallError> for Status {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Shed(shed) => shed.into(),
            CallError::BulkBusy(busy) => busy.into(),
            CallError::Status(status) => status,
        }
    }
}

/// Where every part is, in the registry's order: the first part also answers health
/// and reflection through the gateway.
#[derive(Debug, Clone, Default)]
pub struct Upstreams {
    pub parts: Vec<(String, Target)>,
    pub client: ClientSettings,
}

/// Every part's upstream, looked up by gRPC service name.
#[derive(Clone)]
pub struct Parts {
    by_part: BTreeMap<String, Upstream>,
    /// Where `grpc.health.v1` and `grpc.reflection.*` go: the first part.
    default_part: Option<String>,
}

impl Parts {
    pub fn new(upstreams: &Upstreams, limits: Limits) -> Result<Self, GatewayError> {
        let mut by_part = BTreeMap::new();
        for (part, target) in &upstreams.parts {
            by_part.insert(part.clone(), Upstream::new(part, target, &upstreams.client, limits)?);
        }
        let default_part = upstreams.parts.first().map(|(part, _)| part.clone());
        Ok(Self { by_part, default_part })
    }

    pub fn get(&self, part: &str) -> Option<&Upstream> {
        self.by_part.get(part)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Upstream> {
        self.by_part.values()
    }

    /// `cadre.<part>.v1.X` → that part; `grpc.health.*` / `grpc.reflection.*` → the default part.
    pub fn for_service(&self, service: &str) -> Option<&Upstream> {
        match part_of(service) {
            Some(part) => self.by_part.get(part),
            None if is_open_service(service) => {
                self.default_part.as_deref().and_then(|p| self.by_part.get(p))
            }
            None => None,
        }
    }
}

/// The part that serves a gRPC service: `cadre.roster.v1.CadreService` → `roster`.
pub fn part_of(service: &str) -> Option<&str> {
    let mut pieces = service.split('.');
    match (pieces.next(), pieces.next(), pieces.next(), pieces.next()) {
        (Some("cadre"), Some(part), Some(_version), Some(_)) if !part.is_empty() => Some(part),
        _ => None,
    }
}

/// Services reachable without a token: health and reflection.
pub fn is_open_service(service: &str) -> bool {
    service.starts_with("grpc.health.") || service.starts_with("grpc.reflection.")
}

/// Passes already-encoded protobuf bytes through unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesCodec;

impl Codec for BytesCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = BytesCodec;
    type Decoder = BytesCodec;

    fn encoder(&mut self) -> Self::Encoder {
        BytesCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        BytesCodec
    }
}

impl Encoder for BytesCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for BytesCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_map_to_parts() {
        assert_eq!(part_of("cadre.roster.v1.CadreService"), Some("roster"));
        assert_eq!(part_of("cadre.training.v1.CourseService"), Some("training"));
        assert_eq!(part_of("grpc.health.v1.Health"), None);
        assert_eq!(part_of("cadre.roster"), None);
        assert!(is_open_service("grpc.reflection.v1alpha.ServerReflection"));
        assert!(!is_open_service("cadre.roster.v1.CadreService"));
    }

    fn target(value: &str) -> Target {
        Target::parse(value).expect("a target")
    }

    fn one(part: &str, value: &str) -> Upstreams {
        Upstreams { parts: vec![(part.to_string(), target(value))], client: ClientSettings::default() }
    }

    #[tokio::test]
    async fn parts_are_routed_and_the_first_answers_health() {
        let upstreams = Upstreams {
            parts: vec![
                ("roster".into(), target("http://127.0.0.1:1,http://127.0.0.1:2")),
                ("training".into(), target("dns://training-headless:50051")),
            ],
            client: ClientSettings::default(),
        };
        let parts = Parts::new(&upstreams, limits(4)).expect("parts");
        assert_eq!(parts.for_service("cadre.roster.v1.PostService").map(|u| u.part.as_str()), Some("roster"));
        assert_eq!(parts.for_service("cadre.training.v1.X").map(|u| u.part.as_str()), Some("training"));
        assert_eq!(parts.for_service("grpc.health.v1.Health").map(|u| u.part.as_str()), Some("roster"));
        assert!(parts.for_service("cadre.incentive.v1.X").is_none());
        assert!(parts.for_service("foo.Bar").is_none());
    }

    /// A local port that was free a moment ago: nothing listens on it.
    fn closed_port() -> std::net::SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    }

    /// A server that takes every call and answers UNAVAILABLE itself, counting them.
    async fn busy_server() -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = calls.clone();
        let app = axum::Router::new().fallback(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { Status::unavailable("busy").into_http::<axum::body::Body>() }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(axum::serve(listener, app).into_future());
        (addr, calls)
    }

    fn limits(n: usize) -> Limits {
        Limits { calls: n, bulk: 2, bulk_per_caller: 1 }
    }

    #[tokio::test]
    async fn bulk_calls_have_a_pool_of_their_own_and_a_share_per_caller() {
        let parts =
            Parts::new(&one("roster", &format!("http://{}", closed_port())), limits(1)).expect("parts");
        let up = parts.get("roster").expect("roster");
        let ordinary = up.permit().expect("an ordinary slot");
        // The ordinary pool is full; imports still get slots, one per caller.
        let a = up.bulk_permit("county-a").expect("a's import");
        let busy = up.bulk_permit("county-a").expect_err("a's second import");
        assert_eq!(busy.what, "this caller");
        let status = Status::from(busy);
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        assert_eq!(status.metadata().get("retry-after").map(|v| v.to_str().unwrap()), Some("5"));
        let b = up.bulk_permit("county-b").expect("b's import");
        let busy = up.bulk_permit("county-c").expect_err("the bulk pool is full");
        assert_eq!((busy.what, busy.limit), ("the gateway", 2));
        // Imports do not take ordinary slots: freeing one lets a read in, and a finished
        // import gives its caller's share back.
        drop(ordinary);
        let _read = up.permit().expect("a read");
        drop(a);
        let _again = up.bulk_permit("county-a").expect("a's next import");
        drop(b);
        assert_eq!(up.bulk.callers.lock().unwrap().len(), 1, "b's share is forgotten");
    }

    const GET_CADRE: &str = "/cadre.roster.v1.CadreService/GetCadre";

    #[tokio::test]
    async fn saturation_sheds_and_a_dead_upstream_is_unavailable() {
        let up = Parts::new(&one("roster", &format!("http://{}", closed_port())), limits(1)).expect("parts");
        let up = up.get("roster").expect("roster");
        let held = up.permit().expect("first permit");
        assert_eq!(Status::from(up.permit().expect_err("shed")).code(), tonic::Code::Unavailable);
        let shed = up
            .unary(
                GET_CADRE,
                MetadataMap::new(),
                Bytes::new(),
                Idempotent::Yes,
                Duration::from_secs(2),
                (false, "t"),
            )
            .await
            .expect_err("saturated");
        assert!(matches!(shed, CallError::Shed(Shed { ref part }) if part == "roster"), "{shed:?}");
        drop(held);
        let err = up
            .unary(
                GET_CADRE,
                MetadataMap::new(),
                Bytes::new(),
                Idempotent::Yes,
                Duration::from_secs(2),
                (false, "t"),
            )
            .await
            .expect_err("nothing listens there");
        let CallError::Status(err) = err else { panic!("a free slot is not shed: {err:?}") };
        assert!(matches!(err.code(), tonic::Code::Unavailable | tonic::Code::DeadlineExceeded), "{err:?}");
    }

    #[tokio::test]
    async fn an_answered_call_is_tried_again_only_when_idempotent() {
        let (addr, calls) = busy_server().await;
        let parts = Parts::new(&one("roster", &format!("http://{addr}")), limits(4)).expect("parts");
        let up = parts.get("roster").expect("roster");
        let count = || calls.load(std::sync::atomic::Ordering::SeqCst);
        let err = up
            .unary(
                GET_CADRE,
                MetadataMap::new(),
                Bytes::new(),
                Idempotent::No,
                Duration::from_secs(2),
                (false, "t"),
            )
            .await
            .expect_err("the server is busy");
        assert!(matches!(err, CallError::Status(ref s) if s.code() == tonic::Code::Unavailable), "{err:?}");
        assert_eq!(count(), 1, "a call with side effects reached the server once and is not repeated");
        up.unary(
            GET_CADRE,
            MetadataMap::new(),
            Bytes::new(),
            Idempotent::Yes,
            Duration::from_secs(2),
            (false, "t"),
        )
        .await
        .expect_err("still busy");
        assert!(count() > 2, "an idempotent call is tried again: {} calls", count());
    }
}
