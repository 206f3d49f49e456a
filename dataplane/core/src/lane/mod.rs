//! Canary lanes (DESIGN §5 "Lanes"): which lane a request is dyed with (`rules`), where a hop
//! sends it next (`route`), and propagation: the lane tag and W3C baggage that arrived on a
//! request are carried on every outbound request the service makes.

pub mod route;
pub mod rules;

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::telemetry::propagation::{self, TRACEPARENT};

/// Header carrying the lane tag between hops.
pub const LANE_HEADER: &str = "x-oblivious-lane";
/// W3C baggage, which mirrors the lane as `lane=<tag>`.
pub const BAGGAGE_HEADER: &str = "baggage";

/// The propagation headers of one inbound request, cheap to clone into outbound requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaneContext {
    pub lane: Option<HeaderValue>,
    pub baggage: Option<HeaderValue>,
    /// The hops so far, this one last (`x-oblivious-route`, set by the edge); carried to the next
    /// data-plane hop only, never to a provider.
    pub route: Option<HeaderValue>,
    /// The W3C `traceparent` the request arrived with (the edge keeps a trusted caller's, or
    /// starts one); what the next hop gets is `telemetry::propagation::outbound`'s choice.
    pub trace: Option<HeaderValue>,
}

impl LaneContext {
    /// Captures the propagation headers from an inbound request. When only baggage names a lane,
    /// the tag is taken from it so the next hop sees both.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let baggage = headers.get(BAGGAGE_HEADER).cloned();
        let lane = headers.get(LANE_HEADER).cloned().or_else(|| {
            let text = baggage.as_ref()?.to_str().ok()?;
            lane_from_baggage(text).and_then(|tag| HeaderValue::from_str(tag).ok())
        });
        let route = headers.get(crate::edge::ROUTE_HEADER).cloned();
        let trace = headers.get(TRACEPARENT).cloned();
        LaneContext { lane, baggage, route, trace }
    }

    /// The context of a request of lane `tag` (a job that outlives its request keeps the tag).
    pub fn of_tag(tag: &str) -> Self {
        LaneContext { lane: HeaderValue::from_str(tag).ok(), ..LaneContext::default() }
    }

    /// The lane tag, if the request is in a lane.
    pub fn tag(&self) -> Option<&str> {
        self.lane.as_ref().and_then(|v| v.to_str().ok())
    }

    /// The request's trace id, while inside its span (`propagation::current_trace_id`).
    pub fn trace_id(&self) -> Option<String> {
        propagation::current_trace_id(self.trace.as_ref())
    }

    /// The hops so far, for the request log.
    pub fn route(&self) -> Option<&str> {
        self.route.as_ref().and_then(|v| v.to_str().ok())
    }

    /// Headers to put on a request to another data-plane hop: the lane, its baggage and the
    /// trace context. Call it inside the span the call belongs to (its context is what is sent).
    pub fn outbound_headers(&self) -> impl Iterator<Item = (HeaderName, HeaderValue)> + '_ {
        self.provider_headers(true)
    }

    /// Headers to put on a request to a provider: the lane tag always (a lane's own upstream may
    /// route by it); baggage and trace context only when the channel asks (`propagateTrace`),
    /// since baggage may carry who the caller is and an external provider has no use for either.
    pub fn provider_headers(&self, propagate_trace: bool) -> impl Iterator<Item = (HeaderName, HeaderValue)> + '_ {
        let lane = self.lane.iter().map(|v| (HeaderName::from_static(LANE_HEADER), v.clone()));
        let baggage = self.baggage.iter().filter(move |_| propagate_trace);
        let baggage = baggage.map(|v| (HeaderName::from_static(BAGGAGE_HEADER), v.clone()));
        let trace = propagate_trace.then(|| propagation::outbound(self.trace.as_ref())).flatten();
        let trace = trace.into_iter().map(|v| (HeaderName::from_static(TRACEPARENT), v));
        lane.chain(baggage).chain(trace)
    }
}

/// Extracts `lane=<tag>` from a W3C baggage header value (`k=v;prop, k2=v2`).
pub fn lane_from_baggage(baggage: &str) -> Option<&str> {
    baggage.split(',').find_map(|member| {
        let kv = member.split(';').next()?.trim();
        let (key, value) = kv.split_once('=')?;
        (key.trim() == "lane").then(|| value.trim()).filter(|v| !v.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_is_read_from_baggage_when_the_header_is_absent() {
        let mut headers = HeaderMap::new();
        headers.insert(BAGGAGE_HEADER, HeaderValue::from_static("userId=7, lane=gray;ttl=3"));
        let ctx = LaneContext::from_headers(&headers);
        assert_eq!(ctx.tag(), Some("gray"));
        let out: Vec<_> = ctx.outbound_headers().map(|(k, _)| k.to_string()).collect();
        assert_eq!(out, vec![LANE_HEADER, BAGGAGE_HEADER]);
    }

    #[test]
    fn requests_outside_a_lane_propagate_nothing() {
        let ctx = LaneContext::from_headers(&HeaderMap::new());
        assert_eq!(ctx.outbound_headers().count(), 0);
    }
}
