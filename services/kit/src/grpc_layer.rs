//! The tower layer every gRPC server of the suite runs behind, the same for every
//! service: a span per call that continues the caller's trace; the bearer token
//! verified and the RPC's declared permission checked before any handler runs (deny by
//! default; health and reflection are open); the caller and the RPC left on the request
//! for [`crate::call::Call`]; and the call's status and latency in the metrics.
//!
//! It also holds the edge every service inherits: a unary request must be one whole,
//! well-formed message (else INVALID_ARGUMENT, not INTERNAL) whose every string is
//! within [`crate::bounds`]; a deadline that has passed is DEADLINE_EXCEEDED; and no
//! response carries a `grpc-message` longer than [`MAX_STATUS_MESSAGE_BYTES`], so no
//! handler's error can grow a header past what an HTTP/2 peer accepts (an oversized
//! header makes the gateway reset the stream, and enough resets drop its shared
//! connection to the part, failing other callers' calls).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;
use http_body::Frame;
use http_body_util::BodyExt;
use tonic::body::Body;
use tracing::Instrument;

use crate::auth::Authenticator;
use crate::call::Caller;
use crate::client::deadline::parse_grpc_timeout;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::permission::{self, RpcInfo, Rpcs};
use crate::telemetry;

/// Services reachable without a token: health (probes, balancers) and reflection
/// (grpcurl); neither reveals data.
pub fn is_open_service(service: &str) -> bool {
    service.starts_with("grpc.health.") || service.starts_with("grpc.reflection.")
}

/// The RPCs of the open services, named in metrics; any other unknown path is counted
/// as "unknown" so that no caller can grow the label set.
pub const OPEN_RPCS: [&str; 4] = [
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

#[derive(Clone, Debug)]
pub struct GrpcServerLayer {
    metrics: Metrics,
    auth: Authenticator,
}

impl GrpcServerLayer {
    pub fn new(metrics: Metrics, auth: Authenticator) -> Self {
        Self { metrics, auth }
    }
}

impl<S> tower::Layer<S> for GrpcServerLayer {
    type Service = GrpcServerService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GrpcServerService {
            inner,
            metrics: self.metrics.clone(),
            auth: self.auth.clone(),
            rpcs: Rpcs::suite(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct GrpcServerService<S> {
    inner: S,
    metrics: Metrics,
    auth: Authenticator,
    rpcs: &'static Rpcs,
}

/// Who the call is from and whether they may make it; `None` for the open services.
fn admit<B>(
    auth: &Authenticator,
    rpc: Option<&Arc<RpcInfo>>,
    req: &http::Request<B>,
) -> Result<Option<crate::Principal>, ApiError> {
    let path = req.uri().path();
    let service = path.trim_start_matches('/').split('/').next().unwrap_or_default();
    if is_open_service(service) {
        return Ok(None);
    }
    let header = req.headers().get("authorization").map(|v| v.to_str().unwrap_or("\u{0}"));
    let principal = auth.authenticate(header)?;
    if let Some(rpc) = rpc {
        permission::check(&principal, rpc)?;
    }
    Ok(Some(principal))
}

/// The call's gRPC status: unary errors are "trailers-only" responses, so the status is
/// in the headers; a successful response carries none there.
fn status_of(headers: &http::HeaderMap) -> tonic::Code {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map_or(tonic::Code::Ok, tonic::Code::from_i32)
}

impl<S> tower::Service<http::Request<Body>> for GrpcServerService<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        let started = Instant::now();
        let rpc = self.rpcs.get(req.uri().path()).cloned();
        // Labels and span names only from declared RPCs: a caller cannot invent new ones.
        let label: &str = match &rpc {
            Some(rpc) => &rpc.name,
            None => OPEN_RPCS
                .iter()
                .find(|p| **p == req.uri().path())
                .map_or("unknown", |p| p.trim_start_matches('/')),
        };
        let label = label.to_string();
        let span = tracing::info_span!("rpc", otel.name = %label, otel.kind = "server", caller = tracing::field::Empty,
            rpc.grpc.status_code = tracing::field::Empty);
        telemetry::adopt_parent(&span, req.headers());
        let admitted = span.in_scope(|| admit(&self.auth, rpc.as_ref(), &req));
        let timeout =
            req.headers().get("grpc-timeout").and_then(|v| v.to_str().ok()).and_then(parse_grpc_timeout);
        // Take the service that was driven to readiness; leave a fresh clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let metrics = self.metrics.clone();
        Box::pin(
            async move {
                let result = match admitted {
                    Err(refused) => Ok(tonic::Status::from(refused).into_http()),
                    // Nothing to do for a caller who has stopped waiting.
                    Ok(_) if timeout.is_some_and(|t| t.is_zero()) => Ok(late().into_http()),
                    Ok(principal) => {
                        if let Some(principal) = principal {
                            tracing::Span::current().record("caller", principal.subject.as_str());
                            if let Some(rpc) = &rpc {
                                req.extensions_mut().insert(Caller {
                                    principal,
                                    rpc: rpc.clone(),
                                    received: started,
                                });
                            }
                        }
                        let checked = match rpc.as_ref().filter(|r| !r.client_streaming) {
                            Some(rpc) => checked_request(req, &rpc.path()).await,
                            None => Ok(req),
                        };
                        match checked {
                            Err(refused) => Ok(refused.into_http()),
                            Ok(req) => match timeout {
                                None => inner.call(req).await,
                                // Ends the call a millisecond before tonic's own timer would,
                                // which reports CANCELLED: a deadline is DEADLINE_EXCEEDED.
                                Some(t) => {
                                    let at = started + t.saturating_sub(Duration::from_millis(1));
                                    match tokio::time::timeout_at(at.into(), inner.call(req)).await {
                                        Ok(result) => result,
                                        Err(_) => Ok(late().into_http()),
                                    }
                                }
                            },
                        }
                    }
                };
                let result = result.map(bound_response);
                let code = match &result {
                    Ok(response) => status_of(response.headers()),
                    Err(_) => tonic::Code::Internal,
                };
                tracing::Span::current().record("rpc.grpc.status_code", code as i32);
                metrics.observe_rpc(&label, code, started.elapsed());
                if matches!(code, tonic::Code::Internal | tonic::Code::Unknown | tonic::Code::DataLoss) {
                    tracing::error!(rpc = %label, ?code, "call failed");
                } else {
                    tracing::debug!(rpc = %label, ?code, elapsed_us = started.elapsed().as_micros() as u64, "call");
                }
                result
            }
            .instrument(span),
        )
    }
}

fn late() -> tonic::Status {
    tonic::Status::deadline_exceeded("the call's deadline passed before it was answered")
}

/// The longest request the layer reads whole to check (tonic's default limit for one
/// message). A larger one (only a file import sends one) goes on unchecked, bounded by
/// its service's own decoding limit and handler.
pub const MAX_CHECKED_REQUEST_BYTES: usize = 4 * 1024 * 1024 + 5;

/// A unary request read whole and checked: one well-formed gRPC frame holding a valid
/// message of the RPC's request type whose strings are within bounds.
async fn checked_request(req: http::Request<Body>, path: &str) -> Result<http::Request<Body>, tonic::Status> {
    let Some(descriptor) = crate::bounds::request_descriptor(path) else { return Ok(req) };
    let (parts, mut body) = req.into_parts();
    let mut read = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else { continue };
        read.extend_from_slice(&data);
        if read.len() > MAX_CHECKED_REQUEST_BYTES {
            let prefix = Some(read.freeze());
            return Ok(http::Request::from_parts(parts, Body::new(Prefixed { prefix, rest: body })));
        }
    }
    let read = read.freeze();
    let message = one_message(&read)?;
    crate::bounds::decode_and_check(descriptor, message).map_err(ApiError::from)?;
    Ok(http::Request::from_parts(parts, Body::new(http_body_util::Full::new(read))))
}

/// The message of a unary request's body: exactly one uncompressed gRPC frame.
pub fn one_message(body: &Bytes) -> Result<Bytes, tonic::Status> {
    let invalid = |reason: String| tonic::Status::from(ApiError::invalid("request", reason));
    if body.len() < 5 {
        return Err(invalid(format!(
            "a gRPC message starts with a 5-byte header; the body has {} bytes",
            body.len()
        )));
    }
    match body[0] {
        0 => {}
        1 => return Err(tonic::Status::unimplemented("request: compressed messages are not accepted")),
        flag => return Err(invalid(format!("bad gRPC frame flag {flag}"))),
    }
    let declared = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
    let follow = body.len() - 5;
    if declared != follow {
        return Err(invalid(format!(
            "the gRPC frame declares {declared} bytes but {follow} follow (a unary call sends one message)"
        )));
    }
    Ok(body.slice(5..))
}

/// A body whose first bytes were already read: those, then the rest.
struct Prefixed {
    prefix: Option<Bytes>,
    rest: Body,
}

impl http_body::Body for Prefixed {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        if let Some(prefix) = self.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.rest.is_end_stream()
    }
}

/// The longest `grpc-message` a response carries, percent-encoded as sent; a longer one
/// is cut (with an ellipsis and its length) to [`STATUS_MESSAGE_CHARS`] characters.
pub const MAX_STATUS_MESSAGE_BYTES: usize = 2048;
const STATUS_MESSAGE_CHARS: usize = 300;

/// The response with its status message bounded, in its headers (a unary error is
/// "trailers-only") and in the trailers of its body.
fn bound_response(response: http::Response<Body>) -> http::Response<Body> {
    let (mut parts, body) = response.into_parts();
    bound_status_message(&mut parts.headers);
    http::Response::from_parts(parts, Body::new(BoundedTrailers(body)))
}

/// Cuts an over-long `grpc-message` (decoded, cut on a character, encoded again).
pub fn bound_status_message(headers: &mut http::HeaderMap) {
    let Some(value) = headers.get("grpc-message") else { return };
    if value.len() <= MAX_STATUS_MESSAGE_BYTES {
        return;
    }
    let decoded = percent_decode(value.as_bytes());
    let cut = crate::text::bounded(&String::from_utf8_lossy(&decoded), STATUS_MESSAGE_CHARS);
    if let Ok(v) = http::HeaderValue::from_str(&percent_encode(&cut)) {
        headers.insert("grpc-message", v);
    } else {
        headers.remove("grpc-message");
    }
}

fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let hex = s.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (s[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The gRPC spec's encoding of a status message: bytes outside printable ASCII, and
/// `%`, as `%XX`.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A response body whose trailers' `grpc-message` is bounded (a stream's status).
struct BoundedTrailers(Body);

impl http_body::Body for BoundedTrailers {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        Pin::new(&mut self.0).poll_frame(cx).map(|frame| {
            frame.map(|frame| {
                frame.map(|mut frame| {
                    if let Some(trailers) = frame.trailers_mut() {
                        bound_status_message(trailers);
                    }
                    frame
                })
            })
        })
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.0.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_status_of_trailers_only_responses() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(status_of(&headers), tonic::Code::Ok);
        headers.insert("grpc-status", "7".parse().unwrap());
        assert_eq!(status_of(&headers), tonic::Code::PermissionDenied);
    }

    #[test]
    fn a_long_status_message_is_cut_and_says_how_long_it_was() {
        let mut headers = http::HeaderMap::new();
        let long = format!("cadre {} not found 张", "A".repeat(17_000));
        headers.insert("grpc-message", percent_encode(&long).parse().unwrap());
        bound_status_message(&mut headers);
        let cut = headers.get("grpc-message").unwrap();
        assert!(cut.len() <= MAX_STATUS_MESSAGE_BYTES, "{}", cut.len());
        let text = String::from_utf8(percent_decode(cut.as_bytes())).unwrap();
        assert!(text.starts_with("cadre AAA") && text.ends_with("… (17018 characters)"), "{text}");
        let mut short = http::HeaderMap::new();
        short.insert("grpc-message", "id%3A bad".parse().unwrap());
        bound_status_message(&mut short);
        assert_eq!(short.get("grpc-message").unwrap(), "id%3A bad");
    }

    #[test]
    fn a_unary_body_is_exactly_one_uncompressed_frame() {
        let frame = |flag: u8, len: u32, payload: &[u8]| {
            let mut v = vec![flag];
            v.extend_from_slice(&len.to_be_bytes());
            v.extend_from_slice(payload);
            Bytes::from(v)
        };
        assert_eq!(one_message(&frame(0, 2, b"ab")).unwrap(), Bytes::from_static(b"ab"));
        let code = |b: Bytes| one_message(&b).unwrap_err().code();
        assert_eq!(code(Bytes::new()), tonic::Code::InvalidArgument);
        assert_eq!(code(frame(0, 9, b"ab")), tonic::Code::InvalidArgument);
        assert_eq!(code(frame(0, 1, b"ab")), tonic::Code::InvalidArgument);
        assert_eq!(code(frame(7, 2, b"ab")), tonic::Code::InvalidArgument);
        assert_eq!(code(frame(1, 2, b"ab")), tonic::Code::Unimplemented);
    }
}
