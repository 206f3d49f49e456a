//! The gateway's product API (DESIGN §5 "Edge stack"): accounts (register, log in with a short
//! access JWT and a rotating refresh token), the user's profile, balance, usage, ledger, keys,
//! redemptions and webhooks, and the administrators' API (users, balances, codes, logs,
//! statistics, channel health, platform webhooks) — all under `/api/v1`, with one error shape and
//! an OpenAPI document. NOTES.md documents the webhook routes.
//!
//! Balances live in the store; after changing one here the quota cache the relay reserves
//! against is told (`sync_balance`), so new money is spendable at once on every replica.

mod config;
mod error;
mod identity;
pub mod jwt;
mod openapi;
mod passwords;
mod routes;
mod time;
mod views;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use oblivious_files::Files;
use oblivious_runtime::Runtime;
use oblivious_store::quota::Freshness;
use oblivious_store::{BalanceState, Store};
use serde_json::Value;
use uuid::Uuid;

pub use config::{GatewayConfig, Registration, jwt_secret};
pub use error::{ApiResult, Body, ProductError, parse_body};
pub use identity::{AdminIdentity, GatewayState, UserIdentity};
pub use openapi::{RouteDoc, object as schema_object};

/// The gateway's state.
pub struct Gateway {
    /// Configuration, keys and quota state, shared with the relay and chat of this process.
    pub runtime: Arc<Runtime>,
    pub config: GatewayConfig,
    /// Routes of other services mounted beside the gateway (chat), for the OpenAPI document.
    pub extra_routes: Vec<RouteDoc>,
    /// Uploaded files; `None` answers the file routes with 503 (a gateway built without storage).
    pub files: Option<Files>,
}

impl Gateway {
    pub fn new(runtime: Arc<Runtime>, config: GatewayConfig) -> Self {
        Gateway { runtime, config, extra_routes: Vec::new(), files: None }
    }

    /// The process's store.
    pub fn store(&self) -> &Store {
        &self.runtime.store
    }

    /// The currency of the price list in effect (every list shares one in practice).
    pub fn currency(&self) -> String {
        let active = self.runtime.active();
        active.snapshot.prices.first().map_or_else(|| "USD".to_string(), |p| p.currency.clone())
    }

    /// Tells the quota cache about a balance the database just reached.
    pub async fn sync_balance(&self, user_id: Uuid, balance: BalanceState) {
        let fresh = Freshness { user_id: Some(user_id), balance: Some(balance), ..Freshness::default() };
        if let Err(error) = self.runtime.shared.quota.settle(None, &fresh).await {
            tracing::warn!(%error, "could not update the quota cache; it catches up at the next reservation");
        }
    }
}

type Route = (RouteDoc, MethodRouter<Arc<Gateway>>);

/// Registering a webhook, a user's or a platform one.
fn new_webhook_body() -> Value {
    openapi::object(
        &[("url", "string"), ("event_types", "array")],
        &[("description", "string"), ("enabled", "boolean")],
    )
}

/// Changing a webhook: any of its fields.
fn webhook_patch_body() -> Value {
    openapi::object(
        &[],
        &[("url", "string"), ("event_types", "array"), ("description", "string"), ("enabled", "boolean")],
    )
}

fn body(schema: fn() -> Value) -> Option<fn() -> Value> {
    Some(schema)
}

/// Every route, with its documentation: the router and the OpenAPI document are both built
/// from this one list.
fn routes() -> Vec<Route> {
    use openapi::object;
    use routes::{admin, admin_dashboard, auth, files, keys, user, webhooks};
    let doc = |method, path, summary, auth, body, status| RouteDoc { method, path, summary, auth, body, status };
    vec![
        (
            doc(
                "POST",
                "/api/v1/auth/register",
                "Create an account",
                "none",
                body(|| object(&[("username", "string"), ("email", "string"), ("password", "string")], &[])),
                201,
            ),
            post(auth::register),
        ),
        (
            doc(
                "POST",
                "/api/v1/auth/login",
                "Log in: an access token and a refresh token",
                "none",
                body(|| object(&[("password", "string")], &[("username", "string"), ("email", "string")])),
                200,
            ),
            post(auth::login),
        ),
        (
            doc(
                "POST",
                "/api/v1/auth/refresh",
                "Trade a refresh token for a new pair (the old one is spent)",
                "none",
                body(|| object(&[("refresh_token", "string")], &[])),
                200,
            ),
            post(auth::refresh),
        ),
        (
            doc(
                "POST",
                "/api/v1/auth/logout",
                "Sign out the session of a refresh token",
                "none",
                body(|| object(&[("refresh_token", "string")], &[])),
                204,
            ),
            post(auth::logout),
        ),
        (
            doc("POST", "/api/v1/auth/logout-all", "Sign out every session of the caller", "user", None, 204),
            post(auth::logout_all),
        ),
        (doc("GET", "/api/v1/user/profile", "The caller's profile", "user", None, 200), get(user::profile)),
        (
            doc(
                "PUT",
                "/api/v1/user/profile",
                "Change display name, email or password",
                "user",
                body(|| {
                    object(
                        &[],
                        &[
                            ("display_name", "string"),
                            ("email", "string"),
                            ("current_password", "string"),
                            ("new_password", "string"),
                        ],
                    )
                }),
                200,
            ),
            put(user::update_profile),
        ),
        (doc("GET", "/api/v1/user/quota", "The caller's balance and currency", "user", None, 200), get(user::quota)),
        (
            doc(
                "GET",
                "/api/v1/user/usage",
                "The caller's usage by day and model (from, to: RFC 3339 or ms)",
                "user",
                None,
                200,
            ),
            get(user::usage),
        ),
        (
            doc("GET", "/api/v1/user/ledger", "The caller's balance changes, newest first", "user", None, 200),
            get(user::ledger),
        ),
        (
            doc(
                "POST",
                "/api/v1/user/redeem",
                "Redeem a top-up code",
                "user",
                body(|| object(&[("code", "string")], &[])),
                200,
            ),
            post(user::redeem),
        ),
        (doc("GET", "/api/v1/keys", "The caller's API keys (never their secrets)", "user", None, 200), get(keys::list)),
        (
            doc(
                "POST",
                "/api/v1/keys",
                "Create an API key; its secret is in this answer only",
                "user",
                body(|| {
                    object(
                        &[("name", "string")],
                        &[
                            ("models", "array"),
                            ("expires_at", "string"),
                            ("rpm", "integer"),
                            ("tpm", "integer"),
                            ("max_spend", "string"),
                        ],
                    )
                }),
                201,
            ),
            post(keys::create),
        ),
        (
            doc("DELETE", "/api/v1/keys/{id}", "Revoke one of the caller's keys", "user", None, 204),
            delete(keys::revoke),
        ),
        (
            doc("GET", "/api/v1/webhooks", "The caller's webhooks (never their secrets)", "user", None, 200),
            get(webhooks::list),
        ),
        (
            doc(
                "POST",
                "/api/v1/webhooks",
                "Register a webhook for the caller's events; its signing secret is in this answer only",
                "user",
                body(new_webhook_body),
                201,
            ),
            post(webhooks::create),
        ),
        (
            doc(
                "PATCH",
                "/api/v1/webhooks/{id}",
                "Change one of the caller's webhooks",
                "user",
                body(webhook_patch_body),
                200,
            ),
            patch(webhooks::update),
        ),
        (
            doc("DELETE", "/api/v1/webhooks/{id}", "Delete one of the caller's webhooks", "user", None, 204),
            delete(webhooks::delete),
        ),
        (
            doc(
                "GET",
                "/api/v1/webhooks/{id}/deliveries",
                "A webhook's deliveries, newest first, with their last status (limit, before)",
                "user",
                None,
                200,
            ),
            get(webhooks::deliveries),
        ),
        (
            doc(
                "POST",
                "/api/v1/webhooks/{id}/test",
                "Send a `ping` event to one of the caller's webhooks",
                "user",
                None,
                202,
            ),
            post(webhooks::test),
        ),
        (
            doc(
                "POST",
                "/api/v1/files",
                "Upload a file (multipart field `file`): 201, or 200 with the caller's file of the same content",
                "user",
                None,
                201,
            ),
            // The size limit is applied while the body streams in (`files::upload`), not by axum's.
            post(files::upload).layer(DefaultBodyLimit::disable()),
        ),
        (doc("GET", "/api/v1/files", "The caller's files, newest first", "user", None, 200), get(files::list)),
        (
            doc(
                "GET",
                "/api/v1/files/{id}",
                "One of the caller's files, with a signed download URL",
                "user",
                None,
                200,
            ),
            get(files::get),
        ),
        (
            doc("DELETE", "/api/v1/files/{id}", "Delete one of the caller's files and its content", "user", None, 204),
            delete(files::delete),
        ),
        (
            doc(
                "GET",
                "/api/v1/files/{id}/content",
                "Download a file through its signed URL (expires, signature)",
                "none",
                None,
                200,
            ),
            get(files::content),
        ),
        (doc("GET", "/api/v1/admin/users", "Search users (q, limit, offset)", "admin", None, 200), get(admin::users)),
        (
            doc(
                "PATCH",
                "/api/v1/admin/users/{id}",
                "Change a user's role, group, disabled state or lane_select (may name a canary lane)",
                "admin",
                body(|| {
                    object(
                        &[],
                        &[
                            ("role", "string"),
                            ("group", "string"),
                            ("disabled", "boolean"),
                            ("display_name", "string"),
                            ("lane_select", "boolean"),
                        ],
                    )
                }),
                200,
            ),
            patch(admin::update_user),
        ),
        (
            doc(
                "POST",
                "/api/v1/admin/users/{id}/balance",
                "Adjust a balance (signed decimal amount)",
                "admin",
                body(|| object(&[("amount", "string")], &[("note", "string")])),
                200,
            ),
            post(admin::adjust_balance),
        ),
        (
            doc(
                "POST",
                "/api/v1/admin/redeem-codes",
                "Mint redemption codes (shown once)",
                "admin",
                body(|| {
                    object(
                        &[("count", "integer"), ("amount", "string")],
                        &[("note", "string"), ("expires_at", "string")],
                    )
                }),
                201,
            ),
            post(admin::create_codes),
        ),
        (
            doc("GET", "/api/v1/admin/redeem-codes", "Minted redemption codes", "admin", None, 200),
            get(admin::list_codes),
        ),
        (
            doc(
                "GET",
                "/api/v1/admin/logs",
                "Request records, newest first (limit, key_id, user_id, model, before)",
                "admin",
                None,
                200,
            ),
            get(admin::logs),
        ),
        (
            doc(
                "GET",
                "/api/v1/admin/stats",
                "Usage statistics (group_by: user|key|model|channel|day; from, to)",
                "admin",
                None,
                200,
            ),
            get(admin::stats),
        ),
        (
            doc(
                "GET",
                "/api/v1/admin/channels",
                "Channels of the active configuration with their health",
                "admin",
                None,
                200,
            ),
            get(admin::channels),
        ),
        (
            doc(
                "GET",
                "/api/v1/admin/channels/health",
                "Each channel's success rate, latency and latest failure over 15 minutes and 24 hours, from the shared request log",
                "admin",
                None,
                200,
            ),
            get(admin_dashboard::channel_health),
        ),
        (
            doc(
                "GET",
                "/api/v1/admin/series",
                "Requests, errors, tokens, cost and latency per hour or day (from, to, step, split, top)",
                "admin",
                None,
                200,
            ),
            get(admin_dashboard::series),
        ),
        (
            doc(
                "GET",
                "/api/v1/admin/webhooks",
                "Platform webhooks (they get every user's events)",
                "admin",
                None,
                200,
            ),
            get(webhooks::admin_list),
        ),
        (
            doc(
                "POST",
                "/api/v1/admin/webhooks",
                "Register a platform webhook for every user's events; its signing secret is in this answer only",
                "admin",
                body(new_webhook_body),
                201,
            ),
            post(webhooks::admin_create),
        ),
        (
            doc(
                "PATCH",
                "/api/v1/admin/webhooks/{id}",
                "Change a platform webhook",
                "admin",
                body(webhook_patch_body),
                200,
            ),
            patch(webhooks::admin_update),
        ),
        (
            doc("DELETE", "/api/v1/admin/webhooks/{id}", "Delete a platform webhook", "admin", None, 204),
            delete(webhooks::admin_delete),
        ),
        (
            doc(
                "GET",
                "/api/v1/admin/webhooks/{id}/deliveries",
                "Any webhook's deliveries, newest first (limit, before)",
                "admin",
                None,
                200,
            ),
            get(webhooks::admin_deliveries),
        ),
        (
            doc(
                "POST",
                "/api/v1/admin/webhooks/{id}/test",
                "Send a `ping` event to a platform webhook",
                "admin",
                None,
                202,
            ),
            post(webhooks::admin_test),
        ),
        (
            doc(
                "POST",
                "/api/v1/admin/webhook-deliveries/{id}/replay",
                "Send an ended delivery once more, with the same event id and body",
                "admin",
                None,
                202,
            ),
            post(webhooks::replay),
        ),
        (doc("GET", "/api/v1/openapi.json", "This document", "none", None, 200), get(openapi_document)),
    ]
}

/// The product API router (state included).
pub fn router(gateway: Arc<Gateway>) -> Router {
    let mut router = Router::new();
    for (doc, method_router) in routes() {
        router = router.route(doc.path, method_router);
    }
    router.with_state(gateway)
}

async fn openapi_document(State(gateway): State<Arc<Gateway>>) -> Json<Value> {
    let mut docs: Vec<RouteDoc> = routes().into_iter().map(|(doc, _)| doc).collect();
    docs.extend(gateway.extra_routes.iter().copied());
    Json(openapi::document(&docs))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_in_the_openapi_document_with_its_method() {
        let docs: Vec<RouteDoc> = routes().into_iter().map(|(doc, _)| doc).collect();
        let document = openapi::document(&docs);
        for doc in &docs {
            let operation = &document["paths"][doc.path][doc.method.to_lowercase()];
            assert!(operation.is_object(), "{} {} is not documented", doc.method, doc.path);
        }
        assert_eq!(document["paths"]["/api/v1/keys/{id}"]["delete"]["parameters"][0]["name"], "id");
    }

    #[tokio::test]
    async fn every_route_that_needs_a_caller_answers_401_in_the_product_shape_before_reading_its_input() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path()).await.unwrap();
        store.migrate().await.unwrap();
        let runtime = Runtime::local(oblivious_runtime::RuntimeConfig::default(), store);
        let gateway = Arc::new(Gateway::new(runtime, GatewayConfig::with_secret(vec![7; 32])));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router(gateway)).await });
        let http = reqwest::Client::new();
        let guarded: Vec<RouteDoc> =
            routes().into_iter().map(|(doc, _)| doc).filter(|doc| doc.auth != "none").collect();
        assert!(guarded.iter().any(|doc| doc.auth == "admin") && guarded.iter().any(|doc| doc.auth == "user"));
        for doc in guarded {
            let method = axum::http::Method::from_bytes(doc.method.as_bytes()).unwrap();
            let mut request =
                http.request(method, format!("{base}{}?limit=many", doc.path.replace("{id}", "not-an-id")));
            if doc.body.is_some() {
                request = request.header("content-type", "application/json").body("{not json");
            }
            let response = request.send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            assert_eq!(status, axum::http::StatusCode::UNAUTHORIZED, "{} {}: {body}", doc.method, doc.path);
            assert_eq!(
                body,
                serde_json::json!({"error": {
                    "code": "unauthenticated",
                    "message": "Sign in, or send `Authorization: Bearer <token or API key>`.",
                }}),
                "{} {}",
                doc.method,
                doc.path
            );
        }
    }
}
