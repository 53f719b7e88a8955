//! PII at rest and in responses. Values (ID numbers, phones) are encrypted with
//! XChaCha20-Poly1305 under a configured key, the field name bound as associated data
//! so a ciphertext cannot be moved to another column; a keyed blind index (HMAC-SHA256)
//! allows exact lookup without decrypting; masks hide all but a few characters.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::PiiSettings;

/// Prefix of the stored form; a future key rotation adds "v2:" beside it.
const VERSION: &str = "v1:";
const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PiiError {
    #[error("{field}: stored value is not in the v1 format")]
    Format { field: String },
    #[error("{field}: stored value fails authentication (wrong key or tampered)")]
    Tampered { field: String },
}

#[derive(Clone)]
pub struct PiiCipher {
    aead: XChaCha20Poly1305,
    index_key: [u8; 32],
}

impl std::fmt::Debug for PiiCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PiiCipher(..)")
    }
}

impl PiiCipher {
    pub fn new(encryption_key: [u8; 32], index_key: [u8; 32]) -> Self {
        Self { aead: XChaCha20Poly1305::new(&encryption_key.into()), index_key }
    }

    pub fn from_settings(settings: &PiiSettings) -> Result<Self, String> {
        Ok(Self::new(settings.encryption_key_bytes()?, settings.index_key_bytes()?))
    }

    /// `v1:` + base64(nonce ‖ ciphertext); a fresh random nonce every time.
    pub fn encrypt(&self, field: &str, plaintext: &str) -> String {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let sealed = self
            .aead
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext.as_bytes(), aad: field.as_bytes() })
            .expect("XChaCha20-Poly1305 encryption does not fail for in-memory buffers");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        format!("{VERSION}{}", B64.encode(out))
    }

    pub fn decrypt(&self, field: &str, stored: &str) -> Result<String, PiiError> {
        let format = || PiiError::Format { field: field.to_string() };
        let raw = B64.decode(stored.strip_prefix(VERSION).ok_or_else(format)?).map_err(|_| format())?;
        if raw.len() < NONCE_LEN {
            return Err(format());
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let plain = self
            .aead
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: field.as_bytes() })
            .map_err(|_| PiiError::Tampered { field: field.to_string() })?;
        String::from_utf8(plain).map_err(|_| format())
    }

    /// Deterministic keyed digest (hex) for exact-match lookup and uniqueness.
    pub fn blind_index(&self, field: &str, value: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.index_key).expect("HMAC takes any key length");
        mac.update(field.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A 32-byte key for `purpose` (e.g. `training.sign-in-codes`), derived from the
    /// configured index key, so a part that signs something of its own (short-lived
    /// codes) needs no further secret in configuration, and production's refusal of
    /// the development keys covers it. HMAC-SHA256 over a 0xFF byte (never the first
    /// byte of a UTF-8 field name, so no blind index equals a derived key) and the
    /// purpose: each purpose's key is independent of the others'.
    pub fn derive_key(&self, purpose: &str) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.index_key).expect("HMAC takes any key length");
        mac.update(&[0xFF]);
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

fn mask(value: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..head].iter().collect();
    out.extend(std::iter::repeat_n('*', chars.len() - head - tail));
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// "150523198307090011" → "150523********0011": region kept, birth date hidden.
pub fn mask_id_number(id: &str) -> String {
    mask(id, 6, 4)
}

/// "13912345678" → "139****5678".
pub fn mask_phone(phone: &str) -> String {
    mask(phone, 3, 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> PiiCipher {
        PiiCipher::from_settings(&PiiSettings::default()).unwrap()
    }

    #[test]
    fn round_trips_and_never_repeats_a_ciphertext() {
        let c = cipher();
        let a = c.encrypt("id_number", "11010519491231002X");
        let b = c.encrypt("id_number", "11010519491231002X");
        assert_ne!(a, b);
        assert!(!a.contains("19491231"));
        assert_eq!(c.decrypt("id_number", &a).unwrap(), "11010519491231002X");
    }

    #[test]
    fn a_ciphertext_moved_to_another_field_or_altered_is_refused() {
        let c = cipher();
        let a = c.encrypt("id_number", "11010519491231002X");
        assert_eq!(c.decrypt("phone", &a), Err(PiiError::Tampered { field: "phone".into() }));
        let mut bytes = B64.decode(&a[3..]).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        let altered = format!("v1:{}", B64.encode(bytes));
        assert!(matches!(c.decrypt("id_number", &altered), Err(PiiError::Tampered { .. })));
        assert!(matches!(c.decrypt("id_number", "plain"), Err(PiiError::Format { .. })));
    }

    #[test]
    fn another_key_cannot_read_it() {
        let a = cipher().encrypt("id_number", "11010519491231002X");
        let other = PiiCipher::new([7; 32], [8; 32]);
        assert!(other.decrypt("id_number", &a).is_err());
    }

    #[test]
    fn the_blind_index_is_stable_keyed_and_field_bound() {
        let c = cipher();
        assert_eq!(c.blind_index("id_number", "x"), c.blind_index("id_number", "x"));
        assert_ne!(c.blind_index("id_number", "x"), c.blind_index("phone", "x"));
        assert_ne!(
            c.blind_index("id_number", "x"),
            PiiCipher::new([1; 32], [2; 32]).blind_index("id_number", "x")
        );
        assert_eq!(c.blind_index("id_number", "x").len(), 64);
    }

    #[test]
    fn derived_keys_are_stable_bound_to_their_purpose_and_to_the_configured_key() {
        let c = cipher();
        assert_eq!(c.derive_key("training.sign-in-codes"), cipher().derive_key("training.sign-in-codes"));
        assert_ne!(c.derive_key("training.sign-in-codes"), c.derive_key("training.other"));
        let other = PiiCipher::new([1; 32], [9; 32]);
        assert_ne!(c.derive_key("training.sign-in-codes"), other.derive_key("training.sign-in-codes"));
        // Never a blind index of anything: those start from a field name.
        let key = hex::encode(c.derive_key("x"));
        assert_ne!(key, c.blind_index("", "x"));
        assert_ne!(key, c.blind_index("x", ""));
    }

    #[test]
    fn masks_keep_only_the_ends() {
        assert_eq!(mask_id_number("11010519491231002X"), "110105********002X");
        assert_eq!(mask_phone("13912345678"), "139****5678");
        assert_eq!(mask_phone("123"), "***");
    }
}
