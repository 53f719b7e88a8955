//! Balanced gRPC channels to every part, a raw unary call over them (protobuf bytes
//! in, bytes out), and load shedding when too many calls are in flight.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use http::uri::PathAndQuery;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::MetadataMap;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};

use crate::GatewayError;

/// The channel to one part, balanced over all its endpoints.
#[derive(Clone)]
pub struct Upstream {
    pub part: String,
    pub channel: Channel,
    /// How many endpoints the channel balances over.
    endpoints: usize,
    permits: Arc<Semaphore>,
}

impl Upstream {
    /// Connects lazily: endpoints that are down at start are retried per call.
    pub fn new(part: &str, urls: &[String], concurrency_limit: usize) -> Result<Self, GatewayError> {
        if urls.is_empty() {
            return Err(GatewayError::NoEndpoints(part.to_string()));
        }
        let mut endpoints = Vec::with_capacity(urls.len());
        for url in urls {
            let bad =
                |reason: String| GatewayError::BadUpstream { part: part.into(), url: url.clone(), reason };
            let endpoint = Endpoint::from_shared(url.clone()).map_err(|e| bad(e.to_string()))?;
            if endpoint.uri().host().is_none() {
                return Err(bad("expected http://host:port".into()));
            }
            endpoints.push(
                endpoint
                    .connect_timeout(Duration::from_secs(3))
                    .tcp_nodelay(true)
                    .http2_keep_alive_interval(Duration::from_secs(30))
                    .keep_alive_timeout(Duration::from_secs(10))
                    .keep_alive_while_idle(true),
            );
        }
        Ok(Self {
            part: part.to_string(),
            endpoints: endpoints.len(),
            channel: Channel::balance_list(endpoints.into_iter()),
            permits: Arc::new(Semaphore::new(concurrency_limit.max(1))),
        })
    }

    /// How many endpoints are configured (lazily connected: some may be down).
    pub fn endpoints(&self) -> usize {
        self.endpoints
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
        deadline: Duration,
    ) -> Result<Bytes, CallError> {
        let _permit = self.permit()?;
        Ok(self.call(path, metadata, body, deadline).await?)
    }

    /// One unary call with an encoded request, outside load shedding (the gateway's
    /// own health checks; traffic goes through [`Upstream::unary`]). The deadline is
    /// sent as `grpc-timeout` and enforced here too. A call that never reached a server
    /// (connection refused by a replica that is down) is tried again on another
    /// endpoint, whatever its method.
    pub(crate) async fn call(
        &self,
        path: &str,
        metadata: MetadataMap,
        body: Bytes,
        deadline: Duration,
    ) -> Result<Bytes, Status> {
        let path =
            PathAndQuery::try_from(path).map_err(|e| Status::internal(format!("bad path {path}: {e}")))?;
        let call = async {
            let mut attempt = 0;
            loop {
                attempt += 1;
                match self.attempt(&path, metadata.clone(), body.clone(), deadline).await {
                    Err(status) if attempt < CONNECT_ATTEMPTS && never_sent(&status) => continue,
                    other => return other,
                }
            }
        };
        let late = || Status::deadline_exceeded(format!("{} did not answer within {deadline:?}", self.part));
        match tokio::time::timeout(deadline, call).await {
            // A service ends a call past its `grpc-timeout` as CANCELLED; to the caller
            // of the gateway that is the deadline passing.
            Ok(Err(status)) if status.code() == tonic::Code::Cancelled => Err(late()),
            Ok(result) => result,
            Err(_) => Err(late()),
        }
    }

    /// One try of a unary call on whichever endpoint the balancer picks.
    async fn attempt(
        &self,
        path: &PathAndQuery,
        metadata: MetadataMap,
        body: Bytes,
        deadline: Duration,
    ) -> Result<Bytes, Status> {
        let mut request = Request::from_parts(metadata, Default::default(), body);
        request.set_timeout(deadline);
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        grpc.ready().await.map_err(|e| Status::unavailable(format!("{} unavailable: {e}", self.part)))?;
        grpc.unary(request, path.clone(), BytesCodec).await.map(tonic::Response::into_inner)
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

/// Tries per call when endpoints refuse connections.
const CONNECT_ATTEMPTS: usize = 4;

/// Whether the call failed while connecting, so no server saw it and another endpoint
/// may take it whatever its method. Decided by error types, never by message text.
///
/// tonic wraps every failure of its connector (name lookup, TCP connect, TLS
/// handshake: all before a byte of the request is written) in [`tonic::ConnectError`];
/// a refused connection reaches us as `Status` → `tonic::transport::Error` →
/// `tonic::ConnectError` → hyper-util's `ConnectError` ("tcp connect error") →
/// `io::Error` (ConnectionRefused). The io kinds in [`NEVER_SENT`] are matched on their
/// own as well, in case a connector reports them unwrapped.
fn never_sent(status: &Status) -> bool {
    if status.code() != tonic::Code::Unavailable {
        return false;
    }
    let mut source = std::error::Error::source(status);
    while let Some(e) = source {
        if e.is::<tonic::ConnectError>() {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && NEVER_SENT.contains(&io.kind())
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// io error kinds the OS reports only from `connect(2)`/`bind(2)`, so the request
/// cannot have left: a reset (RST) during the handshake is ConnectionRefused, while
/// on an established connection it is ConnectionReset; AddrNotAvailable is a local
/// address or port that could not be assigned. HostUnreachable and NetworkUnreachable
/// are not here: Linux also reports them on an established socket whose
/// retransmissions time out, after the request may have been delivered (inside a
/// `tonic::ConnectError` they do count).
const NEVER_SENT: [std::io::ErrorKind; 2] =
    [std::io::ErrorKind::ConnectionRefused, std::io::ErrorKind::AddrNotAvailable];

/// Every part's upstream, looked up by gRPC service name.
#[derive(Clone)]
pub struct Parts {
    by_part: BTreeMap<String, Upstream>,
    /// Where `grpc.health.v1` and `grpc.reflection.*` go: "roster" or the first part.
    default_part: Option<String>,
}

impl Parts {
    pub fn new(
        upstreams: &BTreeMap<String, Vec<String>>,
        concurrency_limit: usize,
    ) -> Result<Self, GatewayError> {
        let mut by_part = BTreeMap::new();
        for (part, urls) in upstreams {
            by_part.insert(part.clone(), Upstream::new(part, urls, concurrency_limit)?);
        }
        let default_part = if by_part.contains_key("roster") {
            Some("roster".to_string())
        } else {
            by_part.keys().next().cloned()
        };
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

    #[tokio::test]
    async fn parts_are_checked_and_routed() {
        let mut map = BTreeMap::new();
        map.insert(
            "roster".to_string(),
            vec!["http://127.0.0.1:1".to_string(), "http://127.0.0.1:2".to_string()],
        );
        let parts = Parts::new(&map, 4).expect("parts");
        assert_eq!(parts.for_service("cadre.roster.v1.PostService").map(|u| u.part.as_str()), Some("roster"));
        assert_eq!(parts.for_service("grpc.health.v1.Health").map(|u| u.part.as_str()), Some("roster"));
        assert!(parts.for_service("cadre.training.v1.X").is_none());
        assert!(parts.for_service("foo.Bar").is_none());

        map.insert("training".to_string(), vec![]);
        assert!(matches!(Parts::new(&map, 4), Err(GatewayError::NoEndpoints(p)) if p == "training"));
        map.insert("training".to_string(), vec!["not a url".to_string()]);
        assert!(matches!(Parts::new(&map, 4), Err(GatewayError::BadUpstream { .. })));
    }

    #[tokio::test]
    async fn saturation_sheds_and_a_dead_upstream_is_unavailable() {
        let up = Upstream::new("roster", &["http://127.0.0.1:1".to_string()], 1).expect("upstream");
        let held = up.permit().expect("first permit");
        assert_eq!(Status::from(up.permit().expect_err("shed")).code(), tonic::Code::Unavailable);
        let shed = up
            .unary(GET_CADRE, MetadataMap::new(), Bytes::new(), Duration::from_secs(2))
            .await
            .expect_err("saturated");
        assert!(matches!(shed, CallError::Shed(Shed { ref part }) if part == "roster"), "{shed:?}");
        drop(held);
        let err = up
            .unary(
                "/cadre.roster.v1.CadreService/GetCadre",
                MetadataMap::new(),
                Bytes::new(),
                Duration::from_secs(2),
            )
            .await
            .expect_err("nothing listens on port 1");
        let CallError::Status(err) = err else { panic!("a free slot is not shed: {err:?}") };
        assert!(matches!(err.code(), tonic::Code::Unavailable | tonic::Code::DeadlineExceeded), "{err:?}");
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
    async fn a_refused_connection_was_never_sent() {
        let up = Upstream::new("roster", &[format!("http://{}", closed_port())], 1).expect("upstream");
        let path = PathAndQuery::from_static(GET_CADRE);
        let status = up
            .attempt(&path, MetadataMap::new(), Bytes::new(), Duration::from_secs(2))
            .await
            .expect_err("nothing listens there");
        assert!(never_sent(&status), "{status:?}");
    }

    #[tokio::test]
    async fn a_call_the_server_answered_was_sent() {
        let (addr, calls) = busy_server().await;
        let up = Upstream::new("roster", &[format!("http://{addr}")], 1).expect("upstream");
        let path = PathAndQuery::from_static(GET_CADRE);
        let status = up
            .attempt(&path, MetadataMap::new(), Bytes::new(), Duration::from_secs(2))
            .await
            .expect_err("the server is busy");
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert!(!never_sent(&status), "{status:?}");
        // So it is not tried again on another endpoint.
        up.unary(GET_CADRE, MetadataMap::new(), Bytes::new(), Duration::from_secs(2))
            .await
            .expect_err("still busy");
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[test]
    fn never_sent_reads_error_kinds_not_messages() {
        let with_source = |source: Arc<dyn std::error::Error + Send + Sync>| {
            let mut status = Status::unavailable("upstream unavailable");
            status.set_source(source);
            status
        };
        let io = |kind: std::io::ErrorKind| Arc::new(std::io::Error::from(kind));
        assert!(never_sent(&with_source(io(std::io::ErrorKind::ConnectionRefused))));
        assert!(never_sent(&with_source(io(std::io::ErrorKind::AddrNotAvailable))));
        // Whatever failed while connecting (here a timeout) was not sent.
        let connect = tonic::ConnectError(Box::new(std::io::Error::from(std::io::ErrorKind::TimedOut)));
        assert!(never_sent(&with_source(Arc::new(connect))));
        // A reset or an unreachable host on an open connection may follow delivery.
        assert!(!never_sent(&with_source(io(std::io::ErrorKind::ConnectionReset))));
        assert!(!never_sent(&with_source(io(std::io::ErrorKind::HostUnreachable))));
        // Words in a message prove nothing.
        assert!(!never_sent(&with_source(Arc::new(std::io::Error::other("tcp connect error")))));
        // Only UNAVAILABLE is ever a connect failure.
        let mut cancelled = Status::cancelled("gone");
        cancelled.set_source(io(std::io::ErrorKind::ConnectionRefused));
        assert!(!never_sent(&cancelled));
    }
}
