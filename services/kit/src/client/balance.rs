//! The balanced channel's insides: one lazily connected tonic `Channel` per endpoint, p2c
//! (power of two choices) over their calls in flight, behind a `Buffer` so that the whole is
//! one cloneable service.
//!
//! tonic's own `Channel::balance_channel` is p2c too, but over a `Load` that is always 0, so
//! both choices tie and it is random: a slow or overloaded replica gets as many calls as a
//! fast one. Hence this stack, with a real load measure.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use tonic::body::Body;
use tonic::transport::{Channel, Endpoint};
use tower::balance::p2c::Balance;
use tower::buffer::Buffer;
use tower::load::{CompleteOnResponse, PendingRequests};
use tower::util::{BoxService, MapRequest};
use tower::{BoxError, ServiceExt};

use super::channel::mark_dispatched;
use super::discovery;
use super::eject::Eject;
use super::resolve::Resolve;
use super::settings::ClientSettings;

pub(crate) type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<http::Response<Body>, BoxError>> + Send + 'static>>;

/// Every endpoint of a part as one service; clones share the balancer.
pub(crate) type Balanced = Buffer<http::Request<Body>, ResponseFuture>;

type Marked = MapRequest<Channel, fn(http::Request<Body>) -> http::Request<Body>>;

/// One endpoint as the balancer sees it.
type EndpointService = PendingRequests<Eject<Marked>>;

/// Starts the resolver for `part` and returns the balanced service and the number of
/// endpoints currently known. Must run inside a Tokio runtime.
pub(crate) fn balanced<R: Resolve>(
    part: Arc<str>,
    resolver: R,
    refresh: Option<Duration>,
    settings: &ClientSettings,
) -> (Balanced, Arc<AtomicUsize>) {
    let make = {
        let part = part.clone();
        let settings = settings.clone();
        move |addr| endpoint(&part, addr, &settings)
    };
    let (discovery, known) = discovery::spawn(part, resolver, refresh, make);
    // Picks two ready endpoints at random and sends to the one with fewer calls in flight.
    let balance = Balance::new(discovery);
    // One task owns the balancer; every clone of the channel queues calls to it. The task
    // (and with it the resolver) ends when the last clone is dropped.
    let balanced = Buffer::new(BoxService::new(balance), settings.queue);
    (balanced, known)
}

/// The stack for one endpoint, innermost first.
fn endpoint(
    part: &Arc<str>,
    addr: SocketAddr,
    settings: &ClientSettings,
) -> Result<EndpointService, tonic::transport::Error> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))?
        .connect_timeout(settings.connect_timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(settings.keepalive_interval)
        .keep_alive_timeout(settings.keepalive_timeout)
        .keep_alive_while_idle(true)
        // Connects on the first call and again whenever the connection is lost, so an
        // endpoint that is down now is not an error now.
        .connect_lazy();
    // Records that the call reached an endpoint, so a deadline that passes afterwards reads
    // DEADLINE_EXCEEDED and not "no endpoint ready".
    let marked = channel.map_request(mark_dispatched as fn(_) -> _);
    // Keeps an endpoint whose connection failed out of the choice for a while; it must sit
    // under the load measure, which is what the balancer asks for readiness.
    let ejecting = Eject::new(marked, part.clone(), addr, settings.eject_base, settings.eject_max);
    // The load p2c compares: calls sent and not yet answered (response headers received).
    // Rather than PeakEwma: no constants to tune (a default RTT that is off either starves a
    // new replica or floods it until its estimate settles), ties between idle endpoints break
    // at random so a replica added by a scale-out gets calls at once, and a slow replica
    // piles up calls in flight, which is exactly when balancing matters.
    Ok(PendingRequests::new(ejecting, CompleteOnResponse::default()))
}
