//! Validation of the fields every service's messages share — free text, required IDs
//! and revisions, enums given by number, a person's name, region codes, batch keys —
//! each refused with a [`FieldError`] that names the field (INVALID_ARGUMENT). Services
//! convert it into their own error enum; domain rules use these as pure functions.

use crate::error::ApiError;
use crate::region_code::RegionCode;

/// A bad field: `field: reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self { field: field.into(), reason: reason.to_string() }
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::invalid(&e.field, e.reason)
    }
}

impl From<FieldError> for tonic::Status {
    fn from(e: FieldError) -> Self {
        ApiError::from(e).into()
    }
}

/// `s` trimmed; `required` refuses an empty value; at most `max` characters.
pub fn text(field: &str, s: &str, required: bool, max: usize) -> Result<String, FieldError> {
    let t = s.trim();
    if required && t.is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    if t.chars().count() > max {
        return Err(FieldError::new(field, format!("must be at most {max} characters")));
    }
    Ok(t.to_string())
}

/// The revision an update read (optimistic concurrency): required, positive.
pub fn revision(field: &str, v: i64) -> Result<i64, FieldError> {
    if v <= 0 {
        return Err(FieldError::new(field, "is required: send the revision you read"));
    }
    Ok(v)
}

/// The longest ID or code a service issues or accepts (a UUID is 36).
pub const MAX_KEY_CHARS: usize = 64;

/// A record's ID that must be given: trimmed, at most [`MAX_KEY_CHARS`].
pub fn required_id<'a>(field: &str, s: &'a str) -> Result<&'a str, FieldError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    if t.chars().count() > MAX_KEY_CHARS {
        return Err(FieldError::new(field, format!("must be at most {MAX_KEY_CHARS} characters")));
    }
    Ok(t)
}

/// Keys asked for in one batch call, at most.
pub const MAX_BATCH: usize = 1000;

/// The keys of a batch call: each present and bounded, at most [`MAX_BATCH`], repeats
/// answered once (first position kept).
pub fn batch_keys(field: &str, keys: &[String]) -> Result<Vec<String>, FieldError> {
    if keys.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if keys.len() > MAX_BATCH {
        return Err(FieldError::new(field, format!("at most {MAX_BATCH} per call, got {}", keys.len())));
    }
    let mut out: Vec<String> = Vec::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        let key = key.trim();
        if key.is_empty() || key.chars().count() > MAX_KEY_CHARS {
            return Err(FieldError::new(
                format!("{field}[{i}]"),
                format!("must be 1 to {MAX_KEY_CHARS} characters"),
            ));
        }
        if !out.iter().any(|k| k == key) {
            out.push(key.to_string());
        }
    }
    Ok(out)
}

/// An enum given by number whose zero value means "not given": zero is "is required",
/// an unknown number "unknown `what` N".
pub fn required_enum<E>(field: &str, v: i32, what: &str) -> Result<E, FieldError>
where
    E: TryFrom<i32> + Default + PartialEq,
{
    match E::try_from(v) {
        Ok(e) if e == E::default() => Err(FieldError::new(field, "is required")),
        Ok(e) => Ok(e),
        Err(_) => Err(FieldError::new(field, format!("unknown {what} {v}"))),
    }
}

/// An optional enum filter: zero is "any".
pub fn optional_enum<E>(field: &str, v: i32, what: &str) -> Result<Option<E>, FieldError>
where
    E: TryFrom<i32> + Default + PartialEq,
{
    if v == 0 { Ok(None) } else { required_enum(field, v, what).map(Some) }
}

/// Enums given by number: each known, repeats dropped, sorted; `at_least_one` refuses none.
pub fn enum_set<E>(field: &str, values: &[i32], what: &str, at_least_one: bool) -> Result<Vec<E>, FieldError>
where
    E: TryFrom<i32> + Default + PartialEq + Ord + Copy,
{
    if at_least_one && values.is_empty() {
        return Err(FieldError::new(field, format!("must name at least one {what}")));
    }
    let mut out = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let e: E = required_enum(&format!("{field}[{i}]"), *v, what)?;
        if !out.contains(&e) {
            out.push(e);
        }
    }
    out.sort();
    Ok(out)
}

/// A person's name: trimmed, 1–50 characters, no control characters.
pub fn person_name(field: &str, s: &str) -> Result<String, FieldError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if s.chars().count() > 50 {
        return Err(FieldError::new(field, "must be at most 50 characters"));
    }
    if s.chars().any(char::is_control) {
        return Err(FieldError::new(field, "must not contain control characters"));
    }
    Ok(s.to_string())
}

/// A 12-digit region code (the error shows at most the first 40 characters given).
pub fn region(field: &str, s: &str) -> Result<RegionCode, FieldError> {
    RegionCode::parse(s).map_err(|e| FieldError::new(field, crate::text::bounded(&e.to_string(), 80)))
}

/// A year of the programmes' calendar: 2000–2100.
pub fn year(field: &str, v: i32) -> Result<i32, FieldError> {
    if (2000..=2100).contains(&v) {
        Ok(v)
    } else {
        Err(FieldError::new(field, format!("must be a year within 2000..=2100, got {v}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_field() {
        assert_eq!(text("note", "  ", true, 5).unwrap_err().to_string(), "note: is required");
        assert_eq!(
            text("note", "abcdef", false, 5).unwrap_err().to_string(),
            "note: must be at most 5 characters"
        );
        assert_eq!(required_id("id", &"x".repeat(65)).unwrap_err().field, "id");
        assert_eq!(revision("revision", 0).unwrap_err().field, "revision");
        assert!(year("year", 1999).is_err() && year("year", 2026).is_ok());
        let err = ApiError::from(region("region_code", "15").unwrap_err());
        assert!(err.message.starts_with("region_code:"), "{err}");
    }

    #[test]
    fn batch_keys_are_bounded_and_repeats_answered_once() {
        let keys = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(batch_keys("ids", &keys(&["b", "a", "b"])).unwrap(), ["b", "a"]);
        assert!(batch_keys("ids", &[]).unwrap_err().to_string().starts_with("ids:"));
        let long = "x".repeat(65);
        assert!(batch_keys("ids", &keys(&["a", &long])).unwrap_err().to_string().starts_with("ids[1]:"));
        let many = vec!["a".to_string(); MAX_BATCH + 1];
        assert!(batch_keys("ids", &many).unwrap_err().to_string().contains("at most 1000"));
    }
}
