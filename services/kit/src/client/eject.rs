//! An endpoint whose connection just failed sits out for a while, so the balancer stops
//! choosing it. Needed because tonic's lazy channel reports a refused connection from the
//! call, never from `poll_ready`: to the balancer a dead replica looks ready and, failing in
//! microseconds, the least loaded of all. After the pause the next call probes it.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::time::{Instant, Sleep};
use tower::{BoxError, Service};

use super::error::chain;
use super::never_sent::never_sent_error;

pub(crate) struct Eject<S> {
    inner: S,
    health: Arc<Mutex<Health>>,
    pause: Option<Pin<Box<Sleep>>>,
}

struct Health {
    part: Arc<str>,
    addr: SocketAddr,
    base: Duration,
    max: Duration,
    /// Connection failures in a row.
    failures: u32,
    out_until: Option<Instant>,
}

impl Health {
    fn connected(&mut self) {
        if self.failures > 0 {
            tracing::info!(part = %self.part, addr = %self.addr, "endpoint reachable again");
        }
        self.failures = 0;
        self.out_until = None;
    }

    fn connect_failed(&mut self, error: &BoxError) {
        self.failures = self.failures.saturating_add(1);
        let pause = pause(self.base, self.max, self.failures);
        self.out_until = Some(Instant::now() + pause);
        let error = chain(&**error);
        if self.failures == 1 {
            tracing::warn!(part = %self.part, addr = %self.addr, %error, ?pause, "endpoint unreachable; sitting it out");
        } else {
            tracing::debug!(part = %self.part, addr = %self.addr, %error, ?pause, failures = self.failures, "endpoint still unreachable");
        }
    }
}

/// The pause after `failures` connection failures in a row: `base`, doubling, capped at `max`.
fn pause(base: Duration, max: Duration, failures: u32) -> Duration {
    base.saturating_mul(1 << failures.saturating_sub(1).min(16)).min(max)
}

impl<S> Eject<S> {
    pub(crate) fn new(inner: S, part: Arc<str>, addr: SocketAddr, base: Duration, max: Duration) -> Self {
        let health = Health { part, addr, base, max, failures: 0, out_until: None };
        Self { inner, health: Arc::new(Mutex::new(health)), pause: None }
    }
}

fn lock(health: &Mutex<Health>) -> std::sync::MutexGuard<'_, Health> {
    // The state is two numbers, valid whatever a panicking holder left behind.
    health.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<S, Req> Service<Req> for Eject<S>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        let out_until = lock(&self.health).out_until;
        match out_until {
            // Pending, not an error: a failed service would be dropped by the balancer for
            // good, and a fixed list would never get the replica back.
            Some(until) if until > Instant::now() => {
                let pause = self.pause.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(until)));
                if pause.deadline() != until {
                    pause.as_mut().reset(until);
                }
                ready!(pause.as_mut().poll(cx));
                self.pause = None;
            }
            _ => self.pause = None,
        }
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let response = self.inner.call(request);
        let health = self.health.clone();
        Box::pin(async move {
            let result = response.await.map_err(Into::into);
            match &result {
                Ok(_) => lock(&health).connected(),
                Err(error) if never_sent_error(&**error) => lock(&health).connect_failed(error),
                // Any other failure happened on a working connection: not the endpoint's fault.
                Err(_) => {}
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use tower::ServiceExt;

    use super::*;

    fn refused() -> BoxError {
        Box::new(io::Error::new(io::ErrorKind::ConnectionRefused, "refused"))
    }

    fn eject<S>(inner: S) -> Eject<S> {
        let addr = "10.0.0.1:1".parse().unwrap();
        Eject::new(inner, "roster".into(), addr, Duration::from_millis(50), Duration::from_secs(1))
    }

    async fn ready_within<S: Service<(), Error = BoxError>>(svc: &mut S, millis: u64) -> bool {
        tokio::time::timeout(Duration::from_millis(millis), svc.ready()).await.is_ok()
    }

    #[tokio::test]
    async fn a_refused_endpoint_is_not_ready_until_its_pause_ends() {
        let mut fail = true;
        let inner = tower::service_fn(move |()| {
            let result = if fail { Err(refused()) } else { Ok("answer") };
            fail = false;
            std::future::ready(result)
        });
        let mut svc = eject(inner);
        assert!(svc.ready().await.unwrap().call(()).await.is_err());
        assert!(!ready_within(&mut svc, 10).await, "ready during its pause");
        assert!(ready_within(&mut svc, 1000).await, "not ready after its pause");
        assert_eq!(svc.call(()).await.unwrap(), "answer");
        assert!(ready_within(&mut svc, 10).await, "an answer ends the pauses");
    }

    #[tokio::test]
    async fn an_error_on_a_working_connection_does_not_eject() {
        let inner = tower::service_fn(|()| std::future::ready(Err::<(), BoxError>("stream reset".into())));
        let mut svc = eject(inner);
        assert!(svc.ready().await.unwrap().call(()).await.is_err());
        assert!(ready_within(&mut svc, 10).await);
    }

    #[test]
    fn pauses_double_per_failure_in_a_row_up_to_the_maximum() {
        let ms = Duration::from_millis;
        let pauses: Vec<_> = (1..=6).map(|n| pause(ms(250), ms(5000), n)).collect();
        assert_eq!(pauses, [ms(250), ms(500), ms(1000), ms(2000), ms(4000), ms(5000)]);
        assert_eq!(pause(ms(250), ms(5000), u32::MAX), ms(5000));
    }
}
