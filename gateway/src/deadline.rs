//! Call deadlines: the gateway's default, shortened by what the client asked for, and
//! `grpc-timeout`, the header that carries one to the part.

use std::time::Duration;

use cadre_kit::client::deadline::{encode_grpc_timeout, parse_grpc_timeout};
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

/// `timeout` as a `grpc-timeout` value (the kit's encoding, shared with its clients).
pub fn grpc_timeout(timeout: Duration) -> HeaderValue {
    encode_grpc_timeout(timeout)
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
