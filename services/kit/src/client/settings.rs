//! How a client behaves, with defaults fit for calls between parts inside one cluster, and a
//! check of every value (tower asserts on some of them; we refuse them with a message).

use std::time::Duration;

/// Knobs of a [`PartClient`](super::PartClient). `Default` is what production uses.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientSettings {
    /// How often a `dns://` target is resolved again; replicas that appear or vanish are
    /// used or dropped within this interval.
    pub refresh: Duration,
    /// The deadline of a call whose caller has none (or a later one); at most a day.
    pub default_deadline: Duration,
    /// How long to wait for a TCP connection to one endpoint before trying another.
    pub connect_timeout: Duration,
    /// HTTP/2 PING interval on idle connections, so a vanished peer is noticed before a call
    /// waits on it. tonic servers accept any rate; other servers may need this raised.
    pub keepalive_interval: Duration,
    /// How long a PING may go unanswered before the connection is dropped.
    pub keepalive_timeout: Duration,
    /// Attempts per call, the first included; 1 turns retries off.
    pub max_attempts: u32,
    /// Pause before the first retry; it doubles per retry up to `backoff_max`, each pause
    /// drawn at random from its upper half so that callers do not retry in step.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Retries allowed on top of calls, as a fraction of calls in the last
    /// `retry_budget_window` (0.2: at most 20% extra load from retries).
    pub retry_budget_ratio: f32,
    /// Retries per second always allowed, so a client that calls rarely can still retry.
    pub retry_budget_min_per_sec: u32,
    /// The window the budget counts over (1 to 60 s).
    pub retry_budget_window: Duration,
    /// How long an endpoint whose connection failed sits out before it is tried again; it
    /// doubles per failure in a row, up to `eject_max`.
    pub eject_base: Duration,
    pub eject_max: Duration,
    /// Calls queued for the balancer at once; further calls wait for room, within their
    /// deadline.
    pub queue: usize,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            refresh: Duration::from_secs(5),
            default_deadline: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(1),
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            max_attempts: 3,
            backoff_base: Duration::from_millis(20),
            backoff_max: Duration::from_millis(200),
            retry_budget_ratio: 0.2,
            retry_budget_min_per_sec: 10,
            retry_budget_window: Duration::from_secs(10),
            eject_base: Duration::from_millis(250),
            eject_max: Duration::from_secs(5),
            queue: 1024,
        }
    }
}

impl ClientSettings {
    /// Every problem at once, each naming its field.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut positive = |name: &str, value: Duration| {
            if value.is_zero() {
                problems.push(format!("{name}: must be positive"));
            }
        };
        positive("refresh", self.refresh);
        positive("default_deadline", self.default_deadline);
        positive("connect_timeout", self.connect_timeout);
        positive("keepalive_interval", self.keepalive_interval);
        positive("keepalive_timeout", self.keepalive_timeout);
        positive("eject_base", self.eject_base);
        if self.default_deadline > Duration::from_secs(86_400) {
            problems
                .push(format!("default_deadline: must be at most a day, got {:?}", self.default_deadline));
        }
        if !(1..=10).contains(&self.max_attempts) {
            problems.push(format!("max_attempts: must be within 1..=10, got {}", self.max_attempts));
        }
        if self.backoff_base > self.backoff_max {
            problems.push(format!(
                "backoff_base: must not exceed backoff_max ({:?}), got {:?}",
                self.backoff_max, self.backoff_base
            ));
        }
        if self.eject_base > self.eject_max {
            problems.push(format!(
                "eject_base: must not exceed eject_max ({:?}), got {:?}",
                self.eject_max, self.eject_base
            ));
        }
        if !(0.0..=1000.0).contains(&self.retry_budget_ratio) {
            problems.push(format!(
                "retry_budget_ratio: must be within 0..=1000, got {}",
                self.retry_budget_ratio
            ));
        }
        if self.retry_budget_min_per_sec >= i32::MAX as u32 {
            problems.push(format!(
                "retry_budget_min_per_sec: must be below {}, got {}",
                i32::MAX,
                self.retry_budget_min_per_sec
            ));
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&self.retry_budget_window) {
            problems.push(format!(
                "retry_budget_window: must be within 1 s..=60 s, got {:?}",
                self.retry_budget_window
            ));
        }
        if self.queue == 0 {
            problems.push("queue: must be at least 1".into());
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(ClientSettings::default().problems(), Vec::<String>::new());
    }

    #[test]
    fn values_tower_would_panic_on_are_refused_by_name() {
        let settings = ClientSettings {
            retry_budget_ratio: f32::NAN,
            retry_budget_window: Duration::from_millis(10),
            max_attempts: 0,
            ..ClientSettings::default()
        };
        let problems = settings.problems().join("\n");
        assert!(problems.contains("retry_budget_ratio"), "{problems}");
        assert!(problems.contains("retry_budget_window"), "{problems}");
        assert!(problems.contains("max_attempts"), "{problems}");
    }
}
