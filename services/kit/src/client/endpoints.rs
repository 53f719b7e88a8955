//! The configured target of a client: a fixed list of endpoints, or a DNS name re-resolved
//! for its current addresses (a Kubernetes headless Service has one A record per ready pod).

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use super::error::TargetError;

/// Where a part's replicas are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `http://10.0.0.5:50051,http://10.0.0.6:50051`: these endpoints, for good.
    Static(Vec<SocketAddr>),
    /// `dns://roster-headless.cadre.svc.cluster.local:50051`: every address the name
    /// resolves to, resolved again every refresh interval.
    Dns { host: String, port: u16 },
}

impl Target {
    /// Parses a configured value; the error names the value and what was expected.
    pub fn parse(value: &str) -> Result<Self, TargetError> {
        let target = value.trim();
        if target.is_empty() {
            return Err(TargetError::Empty);
        }
        let entries: Vec<&str> = target.split(',').map(str::trim).collect();
        if entries.iter().any(|e| e.starts_with("dns:")) {
            if entries.len() > 1 {
                return Err(TargetError::DnsInList { target: target.into() });
            }
            return parse_dns(target);
        }
        let mut addrs = Vec::with_capacity(entries.len());
        for entry in entries {
            if entry.is_empty() {
                return Err(TargetError::EmptyEntry { target: target.into() });
            }
            let addr = parse_static(target, entry)?;
            // A repeated endpoint would be one replica counted twice by the balancer.
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        Ok(Target::Static(addrs))
    }
}

impl FromStr for Target {
    type Err = TargetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Target::parse(s)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Static(addrs) => {
                for (i, addr) in addrs.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "," };
                    write!(f, "{sep}http://{addr}")?;
                }
                Ok(())
            }
            Target::Dns { host, port } if host.contains(':') => write!(f, "dns://[{host}]:{port}"),
            Target::Dns { host, port } => write!(f, "dns://{host}:{port}"),
        }
    }
}

fn parse_static(target: &str, entry: &str) -> Result<SocketAddr, TargetError> {
    let Some(rest) = entry.strip_prefix("http://") else {
        return Err(TargetError::Scheme { target: target.into(), entry: entry.into() });
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let bad = |reason: &str| TargetError::Static {
        target: target.into(),
        entry: entry.into(),
        reason: reason.into(),
    };
    if let Ok(addr) = rest.parse::<SocketAddr>() {
        return if addr.port() == 0 { Err(bad("port 0 is not a port to call")) } else { Ok(addr) };
    }
    if rest.contains('/') {
        return Err(bad("an endpoint has no path"));
    }
    match rest.rsplit_once(':') {
        None => Err(bad("the port is missing")),
        Some((host, _)) if host.parse::<std::net::IpAddr>().is_err() && !host.starts_with('[') => {
            Err(bad("a static endpoint is an IP address; to resolve a name use dns://NAME:PORT"))
        }
        Some(_) => Err(bad("the port must be a number from 1 to 65535")),
    }
}

fn parse_dns(target: &str) -> Result<Target, TargetError> {
    let bad = |reason: &str| TargetError::Dns { target: target.into(), reason: reason.into() };
    // `dns:///name:port` (empty authority: the system resolver) is how gRPC spells it.
    let rest = target
        .strip_prefix("dns:///")
        .or_else(|| target.strip_prefix("dns://"))
        .ok_or_else(|| bad("expected dns:// followed by a name and port"))?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = rest.rsplit_once(':').ok_or_else(|| bad("the port is missing"))?;
    let port = match port.parse::<u16>() {
        Ok(0) | Err(_) => return Err(bad("the port must be a number from 1 to 65535")),
        Ok(port) => port,
    };
    let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) if v6.parse::<std::net::Ipv6Addr>().is_ok() => v6,
        Some(_) => return Err(bad("the bracketed host is not an IPv6 address")),
        None if valid_hostname(host) => host,
        None => return Err(bad("the name must be letters, digits, '-' and '.', at most 253 characters")),
    };
    Ok(Target::Dns { host: host.to_string(), port })
}

fn valid_hostname(host: &str) -> bool {
    // One trailing dot (a fully qualified name) is allowed.
    let name = host.strip_suffix('.').unwrap_or(host);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_comma_separated_list_is_a_static_target() {
        let target = Target::parse(" http://10.0.0.5:50051, http://10.0.0.6:50051/ ").unwrap();
        assert_eq!(target, Target::Static(vec![addr("10.0.0.5:50051"), addr("10.0.0.6:50051")]));
        assert_eq!(target.to_string(), "http://10.0.0.5:50051,http://10.0.0.6:50051");
    }

    #[test]
    fn ipv6_endpoints_are_bracketed() {
        let target = Target::parse("http://[::1]:50051").unwrap();
        assert_eq!(target, Target::Static(vec![addr("[::1]:50051")]));
    }

    #[test]
    fn a_repeated_endpoint_counts_once() {
        let target = Target::parse("http://10.0.0.5:1,http://10.0.0.5:1").unwrap();
        assert_eq!(target, Target::Static(vec![addr("10.0.0.5:1")]));
    }

    #[test]
    fn a_headless_service_name_is_a_dns_target() {
        let target = Target::parse("dns://roster-headless.cadre.svc.cluster.local:50051").unwrap();
        assert_eq!(
            target,
            Target::Dns { host: "roster-headless.cadre.svc.cluster.local".into(), port: 50051 }
        );
        assert_eq!(target.to_string(), "dns://roster-headless.cadre.svc.cluster.local:50051");
        assert_eq!(Target::parse("dns:///roster:7").unwrap(), Target::Dns { host: "roster".into(), port: 7 });
    }

    #[test]
    fn every_error_names_the_configured_value() {
        for bad in [
            "10.0.0.5:50051",
            "https://10.0.0.5:50051",
            "http://roster:50051",
            "http://10.0.0.5",
            "http://10.0.0.5:0",
            "http://10.0.0.5:99999",
            "http://10.0.0.5:1/path",
            "http://10.0.0.5:1,,http://10.0.0.6:1",
            "dns://roster",
            "dns://roster:http",
            "dns://:50051",
            "dns://ros ter:50051",
            "dns://roster:1,http://10.0.0.5:1",
        ] {
            let message = Target::parse(bad).unwrap_err().to_string();
            assert!(message.contains(&format!("{bad:?}")), "{bad}: {message}");
        }
        assert_eq!(Target::parse("  "), Err(TargetError::Empty));
    }

    #[test]
    fn a_name_in_a_static_list_points_to_dns() {
        let message = Target::parse("http://roster:50051").unwrap_err().to_string();
        assert!(message.contains("dns://NAME:PORT"), "{message}");
    }
}
