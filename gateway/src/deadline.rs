//! Call deadlines: the gateway's default, shortened by what the client asked for, and
//! `grpc-timeout`, the header that carries one to the part.

use std::time::Duration;

use http::{HeaderMap, HeaderValue};

/// The header a gRPC deadline travels in.
pub const GRPC_TIMEOUT: &str = "grpc-timeout";

/// The call's deadline: the default, or a shorter one the client asked for in
/// `x-deadline-ms` or `grpc-timeout`.
pub fn deadline(headers: &HeaderMap, default: Duration) -> Duration {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let asked = header("x-deadline-ms")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_millis)
        .or_else(|| header(GRPC_TIMEOUT).and_then(parse_grpc_timeout));
    asked.map_or(default, |d| d.min(default))
}

/// `grpc-timeout` values: an integer of up to 8 digits and a unit (H M S m u n).
fn parse_grpc_timeout(v: &str) -> Option<Duration> {
    let (digits, unit) = v.split_at(v.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// `timeout` as a `grpc-timeout` value, in the finest unit whose count fits the
/// header's 8 digits (so a client's own value is passed on unchanged), rounded down.
pub fn grpc_timeout(timeout: Duration) -> HeaderValue {
    const MAX: u128 = 99_999_999;
    let (count, unit) = [
        (timeout.as_nanos(), 'n'),
        (timeout.as_micros(), 'u'),
        (timeout.as_millis(), 'm'),
        (u128::from(timeout.as_secs()), 'S'),
        (u128::from(timeout.as_secs() / 60), 'M'),
    ]
    .into_iter()
    .find(|(count, _)| *count <= MAX)
    .unwrap_or(((u128::from(timeout.as_secs()) / 3600).min(MAX), 'H'));
    HeaderValue::from_str(&format!("{count}{unit}")).expect("digits and a letter are a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_only_get_shorter() {
        let default = Duration::from_secs(15);
        let mut h = HeaderMap::new();
        assert_eq!(deadline(&h, default), default);
        h.insert("grpc-timeout", HeaderValue::from_static("250m"));
        assert_eq!(deadline(&h, default), Duration::from_millis(250));
        h.insert("x-deadline-ms", HeaderValue::from_static("100"));
        assert_eq!(deadline(&h, default), Duration::from_millis(100));
        h.insert("x-deadline-ms", HeaderValue::from_static("100000"));
        assert_eq!(deadline(&h, default), default);
        assert_eq!(parse_grpc_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_grpc_timeout("S"), None);
        assert_eq!(parse_grpc_timeout("123456789S"), None);
        assert_eq!(parse_grpc_timeout("1x"), None);
        assert_eq!(parse_grpc_timeout(""), None);
    }

    #[test]
    fn grpc_timeouts_round_trip_in_the_finest_unit_that_fits() {
        assert_eq!(grpc_timeout(Duration::from_micros(250)), "250000n");
        assert_eq!(grpc_timeout(Duration::from_millis(300)), "300000u");
        assert_eq!(grpc_timeout(Duration::from_secs(15)), "15000000u");
        assert_eq!(grpc_timeout(Duration::from_secs(3 * 3600)), "10800000m");
        assert_eq!(grpc_timeout(Duration::from_secs(4 * 24 * 3600)), "345600S");
        assert_eq!(grpc_timeout(Duration::from_secs(200 * 365 * 24 * 3600)), "1752000H");
        for d in [Duration::from_nanos(1), Duration::from_millis(1234), Duration::from_secs(86_400)] {
            let value = grpc_timeout(d);
            assert_eq!(parse_grpc_timeout(value.to_str().unwrap()), Some(d), "{value:?}");
        }
        assert_eq!(grpc_timeout(Duration::MAX), "99999999H");
    }
}
