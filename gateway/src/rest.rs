//! The REST/JSON handler: resolve the HTTP rule, authenticate, transcode, call the
//! part's balanced channel, and answer canonical JSON or a Google-style error.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use cadre_kit::ApiError;
use cadre_kit::client::Idempotent;
use http::header::{ALLOW, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use tonic::metadata::MetadataMap;

use crate::deadline::deadline;
use crate::routes::Resolution;
use crate::transcode::{error_body, request_message, response_json};
use crate::upstream::{BULK_RETRY_AFTER_SECS, BulkBusy, CallError};
use crate::{Gateway, Refusal};

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
                &format!("{} is not allowed on {}; use {allow}", parts.method, bounded(path, 200)),
            );
            if let Ok(v) = HeaderValue::from_str(&allow) {
                resp.headers_mut().insert(ALLOW, v);
            }
            return labelled(resp, "(wrong method)");
        }
        Resolution::NotFound => {
            let msg = format!("no route for {} {}; see /openapi.json", parts.method, bounded(path, 200));
            return labelled(json_error(StatusCode::NOT_FOUND, "NOT_FOUND", &msg), "(unmatched)");
        }
    };
    let label = route.template.as_str().to_string();
    let result = async {
        let header = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        let principal = gw.admit(header, &parts.extensions).map_err(|refusal| match refusal {
            Refusal::Auth(e) => Failure::Api(ApiError::from(e)),
            Refusal::Limited(limited) => Failure::Limited(limited),
        })?;
        forwarded_headers(&parts.headers)?;
        let body = read_body(body, &parts.headers, gw.body_limit).await?;
        let message = request_message(route, &bound, parts.uri.query(), &body)?;
        // The same bounds the part's own server layer applies, checked before the call
        // leaves: an over-long ID is refused here by name and never goes upstream.
        cadre_kit::bounds::check(&message).map_err(ApiError::from)?;
        let upstream = gw.parts.for_service(route.rpc.parent_service().full_name()).ok_or_else(|| {
            ApiError::unavailable(format!("no upstream serves {}", route.rpc.parent_service().name()))
        })?;
        let grpc_path = format!("/{}/{}", route.rpc.parent_service().full_name(), route.rpc.name());
        let encoded = Bytes::from(prost::Message::encode_to_vec(&message));
        let deadline = deadline(&parts.headers, gw.default_deadline);
        if deadline.is_zero() {
            return Err(Failure::Api(ApiError::new(
                cadre_kit::ErrorCode::DeadlineExceeded,
                "the call's deadline had passed when it arrived",
            )));
        }
        let idempotent = idempotency(&grpc_path, &parts.headers);
        let bulk = gw.bulk.contains(&grpc_path);
        let reply = upstream
            .unary(
                &grpc_path,
                metadata(&parts.headers),
                encoded,
                idempotent,
                deadline,
                (bulk, &principal.subject),
            )
            .await
            .map_err(|e| match e {
                CallError::BulkBusy(busy) => Failure::BulkBusy(busy),
                e => Failure::Status(e.into()),
            })?;
        Ok::<_, Failure>(response_json(route.rpc.output(), reply)?)
    }
    .await;
    let resp = match result {
        Ok(json) => ([(CONTENT_TYPE, HeaderValue::from_static("application/json"))], json).into_response(),
        Err(Failure::TooLarge(limit)) => too_large(limit),
        Err(Failure::Limited(limited)) => limited.http(),
        Err(Failure::BulkBusy(busy)) => bulk_busy(&busy),
        Err(Failure::Api(e)) => status_response(&tonic::Status::from(e)),
        Err(Failure::Status(s)) => status_response(&s),
    };
    labelled(resp, &label)
}

/// Whether a call may be tried again after a replica answered UNAVAILABLE: its RPC is
/// declared `NO_SIDE_EFFECTS` or `IDEMPOTENT`, or it carries an idempotency key (the
/// service applies a keyed call once, however often it arrives). A call the gateway shed
/// is never tried again (the part is saturated; a second try would double the load
/// exactly then), nor is one the part answered otherwise.
fn idempotency(grpc_path: &str, headers: &HeaderMap) -> Idempotent {
    let declared = cadre_kit::permission::Rpcs::suite().get(grpc_path).is_some_and(|rpc| rpc.idempotent);
    if declared || headers.contains_key(cadre_kit::idempotency::METADATA_KEY) {
        Idempotent::Yes
    } else {
        Idempotent::No
    }
}

enum Failure {
    Api(ApiError),
    Status(tonic::Status),
    TooLarge(usize),
    Limited(crate::ratelimit::Limited),
    BulkBusy(BulkBusy),
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

/// A part's status as a JSON error; its message bounded (a part's own messages are
/// bounded by its server layer; this one holds whatever answers), and its HTTP status
/// from the code, or from the reason the part gave when one has its own status
/// (`IDEMPOTENCY_KEY_REUSED` is 422).
fn status_response(s: &tonic::Status) -> Response {
    let message = bounded(s.message(), 1000);
    let (mut status, mut body) = error_body(s.code(), &message);
    if let Some(reason) = cadre_kit::error::reason_of(s.metadata()) {
        if let Some(special) = cadre_kit::error::http_status_for_reason(reason) {
            status = special;
            body["status"] = serde_json::json!(special.as_u16());
        }
        body["reason"] = serde_json::json!(reason);
    }
    (status, axum::Json(body)).into_response()
}

/// 503 with `Retry-After`: the part's bulk pool, or the caller's share of it, is full.
fn bulk_busy(busy: &BulkBusy) -> Response {
    let body = serde_json::json!({
        "code": "RESOURCE_EXHAUSTED",
        "reason": "BULK_SATURATED",
        "message": busy.to_string(),
        "limit": {"by": busy.what, "inFlight": busy.limit},
        "retryAfterSeconds": BULK_RETRY_AFTER_SECS,
        "status": 503,
    });
    let mut resp = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    resp.headers_mut().insert(http::header::RETRY_AFTER, HeaderValue::from(BULK_RETRY_AFTER_SECS));
    resp
}

/// 413 with a payload-too-large code and the limit.
fn too_large(limit: usize) -> Response {
    let body = serde_json::json!({
        "code": "RESOURCE_EXHAUSTED",
        "reason": "PAYLOAD_TOO_LARGE",
        "message": format!("request body is larger than the limit of {limit} bytes"),
        "limitBytes": limit,
        "status": 413,
    });
    (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(body)).into_response()
}

fn bounded(s: &str, max: usize) -> String {
    cadre_kit::text::bounded(s, max)
}

/// The headers passed on to the part, each within what the part accepts: an
/// idempotency key or request id of 1 to 128 visible ASCII characters.
fn forwarded_headers(headers: &HeaderMap) -> Result<(), ApiError> {
    for name in ["idempotency-key", "x-request-id"] {
        for value in headers.get_all(name) {
            let ok = (1..=128).contains(&value.len()) && value.as_bytes().iter().all(u8::is_ascii_graphic);
            if !ok {
                return Err(ApiError::invalid(
                    name,
                    format!("must be 1 to 128 visible ASCII characters, got {} bytes", value.len()),
                ));
            }
        }
    }
    Ok(())
}

/// Why a request's headers are refused before anything else, naming the largest one;
/// `None` when they are within [`crate::MAX_HEADER_BYTES`].
pub fn oversized_headers(headers: &HeaderMap) -> Option<String> {
    let total: usize = headers.iter().map(|(n, v)| n.as_str().len() + v.len()).sum();
    if total <= crate::MAX_HEADER_BYTES {
        return None;
    }
    let (name, value) = headers.iter().max_by_key(|(_, v)| v.len())?;
    Some(format!(
        "{}: request headers are {total} bytes, over the gateway's limit of {} (this one is {} bytes)",
        name.as_str(),
        crate::MAX_HEADER_BYTES,
        value.len()
    ))
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

    #[test]
    fn only_declared_idempotent_or_keyed_calls_may_be_tried_again() {
        let none = HeaderMap::new();
        let get = "/cadre.roster.v1.CadreService/GetCadre";
        let create = "/cadre.roster.v1.CadreService/CreateCadre";
        assert_eq!(idempotency(get, &none), Idempotent::Yes, "declared NO_SIDE_EFFECTS");
        assert_eq!(idempotency(create, &none), Idempotent::No, "a second try could create twice");
        let mut keyed = HeaderMap::new();
        keyed.insert("idempotency-key", HeaderValue::from_static("k1"));
        assert_eq!(idempotency(create, &keyed), Idempotent::Yes, "the service applies a keyed call once");
        assert_eq!(idempotency("/cadre.roster.v1.CadreService/Nothing", &none), Idempotent::No);
    }
}
