//! Where an alert may be sent: public addresses only (spec 016, ADR 0029).
//!
//! A webhook or Teams URL is typed in by a workspace member, and the delivery step posts to it
//! from inside the deployment: without a guard that is a server-side request forgery, reaching
//! the cloud metadata service (169.254.169.254), the VPC, or the host's own services. So a
//! target's host must resolve to public addresses only — not private (10/8, 172.16/12,
//! 192.168/16, 100.64/10), loopback (unless the deployment allows it for development),
//! link-local (169.254/16, fe80::/10), unique-local IPv6 (fc00::/7), multicast, unspecified or
//! broadcast — and a URL may not carry credentials (`user:pass@`).
//!
//! The check runs at create and patch (a field error) and again at every send, because DNS can
//! change. At send the HTTP client resolves through [`CheckedResolver`]: the addresses it checks
//! are the addresses it connects to, so a rebinding answer cannot slip between check and connect.
//! An IP literal is not resolved; [`check_literal`] covers it before the request.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// How long create waits for DNS before leaving the check to send time.
const CREATE_LOOKUP: Duration = Duration::from_secs(3);

/// An address an alert may not go to, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub ip: IpAddr,
    /// `private`, `loopback`, `link-local`, `unique-local`, `multicast`, `unspecified`, `broadcast`.
    pub kind: &'static str,
}

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "resolves to a {} address ({}); alert targets must be public",
            self.kind, self.ip
        )
    }
}

impl std::error::Error for Blocked {}

/// Why `ip` is not a public target, or `None` when it is. Loopback passes when `allow_loopback`
/// (local development and tests, `ATLAS_ALERT_ALLOW_HTTP_LOOPBACK`).
pub fn blocked(ip: IpAddr, allow_loopback: bool) -> Option<Blocked> {
    let kind = match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4_kind(v4),
            None => v6_kind(v6),
        },
    }?;
    if kind == "loopback" && allow_loopback {
        return None;
    }
    Some(Blocked { ip, kind })
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip.is_unspecified() || o[0] == 0 {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64) {
        // 100.64.0.0/10, carrier-grade NAT: private in all but name.
        Some("private")
    } else if ip.is_multicast() || o[0] >= 240 {
        // 240.0.0.0/4 is reserved; 255.255.255.255 is in it.
        Some(if ip.is_broadcast() { "broadcast" } else { "multicast" })
    } else {
        None
    }
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_unspecified() {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if (first & 0xfe00) == 0xfc00 {
        Some("unique-local")
    } else if (first & 0xffc0) == 0xfe80 || (first & 0xffc0) == 0xfec0 {
        // fe80::/10 link-local; fec0::/10, the deprecated site-local, is as private.
        Some("link-local")
    } else {
        None
    }
}

/// The first address of `addrs` that may not be a target.
pub fn first_blocked(addrs: impl IntoIterator<Item = IpAddr>, allow_loopback: bool) -> Option<Blocked> {
    addrs.into_iter().find_map(|ip| blocked(ip, allow_loopback))
}

/// The host of `url` as an IP address, when it is a literal.
pub fn literal(url: &reqwest::Url) -> Option<IpAddr> {
    url.host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok()
}

/// A literal IP host that may not be a target (a name is checked when it is resolved).
pub fn check_literal(url: &reqwest::Url, allow_loopback: bool) -> Option<Blocked> {
    literal(url).and_then(|ip| blocked(ip, allow_loopback))
}

/// The create-time check: a literal is judged as is; a name is resolved (briefly) and refused
/// when any address it has is not public. A name that does not resolve now is accepted: the
/// send-time check judges whatever it resolves to then.
pub async fn check_at_create(url: &reqwest::Url, allow_loopback: bool) -> Option<Blocked> {
    if literal(url).is_some() {
        return check_literal(url, allow_loopback);
    }
    let host = url.host_str()?.to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let found = tokio::time::timeout(CREATE_LOOKUP, tokio::net::lookup_host((host.as_str(), port))).await;
    match found {
        Ok(Ok(addrs)) => first_blocked(addrs.map(|a| a.ip()), allow_loopback),
        _ => None,
    }
}

/// The delivery client's resolver: it resolves a name once and hands the connector only
/// addresses that passed the check; a name with any blocked address fails with [`Blocked`].
#[derive(Debug, Clone, Copy)]
pub struct CheckedResolver {
    pub allow_loopback: bool,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow_loopback;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(b) = first_blocked(addrs.iter().map(SocketAddr::ip), allow) {
                return Err(Box::new(b) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The [`Blocked`] somewhere in an error's chain of sources (a send the resolver refused).
pub fn blocked_in(e: &(dyn std::error::Error + 'static)) -> Option<Blocked> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(b) = err.downcast_ref::<Blocked>() {
            return Some(b.clone());
        }
        cur = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::dns::Resolve as _;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_public_addresses_are_targets() {
        for (addr, kind) in [
            ("10.0.0.5", "private"),
            ("172.16.3.4", "private"),
            ("192.168.1.1", "private"),
            ("100.64.0.1", "private"),
            ("127.0.0.1", "loopback"),
            ("169.254.169.254", "link-local"),
            ("0.0.0.0", "unspecified"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fd00::5", "unique-local"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("::ffff:10.0.0.5", "private"),
            ("::ffff:169.254.169.254", "link-local"),
        ] {
            assert_eq!(blocked(ip(addr), false).map(|b| b.kind), Some(kind), "{addr}");
        }
        for addr in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "172.32.0.1"] {
            assert_eq!(blocked(ip(addr), false), None, "{addr}");
        }
        assert_eq!(
            blocked(ip("127.0.0.1"), true),
            None,
            "loopback with the development flag"
        );
        assert!(blocked(ip("10.0.0.5"), true).is_some(), "the flag allows loopback only");
        assert_eq!(
            blocked(ip("10.0.0.5"), false).unwrap().to_string(),
            "resolves to a private address (10.0.0.5); alert targets must be public"
        );
    }

    #[test]
    fn literals_are_checked_without_dns() {
        let u = |s: &str| reqwest::Url::parse(s).unwrap();
        assert_eq!(
            check_literal(&u("https://[fd00::1]/x"), false).unwrap().kind,
            "unique-local"
        );
        assert_eq!(
            check_literal(&u("https://169.254.169.254/latest"), false).unwrap().kind,
            "link-local"
        );
        assert_eq!(check_literal(&u("https://hooks.example.com/x"), false), None);
    }

    #[tokio::test]
    async fn the_resolver_refuses_a_name_that_resolves_to_loopback() {
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let err = match (CheckedResolver { allow_loopback: false }).resolve(name).await {
            Ok(_) => panic!("localhost resolved for a target"),
            Err(e) => e,
        };
        assert_eq!(blocked_in(err.as_ref()).map(|b| b.kind), Some("loopback"));
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let addrs: Vec<SocketAddr> = match (CheckedResolver { allow_loopback: true }).resolve(name).await {
            Ok(a) => a.collect(),
            Err(e) => panic!("{e}"),
        };
        assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()));
    }
}
