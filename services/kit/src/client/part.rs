//! One client per part called: built from the part's target and settings, cloned freely
//! into handlers, and `call` for one logical call with its deadline, the caller's metadata,
//! and the retries that are safe.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tonic::metadata::MetadataMap;
use tonic::{Code, Status};

use super::balance::balanced;
use super::channel::PartChannel;
use super::deadline;
use super::endpoints::Target;
use super::error::{ClientError, TargetError};
use super::resolve::{Dns, Fixed, Resolve};
use super::retry::{Idempotent, RetryPolicy, Verdict};
use super::settings::ClientSettings;

/// The way to call one part (`roster`, `assessment`, …) over gRPC, balanced over its replicas.
/// Clones share the endpoints, connections and retry budget.
#[derive(Clone)]
pub struct PartClient {
    part: Arc<str>,
    channel: PartChannel,
    endpoints: Arc<AtomicUsize>,
    retry: Arc<RetryPolicy>,
    default_deadline: Duration,
}

impl PartClient {
    /// A client for `part` at `target`. Connects lazily: a part that is down (or a name that
    /// does not resolve yet) now is not an error, its calls wait for an endpoint within their
    /// deadline. Must be called inside a Tokio runtime.
    pub fn new(part: &str, target: &Target, settings: &ClientSettings) -> Result<Self, ClientError> {
        match target {
            Target::Static(addrs) if addrs.is_empty() => Err(TargetError::Empty.into()),
            Target::Static(addrs) => {
                let client = Self::build(part, Fixed(addrs.clone()), None, settings)?;
                // Known from the configuration already: readiness need not wait for the
                // resolver task's first turn.
                client.endpoints.store(addrs.len(), Ordering::Relaxed);
                Ok(client)
            }
            Target::Dns { host, port } => {
                Self::build(part, Dns::new(host.clone(), *port), Some(settings.refresh), settings)
            }
        }
    }

    /// A client whose endpoints come from `resolver`, asked again every `settings.refresh`.
    pub fn with_resolver<R: Resolve>(
        part: &str,
        resolver: R,
        settings: &ClientSettings,
    ) -> Result<Self, ClientError> {
        Self::build(part, resolver, Some(settings.refresh), settings)
    }

    fn build<R: Resolve>(
        part: &str,
        resolver: R,
        refresh: Option<Duration>,
        settings: &ClientSettings,
    ) -> Result<Self, ClientError> {
        let problems = settings.problems();
        if !problems.is_empty() {
            return Err(ClientError::Settings { part: part.into(), problems });
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ClientError::NoRuntime { part: part.into() });
        }
        let name: Arc<str> = part.into();
        let (balanced, endpoints) = balanced(name.clone(), resolver, refresh, settings);
        Ok(Self {
            channel: PartChannel::new(balanced, name.clone(), settings.default_deadline),
            part: name,
            endpoints,
            retry: Arc::new(RetryPolicy::new(settings)),
            default_deadline: settings.default_deadline,
        })
    }

    /// The part this client calls.
    pub fn part(&self) -> &str {
        &self.part
    }

    /// The balanced channel, for a generated client: `RosterClient::new(client.channel())`.
    /// Calls made on it directly get a deadline but no retries and no propagated metadata;
    /// use it for what `call` does not fit, such as a long-lived stream with its own timeout.
    pub fn channel(&self) -> PartChannel {
        self.channel.clone()
    }

    /// Endpoints currently known from the target (reachable or not).
    pub fn endpoints(&self) -> usize {
        self.endpoints.load(Ordering::Relaxed)
    }

    /// One logical call. `attempt` is called once per attempt with a channel that carries the
    /// call's deadline (the earlier of the caller's `deadline` and the client's default) and
    /// `metadata`; it builds the request afresh each time:
    ///
    /// ```ignore
    /// let cadre = roster
    ///     .call(Idempotent::Yes, caller_deadline, &metadata, |channel| {
    ///         let request = request.clone();
    ///         async move { CadreServiceClient::new(channel).get_cadre(request).await }
    ///     })
    ///     .await?;
    /// ```
    ///
    /// A deadline already passed fails at once with DEADLINE_EXCEEDED, sending nothing. A
    /// failed attempt is tried again only if that is safe (`idempotent`, or the attempt was
    /// [`never_sent`](super::never_sent)) and may help (UNAVAILABLE), up to `max_attempts`,
    /// with time left before the deadline and retry budget left.
    pub async fn call<T, F, Fut>(
        &self,
        idempotent: Idempotent,
        deadline: Option<Instant>,
        metadata: &MetadataMap,
        mut attempt: F,
    ) -> Result<T, Status>
    where
        F: FnMut(PartChannel) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let now = Instant::now();
        let deadline = deadline::effective(now, self.default_deadline, deadline);
        if deadline <= now {
            return Err(deadline::passed("the caller's deadline passed before the call was sent"));
        }
        let channel = self.channel.for_call(deadline, metadata);
        self.retry.call_started();
        let mut attempts = 1;
        loop {
            // The channel's own timer fires at `deadline` and tells "no endpoint" from "no
            // answer"; this one, a moment later, also bounds what the channel does not see
            // (a response body that stalls after its headers).
            let status = match deadline::enforce(deadline + LATE, attempt(channel.clone())).await {
                Ok(answer) => return Ok(answer),
                Err(status) => status,
            };
            // A server gives up at the `grpc-timeout` we sent with CANCELLED; to our caller
            // that is the deadline passing.
            if status.code() == Code::Cancelled && Instant::now() >= deadline {
                return Err(Status::deadline_exceeded(format!(
                    "{} did not answer before the deadline",
                    self.part
                )));
            }
            match self.retry.after_failure(&status, idempotent, attempts, deadline) {
                Verdict::Return => return Err(status),
                Verdict::RetryAfter(pause) => {
                    tracing::debug!(part = %self.part, attempts, code = ?status.code(), message = status.message(), ?pause, "retrying");
                    tokio::time::sleep(pause).await;
                    attempts += 1;
                }
            }
        }
    }
}

/// How much later than the deadline the outer timer fires (see `call`).
const LATE: Duration = Duration::from_millis(20);

impl fmt::Debug for PartClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartClient")
            .field("part", &self.part)
            .field("endpoints", &self.endpoints())
            .field("default_deadline", &self.default_deadline)
            .finish_non_exhaustive()
    }
}
