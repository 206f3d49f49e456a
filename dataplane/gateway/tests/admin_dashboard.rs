//! The admin dashboard's API over real HTTP, on SQLite and on PostgreSQL: series over time from
//! traffic that went through the relay and the mock upstream, channel health from the shared
//! request log, who may see them, and how bad parameters are refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use oblivious_gateway::{Gateway, GatewayConfig};
use oblivious_relay::{Relay, RelayConfig};
use oblivious_runtime::{Runtime, RuntimeConfig};
use oblivious_store::{RequestLog, Store};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

const BOOTSTRAP: &str = "sk-dashboard-test-bootstrap";

const MANIFESTS: &str = "apiVersion: v1\nkind: Secret\nmetadata: {name: up}\nstringData: {key: sk-upstream}\n---\n\
apiVersion: oblivious.dev/v1alpha1\nkind: Channel\nmetadata: {name: c}\nspec:\n  provider: openai\n  baseUrl: builtin://mock-upstream/v1\n  \
apiKeySecretRef: {name: up, key: key}\n  models: [{name: m, upstreamModel: \"u@words=5\"}, {name: n, upstreamModel: \"u@words=3\"}]\n---\n\
apiVersion: oblivious.dev/v1alpha1\nkind: ModelPricing\nmetadata: {name: p}\nspec:\n  currency: EUR\n  models: [{name: m, input: \"1\", output: \"2\"}, {name: n, input: \"1\", output: \"1\"}]\n";

struct Api {
    base: String,
    http: reqwest::Client,
    store: Store,
    relay: Arc<Relay>,
    _mock: oblivious_mock_upstream::MockServer,
}

impl Api {
    async fn start(store: Store) -> Api {
        let mock = oblivious_mock_upstream::spawn(oblivious_mock_upstream::MockConfig::default()).await.unwrap();
        let config = RelayConfig { builtin_mock_base: Some(mock.base_url()), ..RelayConfig::default() };
        let runtime = Runtime::local(
            RuntimeConfig { bootstrap_key: Some(BOOTSTRAP.into()), ..Default::default() },
            store.clone(),
        );
        let relay = Relay::new(config, runtime.clone());
        let mut manifests = oblivious_crds::Manifests::default();
        let mut errors = Vec::new();
        oblivious_crds::parse_documents(Path::new("t.yaml"), MANIFESTS, &mut manifests, &mut errors);
        relay.install(oblivious_compile::compile(&manifests).unwrap());
        let gateway = Arc::new(Gateway::new(runtime, GatewayConfig::with_secret(vec![9; 32])));
        let app = oblivious_relay::app(relay.clone()).merge(oblivious_gateway::router(gateway));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Api { base, http: reqwest::Client::new(), store, relay, _mock: mock }
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let response = self.http.get(format!("{}{path}", self.base)).bearer_auth(token).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A chat completion through the relay; its status.
    async fn complete(&self, model: &str) -> StatusCode {
        self.http
            .post(format!("{}/v1/chat/completions", self.base))
            .bearer_auth(BOOTSTRAP)
            .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap()
            .status()
    }

    /// A signed-in user's access token (the first account is an administrator).
    async fn sign_up(&self, name: &str) -> String {
        let body =
            json!({"username": name, "email": format!("{name}@example.com"), "password": "correct horse battery"});
        let response = self.http.post(format!("{}/api/v1/auth/register", self.base)).json(&body).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let login: Value = self
            .http
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"username": name, "password": "correct horse battery"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        login["access_token"].as_str().unwrap().to_string()
    }
}

oblivious_store::both_backends!(
    start = Api::start;
    relay_traffic_shows_in_the_series_per_model_with_its_failure_and_cost,
    a_split_by_user_names_the_users_and_folds_the_rest,
    channel_health_has_both_windows_latency_and_the_latest_failure,
    only_administrators_see_the_dashboard,
    bad_parameters_are_refused_naming_the_parameter,
);

/// A count summed over a series' buckets.
fn sum(series: &Value, field: &str) -> i64 {
    series["points"].as_array().unwrap().iter().map(|p| p[field].as_i64().unwrap()).sum()
}

async fn relay_traffic_shows_in_the_series_per_model_with_its_failure_and_cost(api: Api) {
    for model in ["m", "m", "m", "n", "n"] {
        assert_eq!(api.complete(model).await, StatusCode::OK);
    }
    assert_eq!(api.complete("nobody-serves-this").await, StatusCode::NOT_FOUND);
    api.relay.logs.flush().await;

    let from = oblivious_store::now_ms() - 86_400_000;
    let (status, answer) = api.get(&format!("/api/v1/admin/series?from={from}&split=model"), BOOTSTRAP).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!((answer["step"].as_str(), answer["split"].as_str()), (Some("hour"), Some("model")));
    assert_eq!(answer["currency"], "EUR");
    let buckets = answer["buckets"].as_array().unwrap();
    assert!((24..=25).contains(&buckets.len()), "a day of hours: {}", buckets.len());
    assert_eq!(buckets[0].as_i64().unwrap() % 3_600_000, 0, "buckets start on whole hours");
    assert_eq!(answer["summary"]["requests"], 6);
    assert_eq!(answer["summary"]["errors"], 1);
    assert!(answer["summary"]["latency_p50_ms"].is_i64());
    assert_eq!((sum(&answer["total"], "requests"), sum(&answer["total"], "errors")), (6, 1));
    let series = answer["series"].as_array().unwrap();
    let keys: Vec<(&str, i64)> =
        series.iter().map(|s| (s["key"].as_str().unwrap(), s["requests"].as_i64().unwrap())).collect();
    assert_eq!(keys, [("m", 3), ("n", 2), ("nobody-serves-this", 1)]);
    assert_eq!((sum(&series[0], "errors"), sum(&series[2], "errors")), (0, 1));
    let points = |s: &Value| s["points"].as_array().unwrap().clone();
    assert!(points(&series[2]).iter().all(|p| p["latency_p50_ms"].is_null()), "a refusal has no answer latency");
    let costs: Vec<String> = points(&series[0]).iter().map(|p| p["cost"].as_str().unwrap().to_string()).collect();
    assert!(costs.iter().all(|c| c.contains('.')), "costs are decimal strings: {costs:?}");
    assert!(costs.iter().any(|c| c.parse::<f64>().unwrap() > 0.0), "the answers cost something: {costs:?}");

    // Without a split there is only the total; a week is daily.
    let week = oblivious_store::now_ms() - 7 * 86_400_000;
    let (_, answer) = api.get(&format!("/api/v1/admin/series?from={week}"), BOOTSTRAP).await;
    assert_eq!((answer["step"].as_str(), answer["series"].as_array().unwrap().len()), (Some("day"), 0));
    assert_eq!(sum(&answer["total"], "requests"), 6);
    let (_, forced) = api.get(&format!("/api/v1/admin/series?from={week}&step=hour"), BOOTSTRAP).await;
    assert!(forced["buckets"].as_array().unwrap().len() >= 168);
}

fn logged(created_at: i64, user_id: Option<Uuid>, channel: Option<&str>, status: i32, latency_ms: i64) -> RequestLog {
    RequestLog {
        id: Uuid::now_v7(),
        created_at,
        key_id: None,
        user_id,
        key_prefix: "sk-obl-abcdefg".into(),
        ingress: "openai".into(),
        endpoint: "chat".into(),
        model: "m".into(),
        upstream_model: None,
        channel: channel.map(Into::into),
        provider: Some("openai".into()),
        status,
        error_class: (status >= 400).then(|| if status == 499 { "client_closed" } else { "upstream_error" }.into()),
        attempts: 1,
        stream: false,
        latency_ms,
        ttft_ms: None,
        input_tokens: 1,
        cached_input_tokens: 0,
        cache_write_tokens: 0,
        output_tokens: 1,
        reasoning_tokens: 0,
        usage_estimated: false,
        cost_micros: 10,
        currency: Some("EUR".into()),
        lane: None,
        route: None,
    }
}

async fn a_split_by_user_names_the_users_and_folds_the_rest(api: Api) {
    let admin = api.sign_up("root").await;
    let _ = api.sign_up("ada").await;
    let (_, users) = api.get("/api/v1/admin/users?q=ada", &admin).await;
    let ada = Uuid::parse_str(users["data"][0]["id"].as_str().unwrap()).unwrap();
    let now = oblivious_store::now_ms();
    let mut rows: Vec<RequestLog> = (0..3).map(|i| logged(now - i, Some(ada), Some("default/c"), 200, 10)).collect();
    rows.extend((0..2).map(|i| logged(now - i, Some(Uuid::now_v7()), Some("default/c"), 200, 10)));
    rows.push(logged(now, None, Some("default/c"), 200, 10));
    api.store.insert_request_logs(&rows).await.unwrap();

    let (status, answer) =
        api.get(&format!("/api/v1/admin/series?from={}&split=user&top=1", now - 3_600_000), &admin).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let series: Vec<(Value, Value, bool, i64)> = answer["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["key"].clone(), s["name"].clone(), s["other"].as_bool().unwrap(), s["requests"].as_i64().unwrap()))
        .collect();
    assert_eq!(series, [(json!(ada.to_string()), json!("ada"), false, 3), (Value::Null, Value::Null, true, 3)]);
}

async fn channel_health_has_both_windows_latency_and_the_latest_failure(api: Api) {
    let now = oblivious_store::now_ms();
    let minute = 60_000;
    let mut rows = Vec::new();
    // Now: 8 answers (10..80 ms), a failure and a cancellation on `default/c`.
    rows.extend((1..=8).map(|i| logged(now - i * 1000, None, Some("default/c"), 200, i * 10)));
    rows.push(logged(now - 2 * minute, None, Some("default/c"), 502, 5));
    rows.push(logged(now - 3 * minute, None, Some("default/c"), 499, 9_000));
    // Two hours ago: two failures; only the 24-hour window sees them.
    rows.push(logged(now - 120 * minute, None, Some("default/c"), 500, 1));
    rows.push(logged(now - 121 * minute, None, Some("default/other"), 429, 1));
    // Yesterday: outside both windows. And a request that reached no channel.
    rows.push(logged(now - 25 * 60 * minute, None, Some("default/gone"), 500, 1));
    rows.push(logged(now, None, None, 404, 1));
    api.store.insert_request_logs(&rows).await.unwrap();

    let (status, answer) = api.get("/api/v1/admin/channels/health", BOOTSTRAP).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let data = answer["data"].as_array().unwrap();
    let names: Vec<&str> = data.iter().map(|c| c["channel"].as_str().unwrap()).collect();
    assert_eq!(names, ["default/c", "default/other"]);
    let c = &data[0];
    assert_eq!((c["last_15m"]["requests"].as_i64(), c["last_15m"]["errors"].as_i64()), (Some(10), Some(1)));
    assert_eq!(c["last_15m"]["success_rate"].as_f64(), Some(0.8889), "8 of the 9 the client waited for");
    assert_eq!(
        (c["last_15m"]["latency_p50_ms"].as_i64(), c["last_15m"]["latency_p99_ms"].as_i64()),
        (Some(40), Some(80))
    );
    assert_eq!((c["last_24h"]["requests"].as_i64(), c["last_24h"]["errors"].as_i64()), (Some(11), Some(2)));
    assert_eq!(c["last_24h"]["success_rate"].as_f64(), Some(0.8));
    assert_eq!(c["last_error"]["status"], 502, "the latest failure, not the cancellation after it");
    assert_eq!(c["last_error"]["error_class"], "upstream_error");
    assert_eq!(c["last_error"]["at"].as_i64(), Some(now - 2 * minute));
    let other = &data[1];
    assert_eq!(other["last_15m"]["requests"], 0);
    assert_eq!(other["last_15m"]["success_rate"], Value::Null);
    assert_eq!(
        (other["last_24h"]["success_rate"].as_f64(), other["last_error"]["status"].as_i64()),
        (Some(0.0), Some(429))
    );
}

async fn only_administrators_see_the_dashboard(api: Api) {
    let admin = api.sign_up("root").await;
    let user = api.sign_up("plain").await;
    for path in ["/api/v1/admin/series", "/api/v1/admin/channels/health"] {
        assert_eq!(api.get(path, &user).await.0, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(api.get(path, &admin).await.0, StatusCode::OK, "{path}");
        assert_eq!(api.get(path, "sk-not-a-key").await.0, StatusCode::UNAUTHORIZED, "{path}");
    }
    let (_, doc) = api.get("/api/v1/openapi.json", &admin).await;
    let series = &doc["paths"]["/api/v1/admin/series"]["get"];
    let parameters: Vec<&str> =
        series["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(parameters, ["from", "to", "step", "split", "top"]);
    assert_eq!(
        series["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/UsageSeries"
    );
    assert!(doc["components"]["schemas"]["ChannelHealth"].is_object());
    assert!(doc["paths"]["/api/v1/admin/channels/health"]["get"].is_object());
}

async fn bad_parameters_are_refused_naming_the_parameter(api: Api) {
    let now = oblivious_store::now_ms();
    let day = 86_400_000;
    for (query, field) in [
        ("step=week".to_string(), "step"),
        ("split=key".to_string(), "split"),
        ("split=model&top=0".to_string(), "top"),
        ("split=model&top=lots".to_string(), "top"),
        (format!("from={now}&to={}", now - 1), "from"),
        (format!("from={}&to={now}", now - 91 * day), "from"),
        (format!("from={}&to={now}&step=hour", now - 30 * day), "step"),
        ("from=yesterday".to_string(), "from"),
    ] {
        let (status, error) = api.get(&format!("/api/v1/admin/series?{query}"), BOOTSTRAP).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {error}");
        assert_eq!(error["error"]["code"], "invalid_request", "{query}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(&format!("{field}:")), "{query}: {message}");
    }
    let (status, _) = api.get(&format!("/api/v1/admin/series?from={}&to={now}", now - 90 * day), BOOTSTRAP).await;
    assert_eq!(status, StatusCode::OK, "90 days are allowed");
}
