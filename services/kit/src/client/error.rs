//! What can go wrong when a client is built: a target that does not parse, settings out of
//! range, no runtime to run on. Failures of calls are `tonic::Status`, as for any gRPC call.

use std::error::Error;
use std::fmt;

/// A configured target that is not a usable endpoint list or DNS name; each message names
/// the value and says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("client target is empty: expected `http://IP:PORT[,http://IP:PORT…]` or `dns://NAME:PORT`")]
    Empty,
    #[error("client target {target:?}: an entry is empty (a stray comma?)")]
    EmptyEntry { target: String },
    #[error(
        "client target {target:?}: {entry:?} has an unsupported scheme: expected http:// \
         (plaintext HTTP/2 inside the cluster) or dns://"
    )]
    Scheme { target: String, entry: String },
    #[error("client target {target:?}: {entry:?} is not `http://IP:PORT`: {reason}")]
    Static { target: String, entry: String, reason: String },
    #[error("client target {target:?}: a dns:// target names one service and cannot be part of a list")]
    DnsInList { target: String },
    #[error("client target {target:?} is not `dns://NAME:PORT`: {reason}")]
    Dns { target: String, reason: String },
}

/// Why a [`PartClient`](super::PartClient) could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("client for {part}: {}", problems.join("; "))]
    Settings { part: String, problems: Vec<String> },
    #[error("client for {part}: must be built inside a Tokio runtime (it spawns its resolver and balancer)")]
    NoRuntime { part: String },
}

/// The source of a status this client made up without sending anything (a deadline that had
/// already passed, no endpoint ready in time), so [`never_sent`](super::never_sent) can tell.
#[derive(Debug)]
pub(crate) struct NotSent(pub(crate) &'static str);

impl fmt::Display for NotSent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not sent: {}", self.0)
    }
}

impl std::error::Error for NotSent {}

/// An error followed by its sources, outermost first.
pub(crate) fn sources<'a>(
    error: &'a (dyn Error + 'static),
) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(error), |&e| e.source())
}

/// An error and its sources on one line, for logs: tonic's transport error alone reads
/// "transport error", its cause is further down.
pub(crate) fn chain(error: &(dyn Error + 'static)) -> String {
    let mut line = String::new();
    for e in sources(error) {
        let text = e.to_string();
        // hyper-util repeats a message at two levels ("tcp connect error: tcp connect error").
        if !line.ends_with(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}
