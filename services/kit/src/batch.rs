//! Batch reads (`BatchGet…`): answered in the order asked, with the keys that have no
//! record the caller may see listed as missing. A record that does not exist and one
//! outside the caller's jurisdiction are not told apart, so a batch reveals nothing a
//! single read would not.

/// `rows` (in any order) put in the order of `keys`; a key whose row is absent or not
/// `visible` is missing.
pub fn in_order<T>(
    keys: Vec<String>,
    rows: Vec<T>,
    key_of: impl Fn(&T) -> &str,
    visible: impl Fn(&T) -> bool,
) -> (Vec<T>, Vec<String>) {
    let mut found: std::collections::HashMap<String, T> =
        rows.into_iter().filter(|r| visible(r)).map(|r| (key_of(&r).to_string(), r)).collect();
    let mut ordered = Vec::with_capacity(found.len());
    let mut missing = Vec::new();
    for key in keys {
        match found.remove(&key) {
            Some(row) => ordered.push(row),
            None => missing.push(key),
        }
    }
    (ordered, missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_follow_the_keys_and_hidden_ones_are_just_missing() {
        let keys = vec!["c".to_string(), "a".into(), "x".into(), "b".into()];
        let rows = vec![("a", true), ("b", false), ("c", true)];
        let (got, missing) = in_order(keys, rows, |r| r.0, |r| r.1);
        assert_eq!(got, [("c", true), ("a", true)]);
        assert_eq!(missing, ["x", "b"]);
    }
}
