//! Google Vertex AI channels: the Gemini wire format at a project-scoped URL, with bearer tokens
//! exchanged for the channel's service account at the mock's token endpoint.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Harness, channel, read_sse};
use oblivious_mock_upstream::vertex::test_service_account;
use serde_json::{Value, json};

const PRICING: &str = "apiVersion: oblivious.dev/v1alpha1\nkind: ModelPricing\nmetadata: {name: p}\nspec:\n  \
                       currency: USD\n  models: [{name: m, input: \"1000\", output: \"2000\"}]\n---\n";

/// A Vertex channel for model `m` whose service account is `email` (the mock scripts its token
/// endpoint by the email), plus an OpenAI backup channel one tier lower.
fn vertex_yaml(h: &Harness, email: &str) -> String {
    let mock = h.mock.base_url();
    let account = serde_json::to_string(&test_service_account(email, &format!("{mock}/token"))).unwrap();
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: sa}}\nstringData: {{json: {account}}}\n---\n\
         apiVersion: oblivious.dev/v1alpha1\nkind: Channel\nmetadata: {{name: vertex}}\nspec:\n  provider: vertex-ai\n  \
         baseUrl: {mock}\n  apiKeySecretRef: {{name: sa, key: json}}\n  priority: 10\n  \
         vertex: {{project: my-project, location: us-central1}}\n  models: [{{name: m, upstreamModel: gemini-2.5-flash}}]\n---\n\
         {PRICING}{}",
        channel("backup", "openai", 0, "[{name: m, upstreamModel: backup-model}]", "")
    )
}

async fn start(email: &str) -> Harness {
    let h = Harness::start("").await;
    h.install(&vertex_yaml(&h, email));
    h
}

async fn token_requests(h: &Harness) -> Vec<Value> {
    h.upstream_requests().await.into_iter().filter(|r| r["path"] == "/token").collect()
}

async fn model_requests(h: &Harness) -> Vec<Value> {
    h.upstream_requests()
        .await
        .into_iter()
        .filter(|r| r["path"].as_str().unwrap().starts_with("/v1/projects/"))
        .collect()
}

#[tokio::test]
async fn an_openai_chat_goes_to_the_vertex_url_with_a_bearer_token_and_records_exact_usage_and_cost() {
    let h = start("relay@my-project.iam.gserviceaccount.com").await;
    let response = h.chat("m").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert!(body["choices"][0]["message"]["content"].as_str().unwrap().starts_with("Mock"));

    let upstream = model_requests(&h).await;
    assert_eq!(upstream.len(), 1);
    assert_eq!(
        upstream[0]["path"],
        "/v1/projects/my-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"
    );
    let auth = upstream[0]["headers"]["authorization"].as_str().unwrap();
    assert!(auth.starts_with("Bearer ya29.mock-"), "{auth}");
    assert!(upstream[0]["headers"].get("x-goog-api-key").is_none());
    assert!(upstream[0]["body"]["contents"].is_array(), "the Gemini body");

    let log = &h.logs().await[0];
    assert_eq!(
        (log.channel.as_deref(), log.provider.as_deref(), log.status),
        (Some("default/vertex"), Some("vertex-ai"), 200)
    );
    assert!(!log.usage_estimated, "usage is the upstream's usageMetadata");
    assert_eq!(log.input_tokens, body["usage"]["prompt_tokens"].as_i64().unwrap());
    assert_eq!(log.output_tokens, body["usage"]["completion_tokens"].as_i64().unwrap());
    assert!(log.input_tokens > 0 && log.output_tokens > 0);
    // 1000 and 2000 per 1M tokens are 1000 and 2000 micro-units per token.
    assert_eq!(log.cost_micros, log.input_tokens * 1000 + log.output_tokens * 2000);
}

#[tokio::test]
async fn a_stream_through_vertex_uses_stream_generate_content_with_sse_and_counts_usage() {
    let h = start("relay@my-project.iam.gserviceaccount.com").await;
    let body = json!({"model": "m", "stream": true, "stream_options": {"include_usage": true},
                      "messages": [{"role": "user", "content": "hi"}]});
    let response = h.post("/v1/chat/completions", body).await;
    assert_eq!(response.status(), 200);
    let (datas, clean) = read_sse(response).await;
    assert!(clean);
    assert_eq!(datas.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> =
        datas.iter().filter(|d| *d != "[DONE]").map(|d| serde_json::from_str(d).unwrap()).collect();
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert!(text.starts_with("Mock"), "{text}");
    let usage = &chunks.last().unwrap()["usage"];

    let upstream = model_requests(&h).await;
    assert_eq!(
        upstream[0]["path"],
        "/v1/projects/my-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:streamGenerateContent"
    );
    assert_eq!(upstream[0]["query"], "alt=sse");
    assert!(upstream[0]["headers"]["authorization"].as_str().unwrap().starts_with("Bearer ya29.mock-"));

    let log = &h.logs().await[0];
    assert!(log.stream && !log.usage_estimated);
    assert_eq!(log.input_tokens, usage["prompt_tokens"].as_i64().unwrap());
    assert_eq!(log.output_tokens, usage["completion_tokens"].as_i64().unwrap());
    assert_eq!(log.cost_micros, log.input_tokens * 1000 + log.output_tokens * 2000);
}

#[tokio::test]
async fn the_token_is_exchanged_once_and_reused_for_later_requests() {
    let h = start("relay@my-project.iam.gserviceaccount.com").await;
    for _ in 0..3 {
        assert_eq!(h.chat("m").await.status(), 200);
    }
    let tokens = token_requests(&h).await;
    assert_eq!(tokens.len(), 1, "one exchange for three requests");
    let form = tokens[0]["query"].as_str().unwrap();
    assert!(form.contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"), "{form}");
    assert!(form.contains("assertion=ey"), "{form}");
    let auths: Vec<String> =
        model_requests(&h).await.iter().map(|r| r["headers"]["authorization"].as_str().unwrap().to_string()).collect();
    assert_eq!(auths.len(), 3);
    assert!(auths.iter().all(|a| a == &auths[0]), "the same token every time: {auths:?}");
}

#[tokio::test]
async fn concurrent_first_requests_share_one_exchange() {
    let h = start("relay@my-project.iam.gserviceaccount.com").await;
    let answers = futures_util::future::join_all((0..4).map(|_| h.chat("m"))).await;
    assert!(answers.iter().all(|a| a.status() == 200));
    assert_eq!(token_requests(&h).await.len(), 1, "one refresh at a time");
}

#[tokio::test]
async fn a_token_about_to_expire_is_refreshed_before_use() {
    // The mock's tokens for this account live 60 s: inside the refresh margin, so each request
    // needs a fresh one.
    let h = start("expires-in-60@my-project.iam.gserviceaccount.com").await;
    assert_eq!(h.chat("m").await.status(), 200);
    assert_eq!(h.chat("m").await.status(), 200);
    assert_eq!(token_requests(&h).await.len(), 2);
    let auths: Vec<String> =
        model_requests(&h).await.iter().map(|r| r["headers"]["authorization"].as_str().unwrap().to_string()).collect();
    assert_ne!(auths[0], auths[1], "the second request carries the new token");
}

#[tokio::test]
async fn a_failing_token_endpoint_fails_over_before_the_first_byte() {
    let h = start("token-fails@my-project.iam.gserviceaccount.com").await;
    let response = h.chat("m").await;
    assert_eq!(response.status(), 200);
    let log = &h.logs().await[0];
    assert_eq!((log.attempts, log.channel.as_deref()), (2, Some("default/backup")));
    assert!(model_requests(&h).await.is_empty(), "no model call without a token");
    assert_eq!(token_requests(&h).await.len(), 1);

    // A stream fails over the same way: the client sees only the backup's answer.
    let body = json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let (datas, clean) = read_sse(h.post("/v1/chat/completions", body).await).await;
    assert!(clean && datas.last().unwrap() == "[DONE]");
    assert_eq!(h.logs().await[0].channel.as_deref(), Some("default/backup"));
}

#[tokio::test]
async fn when_every_channel_fails_the_client_gets_its_own_dialects_error() {
    let h = Harness::start("").await;
    let yaml = vertex_yaml(&h, "token-fails@my-project.iam.gserviceaccount.com");
    let (vertex_only, _) = yaml.split_once(PRICING).unwrap();
    h.install(vertex_only);
    let response = h.chat("m").await;
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("token exchange"), "{body}");
    assert_eq!(h.logs().await[0].error_class.as_deref(), Some("token_exchange"));

    let gemini = h
        .http
        .post(format!("{}/v1beta/models/m:generateContent", h.base))
        .header("x-goog-api-key", common::ADMIN_KEY)
        .json(&json!({"contents": [{"parts": [{"text": "hi"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(gemini.status(), 502);
    let body: Value = gemini.json().await.unwrap();
    assert!(body["error"]["status"].is_string(), "a Gemini client gets a Gemini error: {body}");
}

#[tokio::test]
async fn the_fake_token_endpoint_refuses_an_assertion_whose_signature_does_not_match() {
    let h = Harness::start("").await;
    h.install(&vertex_yaml(&h, "relay@my-project.iam.gserviceaccount.com"));
    assert_eq!(h.chat("m").await.status(), 200);
    let form = token_requests(&h).await[0]["query"].as_str().unwrap().to_string();
    let url = format!("{}/token", h.mock.base_url());
    let post =
        |body: String| h.http.post(&url).header("content-type", "application/x-www-form-urlencoded").body(body).send();
    assert_eq!(post(form.clone()).await.unwrap().status(), 200, "the relay's own assertion is accepted");
    // Change one character inside the signature (not its last, whose spare bits base64 ignores).
    let at = form.rfind('.').unwrap() + 10;
    let swapped = if &form[at..=at] == "A" { "B" } else { "A" };
    let tampered = format!("{}{swapped}{}", &form[..at], &form[at + 1..]);
    let refused = post(tampered).await.unwrap();
    assert_eq!(refused.status(), 400);
    assert_eq!(refused.json::<Value>().await.unwrap()["error"], "invalid_grant");
}
