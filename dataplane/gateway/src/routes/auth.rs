//! `/api/v1/auth/*`: register, log in, refresh (rotating), log out.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oblivious_store::limits::LimitCheck;
use oblivious_store::{NewUser, ROLE_ADMIN, ROLE_USER, Rotation, hash_api_key};
use rand::RngCore;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::Gateway;
use crate::config::Registration;
use crate::error::{ApiResult, Body, ProductError};
use crate::identity::UserIdentity;
use crate::jwt::{self, Claims};
use crate::passwords::{check_new_password, hash_password, verify_against_dummy, verify_password};
use crate::views::UserView;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Register {
    username: String,
    email: String,
    password: String,
}

pub async fn register(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    Body(body): Body<Register>,
) -> ApiResult<Response> {
    if gateway.config.registration == Registration::Closed {
        gateway
            .authenticate_admin(&headers)
            .await
            .map_err(|_| ProductError::forbidden("Registration is closed; ask an administrator."))?;
    }
    check_username(&body.username)?;
    check_email(&body.email)?;
    check_new_password(&body.password).map_err(|reason| ProductError::invalid("password", reason))?;
    let password_hash = hash_password(&body.password).map_err(|_| {
        ProductError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Could not hash the password.")
    })?;
    let first = gateway.config.first_user_admin && gateway.store().count_users().await? == 0;
    let user = gateway
        .store()
        .create_user(NewUser {
            username: body.username.trim().to_string(),
            email: body.email.trim().to_string(),
            password_hash,
            role: Some(if first { ROLE_ADMIN } else { ROLE_USER }.to_string()),
            group: None,
            initial_balance_micros: gateway.config.initial_balance_micros,
        })
        .await?;
    tracing::info!(user_id = %user.id, admin = first, "account registered");
    Ok((StatusCode::CREATED, Json(UserView::new(&user, &gateway.currency()))).into_response())
}

fn check_username(name: &str) -> ApiResult<()> {
    let valid =
        (3..=32).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if valid { Ok(()) } else { Err(ProductError::invalid("username", "use 3 to 32 letters, digits, `_`, `.` or `-`")) }
}

pub(crate) fn check_email(email: &str) -> ApiResult<()> {
    let email = email.trim();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.contains(char::is_whitespace);
    if valid { Ok(()) } else { Err(ProductError::invalid("email", "is not an email address")) }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    email: Option<String>,
    password: String,
}

pub async fn login(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    Body(body): Body<Login>,
) -> ApiResult<Response> {
    let Some(login) = body.username.or(body.email).map(|l| l.trim().to_string()).filter(|l| !l.is_empty()) else {
        return Err(ProductError::invalid("username", "send `username` or `email`"));
    };
    let attempt = gateway.charge_login_attempt(&login.to_lowercase(), client_address(&headers)).await?;
    let found = gateway.store().find_user_for_login(&login).await?;
    let user = match found {
        Some((user, hash)) if verify_password(&body.password, &hash) => user,
        Some(_) => return Err(wrong_login()),
        None => {
            verify_against_dummy(&body.password);
            return Err(wrong_login());
        }
    };
    if user.disabled {
        return Err(ProductError::forbidden("This account is disabled."));
    }
    gateway.refund_login_attempt(attempt).await;
    let pair = gateway.issue_tokens(&user, Uuid::now_v7()).await?;
    Ok(Json(json!({
        "access_token": pair.access,
        "refresh_token": pair.refresh,
        "expires_in": gateway.config.access_ttl.as_secs(),
        "token_type": "Bearer",
        "user": UserView::new(&user, &gateway.currency()),
    }))
    .into_response())
}

fn wrong_login() -> ProductError {
    ProductError::unauthenticated("Wrong username, email or password.")
}

/// The client address for throttling: the first `X-Forwarded-For` hop set by the ingress.
fn client_address(headers: &HeaderMap) -> Option<String> {
    let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok())?;
    forwarded.split(',').next().map(|a| a.trim().to_string()).filter(|a| !a.is_empty())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    refresh_token: String,
}

pub async fn refresh(State(gateway): State<Arc<Gateway>>, Body(body): Body<RefreshBody>) -> ApiResult<Response> {
    let new_secret = random_token();
    let now = oblivious_store::now_ms();
    let expires = now + gateway.config.refresh_ttl.as_millis() as i64;
    let rotation = gateway
        .store()
        .rotate_refresh_token(&hash_api_key(&body.refresh_token), &hash_api_key(&new_secret), now, expires)
        .await?;
    match rotation {
        Rotation::Rotated { user_id, .. } => {
            let user = gateway
                .store()
                .get_user(user_id)
                .await?
                .ok_or_else(|| ProductError::unauthenticated("Sign in again."))?;
            if user.disabled {
                gateway.store().revoke_all_refresh_tokens(user.id, now).await?;
                return Err(ProductError::forbidden("This account is disabled."));
            }
            let access = gateway.access_token(&user);
            Ok(Json(json!({
                "access_token": access,
                "refresh_token": new_secret,
                "expires_in": gateway.config.access_ttl.as_secs(),
                "token_type": "Bearer",
                "user": UserView::new(&user, &gateway.currency()),
            }))
            .into_response())
        }
        Rotation::ReuseDetected { user_id, family_id } => {
            tracing::warn!(%user_id, %family_id, "a used refresh token was presented again; the login's sessions were revoked");
            Err(ProductError::unauthenticated(
                "This refresh token was already used; every session of this login was signed out.",
            ))
        }
        Rotation::Invalid => Err(ProductError::unauthenticated("The refresh token is invalid or expired.")),
    }
}

pub async fn logout(State(gateway): State<Arc<Gateway>>, Body(body): Body<RefreshBody>) -> ApiResult<StatusCode> {
    gateway.store().revoke_refresh_family_of(&hash_api_key(&body.refresh_token), oblivious_store::now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn logout_all(State(gateway): State<Arc<Gateway>>, identity: UserIdentity) -> ApiResult<StatusCode> {
    gateway.store().revoke_all_refresh_tokens(identity.user.id, oblivious_store::now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new opaque refresh token: 32 random bytes, URL-safe.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("rt-{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub(crate) struct TokenPair {
    pub access: String,
    pub refresh: String,
}

/// Charged login attempts, refunded on success so only failures count.
pub(crate) struct LoginAttempt(Vec<LimitCheck>);

impl Gateway {
    pub(crate) fn access_token(&self, user: &oblivious_store::UserRecord) -> String {
        let now = oblivious_store::now_ms() / 1000;
        let claims = Claims {
            sub: user.id,
            role: user.role.clone(),
            group: user.group.clone(),
            iat: now,
            exp: now + self.config.access_ttl.as_secs() as i64,
            jti: Uuid::now_v7(),
        };
        jwt::sign(&claims, &self.config.jwt_secret)
    }

    pub(crate) async fn issue_tokens(&self, user: &oblivious_store::UserRecord, family: Uuid) -> ApiResult<TokenPair> {
        let refresh = random_token();
        let expires = oblivious_store::now_ms() + self.config.refresh_ttl.as_millis() as i64;
        self.store().insert_refresh_token(user.id, family, &hash_api_key(&refresh), expires).await?;
        Ok(TokenPair { access: self.access_token(user), refresh })
    }

    /// Counts an attempt against the per-login and per-address limits; refuses with 429 when
    /// either is exhausted.
    async fn charge_login_attempt(&self, login: &str, address: Option<String>) -> ApiResult<LoginAttempt> {
        let window = self.config.throttle_window;
        let mut checks = vec![LimitCheck {
            name: format!("login:{login}"),
            limit: self.config.login_failures_per_user,
            period: window,
            cost: 1,
        }];
        if let Some(address) = address {
            checks.push(LimitCheck {
                name: format!("login-ip:{address}"),
                limit: self.config.login_failures_per_address,
                period: window,
                cost: 1,
            });
        }
        let limiter = &self.runtime.shared.limiter;
        match limiter.check(&checks, oblivious_store::now_ms() * 1000).await {
            Ok(verdict) if !verdict.allowed() => {
                let wait = verdict.states.iter().filter_map(|s| s.retry_after).max().unwrap_or(window);
                let mut error = ProductError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "Too many failed sign-ins. Try again later.",
                );
                error.retry_after = Some(wait.as_secs().max(1));
                Err(error)
            }
            Ok(_) => Ok(LoginAttempt(checks)),
            // Without the limiter, logins still work (Argon2 already makes guessing slow).
            Err(error) => {
                tracing::warn!(%error, "login throttling unavailable");
                Ok(LoginAttempt(Vec::new()))
            }
        }
    }

    async fn refund_login_attempt(&self, attempt: LoginAttempt) {
        let limiter = &self.runtime.shared.limiter;
        for check in &attempt.0 {
            let _ = limiter.adjust(check, -1, oblivious_store::now_ms() * 1000).await;
        }
    }
}
