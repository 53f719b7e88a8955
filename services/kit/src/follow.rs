//! Following another part's change feed into a local read model (DESIGN.md: "read
//! models for batch work and reports"). A [`Follower`] pages through the part's
//! `ListChanges` from the position it stored, has its [`ReadModel`] fetch what a page
//! needs through the part's API in one batch call (no call per change), and applies the
//! page and the new position in one transaction of its own database: a restart resumes
//! where it stopped, with nothing missed and nothing applied twice. It calls under the
//! part's own identity (role `integration`, `auth.service_region`), so the feed and the
//! records come filtered and masked for that jurisdiction like anyone else's.
//!
//! Every part's `Change` message has the field numbers of `cadre.roster.v1.Change` (the
//! follower's contract on every feed, `services/kit/contracts/follow-on-every-feed.toml`,
//! checked in each producer's CI), so one follower reads any feed; the entity arrives as
//! the publishing part's enum number, for the model to read with that enum.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;
use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::client::{Idempotent, PartChannel, PartClient};
use crate::db::{Db, WriteTx, to_micros};
use crate::error::ApiError;
use crate::identity::ServiceIdentity;
use crate::shutdown::Shutdown;

pub use cadre_proto::changes::v1::Operation;

/// One change of the followed feed.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedChange {
    pub position: i64,
    pub recorded_at: Option<DateTime<Utc>>,
    /// A value of the publishing part's `Entity` enum (`pb::Entity::try_from(entity)`).
    pub entity: i32,
    pub key: String,
    pub operation: Operation,
    pub region_code: String,
    /// The region the record left, when the change moved it.
    pub previous_region_code: String,
    pub revision: i64,
}

/// What a follower keeps: a local copy of some of another part's records.
pub trait ReadModel: Send + Sync + 'static {
    /// What one page of changes needs from the followed part.
    type Fetched: Send;

    /// Fetches, through the followed part's API, what `changes` need: one batch call per
    /// kind of record, with `channel` (the follower's identity and deadline are on it).
    fn fetch(
        &self,
        channel: PartChannel,
        changes: &[FeedChange],
    ) -> impl Future<Output = Result<Self::Fetched, Status>> + Send;

    /// Applies a page in the follower's transaction; the new position is stored in the
    /// same one, after this returns.
    fn apply(
        &self,
        tx: &mut WriteTx,
        changes: &[FeedChange],
        fetched: Self::Fetched,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
}

/// How a follower pages and waits.
#[derive(Debug, Clone)]
pub struct FollowSettings {
    /// Changes per page (the feed allows up to 1000).
    pub page_size: i32,
    /// How long to wait before asking again once caught up.
    pub poll: Duration,
    /// Longest pause after failures in a row (the pause doubles from `poll`).
    pub max_backoff: Duration,
}

impl Default for FollowSettings {
    fn default() -> Self {
        Self { page_size: 500, poll: Duration::from_secs(1), max_backoff: Duration::from_secs(30) }
    }
}

/// Why a step of a follower failed; the follower retries from its stored position.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error("reading the {feed} feed: {0}", feed = .1)]
    Feed(Status, String),
    #[error("fetching records of the {feed} feed: {0}", feed = .1)]
    Fetch(Status, String),
    #[error("applying the {feed} feed: {0}", feed = .1)]
    Apply(ApiError, String),
    #[error("the service identity: {0}")]
    Identity(#[from] crate::auth::AuthError),
}

/// Follows one part's change feed into a [`ReadModel`].
pub struct Follower<M> {
    /// The followed part (`roster`): the key of the stored position.
    feed: String,
    /// `/cadre.roster.v1.ChangeService/ListChanges`
    list_path: http::uri::PathAndQuery,
    client: PartClient,
    identity: ServiceIdentity,
    db: Db,
    model: M,
    settings: FollowSettings,
}

impl<M: ReadModel> Follower<M> {
    /// A follower of the part `feed` whose gRPC package is `package` (`cadre.roster.v1`),
    /// reached through `client`, keeping `model` in `db`.
    pub fn new(
        feed: &str,
        package: &str,
        client: PartClient,
        identity: ServiceIdentity,
        db: Db,
        model: M,
        settings: FollowSettings,
    ) -> Result<Self, ApiError> {
        let list_path = format!("/{package}.ChangeService/ListChanges")
            .parse()
            .map_err(|e| ApiError::invalid("package", format!("{package:?}: {e}")))?;
        Ok(Self { feed: feed.to_string(), list_path, client, identity, db, model, settings })
    }

    pub fn model(&self) -> &M {
        &self.model
    }

    /// The position stored: every change up to it is applied.
    pub async fn position(&self) -> Result<i64, sqlx::Error> {
        stored_position(&self.db, &self.feed).await
    }

    /// One page: reads the changes after the stored position, fetches and applies them,
    /// stores the new position. Returns how many changes it applied (0: caught up).
    pub async fn step(&self) -> Result<usize, FollowError> {
        let feed = || self.feed.clone();
        let after = self.position().await.map_err(|e| FollowError::Apply(e.into(), feed()))?;
        let metadata = self.metadata()?;
        let page = self.list(after, &metadata).await.map_err(|s| FollowError::Feed(s, feed()))?;
        if page.changes.is_empty() && page.next_after_position <= after {
            return Ok(0);
        }
        let changes: Vec<FeedChange> = page.changes.into_iter().map(FeedChange::from).collect();
        let fetched = if changes.is_empty() {
            None
        } else {
            let fetch = self
                .client
                .call(Idempotent::Yes, None, &metadata, |channel| self.model.fetch(channel, &changes));
            Some(fetch.await.map_err(|s| FollowError::Fetch(s, feed()))?)
        };
        let apply = async {
            let mut tx = self.db.write().await?;
            // Another replica of this part may have stepped meanwhile: the stored position
            // is read again under the write lock, and a page already applied is dropped.
            let current = stored_position_in(&mut tx, &self.feed).await?;
            if current != after {
                return Ok(0);
            }
            if let Some(fetched) = fetched {
                self.model.apply(&mut tx, &changes, fetched).await?;
            }
            store_position(&mut tx, &self.feed, page.next_after_position).await?;
            tx.commit().await?;
            Ok::<usize, ApiError>(changes.len())
        };
        apply.await.map_err(|e| FollowError::Apply(e, feed()))
    }

    /// Steps until shutdown: at once while there is more, every `poll` once caught up,
    /// backing off after failures (logged) and resuming from the stored position.
    pub async fn run(self, shutdown: Shutdown) {
        let mut pause = self.settings.poll;
        loop {
            let wait = match self.step().await {
                Ok(0) => {
                    pause = self.settings.poll;
                    self.settings.poll
                }
                Ok(applied) => {
                    tracing::debug!(feed = %self.feed, applied, "followed");
                    pause = self.settings.poll;
                    Duration::ZERO
                }
                Err(e) => {
                    tracing::warn!(feed = %self.feed, retry_in_ms = pause.as_millis() as u64, "{e}");
                    let wait = pause;
                    pause = (pause * 2).min(self.settings.max_backoff);
                    wait
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    fn metadata(&self) -> Result<MetadataMap, FollowError> {
        let mut metadata = MetadataMap::new();
        metadata.insert("authorization", self.identity.authorization()?);
        Ok(metadata)
    }

    async fn list(&self, after: i64, metadata: &MetadataMap) -> Result<wire::ListChangesResponse, Status> {
        let request = cadre_proto::changes::v1::ListChangesRequest {
            after_position: after,
            region_code: String::new(),
            page_size: self.settings.page_size,
        };
        self.client
            .call(Idempotent::Yes, None, metadata, |channel| {
                let (path, request) = (self.list_path.clone(), request.clone());
                async move {
                    let mut grpc = tonic::client::Grpc::new(channel);
                    grpc.ready().await.map_err(|e| Status::unavailable(e.to_string()))?;
                    let codec = tonic_prost::ProstCodec::<_, wire::ListChangesResponse>::default();
                    grpc.unary(tonic::Request::new(request), path, codec)
                        .await
                        .map(tonic::Response::into_inner)
                }
            })
            .await
    }
}

async fn stored_position(db: &Db, feed: &str) -> Result<i64, sqlx::Error> {
    let row = sqlx::query("SELECT position FROM kit_follow_positions WHERE feed = $1")
        .bind(feed.to_string())
        .fetch_optional(db.pool())
        .await?;
    row.map_or(Ok(0), |r| r.try_get(0))
}

async fn stored_position_in(tx: &mut WriteTx, feed: &str) -> Result<i64, sqlx::Error> {
    let row = sqlx::query("SELECT position FROM kit_follow_positions WHERE feed = $1")
        .bind(feed.to_string())
        .fetch_optional(tx.conn())
        .await?;
    row.map_or(Ok(0), |r| r.try_get(0))
}

async fn store_position(tx: &mut WriteTx, feed: &str, position: i64) -> Result<(), sqlx::Error> {
    let now = to_micros(tx.now());
    let updated =
        sqlx::query("UPDATE kit_follow_positions SET position = $2, updated_at = $3 WHERE feed = $1")
            .bind(feed.to_string())
            .bind(position)
            .bind(now)
            .execute(tx.conn())
            .await?;
    if updated.rows_affected() == 0 {
        sqlx::query("INSERT INTO kit_follow_positions (feed, position, updated_at) VALUES ($1, $2, $3)")
            .bind(feed.to_string())
            .bind(position)
            .bind(now)
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

/// The feed's messages as every part's proto lays them out (field numbers of
/// `cadre.roster.v1.Change`), with the entity as its enum number.
mod wire {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Change {
        #[prost(int64, tag = "1")]
        pub position: i64,
        #[prost(message, optional, tag = "2")]
        pub recorded_at: Option<prost_types::Timestamp>,
        #[prost(int32, tag = "3")]
        pub entity: i32,
        #[prost(string, tag = "4")]
        pub key: String,
        #[prost(int32, tag = "5")]
        pub operation: i32,
        #[prost(string, tag = "6")]
        pub region_code: String,
        #[prost(int64, tag = "7")]
        pub revision: i64,
        #[prost(int64, tag = "8")]
        pub audit_sequence: i64,
        #[prost(string, tag = "9")]
        pub previous_region_code: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ListChangesResponse {
        #[prost(message, repeated, tag = "1")]
        pub changes: Vec<Change>,
        #[prost(int64, tag = "2")]
        pub next_after_position: i64,
        #[prost(int64, tag = "3")]
        pub head_position: i64,
    }
}

impl From<wire::Change> for FeedChange {
    fn from(c: wire::Change) -> Self {
        FeedChange {
            position: c.position,
            recorded_at: c
                .recorded_at
                .and_then(|t| DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32)),
            entity: c.entity,
            key: c.key,
            operation: Operation::try_from(c.operation).unwrap_or(Operation::Unspecified),
            region_code: c.region_code,
            previous_region_code: c.previous_region_code,
            revision: c.revision,
        }
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use prost_reflect::{DescriptorPool, DynamicMessage, Value};

    use super::*;

    /// What the follower relies on of every feed (numbers, types) is its contract,
    /// `services/kit/contracts/follow-on-every-feed.toml`, checked in each producer's CI by
    /// cadre-contracts. This checks the other side: that the `wire` structs read what every
    /// part's proto sends, field by field.
    #[test]
    fn every_parts_feed_decodes_as_the_follower_reads_it() {
        let pool = DescriptorPool::decode(cadre_proto::FILE_DESCRIPTOR_SET).unwrap();
        let feeds: Vec<_> = pool.services().filter(|s| s.name() == "ChangeService").collect();
        assert!(!feeds.is_empty());
        for service in feeds {
            let package = service.package_name();
            let message = |name: &str| {
                let full = format!("{package}.{name}");
                pool.get_message_by_name(&full).unwrap_or_else(|| panic!("{full}"))
            };
            let mut change = DynamicMessage::new(message("Change"));
            let mut at = DynamicMessage::new(pool.get_message_by_name("google.protobuf.Timestamp").unwrap());
            at.set_field_by_name("seconds", Value::I64(1_700_000_000));
            for (field, value) in [
                ("position", Value::I64(7)),
                ("recorded_at", Value::Message(at)),
                ("entity", Value::EnumNumber(2)),
                ("key", Value::String("k1".into())),
                ("operation", Value::EnumNumber(Operation::Updated as i32)),
                ("region_code", Value::String("150526100201".into())),
                ("revision", Value::I64(3)),
                ("audit_sequence", Value::I64(11)),
                ("previous_region_code", Value::String("150525100201".into())),
            ] {
                change.set_field_by_name(field, value);
            }
            let mut page = DynamicMessage::new(message("ListChangesResponse"));
            page.set_field_by_name("changes", Value::List(vec![Value::Message(change)]));
            page.set_field_by_name("next_after_position", Value::I64(7));
            page.set_field_by_name("head_position", Value::I64(9));

            let read = wire::ListChangesResponse::decode(page.encode_to_vec().as_slice()).unwrap();
            assert_eq!((read.next_after_position, read.head_position), (7, 9), "{package}");
            assert_eq!(read.changes[0].audit_sequence, 11, "{package}");
            let got: FeedChange = read.changes[0].clone().into();
            let want = FeedChange {
                position: 7,
                recorded_at: DateTime::from_timestamp(1_700_000_000, 0),
                entity: 2,
                key: "k1".into(),
                operation: Operation::Updated,
                region_code: "150526100201".into(),
                previous_region_code: "150525100201".into(),
                revision: 3,
            };
            assert_eq!(got, want, "{package}");
        }
    }
}
