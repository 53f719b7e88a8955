//! The REST/JSON handler: resolve the HTTP rule, authenticate, transcode, call the
//! part's balanced channel, and answer canonical JSON or a Google-style error.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use cadre_kit::ApiError;
use http::header::{ALLOW, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use tonic::metadata::MetadataMap;

use crate::Gateway;
use crate::deadline::deadline;
use crate::routes::Resolution;
use crate::transcode::{error_body, request_message, response_json};
use crate::upstream::CallError;

/// The matched template, left on the response for the access log and metrics.
#[derive(Debug, Clone)]
pub struct RouteLabel(pub String);

/// Headers passed on to the service as gRPC metadata.
const FORWARDED: [&str; 3] = ["authorization", "idempotency-key", "x-request-id"];

pub async fn handle(gw: &Gateway, req: Request<Body>) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    let (route, bound) = match gw.routes.resolve(&parts.method, path) {
        Resolution::Found(route, bound) => (route, bound),
        Resolution::WrongMethod(allowed) => {
            let allow = allowed.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
            let mut resp = json_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "INVALID_ARGUMENT",
                &format!("{} is not allowed on {path}; use {allow}", parts.method),
            );
            if let Ok(v) = HeaderValue::from_str(&allow) {
                resp.headers_mut().insert(ALLOW, v);
            }
            return labelled(resp, "(wrong method)");
        }
        Resolution::NotFound => {
            let msg = format!("no route for {} {path}; see /openapi.json", parts.method);
            return labelled(json_error(StatusCode::NOT_FOUND, "NOT_FOUND", &msg), "(unmatched)");
        }
    };
    let label = route.template.as_str().to_string();
    let result = async {
        let header = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        gw.auth.authenticate(header).map_err(ApiError::from)?;
        let body = read_body(body, &parts.headers, gw.body_limit).await?;
        let message = request_message(route, &bound, parts.uri.query(), &body)?;
        let upstream = gw.parts.for_service(route.rpc.parent_service().full_name()).ok_or_else(|| {
            ApiError::unavailable(format!("no upstream serves {}", route.rpc.parent_service().name()))
        })?;
        let grpc_path = format!("/{}/{}", route.rpc.parent_service().full_name(), route.rpc.name());
        let encoded = Bytes::from(prost::Message::encode_to_vec(&message));
        let deadline = deadline(&parts.headers, gw.default_deadline);
        let reply = call_part(parts.method == Method::GET, || {
            upstream.unary(&grpc_path, metadata(&parts.headers), encoded.clone(), deadline)
        })
        .await
        .map_err(|e| Failure::Status(e.into()))?;
        Ok::<_, Failure>(response_json(route.rpc.output(), reply)?)
    }
    .await;
    let resp = match result {
        Ok(json) => ([(CONTENT_TYPE, HeaderValue::from_static("application/json"))], json).into_response(),
        Err(Failure::TooLarge(limit)) => json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "INVALID_ARGUMENT",
            &format!("request body is larger than the limit of {limit} bytes"),
        ),
        Err(Failure::Api(e)) => status_response(e.code.grpc(), &e.message),
        Err(Failure::Status(s)) => status_response(s.code(), s.message()),
    };
    labelled(resp, &label)
}

/// One call to the part, and for a GET (no side effects to repeat) a second when the
/// part answered UNAVAILABLE. A call the gateway shed is never tried again: the part
/// is saturated, and a second try would double the load exactly then.
async fn call_part<F, Fut>(idempotent: bool, mut call: F) -> Result<Bytes, CallError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Bytes, CallError>>,
{
    let outcome = call().await;
    match &outcome {
        Err(CallError::Status(status)) if idempotent && status.code() == tonic::Code::Unavailable => {
            call().await
        }
        _ => outcome,
    }
}

enum Failure {
    Api(ApiError),
    Status(tonic::Status),
    TooLarge(usize),
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

async fn read_body(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, Failure> {
    let declared =
        headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(Failure::TooLarge(limit));
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        // The only error a complete in-memory read reports, besides a broken
        // connection, is the limit.
        if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>()) {
            Failure::TooLarge(limit)
        } else {
            Failure::Api(ApiError::invalid("body", format!("could not be read: {e}")))
        }
    })
}

/// Forwarded headers plus the W3C trace context of the current span.
fn metadata(headers: &HeaderMap) -> MetadataMap {
    let mut out = HeaderMap::new();
    for name in FORWARDED {
        for value in headers.get_all(name) {
            out.append(name, value.clone());
        }
    }
    cadre_kit::telemetry::inject_current(&mut out);
    MetadataMap::from_headers(out)
}

fn status_response(code: tonic::Code, message: &str) -> Response {
    let (status, body) = error_body(code, message);
    (status, axum::Json(body)).into_response()
}

/// A JSON error with an explicit HTTP status (404, 405, 413).
pub fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "code": code, "message": message, "status": status.as_u16() });
    (status, axum::Json(body)).into_response()
}

pub fn labelled(mut resp: Response, label: &str) -> Response {
    resp.extensions_mut().insert(RouteLabel(label.to_string()));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::Shed;

    #[test]
    fn only_listed_headers_are_forwarded() {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("Bearer t"));
        h.insert("idempotency-key", HeaderValue::from_static("k1"));
        h.insert("cookie", HeaderValue::from_static("secret"));
        let md = metadata(&h);
        assert_eq!(md.get("authorization").and_then(|v| v.to_str().ok()), Some("Bearer t"));
        assert_eq!(md.get("idempotency-key").and_then(|v| v.to_str().ok()), Some("k1"));
        assert!(md.get("cookie").is_none());
    }

    #[tokio::test]
    async fn a_get_is_retried_once_on_unavailable_but_never_when_shed() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let tries = AtomicUsize::new(0);
        let outcome = |error: fn() -> CallError| {
            tries.store(0, Ordering::SeqCst);
            let tries = &tries;
            call_part(true, move || async move {
                tries.fetch_add(1, Ordering::SeqCst);
                Err::<Bytes, _>(error())
            })
        };
        let shed = outcome(|| Shed { part: "roster".into() }.into()).await;
        assert!(matches!(shed, Err(CallError::Shed(_))));
        assert_eq!(tries.load(Ordering::SeqCst), 1, "a shed call is not retried");
        let unavailable = outcome(|| tonic::Status::unavailable("warming up").into()).await;
        assert!(matches!(unavailable, Err(CallError::Status(_))));
        assert_eq!(tries.load(Ordering::SeqCst), 2, "the part's own UNAVAILABLE is retried once");
        let not_found = outcome(|| tonic::Status::not_found("no such region").into()).await;
        assert!(not_found.is_err());
        assert_eq!(tries.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_call_with_side_effects_is_not_retried() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let tries = AtomicUsize::new(0);
        let outcome = call_part(false, || async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err::<Bytes, CallError>(tonic::Status::unavailable("busy").into())
        })
        .await;
        assert!(outcome.is_err());
        assert_eq!(tries.load(Ordering::SeqCst), 1);
    }
}
