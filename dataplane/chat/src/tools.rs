//! Tools in a reply (DESIGN §5 "Tools"): which MCP tools a reply may call, how they are offered
//! to the model, and running one call the model asked for. The generation job (`job.rs`) runs
//! the loop; this module knows tools, not streams.
//!
//! A session made from a catalog agent may call what the agent's `tools` name: a whole
//! `ToolServer` (`namespace/server`, every tool the server allows) or one of its tools
//! (`namespace/server/tool`), and only servers open to the user's group. Tools are offered as
//! OpenAI function tools; their names are the servers' own, made safe for every provider
//! (`[A-Za-z0-9_-]{1,64}`) and unique (a clash is prefixed with the server's name).

use std::collections::BTreeSet;
use std::time::Instant;

use oblivious_config::{Agent, Snapshot, ToolServer};
use oblivious_store::chat::UserToolServer;
use oblivious_tools::{ServerOrigin, ToolHub, ToolSpec};
use serde_json::{Map, Value, json};

use crate::relay_client::ToolCallRequest;

/// Longest function name every provider accepts.
const MAX_FUNCTION_NAME: usize = 64;

/// What a reply may call on one server.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolGrant {
    pub server: ToolServer,
    /// A platform `ToolServer`, or a server the user added (the address policy applies).
    pub origin: ServerOrigin,
    /// One tool of the server, or (`None`) every tool it allows.
    pub only: Option<String>,
    /// What users call the server: the resource's `namespace/name`, or the name a user gave theirs.
    pub label: String,
}

impl ToolGrant {
    /// A platform `ToolServer`'s tools (`only` one of them).
    fn platform(server: &ToolServer, only: Option<&str>) -> ToolGrant {
        ToolGrant {
            server: server.clone(),
            origin: ServerOrigin::Platform,
            only: only.map(str::to_string),
            label: server.name.clone(),
        }
    }
}

/// The prefix of a session's reference to one of the user's own servers (`user:<id>`).
pub const USER_SERVER_PREFIX: &str = "user:";

/// The name a user's own server goes by in the hub (unique across users and platform servers).
pub fn user_server(row: &UserToolServer) -> ToolServer {
    ToolServer {
        name: format!("{USER_SERVER_PREFIX}{}", row.id),
        url: row.url.clone(),
        headers: row.headers.clone(),
        ..ToolServer::default()
    }
}

/// The user's own servers, or `None` where the platform does not let users add any (then
/// references to them grant nothing).
pub async fn own_servers(
    chat: &crate::Chat,
    user_id: uuid::Uuid,
) -> oblivious_store::StoreResult<Option<Vec<UserToolServer>>> {
    match chat.config.user_tool_servers {
        true => chat.store().list_user_tool_servers(user_id).await.map(Some),
        false => Ok(None),
    }
}

/// The grants of the tools a user turned on for a session: platform servers open to `group`
/// and (when `own` is given: the platform lets users add servers) the user's own servers.
/// A reference to something gone grants nothing.
pub fn session_grants(
    snapshot: &Snapshot,
    refs: &[String],
    own: Option<&[UserToolServer]>,
    group: &str,
) -> Vec<ToolGrant> {
    refs.iter()
        .filter_map(|reference| match reference.strip_prefix(USER_SERVER_PREFIX) {
            Some(id) => {
                let row = own?.iter().find(|s| s.id.to_string() == id)?;
                Some(ToolGrant {
                    server: user_server(row),
                    origin: ServerOrigin::User,
                    only: None,
                    label: row.name.clone(),
                })
            }
            None => {
                let server = snapshot.tool_servers.iter().find(|s| &s.name == reference && s.open_to(group))?;
                Some(ToolGrant::platform(server, None))
            }
        })
        .collect()
}

/// The grants of a catalog agent's `tools` for a user of `group`. An entry naming a server that
/// is gone or closed to the group grants nothing (compile checks the names; groups are the
/// user's).
pub fn grants(snapshot: &Snapshot, agent: Option<&Agent>, group: &str) -> Vec<ToolGrant> {
    let Some(agent) = agent else { return Vec::new() };
    let mut out: Vec<ToolGrant> = Vec::new();
    for entry in &agent.tools {
        let (server_name, only) = split_entry(entry, snapshot);
        let Some(server) = snapshot.tool_servers.iter().find(|s| s.name == server_name) else {
            tracing::warn!(agent = %agent.name, tool = %entry, "an agent names a tool server that is not configured");
            continue;
        };
        if !server.open_to(group) {
            continue;
        }
        let grant = ToolGrant::platform(server, only);
        if !out.contains(&grant) {
            out.push(grant);
        }
    }
    out
}

/// `namespace/server` or `namespace/server/tool`: a tool name may itself hold a `/`, so the
/// server is the longest configured prefix.
fn split_entry<'a>(entry: &'a str, snapshot: &Snapshot) -> (&'a str, Option<&'a str>) {
    if snapshot.tool_servers.iter().any(|s| s.name == entry) {
        return (entry, None);
    }
    let mut parts = entry.splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(namespace), Some(name), Some(tool)) => (&entry[..namespace.len() + 1 + name.len()], Some(tool)),
        _ => (entry, None),
    }
}

/// One tool offered to the model.
#[derive(Debug, Clone)]
struct Offered {
    /// The function name the model calls it by.
    function: String,
    server: ToolServer,
    origin: ServerOrigin,
    label: String,
    tool: ToolSpec,
}

/// The tools offered to one reply.
#[derive(Debug, Clone, Default)]
pub struct Toolbox {
    offered: Vec<Offered>,
}

impl Toolbox {
    /// Lists the granted servers' tools. A server that cannot be listed is left out (logged):
    /// the reply goes on with the others.
    pub async fn open(hub: &ToolHub, grants: &[ToolGrant]) -> Toolbox {
        let mut offered: Vec<Offered> = Vec::new();
        let mut taken: BTreeSet<String> = BTreeSet::new();
        for grant in grants {
            let tools = match hub.list_tools(&grant.server, grant.origin).await {
                Ok(tools) => tools,
                Err(error) => {
                    tracing::warn!(server = %grant.server.name, code = error.code(), %error, "cannot list a tool server's tools");
                    continue;
                }
            };
            for tool in tools.into_iter().filter(|t| grant.only.as_ref().is_none_or(|only| *only == t.name)) {
                if offered.iter().any(|o| o.server.name == grant.server.name && o.tool.name == tool.name) {
                    continue;
                }
                let function = unique_function_name(&grant.server.name, &tool.name, &taken);
                taken.insert(function.clone());
                let (server, origin, label) = (grant.server.clone(), grant.origin, grant.label.clone());
                offered.push(Offered { function, server, origin, label, tool });
            }
        }
        Toolbox { offered }
    }

    pub fn is_empty(&self) -> bool {
        self.offered.is_empty()
    }

    /// Whether the call waits for the user's approval (its server says so for its tool).
    pub fn needs_approval(&self, call: &ToolCallRequest) -> bool {
        self.offered.iter().any(|o| o.function == call.name && o.server.needs_approval(&o.tool.name))
    }

    /// The request's `tools` (OpenAI function tools).
    pub fn openai_tools(&self) -> Value {
        Value::Array(
            self.offered
                .iter()
                .map(|o| {
                    json!({"type": "function", "function": {
                        "name": o.function,
                        "description": o.tool.description,
                        "parameters": parameters(&o.tool.input_schema),
                    }})
                })
                .collect(),
        )
    }

    /// Runs the call the model asked for and says how it went. Never fails: a bad name, bad
    /// arguments or a failing server are the call's error, which the model is shown.
    pub async fn run(&self, hub: &ToolHub, call: &ToolCallRequest) -> ToolCallRecord {
        let started = Instant::now();
        let offered = self.offered.iter().find(|o| o.function == call.name);
        let mut record = ToolCallRecord::running(call, self);
        let result = match (offered, arguments(&call.arguments)) {
            (None, _) => Err(("unknown_tool", format!("There is no tool named `{}`.", call.name))),
            (_, Err(reason)) => Err(("invalid_arguments", reason)),
            (Some(offered), Ok(arguments)) => {
                match hub.call_tool(&offered.server, offered.origin, &offered.tool.name, arguments).await {
                    Ok(output) if output.is_error => Err(("tool_error", output.text)),
                    Ok(output) => Ok(output.text),
                    Err(error) => Err((error.code(), format!("The tool failed: {error}."))),
                }
            }
        };
        record.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match result {
            Ok(output) => {
                record.status = CallStatus::Ok;
                record.output = output;
            }
            Err((code, message)) => {
                record.status = CallStatus::Error;
                record.error = Some(CallError { code: code.to_string(), message });
            }
        }
        record
    }
}

/// A function name the model can say: the tool's own, made safe, else prefixed by the server.
fn unique_function_name(server: &str, tool: &str, taken: &BTreeSet<String>) -> String {
    let plain = safe_name(tool);
    if !taken.contains(&plain) {
        return plain;
    }
    let short_server = server.rsplit('/').next().unwrap_or(server);
    let prefixed = safe_name(&format!("{short_server}_{tool}"));
    (1..)
        .map(|n| if n == 1 { prefixed.clone() } else { safe_name(&format!("{prefixed}_{n}")) })
        .find(|name| !taken.contains(name))
        .unwrap_or(prefixed)
}

fn safe_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' })
        .take(MAX_FUNCTION_NAME)
        .collect();
    if safe.is_empty() { "tool".into() } else { safe }
}

/// A tool's input schema as OpenAI `parameters` (which must be an object schema).
fn parameters(schema: &Value) -> Value {
    match schema {
        Value::Object(object) if object.get("type").and_then(Value::as_str) == Some("object") => schema.clone(),
        _ => json!({"type": "object", "properties": {}}),
    }
}

/// The model's arguments as the object MCP takes (an empty string is no arguments).
fn arguments(text: &str) -> Result<Map<String, Value>, String> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err("The arguments must be a JSON object.".into()),
        Err(error) => Err(format!("The arguments are not valid JSON: {error}.")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    /// The tool needs the user's approval and waits for it.
    AwaitingApproval,
    Running,
    Ok,
    Error,
    /// The user declined it (or did not decide in time).
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CallError {
    pub code: String,
    pub message: String,
}

/// One tool call of a reply (API.md `ToolCall`), as streamed and stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ToolCallRecord {
    /// The model's id of the call.
    pub id: String,
    /// The name the model called.
    pub function: String,
    /// `namespace/name` of the ToolServer, or `user:<id>` of a user's own ("" for a name no
    /// server has).
    pub server: String,
    /// What the user calls that server (a user's own server's name; else as `server`).
    pub server_name: String,
    /// The server's name of the tool.
    pub tool: String,
    /// The arguments as given (a string when they were not JSON).
    pub arguments: Value,
    pub status: CallStatus,
    /// What the tool gave back (empty on error).
    pub output: String,
    pub error: Option<CallError>,
    pub duration_ms: u64,
}

impl ToolCallRecord {
    /// The record of a call that has just started.
    pub fn running(call: &ToolCallRequest, toolbox: &Toolbox) -> Self {
        let offered = toolbox.offered.iter().find(|o| o.function == call.name);
        ToolCallRecord {
            id: call.id.clone(),
            function: call.name.clone(),
            server: offered.map(|o| o.server.name.clone()).unwrap_or_default(),
            server_name: offered.map(|o| o.label.clone()).unwrap_or_default(),
            tool: offered.map(|o| o.tool.name.clone()).unwrap_or_else(|| call.name.clone()),
            arguments: serde_json::from_str(&call.arguments).unwrap_or(Value::String(call.arguments.clone())),
            status: CallStatus::Running,
            output: String::new(),
            error: None,
            duration_ms: 0,
        }
    }

    /// The record of a call the user declined (`code`: `rejected`, or `approval_timeout`).
    pub fn rejected(mut self, code: &str, message: &str) -> Self {
        self.status = CallStatus::Rejected;
        self.error = Some(CallError { code: code.into(), message: message.into() });
        self
    }

    /// The `tool` message that gives the result to the model.
    pub fn tool_message(&self) -> Value {
        let content = match &self.error {
            None => self.output.clone(),
            Some(error) => format!("Error ({}): {}", error.code, error.message),
        };
        json!({"role": "tool", "tool_call_id": self.id, "content": content})
    }
}

/// A stored tool call (API.md `ToolCall`) as one line: what was called with what, and what came
/// back (cut at 200 characters). Exports show it, and later turns see a reply's calls this way:
/// as text, because replaying them as tool messages needs tools defined on every later request
/// (Anthropic refuses `tool_use` blocks otherwise), even after the user turned them off.
pub fn summary_line(call: &Value) -> String {
    const MAX_SHOWN: usize = 200;
    let text = |key: &str| call[key].as_str().unwrap_or_default().to_string();
    let outcome = match call["error"]["message"].as_str() {
        Some(message) => format!("failed ({}): {message}", call["error"]["code"].as_str().unwrap_or("error")),
        None => text("output"),
    };
    let mut shown: String = outcome.replace('\n', " ").chars().take(MAX_SHOWN).collect();
    if shown.len() < outcome.len() {
        shown.push('…');
    }
    format!("Tool `{}` {}: {shown}", text("tool"), call["arguments"])
}

/// The assistant message that asked for `calls`, as the next request must repeat it.
pub fn assistant_turn(text: &str, calls: &[ToolCallRequest]) -> Value {
    let calls: Vec<Value> = calls
        .iter()
        .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
        .collect();
    json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { json!(text) }, "tool_calls": calls})
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn server(name: &str, groups: &[&str]) -> ToolServer {
        ToolServer {
            name: name.into(),
            url: "http://127.0.0.1:1/mcp".into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..ToolServer::default()
        }
    }

    #[test]
    fn an_agent_grants_whole_servers_or_single_tools_open_to_the_group() {
        let snapshot = Snapshot {
            tool_servers: vec![server("default/everything", &[]), server("default/vault", &["vip"])],
            ..Snapshot::default()
        };
        let agent = Agent {
            name: "default/helper".into(),
            tools: vec![
                "default/everything/echo".into(),
                "default/everything".into(),
                "default/vault".into(),
                "default/gone".into(),
            ],
            ..Agent::default()
        };
        let granted = grants(&snapshot, Some(&agent), "default");
        let names: Vec<(&str, Option<&str>)> =
            granted.iter().map(|g| (g.server.name.as_str(), g.only.as_deref())).collect();
        assert_eq!(names, [("default/everything", Some("echo")), ("default/everything", None)]);
        assert_eq!(grants(&snapshot, Some(&agent), "vip").len(), 3);
        assert!(grants(&snapshot, None, "vip").is_empty());
    }

    #[test]
    fn function_names_are_safe_and_unique() {
        let mut taken = BTreeSet::new();
        let first = unique_function_name("default/a", "get sum.v2", &taken);
        assert_eq!(first, "get_sum_v2");
        taken.insert(first);
        assert_eq!(unique_function_name("default/b", "get sum.v2", &taken), "b_get_sum_v2");
        assert_eq!(safe_name(&"x".repeat(100)).len(), MAX_FUNCTION_NAME);
    }

    #[test]
    fn arguments_must_be_an_object_and_nothing_is_none() {
        assert_eq!(arguments("").unwrap(), Map::new());
        assert_eq!(arguments(r#"{"a": 1}"#).unwrap()["a"], 1);
        assert!(arguments("[1]").unwrap_err().contains("object"));
        assert!(arguments("{nope").unwrap_err().contains("not valid JSON"));
    }

    #[test]
    fn a_failed_call_tells_the_model_why() {
        let call = ToolCallRequest { id: "c1".into(), name: "echo".into(), arguments: "{}".into() };
        let mut record = ToolCallRecord::running(&call, &Toolbox::default());
        record.error = Some(CallError { code: "timeout".into(), message: "too slow".into() });
        assert_eq!(
            record.tool_message(),
            json!({"role": "tool", "tool_call_id": "c1", "content": "Error (timeout): too slow"})
        );
        let turn = assistant_turn("", &[call]);
        assert_eq!(turn["content"], Value::Null);
        assert_eq!(turn["tool_calls"][0]["function"]["name"], "echo");
    }
}
