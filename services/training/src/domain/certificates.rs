//! Certificate numbers and what a verification shows. A number is the prefix `TC`, the
//! year, 12 characters of Crockford base32 from 60 random bits, and two check digits
//! (ISO 7064 MOD 97-10, as IBANs use): `TC2026-7KQ3M9XD2WPA-41`. Not guessable (2^60
//! per year), and a mistyped number is refused before any lookup.

use crate::error::TrainingError;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const RANDOM_CHARS: usize = 12;

/// The number for `year` from 60 random bits (the rest of `random` is ignored).
pub fn number(year: i32, random: u64) -> String {
    let mut body = String::with_capacity(RANDOM_CHARS);
    for i in (0..RANDOM_CHARS).rev() {
        body.push(ALPHABET[((random >> (i * 5)) & 31) as usize] as char);
    }
    let payload = format!("TC{year:04}{body}");
    format!("TC{year:04}-{body}-{:02}", check_digits(&payload))
}

/// ISO 7064 MOD 97-10 over the payload (letters as 10–35): the two digits that make
/// `payload` followed by them ≡ 1 (mod 97).
fn check_digits(payload: &str) -> u32 {
    98 - (mod97(payload) * 100) % 97
}

fn mod97(s: &str) -> u32 {
    s.chars().fold(0u32, |acc, c| {
        let v = c.to_digit(36).unwrap_or(0);
        if v >= 10 { (acc * 100 + v) % 97 } else { (acc * 10 + v) % 97 }
    })
}

/// A number as given (spaces and case do not matter), checked: the normalised number,
/// or INVALID_ARGUMENT naming `field` and what is wrong.
pub fn parse(field: &str, given: &str) -> Result<String, TrainingError> {
    let s: String = given.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    let bad = |why: &str| TrainingError::invalid(field, why);
    if s.is_empty() {
        return Err(bad("is required"));
    }
    if s.len() > 40 {
        return Err(bad("is too long for a certificate number"));
    }
    let parts: Vec<&str> = s.split('-').collect();
    let [head, body, check] = parts[..] else {
        return Err(bad("is not a certificate number (TC<year>-<12 characters>-<2 digits>)"));
    };
    let year_ok = head.len() == 6 && head.starts_with("TC") && head[2..].bytes().all(|b| b.is_ascii_digit());
    if !year_ok
        || body.len() != RANDOM_CHARS
        || !body.bytes().all(|b| ALPHABET.contains(&b))
        || check.len() != 2
        || !check.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad("is not a certificate number (TC<year>-<12 characters>-<2 digits>)"));
    }
    if mod97(&format!("{head}{body}{check}")) != 1 {
        return Err(bad("its check digits do not match: mistyped?"));
    }
    Ok(s)
}

/// A name as a verification shows it: first and last character ("巴*尔", "王*").
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "*".into(),
        2 => format!("{}*", chars[0]),
        n => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_carry_the_year_and_check_out() {
        let n = number(2026, 0x0FED_CBA9_8765_4321);
        assert!(n.starts_with("TC2026-"), "{n}");
        assert_eq!(n.len(), "TC2026-".len() + 12 + 3);
        assert_eq!(parse("number", &n).unwrap(), n);
        assert_eq!(parse("number", &format!(" {} ", n.to_lowercase())).unwrap(), n);
        assert_ne!(number(2026, 1), number(2026, 2));
    }

    #[test]
    fn a_mistyped_number_is_refused_before_any_lookup() {
        let n = number(2026, 987_654_321);
        let mut typo: Vec<char> = n.chars().collect();
        typo[9] = if typo[9] == 'A' { 'B' } else { 'A' };
        let typo: String = typo.into_iter().collect();
        let e = parse("number", &typo).unwrap_err().to_string();
        assert_eq!(e, "number: its check digits do not match: mistyped?");
        // Two characters swapped.
        let mut swapped: Vec<char> = n.chars().collect();
        swapped.swap(8, 9);
        let swapped: String = swapped.into_iter().collect();
        if swapped != n {
            assert!(parse("number", &swapped).is_err());
        }
        assert!(parse("number", "").unwrap_err().to_string().ends_with("is required"));
        assert!(parse("number", "TC2026-ABC-12").is_err());
        assert!(parse("number", &"X".repeat(200)).is_err());
        // I, L, O and U are not in the alphabet.
        assert!(parse("number", "TC2026-IIIIIIIIIIII-00").is_err());
    }

    #[test]
    fn names_are_masked_to_their_ends() {
        assert_eq!(mask_name("巴特尔"), "巴*尔");
        assert_eq!(mask_name("王芳"), "王*");
        assert_eq!(mask_name("阿拉腾其其格"), "阿****格");
        assert_eq!(mask_name("李"), "*");
    }
}
