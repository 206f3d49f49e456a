//! The requests real coding agents send (recorded once from Claude Code into
//! e2e/clients/fixtures), replayed against the relay: an Anthropic upstream receives them
//! byte-for-byte apart from the model and credentials, beta headers included; other providers
//! get a translation that neither refuses them nor loses their system-role messages.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use common::{ADMIN_KEY, Harness, channel, read_sse};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../e2e/clients/fixtures/claude-code").join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn providers() -> String {
    channel("a", "anthropic", 0, "[{name: claude, upstreamModel: claude-up}]", "")
        + &channel("o", "openai", 0, "[{name: via-openai, upstreamModel: gpt-up}]", "")
        + &channel("g", "gemini", 0, "[{name: via-gemini, upstreamModel: gem-up}]", "")
}

/// Sends a recorded request as Claude Code did (path with `?beta=true`, its beta headers), with
/// the model replaced; returns the response.
async fn replay(h: &Harness, recorded: &Value, model: &str) -> reqwest::Response {
    let mut body = recorded["body"].clone();
    body["model"] = Value::from(model);
    let mut request =
        h.http.post(format!("{}{}", h.base, recorded["path"].as_str().unwrap())).header("x-api-key", ADMIN_KEY);
    for name in ["anthropic-beta", "anthropic-version", "x-app", "user-agent"] {
        if let Some(value) = recorded["headers"].get(name).and_then(Value::as_str) {
            request = request.header(name, value);
        }
    }
    request.json(&body).send().await.unwrap()
}

#[tokio::test]
async fn an_anthropic_upstream_gets_claude_codes_requests_as_sent() {
    let h = Harness::start(&providers()).await;
    for name in [
        "02_plain_default_model_opus48.json",
        "11_tool_bash_turn2_tool_result.json",
        "12_tool_thinking_turn2_signature_echo.json",
    ] {
        let recorded = fixture(name);
        assert!(recorded["path"].as_str().unwrap().ends_with("?beta=true"));
        let response = replay(&h, &recorded, "claude").await;
        assert_eq!(response.status(), 200, "{name}");
        let (events, _) = read_sse(response).await;
        assert!(events.iter().any(|e| e.contains("message_stop")), "{name}: {events:?}");

        let upstream = h.upstream_chat_requests().await.pop().unwrap();
        let mut expected = recorded["body"].clone();
        expected["model"] = Value::from("claude-up");
        assert_eq!(upstream["body"], expected, "{name}: the body must reach the upstream as sent");
        assert_eq!(upstream["headers"]["anthropic-beta"], recorded["headers"]["anthropic-beta"], "{name}");
        assert_eq!(upstream["headers"]["x-api-key"], "sk-upstream-1", "{name}: our credentials, not the client's");
    }
}

#[tokio::test]
async fn other_providers_get_a_translation_with_the_system_role_messages_folded_in() {
    let h = Harness::start(&providers()).await;
    let recorded = fixture("02_plain_default_model_opus48.json");
    let note = recorded["body"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "system")
        .map(|m| m["content"].as_str().unwrap().to_string())
        .expect("the fixture has a system-role message");
    for model in ["via-openai", "via-gemini"] {
        let response = replay(&h, &recorded, model).await;
        assert_eq!(response.status(), 200, "{model}");
        let (events, _) = read_sse(response).await;
        assert!(events.iter().any(|e| e.contains("message_stop")), "{model}: {events:?}");
        let upstream = h.upstream_chat_requests().await.pop().unwrap();
        let sent = upstream["body"].to_string();
        assert!(sent.contains(&note[..40]), "{model}: the system-role message is folded into the instructions");
        assert!(!sent.contains("context_management") && !sent.contains("cache_control"), "{model}");
    }
    let openai = &h.upstream_chat_requests().await[0]["body"];
    assert_eq!(openai["reasoning_effort"], "high", "output_config.effort maps to the reasoning effort");
}

#[tokio::test]
async fn count_tokens_asks_an_anthropic_upstream_and_counts_locally_for_others() {
    let h = Harness::start(&providers()).await;
    let recorded = fixture("11_tool_bash_turn2_tool_result.json");
    let mut body = recorded["body"].clone();
    let body = body.as_object_mut().unwrap();
    for field in ["stream", "max_tokens", "metadata", "thinking", "context_management", "output_config"] {
        body.remove(field);
    }
    let count = |model: &str| {
        let mut body = Value::Object(body.clone());
        body["model"] = Value::from(model);
        h.http
            .post(format!("{}/v1/messages/count_tokens?beta=true", h.base))
            .header("x-api-key", ADMIN_KEY)
            .header("anthropic-beta", recorded["headers"]["anthropic-beta"].as_str().unwrap())
            .json(&body)
            .send()
    };

    let anthropic = count("claude").await.unwrap();
    assert_eq!(anthropic.status(), 200);
    let counted = anthropic.json::<Value>().await.unwrap()["input_tokens"].as_u64().unwrap();
    let upstream = h.upstream_requests().await.pop().unwrap();
    assert_eq!(upstream["path"], "/v1/messages/count_tokens");
    let mut expected = Value::Object(body.clone());
    expected["model"] = Value::from("claude-up");
    assert_eq!(upstream["body"], expected, "the count request reaches Anthropic as sent");
    assert!(counted > 1000, "Claude Code's prompt is long: {counted}");

    let local = count("via-openai").await.unwrap();
    assert_eq!(local.status(), 200);
    let local = local.json::<Value>().await.unwrap()["input_tokens"].as_u64().unwrap();
    assert!(local > 1000, "{local}");
    assert_eq!(h.upstream_requests().await.len(), 1, "a local count calls no upstream");

    let unknown = count("nope").await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.json::<Value>().await.unwrap()["error"]["type"], "not_found_error");
    let logs = h.logs().await;
    assert!(logs.iter().filter(|l| l.endpoint == "count_tokens").all(|l| l.cost_micros == 0));
    assert_eq!(logs.iter().filter(|l| l.endpoint == "count_tokens").count(), 3);
}
