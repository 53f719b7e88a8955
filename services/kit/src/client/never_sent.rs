//! Whether a failed call certainly reached no server, so trying it again cannot apply it
//! twice, whatever the method. Decided from the types in the error's `source()` chain, never
//! from message text.
//!
//! What tonic 0.14 produces for a refused connection (observed, and pinned by a test):
//! `Status { code: Unavailable, message: "tcp connect error" }` →
//! `tonic::transport::Error(Transport)` → `tonic::ConnectError` →
//! `hyper_util::client::legacy::connect::http::ConnectError("tcp connect error", addr)` →
//! `std::io::Error { kind: ConnectionRefused }`.

use std::error::Error;
use std::io;

use tonic::Status;

use super::error::{NotSent, sources};

/// True when the call that failed with `status` was never sent: the connection could not be
/// established (refused, timed out while connecting, unreachable), or this client gave up
/// before handing it to any endpoint.
pub fn never_sent(status: &Status) -> bool {
    Error::source(status).is_some_and(never_sent_error)
}

/// The same test on any error, for the balancer, which sees transport errors before they
/// become a `Status`.
pub(crate) fn never_sent_error(error: &(dyn Error + 'static)) -> bool {
    sources(error).any(|e| {
        // tonic wraps whatever its connector fails with (TCP connect, connect timeout) in
        // `ConnectError`: by then no HTTP/2 stream existed, so no request bytes were written.
        e.is::<tonic::ConnectError>()
            || e.is::<NotSent>()
            // hyper's HTTP/2 client fails a request as Canceled only when it never handed it
            // to the connection: still queued when the connection closed (a replica that
            // finished draining and sent GOAWAY), or the connection was not ready. tonic
            // reports it as CANCELLED; nothing reached the server.
            || e.downcast_ref::<hyper::Error>().is_some_and(hyper::Error::is_canceled)
            // A replica that starts draining sends GOAWAY naming the last stream it took; h2
            // fails every stream of ours above it with the remote GOAWAY's own error (reason
            // NO_ERROR), and those the server never processed (RFC 9113 §6.8; gRPC retries them
            // transparently). After such a GOAWAY the kit's server finishes every stream it took
            // before it closes the connection (it drains before it exits), so the same error on a
            // stream it took, left when the connection closed, would need a drain cut short.
            || e.downcast_ref::<h2::Error>().is_some_and(|h2| {
                h2.is_go_away() && h2.is_remote() && h2.reason() == Some(h2::Reason::NO_ERROR)
            })
            // A stream the server refused (REFUSED_STREAM) was not processed (RFC 9113 §8.7).
            || e.downcast_ref::<h2::Error>().is_some_and(|h2| {
                h2.is_remote() && h2.reason() == Some(h2::Reason::REFUSED_STREAM)
            })
            // A refusal means no server accepted the connection, and AddrNotAvailable comes only
            // from connect/bind; kept apart from ConnectError so the answer stays right should a
            // tonic release stop wrapping them. Kinds such as ConnectionReset, TimedOut or
            // HostUnreachable are not here: on an open connection they can follow delivery.
            || e.downcast_ref::<io::Error>().is_some_and(|io| {
                matches!(io.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::AddrNotAvailable)
            })
    })
}

/// True when the connection carrying the call failed before an answer came (the replica was
/// killed, the network dropped it): the server may or may not have applied the call, so only
/// an idempotent one may be tried again, on another replica. A status a server answered has
/// no source; one from a failed transport carries hyper's error (and the I/O error under it).
pub fn connection_lost(status: &Status) -> bool {
    Error::source(status).is_some_and(|e| {
        sources(e).any(|e| e.is::<hyper::Error>() || e.is::<tonic::transport::Error>() || e.is::<io::Error>())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_without_a_source_was_possibly_sent() {
        assert!(!never_sent(&Status::unavailable("overloaded")));
    }

    #[test]
    fn a_refused_connection_under_any_wrapper_was_never_sent() {
        let mut status = Status::unavailable("tcp connect error");
        let refused = io::Error::new(io::ErrorKind::ConnectionRefused, "refused");
        status.set_source(std::sync::Arc::new(refused));
        assert!(never_sent(&status));
    }

    #[test]
    fn a_reset_connection_may_have_carried_the_request() {
        let mut status = Status::unavailable("connection reset");
        status.set_source(std::sync::Arc::new(io::Error::new(io::ErrorKind::ConnectionReset, "reset")));
        assert!(!never_sent(&status));
    }
}
