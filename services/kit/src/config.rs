//! Layered configuration: compiled defaults ← optional TOML file ← `CADRE__SECTION__KEY`
//! environment variables (Zero To Production's `configuration.rs`). Every value is
//! validated at start; a bad one stops the process with a message naming the key.
//! Secrets are `SecretString`s and never print.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use thiserror::Error;

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

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    #[default]
    Development,
    Production,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub environment: Environment,
    /// Where SQLite files live when a database URL is not given.
    pub data_dir: PathBuf,
    /// gRPC listen address of the services (all of them under `cadre up`).
    pub grpc_addr: SocketAddr,
    /// HTTP listen address of the gateway (REST, OpenAPI, gRPC passthrough, metrics).
    pub http_addr: SocketAddr,
    /// HTTP address for `/metrics` when a service runs alone (`cadre serve roster`).
    pub metrics_addr: Option<SocketAddr>,
    /// Seed the demo county on first start (only when the roster is empty).
    pub demo: bool,
    pub telemetry: TelemetrySettings,
    pub auth: AuthSettings,
    pub pii: PiiSettings,
    pub roster: ServiceSettings,
    pub gateway: GatewaySettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            environment: Environment::Development,
            data_dir: PathBuf::from("./data"),
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 50051)),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            metrics_addr: None,
            demo: true,
            telemetry: TelemetrySettings::default(),
            auth: AuthSettings::default(),
            pii: PiiSettings::default(),
            roster: ServiceSettings::default(),
            gateway: GatewaySettings::default(),
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
    /// Clock skew tolerated on `exp`/`nbf`.
    pub leeway_secs: u64,
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

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceSettings {
    pub database: DatabaseSettings,
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
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self { url: None, max_connections: 8, migrate_on_start: true, acquire_timeout_secs: 5 }
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
    /// Endpoints per part, comma-separated: `roster = "http://roster-0:50051,http://roster-1:50051"`.
    /// Under `cadre up` every part defaults to the in-process gRPC address.
    pub upstreams: BTreeMap<String, String>,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// Largest body of a client-streaming gRPC call (a roster file sent in pieces).
    pub stream_body_limit_bytes: usize,
    /// Deadline applied to a call that does not carry a shorter one.
    pub default_deadline_ms: u64,
    /// Calls in flight per upstream before new ones are shed with 503.
    pub concurrency_limit: usize,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            upstreams: BTreeMap::new(),
            body_limit_bytes: 4 * 1024 * 1024,
            stream_body_limit_bytes: 80 * 1024 * 1024,
            default_deadline_ms: 15_000,
            concurrency_limit: 1024,
        }
    }
}

impl Settings {
    /// Loads defaults, then `file` (if given), then `CADRE__…` variables, and validates.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
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
        let settings: Settings = builder.build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Every problem at once, each naming its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let production = self.environment == Environment::Production;
        if let Err(e) = self.pii.encryption_key_bytes() {
            problems.push(e);
        }
        if let Err(e) = self.pii.index_key_bytes() {
            problems.push(e);
        }
        if production {
            if self.auth.dev_secret.expose_secret() == DEV_JWT_SECRET && self.auth.accept_dev_tokens {
                problems.push(
                    "auth.dev_secret: the built-in development secret is refused in production; \
                     set CADRE__AUTH__DEV_SECRET or CADRE__AUTH__ACCEPT_DEV_TOKENS=false"
                        .into(),
                );
            }
            if self.pii.encryption_key.expose_secret() == DEV_PII_ENCRYPTION_KEY {
                problems
                    .push("pii.encryption_key: the built-in development key is refused in production".into());
            }
            if self.pii.index_key.expose_secret() == DEV_PII_INDEX_KEY {
                problems.push("pii.index_key: the built-in development key is refused in production".into());
            }
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
        if self.roster.database.max_connections == 0 {
            problems.push("roster.database.max_connections: must be at least 1".into());
        }
        if let Some(url) = &self.roster.database.url {
            let url = url.expose_secret();
            if !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
            {
                problems.push(
                    "roster.database.url: must start with sqlite:, postgres:// or postgresql://".into(),
                );
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
        for (part, endpoints) in &self.gateway.upstreams {
            for ep in endpoints.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                if ep
                    .parse::<http::Uri>()
                    .map(|u| u.scheme().is_none() || u.authority().is_none())
                    .unwrap_or(true)
                {
                    problems.push(format!(
                        "gateway.upstreams.{part}: {ep:?} is not a URL like http://host:50051"
                    ));
                }
            }
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
        let settings = Settings { environment: Environment::Production, ..Settings::default() };
        let err = settings.validate().unwrap_err().to_string();
        assert!(err.contains("auth.dev_secret"), "{err}");
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
        let settings = Settings::load(Some(&file)).unwrap();
        assert_eq!(settings.grpc_addr.port(), 6000);
        assert_eq!(settings.gateway.body_limit_bytes, 2048);
        assert_eq!(settings.http_addr.port(), 8080);
    }

    #[test]
    fn unknown_keys_are_errors_not_silently_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cadre.toml");
        std::fs::write(&file, "grpc_adr = \"127.0.0.1:6000\"\n").unwrap();
        let err = Settings::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("grpc_adr"), "{err}");
    }
}
