//! Free-text fields as the API carries them: trimmed, required or not, bounded in
//! characters, refused naming the field.

use crate::error::RosterError;

/// `s` trimmed; `required` refuses an empty value; at most `max` characters.
pub fn field(field: &str, s: &str, required: bool, max: usize) -> Result<String, RosterError> {
    let t = s.trim();
    if required && t.is_empty() {
        return Err(RosterError::invalid(field, "is required"));
    }
    if t.chars().count() > max {
        return Err(RosterError::invalid(field, format!("must be at most {max} characters")));
    }
    Ok(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_required_and_bounded_naming_the_field() {
        assert_eq!(field("reason", "  失职  ", true, 10).unwrap(), "失职");
        assert_eq!(field("reason", "  ", true, 10).unwrap_err().to_string(), "reason: is required");
        assert_eq!(field("note", "", false, 10).unwrap(), "");
        assert!(
            field("note", "十一个字十一个字十一个", false, 10).unwrap_err().to_string().starts_with("note:")
        );
    }
}
