//! Idempotent mutations: a client sends `idempotency-key` (gRPC metadata, or the
//! `Idempotency-Key` HTTP header through the gateway); the first result is stored in
//! the same transaction as the change, and a retry with the same key gets it back
//! instead of applying twice. Reusing a key for a different request is an error.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::db::{Db, WriteTx, to_micros};
use crate::error::{ApiError, ErrorCode, IDEMPOTENCY_KEY_IN_FLIGHT, IDEMPOTENCY_KEY_REUSED};
use crate::principal::Principal;

pub const METADATA_KEY: &str = "idempotency-key";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// 1–128 visible ASCII characters.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        if s.is_empty() || s.len() > 128 || !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::invalid(METADATA_KEY, "must be 1 to 128 visible ASCII characters"));
        }
        Ok(Self(s.to_string()))
    }

    pub fn from_metadata(md: &tonic::metadata::MetadataMap) -> Result<Option<Self>, ApiError> {
        match md.get(METADATA_KEY) {
            None => Ok(None),
            Some(v) => {
                let s = v.to_str().map_err(|_| ApiError::invalid(METADATA_KEY, "must be ASCII"))?;
                Self::parse(s).map(Some)
            }
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Runs `body` in a write transaction, at most once per (caller, key): with a key
/// seen before for the same request, returns the stored response and changes
/// nothing. Without a key, just runs it. `body` does its writes and audit entries
/// through the transaction it is given; everything commits together or not at all.
pub async fn once<Req, Resp>(
    db: &Db,
    principal: &Principal,
    method: &str,
    key: Option<&IdempotencyKey>,
    request: &Req,
    body: impl AsyncFnOnce(&mut WriteTx) -> Result<Resp, ApiError>,
) -> Result<Resp, ApiError>
where
    Req: prost::Message,
    Resp: prost::Message + Default,
{
    // A second request with a key whose first is still being handled here is refused
    // at once (409), not queued behind it. (On another replica it waits for the first
    // to commit and then gets its result or 422.)
    let _in_flight = match key {
        Some(key) => Some(InFlight::claim(db, &principal.subject, key.as_str())?),
        None => None,
    };
    let mut tx = db.write().await?;
    let request_hash = key.map(|_| hex::encode(Sha256::digest(request.encode_to_vec())));
    if let (Some(key), Some(request_hash)) = (key, &request_hash) {
        // The transaction holds the chain head, so a concurrent retry waits here until
        // the first attempt commits, then finds its result.
        let stored = sqlx::query(
            "SELECT method, request_hash, response FROM kit_idempotency WHERE actor = $1 AND idempotency_key = $2",
        )
        .bind(principal.subject.clone())
        .bind(key.as_str().to_string())
        .fetch_optional(tx.conn())
        .await?;
        if let Some(row) = stored {
            let (m, h, response): (String, String, String) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            if m != method || &h != request_hash {
                return Err(ApiError::new(
                    ErrorCode::FailedPrecondition,
                    format!(
                        "{METADATA_KEY}: key {:?} was already used for a different request",
                        key.as_str()
                    ),
                )
                .with_reason(IDEMPOTENCY_KEY_REUSED));
            }
            let bytes = STANDARD.decode(response).map_err(ApiError::internal)?;
            return Resp::decode(bytes.as_slice()).map_err(ApiError::internal);
        }
    }
    let response = body(&mut tx).await?;
    if let (Some(key), Some(request_hash)) = (key, request_hash) {
        let now = to_micros(tx.now());
        sqlx::query(
            "INSERT INTO kit_idempotency (actor, idempotency_key, method, request_hash, response, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(principal.subject.clone())
        .bind(key.as_str().to_string())
        .bind(method.to_string())
        .bind(request_hash)
        .bind(STANDARD.encode(response.encode_to_vec()))
        .bind(now)
        .execute(tx.conn())
        .await?;
    }
    tx.commit().await?;
    Ok(response)
}

/// The (database, caller, key) of the keyed requests being handled in this process.
static IN_FLIGHT: std::sync::LazyLock<std::sync::Mutex<std::collections::HashSet<(usize, String, String)>>> =
    std::sync::LazyLock::new(Default::default);

/// A claim on a key while its request is handled; released when dropped.
struct InFlight((usize, String, String));

impl InFlight {
    fn claim(db: &Db, actor: &str, key: &str) -> Result<Self, ApiError> {
        let id = (db.identity(), actor.to_string(), key.to_string());
        let mut set = IN_FLIGHT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !set.insert(id.clone()) {
            return Err(ApiError::new(
                ErrorCode::Aborted,
                format!("{METADATA_KEY}: a request with key {key:?} is still being handled; retry when it has answered"),
            )
            .with_reason(IDEMPOTENCY_KEY_IN_FLIGHT));
        }
        Ok(Self(id))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{self, AuditRecord};
    use crate::principal::Role;
    use crate::region_code::RegionCode;
    use crate::testing::TestDb;
    use cadre_proto::audit::v1::VerifyAuditChainResponse as Msg;

    fn actor() -> Principal {
        Principal {
            subject: "county-admin".into(),
            roles: [Role::CountyAdmin].into(),
            jurisdiction: RegionCode::parse("150525000000").unwrap(),
        }
    }

    async fn call(db: &Db, key: Option<&IdempotencyKey>, input: i64) -> Result<Msg, ApiError> {
        once(db, &actor(), "Test/Do", key, &Msg { entries: input, ..Default::default() }, async |tx| {
            let seq = audit::append(
                tx,
                &actor(),
                AuditRecord {
                    action: "Do",
                    target: "x",
                    region_code: "150525",
                    detail: serde_json::Value::Null,
                },
            )
            .await?;
            Ok(Msg { entries: seq, ..Default::default() })
        })
        .await
    }

    #[tokio::test]
    async fn a_retry_with_the_same_key_returns_the_first_result_and_applies_once() {
        for db in TestDb::all(&[]).await {
            let key = IdempotencyKey::parse("retry-1").unwrap();
            let first = call(&db, Some(&key), 1).await.unwrap();
            let again = call(&db, Some(&key), 1).await.unwrap();
            assert_eq!(first, again);
            assert_eq!(audit::verify(&db).await.unwrap().entries, 1);
            // Without a key, each call applies.
            call(&db, None, 1).await.unwrap();
            call(&db, None, 1).await.unwrap();
            assert_eq!(audit::verify(&db).await.unwrap().entries, 3);
        }
    }

    #[tokio::test]
    async fn a_key_reused_for_another_request_is_refused() {
        for db in TestDb::all(&[]).await {
            let key = IdempotencyKey::parse("k").unwrap();
            call(&db, Some(&key), 1).await.unwrap();
            let err = call(&db, Some(&key), 2).await.unwrap_err();
            assert!(err.message.starts_with("idempotency-key:"), "{err}");
            assert_eq!(err.reason, Some(IDEMPOTENCY_KEY_REUSED));
            let status = tonic::Status::from(err);
            let reason = crate::error::reason_of(status.metadata()).unwrap();
            assert_eq!(
                crate::error::http_status_for_reason(reason),
                Some(http::StatusCode::UNPROCESSABLE_ENTITY)
            );
        }
    }

    #[tokio::test]
    async fn a_key_whose_first_request_is_still_handled_is_refused_with_409() {
        let db = TestDb::sqlite(&[]).await;
        let key = IdempotencyKey::parse("slow").unwrap();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let (finish_tx, finish_rx) = tokio::sync::oneshot::channel::<()>();
        let first = {
            let (db, key) = (db.clone(), key.clone());
            tokio::spawn(async move {
                let msg = Msg { entries: 1, ..Default::default() };
                once(&db, &actor(), "Test/Do", Some(&key), &msg, async |_tx| {
                    let _ = started_tx.send(());
                    let _ = finish_rx.await;
                    Ok(Msg { entries: 1, ..Default::default() })
                })
                .await
            })
        };
        started_rx.await.unwrap();
        let err = call(&db, Some(&key), 1).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::Aborted, "{err}");
        assert_eq!(err.reason, Some(IDEMPOTENCY_KEY_IN_FLIGHT));
        assert_eq!(
            crate::error::http_status_for_reason(err.reason.unwrap()),
            Some(http::StatusCode::CONFLICT)
        );
        finish_tx.send(()).unwrap();
        first.await.unwrap().unwrap();
        // Once answered, a retry gets the stored result.
        assert_eq!(call(&db, Some(&key), 1).await.unwrap().entries, 1);
    }

    #[test]
    fn keys_are_bounded() {
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse(&"a".repeat(129)).is_err());
        assert!(IdempotencyKey::parse("has space").is_err());
        assert!(IdempotencyKey::parse("7f3c-01").is_ok());
    }
}
