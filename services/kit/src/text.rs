//! Text from callers, bounded before it goes anywhere else: an error message never
//! echoes more than a few hundred characters of what it is about.

/// `s` cut to at most `max_chars` characters; when it was longer, an ellipsis and how
/// long it was (`AAAA… (17000 characters)`), so the reader knows it was cut.
pub fn bounded(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        None => s.to_string(),
        Some((end, _)) => format!("{}… ({} characters)", &s[..end], s.chars().count()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_on_a_character_boundary_and_says_how_long_it_was() {
        assert_eq!(bounded("abc", 3), "abc");
        assert_eq!(bounded("abcd", 3), "abc… (4 characters)");
        assert_eq!(bounded("奈曼旗大沁他拉镇", 2), "奈曼… (8 characters)");
        assert!(bounded(&"A".repeat(65_000), 40).len() < 70);
    }
}
