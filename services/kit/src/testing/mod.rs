//! What tests of any part start from: fresh databases (a new SQLite file always, and a
//! new PostgreSQL database as well when `CADRE_TEST_POSTGRES_URL` names a server, as
//! `.ci/run` does, so every test runs on both backends), and [`TestNode`]: any parts
//! started as `cadre serve` starts them, on a port chosen by the OS, with tokens for
//! the callers a scenario needs; [`roster::StandInRoster`], a roster that a service
//! following or calling the roster can be tested against without the roster's crate.

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use sqlx::Executor;
use sqlx::any::AnyPoolOptions;
use tonic::transport::Channel;

use crate::auth::{Authenticator, issue_dev_token};
use crate::config::{DatabaseSettings, Settings};
use crate::db::{Backend, Db, Migration};
use crate::metrics::Metrics;
use crate::node::{self, Node};
use crate::part::Part;
use crate::principal::Role;
use crate::region_code::RegionCode;
use crate::shutdown::Shutdown;

pub mod roster;

pub const POSTGRES_URL_VAR: &str = "CADRE_TEST_POSTGRES_URL";
/// Databases created for tests are named with this prefix (`.ci/run` drops old ones).
pub const TEST_DATABASE_PREFIX: &str = "cadre_test_";

/// A migrated, empty database that lives as long as this value.
pub struct TestDb {
    db: Db,
    url: SecretString,
    _dir: Option<tempfile::TempDir>,
}

impl Deref for TestDb {
    type Target = Db;
    fn deref(&self) -> &Db {
        &self.db
    }
}

impl TestDb {
    /// The URL, for starting a service on this database.
    pub fn url(&self) -> &SecretString {
        &self.url
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// A fresh SQLite database, plus a fresh PostgreSQL one when configured.
    pub async fn all(migrations: &[Migration]) -> Vec<TestDb> {
        let mut dbs = vec![Self::sqlite(migrations).await];
        if let Some(pg) = Self::postgres(migrations).await {
            dbs.push(pg);
        }
        dbs
    }

    pub async fn sqlite(migrations: &[Migration]) -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = SecretString::from(format!("sqlite://{}", dir.path().join("test.db").display()));
        let db = Db::connect(&url, &DatabaseSettings::default()).await.expect("sqlite connects");
        db.migrate(migrations).await.expect("migrations apply on SQLite");
        TestDb { db, url, _dir: Some(dir) }
    }

    /// `None` when `CADRE_TEST_POSTGRES_URL` is unset; panics when set but unusable, so
    /// a CI run that means to test PostgreSQL cannot silently skip it.
    pub async fn postgres(migrations: &[Migration]) -> Option<TestDb> {
        let server = std::env::var(POSTGRES_URL_VAR).ok().filter(|s| !s.is_empty())?;
        assert_eq!(
            Backend::of_url(&server),
            Some(Backend::Postgres),
            "{POSTGRES_URL_VAR} must be postgres://"
        );
        sqlx::any::install_default_drivers();
        let name = format!("{TEST_DATABASE_PREFIX}{}", uuid::Uuid::now_v7().simple());
        let admin = AnyPoolOptions::new()
            .max_connections(1)
            .connect(&server)
            .await
            .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR}={server}: cannot connect: {e}"));
        admin.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create test database");
        admin.close().await;
        let url = SecretString::from(with_database(&server, &name));
        let db = Db::connect(&url, &DatabaseSettings::default()).await.expect("postgres connects");
        db.migrate(migrations).await.expect("migrations apply on PostgreSQL");
        Some(TestDb { db, url, _dir: None })
    }
}

/// Parts serving gRPC on a port chosen by the OS, each over its own test database, as
/// `cadre serve` runs them (the kit's layer, health, draining): a test talks to them
/// as any client would.
pub struct TestNode {
    pub addr: SocketAddr,
    pub channel: Channel,
    pub settings: Settings,
    /// The databases as the parts opened them, by part name.
    databases: Vec<(&'static str, Db)>,
    /// This node's metrics (which calls it served).
    pub metrics: Metrics,
    shutdown: Shutdown,
    node: Option<tokio::task::JoinHandle<Result<(), node::NodeError>>>,
}

impl TestNode {
    /// Starts `parts`, each over the database beside it, as its creator migrated it (a
    /// test of an upgrade starts on the migrations before it).
    pub async fn start(parts: &[(&dyn Part, &TestDb)]) -> TestNode {
        let mut settings = Settings {
            grpc_addr: "127.0.0.1:0".parse().expect("an address"),
            http_addr: "127.0.0.1:0".parse().expect("an address"),
            demo: false,
            ..Settings::default()
        };
        for (part, db) in parts {
            let section = settings.part_mut(part.name());
            section.database.url = Some(db.url().clone());
            section.database.migrate_on_start = false;
        }
        Self::start_with(parts.iter().map(|(p, _)| *p).collect(), settings).await
    }

    /// Starts `parts` with `settings` as given (their databases among them).
    pub async fn start_with(parts: Vec<&dyn Part>, settings: Settings) -> TestNode {
        let shared = Arc::new(settings.clone());
        let shutdown = Shutdown::new();
        let auth = Authenticator::from_settings(&settings.auth).await.expect("test auth settings");
        let bound = node::Bound::bind(settings.grpc_addr).await.expect("a free port");
        let opened = node::open_all(&parts, &shared, &shutdown, Some(bound.addr)).await.expect("parts open");
        let metrics = Metrics::new();
        let node = Node::start(bound, opened, &settings, metrics.clone(), auth, false, shutdown.clone())
            .await
            .expect("parts serve");
        let addr = node.grpc_addr;
        let databases = node.parts().iter().map(|p| (p.name, p.db.clone())).collect();
        let channel = Channel::from_shared(format!("http://{addr}"))
            .expect("a URI")
            .connect()
            .await
            .expect("the node accepts connections");
        TestNode {
            addr,
            channel,
            settings,
            databases,
            metrics,
            shutdown,
            node: Some(tokio::spawn(node.wait())),
        }
    }

    /// The database `part` serves from (the node's own pool).
    pub fn db(&self, part: &str) -> &Db {
        self.databases.iter().find(|(n, _)| *n == part).map(|(_, db)| db).expect("a part of this node")
    }

    /// A development token for `roles` over `region`, subject `tester`.
    pub fn token(&self, roles: &[Role], region: &str) -> String {
        self.token_for("tester", roles, region)
    }

    pub fn token_for(&self, subject: &str, roles: &[Role], region: &str) -> String {
        issue_dev_token(
            &self.settings.auth.dev_secret,
            subject,
            roles,
            &RegionCode::parse(region).expect("a region code"),
            Duration::from_secs(600),
        )
        .expect("a dev token")
    }

    /// Drains and stops the node; panics if it failed.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(node) = self.node.take() {
            node.await.expect("the node task").expect("the node stops cleanly");
        }
    }
}

/// A development token with whatever claims a test needs (odd roles, times in the
/// future…), signed with the default development secret.
pub fn dev_token_with_claims(claims: &serde_json::Value) -> String {
    use secrecy::ExposeSecret;
    let secret = crate::config::AuthSettings::default().dev_secret;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.expose_secret().as_bytes()),
    )
    .expect("claims serialise")
}

/// Seconds since the epoch, for `exp`, `iat` and `nbf` claims.
pub fn now_secs() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// A request carrying `authorization: Bearer <token>`.
pub fn authorized<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    r.metadata_mut().insert("authorization", format!("Bearer {token}").parse().expect("a header value"));
    r
}

/// Deny by default, probed over every RPC of a part: each token whose roles grant
/// nothing (an unknown role, no role, a role at the wrong level, `pii` alone) is
/// refused with 403 naming why, and each real role is refused by the kit's layer
/// exactly when the permission table says so. `package` is the part's (`cadre.roster.`).
pub mod permissions {
    use cadre_proto::api::v1::Permission;
    use serde_json::json;
    use tonic::Code;
    use tonic::transport::Channel;

    use super::{dev_token_with_claims, now_secs};
    use crate::permission::{self, RpcInfo, Rpcs};
    use crate::principal::Role;

    /// No fields: every request decodes as its type's defaults, every reply is skipped.
    #[derive(Clone, PartialEq, prost::Message)]
    struct Empty {}

    /// Calls `rpc` with an empty message (a stream of one for streaming RPCs) and returns
    /// the status it ended with (OK when it answered or opened a stream).
    pub async fn call(channel: &Channel, rpc: &RpcInfo, token: &str) -> tonic::Status {
        let mut grpc = tonic::client::Grpc::new(channel.clone());
        grpc.ready().await.expect("the node accepts calls");
        let mut request = tonic::Request::new(futures::stream::iter([Empty {}]));
        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().expect("a header"));
        let path = rpc.path().parse().expect("an RPC path");
        let codec = tonic_prost::ProstCodec::<Empty, Empty>::default();
        match grpc.streaming(request, path, codec).await {
            Err(status) => status,
            Ok(_) => tonic::Status::ok(""),
        }
    }

    fn token(roles: serde_json::Value, region: &str) -> String {
        dev_token_with_claims(
            &json!({"sub": "probe", "roles": roles, "region": region, "exp": now_secs() + 600}),
        )
    }

    /// Every RPC of `package` refuses five tokens whose roles grant nothing, naming why.
    pub async fn refuse_tokens_that_grant_nothing(channel: &Channel, package: &str, county: &str) {
        let rpcs = Rpcs::suite().under(package);
        assert!(!rpcs.is_empty(), "no RPC under {package}");
        let refused = [
            ("an unknown role", token(json!(["root"]), county), "unknown role"),
            ("no role", token(json!([]), county), "no role"),
            ("a county role over a province", token(json!(["county_admin"]), "150000000000"), "county_admin"),
            ("a township role over a county", token(json!(["township_admin"]), county), "township_admin"),
            ("pii alone", token(json!(["pii"]), county), "pii"),
        ];
        for rpc in &rpcs {
            assert_ne!(rpc.permission, Permission::Unspecified, "{} declares no permission", rpc.name);
            for (what, token, why) in &refused {
                let status = call(channel, rpc, token).await;
                assert_eq!(status.code(), Code::PermissionDenied, "{} with {what}: {status:?}", rpc.name);
                assert!(status.message().contains(why), "{} with {what}: {}", rpc.name, status.message());
            }
        }
    }

    /// Every RPC of `package`, called by each of `callers` (role, region, a token for
    /// them): refused by the kit's layer exactly when the role lacks the permission.
    pub async fn grant_what_the_table_says(channel: &Channel, package: &str, callers: &[(Role, String)]) {
        for rpc in Rpcs::suite().under(package) {
            for (role, token) in callers {
                let status = call(channel, &rpc, token).await;
                let refused_by_layer =
                    status.code() == Code::PermissionDenied && status.message().contains("needs permission");
                assert_eq!(
                    refused_by_layer,
                    !permission::grants(*role, rpc.permission),
                    "{} as {role}: {status:?}",
                    rpc.name
                );
            }
        }
    }
}

/// Replaces the database name in a postgres:// URL.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[scheme_end..].find('/').map(|i| i + scheme_end).unwrap_or(base.len());
    let mut out = format!("{}/{}", &base[..host_end], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced_keeping_host_and_options() {
        assert_eq!(with_database("postgres://u@h:5432/postgres", "x"), "postgres://u@h:5432/x");
        assert_eq!(with_database("postgres://u@h:5432", "x"), "postgres://u@h:5432/x");
        assert_eq!(with_database("postgres://h/db?sslmode=disable", "x"), "postgres://h/x?sslmode=disable");
    }
}
