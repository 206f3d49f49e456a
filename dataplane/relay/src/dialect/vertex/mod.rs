//! Google Vertex AI: the Gemini wire format (the `gemini` dialect translates requests, answers,
//! streams and errors) at a project- and region-scoped URL, authenticated with a bearer token
//! from the channel's service account ([`auth`]) instead of an API key.

pub mod auth;

use oblivious_config::{ApiKey, Channel};

use crate::dialect::{UpstreamRequest, gemini};
use crate::ir::ChatRequest;

/// The Gemini request with Vertex's URL and `Authorization: Bearer {access_token}`.
pub fn build_upstream_request(
    channel: &Channel,
    base_url: &str,
    access_token: &ApiKey,
    request: &ChatRequest,
    upstream_model: &str,
) -> UpstreamRequest {
    let mut upstream = gemini::build_upstream_request(channel, base_url, access_token, request, upstream_model);
    upstream.url = upstream_url(channel, base_url, upstream_model, request.stream);
    for (name, value) in &mut upstream.headers {
        if name.eq_ignore_ascii_case("x-goog-api-key") {
            *name = "authorization".into();
            *value = format!("Bearer {}", access_token.expose());
        }
    }
    upstream
}

/// `{base}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent`
/// (`:streamGenerateContent?alt=sse` when streaming). A model given as a full resource name
/// (`projects/…/endpoints/…`, a tuned model) is used as it is.
fn upstream_url(channel: &Channel, base_url: &str, model: &str, stream: bool) -> String {
    let base = base_url.trim_end_matches('/');
    let root = base.strip_suffix("/v1").unwrap_or(base);
    let resource = if model.starts_with("projects/") {
        model.to_string()
    } else {
        let (project, location) =
            channel.vertex.as_ref().map(|v| (v.project.as_str(), v.location.as_str())).unwrap_or_default();
        format!("projects/{project}/locations/{location}/publishers/google/models/{model}")
    };
    if stream {
        format!("{root}/v1/{resource}:streamGenerateContent?alt=sse")
    } else {
        format!("{root}/v1/{resource}:generateContent")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use oblivious_config::{Provider, VertexTarget};

    #[test]
    fn the_url_names_project_location_and_publisher_model_and_the_token_is_a_bearer() {
        let channel = Channel {
            provider: Provider::VertexAi,
            vertex: Some(VertexTarget { project: "p1".into(), location: "us-central1".into() }),
            ..Channel::default()
        };
        let request: ChatRequest =
            crate::dialect::openai::parse_request(br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#)
                .unwrap();
        let upstream =
            build_upstream_request(&channel, "https://x/v1/", &ApiKey("ya29.t".into()), &request, "gemini-2.5-flash");
        assert_eq!(
            upstream.url,
            "https://x/v1/projects/p1/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"
        );
        assert!(upstream.headers.contains(&("authorization".into(), "Bearer ya29.t".into())));
        assert!(!upstream.headers.iter().any(|(n, _)| n == "x-goog-api-key"));
        assert!(upstream.body.get("contents").is_some());
        assert!(
            upstream_url(&channel, "https://x", "projects/q/locations/l/endpoints/9", true)
                .ends_with("/v1/projects/q/locations/l/endpoints/9:streamGenerateContent?alt=sse")
        );
    }
}
