//! gRPC passthrough: `/cadre.<part>.v1.<Service>/<Method>` goes unchanged to that
//! part's balanced channel, streaming both ways with trailers; health and reflection
//! go to the default part so `grpcurl` works against the gateway.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use http::Request;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http_body_util::BodyExt;
use tokio::time::Instant;
use tonic::Status;
use tower::ServiceExt;

use crate::deadline::{GRPC_TIMEOUT, deadline, grpc_timeout};
use crate::rest::labelled;
use crate::upstream::{Upstream, is_open_service};
use crate::{Gateway, Refusal};

/// Whether a request speaks gRPC (`application/grpc`, `application/grpc+proto`, …).
pub fn is_grpc<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/grpc"))
}

/// Authenticates (except health and reflection), takes a slot of the part, and relays
/// the call both ways; a unary call runs under a deadline.
pub async fn forward(gw: &Gateway, mut req: Request<Body>) -> Response {
    let service = req.uri().path().trim_start_matches('/').split('/').next().unwrap_or_default().to_string();
    let Some(upstream) = gw.parts.for_service(&service) else {
        let status = Status::unimplemented(format!("no upstream serves {service}"));
        return labelled(status.into_http(), "grpc (unknown service)");
    };
    // Only the RPCs the descriptor set declares go upstream (and health and reflection,
    // which the part serves): any other path is answered here, so no caller can put an
    // arbitrary path, however long, on the shared connection to a part.
    let path = req.uri().path();
    let declared = gw.unary.contains(path)
        || gw.streaming.contains(path)
        || cadre_kit::grpc_layer::OPEN_RPCS.contains(&path);
    if !declared {
        let status = Status::unimplemented(format!("no RPC {}", cadre_kit::text::bounded(path, 200)));
        return labelled(status.into_http(), "grpc (unknown method)");
    }
    let label = format!("grpc {service}");
    // Health and reflection need no token and are not limited (probes poll them).
    let mut caller = String::new();
    if !is_open_service(&service) {
        let header = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        match gw.admit(header, req.extensions()) {
            Ok(principal) => caller = principal.subject,
            Err(Refusal::Auth(e)) => return labelled(Status::from(e).into_http(), &label),
            Err(Refusal::Limited(limited)) => return labelled(limited.status().into_http(), &label),
        }
    }
    // Imports and client streams take a slot of the part's bulk pool (a share per
    // caller), so they cannot starve ordinary calls; every other call an ordinary one.
    let permit = match upstream.slot(gw.bulk.contains(req.uri().path()), &caller) {
        Ok(p) => p,
        Err(refused) => return labelled(Status::from(refused).into_http(), &label),
    };
    // Only a call the descriptor set says is unary gets the default deadline (or the
    // client's, if shorter). A stream ends when its client says: WatchChanges stays
    // open for hours, an import streams a whole file. So a streaming call keeps
    // whatever `grpc-timeout` its client sent, or none; so do calls the gateway has no
    // descriptor for (health, and reflection, which is a stream).
    let expires = gw
        .unary
        .contains(req.uri().path())
        .then(|| Instant::now() + deadline(req.headers(), gw.default_deadline));
    if expires.is_some_and(|at| at <= Instant::now()) {
        let status = Status::deadline_exceeded("the call's deadline had passed when it arrived");
        return labelled(status.into_http(), &label);
    }
    cadre_kit::telemetry::inject_current(req.headers_mut());
    let resp = match send(gw, upstream, req, expires).await {
        Ok(resp) => {
            let (parts, body) = resp.into_parts();
            // The permit lives until the response body (and its trailers) is done.
            let body = Forwarded {
                body: Some(body),
                _permit: permit,
                deadline: expires.map(|at| Box::pin(tokio::time::sleep_until(at))),
            };
            Response::from_parts(parts, Body::new(body))
        }
        Err(status) => status.into_http(),
    };
    labelled(resp, &label)
}

/// Sends `req` to the part and waits for its response head, until `expires` if set.
async fn send(
    gw: &Gateway,
    upstream: &Upstream,
    req: Request<Body>,
    expires: Option<Instant>,
) -> Result<http::Response<tonic::body::Body>, Status> {
    let late = || Status::deadline_exceeded(format!("{} did not answer in time", upstream.part));
    let exchange = async {
        let (mut parts, body) = req.into_parts();
        let body = request_body(gw, parts.uri.path(), body).await?;
        if let Some(at) = expires {
            // What is left after reading the request, so the part gives up when we do.
            parts.headers.insert(GRPC_TIMEOUT, grpc_timeout(at.saturating_duration_since(Instant::now())));
        }
        upstream.channel().oneshot(Request::from_parts(parts, body)).await.map_err(|e| {
            // The kit's channel answers with a status of its own (no endpoint ready,
            // deadline passed); the endpoint's channel enforces `grpc-timeout` too, and may
            // be first to see it pass.
            if let Some(status) = e.downcast_ref::<Status>() {
                status.clone()
            } else if caused_by::<tonic::TimeoutExpired>(&*e) {
                late()
            } else {
                Status::unavailable(format!("{} unavailable: {e}", upstream.part))
            }
        })
    };
    let Some(at) = expires else { return exchange.await };
    let resp = tokio::time::timeout_at(at, exchange).await.unwrap_or_else(|_| Err(late()))?;
    if Instant::now() >= at && resp.headers().get("grpc-status").is_some_and(|v| v == "1") {
        // A part ends a call past its `grpc-timeout` as CANCELLED; to the client that
        // is the deadline passing (as for REST in Upstream::call).
        return Err(late());
    }
    Ok(resp)
}

/// Whether `error` or one of its sources is a `T`.
fn caused_by<T: std::error::Error + 'static>(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if e.is::<T>() {
            return true;
        }
        next = e.source();
    }
    false
}

/// The request body to forward: a stream of pieces for a client-streaming call, else
/// the one message read whole.
async fn request_body(gw: &Gateway, path: &str, body: Body) -> Result<tonic::body::Body, Status> {
    if gw.client_streaming.contains(path) {
        // A stream of pieces (a roster file): its own, larger limit; the service
        // bounds each message and the whole.
        return Ok(tonic::body::Body::new(http_body_util::Limited::new(body, gw.stream_body_limit)));
    }
    let body = http_body_util::Limited::new(body, gw.body_limit);
    // One message: read it whole so it leaves in a single frame that ends the stream,
    // instead of data followed by an empty end-of-stream frame.
    match body.collect().await {
        Ok(collected) => Ok(tonic::body::Body::new(http_body_util::Full::new(collected.to_bytes()))),
        Err(e) => Err(Status::resource_exhausted(format!(
            "request body over the gateway's limit of {} bytes: {e}",
            gw.body_limit
        ))),
    }
}

/// A response body that holds its part's concurrency slot while it streams and, for a
/// unary call, ends with DEADLINE_EXCEEDED if the part is still sending at the deadline.
struct Forwarded<B> {
    /// `None` once the deadline ended the call (dropping it resets the part's stream).
    body: Option<B>,
    _permit: crate::upstream::Slot,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<B: http_body::Body + Unpin> http_body::Body for Forwarded<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let Some(body) = self.body.as_mut() else { return Poll::Ready(None) };
        // What the part has sent goes out first: an answer in hand beats an error.
        if let Poll::Ready(frame) = Pin::new(body).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if let Some(deadline) = self.deadline.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            self.body = None;
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", http::HeaderValue::from(tonic::Code::DeadlineExceeded as i32));
            trailers
                .insert("grpc-message", http::HeaderValue::from_static("the part did not finish in time"));
            return Poll::Ready(Some(Ok(http_body::Frame::trailers(trailers))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.as_ref().map_or_else(|| http_body::SizeHint::with_exact(0), |b| b.size_hint())
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;
    use http_body::Frame;
    use http_body_util::{BodyExt, StreamBody};

    use super::*;

    fn forwarded<B>(body: B, deadline: Duration) -> Forwarded<B> {
        let permit = Arc::new(tokio::sync::Semaphore::new(1)).try_acquire_owned().expect("a slot");
        Forwarded {
            body: Some(body),
            _permit: crate::upstream::Slot::Ordinary(permit),
            deadline: Some(Box::pin(tokio::time::sleep(deadline))),
        }
    }

    #[tokio::test]
    async fn a_unary_answer_still_coming_at_the_deadline_ends_in_deadline_exceeded() {
        let silent = StreamBody::new(futures::stream::pending::<Result<Frame<Bytes>, Infallible>>());
        let mut body = forwarded(silent, Duration::from_millis(20));
        let frame = body.frame().await.expect("a frame").expect("no error");
        let trailers = frame.into_trailers().expect("trailers");
        assert_eq!(trailers.get("grpc-status").map(|v| v.as_bytes()), Some(&b"4"[..]));
        assert!(body.frame().await.is_none());
        assert!(http_body::Body::is_end_stream(&body));
    }

    #[tokio::test]
    async fn an_answer_in_time_passes_unchanged() {
        let whole = http_body_util::Full::new(Bytes::from_static(b"reply"));
        let body = forwarded(whole, Duration::from_secs(5));
        assert_eq!(body.collect().await.expect("body").to_bytes(), Bytes::from_static(b"reply"));
    }
}
