//! A service's own identity: the token a part presents when it calls another part on
//! its own behalf (a change-feed follower), not on a user's. Role `integration`, the
//! jurisdiction configured in `auth.service_region`, short-lived and renewed before it
//! expires. Signed with the development secret while dev tokens are accepted, else
//! with the service key whose public half the identity provider's JWKS publishes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::auth::AuthError;
use crate::config::{AuthSettings, DEV_SERVICE_REGION};
use crate::principal::Role;
use crate::region_code::RegionCode;

/// How long a service token lives; it is renewed when half of it has passed.
const TOKEN_TTL: Duration = Duration::from_secs(15 * 60);

#[derive(Serialize)]
struct ServiceClaims<'a> {
    sub: &'a str,
    roles: [&'static str; 1],
    region: &'a str,
    exp: u64,
    iat: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
}

struct Signer {
    header: Header,
    key: EncodingKey,
}

struct Cached {
    token: String,
    renew_at: SystemTime,
}

/// Mints and caches this part's token; cheap to clone.
#[derive(Clone)]
pub struct ServiceIdentity {
    subject: String,
    region: RegionCode,
    issuer: Option<String>,
    audience: Option<String>,
    signer: Arc<Signer>,
    cached: Arc<Mutex<Option<Cached>>>,
}

impl std::fmt::Debug for ServiceIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServiceIdentity({} in {})", self.subject, self.region)
    }
}

impl ServiceIdentity {
    /// The identity of `part` (subject `service:<part>`).
    pub fn from_settings(settings: &AuthSettings, part: &str) -> Result<Self, AuthError> {
        let region = settings.service_region.as_deref().unwrap_or(DEV_SERVICE_REGION);
        let region =
            RegionCode::parse(region).map_err(|e| AuthError::Sign(format!("auth.service_region: {e}")))?;
        let signer = match &settings.service_key_file {
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| AuthError::Sign(format!("auth.service_key_file {}: {e}", path.display())))?;
                let (alg, key) = match EncodingKey::from_ec_pem(&pem) {
                    Ok(key) => (Algorithm::ES256, key),
                    Err(_) => (
                        Algorithm::RS256,
                        EncodingKey::from_rsa_pem(&pem).map_err(|e| {
                            AuthError::Sign(format!(
                                "auth.service_key_file {}: neither an EC nor an RSA private key: {e}",
                                path.display()
                            ))
                        })?,
                    ),
                };
                let mut header = Header::new(alg);
                header.kid = settings.service_key_id.clone();
                Signer { header, key }
            }
            None if settings.accept_dev_tokens => Signer {
                header: Header::new(Algorithm::HS256),
                key: EncodingKey::from_secret(settings.dev_secret.expose_secret().as_bytes()),
            },
            None => {
                return Err(AuthError::Sign(
                    "auth.service_key_file: required when dev tokens are not accepted".into(),
                ));
            }
        };
        Ok(Self {
            subject: format!("service:{part}"),
            region,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            signer: Arc::new(signer),
            cached: Arc::default(),
        })
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }

    pub fn region(&self) -> &RegionCode {
        &self.region
    }

    /// A valid token, renewed when half of its life has passed.
    pub fn token(&self) -> Result<String, AuthError> {
        let now = SystemTime::now();
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cached.as_ref()
            && now < c.renew_at
        {
            return Ok(c.token.clone());
        }
        let issued = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let claims = ServiceClaims {
            sub: &self.subject,
            roles: [Role::Integration.as_str()],
            region: self.region.as_str(),
            exp: issued + TOKEN_TTL.as_secs(),
            iat: issued,
            iss: self.issuer.as_deref(),
            aud: self.audience.as_deref(),
        };
        let token = jsonwebtoken::encode(&self.signer.header, &claims, &self.signer.key)
            .map_err(|e| AuthError::Sign(e.to_string()))?;
        *cached = Some(Cached { token: token.clone(), renew_at: now + TOKEN_TTL / 2 });
        Ok(token)
    }

    /// `authorization: Bearer …` with this identity's token.
    pub fn authorization(&self) -> Result<tonic::metadata::MetadataValue<tonic::metadata::Ascii>, AuthError> {
        format!("Bearer {}", self.token()?)
            .parse()
            .map_err(|_| AuthError::Sign("the token is not a valid header value".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Authenticator;

    #[tokio::test]
    async fn a_service_token_verifies_as_an_integration_of_its_region() {
        let settings =
            AuthSettings { service_region: Some("150500000000".into()), ..AuthSettings::default() };
        let identity = ServiceIdentity::from_settings(&settings, "assessment").unwrap();
        let auth = Authenticator::from_settings(&settings).await.unwrap();
        let principal = auth.verify(&identity.token().unwrap()).unwrap();
        assert_eq!(principal.subject, "service:assessment");
        assert!(principal.has(Role::Integration));
        assert_eq!(principal.jurisdiction.as_str(), "150500000000");
        assert_eq!(identity.token().unwrap(), identity.token().unwrap(), "cached until half-life");
    }

    #[tokio::test]
    async fn a_provider_key_signs_when_dev_tokens_are_off() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("service.pem");
        std::fs::write(&key, include_bytes!("../tests/fixtures/es256-test-key.pem")).unwrap();
        let jwks = dir.path().join("jwks.json");
        std::fs::write(&jwks, include_str!("../tests/fixtures/jwks.json")).unwrap();
        let settings = AuthSettings {
            accept_dev_tokens: false,
            jwks_file: Some(jwks),
            service_key_file: Some(key),
            service_key_id: Some("test-es256".into()),
            ..AuthSettings::default()
        };
        let identity = ServiceIdentity::from_settings(&settings, "incentive").unwrap();
        let auth = Authenticator::from_settings(&settings).await.unwrap();
        assert_eq!(auth.verify(&identity.token().unwrap()).unwrap().subject, "service:incentive");

        let without_key = AuthSettings { service_key_file: None, ..settings };
        assert!(ServiceIdentity::from_settings(&without_key, "incentive").is_err());
    }
}
