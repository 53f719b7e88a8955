//! Layered configuration: compiled defaults ← optional TOML file ← `CADRE__SECTION__KEY`
//! environment variables (Zero To Production's `configuration.rs`). Every value is
//! validated at start; a bad one stops the process with a message naming the key.
//! Secrets are `SecretString`s and never print. Each part of the suite has a section
//! named after it (`[roster]`, `CADRE__ROSTER__…`) holding its database and where it
//! is reachable; the kit learns the part names from the registry, never by name.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use thiserror::Error;

use crate::client::{ClientSettings, Target};
use crate::db::Backend;

/// The built-in development secrets: fine on a laptop, refused in production.
pub const DEV_JWT_SECRET: &str = "cadre-dev-secret-not-for-production";
/// 32 bytes, base64: development only.
pub const DEV_PII_ENCRYPTION_KEY: &str = "ZGV2LW9ubHktcGlpLWVuY3J5cHRpb24ta2V5LTMyYiE=";
pub const DEV_PII_INDEX_KEY: &str = "ZGV2LW9ubHktcGlpLWJsaW5kLWluZGV4LWtleS0zMiE=";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("configuration could not be read: {0}")]
    Load(#[from] config::ConfigError),
    #[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

/// What the configuration is for: `production` refuses the built-in development
/// secrets and keys, and SQLite, at start.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    #[default]
    Development,
    Production,
}

/// The jurisdiction services act for on their own (change-feed followers) when
/// `auth.service_region` is not set: the demo's province. Production must set it.
pub const DEV_SERVICE_REGION: &str = "150000000000";

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    #[serde(alias = "environment")]
    pub profile: Profile,
    /// Where SQLite files live when a database URL is not given.
    pub data_dir: PathBuf,
    /// gRPC listen address of the services (all of them under `cadre up`).
    pub grpc_addr: SocketAddr,
    /// HTTP listen address of the gateway (REST, OpenAPI, gRPC passthrough, metrics).
    pub http_addr: SocketAddr,
    /// HTTP address for `/metrics` when a service runs alone (`cadre serve roster`).
    pub metrics_addr: Option<SocketAddr>,
    /// Seed the demo data on first start of `cadre up` (only into empty databases).
    pub demo: bool,
    /// How long a part keeps answering after it reports NOT_SERVING on SIGTERM, before it
    /// stops accepting calls: Kubernetes takes a few seconds to stop routing to a pod
    /// that is terminating. Default: 0 in development, 5000 in production.
    pub drain_grace_ms: Option<u64>,
    pub telemetry: TelemetrySettings,
    pub auth: AuthSettings,
    pub pii: PiiSettings,
    pub gateway: GatewaySettings,
    /// Calls from one part to another, and from the gateway to the parts (`kit::client`).
    pub client: ClientConfig,
    /// Each part's own section (`[roster]`), keyed by part name; filled by [`Settings::load`].
    #[serde(skip)]
    pub parts: BTreeMap<String, PartSettings>,
    /// Top-level sections not known above, as read: [`Settings::load`] moves the parts'
    /// into `parts` and refuses any other, so this is empty once loaded.
    #[serde(flatten)]
    pub unparsed: BTreeMap<String, serde_json::Value>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            profile: Profile::Development,
            data_dir: PathBuf::from("./data"),
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 50051)),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            metrics_addr: None,
            demo: true,
            drain_grace_ms: None,
            telemetry: TelemetrySettings::default(),
            auth: AuthSettings::default(),
            pii: PiiSettings::default(),
            gateway: GatewaySettings::default(),
            client: ClientConfig::default(),
            parts: BTreeMap::new(),
            unparsed: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetrySettings {
    /// `tracing` filter, e.g. "info,cadre_roster=debug".
    pub log_filter: String,
    pub log_format: LogFormat,
    /// OTLP/gRPC collector, e.g. "http://otel-collector:4317"; none = no export.
    pub otlp_endpoint: Option<String>,
    /// Fraction of traces sampled when exporting (parent decisions are honoured).
    pub sample_ratio: f64,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            log_filter: "info".into(),
            log_format: LogFormat::Text,
            otlp_endpoint: None,
            sample_ratio: 1.0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// HS256 secret for development and for tokens printed by `cadre token`.
    pub dev_secret: SecretString,
    /// Accept HS256 tokens signed with `dev_secret` (off in production unless set).
    pub accept_dev_tokens: bool,
    /// Required `iss` claim, if set.
    pub issuer: Option<String>,
    /// Required `aud` claim, if set.
    pub audience: Option<String>,
    /// JWKS file with RS256/ES256 public keys of the provincial identity provider.
    pub jwks_file: Option<PathBuf>,
    /// JWKS URL of the identity provider, fetched at start and refreshed.
    pub jwks_url: Option<String>,
    pub jwks_refresh_secs: u64,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    pub leeway_secs: u64,
    /// The jurisdiction this deployment's services act for when they call each other on
    /// their own (change-feed followers, role `integration`), e.g. the province.
    pub service_region: Option<String>,
    /// PEM private key (ES256 or RS256) services sign their own tokens with when dev
    /// tokens are off; its public half must be in the JWKS under `service_key_id`.
    pub service_key_file: Option<PathBuf>,
    pub service_key_id: Option<String>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            dev_secret: SecretString::from(DEV_JWT_SECRET),
            accept_dev_tokens: true,
            issuer: None,
            audience: None,
            jwks_file: None,
            jwks_url: None,
            jwks_refresh_secs: 300,
            leeway_secs: 30,
            service_region: None,
            service_key_file: None,
            service_key_id: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PiiSettings {
    /// 32 bytes, base64: the AEAD key that encrypts ID numbers and phones at rest.
    pub encryption_key: SecretString,
    /// 32 bytes, base64: the HMAC key of the blind index used for exact lookups.
    pub index_key: SecretString,
}

impl Default for PiiSettings {
    fn default() -> Self {
        Self {
            encryption_key: SecretString::from(DEV_PII_ENCRYPTION_KEY),
            index_key: SecretString::from(DEV_PII_INDEX_KEY),
        }
    }
}

impl PiiSettings {
    pub fn encryption_key_bytes(&self) -> Result<[u8; 32], String> {
        decode_key("pii.encryption_key", &self.encryption_key)
    }
    pub fn index_key_bytes(&self) -> Result<[u8; 32], String> {
        decode_key("pii.index_key", &self.index_key)
    }
}

fn decode_key(name: &str, key: &SecretString) -> Result<[u8; 32], String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(key.expose_secret().trim())
        .map_err(|e| format!("{name}: not valid base64 ({e})"))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| format!("{name}: must decode to 32 bytes, got {}", bytes.len()))
}

/// One part's section: its database (when it runs here) and where it is reachable
/// (for the gateway and the parts that call it).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PartSettings {
    pub database: DatabaseSettings,
    /// Where the part's replicas listen: `http://10.0.0.5:50051,http://10.0.0.6:50051`,
    /// or `dns://roster-headless:50051` (a Kubernetes headless Service, re-resolved).
    /// Default: this process's own gRPC address when the part runs here too.
    pub endpoints: Option<String>,
}

impl PartSettings {
    /// The configured endpoints as a client target, if any.
    pub fn target(&self) -> Result<Option<Target>, crate::client::TargetError> {
        self.endpoints.as_deref().map(Target::parse).transpose()
    }
}

/// How a part calls another, and the gateway the parts (`kit::client`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientConfig {
    /// How often a `dns://` target is resolved again: replicas added or removed are used
    /// or dropped within this interval.
    pub refresh_ms: u64,
    /// Deadline of a call when the caller's own is longer or absent.
    pub default_deadline_ms: u64,
    pub connect_timeout_ms: u64,
    /// Tries per call (retries only for idempotent calls or calls never sent).
    pub max_attempts: u32,
    /// Retries allowed on top of calls, as a fraction of calls (0.2: at most 20% more).
    pub retry_budget_ratio: f32,
}

impl Default for ClientConfig {
    fn default() -> Self {
        let kit = ClientSettings::default();
        let ms = |d: std::time::Duration| d.as_millis() as u64;
        Self {
            refresh_ms: ms(kit.refresh),
            default_deadline_ms: ms(kit.default_deadline),
            connect_timeout_ms: ms(kit.connect_timeout),
            max_attempts: kit.max_attempts,
            retry_budget_ratio: kit.retry_budget_ratio,
        }
    }
}

impl ClientConfig {
    /// The client's settings: these values over the kit's defaults.
    pub fn settings(&self) -> ClientSettings {
        use std::time::Duration;
        ClientSettings {
            refresh: Duration::from_millis(self.refresh_ms),
            default_deadline: Duration::from_millis(self.default_deadline_ms),
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
            max_attempts: self.max_attempts,
            retry_budget_ratio: self.retry_budget_ratio,
            ..ClientSettings::default()
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://path/to/file.db` or `postgres://user@host/db`; default: a SQLite
    /// file named after the service under `data_dir`.
    pub url: Option<SecretString>,
    pub max_connections: u32,
    /// Run embedded migrations at start (turn off when operators migrate separately).
    pub migrate_on_start: bool,
    pub acquire_timeout_secs: u64,
    /// SQLite's `synchronous` pragma (WAL mode): `normal` (the default) may lose the last
    /// commits on power loss, never corrupts; `full` syncs the WAL on every commit.
    pub sqlite_synchronous: SqliteSynchronous,
}

/// SQLite's `PRAGMA synchronous` under WAL.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    /// Sync at checkpoints only: a commit survives a crash of the process, and the
    /// database stays consistent on power loss, but the last commits may be rolled back.
    #[default]
    Normal,
    /// Sync the WAL on every commit: a commit survives power loss too.
    Full,
}

impl SqliteSynchronous {
    pub fn pragma(self) -> &'static str {
        match self {
            Self::Normal => "PRAGMA synchronous = NORMAL",
            Self::Full => "PRAGMA synchronous = FULL",
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 8,
            migrate_on_start: true,
            acquire_timeout_secs: 5,
            sqlite_synchronous: SqliteSynchronous::Normal,
        }
    }
}

impl DatabaseSettings {
    /// The URL to connect to for `service`, defaulting to `<data_dir>/<service>.db`.
    pub fn url_for(&self, data_dir: &Path, service: &str) -> SecretString {
        match &self.url {
            Some(url) => url.clone(),
            None => {
                SecretString::from(format!("sqlite://{}", data_dir.join(format!("{service}.db")).display()))
            }
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewaySettings {
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// Largest body of a client-streaming gRPC call (a roster file sent in pieces).
    pub stream_body_limit_bytes: usize,
    /// Deadline applied to a call that does not carry a shorter one.
    pub default_deadline_ms: u64,
    /// Calls in flight per upstream before new ones are shed with 503.
    pub concurrency_limit: usize,
    /// Bulk calls (imports, client-streaming calls) in flight per upstream, in a pool
    /// apart from `concurrency_limit`'s; beyond it they are shed (503 / RESOURCE_EXHAUSTED
    /// with Retry-After), never queued.
    pub bulk_concurrency_limit: usize,
    /// Bulk calls in flight per caller (token subject) per upstream.
    pub bulk_per_caller_limit: usize,
    /// Requests per caller (token subject; peer address before authentication).
    pub rate_limits: RateLimits,
}

/// A token bucket: `per_second` requests on average, `burst` at once. `per_second = 0`
/// means unlimited.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub per_second: f64,
    /// Required unless `per_second` is 0.
    #[serde(default)]
    pub burst: u32,
}

impl Rate {
    pub const UNLIMITED: Rate = Rate { per_second: 0.0, burst: 0 };

    pub fn is_unlimited(&self) -> bool {
        self.per_second == 0.0
    }
}

/// Per-caller rate limits at the gateway, over REST and gRPC passthrough alike.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// For an authenticated caller none of whose roles has an entry in `roles`.
    pub default: Rate,
    /// Per role name (`county_admin`, `integration`, …); a caller with several roles
    /// gets the most generous of theirs. Beside [`RateLimits::BUILT_IN_ROLES`].
    pub roles: BTreeMap<String, Rate>,
    /// For requests without a valid token, keyed by peer address.
    pub unauthenticated: Rate,
    /// Callers tracked at once; idle callers (bucket full again) are evicted first.
    pub max_callers: usize,
}

impl RateLimits {
    /// The rate of `role` when `roles` does not name it: machine clients (provincial
    /// systems, `integration`) sync in bulk, so they are unlimited here and bounded by the
    /// per-part concurrency limit instead; other roles have none of their own.
    pub const BUILT_IN_ROLES: [(&str, Rate); 1] = [("integration", Rate::UNLIMITED)];

    /// The configured rate of `role`, else its built-in one, else none.
    pub fn for_role(&self, role: &str) -> Option<Rate> {
        self.roles
            .get(role)
            .copied()
            .or_else(|| Self::BUILT_IN_ROLES.iter().find(|(r, _)| *r == role).map(|(_, rate)| *rate))
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            default: Rate { per_second: 50.0, burst: 100 },
            roles: BTreeMap::new(),
            unauthenticated: Rate { per_second: 5.0, burst: 20 },
            max_callers: 100_000,
        }
    }
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            body_limit_bytes: 4 * 1024 * 1024,
            stream_body_limit_bytes: 80 * 1024 * 1024,
            default_deadline_ms: 15_000,
            concurrency_limit: 1024,
            bulk_concurrency_limit: 4,
            bulk_per_caller_limit: 1,
            rate_limits: RateLimits::default(),
        }
    }
}

impl Settings {
    /// Loads defaults, then `file` (if given), then `CADRE__…` variables, and validates.
    /// `parts` are the names of the suite's parts: each may have a section of its own,
    /// and any other unknown top-level key is an error.
    pub fn load(file: Option<&Path>, parts: &[&str]) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(file) = file {
            builder = builder.add_source(config::File::from(file).required(true));
        }
        builder = builder.add_source(
            config::Environment::with_prefix("CADRE")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true),
        );
        let mut settings: Settings = builder.build()?.try_deserialize()?;
        let mut problems = Vec::new();
        for (key, value) in std::mem::take(&mut settings.unparsed) {
            if !parts.contains(&key.as_str()) {
                problems.push(format!("{key}: unknown key (parts: {})", parts.join(", ")));
                continue;
            }
            match serde_json::from_value::<PartSettings>(value) {
                Ok(part) => {
                    settings.parts.insert(key, part);
                }
                Err(e) => problems.push(format!("{key}: {e}")),
            }
        }
        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems));
        }
        settings.validate()?;
        Ok(settings)
    }

    /// A part's section (its defaults when the configuration has none).
    pub fn part(&self, name: &str) -> PartSettings {
        self.parts.get(name).cloned().unwrap_or_default()
    }

    /// A part's section to change (tests, the CLI's flags).
    pub fn part_mut(&mut self, name: &str) -> &mut PartSettings {
        self.parts.entry(name.to_string()).or_default()
    }

    pub fn is_production(&self) -> bool {
        self.profile == Profile::Production
    }

    /// The drain grace: configured, or the profile's default.
    pub fn drain_grace(&self) -> std::time::Duration {
        let ms = self.drain_grace_ms.unwrap_or(if self.is_production() { 5_000 } else { 0 });
        std::time::Duration::from_millis(ms)
    }

    /// The database URL of a part that runs in this process; production refuses SQLite.
    pub fn database_url(&self, part: &str) -> Result<SecretString, ConfigError> {
        let url = self.part(part).database.url_for(&self.data_dir, part);
        if self.is_production() && Backend::of_url(url.expose_secret()) != Some(Backend::Postgres) {
            return Err(ConfigError::Invalid(vec![format!(
                "{part}.database.url: profile = \"production\" refuses SQLite; set CADRE__{}__DATABASE__URL=postgres://…",
                part.to_uppercase()
            )]));
        }
        Ok(url)
    }

    /// Every problem at once, each naming its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let production = self.is_production();
        if let Err(e) = self.pii.encryption_key_bytes() {
            problems.push(e);
        }
        if let Err(e) = self.pii.index_key_bytes() {
            problems.push(e);
        }
        if production {
            if self.auth.dev_secret.expose_secret() == DEV_JWT_SECRET && self.auth.accept_dev_tokens {
                problems.push(
                    "auth.dev_secret: profile = \"production\" refuses the built-in development secret; \
                     set CADRE__AUTH__DEV_SECRET or CADRE__AUTH__ACCEPT_DEV_TOKENS=false"
                        .into(),
                );
            }
            if self.pii.encryption_key.expose_secret() == DEV_PII_ENCRYPTION_KEY {
                problems.push(
                    "pii.encryption_key: profile = \"production\" refuses the built-in development key; \
                     set CADRE__PII__ENCRYPTION_KEY"
                        .into(),
                );
            }
            if self.pii.index_key.expose_secret() == DEV_PII_INDEX_KEY {
                problems.push(
                    "pii.index_key: profile = \"production\" refuses the built-in development key; \
                     set CADRE__PII__INDEX_KEY"
                        .into(),
                );
            }
            if self.auth.service_region.is_none() {
                problems.push(
                    "auth.service_region: profile = \"production\" needs the region the services act for \
                     on their own (e.g. the province, 150000000000)"
                        .into(),
                );
            }
        }
        if self.auth.jwks_refresh_secs < 10 {
            problems.push(format!(
                "auth.jwks_refresh_secs: must be at least 10, got {}",
                self.auth.jwks_refresh_secs
            ));
        }
        if self.auth.dev_secret.expose_secret().len() < 16 && self.auth.accept_dev_tokens {
            problems.push("auth.dev_secret: must be at least 16 characters".into());
        }
        if !self.auth.accept_dev_tokens && self.auth.jwks_file.is_none() && self.auth.jwks_url.is_none() {
            problems.push(
                "auth: no way to verify tokens: set auth.jwks_file or auth.jwks_url, or accept dev tokens"
                    .into(),
            );
        }
        if !self.auth.accept_dev_tokens && self.auth.service_key_file.is_none() {
            problems.push(
                "auth.service_key_file: with dev tokens off, services need a key to sign their own tokens"
                    .into(),
            );
        }
        if self.auth.service_key_file.is_some() && self.auth.service_key_id.is_none() {
            problems.push("auth.service_key_id: required with auth.service_key_file (the JWKS kid)".into());
        }
        if let Some(region) = &self.auth.service_region
            && let Err(e) = crate::region_code::RegionCode::parse(region)
        {
            problems.push(format!("auth.service_region: {e}"));
        }
        if !(0.0..=1.0).contains(&self.telemetry.sample_ratio) {
            problems.push(format!(
                "telemetry.sample_ratio: must be within 0..=1, got {}",
                self.telemetry.sample_ratio
            ));
        }
        if let Some(ep) = &self.telemetry.otlp_endpoint
            && !(ep.starts_with("http://") || ep.starts_with("https://"))
        {
            problems
                .push(format!("telemetry.otlp_endpoint: must start with http:// or https://, got {ep:?}"));
        }
        for (name, part) in &self.parts {
            if part.database.max_connections == 0 {
                problems.push(format!("{name}.database.max_connections: must be at least 1"));
            }
            if let Some(url) = &part.database.url
                && Backend::of_url(url.expose_secret()).is_none()
            {
                problems.push(format!(
                    "{name}.database.url: must start with sqlite:, postgres:// or postgresql://"
                ));
            }
            if let Err(e) = part.target() {
                problems.push(format!("{name}.endpoints: {e}"));
            }
        }
        if self.gateway.body_limit_bytes < 1024 {
            problems.push(format!(
                "gateway.body_limit_bytes: must be at least 1024, got {}",
                self.gateway.body_limit_bytes
            ));
        }
        if self.gateway.stream_body_limit_bytes < self.gateway.body_limit_bytes {
            problems.push(format!(
                "gateway.stream_body_limit_bytes: must be at least gateway.body_limit_bytes ({}), got {}",
                self.gateway.body_limit_bytes, self.gateway.stream_body_limit_bytes
            ));
        }
        if self.gateway.default_deadline_ms == 0 {
            problems.push("gateway.default_deadline_ms: must be positive".into());
        }
        if self.gateway.concurrency_limit == 0 {
            problems.push("gateway.concurrency_limit: must be positive".into());
        }
        if self.gateway.bulk_concurrency_limit == 0 || self.gateway.bulk_per_caller_limit == 0 {
            problems.push(
                "gateway.bulk_concurrency_limit, gateway.bulk_per_caller_limit: must be positive".into(),
            );
        }
        let limits = &self.gateway.rate_limits;
        let rates = [
            ("default".to_string(), limits.default),
            ("unauthenticated".to_string(), limits.unauthenticated),
        ]
        .into_iter()
        .chain(limits.roles.iter().map(|(role, rate)| (format!("roles.{role}"), *rate)));
        for (name, rate) in rates {
            if !rate.per_second.is_finite() || rate.per_second < 0.0 {
                problems.push(format!(
                    "gateway.rate_limits.{name}.per_second: must be 0 (unlimited) or positive"
                ));
            } else if !rate.is_unlimited() && rate.burst == 0 {
                problems.push(format!("gateway.rate_limits.{name}.burst: must be positive"));
            }
        }
        for role in limits.roles.keys() {
            if let Err(e) = crate::principal::Role::from_str(role) {
                problems.push(format!("gateway.rate_limits.roles: {e}"));
            }
        }
        if limits.max_callers == 0 {
            problems.push("gateway.rate_limits.max_callers: must be positive".into());
        }
        if self.client.default_deadline_ms == 0 || self.client.refresh_ms == 0 {
            problems.push("client.default_deadline_ms and client.refresh_ms: must be positive".into());
        }
        if !(1..=10).contains(&self.client.max_attempts) {
            problems.push(format!(
                "client.max_attempts: must be within 1..=10, got {}",
                self.client.max_attempts
            ));
        }
        if problems.is_empty() { Ok(()) } else { Err(ConfigError::Invalid(problems)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_for_development() {
        Settings::default().validate().unwrap();
    }

    #[test]
    fn production_refuses_the_built_in_secrets_and_names_them() {
        let settings = Settings { profile: Profile::Production, ..Settings::default() };
        let err = settings.validate().unwrap_err().to_string();
        assert!(err.contains("auth.dev_secret"), "{err}");
        assert!(err.contains("auth.service_region"), "{err}");
        assert!(err.contains("pii.encryption_key"), "{err}");
        assert!(err.contains("pii.index_key"), "{err}");
    }

    #[test]
    fn a_short_pii_key_is_reported_with_its_length() {
        let mut settings = Settings::default();
        settings.pii.encryption_key = SecretString::from("c2hvcnQ=");
        let err = settings.validate().unwrap_err().to_string();
        assert!(err.contains("pii.encryption_key: must decode to 32 bytes, got 5"), "{err}");
    }

    #[test]
    fn a_file_and_environment_layer_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cadre.toml");
        std::fs::write(&file, "grpc_addr = \"127.0.0.1:6000\"\n[gateway]\nbody_limit_bytes = 2048\n")
            .unwrap();
        let settings = Settings::load(Some(&file), &["roster"]).unwrap();
        assert_eq!(settings.grpc_addr.port(), 6000);
        assert_eq!(settings.gateway.body_limit_bytes, 2048);
        assert_eq!(settings.http_addr.port(), 8080);
    }

    #[test]
    fn rate_limits_are_read_per_role_and_an_unknown_role_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cadre.toml");
        std::fs::write(
            &file,
            "[gateway.rate_limits]\ndefault = { per_second = 0, burst = 0 }\n\
             [gateway.rate_limits.roles]\ncounty_admin = { per_second = 2.5, burst = 10 }\n",
        )
        .unwrap();
        let settings = Settings::load(Some(&file), &["roster"]).unwrap();
        let limits = &settings.gateway.rate_limits;
        assert!(limits.default.is_unlimited(), "an integer 0 reads as unlimited");
        assert_eq!(limits.roles["county_admin"], Rate { per_second: 2.5, burst: 10 });
        assert!(
            limits.for_role("integration").is_some_and(|r| r.is_unlimited()),
            "built in beside the file's"
        );
        assert_eq!(limits.for_role("county_admin"), Some(Rate { per_second: 2.5, burst: 10 }));
        assert_eq!(limits.for_role("city_admin"), None);

        std::fs::write(&file, "[gateway.rate_limits.roles]\nroot = { per_second = 1, burst = 1 }\n").unwrap();
        let err = Settings::load(Some(&file), &["roster"]).unwrap_err().to_string();
        assert!(err.contains("gateway.rate_limits.roles") && err.contains("root"), "{err}");
        std::fs::write(&file, "[gateway.rate_limits]\ndefault = { per_second = 5, burst = 0 }\n").unwrap();
        let err = Settings::load(Some(&file), &["roster"]).unwrap_err().to_string();
        assert!(err.contains("gateway.rate_limits.default.burst"), "{err}");
    }

    #[test]
    fn unknown_keys_are_errors_not_silently_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cadre.toml");
        std::fs::write(&file, "grpc_adr = \"127.0.0.1:6000\"\n").unwrap();
        let err = Settings::load(Some(&file), &["roster"]).unwrap_err().to_string();
        assert!(err.contains("grpc_adr"), "{err}");
        std::fs::write(&file, "[roster.database]\nmax_conections = 3\n").unwrap();
        let err = Settings::load(Some(&file), &["roster"]).unwrap_err().to_string();
        assert!(err.contains("roster") && err.contains("max_conections"), "{err}");
    }

    #[test]
    fn a_part_section_is_read_by_the_part_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cadre.toml");
        std::fs::write(
            &file,
            "[roster]\nendpoints = \"dns://roster-headless:50051\"\n[roster.database]\nmax_connections = 3\n",
        )
        .unwrap();
        let settings = Settings::load(Some(&file), &["roster", "training"]).unwrap();
        assert_eq!(settings.part("roster").database.max_connections, 3);
        assert_eq!(settings.part("roster").endpoints.as_deref(), Some("dns://roster-headless:50051"));
        assert_eq!(settings.part("training").database.max_connections, 8);
    }

    #[test]
    fn client_and_endpoint_problems_name_their_keys() {
        let mut settings = Settings::default();
        settings.client.refresh_ms = 0;
        settings.part_mut("roster").endpoints = Some("roster:50051".into());
        let err = settings.validate().unwrap_err().to_string();
        assert!(err.contains("client.refresh_ms: must be positive"), "{err}");
        assert!(err.contains("roster.endpoints"), "{err}");
    }

    #[test]
    fn production_refuses_sqlite_naming_the_setting() {
        let mut settings = Settings { profile: Profile::Production, ..Settings::default() };
        let err = settings.database_url("roster").unwrap_err().to_string();
        assert!(err.contains("roster.database.url") && err.contains("CADRE__ROSTER__DATABASE__URL"), "{err}");
        settings.part_mut("roster").database.url = Some(SecretString::from("postgres://db/roster"));
        assert!(settings.database_url("roster").is_ok());
        assert_eq!(settings.drain_grace().as_millis(), 5000);
    }
}
