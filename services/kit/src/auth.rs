//! Bearer-token authentication producing a [`Principal`]. Two kinds of token are
//! accepted: HS256 signed with the configured development secret (what `cadre token`
//! prints), and RS256/ES256 tokens of the provincial identity provider, verified against
//! the public keys of a JWKS file or URL (the URL is re-fetched periodically).
//!
//! Claims: `sub`, `roles` (role names), `region` (the 12-digit jurisdiction), `exp`,
//! `iat`, and `iss`/`aud` when configured.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tonic::Status;

use crate::config::AuthSettings;
use crate::error::ApiError;
use crate::principal::{Principal, Role};
use crate::region_code::RegionCode;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token: send `authorization: Bearer <token>`")]
    Missing,
    #[error("the authorization header must be `Bearer <token>`")]
    NotBearer,
    #[error("token expired")]
    Expired,
    #[error("token rejected: {0}")]
    Invalid(String),
    #[error("token claim {claim}: {reason}")]
    Claim { claim: &'static str, reason: String },
    #[error("token signed with unknown key {0:?}")]
    UnknownKey(String),
    #[error("JWKS {source_name}: {reason}")]
    Jwks { source_name: String, reason: String },
    #[error("could not sign the token: {0}")]
    Sign(String),
    /// A valid token whose roles grant nothing here (403, not 401: who is calling is
    /// known, what they may do is not).
    #[error("token refused: {0}")]
    Forbidden(String),
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Forbidden(_) => ApiError::permission_denied(e.to_string()),
            _ => ApiError::unauthenticated(e.to_string()),
        }
    }
}

impl From<AuthError> for Status {
    fn from(e: AuthError) -> Self {
        ApiError::from(e).into()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    region: String,
    exp: u64,
    #[serde(default)]
    iat: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aud: Option<String>,
}

type KeyRing = HashMap<String, (Algorithm, DecodingKey)>;

struct Inner {
    dev_key: Option<DecodingKey>,
    /// Keys of the JWKS file, fixed for the life of the process.
    file_keys: KeyRing,
    /// Keys of the JWKS URL as last fetched: a refresh replaces them, so a key the
    /// issuer removed stops verifying within one refresh.
    url_keys: RwLock<KeyRing>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: u64,
}

/// Verifies tokens; cheap to clone, shared by every service of a process.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys =
            self.inner.file_keys.len() + self.inner.url_keys.read().map(|k| k.len()).unwrap_or_default();
        write!(f, "Authenticator(dev: {}, jwks keys: {keys})", self.inner.dev_key.is_some())
    }
}

impl Authenticator {
    /// Loads the JWKS file and fetches the JWKS URL (then refreshes it in the
    /// background every `jwks_refresh_secs`); fails if either cannot be read.
    pub async fn from_settings(settings: &AuthSettings) -> Result<Self, AuthError> {
        let dev_key = settings
            .accept_dev_tokens
            .then(|| DecodingKey::from_secret(settings.dev_secret.expose_secret().as_bytes()));
        let mut file_keys = KeyRing::new();
        if let Some(path) = &settings.jwks_file {
            let source_name = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|e| AuthError::Jwks { source_name: source_name.clone(), reason: e.to_string() })?;
            file_keys = parse_jwks(&source_name, &text)?;
        }
        let mut url_keys = KeyRing::new();
        if let Some(url) = &settings.jwks_url {
            url_keys = fetch_jwks(url).await?;
        }
        let auth = Self {
            inner: Arc::new(Inner {
                dev_key,
                file_keys,
                url_keys: RwLock::new(url_keys),
                issuer: settings.issuer.clone(),
                audience: settings.audience.clone(),
                leeway: settings.leeway_secs,
            }),
        };
        if let Some(url) = settings.jwks_url.clone() {
            let weak = Arc::downgrade(&auth.inner);
            // Configuration refuses less than 10 s; tests build settings directly and
            // use 0 for a fast refresh.
            let every = match settings.jwks_refresh_secs {
                0 => Duration::from_millis(100),
                n => Duration::from_secs(n),
            };
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    let Some(inner) = weak.upgrade() else { return };
                    match fetch_jwks(&url).await {
                        Ok(fresh) => {
                            if let Ok(mut keys) = inner.url_keys.write() {
                                *keys = fresh;
                            }
                        }
                        Err(e) => tracing::warn!("keeping the previous keys: {e}"),
                    }
                }
            });
        }
        Ok(auth)
    }

    /// Verifies the value of an `authorization` header.
    pub fn authenticate(&self, header: Option<&str>) -> Result<Principal, AuthError> {
        let header = header.map(str::trim).filter(|h| !h.is_empty()).ok_or(AuthError::Missing)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or(AuthError::NotBearer)?
            .trim();
        self.verify(token)
    }

    /// Verifies a bare token.
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| AuthError::Invalid(e.to_string()))?;
        let claims = match header.alg {
            Algorithm::HS256 => {
                let key = self.inner.dev_key.as_ref().ok_or_else(|| {
                    AuthError::Invalid("HS256 development tokens are not accepted here".into())
                })?;
                self.decode(token, Algorithm::HS256, key)?
            }
            alg @ (Algorithm::RS256 | Algorithm::ES256) => {
                let kid = header.kid.unwrap_or_default();
                let url_keys =
                    self.inner.url_keys.read().map_err(|_| AuthError::Invalid("key ring poisoned".into()))?;
                let (key_alg, key) = self
                    .inner
                    .file_keys
                    .get(&kid)
                    .or_else(|| url_keys.get(&kid))
                    .ok_or_else(|| AuthError::UnknownKey(kid.clone()))?;
                if *key_alg != alg {
                    return Err(AuthError::Invalid(format!(
                        "key {kid:?} is for {key_alg:?}, token says {alg:?}"
                    )));
                }
                self.decode(token, alg, key)?
            }
            other => return Err(AuthError::Invalid(format!("algorithm {other:?} is not accepted"))),
        };
        // A token issued in the future was minted by a clock (or a forger) we should not
        // trust; `exp` alone would let it live longer than its issuer meant.
        let now = jsonwebtoken::get_current_timestamp();
        if claims.iat > now + self.inner.leeway {
            return Err(AuthError::Claim { claim: "iat", reason: "issued in the future".into() });
        }
        principal_from(claims)
    }

    fn decode(&self, token: &str, alg: Algorithm, key: &DecodingKey) -> Result<Claims, AuthError> {
        let mut validation = Validation::new(alg);
        validation.leeway = self.inner.leeway;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        if let Some(iss) = &self.inner.issuer {
            validation.set_issuer(&[iss]);
        }
        match &self.inner.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        jsonwebtoken::decode::<Claims>(token, key, &validation).map(|d| d.claims).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::InvalidSignature => AuthError::Invalid("bad signature".into()),
                ErrorKind::InvalidIssuer => {
                    AuthError::Claim { claim: "iss", reason: "unexpected issuer".into() }
                }
                ErrorKind::InvalidAudience => {
                    AuthError::Claim { claim: "aud", reason: "unexpected audience".into() }
                }
                ErrorKind::ImmatureSignature => {
                    AuthError::Claim { claim: "nbf", reason: "not valid yet".into() }
                }
                _ => AuthError::Invalid(e.to_string()),
            }
        })
    }
}

/// More roles than any real token carries: a claim with thousands is an attack.
const MAX_ROLES: usize = 16;

fn principal_from(claims: Claims) -> Result<Principal, AuthError> {
    if claims.sub.trim().is_empty() {
        return Err(AuthError::Claim { claim: "sub", reason: "empty".into() });
    }
    if claims.roles.len() > MAX_ROLES {
        return Err(AuthError::Claim { claim: "roles", reason: format!("more than {MAX_ROLES}") });
    }
    let roles =
        claims.roles.iter().map(|r| Role::from_str(r)).collect::<Result<_, _>>().map_err(|reason| {
            // The signature is good: the caller is known, the role is not one of ours.
            AuthError::Forbidden(crate::text::bounded(&reason, 200))
        })?;
    let jurisdiction = RegionCode::parse(&claims.region).map_err(|e| AuthError::Claim {
        claim: "region",
        reason: crate::text::bounded(&e.to_string(), 200),
    })?;
    let principal = Principal { subject: claims.sub, roles, jurisdiction };
    principal.check_roles().map_err(AuthError::Forbidden)?;
    Ok(principal)
}

fn parse_jwks(source_name: &str, text: &str) -> Result<KeyRing, AuthError> {
    let fail = |reason: String| AuthError::Jwks { source_name: source_name.to_string(), reason };
    let set: JwkSet = serde_json::from_str(text).map_err(|e| fail(e.to_string()))?;
    let mut keys = KeyRing::new();
    for jwk in &set.keys {
        let kid = jwk.common.key_id.clone().ok_or_else(|| fail("a key has no kid".into()))?;
        let alg = jwk
            .common
            .key_algorithm
            .and_then(|a| Algorithm::from_str(&format!("{a:?}")).ok())
            .filter(|a| matches!(a, Algorithm::RS256 | Algorithm::ES256))
            .ok_or_else(|| fail(format!("key {kid:?}: alg must be RS256 or ES256")))?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| fail(format!("key {kid:?}: {e}")))?;
        keys.insert(kid, (alg, key));
    }
    Ok(keys)
}

async fn fetch_jwks(url: &str) -> Result<KeyRing, AuthError> {
    let fail = |reason: String| AuthError::Jwks { source_name: url.to_string(), reason };
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| fail(e.to_string()))?
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| fail(e.to_string()))?;
    parse_jwks(url, &response.text().await.map_err(|e| fail(e.to_string()))?)
}

/// Signs an HS256 token with the development secret (`cadre token`, tests, benches).
pub fn issue_dev_token(
    secret: &SecretString,
    subject: &str,
    roles: &[Role],
    region: &RegionCode,
    ttl: Duration,
) -> Result<String, AuthError> {
    let now = jsonwebtoken::get_current_timestamp();
    let claims = Claims {
        sub: subject.to_string(),
        roles: roles.iter().map(|r| r.as_str().to_string()).collect(),
        region: region.as_str().to_string(),
        exp: now + ttl.as_secs(),
        iat: now,
        nbf: None,
        iss: None,
        aud: None,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.expose_secret().as_bytes()),
    )
    .map_err(|e| AuthError::Sign(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> AuthSettings {
        AuthSettings::default()
    }

    fn county() -> RegionCode {
        RegionCode::parse("150525000000").unwrap()
    }

    fn sign(alg: Algorithm, kid: &str, pem: &[u8], claims: serde_json::Value) -> String {
        let key = match alg {
            Algorithm::ES256 => EncodingKey::from_ec_pem(pem).unwrap(),
            _ => EncodingKey::from_rsa_pem(pem).unwrap(),
        };
        let mut header = Header::new(alg);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    }

    fn provider_claims() -> serde_json::Value {
        let now = jsonwebtoken::get_current_timestamp();
        serde_json::json!({"sub": "zhang.wei", "roles": ["city_admin"], "region": "150500000000",
            "exp": now + 60, "iat": now, "iss": "https://idp.example.gov.cn", "aud": "cadre"})
    }

    const ES_KEY: &[u8] = include_bytes!("../tests/fixtures/es256-test-key.pem");
    const RS_KEY: &[u8] = include_bytes!("../tests/fixtures/rs256-test-key.pem");
    const JWKS: &str = include_str!("../tests/fixtures/jwks.json");

    #[tokio::test]
    async fn a_dev_token_round_trips_to_its_principal() {
        let s = settings();
        let auth = Authenticator::from_settings(&s).await.unwrap();
        let token = issue_dev_token(
            &s.dev_secret,
            "li",
            &[Role::CountyAdmin, Role::Pii],
            &county(),
            Duration::from_secs(60),
        )
        .unwrap();
        let p = auth.authenticate(Some(&format!("Bearer {token}"))).unwrap();
        assert_eq!(p.subject, "li");
        assert!(p.sees_pii());
        assert_eq!(p.jurisdiction, county());
    }

    #[tokio::test]
    async fn missing_expired_forged_and_refused_tokens_say_why() {
        let s = settings();
        let auth = Authenticator::from_settings(&s).await.unwrap();
        assert!(matches!(auth.authenticate(None), Err(AuthError::Missing)));
        assert!(matches!(auth.authenticate(Some("Basic abc")), Err(AuthError::NotBearer)));
        let now = jsonwebtoken::get_current_timestamp();
        let expired = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"sub": "li", "roles": [], "region": "150525000000", "exp": now - 3600}),
            &EncodingKey::from_secret(s.dev_secret.expose_secret().as_bytes()),
        )
        .unwrap();
        assert!(matches!(auth.verify(&expired), Err(AuthError::Expired)));
        let forged = issue_dev_token(
            &SecretString::from("another-secret-of-enough-length"),
            "li",
            &[Role::ProvinceAdmin],
            &county(),
            Duration::from_secs(60),
        )
        .unwrap();
        assert!(matches!(auth.verify(&forged), Err(AuthError::Invalid(_))));
        let bad_role = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"sub": "li", "roles": ["root"], "region": "150525000000", "exp": now + 60}),
            &EncodingKey::from_secret(s.dev_secret.expose_secret().as_bytes()),
        )
        .unwrap();
        let refused = auth.verify(&bad_role).unwrap_err();
        assert!(matches!(&refused, AuthError::Forbidden(m) if m.contains("root")), "{refused}");
        assert_eq!(ApiError::from(refused).code, crate::ErrorCode::PermissionDenied);

        let production = AuthSettings { accept_dev_tokens: false, ..settings() };
        let strict = Authenticator::from_settings(&production).await.unwrap();
        let token = issue_dev_token(&s.dev_secret, "li", &[], &county(), Duration::from_secs(60)).unwrap();
        assert!(matches!(strict.verify(&token), Err(AuthError::Invalid(_))));
    }

    fn dev_signed(s: &AuthSettings, claims: serde_json::Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(s.dev_secret.expose_secret().as_bytes()),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn tokens_from_the_future_are_refused_beyond_the_skew() {
        let s = settings();
        let auth = Authenticator::from_settings(&s).await.unwrap();
        let now = jsonwebtoken::get_current_timestamp();
        let base = serde_json::json!({"sub": "li", "roles": ["county_admin"], "region": "150525000000",
            "exp": now + 7200, "iat": now});
        let mut not_yet = base.clone();
        not_yet["nbf"] = (now + 3600).into();
        let err = auth.verify(&dev_signed(&s, not_yet)).unwrap_err();
        assert!(matches!(err, AuthError::Claim { claim: "nbf", .. }), "{err}");
        let mut issued_later = base.clone();
        issued_later["iat"] = (now + 3600).into();
        let err = auth.verify(&dev_signed(&s, issued_later)).unwrap_err();
        assert!(matches!(err, AuthError::Claim { claim: "iat", .. }), "{err}");
        let mut within_skew = base;
        within_skew["iat"] = (now + 10).into();
        within_skew["nbf"] = (now + 10).into();
        assert!(auth.verify(&dev_signed(&s, within_skew)).is_ok());
    }

    #[tokio::test]
    async fn roles_that_do_not_fit_the_region_are_forbidden_naming_why() {
        let s = settings();
        let auth = Authenticator::from_settings(&s).await.unwrap();
        let now = jsonwebtoken::get_current_timestamp();
        for (roles, region, why) in [
            (serde_json::json!(["township_admin"]), "150000000000", "township_admin"),
            (serde_json::json!([]), "150525000000", "no role"),
            (serde_json::json!(["pii"]), "150525000000", "pii"),
        ] {
            let token = dev_signed(
                &s,
                serde_json::json!({"sub": "li", "roles": roles, "region": region, "exp": now + 60}),
            );
            let err = auth.verify(&token).unwrap_err();
            assert!(matches!(&err, AuthError::Forbidden(m) if m.contains(why)), "{err}");
        }
    }

    #[tokio::test]
    async fn a_refresh_drops_the_keys_the_issuer_removed() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = Arc::new(RwLock::new(JWKS.to_string()));
        let body = served.clone();
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let body = body.clone();
                async move { body.read().unwrap().clone() }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        let s = AuthSettings {
            jwks_url: Some(format!("http://{addr}/jwks")),
            jwks_refresh_secs: 0,
            ..settings()
        };
        let auth = Authenticator::from_settings(&s).await.unwrap();
        let rs = sign(Algorithm::RS256, "test-rs256", RS_KEY, provider_claims());
        assert!(auth.verify(&rs).is_ok());
        // The issuer rotates the RSA key away: only the EC key remains published.
        let mut set: serde_json::Value = serde_json::from_str(JWKS).unwrap();
        set["keys"].as_array_mut().unwrap().retain(|k| k["kid"] != "test-rs256");
        *served.write().unwrap() = set.to_string();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while auth.verify(&rs).is_ok() {
            assert!(std::time::Instant::now() < deadline, "the removed key still verifies");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(matches!(auth.verify(&rs), Err(AuthError::UnknownKey(_))));
        let es = sign(Algorithm::ES256, "test-es256", ES_KEY, provider_claims());
        assert!(auth.verify(&es).is_ok());
    }

    #[tokio::test]
    async fn provider_tokens_verify_against_a_jwks_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwks.json");
        std::fs::write(&path, JWKS).unwrap();
        let s = AuthSettings {
            jwks_file: Some(path),
            issuer: Some("https://idp.example.gov.cn".into()),
            audience: Some("cadre".into()),
            ..settings()
        };
        let auth = Authenticator::from_settings(&s).await.unwrap();
        let es = sign(Algorithm::ES256, "test-es256", ES_KEY, provider_claims());
        assert_eq!(auth.verify(&es).unwrap().subject, "zhang.wei");
        let rs = sign(Algorithm::RS256, "test-rs256", RS_KEY, provider_claims());
        assert_eq!(auth.verify(&rs).unwrap().jurisdiction.as_str(), "150500000000");

        let unknown = sign(Algorithm::ES256, "rotated-away", ES_KEY, provider_claims());
        assert!(matches!(auth.verify(&unknown), Err(AuthError::UnknownKey(_))));
        let mut wrong_aud = provider_claims();
        wrong_aud["aud"] = "someone-else".into();
        let t = sign(Algorithm::ES256, "test-es256", ES_KEY, wrong_aud);
        assert!(matches!(auth.verify(&t), Err(AuthError::Claim { claim: "aud", .. })));
    }

    #[tokio::test]
    async fn provider_keys_are_fetched_from_a_jwks_url() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route("/jwks", axum::routing::get(|| async { JWKS }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let s = AuthSettings { jwks_url: Some(format!("http://{addr}/jwks")), ..settings() };
        let auth = Authenticator::from_settings(&s).await.unwrap();
        let rs = sign(Algorithm::RS256, "test-rs256", RS_KEY, provider_claims());
        assert_eq!(auth.verify(&rs).unwrap().subject, "zhang.wei");

        let missing = AuthSettings { jwks_url: Some(format!("http://{addr}/nothing")), ..settings() };
        let err = Authenticator::from_settings(&missing).await.unwrap_err();
        assert!(err.to_string().contains("/nothing"), "{err}");
    }
}
