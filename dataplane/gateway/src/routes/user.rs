//! `/api/v1/user/*`: the caller's own profile, balance, usage, ledger and redemptions.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use oblivious_store::{RedeemRefusal, Redemption, UserUpdate};
use serde::Deserialize;
use serde_json::json;

use crate::Gateway;
use crate::error::{ApiResult, Body, ProductError};
use crate::identity::UserIdentity;
use crate::passwords::{check_new_password, hash_password, verify_password};
use crate::routes::auth::check_email;
use crate::time::parse_time_ms;
use crate::views::{LedgerView, UsageView, UserView};
use oblivious_runtime::money::format_micros;

pub async fn profile(State(gateway): State<Arc<Gateway>>, identity: UserIdentity) -> ApiResult<Response> {
    Ok(Json(UserView::new(&identity.user, &gateway.currency())).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    /// Required to change the password.
    #[serde(default)]
    current_password: Option<String>,
    #[serde(default)]
    new_password: Option<String>,
}

pub async fn update_profile(
    State(gateway): State<Arc<Gateway>>,
    identity: UserIdentity,
    Body(body): Body<ProfileUpdate>,
) -> ApiResult<Response> {
    let user_id = identity.user.id;
    if let Some(name) = &body.display_name
        && name.chars().count() > 64
    {
        return Err(ProductError::invalid("display_name", "must be at most 64 characters"));
    }
    if let Some(email) = &body.email {
        check_email(email)?;
    }
    if let Some(new_password) = &body.new_password {
        check_new_password(new_password).map_err(|reason| ProductError::invalid("new_password", reason))?;
        let (_, stored) = gateway
            .store()
            .find_user_for_login(&identity.user.username)
            .await?
            .ok_or_else(|| ProductError::not_found("user"))?;
        let current = body.current_password.as_deref().unwrap_or_default();
        if !verify_password(current, &stored) {
            return Err(ProductError::invalid("current_password", "is wrong"));
        }
        let hash =
            hash_password(new_password).map_err(|_| ProductError::invalid("new_password", "could not be hashed"))?;
        gateway.store().set_password_hash(user_id, &hash).await?;
        // A new password signs out every other session.
        gateway.store().revoke_all_refresh_tokens(user_id, oblivious_store::now_ms()).await?;
    }
    let update = UserUpdate { display_name: body.display_name, email: body.email, ..UserUpdate::default() };
    let user = gateway.store().update_user(user_id, &update).await?.ok_or_else(|| ProductError::not_found("user"))?;
    Ok(Json(UserView::new(&user, &gateway.currency())).into_response())
}

pub async fn quota(State(gateway): State<Arc<Gateway>>, identity: UserIdentity) -> ApiResult<Response> {
    Ok(Json(json!({"balance": format_micros(identity.user.balance_micros), "currency": gateway.currency()}))
        .into_response())
}

#[derive(Deserialize)]
pub struct Range {
    from: Option<String>,
    to: Option<String>,
}

impl Range {
    /// `[from, to)` in ms; the last 30 days by default.
    pub(crate) fn resolve(&self) -> ApiResult<(i64, i64)> {
        let now = oblivious_store::now_ms();
        let to = self
            .to
            .as_deref()
            .map(parse_time_ms)
            .transpose()
            .map_err(|r| ProductError::invalid("to", r))?
            .unwrap_or(now + 1);
        let from = self
            .from
            .as_deref()
            .map(parse_time_ms)
            .transpose()
            .map_err(|r| ProductError::invalid("from", r))?
            .unwrap_or(to - 30 * 86_400_000);
        if from >= to {
            return Err(ProductError::invalid("from", "must be before `to`"));
        }
        Ok((from, to))
    }
}

pub async fn usage(
    State(gateway): State<Arc<Gateway>>,
    identity: UserIdentity,
    Query(range): Query<Range>,
) -> ApiResult<Response> {
    let (from, to) = range.resolve()?;
    let rows = gateway.store().user_usage(identity.user.id, from, to).await?;
    let data: Vec<UsageView> = rows.iter().map(UsageView::from).collect();
    Ok(Json(json!({"data": data, "currency": gateway.currency()})).into_response())
}

#[derive(Deserialize)]
pub struct Page {
    limit: Option<i64>,
    before: Option<i64>,
}

pub async fn ledger(
    State(gateway): State<Arc<Gateway>>,
    identity: UserIdentity,
    Query(page): Query<Page>,
) -> ApiResult<Response> {
    let entries = gateway.store().list_ledger(identity.user.id, page.limit.unwrap_or(50), page.before).await?;
    let data: Vec<LedgerView> = entries.iter().map(LedgerView::from).collect();
    Ok(Json(json!({"data": data})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedeemBody {
    code: String,
}

pub async fn redeem(
    State(gateway): State<Arc<Gateway>>,
    identity: UserIdentity,
    Body(body): Body<RedeemBody>,
) -> ApiResult<Response> {
    match gateway.store().redeem_code(&body.code, identity.user.id, oblivious_store::now_ms()).await? {
        Redemption::Credited { entry, balance } => {
            gateway.sync_balance(identity.user.id, balance).await;
            Ok(Json(json!({
                "amount": format_micros(entry.amount_micros),
                "balance": format_micros(balance.balance_micros),
                "currency": gateway.currency(),
            }))
            .into_response())
        }
        Redemption::Refused(refusal) => {
            tracing::info!(user_id = %identity.user.id, ?refusal, "redemption refused");
            let message = match refusal {
                RedeemRefusal::AlreadyUsed => "This code has already been redeemed.",
                RedeemRefusal::Expired => "This code has expired.",
                RedeemRefusal::Unknown => "This code is not valid.",
            };
            Err(ProductError::new(axum::http::StatusCode::BAD_REQUEST, "invalid_code", message))
        }
    }
}
