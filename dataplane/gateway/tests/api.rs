//! The product API over real HTTP, on SQLite and on PostgreSQL, with the relay and the mock
//! upstream behind it: accounts, tokens, keys, balances, redemption, administration, and the
//! security properties (tampered tokens, refresh-token reuse, cross-user access, throttling).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use oblivious_gateway::{Gateway, GatewayConfig, jwt};
use oblivious_relay::{Relay, RelayConfig};
use oblivious_runtime::{Runtime, RuntimeConfig};
use oblivious_store::Store;
use reqwest::StatusCode;
use serde_json::{Value, json};

const BOOTSTRAP: &str = "sk-gateway-test-bootstrap";

struct Api {
    base: String,
    http: reqwest::Client,
    gateway: Arc<Gateway>,
    relay: Arc<Relay>,
    _mock: oblivious_mock_upstream::MockServer,
}

const MANIFESTS: &str = "apiVersion: v1\nkind: Secret\nmetadata: {name: up}\nstringData: {key: sk-upstream}\n---\n\
apiVersion: oblivious.dev/v1alpha1\nkind: Channel\nmetadata: {name: c}\nspec:\n  provider: openai\n  baseUrl: builtin://mock-upstream/v1\n  \
apiKeySecretRef: {name: up, key: key}\n  models: [{name: m, upstreamModel: \"u@words=5\"}]\n---\n\
apiVersion: oblivious.dev/v1alpha1\nkind: ModelPricing\nmetadata: {name: p}\nspec:\n  currency: EUR\n  models: [{name: m, input: \"1\", output: \"2\"}]\n";

impl Api {
    async fn start(store: Store) -> Api {
        let mock = oblivious_mock_upstream::spawn(oblivious_mock_upstream::MockConfig::default()).await.unwrap();
        let config = RelayConfig { builtin_mock_base: Some(mock.base_url()), ..RelayConfig::default() };
        let runtime =
            Runtime::local(RuntimeConfig { bootstrap_key: Some(BOOTSTRAP.into()), ..Default::default() }, store);
        let relay = Relay::new(config, runtime.clone());
        let mut manifests = oblivious_crds::Manifests::default();
        let mut errors = Vec::new();
        oblivious_crds::parse_documents(Path::new("t.yaml"), MANIFESTS, &mut manifests, &mut errors);
        relay.install(oblivious_compile::compile(&manifests).unwrap());
        let mut gateway_config = GatewayConfig::with_secret(b"0123456789abcdef0123456789abcdef".to_vec());
        gateway_config.login_failures_per_user = 3;
        let gateway = Arc::new(Gateway::new(runtime, gateway_config));
        let app = oblivious_relay::app(relay.clone()).merge(oblivious_gateway::router(gateway.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Api { base, http: reqwest::Client::new(), gateway, relay, _mock: mock }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, token, Some(body)).await
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, token, None).await
    }

    /// Registers and logs in; returns (access token, refresh token, user id).
    async fn sign_up(&self, name: &str) -> (String, String, String) {
        let (status, user) = self
            .post(
                "/api/v1/auth/register",
                None,
                json!({"username": name, "email": format!("{name}@example.com"), "password": "correct horse battery"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        let (status, login) =
            self.post("/api/v1/auth/login", None, json!({"username": name, "password": "correct horse battery"})).await;
        assert_eq!(status, StatusCode::OK, "{login}");
        (
            login["access_token"].as_str().unwrap().into(),
            login["refresh_token"].as_str().unwrap().into(),
            user["id"].as_str().unwrap().into(),
        )
    }
}

oblivious_store::both_backends!(
    start = Api::start;
    registration_login_and_profile_work_and_the_first_user_is_admin,
    refresh_tokens_rotate_and_a_reused_one_signs_the_whole_login_out,
    tampered_and_foreign_tokens_are_refused,
    failed_logins_are_throttled_with_retry_after,
    keys_are_private_to_their_owner_and_shown_once,
    admin_routes_refuse_users_and_accept_admins_and_the_bootstrap_key,
    balances_redemptions_and_billing_keep_the_ledger_equal_to_the_balance,
    bad_input_is_refused_naming_the_field_and_no_secret_is_echoed,
);

async fn registration_login_and_profile_work_and_the_first_user_is_admin(api: Api) {
    let (token, _, _) = api.sign_up("alice").await;
    let (status, profile) = api.get("/api/v1/user/profile", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((profile["username"].as_str(), profile["role"].as_str()), (Some("alice"), Some("admin")));
    let (bob, _, _) = api.sign_up("bob").await;
    assert_eq!(api.get("/api/v1/user/profile", Some(&bob)).await.1["role"], "user");
    let (status, taken) = api
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "bob", "email": "x@example.com", "password": "long enough pw"}),
        )
        .await;
    assert_eq!((status, taken["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")));
    let (status, quota) = api.get("/api/v1/user/quota", Some(&bob)).await;
    assert_eq!((status, quota), (StatusCode::OK, json!({"balance": "0.00", "currency": "EUR"})));
    let (status, _) = api.get("/api/v1/user/profile", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn refresh_tokens_rotate_and_a_reused_one_signs_the_whole_login_out(api: Api) {
    let (_, first_refresh, _) = api.sign_up("carol").await;
    let (status, rotated) = api.post("/api/v1/auth/refresh", None, json!({"refresh_token": first_refresh})).await;
    assert_eq!(status, StatusCode::OK);
    let second_refresh = rotated["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(second_refresh, first_refresh);
    assert_eq!(api.get("/api/v1/user/profile", rotated["access_token"].as_str()).await.0, StatusCode::OK);
    // Replaying the spent token means it leaked: the whole family dies.
    let (status, reuse) = api.post("/api/v1/auth/refresh", None, json!({"refresh_token": first_refresh})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(reuse["error"]["message"].as_str().unwrap().contains("already used"));
    assert_eq!(
        api.post("/api/v1/auth/refresh", None, json!({"refresh_token": second_refresh})).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Logging out everywhere kills other logins' refresh tokens.
    let (status, login) = api
        .post("/api/v1/auth/login", None, json!({"email": "carol@example.com", "password": "correct horse battery"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let access = login["access_token"].as_str().unwrap();
    assert_eq!(api.post("/api/v1/auth/logout-all", Some(access), json!({})).await.0, StatusCode::NO_CONTENT);
    let refresh = login["refresh_token"].as_str().unwrap();
    assert_eq!(
        api.post("/api/v1/auth/refresh", None, json!({"refresh_token": refresh})).await.0,
        StatusCode::UNAUTHORIZED
    );
}

async fn tampered_and_foreign_tokens_are_refused(api: Api) {
    let (token, _, user_id) = api.sign_up("dave").await;
    assert_eq!(
        api.get("/api/v1/admin/users", Some(&token)).await.0,
        StatusCode::OK,
        "dave is the first user, hence admin"
    );
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    parts[2] = parts[2].chars().rev().collect();
    assert_eq!(api.get("/api/v1/user/profile", Some(&parts.join("."))).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(api.get("/api/v1/user/profile", Some("a.b.c")).await.0, StatusCode::UNAUTHORIZED);
    let now = oblivious_store::now_ms() / 1000;
    let claims = |exp| jwt::Claims {
        sub: uuid::Uuid::parse_str(&user_id).unwrap(),
        role: "admin".into(),
        group: "default".into(),
        exp,
        iat: now - 100,
        jti: uuid::Uuid::now_v7(),
    };
    let expired = jwt::sign(&claims(now - 1), &api.gateway.config.jwt_secret);
    assert_eq!(api.get("/api/v1/user/profile", Some(&expired)).await.0, StatusCode::UNAUTHORIZED);
    let foreign = jwt::sign(&claims(now + 600), b"another-secret-another-secret!!!");
    assert_eq!(api.get("/api/v1/user/profile", Some(&foreign)).await.0, StatusCode::UNAUTHORIZED);
    let valid = jwt::sign(&claims(now + 600), &api.gateway.config.jwt_secret);
    assert_eq!(
        api.get("/api/v1/user/profile", Some(&valid)).await.0,
        StatusCode::OK,
        "the same claims, properly signed, pass"
    );
}

async fn failed_logins_are_throttled_with_retry_after(api: Api) {
    api.sign_up("erin").await;
    for _ in 0..3 {
        let (status, body) =
            api.post("/api/v1/auth/login", None, json!({"username": "erin", "password": "wrong password"})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(!body.to_string().contains("wrong password"), "the password is never echoed");
    }
    let response = api
        .http
        .post(format!("{}/api/v1/auth/login", api.base))
        .json(&json!({"username": "erin", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "even the right password waits once throttled");
    assert!(response.headers().contains_key("retry-after"));
}

async fn keys_are_private_to_their_owner_and_shown_once(api: Api) {
    let (alice, _, _) = api.sign_up("alice").await;
    let (bob, _, _) = api.sign_up("bob").await;
    let (status, created) = api
        .post("/api/v1/keys", Some(&alice), json!({"name": "ci", "models": ["m"], "rpm": 60, "max_spend": "1.50"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["key"].as_str().unwrap().to_string();
    assert_eq!(created["max_spend"], "1.50");
    let (_, listed) = api.get("/api/v1/keys", Some(&alice)).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains(&secret), "listings never show the secret");
    let (_, others) = api.get("/api/v1/keys", Some(&bob)).await;
    assert!(others["data"].as_array().unwrap().is_empty());
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        api.call(reqwest::Method::DELETE, &format!("/api/v1/keys/{id}"), Some(&bob), None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.call(reqwest::Method::DELETE, "/api/v1/keys/not-a-uuid", Some(&bob), None).await.0,
        StatusCode::NOT_FOUND
    );
    // The key itself authenticates its owner on the product API and calls the relay.
    assert_eq!(api.get("/api/v1/user/profile", Some(&secret)).await.1["username"], "alice");
    assert_eq!(
        api.call(reqwest::Method::DELETE, &format!("/api/v1/keys/{id}"), Some(&alice), None).await.0,
        StatusCode::NO_CONTENT
    );
}

async fn admin_routes_refuse_users_and_accept_admins_and_the_bootstrap_key(api: Api) {
    let (admin, _, _) = api.sign_up("root").await;
    let (user, _, user_id) = api.sign_up("plain").await;
    for path in [
        "/api/v1/admin/users",
        "/api/v1/admin/logs",
        "/api/v1/admin/stats?group_by=model",
        "/api/v1/admin/channels",
        "/api/v1/admin/redeem-codes",
    ] {
        assert_eq!(api.get(path, Some(&user)).await.0, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(api.get(path, Some(&admin)).await.0, StatusCode::OK, "{path}");
        assert_eq!(api.get(path, Some(BOOTSTRAP)).await.0, StatusCode::OK, "{path}");
    }
    let (status, users) = api.get("/api/v1/admin/users?q=PLA", Some(BOOTSTRAP)).await;
    assert_eq!((status, users["data"].as_array().unwrap().len()), (StatusCode::OK, 1));
    let (status, changed) = api
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/admin/users/{user_id}"),
            Some(&admin),
            Some(json!({"group": "vip"})),
        )
        .await;
    assert_eq!((status, changed["group"].as_str()), (StatusCode::OK, Some("vip")));
    let (status, _) = api
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/admin/users/{user_id}"),
            Some(&admin),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        api.get("/api/v1/user/profile", Some(&user)).await.0,
        StatusCode::FORBIDDEN,
        "a disabled user is locked out at once"
    );
    let (_, channels) = api.get("/api/v1/admin/channels", Some(&admin)).await;
    assert_eq!(channels["data"][0]["name"], "default/c");
    assert!(!channels.to_string().contains("sk-upstream"), "keys never appear");
    let (_, doc) = api.get("/api/v1/openapi.json", None).await;
    assert_eq!(doc["openapi"], "3.1.0");
}

async fn balances_redemptions_and_billing_keep_the_ledger_equal_to_the_balance(api: Api) {
    let (admin, _, _) = api.sign_up("root").await;
    let (user, _, user_id) = api.sign_up("payer").await;
    let (status, adjusted) = api
        .post(
            &format!("/api/v1/admin/users/{user_id}/balance"),
            Some(&admin),
            json!({"amount": "2.50", "note": "welcome"}),
        )
        .await;
    assert_eq!((status, adjusted["balance"].as_str()), (StatusCode::OK, Some("2.50")));
    let (status, minted) =
        api.post("/api/v1/admin/redeem-codes", Some(&admin), json!({"count": 1, "amount": "1"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let code = minted["data"][0]["code"].as_str().unwrap().to_string();
    let (status, redeemed) = api.post("/api/v1/user/redeem", Some(&user), json!({"code": code})).await;
    assert_eq!((status, redeemed["balance"].as_str()), (StatusCode::OK, Some("3.50")));
    let (status, again) = api.post("/api/v1/user/redeem", Some(&user), json!({"code": code})).await;
    assert_eq!((status, again["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_code")));

    // The user's own key calls the relay and pays for it.
    let (_, key) = api.post("/api/v1/keys", Some(&user), json!({"name": "k"})).await;
    let secret = key["key"].as_str().unwrap();
    let answer = api
        .http
        .post(format!("{}/v1/chat/completions", api.base))
        .bearer_auth(secret)
        .json(&json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    api.relay.billing.settler.flush().await;
    api.relay.logs.flush().await;
    let (_, quota) = api.get("/api/v1/user/quota", Some(&user)).await;
    assert_ne!(quota["balance"], "3.50", "the request was charged");
    let (_, ledger) = api.get("/api/v1/user/ledger", Some(&user)).await;
    let kinds: Vec<&str> = ledger["data"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["charge", "redeem", "adjust"]);
    let id = uuid::Uuid::parse_str(&user_id).unwrap();
    let store = api.gateway.store();
    assert_eq!(store.ledger_sum(id).await.unwrap(), store.balance(id).await.unwrap().unwrap().balance_micros);
    let (_, usage) = api.get("/api/v1/user/usage", Some(&user)).await;
    assert_eq!(usage["data"][0]["model"], "m");
    assert_eq!(usage["data"][0]["requests"], 1);

    // Administrators find the request by the user's name and see who made it.
    let (status, logs) = api.get("/api/v1/admin/logs?user=payer", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    let rows = logs["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{logs}");
    assert_eq!((rows[0]["username"].as_str(), rows[0]["user_id"].as_str()), (Some("payer"), Some(user_id.as_str())));
    let (_, by_email) = api.get("/api/v1/admin/logs?user=payer@example.com", Some(&admin)).await;
    assert_eq!(by_email["data"].as_array().unwrap().len(), 1);
    let (_, by_id) = api.get(&format!("/api/v1/admin/logs?user={user_id}"), Some(&admin)).await;
    assert_eq!(by_id["data"].as_array().unwrap().len(), 1);
    let (_, nobody) = api.get("/api/v1/admin/logs?user=nobody", Some(&admin)).await;
    assert_eq!(nobody["data"], json!([]), "an unknown name matches nothing, not everything");
    let (_, root) = api.get("/api/v1/admin/logs?user=root", Some(&admin)).await;
    assert_eq!(root["data"], json!([]));
}

async fn bad_input_is_refused_naming_the_field_and_no_secret_is_echoed(api: Api) {
    let (status, error) =
        api.post("/api/v1/auth/register", None, json!({"username": "x", "email": "bad", "password": "p"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["error"]["message"].as_str().unwrap().starts_with("username"), "{error}");
    let (status, error) =
        api.post("/api/v1/auth/register", None, json!({"username": "okname", "email": "a@b.co"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["error"]["message"].as_str().unwrap().contains("password"), "{error}");
    let raw = api
        .http
        .post(format!("{}/api/v1/auth/login", api.base))
        .body("{nope")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    assert_eq!(raw.json::<Value>().await.unwrap()["error"]["code"], "invalid_request");
    let (token, _, _) = api.sign_up("frank").await;
    let (status, error) = api.post("/api/v1/keys", Some(&token), json!({"name": "k", "max_spend": "lots"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["error"]["message"].as_str().unwrap().starts_with("max_spend"));
    let (status, _) =
        api.post("/api/v1/auth/login", None, json!({"username": "frank", "password": "hunter2-secret"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
