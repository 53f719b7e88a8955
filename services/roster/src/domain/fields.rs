//! Validation of the fields roster messages share: the kit's (free text, IDs, enums,
//! a person's name, region) and the roster's own (ID number, political status,
//! education, tags) — each refused naming the field. One definition for cadres,
//! reserves, posts, teams and sanctions.

use cadre_kit::resident_id::ResidentId;
use cadre_proto::roster::v1 as pb;

use crate::error::RosterError;

pub use cadre_kit::fields::{
    MAX_BATCH, batch_keys, optional_enum, person_name, region, required_enum, required_id, revision, text,
};

pub fn id_number(field: &str, s: &str) -> Result<ResidentId, RosterError> {
    ResidentId::parse(s).map_err(|e| RosterError::invalid(field, e))
}

pub fn political_status(field: &str, v: i32) -> Result<pb::PoliticalStatus, RosterError> {
    Ok(required_enum(field, v, "value")?)
}

pub fn education(field: &str, v: i32) -> Result<pb::Education, RosterError> {
    Ok(required_enum(field, v, "value")?)
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
