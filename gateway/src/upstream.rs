//! Every part's balanced client (the kit's: endpoints from a fixed list or a DNS name
//! re-resolved, power of two choices over calls in flight, retries only where safe), a
//! raw unary call over it (protobuf bytes in, bytes out), and load shedding when too
//! many calls are in flight.

use std::collections::BTreeMap;
use std::sync::Arc;
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
}

impl Upstream {
    /// Connects lazily: endpoints that are down at start are tried per call, and a DNS
    /// target is resolved again every `client.refresh`.
    pub fn new(
        part: &str,
        target: &Target,
        client: &ClientSettings,
        concurrency_limit: usize,
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
            permits: Arc::new(Semaphore::new(concurrency_limit.max(1))),
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

    /// One unary call with an encoded request, in one of the part's slots (see
    /// [`Upstream::call`]), or [`Shed`] when there is none.
    pub async fn unary(
        &self,
        path: &str,
        metadata: MetadataMap,
        body: Bytes,
        idempotent: Idempotent,
        deadline: Duration,
    ) -> Result<Bytes, CallError> {
        let _permit = self.permit()?;
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
    Status(#[from] Status),
}

impl From<CallError> for Status {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Shed(shed) => shed.into(),
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
    pub fn new(upstreams: &Upstreams, concurrency_limit: usize) -> Result<Self, GatewayError> {
        let mut by_part = BTreeMap::new();
        for (part, target) in &upstreams.parts {
            by_part.insert(part.clone(), Upstream::new(part, target, &upstreams.client, concurrency_limit)?);
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
        let parts = Parts::new(&upstreams, 4).expect("parts");
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

    const GET_CADRE: &str = "/cadre.roster.v1.CadreService/GetCadre";

    #[tokio::test]
    async fn saturation_sheds_and_a_dead_upstream_is_unavailable() {
        let up = Parts::new(&one("roster", &format!("http://{}", closed_port())), 1).expect("parts");
        let up = up.get("roster").expect("roster");
        let held = up.permit().expect("first permit");
        assert_eq!(Status::from(up.permit().expect_err("shed")).code(), tonic::Code::Unavailable);
        let shed = up
            .unary(GET_CADRE, MetadataMap::new(), Bytes::new(), Idempotent::Yes, Duration::from_secs(2))
            .await
            .expect_err("saturated");
        assert!(matches!(shed, CallError::Shed(Shed { ref part }) if part == "roster"), "{shed:?}");
        drop(held);
        let err = up
            .unary(GET_CADRE, MetadataMap::new(), Bytes::new(), Idempotent::Yes, Duration::from_secs(2))
            .await
            .expect_err("nothing listens there");
        let CallError::Status(err) = err else { panic!("a free slot is not shed: {err:?}") };
        assert!(matches!(err.code(), tonic::Code::Unavailable | tonic::Code::DeadlineExceeded), "{err:?}");
    }

    #[tokio::test]
    async fn an_answered_call_is_tried_again_only_when_idempotent() {
        let (addr, calls) = busy_server().await;
        let parts = Parts::new(&one("roster", &format!("http://{addr}")), 4).expect("parts");
        let up = parts.get("roster").expect("roster");
        let count = || calls.load(std::sync::atomic::Ordering::SeqCst);
        let err = up
            .unary(GET_CADRE, MetadataMap::new(), Bytes::new(), Idempotent::No, Duration::from_secs(2))
            .await
            .expect_err("the server is busy");
        assert!(matches!(err, CallError::Status(ref s) if s.code() == tonic::Code::Unavailable), "{err:?}");
        assert_eq!(count(), 1, "a call with side effects reached the server once and is not repeated");
        up.unary(GET_CADRE, MetadataMap::new(), Bytes::new(), Idempotent::Yes, Duration::from_secs(2))
            .await
            .expect_err("still busy");
        assert!(count() > 2, "an idempotent call is tried again: {} calls", count());
    }
}
