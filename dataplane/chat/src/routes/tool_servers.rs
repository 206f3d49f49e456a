//! `/chat/tool-servers`: the MCP servers a user may turn on for a session — the platform's
//! (`ToolServer` resources open to the user's group) and, when the platform allows it
//! (`OBLIVIOUS_USER_TOOL_SERVERS`), servers users add themselves: Streamable HTTP only, never
//! stdio, and never on an address the platform forbids (loopback, private, link-local,
//! cluster-internal ranges), checked when added and again on every connection.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use oblivious_gateway::{ApiResult, Body, ProductError, UserIdentity};
use oblivious_store::chat::{MAX_USER_TOOL_SERVERS, UserToolServer};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::input::{MAX_SHORT_TEXT_CHARS, bounded};
use crate::Chat;
use crate::tools::{USER_SERVER_PREFIX, own_servers, session_grants};

const MAX_URL_CHARS: usize = 2048;
const MAX_HEADERS: usize = 10;
const MAX_HEADER_VALUE_CHARS: usize = 4096;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewServer {
    name: String,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// What the API shows of a user's server: header names, never their values.
fn server_view(server: &UserToolServer) -> Value {
    json!({
        "ref": format!("{USER_SERVER_PREFIX}{}", server.id),
        "id": server.id,
        "name": server.name,
        "url": server.url,
        "header_names": server.headers.keys().collect::<Vec<_>>(),
        "created_at": server.created_at,
    })
}

pub async fn list(State(chat): State<Arc<Chat>>, UserIdentity { user, .. }: UserIdentity) -> ApiResult<Json<Value>> {
    let active = chat.gateway.runtime.active();
    let platform: Vec<Value> = active
        .snapshot
        .tool_servers
        .iter()
        .filter(|s| s.open_to(&user.group))
        .map(|s| json!({"ref": s.name, "name": s.name, "approval_tools": s.approval_tools}))
        .collect();
    let own: Vec<Value> = own_servers(&chat, user.id).await?.iter().flatten().map(server_view).collect();
    Ok(Json(json!({"platform": platform, "user": own, "user_servers_allowed": chat.config.user_tool_servers})))
}

pub async fn create(
    State(chat): State<Arc<Chat>>,
    UserIdentity { user, .. }: UserIdentity,
    Body(body): Body<NewServer>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if !chat.config.user_tool_servers {
        return Err(ProductError::new(
            StatusCode::FORBIDDEN,
            "user_tool_servers_disabled",
            "This platform does not let users add their own tool servers.",
        ));
    }
    bounded("name", &body.name, MAX_SHORT_TEXT_CHARS)?;
    if body.name.trim().is_empty() {
        return Err(ProductError::invalid("name", "must not be empty"));
    }
    bounded("url", &body.url, MAX_URL_CHARS)?;
    let allow_private = chat.tools.settings().allow_private_user_addresses;
    if let Err(refusal) = oblivious_tools::check_user_url(&body.url, allow_private).await {
        return Err(ProductError::invalid("url", refusal.to_string()));
    }
    check_headers(&body.headers)?;
    let created = chat.store().create_user_tool_server(user.id, body.name.trim(), &body.url, &body.headers).await?;
    let created = created.ok_or_else(|| {
        ProductError::invalid("url", format!("you already have {MAX_USER_TOOL_SERVERS} tool servers; delete one first"))
    })?;
    Ok((StatusCode::CREATED, Json(server_view(&created))))
}

fn check_headers(headers: &BTreeMap<String, String>) -> ApiResult<()> {
    if headers.len() > MAX_HEADERS {
        return Err(ProductError::invalid("headers", format!("at most {MAX_HEADERS}")));
    }
    for (name, value) in headers {
        let valid_name = axum::http::HeaderName::from_bytes(name.as_bytes()).is_ok();
        let valid_value = value.len() <= MAX_HEADER_VALUE_CHARS && axum::http::HeaderValue::from_str(value).is_ok();
        if !valid_name || !valid_value {
            return Err(ProductError::invalid(&format!("headers.{name}"), "not a valid HTTP header"));
        }
    }
    Ok(())
}

pub async fn delete(
    State(chat): State<Arc<Chat>>,
    UserIdentity { user, .. }: UserIdentity,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    if !chat.store().delete_user_tool_server(user.id, id).await? {
        return Err(ProductError::not_found("tool server"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Checks the tools a session turns on: each a platform server open to `group`, or one of the
/// user's own servers (when the platform allows them). At most 10.
pub async fn check_session_tools(chat: &Chat, user_id: Uuid, group: &str, refs: &[String]) -> ApiResult<()> {
    const MAX_SESSION_TOOLS: usize = 10;
    if refs.len() > MAX_SESSION_TOOLS {
        return Err(ProductError::invalid("tools", format!("at most {MAX_SESSION_TOOLS}")));
    }
    let own = own_servers(chat, user_id).await?;
    let active = chat.gateway.runtime.active();
    // Known means granted: the same resolution a reply makes (`tools::session_grants`).
    for (i, reference) in refs.iter().enumerate() {
        if session_grants(&active.snapshot, std::slice::from_ref(reference), own.as_deref(), group).is_empty() {
            return Err(ProductError::invalid(
                &format!("tools[{i}]"),
                format!("no tool server `{reference}` you may use"),
            ));
        }
    }
    Ok(())
}
