//! The chat API's routes (API.md). One table builds both the router and the OpenAPI entries,
//! so no route exists undocumented.

mod agents;
mod approvals;
pub(crate) mod input;
mod messages;
mod preferences;
mod sessions;
mod streams;
mod tool_servers;
mod topics;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use oblivious_gateway::{ApiResult, ProductError, RouteDoc, schema_object};
use serde_json::Value;

use crate::Chat;

type Route = (RouteDoc, MethodRouter<Arc<Chat>>);

/// `?limit=` within 1..=200, else `default`.
fn limit(query: &HashMap<String, String>, default: i64) -> ApiResult<i64> {
    match query.get("limit").filter(|l| !l.is_empty()) {
        None => Ok(default),
        Some(text) => match text.parse::<i64>() {
            Ok(n) if (1..=200).contains(&n) => Ok(n),
            _ => Err(ProductError::invalid("limit", "must be a number from 1 to 200")),
        },
    }
}

fn schema(
    required: &'static [(&'static str, &'static str)],
    optional: &'static [(&'static str, &'static str)],
) -> Value {
    schema_object(required, optional)
}

const SESSION_FIELDS: &[(&str, &str)] = &[
    ("title", "string"),
    ("avatar", "string"),
    ("description", "string"),
    ("system_prompt", "string"),
    ("model", "string"),
    ("temperature", "number"),
    ("opening_message", "string"),
    ("group", "string"),
    ("tools", "array"),
];
const AGENT_FIELDS: &[(&str, &str)] = &[
    ("name", "string"),
    ("avatar", "string"),
    ("description", "string"),
    ("tags", "array"),
    ("system_prompt", "string"),
    ("model", "string"),
    ("temperature", "number"),
    ("opening_message", "string"),
];

fn routes() -> Vec<Route> {
    let doc = |method, path, summary, body: Option<fn() -> Value>, status| RouteDoc {
        method,
        path,
        summary,
        auth: "user",
        body,
        status,
    };
    vec![
        (doc("GET", "/api/v1/chat/sessions", "The caller's sessions, pinned first", None, 200), get(sessions::list)),
        (
            doc(
                "POST",
                "/api/v1/chat/sessions",
                "Create a session (fields not given come from the agent)",
                Some(|| {
                    let mut body = schema(&[], SESSION_FIELDS);
                    body["properties"]["agent_id"] = serde_json::json!({"type": "string"});
                    body
                }),
                201,
            ),
            post(sessions::create),
        ),
        (doc("GET", "/api/v1/chat/sessions/{id}", "One session", None, 200), get(sessions::get_one)),
        (
            doc(
                "PATCH",
                "/api/v1/chat/sessions/{id}",
                "Change a session (title, prompt, model, pinned, group, ...)",
                Some(|| {
                    let mut body = schema(&[], SESSION_FIELDS);
                    body["properties"]["pinned"] = serde_json::json!({"type": "boolean"});
                    body
                }),
                200,
            ),
            patch(sessions::patch),
        ),
        (
            doc("DELETE", "/api/v1/chat/sessions/{id}", "Delete a session with its topics and messages", None, 204),
            delete(sessions::delete),
        ),
        (
            doc(
                "GET",
                "/api/v1/chat/sessions/{id}/topics",
                "Topics, most recently active first (before, limit)",
                None,
                200,
            ),
            get(topics::list),
        ),
        (
            doc(
                "POST",
                "/api/v1/chat/sessions/{id}/topics",
                "Start a topic",
                Some(|| schema(&[], &[("title", "string")])),
                201,
            ),
            post(topics::create),
        ),
        (
            doc(
                "PATCH",
                "/api/v1/chat/topics/{id}",
                "Rename a topic",
                Some(|| schema(&[("title", "string")], &[])),
                200,
            ),
            patch(topics::rename),
        ),
        (doc("DELETE", "/api/v1/chat/topics/{id}", "Delete a topic", None, 204), delete(topics::delete)),
        (
            doc("GET", "/api/v1/chat/topics/{id}/export", "The active branch as Markdown or JSON (format)", None, 200),
            get(topics::export),
        ),
        (
            doc(
                "GET",
                "/api/v1/chat/sessions/{id}/messages",
                "A page of the active branch, oldest first within the page (topic_id, before, limit)",
                None,
                200,
            ),
            get(messages::list),
        ),
        (
            doc(
                "POST",
                "/api/v1/chat/sessions/{id}/messages",
                "Send a message; the reply streams from /api/v1/chat/streams/{stream_id}",
                Some(|| {
                    schema(
                        &[("content", "string")],
                        &[("topic_id", "string"), ("parent_id", "string"), ("model", "string")],
                    )
                }),
                201,
            ),
            post(messages::send),
        ),
        (
            doc(
                "POST",
                "/api/v1/chat/messages/{id}/regenerate",
                "Generate another reply beside this one",
                Some(|| schema(&[], &[("model", "string")])),
                201,
            ),
            post(messages::regenerate),
        ),
        (
            doc(
                "PUT",
                "/api/v1/chat/messages/{id}",
                "Edit a user message: a new branch with a new reply",
                Some(|| schema(&[("content", "string")], &[])),
                201,
            ),
            put(messages::edit),
        ),
        (
            doc(
                "POST",
                "/api/v1/chat/messages/{id}/activate",
                "Make the branch through this message active",
                None,
                200,
            ),
            post(messages::activate),
        ),
        (
            doc("DELETE", "/api/v1/chat/messages/{id}", "Delete a message and what follows it", None, 204),
            delete(messages::delete),
        ),
        (
            doc("GET", "/api/v1/chat/search", "Search the caller's messages (q, limit)", None, 200),
            get(messages::search),
        ),
        (
            doc(
                "GET",
                "/api/v1/chat/streams/{id}",
                "The reply's events (text/event-stream; Last-Event-ID resumes)",
                None,
                200,
            ),
            get(streams::read),
        ),
        (doc("POST", "/api/v1/chat/streams/{id}/stop", "Stop generating the reply", None, 202), post(streams::stop)),
        (
            doc(
                "POST",
                "/api/v1/chat/messages/{id}/tool-calls/{call_id}/approval",
                "Approve or reject a tool call the reply waits on",
                Some(|| schema(&[("approve", "boolean")], &[])),
                202,
            ),
            post(approvals::decide),
        ),
        (
            doc(
                "GET",
                "/api/v1/chat/preferences",
                "The caller's default model and what a blank chat starts with",
                None,
                200,
            ),
            get(preferences::get),
        ),
        (
            doc(
                "PUT",
                "/api/v1/chat/preferences",
                "Set (or clear, with null) the caller's default model",
                Some(|| schema(&[], &[("default_model", "string")])),
                200,
            ),
            put(preferences::put),
        ),
        (
            doc("GET", "/api/v1/chat/tool-servers", "MCP servers the caller may turn on for a session", None, 200),
            get(tool_servers::list),
        ),
        (
            doc(
                "POST",
                "/api/v1/chat/tool-servers",
                "Add an own MCP server (Streamable HTTP; when the platform allows it)",
                Some(|| schema(&[("name", "string"), ("url", "string")], &[("headers", "object")])),
                201,
            ),
            post(tool_servers::create),
        ),
        (
            doc("DELETE", "/api/v1/chat/tool-servers/{id}", "Delete an own MCP server", None, 204),
            delete(tool_servers::delete),
        ),
        (doc("GET", "/api/v1/agents", "Published and own agents (source=catalog|user)", None, 200), get(agents::list)),
        (
            doc(
                "POST",
                "/api/v1/agents",
                "Create an own agent",
                Some(|| schema(&[("name", "string")], &AGENT_FIELDS[1..])),
                201,
            ),
            post(agents::create),
        ),
        (doc("GET", "/api/v1/agents/{id}", "One agent", None, 200), get(agents::get_one)),
        (
            doc("PATCH", "/api/v1/agents/{id}", "Change an own agent", Some(|| schema(&[], AGENT_FIELDS)), 200),
            patch(agents::patch),
        ),
        (doc("DELETE", "/api/v1/agents/{id}", "Delete an own agent", None, 204), delete(agents::delete)),
        (
            doc("GET", "/api/v1/models", "The chat models the caller may use, with prices", None, 200),
            get(agents::models),
        ),
    ]
}

/// The chat router (state included).
pub fn router(chat: Arc<Chat>) -> Router {
    let mut router = Router::new();
    for (doc, method_router) in routes() {
        router = router.route(doc.path, method_router);
    }
    router.with_state(chat)
}

/// The chat routes' documentation, for the product API's OpenAPI document.
pub fn route_docs() -> Vec<RouteDoc> {
    routes().into_iter().map(|(doc, _)| doc).collect()
}
