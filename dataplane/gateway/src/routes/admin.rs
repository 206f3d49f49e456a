//! `/api/v1/admin/*`: users, balances, redemption codes, request logs, statistics and channel
//! health, for administrators (an admin user's token or an admin API key).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oblivious_store::{BalanceChange, LedgerKind, RequestLogFilter, StatsGroup, UserQuery, UserUpdate};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::Gateway;
use crate::error::{ApiResult, Body, ProductError};
use crate::identity::AdminIdentity;
use crate::routes::user::Range;
use crate::time::TimeInput;
use crate::views::{LedgerView, RedeemCodeView, UsageView, UserView};
use oblivious_runtime::money::{format_micros, parse_decimal_micros};

#[derive(Deserialize)]
pub struct UserSearch {
    q: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

pub async fn users(
    State(gateway): State<Arc<Gateway>>,
    _admin: AdminIdentity,
    Query(search): Query<UserSearch>,
) -> ApiResult<Response> {
    let query = UserQuery {
        search: search.q.filter(|q| !q.is_empty()),
        limit: search.limit.unwrap_or(50),
        offset: search.offset.unwrap_or(0),
    };
    let users = gateway.store().list_users(&query).await?;
    let currency = gateway.currency();
    let data: Vec<UserView> = users.iter().map(|u| UserView::new(u, &currency)).collect();
    Ok(Json(json!({"data": data, "total": gateway.store().count_users().await?})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    disabled: Option<bool>,
    #[serde(default)]
    display_name: Option<String>,
    /// May name a canary lane with `x-oblivious-lane`.
    #[serde(default)]
    lane_select: Option<bool>,
}

pub async fn update_user(
    State(gateway): State<Arc<Gateway>>,
    _admin: AdminIdentity,
    Path(id): Path<String>,
    Body(body): Body<UserChange>,
) -> ApiResult<Response> {
    let id = parse_id(&id, "user")?;
    if let Some(role) = &body.role
        && role != "user"
        && role != "admin"
    {
        return Err(ProductError::invalid("role", "must be `user` or `admin`"));
    }
    if let Some(group) = &body.group
        && (group.is_empty() || group.len() > 63)
    {
        return Err(ProductError::invalid("group", "must be 1 to 63 characters"));
    }
    let update = UserUpdate {
        display_name: body.display_name,
        email: None,
        role: body.role,
        group: body.group,
        disabled: body.disabled,
        lane_select: body.lane_select,
    };
    let user = gateway.store().update_user(id, &update).await?.ok_or_else(|| ProductError::not_found("user"))?;
    if body.disabled == Some(true) {
        gateway.store().revoke_all_refresh_tokens(id, oblivious_store::now_ms()).await?;
    }
    Ok(Json(UserView::new(&user, &gateway.currency())).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adjustment {
    /// Signed decimal string.
    amount: String,
    #[serde(default)]
    note: String,
}

pub async fn adjust_balance(
    State(gateway): State<Arc<Gateway>>,
    admin: AdminIdentity,
    Path(id): Path<String>,
    Body(body): Body<Adjustment>,
) -> ApiResult<Response> {
    let id = parse_id(&id, "user")?;
    let amount = parse_decimal_micros(&body.amount).map_err(|reason| ProductError::invalid("amount", reason))?;
    if amount == 0 {
        return Err(ProductError::invalid("amount", "must not be zero"));
    }
    if body.note.chars().count() > 500 {
        return Err(ProductError::invalid("note", "must be at most 500 characters"));
    }
    let change = BalanceChange {
        user_id: id,
        kind: LedgerKind::Adjust,
        amount_micros: amount,
        note: body.note,
        actor_id: admin.actor_id(),
    };
    let (entry, balance) = gateway.store().change_balance(&change).await?;
    gateway.sync_balance(id, balance).await;
    Ok(Json(json!({"balance": format_micros(balance.balance_micros), "entry": LedgerView::from(&entry)}))
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintCodes {
    count: usize,
    amount: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    expires_at: Option<TimeInput>,
}

pub async fn create_codes(
    State(gateway): State<Arc<Gateway>>,
    admin: AdminIdentity,
    Body(body): Body<MintCodes>,
) -> ApiResult<Response> {
    if !(1..=1000).contains(&body.count) {
        return Err(ProductError::invalid("count", "must be between 1 and 1000"));
    }
    let amount = parse_decimal_micros(&body.amount).map_err(|reason| ProductError::invalid("amount", reason))?;
    if amount <= 0 {
        return Err(ProductError::invalid("amount", "must be greater than 0"));
    }
    let expires_at = body
        .expires_at
        .as_ref()
        .map(TimeInput::to_ms)
        .transpose()
        .map_err(|r| ProductError::invalid("expires_at", r))?;
    let minted =
        gateway.store().create_redeem_codes(body.count, amount, &body.note, expires_at, admin.actor_id()).await?;
    let data: Vec<serde_json::Value> = minted
        .iter()
        .map(|(code, record)| {
            let mut view = serde_json::to_value(RedeemCodeView::from(record)).unwrap_or_default();
            view["code"] = json!(code);
            view
        })
        .collect();
    Ok((StatusCode::CREATED, Json(json!({"data": data}))).into_response())
}

#[derive(Deserialize)]
pub struct Limit {
    limit: Option<i64>,
}

pub async fn list_codes(
    State(gateway): State<Arc<Gateway>>,
    _admin: AdminIdentity,
    Query(page): Query<Limit>,
) -> ApiResult<Response> {
    let codes = gateway.store().list_redeem_codes(page.limit.unwrap_or(100)).await?;
    let data: Vec<RedeemCodeView> = codes.iter().map(RedeemCodeView::from).collect();
    Ok(Json(json!({"data": data})).into_response())
}

#[derive(Deserialize)]
pub struct LogQuery {
    limit: Option<i64>,
    key_id: Option<Uuid>,
    user_id: Option<Uuid>,
    /// A username, an email or a user id; a name nobody has matches no request.
    user: Option<String>,
    model: Option<String>,
    /// A lane tag, or `baseline` for requests outside every lane.
    lane: Option<String>,
    before: Option<i64>,
}

pub async fn logs(
    State(gateway): State<Arc<Gateway>>,
    _admin: AdminIdentity,
    Query(query): Query<LogQuery>,
) -> ApiResult<Response> {
    let store = gateway.store();
    let named = query.user.as_deref().map(str::trim).filter(|u| !u.is_empty());
    let user_id = match named {
        None => query.user_id,
        Some(text) => match Uuid::parse_str(text) {
            Ok(id) => Some(id),
            Err(_) => match store.find_user_for_login(text).await? {
                Some((user, _)) => Some(user.id),
                None => return Ok(Json(json!({"data": []})).into_response()),
            },
        },
    };
    let filter = RequestLogFilter {
        limit: query.limit.unwrap_or(100),
        key_id: query.key_id,
        user_id,
        model: query.model.filter(|m| !m.is_empty()),
        lane: query.lane.filter(|l| !l.is_empty()),
        before: query.before,
    };
    let rows = store.list_request_logs(&filter).await?;
    // Each row names its user; a page holds few distinct users, each looked up once.
    let mut names: HashMap<Uuid, Option<String>> = HashMap::new();
    for id in rows.iter().filter_map(|row| row.user_id) {
        if let Entry::Vacant(slot) = names.entry(id) {
            slot.insert(store.get_user(id).await?.map(|user| user.username));
        }
    }
    let data: Vec<serde_json::Value> = rows
        .iter()
        .map(|row| {
            let mut value = json!(row);
            let username = row.user_id.and_then(|id| names.get(&id).cloned().flatten());
            value["username"] = json!(username);
            value
        })
        .collect();
    Ok(Json(json!({"data": data})).into_response())
}

#[derive(Deserialize)]
pub struct StatsQuery {
    group_by: Option<String>,
    #[serde(flatten)]
    range: Range,
}

pub async fn stats(
    State(gateway): State<Arc<Gateway>>,
    _admin: AdminIdentity,
    Query(query): Query<StatsQuery>,
) -> ApiResult<Response> {
    let group_by = query.group_by.as_deref().unwrap_or("day");
    let group = StatsGroup::parse(group_by)
        .ok_or_else(|| ProductError::invalid("group_by", "must be user, key, model, channel or day"))?;
    let (from, to) = query.range.resolve()?;
    let rows = gateway.store().usage_stats(group, from, to).await?;
    let data: Vec<UsageView> = rows.iter().map(UsageView::from).collect();
    Ok(Json(json!({"group_by": group_by, "data": data, "currency": gateway.currency()})).into_response())
}

/// Channels of the active configuration with their health as this relay sees it.
pub async fn channels(State(gateway): State<Arc<Gateway>>, _admin: AdminIdentity) -> ApiResult<Response> {
    let active = gateway.runtime.active();
    let now = Instant::now();
    let data: Vec<serde_json::Value> = active
        .snapshot
        .channels
        .iter()
        .map(|channel| {
            let health = gateway.runtime.health.view(&channel.name, now);
            json!({
                "name": channel.name,
                "provider": channel.provider.as_str(),
                "models": channel.models.iter().map(|m| &m.name).collect::<Vec<_>>(),
                "priority": channel.priority,
                "weight": channel.weight,
                "groups": channel.groups,
                "suspended": channel.suspend,
                "keys": channel.api_keys.len(),
                "health": {
                    "ejected": health.ejected,
                    "consecutive_failures": health.consecutive_failures,
                    "disabled_keys": health.disabled_keys,
                    "last_disable_reason": health.last_disable_reason,
                    "successes": health.successes,
                    "failures": health.failures,
                },
            })
        })
        .collect();
    Ok(Json(json!({"version": active.snapshot.version, "data": data})).into_response())
}

fn parse_id(text: &str, what: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(text).map_err(|_| ProductError::not_found(what))
}
