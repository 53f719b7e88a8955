//! Points as integer tenths of a point (no floats anywhere): "4.5" is 45.

use cadre_kit::fields::FieldError;

/// The largest maximum, total or score: 1,000.0 points.
pub const MAX_TENTHS: i32 = 10_000;

/// Points as written in a sheet file or a form ("5", "4.5", "0.0"): at most one decimal,
/// not negative, at most [`MAX_TENTHS`].
pub fn parse(field: &str, s: &str) -> Result<i32, FieldError> {
    let t = s.trim();
    let bad = || {
        FieldError::new(
            field,
            format!("{:?} is not points such as 4.5 (one decimal at most)", crate_bounded(t)),
        )
    };
    if t.is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    if t.starts_with('-') {
        return Err(FieldError::new(field, "must not be negative"));
    }
    let (whole, tenth) = match t.split_once('.') {
        None => (t, "0"),
        Some((w, f)) if f.len() == 1 => (w, f),
        Some((w, f)) if f.len() == 2 && f.ends_with('0') => (w, &f[..1]),
        Some(_) => return Err(bad()),
    };
    if whole.is_empty() || whole.len() > 5 || !whole.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let tenth: i32 = tenth.parse().map_err(|_| bad())?;
    let whole: i32 = whole.parse().map_err(|_| bad())?;
    let tenths = whole * 10 + tenth;
    if tenths > MAX_TENTHS {
        return Err(FieldError::new(field, format!("{} is above {}", show(tenths), show(MAX_TENTHS))));
    }
    Ok(tenths)
}

/// Tenths as people write points: 45 → "4.5", 50 → "5.0".
pub fn show(tenths: i32) -> String {
    let sign = if tenths < 0 { "-" } else { "" };
    let t = tenths.unsigned_abs();
    format!("{sign}{}.{}", t / 10, t % 10)
}

fn crate_bounded(s: &str) -> String {
    cadre_kit::text::bounded(s, 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_read_as_tenths_and_shown_with_one_decimal() {
        assert_eq!(parse("points", "4.5"), Ok(45));
        assert_eq!(parse("points", " 5 "), Ok(50));
        assert_eq!(parse("points", "0"), Ok(0));
        assert_eq!(parse("points", "3.50"), Ok(35));
        assert_eq!(show(45), "4.5");
        assert_eq!(show(100), "10.0");
        assert_eq!(show(0), "0.0");
    }

    #[test]
    fn anything_else_is_refused_naming_the_field() {
        for bad in ["", "-1", "4.55", "abc", "1e3", "4,5", ".5", "99999999"] {
            let err = parse("rows[3].points", bad).unwrap_err();
            assert_eq!(err.field, "rows[3].points", "{bad}");
        }
        assert!(parse("p", "1000.1").unwrap_err().reason.contains("above 1000.0"));
    }
}
