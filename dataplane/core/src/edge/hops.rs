//! Calling the next data-plane service (chat -> relay, later rag -> relay) for a request in a
//! lane: the lane's version of that service when it is ready, else the baseline or a refusal
//! (DESIGN §5 "Lanes"). Every such call carries the hop token, so the next hop's edge keeps the
//! request id, lane and user it names.

use std::sync::Arc;

use http::HeaderValue;

use super::{HOP_TOKEN_HEADER, LaneSource};
use crate::lane::LaneContext;
use crate::lane::route::{LaneRouter, NextHop};

/// What a hop needs to call the next one; one per process, shared with the edge.
pub struct Hops {
    pub router: Arc<LaneRouter>,
    lanes: LaneSource,
    token: Option<HeaderValue>,
}

/// Why a call to the next hop did not get an answer.
#[derive(Debug)]
pub enum HopError {
    /// The request's lane is `Strict` and has no reachable version of the service.
    LaneUnavailable { tag: String, service: &'static str },
    /// The service could not be reached.
    Transport(reqwest::Error),
}

impl std::fmt::Display for HopError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HopError::LaneUnavailable { tag, service } => write!(f, "lane `{tag}` has no ready {service}"),
            HopError::Transport(error) => write!(f, "{error}"),
        }
    }
}

impl Hops {
    pub fn new(lanes: LaneSource, hop_token: Option<String>) -> Arc<Self> {
        let token = hop_token.filter(|t| !t.is_empty()).and_then(|t| HeaderValue::from_str(&t).ok());
        Arc::new(Hops { router: Arc::new(LaneRouter::default()), lanes, token })
    }

    /// The lanes of the active configuration.
    pub fn lanes(&self) -> Arc<crate::lane::rules::LaneTable> {
        (self.lanes)()
    }

    /// The hop token header value, when this process has one.
    pub fn token(&self) -> Option<&HeaderValue> {
        self.token.as_ref()
    }

    /// Sends the request `build` makes for a base URL to `service`: the lane's version when the
    /// request's lane has a ready one, else `baseline`. A lane version that cannot be reached is
    /// skipped for a while and the call goes to the baseline (or fails, for a `Strict` lane);
    /// `build` must therefore be callable twice.
    pub async fn send(
        &self,
        service: &'static str,
        baseline: &str,
        lane: &LaneContext,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, HopError> {
        let lanes = self.lanes();
        let now = super::now_ms();
        let with_hop = |base: &str| {
            let mut request = build(base);
            for (name, value) in lane.outbound_headers() {
                request = request.header(name, value);
            }
            if let Some(route) = &lane.route {
                request = request.header(super::ROUTE_HEADER, route.clone());
            }
            match &self.token {
                Some(token) => request.header(HOP_TOKEN_HEADER, token.clone()),
                None => request,
            }
        };
        let unavailable = || HopError::LaneUnavailable { tag: lane.tag().unwrap_or_default().to_string(), service };
        match self.router.next_hop(&lanes, lane.tag(), service, now) {
            NextHop::Baseline => with_hop(baseline).send().await.map_err(HopError::Transport),
            NextHop::Unavailable => Err(unavailable()),
            NextHop::Member(endpoint) => match with_hop(&endpoint).send().await {
                Ok(response) => Ok(response),
                Err(error) if error.is_connect() => {
                    tracing::warn!(endpoint, %error, "lane member unreachable");
                    self.router.member_failed(&endpoint);
                    match self.router.next_hop(&lanes, lane.tag(), service, now) {
                        NextHop::Unavailable => Err(unavailable()),
                        _ => with_hop(baseline).send().await.map_err(HopError::Transport),
                    }
                }
                Err(error) => Err(HopError::Transport(error)),
            },
        }
    }
}
