//! Whether a failed attempt is tried again: only when that is safe (the method is idempotent,
//! or no server saw the attempt) and may help (UNAVAILABLE, or the connection failed), at most
//! `max_attempts` times,
//! after a short jittered pause that fits before the deadline, and only while the retry
//! budget lasts, so that an outage of one part does not multiply the load on it.

use std::time::{Duration, Instant};

use rand::Rng;
use tonic::{Code, Status};
use tower::retry::budget::{Budget, TpsBudget};

use super::never_sent::{connection_lost, never_sent};
use super::settings::ClientSettings;

/// Whether applying a call twice has the same effect as once. The caller knows: from the
/// method's `idempotency_level` option, or because the request carries an idempotency key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotent {
    Yes,
    No,
}

/// What to do after a failed attempt.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Return,
    RetryAfter(Duration),
}

/// Shared by every clone of a client, so the budget covers all its calls.
#[derive(Debug)]
pub(crate) struct RetryPolicy {
    max_attempts: u32,
    backoff_base: Duration,
    backoff_max: Duration,
    budget: TpsBudget,
}

impl RetryPolicy {
    /// `settings` must have passed [`ClientSettings::problems`] (tower asserts on the budget).
    pub(crate) fn new(settings: &ClientSettings) -> Self {
        Self {
            max_attempts: settings.max_attempts,
            backoff_base: settings.backoff_base,
            backoff_max: settings.backoff_max,
            budget: TpsBudget::new(
                settings.retry_budget_window,
                settings.retry_budget_min_per_sec,
                settings.retry_budget_ratio,
            ),
        }
    }

    /// Counts a new call (not an attempt): the budget allows retries in proportion to calls.
    pub(crate) fn call_started(&self) {
        self.budget.deposit();
    }

    /// After attempt number `attempts` (1 for the first) failed with `status`.
    pub(crate) fn after_failure(
        &self,
        status: &Status,
        idempotent: Idempotent,
        attempts: u32,
        deadline: Instant,
    ) -> Verdict {
        let safe = idempotent == Idempotent::Yes || never_sent(status);
        // UNAVAILABLE is the one code gRPC defines as "try again"; a never-sent attempt, or
        // one whose connection died under it (tonic says UNKNOWN "transport error"), is worth
        // another endpoint whatever code it was given.
        let may_help = status.code() == Code::Unavailable || never_sent(status) || connection_lost(status);
        if !(safe && may_help) || attempts >= self.max_attempts {
            return Verdict::Return;
        }
        let pause = backoff(self.backoff_base, self.backoff_max, attempts);
        if Instant::now() + pause >= deadline {
            return Verdict::Return;
        }
        // Last, so that a retry we would not make anyway costs no budget.
        if !self.budget.withdraw() {
            tracing::debug!(code = ?status.code(), "retry budget spent; returning the failure");
            return Verdict::Return;
        }
        Verdict::RetryAfter(pause)
    }
}

/// The pause before retry number `retry` (1 for the first): `base` doubling up to `max`, drawn
/// from the upper half so that clients failing together do not retry together.
fn backoff(base: Duration, max: Duration, retry: u32) -> Duration {
    let ceiling = base.saturating_mul(1 << retry.saturating_sub(1).min(16)).min(max);
    if ceiling.is_zero() {
        return ceiling;
    }
    rand::rng().random_range(ceiling / 2..=ceiling)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn policy(settings: ClientSettings) -> RetryPolicy {
        assert_eq!(settings.problems(), Vec::<String>::new());
        RetryPolicy::new(&settings)
    }

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    fn refused() -> Status {
        let mut status = Status::unavailable("tcp connect error");
        status.set_source(Arc::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)));
        status
    }

    fn retries(verdict: Verdict) -> bool {
        matches!(verdict, Verdict::RetryAfter(_))
    }

    #[test]
    fn only_unavailable_is_retried_and_only_when_safe() {
        let policy = policy(ClientSettings::default());
        let unavailable = Status::unavailable("draining");
        assert!(retries(policy.after_failure(&unavailable, Idempotent::Yes, 1, later())));
        assert!(!retries(policy.after_failure(&unavailable, Idempotent::No, 1, later())));
        assert!(!retries(policy.after_failure(&Status::internal("bug"), Idempotent::Yes, 1, later())));
        assert!(retries(policy.after_failure(&refused(), Idempotent::No, 1, later())));
    }

    #[test]
    fn a_lost_connection_is_retried_only_when_idempotent() {
        let policy = policy(ClientSettings::default());
        let mut lost = Status::unknown("transport error");
        lost.set_source(Arc::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset)));
        assert!(retries(policy.after_failure(&lost, Idempotent::Yes, 1, later())));
        assert!(!retries(policy.after_failure(&lost, Idempotent::No, 1, later())));
        // The same code answered by a server is its verdict, not a lost connection.
        assert!(!retries(policy.after_failure(&Status::unknown("bug"), Idempotent::Yes, 1, later())));
    }

    #[test]
    fn attempts_stop_at_the_maximum_and_before_the_deadline() {
        let policy = policy(ClientSettings::default());
        assert!(retries(policy.after_failure(&refused(), Idempotent::Yes, 2, later())));
        assert!(!retries(policy.after_failure(&refused(), Idempotent::Yes, 3, later())));
        let soon = Instant::now() + Duration::from_millis(5);
        assert!(!retries(policy.after_failure(&refused(), Idempotent::Yes, 1, soon)));
    }

    #[test]
    fn the_budget_allows_the_floor_then_a_fifth_of_calls() {
        // A floor of 1 retry a second over 1 s: one retry in reserve.
        let policy = policy(ClientSettings {
            retry_budget_min_per_sec: 1,
            retry_budget_window: Duration::from_secs(1),
            ..ClientSettings::default()
        });
        assert!(retries(policy.after_failure(&refused(), Idempotent::Yes, 1, later())));
        assert!(!retries(policy.after_failure(&refused(), Idempotent::Yes, 1, later())));
        for _ in 0..5 {
            policy.call_started();
        }
        assert!(retries(policy.after_failure(&refused(), Idempotent::Yes, 1, later())));
        assert!(!retries(policy.after_failure(&refused(), Idempotent::Yes, 1, later())));
    }

    #[test]
    fn backoff_doubles_within_its_jitter_up_to_the_maximum() {
        let ms = Duration::from_millis;
        for _ in 0..100 {
            assert!((ms(10)..=ms(20)).contains(&backoff(ms(20), ms(200), 1)));
            assert!((ms(20)..=ms(40)).contains(&backoff(ms(20), ms(200), 2)));
            assert!((ms(100)..=ms(200)).contains(&backoff(ms(20), ms(200), 9)));
        }
    }
}
