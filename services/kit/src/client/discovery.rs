//! Endpoint changes for the balancer: a task resolves the target at start and every
//! `refresh`, and sends a tower `Change` for each address that appeared or vanished. A lookup
//! that fails or comes back empty keeps the last known set. The task ends when the balancer
//! (every clone of the channel) is gone.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures::Stream;
use tokio::sync::mpsc;
use tower::discover::Change;

use super::resolve::Resolve;

/// Changes not yet taken by the balancer; the resolver waits when it is this far ahead
/// (the balancer takes changes only while it has calls to place).
const PENDING_CHANGES: usize = 64;

/// A `tower::discover::Discover`: the resolver task's changes, each new address turned into
/// a service by `make`.
pub(crate) struct Discovery<F> {
    part: Arc<str>,
    changes: mpsc::Receiver<Change<SocketAddr, ()>>,
    make: F,
}

/// Starts the resolver task. `refresh: None` resolves once (a fixed list). Returns the
/// discovery for the balancer and the number of endpoints currently known.
pub(crate) fn spawn<R, F>(
    part: Arc<str>,
    resolver: R,
    refresh: Option<Duration>,
    make: F,
) -> (Discovery<F>, Arc<AtomicUsize>)
where
    R: Resolve,
{
    let (tx, rx) = mpsc::channel(PENDING_CHANGES);
    let known = Arc::new(AtomicUsize::new(0));
    tokio::spawn(run(part.clone(), resolver, refresh, tx, known.clone()));
    (Discovery { part, changes: rx, make }, known)
}

async fn run<R: Resolve>(
    part: Arc<str>,
    resolver: R,
    refresh: Option<Duration>,
    tx: mpsc::Sender<Change<SocketAddr, ()>>,
    count: Arc<AtomicUsize>,
) {
    let mut known = BTreeSet::new();
    loop {
        let lookup = tokio::select! {
            _ = tx.closed() => return,
            lookup = resolver.resolve() => lookup,
        };
        match lookup {
            Ok(addrs) if addrs.is_empty() => {
                // During a rollout a name can briefly have no records; calling stale
                // endpoints costs a failed connect each, an empty set costs every call.
                tracing::warn!(part = %part, kept = known.len(), "endpoint lookup found no address; keeping the last known endpoints");
            }
            Ok(addrs) => {
                let fresh: BTreeSet<SocketAddr> = addrs.into_iter().collect();
                // Inserts before removals, so the balancer never passes through an empty set.
                let changes = fresh
                    .difference(&known)
                    .map(|a| Change::Insert(*a, ()))
                    .chain(known.difference(&fresh).map(|a| Change::Remove(*a)))
                    .collect::<Vec<_>>();
                count.store(fresh.len(), Ordering::Relaxed);
                known = fresh;
                for change in changes {
                    match &change {
                        Change::Insert(addr, ()) => tracing::info!(part = %part, %addr, "endpoint added"),
                        Change::Remove(addr) => tracing::info!(part = %part, %addr, "endpoint removed"),
                    }
                    if tx.send(change).await.is_err() {
                        return;
                    }
                }
            }
            Err(error) => {
                tracing::warn!(part = %part, %error, kept = known.len(), "endpoint lookup failed; keeping the last known endpoints");
            }
        }
        let Some(refresh) = refresh else {
            tx.closed().await;
            return;
        };
        tokio::select! {
            _ = tx.closed() => return,
            _ = tokio::time::sleep(refresh) => {}
        }
    }
}

impl<F, S, E> Stream for Discovery<F>
where
    F: FnMut(SocketAddr) -> Result<S, E> + Unpin,
    E: fmt::Display,
{
    type Item = Result<Change<SocketAddr, S>, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let change = match ready!(self.changes.poll_recv(cx)) {
                None => return Poll::Ready(None),
                Some(Change::Remove(addr)) => Change::Remove(addr),
                Some(Change::Insert(addr, ())) => match (self.make)(addr) {
                    Ok(service) => Change::Insert(addr, service),
                    Err(error) => {
                        tracing::warn!(part = %self.part, %addr, %error, "endpoint skipped: cannot build its channel");
                        continue;
                    }
                },
            };
            return Poll::Ready(Some(Ok(change)));
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::super::tests::support::Scripted;
    use super::*;

    type Changes = Discovery<fn(SocketAddr) -> Result<SocketAddr, Infallible>>;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn start(resolver: Scripted) -> (Changes, Arc<AtomicUsize>) {
        spawn("roster".into(), resolver, Some(Duration::from_millis(20)), Ok as fn(_) -> _)
    }

    async fn next(changes: &mut Changes) -> String {
        let change = tokio::time::timeout(Duration::from_secs(2), changes.next()).await.unwrap().unwrap();
        match change.unwrap() {
            Change::Insert(addr, _) => format!("+{addr}"),
            Change::Remove(addr) => format!("-{addr}"),
        }
    }

    #[tokio::test]
    async fn replicas_that_appear_are_inserted_and_those_that_vanish_removed() {
        let resolver = Scripted::answering(&addrs(&["10.0.0.1:1", "10.0.0.2:1"]));
        let (mut changes, known) = start(resolver.clone());
        assert_eq!(next(&mut changes).await, "+10.0.0.1:1");
        assert_eq!(next(&mut changes).await, "+10.0.0.2:1");

        resolver.set(Some(&addrs(&["10.0.0.2:1", "10.0.0.3:1"])));
        assert_eq!(next(&mut changes).await, "+10.0.0.3:1");
        assert_eq!(next(&mut changes).await, "-10.0.0.1:1");
        assert_eq!(known.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn a_failed_or_empty_lookup_keeps_the_last_known_endpoints() {
        let resolver = Scripted::answering(&addrs(&["10.0.0.1:1"]));
        let (mut changes, known) = start(resolver.clone());
        assert_eq!(next(&mut changes).await, "+10.0.0.1:1");

        resolver.set(None);
        tokio::time::sleep(Duration::from_millis(100)).await;
        resolver.set(Some(&[]));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(known.load(Ordering::Relaxed), 1);

        resolver.set(Some(&addrs(&["10.0.0.2:1"])));
        // The first change after the failures is the new replica, not a removal to nothing.
        assert_eq!(next(&mut changes).await, "+10.0.0.2:1");
        assert_eq!(next(&mut changes).await, "-10.0.0.1:1");
    }

    #[tokio::test]
    async fn a_fixed_list_is_resolved_once() {
        let resolver = Scripted::answering(&addrs(&["10.0.0.1:1"]));
        let (mut changes, _) = spawn("roster".into(), resolver.clone(), None, Ok as fn(_) -> _);
        assert_eq!(next(&mut changes).await, "+10.0.0.1:1");
        resolver.set(Some(&addrs(&["10.0.0.2:1"])));
        let more = tokio::time::timeout(Duration::from_millis(200), changes.next()).await;
        assert!(more.is_err(), "a fixed list changed");
    }

    #[tokio::test]
    async fn the_resolver_task_ends_when_the_balancer_is_dropped() {
        let resolver = Scripted::answering(&addrs(&["10.0.0.1:1"]));
        let (changes, _) = start(resolver.clone());
        drop(changes);
        let ended = async {
            while Arc::strong_count(&resolver.0) > 1 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(2), ended).await.expect("resolver task still running");
    }
}
