//! Address policy for tool servers that users add themselves (platform `ToolServer`s are trusted).
//!
//! A user-supplied URL is a request the platform makes on the user's behalf from inside its own
//! network, so it must not reach what only the platform can reach: loopback, private networks,
//! link-local (cloud metadata lives at 169.254.169.254), CGNAT, unique-local IPv6, multicast, and
//! the IPv6 forms that embed such an IPv4 address. The host is resolved once, *every* address it
//! resolves to is checked, and the connection is then pinned to exactly those addresses
//! (`reqwest::ClientBuilder::resolve_to_addrs`), so a second DNS answer cannot swap in a private
//! address after the check (DNS rebinding).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

/// A user URL that passed the policy, with the addresses the connection must be pinned to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedUrl {
    /// The parsed URL (never shown to users: it may carry credentials).
    pub url: Url,
    /// The host name to pin, `None` when the URL names an IP address.
    pub domain: Option<String>,
    /// Every address the host resolved to, each with the URL's port.
    pub addrs: Vec<SocketAddr>,
}

/// Why a user URL was refused. `Display` never repeats the URL or the resolved address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressRefusal {
    #[error("the URL cannot be parsed")]
    Unparsable,
    #[error("only http and https URLs are allowed")]
    Scheme,
    #[error("the URL has no host")]
    NoHost,
    #[error("the host name could not be resolved")]
    Unresolvable,
    #[error("the host resolves to a {0} address")]
    Blocked(BlockedRange),
}

/// Address ranges a user server may not resolve to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlockedRange {
    Loopback,
    Unspecified,
    /// 10/8, 172.16/12, 192.168/16 (and the deprecated IPv6 site-local fec0::/10).
    Private,
    /// 169.254/16, fe80::/10.
    LinkLocal,
    /// 100.64/10, carrier-grade NAT.
    SharedCgnat,
    /// fc00::/7.
    UniqueLocal,
    Multicast,
    Broadcast,
    /// Reserved, benchmarking, documentation and IETF-protocol ranges, and Teredo.
    Reserved,
}

impl BlockedRange {
    /// Ranges a development setup may open (`allow_private`): where local tool servers live.
    /// Link-local stays closed even then: it is where cloud metadata services answer.
    pub fn waived_by_allow_private(self) -> bool {
        matches!(
            self,
            BlockedRange::Loopback | BlockedRange::Private | BlockedRange::SharedCgnat | BlockedRange::UniqueLocal
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BlockedRange::Loopback => "loopback",
            BlockedRange::Unspecified => "unspecified",
            BlockedRange::Private => "private network",
            BlockedRange::LinkLocal => "link-local",
            BlockedRange::SharedCgnat => "shared (CGNAT)",
            BlockedRange::UniqueLocal => "unique-local",
            BlockedRange::Multicast => "multicast",
            BlockedRange::Broadcast => "broadcast",
            BlockedRange::Reserved => "reserved",
        }
    }
}

impl fmt::Display for BlockedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks a user-supplied tool server URL: http or https, a host that resolves, and no resolved
/// address in a [`BlockedRange`] (unless `allow_private` waives the ranges local servers use).
/// Returns the addresses to pin the connection to.
pub async fn check_user_url(url: &str, allow_private: bool) -> Result<CheckedUrl, AddressRefusal> {
    let url = Url::parse(url).map_err(|_| AddressRefusal::Unparsable)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(AddressRefusal::Scheme);
    }
    let port = url.port_or_known_default().ok_or(AddressRefusal::Scheme)?;
    let (domain, mut addrs) = match url.host().ok_or(AddressRefusal::NoHost)? {
        Host::Ipv4(ip) => (None, vec![SocketAddr::new(IpAddr::V4(ip), port)]),
        Host::Ipv6(ip) => (None, vec![SocketAddr::new(IpAddr::V6(ip), port)]),
        Host::Domain(name) => {
            let resolved =
                tokio::net::lookup_host((name, port)).await.map_err(|_| AddressRefusal::Unresolvable)?.collect();
            (Some(name.to_owned()), resolved)
        }
    };
    addrs.sort();
    addrs.dedup();
    if addrs.is_empty() {
        return Err(AddressRefusal::Unresolvable);
    }
    // All, not any: a name answering with one public and one private address must not become a
    // way in through whichever address the connector happens to try.
    for addr in &addrs {
        if let Some(range) = blocked_range(addr.ip())
            && !(allow_private && range.waived_by_allow_private())
        {
            return Err(AddressRefusal::Blocked(range));
        }
    }
    Ok(CheckedUrl { url, domain, addrs })
}

/// The blocked range `ip` falls in, if any. IPv6 forms that carry an IPv4 address (mapped,
/// compatible, NAT64, 6to4) are judged by that IPv4 address.
pub fn blocked_range(ip: IpAddr) -> Option<BlockedRange> {
    match ip {
        IpAddr::V4(v4) => blocked_v4(v4),
        IpAddr::V6(v6) => blocked_v6(v6),
    }
}

fn blocked_v4(ip: Ipv4Addr) -> Option<BlockedRange> {
    let [a, b, c, _] = ip.octets();
    let range = match (a, b, c) {
        (0, _, _) => BlockedRange::Unspecified,
        (127, _, _) => BlockedRange::Loopback,
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => BlockedRange::Private,
        (169, 254, _) => BlockedRange::LinkLocal,
        (100, 64..=127, _) => BlockedRange::SharedCgnat,
        (224..=239, _, _) => BlockedRange::Multicast,
        (255, 255, 255) if ip == Ipv4Addr::BROADCAST => BlockedRange::Broadcast,
        (240..=255, _, _) | (192, 0, 0) | (192, 0, 2) | (198, 18..=19, _) | (198, 51, 100) | (203, 0, 113) => {
            BlockedRange::Reserved
        }
        _ => return None,
    };
    Some(range)
}

fn blocked_v6(ip: Ipv6Addr) -> Option<BlockedRange> {
    if ip.is_unspecified() {
        return Some(BlockedRange::Unspecified);
    }
    if ip.is_loopback() {
        return Some(BlockedRange::Loopback);
    }
    if let Some(v4) = embedded_v4(ip) {
        return blocked_v4(v4);
    }
    let s = ip.segments();
    let range = if s[0] & 0xffc0 == 0xfe80 {
        BlockedRange::LinkLocal
    } else if s[0] & 0xffc0 == 0xfec0 {
        BlockedRange::Private
    } else if s[0] & 0xfe00 == 0xfc00 {
        BlockedRange::UniqueLocal
    } else if s[0] & 0xff00 == 0xff00 {
        BlockedRange::Multicast
    } else if (s[0], s[1]) == (0x2001, 0x0db8) || (s[0], s[1]) == (0x2001, 0) {
        // Documentation, and Teredo (tunnelled to an address we cannot check).
        BlockedRange::Reserved
    } else {
        return None;
    };
    Some(range)
}

/// The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d),
/// NAT64 (64:ff9b::a.b.c.d) or 6to4 (2002:aabb:ccdd::) address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn range_of(ip: &str) -> Option<BlockedRange> {
        blocked_range(ip.parse().unwrap())
    }

    #[test]
    fn every_blocked_ipv4_range_is_refused_at_both_ends() {
        let cases = [
            ("0.0.0.0", BlockedRange::Unspecified),
            ("0.255.255.255", BlockedRange::Unspecified),
            ("127.0.0.1", BlockedRange::Loopback),
            ("127.255.255.254", BlockedRange::Loopback),
            ("10.0.0.0", BlockedRange::Private),
            ("10.255.255.255", BlockedRange::Private),
            ("172.16.0.0", BlockedRange::Private),
            ("172.31.255.255", BlockedRange::Private),
            ("192.168.0.1", BlockedRange::Private),
            ("192.168.255.255", BlockedRange::Private),
            ("169.254.0.0", BlockedRange::LinkLocal),
            ("169.254.169.254", BlockedRange::LinkLocal),
            ("100.64.0.0", BlockedRange::SharedCgnat),
            ("100.127.255.255", BlockedRange::SharedCgnat),
            ("224.0.0.1", BlockedRange::Multicast),
            ("239.255.255.255", BlockedRange::Multicast),
            ("255.255.255.255", BlockedRange::Broadcast),
            ("240.0.0.1", BlockedRange::Reserved),
            ("198.18.0.1", BlockedRange::Reserved),
            ("192.0.2.1", BlockedRange::Reserved),
        ];
        for (ip, range) in cases {
            assert_eq!(range_of(ip), Some(range), "{ip}");
        }
    }

    #[test]
    fn addresses_just_outside_the_blocked_ranges_are_public() {
        for ip in [
            "1.1.1.1",
            "9.255.255.255",
            "11.0.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "169.253.255.255",
            "100.63.255.255",
            "100.128.0.0",
            "223.255.255.255",
            "93.184.216.34",
        ] {
            assert_eq!(range_of(ip), None, "{ip}");
        }
    }

    #[test]
    fn every_blocked_ipv6_range_is_refused() {
        let cases = [
            ("::", BlockedRange::Unspecified),
            ("::1", BlockedRange::Loopback),
            ("fe80::1", BlockedRange::LinkLocal),
            ("febf:ffff::1", BlockedRange::LinkLocal),
            ("fec0::1", BlockedRange::Private),
            ("fc00::1", BlockedRange::UniqueLocal),
            ("fdff:ffff::1", BlockedRange::UniqueLocal),
            ("ff02::1", BlockedRange::Multicast),
            ("2001:db8::1", BlockedRange::Reserved),
            ("2001:0:4136:e378::1", BlockedRange::Reserved),
        ];
        for (ip, range) in cases {
            assert_eq!(range_of(ip), Some(range), "{ip}");
        }
        for ip in ["2606:4700:4700::1111", "2a00:1450:4001::1", "fe00::1", "fbff::1"] {
            assert_eq!(range_of(ip), None, "{ip}");
        }
    }

    #[test]
    fn ipv6_forms_embedding_a_blocked_ipv4_address_are_refused() {
        let cases = [
            ("::ffff:127.0.0.1", BlockedRange::Loopback),
            ("::ffff:10.1.2.3", BlockedRange::Private),
            ("::ffff:169.254.169.254", BlockedRange::LinkLocal),
            ("::ffff:100.64.0.1", BlockedRange::SharedCgnat),
            ("::127.0.0.1", BlockedRange::Loopback),
            ("::192.168.1.1", BlockedRange::Private),
            ("64:ff9b::10.0.0.1", BlockedRange::Private),
            ("2002:a9fe:a9fe::1", BlockedRange::LinkLocal),
            ("2002:7f00:1::", BlockedRange::Loopback),
        ];
        for (ip, range) in cases {
            assert_eq!(range_of(ip), Some(range), "{ip}");
        }
        assert_eq!(range_of("::ffff:1.1.1.1"), None);
        assert_eq!(range_of("2002:0101:0101::1"), None);
    }

    #[tokio::test]
    async fn a_public_address_is_accepted_and_returned_for_pinning() {
        let checked = check_user_url("https://93.184.216.34/mcp", false).await.unwrap();
        assert_eq!(checked.addrs, vec!["93.184.216.34:443".parse().unwrap()]);
        assert_eq!(checked.domain, None);
        let checked = check_user_url("http://[2606:4700:4700::1111]:8080/mcp", false).await.unwrap();
        assert_eq!(checked.addrs, vec!["[2606:4700:4700::1111]:8080".parse().unwrap()]);
    }

    #[tokio::test]
    async fn literal_private_and_mapped_addresses_are_refused() {
        let cases = [
            ("http://10.0.0.5/mcp", BlockedRange::Private),
            ("http://169.254.169.254/latest/meta-data", BlockedRange::LinkLocal),
            ("http://[::ffff:127.0.0.1]:3000/mcp", BlockedRange::Loopback),
            ("http://[::1]/mcp", BlockedRange::Loopback),
            ("http://[fd00::1]/mcp", BlockedRange::UniqueLocal),
            // WHATWG URL parsing turns these spellings into 127.0.0.1 before we look.
            ("http://2130706433/mcp", BlockedRange::Loopback),
            ("http://0x7f.1/mcp", BlockedRange::Loopback),
        ];
        for (url, range) in cases {
            assert_eq!(check_user_url(url, false).await, Err(AddressRefusal::Blocked(range)), "{url}");
        }
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused() {
        // `localhost` resolves from /etc/hosts: no DNS traffic leaves the machine.
        let refusal = check_user_url("http://localhost:8080/mcp", false).await.unwrap_err();
        assert_eq!(refusal, AddressRefusal::Blocked(BlockedRange::Loopback));
    }

    #[tokio::test]
    async fn allow_private_opens_local_ranges_but_never_link_local() {
        let checked = check_user_url("http://localhost:8080/mcp", true).await.unwrap();
        assert_eq!(checked.domain.as_deref(), Some("localhost"));
        assert!(!checked.addrs.is_empty());
        assert!(checked.addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 8080), "{:?}", checked.addrs);
        assert!(check_user_url("http://10.1.2.3/mcp", true).await.is_ok());
        assert!(check_user_url("http://100.64.1.1/mcp", true).await.is_ok());
        assert_eq!(
            check_user_url("http://169.254.169.254/", true).await,
            Err(AddressRefusal::Blocked(BlockedRange::LinkLocal))
        );
        assert_eq!(
            check_user_url("http://224.0.0.1/", true).await,
            Err(AddressRefusal::Blocked(BlockedRange::Multicast))
        );
    }

    #[tokio::test]
    async fn other_schemes_and_garbage_are_refused() {
        assert_eq!(check_user_url("ftp://93.184.216.34/", false).await, Err(AddressRefusal::Scheme));
        assert_eq!(check_user_url("file:///etc/passwd", false).await, Err(AddressRefusal::Scheme));
        assert_eq!(check_user_url("not a url", false).await, Err(AddressRefusal::Unparsable));
    }

    #[test]
    fn refusals_never_repeat_the_url_or_address() {
        let message = AddressRefusal::Blocked(BlockedRange::Private).to_string();
        assert_eq!(message, "the host resolves to a private network address");
    }
}
