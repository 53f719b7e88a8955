//! Every call has a deadline: the earlier of the client's default and what is left of the
//! caller's. The server learns it from `grpc-timeout`; we also stop waiting at it ourselves, so
//! a call never outlives its caller.

use std::future::Future;
use std::time::{Duration, Instant};

use http::HeaderValue;
use tonic::Status;
use tonic::metadata::MetadataMap;

use super::error::NotSent;

pub(crate) const GRPC_TIMEOUT: &str = "grpc-timeout";

/// The deadline of a call starting `now`: the default unless the caller's comes sooner. (A
/// default too large for an `Instant` counts as zero; `ClientSettings` keeps it to a day.)
pub fn effective(now: Instant, default: Duration, caller: Option<Instant>) -> Instant {
    let ours = now.checked_add(default).unwrap_or(now);
    caller.map_or(ours, |caller| caller.min(ours))
}

/// The caller's deadline as a handler sees it: from the `grpc-timeout` of the request it is
/// serving, counted from now (the time the request spent queued here is not known).
pub fn from_metadata(metadata: &MetadataMap) -> Option<Instant> {
    let timeout = parse_grpc_timeout(metadata.get(GRPC_TIMEOUT)?.to_str().ok()?)?;
    Instant::now().checked_add(timeout)
}

/// Tells the server the deadline (`Request::set_timeout`), or refuses to send a request whose
/// deadline has passed. [`PartChannel`](super::PartChannel) and [`enforce`] enforce it here.
pub fn apply<M>(request: &mut tonic::Request<M>, deadline: Instant) -> Result<(), Status> {
    match deadline.checked_duration_since(Instant::now()) {
        Some(left) if !left.is_zero() => {
            request.set_timeout(left);
            Ok(())
        }
        _ => Err(passed("the deadline passed before the call was sent")),
    }
}

/// Runs `call` until `deadline` at most; past it the answer is DEADLINE_EXCEEDED, whatever
/// the server is doing.
pub async fn enforce<T, F>(deadline: Instant, call: F) -> Result<T, Status>
where
    F: Future<Output = Result<T, Status>>,
{
    match tokio::time::timeout_at(deadline.into(), call).await {
        Ok(result) => result,
        Err(_) => Err(Status::deadline_exceeded("no answer before the deadline")),
    }
}

/// DEADLINE_EXCEEDED for a call that was not sent.
pub(crate) fn passed(why: &'static str) -> Status {
    let mut status = Status::deadline_exceeded(why);
    status.set_source(std::sync::Arc::new(NotSent(why)));
    status
}

/// `grpc-timeout` as the gRPC spec writes it: at most eight digits and a unit, the finest
/// unit that fits.
pub fn encode_grpc_timeout(timeout: Duration) -> HeaderValue {
    const MAX: u128 = 99_999_999;
    let units: [(u128, char); 6] = [
        (1, 'n'),
        (1_000, 'u'),
        (1_000_000, 'm'),
        (1_000_000_000, 'S'),
        (60_000_000_000, 'M'),
        (3_600_000_000_000, 'H'),
    ];
    let nanos = timeout.as_nanos();
    let (value, unit) = units
        .iter()
        .map(|(per, unit)| (nanos / per, *unit))
        .find(|(value, _)| *value <= MAX)
        .unwrap_or((MAX, 'H'));
    // Digits and an ASCII letter: always a valid header value.
    HeaderValue::try_from(format!("{value}{unit}")).unwrap_or_else(|_| HeaderValue::from_static("99999999H"))
}

/// Reads a `grpc-timeout` value; `None` for anything the spec does not allow.
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let unit = value.chars().last()?;
    let digits = &value[..value.len() - unit.len_utf8()];
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        'H' => Duration::from_secs(n * 3600),
        'M' => Duration::from_secs(n * 60),
        'S' => Duration::from_secs(n),
        'm' => Duration::from_millis(n),
        'u' => Duration::from_micros(n),
        'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earlier_of_default_and_caller_wins() {
        let now = Instant::now();
        let default = Duration::from_secs(10);
        assert_eq!(effective(now, default, None), now + default);
        assert_eq!(effective(now, default, Some(now + Duration::from_secs(3))), now + Duration::from_secs(3));
        assert_eq!(effective(now, default, Some(now + Duration::from_secs(30))), now + default);
    }

    #[test]
    fn grpc_timeout_round_trips_in_the_finest_unit_that_fits() {
        for (timeout, text) in [
            (Duration::from_millis(1), "1000000n"),
            (Duration::from_millis(500), "500000u"),
            (Duration::from_secs(10), "10000000u"),
            (Duration::from_secs(1000), "1000000m"),
            (Duration::from_secs(500_000), "500000S"),
        ] {
            let encoded = encode_grpc_timeout(timeout);
            assert_eq!(encoded.to_str().unwrap(), text);
            assert_eq!(parse_grpc_timeout(text), Some(timeout));
        }
    }

    #[test]
    fn malformed_grpc_timeouts_are_ignored() {
        for bad in ["", "m", "123", "123456789m", "12x", "-5m", "1.5S", "5é"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_handler_reads_its_callers_deadline_from_grpc_timeout() {
        let mut metadata = MetadataMap::new();
        assert_eq!(from_metadata(&metadata), None);
        metadata.insert(GRPC_TIMEOUT, "500m".parse().unwrap());
        let left = from_metadata(&metadata).unwrap().duration_since(Instant::now());
        assert!(left <= Duration::from_millis(500) && left > Duration::from_millis(400), "{left:?}");
        metadata.insert(GRPC_TIMEOUT, "soon".parse().unwrap());
        assert_eq!(from_metadata(&metadata), None);
    }

    #[test]
    fn a_request_past_its_deadline_is_not_sent() {
        let mut request = tonic::Request::new(());
        let status = apply(&mut request, Instant::now()).unwrap_err();
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
        assert!(super::super::never_sent(&status));

        apply(&mut request, Instant::now() + Duration::from_secs(2)).unwrap();
        let sent = parse_grpc_timeout(request.metadata().get(GRPC_TIMEOUT).unwrap().to_str().unwrap());
        assert!(sent.is_some_and(|t| t <= Duration::from_secs(2) && t > Duration::from_secs(1)));
    }
}
