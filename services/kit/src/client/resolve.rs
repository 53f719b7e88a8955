//! Where a client's endpoint addresses come from. A small trait so that tests can feed
//! changing address lists without DNS; the DNS lookup and the fixed list are its two uses in
//! production.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

/// Answers "which addresses does the target name right now?". Called once at start and,
/// for targets that change, every refresh interval.
pub trait Resolve: Send + Sync + 'static {
    fn resolve(&self) -> impl Future<Output = io::Result<Vec<SocketAddr>>> + Send;
}

/// A `dns://NAME:PORT` target: every A/AAAA record of the name, through the system resolver
/// (`getaddrinfo` on Tokio's blocking pool), which is what Kubernetes pods are set up for.
#[derive(Debug, Clone)]
pub struct Dns {
    host: String,
    port: u16,
}

impl Dns {
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self { host: host.into(), port }
    }
}

impl Resolve for Dns {
    async fn resolve(&self) -> io::Result<Vec<SocketAddr>> {
        let mut addrs: Vec<SocketAddr> =
            tokio::net::lookup_host((self.host.as_str(), self.port)).await?.collect();
        // getaddrinfo lists an address once per socket type on some systems.
        addrs.sort_unstable();
        addrs.dedup();
        Ok(addrs)
    }
}

/// A static target: the same addresses every time.
#[derive(Debug, Clone)]
pub struct Fixed(pub Vec<SocketAddr>);

impl Resolve for Fixed {
    async fn resolve(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn localhost_resolves_with_the_port_given() {
        let addrs = Dns::new("localhost", 50051).resolve().await.unwrap();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.port() == 50051 && a.ip().is_loopback()), "{addrs:?}");
    }
}
