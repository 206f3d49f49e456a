//! `/api/v1/webhooks` (a user's own) and `/api/v1/admin/webhooks` (the platform's, which get every
//! user's events): endpoints that receive signed events, their deliveries with the last status,
//! a test ping, and an administrator's replay of one delivery. The secret is generated here and
//! shown once, at creation; a webhook that is not the caller's is "not found".

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oblivious_runtime::EventType;
use oblivious_store::{Replay, WebhookOwner, WebhookRecord, WebhookUpdate, now_ms};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::Gateway;
use crate::error::{ApiResult, Body, ProductError};
use crate::identity::{AdminIdentity, UserIdentity};
use crate::views::{DeliveryView, WebhookView};

/// Most webhooks one user — or the platform — may have.
pub const MAX_WEBHOOKS: usize = 10;
/// Longest description.
const MAX_DESCRIPTION_CHARS: usize = 200;
/// Most deliveries one page lists.
const MAX_PAGE: i64 = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    url: String,
    /// What it subscribes to: `reply.completed`, `reply.failed`, `balance.low`, `key.created`,
    /// `key.revoked`, `file.indexed`.
    event_types: Vec<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeWebhook {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    event_types: Option<Vec<String>>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
}

/// `?limit=&before=` of a deliveries page, as text so a bad value is a product-shaped 400.
#[derive(Deserialize)]
pub struct DeliveryPage {
    limit: Option<String>,
    before: Option<String>,
}

pub async fn list(State(gateway): State<Arc<Gateway>>, identity: UserIdentity) -> ApiResult<Response> {
    list_of(&gateway, WebhookOwner::User(identity.user.id)).await
}

pub async fn create(
    State(gateway): State<Arc<Gateway>>,
    identity: UserIdentity,
    Body(body): Body<CreateWebhook>,
) -> ApiResult<Response> {
    create_for(&gateway, WebhookOwner::User(identity.user.id), body).await
}

pub async fn update(
    State(gateway): State<Arc<Gateway>>,
    identity: UserIdentity,
    Path(id): Path<String>,
    Body(body): Body<ChangeWebhook>,
) -> ApiResult<Response> {
    update_for(&gateway, WebhookOwner::User(identity.user.id), &id, body).await
}

pub async fn delete(
    State(gateway): State<Arc<Gateway>>,
    identity: UserIdentity,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    delete_for(&gateway, WebhookOwner::User(identity.user.id), &id).await
}

pub async fn deliveries(
    State(gateway): State<Arc<Gateway>>,
    identity: UserIdentity,
    Path(id): Path<String>,
    Query(page): Query<DeliveryPage>,
) -> ApiResult<Response> {
    let hook = owned(&gateway, WebhookOwner::User(identity.user.id), &id).await?;
    deliveries_of(&gateway, hook.id, &page).await
}

pub async fn test(
    State(gateway): State<Arc<Gateway>>,
    identity: UserIdentity,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    ping(&gateway, WebhookOwner::User(identity.user.id), &id).await
}

pub async fn admin_list(State(gateway): State<Arc<Gateway>>, _admin: AdminIdentity) -> ApiResult<Response> {
    list_of(&gateway, WebhookOwner::Platform).await
}

pub async fn admin_create(
    State(gateway): State<Arc<Gateway>>,
    _admin: AdminIdentity,
    Body(body): Body<CreateWebhook>,
) -> ApiResult<Response> {
    create_for(&gateway, WebhookOwner::Platform, body).await
}

pub async fn admin_update(
    State(gateway): State<Arc<Gateway>>,
    _admin: AdminIdentity,
    Path(id): Path<String>,
    Body(body): Body<ChangeWebhook>,
) -> ApiResult<Response> {
    update_for(&gateway, WebhookOwner::Platform, &id, body).await
}

pub async fn admin_delete(
    State(gateway): State<Arc<Gateway>>,
    _admin: AdminIdentity,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    delete_for(&gateway, WebhookOwner::Platform, &id).await
}

pub async fn admin_test(
    State(gateway): State<Arc<Gateway>>,
    _admin: AdminIdentity,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    ping(&gateway, WebhookOwner::Platform, &id).await
}

/// The deliveries of any webhook, a user's included (to find one to replay).
pub async fn admin_deliveries(
    State(gateway): State<Arc<Gateway>>,
    _admin: AdminIdentity,
    Path(id): Path<String>,
    Query(page): Query<DeliveryPage>,
) -> ApiResult<Response> {
    let id = parse_id(&id, "webhook")?;
    let hook = gateway.store().webhook_by_id(id).await?.ok_or_else(|| ProductError::not_found("webhook"))?;
    deliveries_of(&gateway, hook.id, &page).await
}

/// Queues an ended delivery again for one more attempt, with the same event id and body.
pub async fn replay(
    State(gateway): State<Arc<Gateway>>,
    _admin: AdminIdentity,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_id(&id, "delivery")?;
    match gateway.store().replay_webhook_delivery(id, now_ms()).await? {
        Replay::Queued(delivery) => {
            gateway.runtime.webhooks.wake();
            Ok((StatusCode::ACCEPTED, Json(DeliveryView::from(delivery.as_ref()))).into_response())
        }
        Replay::NotEnded => Err(ProductError::conflict("the delivery has not ended yet; it is still being retried")),
        Replay::NotFound => Err(ProductError::not_found("delivery")),
    }
}

async fn list_of(gateway: &Gateway, owner: WebhookOwner) -> ApiResult<Response> {
    let hooks = gateway.store().webhooks(owner).await?;
    let data: Vec<WebhookView> = hooks.iter().map(WebhookView::from).collect();
    Ok(Json(json!({"data": data})).into_response())
}

async fn create_for(gateway: &Gateway, owner: WebhookOwner, body: CreateWebhook) -> ApiResult<Response> {
    let url = checked_url(gateway, owner, &body.url).await?;
    let event_types = event_types(&body.event_types)?;
    let description = description(body.description.as_deref())?;
    if gateway.store().webhooks(owner).await?.len() >= MAX_WEBHOOKS {
        return Err(ProductError::conflict(format!("at most {MAX_WEBHOOKS} webhooks per account")));
    }
    let now = now_ms();
    let hook = WebhookRecord {
        id: Uuid::now_v7(),
        user_id: match owner {
            WebhookOwner::User(id) => Some(id),
            WebhookOwner::Platform => None,
        },
        url,
        secret: oblivious_webhooks::generate_secret(),
        event_types,
        description,
        enabled: body.enabled.unwrap_or(true),
        created_at: now,
        updated_at: now,
    };
    gateway.store().create_webhook(&hook).await?;
    let mut view = serde_json::to_value(WebhookView::from(&hook)).unwrap_or_default();
    view["secret"] = json!(hook.secret);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn update_for(gateway: &Gateway, owner: WebhookOwner, id: &str, body: ChangeWebhook) -> ApiResult<Response> {
    let id = parse_id(id, "webhook")?;
    let url = match &body.url {
        Some(url) => Some(checked_url(gateway, owner, url).await?),
        None => None,
    };
    let update = WebhookUpdate {
        url,
        event_types: body.event_types.as_deref().map(event_types).transpose()?,
        description: body.description.as_deref().map(|d| description(Some(d))).transpose()?,
        enabled: body.enabled,
    };
    let hook = gateway.store().update_webhook(owner, id, &update, now_ms()).await?;
    let hook = hook.ok_or_else(|| ProductError::not_found("webhook"))?;
    Ok(Json(WebhookView::from(&hook)).into_response())
}

async fn delete_for(gateway: &Gateway, owner: WebhookOwner, id: &str) -> ApiResult<StatusCode> {
    let id = parse_id(id, "webhook")?;
    match gateway.store().delete_webhook(owner, id).await? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ProductError::not_found("webhook")),
    }
}

async fn ping(gateway: &Gateway, owner: WebhookOwner, id: &str) -> ApiResult<Response> {
    let hook = owned(gateway, owner, id).await?;
    if !hook.enabled {
        return Err(ProductError::conflict("the webhook is disabled; enable it to test it"));
    }
    match gateway.runtime.webhooks.ping(hook.id, hook.user_id).await? {
        Some(event_id) => Ok((StatusCode::ACCEPTED, Json(json!({"event_id": event_id}))).into_response()),
        None => Err(ProductError::not_found("webhook")),
    }
}

async fn deliveries_of(gateway: &Gateway, webhook_id: Uuid, page: &DeliveryPage) -> ApiResult<Response> {
    let limit = match &page.limit {
        None => 50,
        Some(text) => match text.parse::<i64>() {
            Ok(n @ 1..=MAX_PAGE) => n,
            _ => return Err(ProductError::invalid("limit", format!("must be a number from 1 to {MAX_PAGE}"))),
        },
    };
    let before = match &page.before {
        None => None,
        Some(text) => {
            Some(Uuid::parse_str(text).map_err(|_| ProductError::invalid("before", "must be a delivery id"))?)
        }
    };
    let deliveries = gateway.store().webhook_deliveries(webhook_id, limit, before).await?;
    let data: Vec<DeliveryView> = deliveries.iter().map(DeliveryView::from).collect();
    Ok(Json(json!({"data": data})).into_response())
}

async fn owned(gateway: &Gateway, owner: WebhookOwner, id: &str) -> ApiResult<WebhookRecord> {
    let id = parse_id(id, "webhook")?;
    gateway.store().webhook(owner, id).await?.ok_or_else(|| ProductError::not_found("webhook"))
}

/// A user's URL must pass the address policy (unless private targets are allowed); the
/// platform's is trusted.
async fn checked_url(gateway: &Gateway, owner: WebhookOwner, url: &str) -> ApiResult<String> {
    let url = url.trim();
    let trusted = owner == WebhookOwner::Platform;
    let allow_private = gateway.runtime.webhooks.settings().allow_private_targets;
    match oblivious_webhooks::check_target(url, trusted, allow_private).await {
        Ok(_) => Ok(url.to_string()),
        Err(refusal) => Err(ProductError::invalid("url", refusal)),
    }
}

/// Known, subscribable types; at least one, each once (first order kept).
fn event_types(names: &[String]) -> ApiResult<Vec<String>> {
    let mut types: Vec<String> = Vec::new();
    for name in names {
        let Some(event) = EventType::subscribable(name.trim()) else {
            let known: Vec<&str> = EventType::SUBSCRIBABLE.iter().map(|t| t.as_str()).collect();
            return Err(ProductError::invalid(
                "event_types",
                format!(
                    "unknown event type `{}`; known: {}",
                    name.chars().take(64).collect::<String>(),
                    known.join(", ")
                ),
            ));
        };
        if !types.iter().any(|t| t == event.as_str()) {
            types.push(event.as_str().to_string());
        }
    }
    if types.is_empty() {
        return Err(ProductError::invalid("event_types", "name at least one event type"));
    }
    Ok(types)
}

fn description(text: Option<&str>) -> ApiResult<String> {
    let text = text.unwrap_or_default().trim();
    if text.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ProductError::invalid("description", format!("at most {MAX_DESCRIPTION_CHARS} characters")));
    }
    Ok(text.to_string())
}

fn parse_id(text: &str, what: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(text).map_err(|_| ProductError::not_found(what))
}
