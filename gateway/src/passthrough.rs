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
use tower::ServiceExt;

use crate::Gateway;
use crate::rest::labelled;
use crate::upstream::is_open_service;

/// Whether a request speaks gRPC (`application/grpc`, `application/grpc+proto`, …).
pub fn is_grpc<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/grpc"))
}

pub async fn forward(gw: &Gateway, mut req: Request<Body>) -> Response {
    let service = req.uri().path().trim_start_matches('/').split('/').next().unwrap_or_default().to_string();
    let Some(upstream) = gw.parts.for_service(&service) else {
        let status = tonic::Status::unimplemented(format!("no upstream serves {service}"));
        return labelled(status.into_http(), "grpc (unknown service)");
    };
    let label = format!("grpc {service}");
    if !is_open_service(&service) {
        let header = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        if let Err(e) = gw.auth.authenticate(header) {
            return labelled(tonic::Status::from(e).into_http(), &label);
        }
    }
    let permit = match upstream.permit() {
        Ok(p) => p,
        Err(shed) => return labelled(tonic::Status::from(shed).into_http(), &label),
    };
    cadre_kit::telemetry::inject_current(req.headers_mut());
    let (parts, body) = req.into_parts();
    let body = if gw.client_streaming.contains(parts.uri.path()) {
        // A stream of pieces (a roster file): its own, larger limit; the service
        // bounds each message and the whole.
        tonic::body::Body::new(http_body_util::Limited::new(body, gw.stream_body_limit))
    } else {
        let body = http_body_util::Limited::new(body, gw.body_limit);
        // One message: read it whole so it leaves in a single frame that ends the stream,
        // instead of data followed by an empty end-of-stream frame.
        match body.collect().await {
            Ok(collected) => tonic::body::Body::new(http_body_util::Full::new(collected.to_bytes())),
            Err(e) => {
                let status = tonic::Status::resource_exhausted(format!(
                    "request body over the gateway's limit of {} bytes: {e}",
                    gw.body_limit
                ));
                return labelled(status.into_http(), &label);
            }
        }
    };
    let resp = match upstream.channel.clone().oneshot(Request::from_parts(parts, body)).await {
        Ok(resp) => {
            // The permit lives until the response body (and its trailers) is done.
            let (parts, body) = resp.into_parts();
            Response::from_parts(parts, Body::new(WithPermit { body, _permit: permit }))
        }
        Err(e) => tonic::Status::unavailable(format!("{} unavailable: {e}", upstream.part)).into_http(),
    };
    labelled(resp, &label)
}

/// A response body that holds its part's concurrency slot while it streams.
struct WithPermit<B> {
    body: B,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl<B: http_body::Body + Unpin> http_body::Body for WithPermit<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
