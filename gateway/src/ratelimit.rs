//! Per-caller rate limits: a token bucket per token subject (its rate from the caller's
//! roles) and, before authentication, per peer address. Memory is bounded: at most
//! `max_callers` buckets, and a bucket that has filled up again (an idle caller) is
//! indistinguishable from a new one, so those are evicted first.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::response::{IntoResponse, Response};
use cadre_kit::config::{Rate, RateLimits};
use cadre_kit::principal::Principal;
use http::{HeaderValue, StatusCode};

/// Who is being limited.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    Subject(String),
    Peer(Option<std::net::IpAddr>),
}

/// A refusal: the limit that was reached and when to try again.
#[derive(Debug, Clone)]
pub struct Limited {
    pub rate: Rate,
    pub retry_after: Duration,
    by: &'static str,
}

impl Limited {
    /// Whole seconds, rounded up, at least 1 (what `Retry-After` carries).
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0)
    }

    fn message(&self) -> String {
        format!(
            "rate limit per {} reached: {} requests per second, burst {}; retry after {} s",
            self.by,
            self.rate.per_second,
            self.rate.burst,
            self.retry_after_secs()
        )
    }

    /// 429 with `Retry-After` and a JSON body naming the limit.
    pub fn http(&self) -> Response {
        let body = serde_json::json!({
            "code": "RESOURCE_EXHAUSTED",
            "reason": "RATE_LIMITED",
            "message": self.message(),
            "limit": {"by": self.by, "perSecond": self.rate.per_second, "burst": self.rate.burst},
            "retryAfterSeconds": self.retry_after_secs(),
            "status": 429,
        });
        let mut resp = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
        resp.headers_mut().insert(http::header::RETRY_AFTER, HeaderValue::from(self.retry_after_secs()));
        resp
    }

    /// RESOURCE_EXHAUSTED with `retry-after` metadata (seconds).
    pub fn status(&self) -> tonic::Status {
        let mut status = tonic::Status::resource_exhausted(self.message());
        status.metadata_mut().insert("retry-after", self.retry_after_secs().into());
        status
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn refill(&mut self, rate: Rate, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_second).min(f64::from(rate.burst));
        self.at = now;
    }
}

pub struct RateLimiter {
    settings: RateLimits,
    buckets: Mutex<HashMap<Caller, (Rate, Bucket)>>,
}

impl RateLimiter {
    pub fn new(settings: RateLimits) -> Self {
        Self { settings, buckets: Mutex::new(HashMap::new()) }
    }

    /// The rate for an authenticated caller: the most generous of its roles' entries
    /// (unlimited wins), else the default.
    pub fn rate_for(&self, principal: &Principal) -> Rate {
        let mut best: Option<Rate> = None;
        for role in &principal.roles {
            if let Some(rate) = self.settings.for_role(role.as_str()) {
                if rate.is_unlimited() {
                    return rate;
                }
                if best.is_none_or(|b| rate.per_second > b.per_second) {
                    best = Some(rate);
                }
            }
        }
        best.unwrap_or(self.settings.default)
    }

    /// Takes one token for an authenticated caller.
    pub fn check_principal(&self, principal: &Principal) -> Result<(), Limited> {
        let rate = self.rate_for(principal);
        self.take(Caller::Subject(principal.subject.clone()), rate, "subject")
    }

    /// Takes one token for a request without a valid token, by peer address.
    pub fn check_peer(&self, peer: Option<SocketAddr>) -> Result<(), Limited> {
        self.take(Caller::Peer(peer.map(|p| p.ip())), self.settings.unauthenticated, "peer address")
    }

    fn take(&self, caller: Caller, rate: Rate, by: &'static str) -> Result<(), Limited> {
        if rate.is_unlimited() {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !buckets.contains_key(&caller) && buckets.len() >= self.settings.max_callers {
            // Evict the idle: a full bucket is the same as no bucket.
            buckets.retain(|_, (r, b)| {
                b.refill(*r, now);
                b.tokens < f64::from(r.burst)
            });
            if buckets.len() >= self.settings.max_callers {
                // Every tracked caller is busy: drop the one idle longest.
                if let Some(oldest) = buckets.iter().min_by_key(|(_, (_, b))| b.at).map(|(k, _)| k.clone()) {
                    buckets.remove(&oldest);
                }
            }
        }
        let (stored, bucket) = buckets
            .entry(caller)
            .or_insert_with(|| (rate, Bucket { tokens: f64::from(rate.burst), at: now }));
        *stored = rate;
        bucket.refill(rate, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / rate.per_second;
            Err(Limited { rate, retry_after: Duration::from_secs_f64(wait.max(0.001)), by })
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_second: f64, burst: u32, max_callers: usize) -> RateLimits {
        RateLimits {
            default: Rate { per_second, burst },
            unauthenticated: Rate { per_second, burst },
            max_callers,
            ..RateLimits::default()
        }
    }

    #[test]
    fn a_burst_is_allowed_then_refused_with_a_retry_after() {
        let limiter = RateLimiter::new(limits(2.0, 3, 10));
        let peer = Some(SocketAddr::from(([10, 0, 0, 1], 1)));
        for _ in 0..3 {
            limiter.check_peer(peer).expect("within the burst");
        }
        let refused = limiter.check_peer(peer).unwrap_err();
        assert_eq!(refused.retry_after_secs(), 1);
        assert_eq!(refused.http().headers()[http::header::RETRY_AFTER], "1");
        // Another peer is not affected.
        limiter.check_peer(Some(SocketAddr::from(([10, 0, 0, 2], 1)))).expect("other peer");
    }

    #[test]
    fn memory_is_bounded_by_max_callers() {
        let limiter = RateLimiter::new(limits(1.0, 1, 100));
        for i in 0..10_000u32 {
            let _ = limiter.check_peer(Some(SocketAddr::from((i.to_be_bytes(), 1))));
        }
        assert!(limiter.tracked() <= 100, "{}", limiter.tracked());
    }
}
