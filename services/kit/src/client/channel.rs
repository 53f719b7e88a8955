//! The channel generated clients are built on (`RosterClient::new(client.channel())`): the
//! balanced endpoints, plus the deadline and propagated metadata of the call it carries. Its
//! timer tells a call that found no ready endpoint (UNAVAILABLE) from one the server did not
//! answer in time (DEADLINE_EXCEEDED).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderName, header};
use tonic::Status;
use tonic::body::Body;
use tonic::metadata::MetadataMap;
use tower::{BoxError, Service};

use super::balance::{Balanced, ResponseFuture};
use super::deadline::{self, GRPC_TIMEOUT, encode_grpc_timeout, parse_grpc_timeout};
use super::error::{NotSent, sources};

/// A part's balanced channel; cheap to clone, and usable by any tonic-generated client. Used
/// bare (`client.channel()`) a call gets the client's default deadline unless the request set
/// its own with `Request::set_timeout` (or [`deadline::apply`]).
#[derive(Clone)]
pub struct PartChannel {
    balanced: Balanced,
    part: Arc<str>,
    default_deadline: Duration,
    call: Option<Arc<CallContext>>,
}

/// What every attempt of one logical call carries.
struct CallContext {
    deadline: Instant,
    metadata: HeaderMap,
}

impl PartChannel {
    pub(crate) fn new(balanced: Balanced, part: Arc<str>, default_deadline: Duration) -> Self {
        Self { balanced, part, default_deadline, call: None }
    }

    /// This channel for the attempts of one call: each request gets `deadline` (or a sooner
    /// one of its own) and `metadata`.
    pub(crate) fn for_call(&self, deadline: Instant, metadata: &MetadataMap) -> Self {
        let call = CallContext { deadline, metadata: metadata.clone().into_headers() };
        Self { call: Some(Arc::new(call)), ..self.clone() }
    }
}

impl fmt::Debug for PartChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartChannel")
            .field("part", &self.part)
            .field("deadline", &self.call.as_ref().map(|c| c.deadline))
            .finish_non_exhaustive()
    }
}

impl Service<http::Request<Body>> for PartChannel {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.balanced.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> ResponseFuture {
        let now = Instant::now();
        let asked = request
            .headers()
            .get(GRPC_TIMEOUT)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_timeout)
            .and_then(|timeout| now.checked_add(timeout));
        // The default is only a default: a request that sets its own timeout (a long-lived
        // stream, say) keeps it. Within `PartClient::call` the call's deadline bounds both.
        let deadline = match (asked, self.call.as_ref().map(|c| c.deadline)) {
            (Some(asked), Some(call)) => asked.min(call),
            (Some(asked), None) => asked,
            (None, Some(call)) => call,
            (None, None) => deadline::effective(now, self.default_deadline, None),
        };
        let Some(left) = deadline.checked_duration_since(now).filter(|left| !left.is_zero()) else {
            let status = deadline::passed("the deadline passed before the call was sent");
            return Box::pin(std::future::ready(Err(status.into())));
        };
        request.headers_mut().insert(GRPC_TIMEOUT, encode_grpc_timeout(left));
        if let Some(call) = &self.call {
            propagate(request.headers_mut(), &call.metadata);
        }
        let dispatched = Dispatched::default();
        request.extensions_mut().insert(dispatched.clone());

        let response = self.balanced.call(request);
        let part = self.part.clone();
        Box::pin(async move {
            match tokio::time::timeout_at(deadline.into(), response).await {
                // tonic's endpoint channel enforces the `grpc-timeout` we set too, and its timer
                // may fire first; it reports CANCELLED, but to the caller the deadline passed.
                Ok(Err(error)) if timeout_expired(&*error) => {
                    Err(Status::deadline_exceeded(format!("{part} did not answer before the deadline"))
                        .into())
                }
                Ok(result) => result,
                Err(_) if dispatched.0.load(Ordering::Acquire) => {
                    Err(Status::deadline_exceeded(format!("{part} did not answer before the deadline"))
                        .into())
                }
                Err(_) => {
                    let why = "no endpoint was ready before the deadline";
                    let mut status = Status::unavailable(format!("{part}: {why}"));
                    status.set_source(Arc::new(NotSent(why)));
                    Err(status.into())
                }
            }
        })
    }
}

fn timeout_expired(error: &(dyn std::error::Error + 'static)) -> bool {
    sources(error).any(|e| e.is::<tonic::TimeoutExpired>())
}

/// Headers that describe this HTTP/2 request itself, never the caller's.
const OWN_HEADERS: [HeaderName; 8] = [
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::TE,
    header::USER_AGENT,
    header::HOST,
    header::CONNECTION,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Copies the caller's metadata (authorization, traceparent, x-request-id, …) onto a request.
/// A header the request already has wins; gRPC's own (`grpc-*`) are never copied.
fn propagate(headers: &mut HeaderMap, metadata: &HeaderMap) {
    for name in metadata.keys() {
        if name.as_str().starts_with("grpc-") || OWN_HEADERS.contains(name) || headers.contains_key(name) {
            continue;
        }
        for value in metadata.get_all(name) {
            headers.append(name.clone(), value.clone());
        }
    }
}

/// Set once the balancer has handed the request to an endpoint.
#[derive(Clone, Default)]
pub(crate) struct Dispatched(Arc<AtomicBool>);

/// Marks a request as handed to an endpoint (see [`Dispatched`]).
pub(crate) fn mark_dispatched(request: http::Request<Body>) -> http::Request<Body> {
    if let Some(dispatched) = request.extensions().get::<Dispatched>() {
        dispatched.0.store(true, Ordering::Release);
    }
    request
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn the_callers_metadata_is_copied_but_the_requests_own_headers_win() {
        let mut metadata = HeaderMap::new();
        metadata.insert("authorization", HeaderValue::from_static("Bearer caller"));
        metadata.append("x-tag", HeaderValue::from_static("a"));
        metadata.append("x-tag", HeaderValue::from_static("b"));
        metadata.insert("grpc-timeout", HeaderValue::from_static("1H"));
        metadata.insert("content-type", HeaderValue::from_static("text/plain"));
        metadata.insert("x-request-id", HeaderValue::from_static("from-caller"));

        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/grpc"));
        headers.insert("x-request-id", HeaderValue::from_static("own"));
        propagate(&mut headers, &metadata);

        assert_eq!(headers["authorization"], "Bearer caller");
        assert_eq!(headers.get_all("x-tag").iter().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(headers["content-type"], "application/grpc");
        assert_eq!(headers["x-request-id"], "own");
        assert!(!headers.contains_key("grpc-timeout"));
    }
}
