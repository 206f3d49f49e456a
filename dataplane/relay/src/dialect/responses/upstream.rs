//! The pass-through request for an OpenAI or Azure channel (both serve the Responses API): the
//! client's body with the model replaced (fidelity principle). Only `previous_response_id`
//! leaves the body: the relay stores responses and has already put the conversation it names
//! into `input`, so the chain continues on whichever channel serves the request.

use oblivious_config::{ApiKey, Channel, Provider};
use serde_json::{Map, Value, json};

use crate::dialect::UpstreamRequest;
use crate::ir::Dialect;

/// The request for a Responses-capable channel, or `None` when the channel speaks only chat
/// completions (OpenAI-compatible servers) or the client did not speak Responses.
pub fn build_upstream_request(
    channel: &Channel,
    base_url: &str,
    key: &ApiKey,
    body: &Map<String, Value>,
    upstream_model: &str,
) -> Option<UpstreamRequest> {
    let (url, auth) = match channel.provider {
        Provider::Openai => {
            (format!("{base_url}/responses"), ("authorization".to_string(), format!("Bearer {}", key.expose())))
        }
        // Azure's v1 API takes the deployment as the model, like OpenAI's.
        Provider::AzureOpenai => {
            (format!("{base_url}/openai/v1/responses"), ("api-key".to_string(), key.expose().to_string()))
        }
        Provider::OpenaiCompatible | Provider::Anthropic | Provider::Gemini | Provider::VertexAi => return None,
    };
    let mut headers = vec![auth];
    headers.extend(channel.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut body = body.clone();
    body.insert("model".into(), json!(upstream_model));
    body.remove("previous_response_id");
    Some(UpstreamRequest { url, headers, body: Value::Object(body), dialect: Dialect::Responses })
}
