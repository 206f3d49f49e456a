//! Who is calling, for the edge's lane decisions: an access token (the web UI) is checked by the
//! gateway, an API key by the relay's key cache. Asked only when a lane looks at the user or a
//! client named a lane itself.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use oblivious_core::edge::{Caller, CallerLookup};
use oblivious_gateway::Gateway;
use oblivious_relay::Relay;

pub struct ProcessCallers {
    pub relay: Arc<Relay>,
    pub gateway: Arc<Gateway>,
}

impl CallerLookup for ProcessCallers {
    fn lookup<'a>(&'a self, parts: &'a http::request::Parts) -> Pin<Box<dyn Future<Output = Caller> + Send + 'a>> {
        Box::pin(async move {
            let headers = &parts.headers;
            let bearer = headers
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
            // Access tokens are three dot-separated parts; API keys never contain a dot.
            if bearer.is_some_and(|token| token.matches('.').count() == 2) {
                return match self.gateway.authenticate_user(headers).await {
                    Ok(identity) => Caller {
                        user_id: Some(identity.user.id.to_string()),
                        may_pick_lane: identity.user.is_admin() || identity.user.lane_select,
                    },
                    Err(_) => Caller::default(),
                };
            }
            let query_key = parts.uri.query().and_then(gemini_query_key);
            match self.relay.keys.authenticate(headers, query_key).await {
                Ok(principal) => Caller {
                    user_id: principal.user_id.map(|id| id.to_string()),
                    may_pick_lane: principal.is_admin || principal.lane_select,
                },
                Err(_) => Caller::default(),
            }
        })
    }
}

/// Gemini clients may send their key as `?key=`.
fn gemini_query_key(query: &str) -> Option<&str> {
    query.split('&').find_map(|pair| pair.strip_prefix("key="))
}
