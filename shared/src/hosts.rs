//! Where a credential may be sent. A Clockify key or Runn token goes only to a host that
//! passed these checks: `https`, no user-info, and an address that is not loopback,
//! private, link-local or cloud metadata. Names are checked when they are resolved, at
//! connect time ([`GuardedResolver`]), so a name that resolves to 127.0.0.1 — or changes
//! its answer after a first check — is refused too. In Lambda, 127.0.0.1:9001 is the
//! runtime API itself.
//!
//! Local emulators and simulators (plain `http`, loopback) are allowed only when the
//! environment sets `ALLOW_LOCAL_HOSTS=1` (the tests and `make demo` do; it is never the
//! default).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use url::{Host, Url};

/// The environment variable that lets local hosts through.
pub const ALLOW_LOCAL_HOSTS: &str = "ALLOW_LOCAL_HOSTS";

/// Which hosts a client may talk to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostPolicy {
    /// Plain `http` and loopback or private addresses (emulators, simulators).
    pub allow_local: bool,
}

impl HostPolicy {
    /// The policy this process runs under: strict unless `ALLOW_LOCAL_HOSTS=1`.
    pub fn from_env() -> Self {
        Self {
            allow_local: std::env::var(ALLOW_LOCAL_HOSTS).is_ok_and(|v| v.trim() == "1"),
        }
    }
    pub const STRICT: HostPolicy = HostPolicy { allow_local: false };
    pub const LOCAL: HostPolicy = HostPolicy { allow_local: true };
}

/// A URL or host refused, with the reason in a person's words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HostRefused(pub String);

/// Checks a base URL a credential will be sent to.
pub fn check_url(url: &Url, policy: HostPolicy) -> Result<(), HostRefused> {
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_local => {}
        other => return Err(HostRefused(format!("must be an https URL, not {other}://"))),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(HostRefused("must not carry a user name or password".into()));
    }
    match url.host() {
        None => Err(HostRefused("has no host".into())),
        Some(Host::Ipv4(ip)) => check_ip(IpAddr::V4(ip), policy),
        Some(Host::Ipv6(ip)) => check_ip(IpAddr::V6(ip), policy),
        // Names are checked when resolved, at connect time.
        Some(Host::Domain(_)) => Ok(()),
    }
}

fn check_ip(ip: IpAddr, policy: HostPolicy) -> Result<(), HostRefused> {
    if !policy.allow_local && is_forbidden(ip) {
        return Err(HostRefused(format!(
            "points at {ip}, a loopback, private, link-local or metadata address"
        )));
    }
    Ok(())
}

/// Whether a request must never go to `ip`: loopback, private, shared (CGNAT),
/// link-local (the 169.254.169.254 metadata service among them), unspecified, broadcast,
/// multicast, and their IPv6 counterparts (unique-local covers AWS's fd00:ec2::254).
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let seg = v6.segments();
            let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
            // IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16)
            // addresses carry an IPv4 address that reaches the same hosts.
            if seg[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified() {
                return forbidden_v4(embedded(seg[6], seg[7]));
            }
            if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return forbidden_v4(embedded(seg[6], seg[7]));
            }
            if seg[0] == 0x2002 {
                return forbidden_v4(embedded(seg[1], seg[2]));
            }
            let first = seg[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (first == 0x2001 && seg[1] < 0x200) // IETF assignments 2001::/23
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space 100.64.0.0/10
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking 198.18.0.0/15
        || a >= 240 // reserved 240.0.0.0/4
}

/// Whether a Clockify subdomain name is one DNS label: `[a-z0-9-]`, 1 to 63 characters,
/// not starting or ending with `-`.
pub fn check_dns_label(name: &str) -> Result<(), HostRefused> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if name.is_empty() || name.len() > 63 || !ok_chars {
        return Err(HostRefused(format!(
            "{name:?} is not a subdomain name (1 to 63 of a-z, 0-9 and '-')"
        )));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(HostRefused(format!(
            "{name:?} is not a subdomain name (it may not start or end with '-')"
        )));
    }
    Ok(())
}

/// Looks host names up: the system's resolver in production, a table in tests (there is
/// no DNS here).
#[async_trait::async_trait]
pub trait Resolver: Send + Sync {
    async fn lookup(&self, name: &str) -> std::io::Result<Vec<IpAddr>>;
}

/// The system's resolver (getaddrinfo, through tokio).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemResolver;

#[async_trait::async_trait]
impl Resolver for SystemResolver {
    async fn lookup(&self, name: &str) -> std::io::Result<Vec<IpAddr>> {
        Ok(tokio::net::lookup_host((name, 0))
            .await?
            .map(|a| a.ip())
            .collect())
    }
}

/// [`check_url`], and for a name, every address it resolves to now: one that points at
/// a loopback, private or metadata address is refused with the reason, so the person who
/// typed it learns why. (Connections still check at connect time: [`GuardedResolver`].)
pub async fn check_resolved(
    url: &Url,
    policy: HostPolicy,
    resolver: &dyn Resolver,
) -> Result<(), HostRefused> {
    check_url(url, policy)?;
    if policy.allow_local {
        return Ok(());
    }
    let Some(Host::Domain(name)) = url.host() else {
        return Ok(());
    };
    let addrs = resolver
        .lookup(name)
        .await
        .map_err(|e| HostRefused(format!("names {name}, which could not be found ({e})")))?;
    if addrs.is_empty() {
        return Err(HostRefused(format!("names {name}, which has no address")));
    }
    match addrs.into_iter().find(|ip| is_forbidden(*ip)) {
        Some(ip) => Err(HostRefused(format!(
            "names {name}, which resolves to {ip}, a loopback, private, link-local or metadata address"
        ))),
        None => Ok(()),
    }
}

/// The error a refused resolution carries through reqwest, recognised by the request
/// path so the failure is reported as a refused host, not retried as a network fault.
#[derive(Debug, thiserror::Error)]
#[error("{name} resolves to {ip}, a loopback, private, link-local or metadata address; refused")]
pub struct ForbiddenAddress {
    pub name: String,
    pub ip: IpAddr,
}

/// A resolver for `reqwest` that refuses names resolving to a forbidden address. Every
/// connection resolves afresh, so a name cannot pass once and then point elsewhere.
#[derive(Clone, Copy, Debug, Default)]
pub struct GuardedResolver;

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(bad) = addrs.iter().find(|a| is_forbidden(a.ip())) {
                return Err(Box::new(ForbiddenAddress {
                    name: host,
                    ip: bad.ip(),
                })
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn only_https_without_user_info_to_a_public_address_passes_by_default() {
        let strict = HostPolicy::STRICT;
        assert!(check_url(&url("https://clockify.example.com/api"), strict).is_ok());
        for bad in [
            "http://clockify.example.com",
            "https://user:pw@clockify.example.com",
            "https://user@clockify.example.com",
            "https://127.0.0.1:9001/2018-06-01/runtime",
            "https://169.254.169.254/latest",
            "https://10.0.0.5",
            "https://172.20.1.1",
            "https://192.168.1.1",
            "https://100.64.0.1",
            "https://0.0.0.0",
            "https://[::1]",
            "https://[fd00:ec2::254]",
            "https://[fe80::1]",
            "https://[::ffff:127.0.0.1]",
            "https://[::127.0.0.1]",
            "https://[64:ff9b::a00:1]",
            "https://[64:ff9b::a9fe:a9fe]",
            "https://[2002:7f00:1::]",
            "https://[2002:a9fe:a9fe::1]",
            "https://198.18.0.1",
            "https://240.0.0.1",
            "ftp://clockify.example.com",
        ] {
            assert!(check_url(&url(bad), strict).is_err(), "{bad} passed");
        }
        assert!(check_url(&url("https://93.184.216.34"), strict).is_ok());
        assert!(check_url(&url("https://[2606:4700::6810:84e5]"), strict).is_ok());
        assert!(
            check_url(&url("https://[2002:5db8:d822::1]"), strict).is_ok(),
            "6to4 of a public address"
        );
    }

    #[test]
    fn local_hosts_pass_only_when_allowed() {
        assert!(check_url(&url("http://127.0.0.1:8080"), HostPolicy::LOCAL).is_ok());
        assert!(check_url(&url("https://u:p@127.0.0.1"), HostPolicy::LOCAL).is_err());
    }

    #[test]
    fn subdomains_are_one_dns_label() {
        assert!(check_dns_label("acme-eu1").is_ok());
        for bad in ["", "Acme", "a.b", "a/b", "-a", "a-", "a b", &"a".repeat(64)] {
            assert!(check_dns_label(bad).is_err(), "{bad:?} passed");
        }
    }

    /// Names and what they resolve to, for tests.
    struct Table(Vec<(&'static str, IpAddr)>);

    #[async_trait::async_trait]
    impl Resolver for Table {
        async fn lookup(&self, name: &str) -> std::io::Result<Vec<IpAddr>> {
            let found: Vec<IpAddr> = self
                .0
                .iter()
                .filter(|(n, _)| *n == name)
                .map(|(_, ip)| *ip)
                .collect();
            if found.is_empty() {
                return Err(std::io::Error::other("no such name"));
            }
            Ok(found)
        }
    }

    #[tokio::test]
    async fn a_name_is_checked_against_every_address_it_resolves_to() {
        let table = Table(vec![
            ("runn.acme.example", "93.184.216.34".parse().unwrap()),
            ("sneaky.example", "93.184.216.34".parse().unwrap()),
            ("sneaky.example", "169.254.169.254".parse().unwrap()),
            ("inside.example", "10.1.2.3".parse().unwrap()),
        ]);
        let strict = HostPolicy::STRICT;
        let ok = url("https://runn.acme.example/api");
        assert_eq!(check_resolved(&ok, strict, &table).await, Ok(()));
        for (bad, words) in [
            ("https://sneaky.example", "169.254.169.254"),
            ("https://inside.example", "10.1.2.3"),
            ("https://nowhere.example", "could not be found"),
            ("http://runn.acme.example", "https"),
        ] {
            let e = check_resolved(&url(bad), strict, &table).await.unwrap_err();
            assert!(e.0.contains(words), "{bad}: {e}");
        }
        // Local hosts pass under the local policy, unresolved.
        let local = url("http://localhost:8080");
        assert_eq!(
            check_resolved(&local, HostPolicy::LOCAL, &table).await,
            Ok(())
        );
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_at_connect_time() {
        use reqwest::dns::Resolve;
        let err = match GuardedResolver.resolve("localhost".parse().unwrap()).await {
            Ok(_) => panic!("localhost resolved"),
            Err(e) => e,
        };
        assert!(err.downcast_ref::<ForbiddenAddress>().is_some(), "{err}");
    }
}
