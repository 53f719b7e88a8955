//! Money: integer fen (1 yuan = 100 fen), never floating point. Yuan with two decimals
//! appear only in exports and uploads, formatted and parsed here exactly.

use cadre_kit::fields::FieldError;

/// The largest amount any rule, pool or award may name: one billion yuan.
pub const MAX_FEN: i64 = 100_000_000_000;

/// A positive amount of fen, at most [`MAX_FEN`].
pub fn positive(field: &str, fen: i64) -> Result<i64, FieldError> {
    if fen <= 0 {
        return Err(FieldError::new(field, format!("must be a positive amount of fen, got {fen}")));
    }
    if fen > MAX_FEN {
        return Err(FieldError::new(field, format!("must be at most {MAX_FEN} fen, got {fen}")));
    }
    Ok(fen)
}

/// `fen` as yuan with two decimals: 123456 → "1234.56", -5 → "-0.05".
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Yuan as written in a file ("10000", "10000.5", "10000.50", "1,480,000.00") to fen,
/// exactly; more than two decimals, a sign or anything else is refused.
pub fn parse_yuan(field: &str, s: &str) -> Result<i64, FieldError> {
    let bad = || {
        FieldError::new(field, format!("{:?} is not an amount of yuan with at most two decimals", bounded(s)))
    };
    let t: String = s.trim().chars().filter(|c| *c != ',').collect();
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    if whole.is_empty() || whole.len() > 12 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) || (t.contains('.') && frac.is_empty()) {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let cents: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().map_err(|_| bad())? * 10,
        _ => frac.parse().map_err(|_| bad())?,
    };
    Ok(whole * 100 + cents)
}

fn bounded(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_have_two_decimals_and_round_trip_exactly() {
        assert_eq!(yuan(1_000_000), "10000.00");
        assert_eq!(yuan(148_000_000), "1480000.00");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(-5), "-0.05");
        for fen in [0, 1, 99, 100, 2_055_556, MAX_FEN] {
            assert_eq!(parse_yuan("amount", &yuan(fen)).unwrap(), fen);
        }
        assert_eq!(parse_yuan("a", "1,480,000").unwrap(), 148_000_000);
        assert_eq!(parse_yuan("a", "0.5").unwrap(), 50);
    }

    #[test]
    fn fractions_of_a_fen_signs_and_words_are_refused_naming_the_field() {
        for bad in ["0.005", "-1", "1e3", "", "12.", "abc", "1.2.3", "+5"] {
            assert_eq!(parse_yuan("amount_yuan", bad).unwrap_err().field, "amount_yuan", "{bad}");
        }
        assert!(positive("amount_fen", -1).unwrap_err().to_string().starts_with("amount_fen:"));
        assert!(positive("amount_fen", 0).is_err());
        assert!(positive("amount_fen", MAX_FEN + 1).is_err());
    }
}
