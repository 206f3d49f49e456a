//! Every ingress dialect against every provider dialect through the real mock, and errors in
//! the caller's own dialect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{ADMIN_KEY, Harness, channel, read_sse};
use oblivious_relay::RelayConfig;
use serde_json::{Value, json};

fn all_providers() -> String {
    channel("o", "openai", 0, "[{name: gpt}]", "")
        + &channel("a", "anthropic", 0, "[{name: claude}]", "")
        + &channel("g", "gemini", 0, "[{name: gem}]", "")
}

async fn openai_text(h: &Harness, model: &str) -> String {
    let answer: Value = h.chat(model).await.json().await.unwrap();
    answer["choices"][0]["message"]["content"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn openai_clients_reach_every_provider() {
    let h = Harness::start(&all_providers()).await;
    for model in ["gpt", "claude", "gem"] {
        assert!(openai_text(&h, model).await.starts_with("Mock"), "{model}");
    }
    let paths: Vec<String> =
        h.upstream_chat_requests().await.iter().map(|r| r["path"].as_str().unwrap().to_string()).collect();
    assert_eq!(paths, ["/v1/chat/completions", "/v1/messages", "/v1beta/models/gem:generateContent"]);
}

#[tokio::test]
async fn anthropic_clients_reach_every_provider_streaming() {
    let h = Harness::start(&all_providers()).await;
    for model in ["gpt", "claude", "gem"] {
        let body = json!({"model": model, "max_tokens": 100, "stream": true, "system": "be brief", "messages": [{"role": "user", "content": "hi"}]});
        let response = h
            .http
            .post(format!("{}/v1/messages", h.base))
            .header("x-api-key", ADMIN_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{model}");
        let (datas, clean) = read_sse(response).await;
        assert!(clean);
        let events: Vec<Value> = datas.iter().map(|d| serde_json::from_str(d).unwrap()).collect();
        assert_eq!(events.first().unwrap()["type"], "message_start", "{model}");
        assert_eq!(events.last().unwrap()["type"], "message_stop", "{model}");
        let text: String = events.iter().filter_map(|e| e["delta"]["text"].as_str()).collect();
        assert!(text.starts_with("Mock"), "{model}: {text}");
        let ids: Vec<&Value> = events.iter().filter_map(|e| e.get("message").map(|m| &m["id"])).collect();
        assert!(ids.iter().all(|id| id.as_str().unwrap().starts_with("msg_")));
    }
    let system_seen = h.upstream_chat_requests().await;
    assert_eq!(system_seen[0]["body"]["messages"][0]["role"], "system", "the system prompt reaches an OpenAI upstream");
}

#[tokio::test]
async fn gemini_clients_stream_as_sse_or_as_a_json_array() {
    let h = Harness::start(&all_providers()).await;
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    for model in ["gpt", "claude", "gem"] {
        let sse = h
            .http
            .post(format!("{}/v1beta/models/{model}:streamGenerateContent?alt=sse", h.base))
            .header("x-goog-api-key", ADMIN_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(sse.status(), 200);
        let (datas, _) = read_sse(sse).await;
        let text: String = datas
            .iter()
            .map(|d| serde_json::from_str::<Value>(d).unwrap())
            .filter_map(|c| c["candidates"][0]["content"]["parts"][0]["text"].as_str().map(str::to_string))
            .collect();
        assert!(text.starts_with("Mock"), "{model}: {text}");

        let array = h
            .http
            .post(format!("{}/v1beta/models/{model}:streamGenerateContent?key={ADMIN_KEY}", h.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(array.status(), 200);
        let items: Vec<Value> = serde_json::from_slice(&array.bytes().await.unwrap()).expect("a JSON array");
        assert!(items.last().unwrap()["usageMetadata"]["totalTokenCount"].as_u64().unwrap() > 0);
    }
}

#[tokio::test]
async fn errors_come_back_in_the_callers_dialect() {
    let h = Harness::start_with(&all_providers(), RelayConfig { max_body_bytes: 1024, ..RelayConfig::default() }).await;
    let url = |p: &str| format!("{}{p}", h.base);
    // Unknown model.
    let openai: Value = h.chat("nope").await.json().await.unwrap();
    assert_eq!(openai["error"]["code"], "model_not_found");
    let anthropic = h
        .http
        .post(url("/v1/messages"))
        .header("x-api-key", ADMIN_KEY)
        .json(&json!({"model": "nope", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(anthropic.status(), 404);
    assert_eq!(anthropic.json::<Value>().await.unwrap()["error"]["type"], "not_found_error");
    let gemini = h
        .http
        .post(url("/v1beta/models/nope:generateContent"))
        .header("x-goog-api-key", ADMIN_KEY)
        .json(&json!({"contents": [{"parts": [{"text": "x"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(gemini.status(), 404);
    assert_eq!(gemini.json::<Value>().await.unwrap()["error"]["status"], "NOT_FOUND");
    // Missing and wrong keys.
    let missing = h.http.post(url("/v1/chat/completions")).json(&json!({})).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    let wrong = h.http.post(url("/v1/messages")).header("x-api-key", "sk-wrong").json(&json!({})).send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(wrong.json::<Value>().await.unwrap()["error"]["type"], "authentication_error");
    // Malformed JSON and a missing field.
    let bad = h.http.post(url("/v1/chat/completions")).bearer_auth(ADMIN_KEY).body("{not json").send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let missing_field: Value = h.post("/v1/chat/completions", json!({"model": "gpt"})).await.json().await.unwrap();
    assert_eq!(missing_field["error"]["param"], "messages");
    // Too large.
    let big = "x".repeat(4096);
    let large =
        h.post("/v1/chat/completions", json!({"model": "gpt", "messages": [{"role": "user", "content": big}]})).await;
    assert_eq!(large.status(), 413);
    assert_eq!(large.json::<Value>().await.unwrap()["error"]["type"], "invalid_request_error");
    let large_gemini = h
        .http
        .post(url("/v1beta/models/gem:generateContent"))
        .header("x-goog-api-key", ADMIN_KEY)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(large_gemini.status(), 413);
    assert_eq!(large_gemini.json::<Value>().await.unwrap()["error"]["code"], 413);
}

#[tokio::test]
async fn a_key_limited_to_some_models_gets_404_for_others_and_sees_only_its_models() {
    let h = Harness::start(&all_providers()).await;
    let created = h
        .relay
        .runtime
        .store
        .create_api_key(oblivious_store::NewApiKey {
            name: "limited".into(),
            models: vec!["gpt".into()],
            expires_at: None,
            is_admin: false,
            ..oblivious_store::NewApiKey::default()
        })
        .await
        .unwrap();
    let call = |model: &str| {
        h.http
            .post(format!("{}/v1/chat/completions", h.base))
            .bearer_auth(&created.secret)
            .json(&json!({"model": model, "messages": [{"role": "user", "content": "x"}]}))
            .send()
    };
    assert_eq!(call("gpt").await.unwrap().status(), 200);
    let denied = call("claude").await.unwrap();
    assert_eq!(denied.status(), 404);
    let listed: Value = h
        .http
        .get(format!("{}/v1/models", h.base))
        .bearer_auth(&created.secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = listed["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["gpt"]);
    let log = &h.logs().await[0];
    assert_eq!(log.key_id, Some(created.record.id));
}

#[tokio::test]
async fn lane_headers_are_carried_to_the_upstream_and_keys_rotate() {
    let yaml = channel("o", "openai", 0, "[{name: gpt}]", "").replace("key: key}", "key: keys}");
    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: up2}\nstringData: {keys: \"k-one\\nk-two\"}\n---\n";
    let h = Harness::start(&(secret.to_string() + &yaml.replace("name: up,", "name: up2,"))).await;
    for _ in 0..2 {
        let response = h
            .http
            .post(format!("{}/v1/chat/completions", h.base))
            .bearer_auth(ADMIN_KEY)
            .header("x-oblivious-lane", "gray")
            .header("baggage", "lane=gray,user=7")
            .json(&json!({"model": "gpt", "messages": [{"role": "user", "content": "x"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().contains_key("x-request-id"));
    }
    let upstream = h.upstream_chat_requests().await;
    assert_eq!(upstream[0]["headers"]["x-oblivious-lane"], "gray");
    // Baggage (here naming a user) and trace context go upstream only to a channel that asks.
    assert_eq!(upstream[0]["headers"].get("baggage"), None);
    assert_eq!(upstream[0]["headers"].get("traceparent"), None);
    let auths: Vec<&str> = upstream.iter().map(|r| r["headers"]["authorization"].as_str().unwrap()).collect();
    assert_eq!(auths, ["Bearer k-one", "Bearer k-two"]);
    assert_eq!(h.logs().await[0].lane.as_deref(), Some("gray"));
    let metrics = h.http.get(format!("{}/metrics", h.base)).send().await.unwrap().text().await.unwrap();
    let gray =
        metrics.lines().find(|l| l.starts_with("oblivious_relay_requests_total") && l.contains(r#"lane="gray""#));
    assert!(
        gray.is_some_and(|line| line.ends_with(" 2")),
        "the requests metric counts the lane's requests:\n{metrics}"
    );
}

#[tokio::test]
async fn a_config_swap_does_not_interrupt_a_stream_in_flight() {
    let h =
        Harness::start(&channel("o", "openai", 0, "[{name: slow, upstreamModel: \"s@tps=40,words=20\"}]", "")).await;
    let response = h
        .post(
            "/v1/chat/completions",
            json!({"model": "slow", "stream": true, "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    h.install(&channel("o2", "openai", 0, "[{name: other}]", ""));
    let (datas, clean) = read_sse(response).await;
    assert!(clean);
    assert_eq!(datas.last().map(String::as_str), Some("[DONE]"));
    assert_eq!(h.chat("slow").await.status(), 404, "the new config is active for new requests");
}

#[tokio::test]
async fn every_v1_route_refuses_a_bad_key_in_its_dialect_and_records_the_refusal() {
    let h = Harness::start(&all_providers()).await;
    let url = |path: &str| format!("{}{path}", h.base);
    let refusals = [
        (h.http.get(url("/v1/models")).bearer_auth("sk-wrong"), "openai", "models"),
        (h.http.get(url("/v1/models")).header("anthropic-version", "2023-06-01"), "anthropic", "models"),
        (h.http.get(url("/v1beta/models?key=sk-wrong")), "gemini", "models"),
        (h.http.get(url("/v1beta/models/gem")), "gemini", "models"),
        (h.http.post(url("/v1/embeddings")).bearer_auth("sk-wrong").json(&json!({})), "openai", "embeddings"),
        (h.http.post(url("/v1beta/models/gem:generateContent?key=sk-wrong")).json(&json!({})), "gemini", "chat"),
    ];
    let mut ids = Vec::new();
    for (request, dialect, endpoint) in refusals {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{dialect} {endpoint}");
        let id = response.headers()["x-request-id"].to_str().unwrap().to_string();
        let body: Value = response.json().await.unwrap();
        match dialect {
            "anthropic" => assert_eq!(body["error"]["type"], "authentication_error"),
            "gemini" => assert_eq!(body["error"]["status"], "UNAUTHENTICATED", "{body}"),
            _ => assert_eq!(body["error"]["code"], "invalid_api_key", "{body}"),
        }
        ids.push((id, dialect, endpoint));
    }
    let logs = h.logs().await;
    for (id, dialect, endpoint) in ids {
        let log = logs.iter().find(|l| l.id.to_string() == id).unwrap_or_else(|| panic!("no record for {endpoint}"));
        assert_eq!((log.status, log.ingress.as_str(), log.endpoint.as_str()), (401, dialect, endpoint));
    }
}

#[tokio::test]
async fn rerank_goes_to_openai_family_channels_with_failover_and_is_logged_with_its_tokens() {
    let yaml = channel("broken", "openai", 10, "[{name: rr, upstreamModel: \"rr@status=503\"}]", "")
        + &channel("jina", "openai", 0, "[{name: rr, upstreamModel: jina-reranker-v2}]", "")
        + &channel("a", "anthropic", 0, "[{name: claude}]", "");
    let h = Harness::start(&yaml).await;
    let body = json!({"model": "rr", "query": "refund days", "top_n": 2,
        "documents": ["Shipping is free", "Refunds take 14 days", {"text": "A refund within days"}]});
    let response = h.post("/v1/rerank", body).await;
    let status = response.status();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["model"], "rr", "the public name");
    let order: Vec<u64> = answer["results"].as_array().unwrap().iter().map(|r| r["index"].as_u64().unwrap()).collect();
    assert_eq!(order, [2, 1], "best first, top_n kept");
    let sent = h.upstream_chat_requests().await;
    let reranks: Vec<&Value> = sent.iter().filter(|r| r["path"] == "/v1/rerank").collect();
    assert_eq!(reranks.len(), 2, "the failing channel, then the next");
    assert_eq!(reranks[1]["body"]["model"], "jina-reranker-v2");
    let logs = h.logs().await;
    let log = logs.iter().find(|l| l.endpoint == "rerank").unwrap();
    assert_eq!((log.status, log.ingress.as_str(), log.model.as_str()), (200, "openai", "rr"));
    assert_eq!(log.input_tokens, answer["usage"]["total_tokens"].as_u64().unwrap() as i64, "the upstream's count");

    // Bad input is refused before any channel is tried, naming the field; a model no
    // OpenAI-family channel serves is not found.
    let before = h.upstream_chat_requests().await.len();
    for (body, param) in [
        (json!({"model": "rr", "documents": ["a"]}), "query"),
        (json!({"model": "rr", "query": "q", "documents": []}), "documents"),
        (json!({"model": "rr", "query": "q", "documents": [7]}), "documents"),
        (json!({"model": "rr", "query": "q", "documents": ["a"], "top_n": 0}), "top_n"),
    ] {
        let response = h.post("/v1/rerank", body).await;
        assert_eq!(response.status(), 400);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["param"], param, "{error}");
    }
    let response = h.post("/v1/rerank", json!({"model": "claude", "query": "q", "documents": ["a"]})).await;
    assert_eq!(response.status(), 404);
    assert_eq!(h.upstream_chat_requests().await.len(), before, "nothing reached an upstream");
}
