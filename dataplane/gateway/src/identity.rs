//! Who is calling the product API: a user with an access token (the web UI), a user's API key
//! (scripts), or an administrator (an admin user's token or an admin API key such as
//! `$OBLIVIOUS_BOOTSTRAP_KEY`). Every failure is a 401/403 in the product shape; the reason is
//! never more specific than "invalid or expired".
//!
//! Handlers receive a `UserIdentity` or `AdminIdentity` as an extractor, placed before the path,
//! query and body extractors: a route that needs a caller cannot forget to check one, and an
//! unauthenticated call is refused before its input is looked at.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use oblivious_core::edge::{Caller, CallerLookup};
use oblivious_runtime::Principal;
use oblivious_store::UserRecord;
use tracing::Instrument;
use uuid::Uuid;

use crate::Gateway;
use crate::error::ProductError;
use crate::jwt;

/// An authenticated user.
#[derive(Debug, Clone)]
pub struct UserIdentity {
    pub user: UserRecord,
    /// The API key used, when the caller authenticated with one instead of a token.
    pub key_id: Option<Uuid>,
}

/// An authenticated administrator.
#[derive(Debug, Clone)]
pub enum AdminIdentity {
    User(UserRecord),
    Key(Principal),
}

impl AdminIdentity {
    /// The user to record as the actor of a change, when there is one.
    pub fn actor_id(&self) -> Option<Uuid> {
        match self {
            AdminIdentity::User(user) => Some(user.id),
            AdminIdentity::Key(principal) => principal.user_id,
        }
    }
}

/// A router state that can authenticate callers: the gateway itself, or a service mounted beside
/// it (chat) that holds one, so its routes take the same extractors.
pub trait GatewayState: Send + Sync + 'static {
    /// The gateway whose accounts, tokens and keys identify callers.
    fn gateway(&self) -> &Gateway;
}

impl GatewayState for Gateway {
    fn gateway(&self) -> &Gateway {
        self
    }
}

impl<S: GatewayState> FromRequestParts<Arc<S>> for UserIdentity {
    type Rejection = ProductError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<S>) -> Result<Self, Self::Rejection> {
        let span = tracing::info_span!("authenticate", oblivious.credential = "user");
        state.gateway().authenticate_user(&parts.headers).instrument(span).await
    }
}

impl<S: GatewayState> FromRequestParts<Arc<S>> for AdminIdentity {
    type Rejection = ProductError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<S>) -> Result<Self, Self::Rejection> {
        let span = tracing::info_span!("authenticate", oblivious.credential = "admin");
        state.gateway().authenticate_admin(&parts.headers).instrument(span).await
    }
}

enum Credential<'a> {
    Token(&'a str),
    ApiKey,
}

fn credential(headers: &HeaderMap) -> Result<Credential<'_>, ProductError> {
    let value = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    match value {
        // API keys never contain dots; access tokens are three dot-separated parts.
        Some(token) if token.matches('.').count() == 2 => Ok(Credential::Token(token)),
        Some(_) => Ok(Credential::ApiKey),
        None if headers.contains_key("x-api-key") => Ok(Credential::ApiKey),
        None => Err(ProductError::unauthenticated("Sign in, or send `Authorization: Bearer <token or API key>`.")),
    }
}

impl Gateway {
    /// The calling user (token or user-owned API key). Disabled users are refused.
    pub async fn authenticate_user(&self, headers: &HeaderMap) -> Result<UserIdentity, ProductError> {
        let (user_id, key_id) = match credential(headers)? {
            Credential::Token(token) => (self.verify_token(token)?, None),
            Credential::ApiKey => {
                let principal =
                    self.runtime.keys.authenticate(headers, None).await.map_err(|_| invalid_credentials())?;
                let Some(user_id) = principal.user_id else {
                    return Err(ProductError::forbidden("This key does not belong to a user account."));
                };
                (user_id, principal.key_id)
            }
        };
        let user = self.store().get_user(user_id).await?.ok_or_else(invalid_credentials)?;
        if user.disabled {
            return Err(ProductError::forbidden("This account is disabled."));
        }
        Ok(UserIdentity { user, key_id })
    }

    /// An administrator: an admin user's token (or key), or an admin API key.
    pub async fn authenticate_admin(&self, headers: &HeaderMap) -> Result<AdminIdentity, ProductError> {
        if let Credential::ApiKey = credential(headers)? {
            let principal = self.runtime.keys.authenticate(headers, None).await.map_err(|_| invalid_credentials())?;
            if principal.is_admin {
                return Ok(AdminIdentity::Key(principal));
            }
        }
        let identity = self.authenticate_user(headers).await?;
        if !identity.user.is_admin() {
            return Err(ProductError::forbidden("This needs an administrator."));
        }
        Ok(AdminIdentity::User(identity.user))
    }

    fn verify_token(&self, token: &str) -> Result<Uuid, ProductError> {
        jwt::verify(token, &self.config.jwt_secret, oblivious_store::now_ms() / 1000)
            .map(|claims| claims.sub)
            .map_err(|_| invalid_credentials())
    }
}

/// The caller as the edge's lane decisions see it: an access token is only verified (no database
/// read) unless the permission to pick a lane matters; an API key, in any dialect's header or
/// Gemini's `?key=`, comes from the process's key cache.
impl CallerLookup for Gateway {
    fn lookup<'a>(
        &'a self,
        parts: &'a Parts,
        wants_permission: bool,
    ) -> Pin<Box<dyn Future<Output = Caller> + Send + 'a>> {
        Box::pin(async move {
            if let Ok(Credential::Token(token)) = credential(&parts.headers) {
                if !wants_permission {
                    let user_id = self.verify_token(token).ok().map(|id| id.to_string());
                    return Caller { user_id, may_pick_lane: false };
                }
                return match self.authenticate_user(&parts.headers).await {
                    Ok(identity) => Caller {
                        user_id: Some(identity.user.id.to_string()),
                        may_pick_lane: identity.user.is_admin() || identity.user.lane_select,
                    },
                    Err(_) => Caller::default(),
                };
            }
            let query_key = parts.uri.query().and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("key=")));
            match self.runtime.keys.authenticate(&parts.headers, query_key).await {
                Ok(principal) => Caller {
                    user_id: principal.user_id.map(|id| id.to_string()),
                    may_pick_lane: principal.is_admin || principal.lane_select,
                },
                Err(_) => Caller::default(),
            }
        })
    }
}

fn invalid_credentials() -> ProductError {
    ProductError::unauthenticated("The token or key is invalid or expired.")
}
