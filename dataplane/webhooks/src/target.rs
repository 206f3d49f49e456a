//! Where a webhook may point. A user's webhook is a request the platform makes on the user's
//! behalf from inside its network, so it gets the tool servers' address policy
//! (`oblivious_tools::check_user_url`): no loopback, private, link-local, CGNAT, unique-local or
//! multicast address (the first ones waived by `allow_private_targets` in development), every
//! resolved address checked, and the connection pinned to them so DNS cannot change its answer
//! between the check and the request. It is checked at creation and again before every attempt.
//! Platform webhooks (administrators') are trusted: any http(s) URL.

use std::net::SocketAddr;

use oblivious_tools::{AddressRefusal, check_user_url};
use url::Url;

/// The longest URL a webhook may have.
pub const MAX_URL_CHARS: usize = 2048;

/// Why a webhook URL was refused. `Display` never repeats the URL or an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TargetRefusal {
    #[error("must be at most 2048 characters")]
    TooLong,
    #[error(transparent)]
    Address(#[from] AddressRefusal),
}

/// A URL that passed the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub url: Url,
    /// For a user's webhook named by host: the host and the checked addresses to connect to.
    pub pinned: Option<(String, Vec<SocketAddr>)>,
}

/// Checks a webhook URL: http or https, at most `MAX_URL_CHARS`; a user's (`trusted` false) also
/// against the address policy, resolving its host.
pub async fn check_target(url: &str, trusted: bool, allow_private: bool) -> Result<Target, TargetRefusal> {
    if url.chars().count() > MAX_URL_CHARS {
        return Err(TargetRefusal::TooLong);
    }
    if !trusted {
        let checked = check_user_url(url, allow_private).await?;
        return Ok(Target { pinned: checked.domain.map(|domain| (domain, checked.addrs)), url: checked.url });
    }
    let url = Url::parse(url).map_err(|_| AddressRefusal::Unparsable)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(AddressRefusal::Scheme.into());
    }
    if url.host().is_none() {
        return Err(AddressRefusal::NoHost.into());
    }
    Ok(Target { url, pinned: None })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use oblivious_tools::BlockedRange;

    use super::*;

    #[tokio::test]
    async fn users_may_not_target_the_platforms_own_network_unless_allowed() {
        let refusal = check_target("http://127.0.0.1:9000/hook", false, false).await.unwrap_err();
        assert_eq!(refusal, TargetRefusal::Address(AddressRefusal::Blocked(BlockedRange::Loopback)));
        assert_eq!(refusal.to_string(), "the host resolves to a loopback address");
        let allowed = check_target("http://localhost:9000/hook", false, true).await.unwrap();
        let (host, addrs) = allowed.pinned.unwrap();
        assert_eq!(host, "localhost");
        assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 9000));
        let metadata = check_target("http://169.254.169.254/", false, true).await.unwrap_err();
        assert_eq!(metadata, TargetRefusal::Address(AddressRefusal::Blocked(BlockedRange::LinkLocal)));
    }

    #[tokio::test]
    async fn platform_hooks_are_trusted_but_still_http_and_bounded() {
        assert!(check_target("http://10.0.0.7/hook", true, false).await.unwrap().pinned.is_none());
        assert_eq!(check_target("ftp://example.com/", true, false).await, Err(AddressRefusal::Scheme.into()));
        assert_eq!(check_target("not a url", true, false).await, Err(AddressRefusal::Unparsable.into()));
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS));
        assert_eq!(check_target(&long, true, false).await, Err(TargetRefusal::TooLong));
        assert_eq!(check_target(&long, false, false).await, Err(TargetRefusal::TooLong));
    }
}
