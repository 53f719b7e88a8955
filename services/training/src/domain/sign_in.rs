//! Sign-in codes (the QR code shown in the room) and when sign-in is open. A code names
//! the sitting and a time step and carries the server's HMAC over both, so it can be
//! checked without the database: a code is accepted during its own step and the next
//! (a trainee scanning as the screen turns over is not refused), never later (a photo
//! from yesterday does not work), never for another sitting, never if altered.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::sessions::Slot;

/// The code format's version and prefix: `CT1.<sitting>.<step seconds>.<step>.<mac>`.
const PREFIX: &str = "CT1";
/// Bytes of the HMAC kept in a code (128 bits: short enough for a small QR code).
const MAC_BYTES: usize = 16;
/// How far a code's step may lie ahead of this server's clock (another replica's clock
/// running slightly fast issued it).
const CLOCK_SKEW_SECONDS: i64 = 5;
/// China Standard Time: sittings' dates and times are local.
const CST_HOURS: i64 = 8;

/// The key codes are signed with (from the kit's key material, never in code).
#[derive(Clone)]
pub struct CodeKey([u8; 32]);

impl std::fmt::Debug for CodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeKey(..)")
    }
}

impl CodeKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    fn mac(&self, sitting_id: &str, step_seconds: i64, step: i64) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(format!("{PREFIX}|{sitting_id}|{step_seconds}|{step}").as_bytes());
        mac.finalize().into_bytes()[..MAC_BYTES].to_vec()
    }
}

/// Why a code is refused: the message after "code: ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("is not a sign-in code")]
    Malformed,
    #[error("is forged: its signature does not match")]
    Forged,
    #[error("is the code of another sitting ({0}), not of this one")]
    OtherSitting(String),
    #[error("expired: it was shown at {shown}, and a code is accepted for two steps of {step_seconds} s")]
    Expired { shown: String, step_seconds: i64 },
    #[error("is not valid yet: it is for {starts}")]
    NotYet { starts: String },
}

/// A code as the room's screen shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub code: String,
    /// When the next step begins (the screen fetches the next code).
    pub refresh_at: DateTime<Utc>,
    /// The last instant the code is accepted.
    pub valid_until: DateTime<Utc>,
}

fn step_of(at: DateTime<Utc>, step_seconds: i64) -> i64 {
    at.timestamp().div_euclid(step_seconds)
}

fn instant(step: i64, step_seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(step.saturating_mul(step_seconds), 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The wall-clock time of `at` in China Standard Time, the time sittings are given in.
pub fn local(at: DateTime<Utc>) -> NaiveDateTime {
    (at + Duration::hours(CST_HOURS)).naive_utc()
}

/// "2026-05-20 09:31:00" in China Standard Time.
fn local_time(at: DateTime<Utc>) -> String {
    local(at).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The code of `sitting_id` for the step `now` falls in; accepted until the end of the
/// next step, or `closes` if sooner.
pub fn issue(
    key: &CodeKey,
    sitting_id: &str,
    step_seconds: i64,
    now: DateTime<Utc>,
    closes: DateTime<Utc>,
) -> Issued {
    let step = step_of(now, step_seconds);
    let mac = B64.encode(key.mac(sitting_id, step_seconds, step));
    Issued {
        code: format!("{PREFIX}.{sitting_id}.{step_seconds}.{step}.{mac}"),
        refresh_at: instant(step + 1, step_seconds),
        valid_until: (instant(step + 2, step_seconds) - Duration::seconds(1)).min(closes),
    }
}

/// Checks `code` for `sitting_id` at `now`: signed by this key, for this sitting, of the
/// current step or the one before.
pub fn verify(key: &CodeKey, code: &str, sitting_id: &str, now: DateTime<Utc>) -> Result<(), CodeError> {
    let parts: Vec<&str> = code.trim().split('.').collect();
    let [prefix, sitting, step_seconds, step, mac] = parts[..] else {
        return Err(CodeError::Malformed);
    };
    let step_seconds: i64 = step_seconds.parse().map_err(|_| CodeError::Malformed)?;
    let step: i64 = step.parse().map_err(|_| CodeError::Malformed)?;
    if prefix != PREFIX || sitting.is_empty() || !(1..=86_400).contains(&step_seconds) || step < 0 {
        return Err(CodeError::Malformed);
    }
    let mac = B64.decode(mac).map_err(|_| CodeError::Malformed)?;
    // Constant-time comparison through the MAC's own verification.
    let mut expected = <Hmac<Sha256> as Mac>::new_from_slice(&key.0).expect("HMAC takes any key length");
    expected.update(format!("{PREFIX}|{sitting}|{step_seconds}|{step}").as_bytes());
    if mac.len() != MAC_BYTES || expected.verify_truncated_left(&mac).is_err() {
        return Err(CodeError::Forged);
    }
    if sitting != sitting_id {
        return Err(CodeError::OtherSitting(sitting.to_string()));
    }
    let current = step_of(now, step_seconds);
    if step < current - 1 {
        return Err(CodeError::Expired { shown: local_time(instant(step, step_seconds)), step_seconds });
    }
    if step > current && instant(step, step_seconds) - now > Duration::seconds(CLOCK_SKEW_SECONDS) {
        return Err(CodeError::NotYet { starts: local_time(instant(step, step_seconds)) });
    }
    Ok(())
}

/// When sign-in to a sitting is open: from `opens_minutes` before it starts until it
/// ends, its date and times read in China Standard Time.
pub fn window(slot: &Slot, opens_minutes: i64) -> (DateTime<Utc>, DateTime<Utc>) {
    let utc = |local: NaiveDateTime| (local - Duration::hours(CST_HOURS)).and_utc();
    (
        utc(slot.date.and_time(slot.start)) - Duration::minutes(opens_minutes),
        utc(slot.date.and_time(slot.end)),
    )
}

/// Why sign-in is not open at `now`, if it is not: "sign-in to sitting … opens at …".
pub fn closed_because(slot: &Slot, opens_minutes: i64, now: DateTime<Utc>) -> Option<String> {
    let (opens, closes) = window(slot, opens_minutes);
    if now < opens {
        Some(format!("sign-in to the sitting of {} opens at {}", slot.when(), local_time(opens)))
    } else if now > closes {
        Some(format!("sign-in to the sitting of {} closed at {}", slot.when(), local_time(closes)))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, NaiveTime};

    fn key() -> CodeKey {
        CodeKey::new([7; 32])
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_code_is_accepted_in_its_step_and_the_next_and_refused_after_saying_so() {
        let shown = at("2026-05-20T01:31:10Z");
        let closes = at("2026-05-20T03:30:00Z");
        let issued = issue(&key(), "sit-1", 60, shown, closes);
        assert_eq!(issued.refresh_at, at("2026-05-20T01:32:00Z"));
        assert_eq!(issued.valid_until, at("2026-05-20T01:32:59Z"));
        assert_eq!(verify(&key(), &issued.code, "sit-1", shown), Ok(()));
        assert_eq!(
            verify(&key(), &issued.code, "sit-1", at("2026-05-20T01:32:59Z")),
            Ok(()),
            "the next step"
        );
        let late = verify(&key(), &issued.code, "sit-1", at("2026-05-20T01:33:00Z")).unwrap_err();
        assert_eq!(
            late.to_string(),
            "expired: it was shown at 2026-05-20 09:31:00, and a code is accepted for two steps of 60 s"
        );
        // Yesterday's photo of the code.
        let yesterday = issue(&key(), "sit-1", 60, shown - Duration::days(1), closes);
        assert!(matches!(verify(&key(), &yesterday.code, "sit-1", shown), Err(CodeError::Expired { .. })));
        // A code near the end of sign-in lasts only until it closes.
        let last = issue(&key(), "sit-1", 60, at("2026-05-20T03:29:30Z"), closes);
        assert_eq!(last.valid_until, closes);
    }

    #[test]
    fn forged_altered_and_other_sittings_codes_are_refused_saying_which() {
        let now = at("2026-05-20T01:31:10Z");
        let issued = issue(&key(), "sit-1", 60, now, now + Duration::hours(1));
        let other_key = issue(&CodeKey::new([8; 32]), "sit-1", 60, now, now + Duration::hours(1));
        assert_eq!(verify(&key(), &other_key.code, "sit-1", now), Err(CodeError::Forged));
        // Moving the step forward (to outlive the code) breaks the signature.
        let parts: Vec<&str> = issued.code.split('.').collect();
        let later = format!(
            "{}.{}.{}.{}.{}",
            parts[0],
            parts[1],
            parts[2],
            parts[3].parse::<i64>().unwrap() + 60,
            parts[4]
        );
        assert_eq!(verify(&key(), &later, "sit-1", now), Err(CodeError::Forged));
        let longer = issued.code.replace(".60.", ".86400.");
        assert_eq!(verify(&key(), &longer, "sit-1", now), Err(CodeError::Forged));
        assert_eq!(verify(&key(), &issued.code, "sit-2", now), Err(CodeError::OtherSitting("sit-1".into())));
        for junk in ["", "hello", "CT1.sit-1.60.x.abc", "CT2.sit-1.60.1.abc", "CT1.sit-1.60.1.!!"] {
            assert_eq!(verify(&key(), junk, "sit-1", now), Err(CodeError::Malformed), "{junk:?}");
        }
        let ahead = issue(&key(), "sit-1", 60, now + Duration::minutes(5), now + Duration::hours(1));
        assert!(matches!(verify(&key(), &ahead.code, "sit-1", now), Err(CodeError::NotYet { .. })));
        let skewed = issue(&key(), "sit-1", 60, at("2026-05-20T01:32:00Z"), now + Duration::hours(1));
        assert_eq!(
            verify(&key(), &skewed.code, "sit-1", at("2026-05-20T01:31:57Z")),
            Ok(()),
            "a few seconds' skew"
        );
    }

    #[test]
    fn sign_in_opens_before_the_sitting_in_china_time_and_closes_when_it_ends() {
        let slot = Slot {
            date: NaiveDate::from_ymd_opt(2026, 5, 20).unwrap(),
            start: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(11, 30, 0).unwrap(),
            place: String::new(),
        };
        let (opens, closes) = window(&slot, 30);
        assert_eq!((opens, closes), (at("2026-05-20T00:30:00Z"), at("2026-05-20T03:30:00Z")));
        assert_eq!(closed_because(&slot, 30, at("2026-05-20T01:00:00Z")), None);
        let early = closed_because(&slot, 30, at("2026-05-20T00:29:00Z")).unwrap();
        assert_eq!(early, "sign-in to the sitting of 2026-05-20 09:00–11:30 opens at 2026-05-20 08:30:00");
        assert!(closed_because(&slot, 30, at("2026-05-20T03:31:00Z")).unwrap().contains("closed at"));
    }
}
