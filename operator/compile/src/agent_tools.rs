//! An Agent's `tools` entries -> `namespace/server` or `namespace/server/tool`, the form the
//! snapshot carries. What an entry means depends only on how many `/`s it has (documented on
//! `AgentSpec::tools`), never on which resources exist, so creating a ToolServer or a namespace
//! elsewhere can never change what an existing Agent calls:
//!
//! - `server`: every tool of the ToolServer `server` in the Agent's namespace;
//! - `server/tool`: one tool of it;
//! - `namespace/server/tool`: one tool of a ToolServer in any namespace of the tenant.
//!
//! A tool `*` means every tool the server allows (`team/search/*`), which is how a whole server
//! of another namespace is named. Same-namespace names come first because that is where a
//! tenant's Agents and ToolServers live (a Tenant has one namespace).

use std::collections::BTreeMap;

use oblivious_config::ToolServer;

use crate::toolserver::is_tool_name;

/// The tool part that means "every tool the server allows".
const EVERY_TOOL: &str = "*";

/// The normalized entries, or `(index, reason)` for each entry that does not resolve.
pub(crate) fn resolve_tools(
    entries: &[String],
    agent_namespace: &str,
    servers: &BTreeMap<&str, &ToolServer>,
) -> Result<Vec<String>, Vec<(usize, String)>> {
    let mut out: Vec<String> = Vec::new();
    let mut problems = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        match resolve_one(entry, agent_namespace, servers) {
            Ok(normalized) if out.contains(&normalized) => {
                problems.push((i, format!("`{entry}` names `{normalized}` again")))
            }
            Ok(normalized) => out.push(normalized),
            Err(reason) => problems.push((i, reason)),
        }
    }
    if problems.is_empty() { Ok(out) } else { Err(problems) }
}

fn resolve_one(entry: &str, agent_namespace: &str, servers: &BTreeMap<&str, &ToolServer>) -> Result<String, String> {
    let parts: Vec<&str> = entry.split('/').collect();
    let (server, tool) = match parts.as_slice() {
        _ if parts.iter().any(|p| p.is_empty() || p.contains(char::is_whitespace)) => (None, None),
        [name] => (Some(format!("{agent_namespace}/{name}")), Some(EVERY_TOOL)),
        [name, tool] => (Some(format!("{agent_namespace}/{name}")), Some(*tool)),
        [namespace, name, tool] => (Some(format!("{namespace}/{name}")), Some(*tool)),
        _ => (None, None),
    };
    let (Some(server), Some(tool)) = (server, tool) else {
        return Err(format!("`{entry}` is not `server`, `server/tool` or `namespace/server/tool`"));
    };
    let Some(found) = servers.get(server.as_str()) else {
        return Err(not_found(entry, &server, &parts, servers));
    };
    if tool == EVERY_TOOL {
        return Ok(server);
    }
    if !is_tool_name(tool) {
        return Err(format!("`{tool}` is not a tool name (A-Z a-z 0-9 _ - ., or `*` for every tool)"));
    }
    if !found.allows(tool) {
        let allowed = found.allowed_tools.join(", ");
        return Err(format!("ToolServer `{server}` does not allow tool `{tool}` (allowedTools: {allowed})"));
    }
    Ok(format!("{server}/{tool}"))
}

/// "not found", with the likely intent when `a/b` was meant as the whole ToolServer `b` of
/// namespace `a`.
fn not_found(entry: &str, server: &str, parts: &[&str], servers: &BTreeMap<&str, &ToolServer>) -> String {
    let reason = format!("no ToolServer `{server}` in the Agent's tenant");
    if parts.len() == 2 && servers.contains_key(entry) {
        return format!(
            "{reason}; `{entry}` means server/tool in the Agent's namespace: for every tool of ToolServer \
             `{entry}` write `{entry}/*`"
        );
    }
    reason
}
