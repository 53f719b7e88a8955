//! Validation of the fields every roster message shares — free text, required IDs,
//! enums given by number, and a person's name, region, ID number, political status,
//! education and tags — each refused naming the field. One definition for cadres,
//! reserves, posts, teams and sanctions.

use cadre_kit::RegionCode;
use cadre_kit::resident_id::ResidentId;
use cadre_proto::roster::v1 as pb;

use crate::error::RosterError;

/// `s` trimmed; `required` refuses an empty value; at most `max` characters.
pub fn text(field: &str, s: &str, required: bool, max: usize) -> Result<String, RosterError> {
    let t = s.trim();
    if required && t.is_empty() {
        return Err(RosterError::invalid(field, "is required"));
    }
    if t.chars().count() > max {
        return Err(RosterError::invalid(field, format!("must be at most {max} characters")));
    }
    Ok(t.to_string())
}

/// A record's ID that must be given.
/// The revision an update read (optimistic concurrency): required, positive.
pub fn revision(field: &str, v: i64) -> Result<i64, RosterError> {
    if v <= 0 {
        return Err(RosterError::invalid(field, "is required: send the revision you read"));
    }
    Ok(v)
}

pub fn required_id<'a>(field: &str, s: &'a str) -> Result<&'a str, RosterError> {
    let t = s.trim();
    if t.is_empty() { Err(RosterError::invalid(field, "is required")) } else { Ok(t) }
}

/// Keys asked for in one batch call, at most.
pub const MAX_BATCH: usize = 1000;
/// The longest ID or code the roster issues or accepts in a batch (a UUID is 36).
const MAX_KEY_CHARS: usize = 64;

/// The keys of a batch call: each present and bounded, at most [`MAX_BATCH`], repeats
/// answered once (first position kept).
pub fn batch_keys(field: &str, keys: &[String]) -> Result<Vec<String>, RosterError> {
    if keys.is_empty() {
        return Err(RosterError::invalid(field, "must not be empty"));
    }
    if keys.len() > MAX_BATCH {
        return Err(RosterError::invalid(field, format!("at most {MAX_BATCH} per call, got {}", keys.len())));
    }
    let mut out: Vec<String> = Vec::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        let key = key.trim();
        if key.is_empty() || key.chars().count() > MAX_KEY_CHARS {
            return Err(RosterError::invalid(
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
pub fn required_enum<E>(field: &str, v: i32, what: &str) -> Result<E, RosterError>
where
    E: TryFrom<i32> + Default + PartialEq,
{
    match E::try_from(v) {
        Ok(e) if e == E::default() => Err(RosterError::invalid(field, "is required")),
        Ok(e) => Ok(e),
        Err(_) => Err(RosterError::invalid(field, format!("unknown {what} {v}"))),
    }
}

/// An optional enum filter: zero is "any".
pub fn optional_enum<E>(field: &str, v: i32, what: &str) -> Result<Option<E>, RosterError>
where
    E: TryFrom<i32> + Default + PartialEq,
{
    if v == 0 { Ok(None) } else { required_enum(field, v, what).map(Some) }
}

/// A person's name: trimmed, 1–50 characters, no control characters.
pub fn person_name(field: &str, s: &str) -> Result<String, RosterError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(RosterError::invalid(field, "must not be empty"));
    }
    if s.chars().count() > 50 {
        return Err(RosterError::invalid(field, "must be at most 50 characters"));
    }
    if s.chars().any(char::is_control) {
        return Err(RosterError::invalid(field, "must not contain control characters"));
    }
    Ok(s.to_string())
}

pub fn region(field: &str, s: &str) -> Result<RegionCode, RosterError> {
    RegionCode::parse(s).map_err(|e| RosterError::invalid(field, e))
}

pub fn id_number(field: &str, s: &str) -> Result<ResidentId, RosterError> {
    ResidentId::parse(s).map_err(|e| RosterError::invalid(field, e))
}

pub fn political_status(field: &str, v: i32) -> Result<pb::PoliticalStatus, RosterError> {
    required_enum(field, v, "value")
}

pub fn education(field: &str, v: i32) -> Result<pb::Education, RosterError> {
    required_enum(field, v, "value")
}

/// Background tags: known, without repeats, sorted.
pub fn tags(field: &str, values: &[i32]) -> Result<Vec<pb::BackgroundTag>, RosterError> {
    let mut out = Vec::new();
    for (i, v) in values.iter().enumerate() {
        match required_enum::<pb::BackgroundTag>(&format!("{field}[{i}]"), *v, "tag") {
            Ok(t) if !out.contains(&t) => out.push(t),
            Ok(_) => {}
            Err(_) => return Err(RosterError::invalid(format!("{field}[{i}]"), format!("unknown tag {v}"))),
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn text_is_trimmed_required_and_bounded_naming_the_field() {
        assert_eq!(text("reason", "  失职  ", true, 10).unwrap(), "失职");
        assert_eq!(text("reason", "  ", true, 10).unwrap_err().to_string(), "reason: is required");
        assert_eq!(text("note", "", false, 10).unwrap(), "");
        assert!(
            text("note", "十一个字十一个字十一个", false, 10).unwrap_err().to_string().starts_with("note:")
        );
    }

    #[test]
    fn enums_given_by_number_name_the_field_and_the_kind() {
        assert_eq!(
            required_enum::<pb::PostKind>("kind", 0, "post kind").unwrap_err().to_string(),
            "kind: is required"
        );
        assert_eq!(
            required_enum::<pb::PostKind>("kind", 99, "post kind").unwrap_err().to_string(),
            "kind: unknown post kind 99"
        );
        assert_eq!(optional_enum::<pb::Education>("education", 0, "value").unwrap(), None);
        assert_eq!(
            tags("tags", &[2, 1, 2]).unwrap(),
            [pb::BackgroundTag::ReturnedGraduate, pb::BackgroundTag::Veteran]
        );
        assert_eq!(tags("tags", &[0]).unwrap_err().to_string(), "tags[0]: unknown tag 0");
    }
}
