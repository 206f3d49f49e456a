//! ToolServer resources -> the snapshot's MCP servers: one transport (a Streamable HTTP URL or
//! a stdio command), header values resolved from Secrets (names lowercased, as HTTP/2 sends
//! them), allow-lists checked against each other and the call timeout parsed.

use std::collections::{BTreeMap, BTreeSet};

use oblivious_config::ToolServer;
use oblivious_crds::{Secret, Sourced, ToolServerHeader, ToolServerSpec};

use crate::{CompileError, parse_duration_ms};

const DEFAULT_CALL_TIMEOUT_MS: u64 = 30_000;
const MAX_CALL_TIMEOUT_MS: u64 = 10 * 60_000;
const MAX_TOOL_NAME: usize = 128;
/// Headers the MCP client sets itself; a second value would break the session.
const CLIENT_HEADERS: [&str; 8] = [
    "accept",
    "connection",
    "content-length",
    "content-type",
    "host",
    "mcp-protocol-version",
    "mcp-session-id",
    "transfer-encoding",
];
/// Headers whose value is a credential: only from a Secret, never written in the spec.
const CREDENTIAL_HEADERS: [&str; 5] = ["authorization", "proxy-authorization", "x-api-key", "api-key", "cookie"];

pub(crate) fn compile_tool_servers(
    servers: &[Sourced<ToolServerSpec>],
    secrets: &[Sourced<Secret>],
    errors: &mut Vec<CompileError>,
) -> Vec<ToolServer> {
    let secrets_by_key: BTreeMap<String, &Secret> = secrets.iter().map(|s| (s.metadata.key(), &s.spec)).collect();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for source in servers {
        let name = source.metadata.key();
        let mut error = |path: &str, reason: String| {
            errors.push(CompileError {
                origin: source.origin(),
                resource: format!("ToolServer {name}"),
                path: path.to_string(),
                reason,
            })
        };
        if !seen.insert(name.clone()) {
            error("metadata.name", "another ToolServer has the same namespace/name".into());
            continue;
        }
        if let Some(server) = compile_one(source, &secrets_by_key, &mut error) {
            out.push(server);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn compile_one(
    source: &Sourced<ToolServerSpec>,
    secrets: &BTreeMap<String, &Secret>,
    error: &mut dyn FnMut(&str, String),
) -> Option<ToolServer> {
    let spec = &source.spec;
    let mut ok = true;
    let mut fail = |path: &str, reason: String| {
        ok = false;
        error(path, reason);
    };

    let url = spec.url.as_deref().map(str::trim).unwrap_or_default().to_string();
    let mut command = Vec::new();
    let mut env = BTreeMap::new();
    match (&spec.url, &spec.stdio) {
        (Some(_), Some(_)) => fail("spec.stdio", "url and stdio are both set; a server has one transport".into()),
        (None, None) => fail("spec.url", "set url (Streamable HTTP) or stdio".into()),
        (Some(_), None) => {
            if let Err(reason) = validate_url(&url) {
                fail("spec.url", reason);
            }
        }
        (None, Some(stdio)) => {
            if stdio.command.trim().is_empty() {
                fail("spec.stdio.command", "must not be empty".into());
            }
            for name in stdio.env.keys() {
                if name.is_empty() || name.contains(['=', '\0']) {
                    fail(&format!("spec.stdio.env.{name}"), "not a valid environment variable name".into());
                }
            }
            command = std::iter::once(stdio.command.trim().to_string()).chain(stdio.args.iter().cloned()).collect();
            env = stdio.env.clone();
        }
    }
    if spec.stdio.is_some() && !spec.headers.is_empty() {
        fail("spec.headers", "headers are sent only to an HTTP server (url); a stdio server gets stdio.env".into());
    }

    let namespace = source.metadata.namespace();
    let mut headers = BTreeMap::new();
    for (i, header) in spec.headers.iter().enumerate() {
        let path = format!("spec.headers[{i}]");
        let Some((name, value)) = compile_header(header, &path, namespace, secrets, &mut fail) else {
            continue;
        };
        if headers.contains_key(&name) {
            fail(&format!("{path}.name"), format!("duplicate header `{name}` (header names are case-insensitive)"));
            continue;
        }
        headers.insert(name, value);
    }

    let allowed_tools = tool_names(&spec.allowed_tools, "spec.allowedTools", &mut fail);
    let approval_tools = tool_names(&spec.approval_required, "spec.approvalRequired", &mut fail);
    if !allowed_tools.is_empty() {
        for (i, tool) in spec.approval_required.iter().enumerate() {
            if !allowed_tools.contains(tool) {
                fail(&format!("spec.approvalRequired[{i}]"), format!("tool `{tool}` is not in allowedTools"));
            }
        }
    }

    let call_timeout_ms = match spec.timeouts.call.as_deref().map(parse_duration_ms) {
        None => DEFAULT_CALL_TIMEOUT_MS,
        Some(Ok(ms)) if ms > 0 && ms <= MAX_CALL_TIMEOUT_MS => ms,
        Some(Ok(_)) => {
            fail("spec.timeouts.call", "must be greater than zero and at most 10m".into());
            DEFAULT_CALL_TIMEOUT_MS
        }
        Some(Err(reason)) => {
            fail("spec.timeouts.call", reason);
            DEFAULT_CALL_TIMEOUT_MS
        }
    };

    if !ok {
        return None;
    }
    Some(ToolServer {
        name: source.metadata.key(),
        url: if spec.stdio.is_some() { String::new() } else { url },
        command,
        env,
        headers,
        allowed_tools,
        approval_tools,
        call_timeout_ms,
        groups: spec.groups.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect(),
    })
}

fn validate_url(text: &str) -> Result<(), String> {
    let url = url::Url::parse(text).map_err(|e| format!("`{text}` is not a valid URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme `{}` is not supported (use https or http)", url.scheme()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("credentials in the URL are not allowed; send them in a header from a Secret".into());
    }
    if url.fragment().is_some() {
        return Err("the URL must not have a fragment".into());
    }
    Ok(())
}

/// One header as `(lowercase name, value)`. A Secret's value is never part of an error.
fn compile_header(
    header: &ToolServerHeader,
    path: &str,
    namespace: &str,
    secrets: &BTreeMap<String, &Secret>,
    fail: &mut dyn FnMut(&str, String),
) -> Option<(String, String)> {
    let name = header.name.trim().to_ascii_lowercase();
    let mut ok = true;
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        fail(&format!("{path}.name"), format!("`{}` is not an HTTP header name", header.name));
        ok = false;
    } else if CLIENT_HEADERS.contains(&name.as_str()) {
        fail(&format!("{path}.name"), format!("`{name}` is set by the MCP client itself"));
        ok = false;
    }
    let value = match (&header.value, &header.value_from) {
        (Some(_), Some(_)) | (None, None) => {
            fail(path, "set exactly one of value and valueFrom".into());
            return None;
        }
        (Some(_), None) if CREDENTIAL_HEADERS.contains(&name.as_str()) => {
            fail(&format!("{path}.value"), "credentials come from valueFrom.secretKeyRef, not from value".into());
            return None;
        }
        (Some(value), None) => value.clone(),
        (None, Some(source)) => {
            let reference = &source.secret_key_ref;
            let secret_key = format!("{namespace}/{}", reference.name);
            let ref_path = format!("{path}.valueFrom.secretKeyRef");
            let Some(secret) = secrets.get(&secret_key) else {
                fail(&format!("{ref_path}.name"), format!("Secret `{secret_key}` not found"));
                return None;
            };
            let Some(value) = secret.values.get(&reference.key) else {
                fail(&format!("{ref_path}.key"), format!("Secret `{secret_key}` has no key `{}`", reference.key));
                return None;
            };
            // Secrets written with `echo` end in a newline, which no header value may contain.
            let value = value.trim();
            if value.is_empty() {
                fail(&format!("{ref_path}.key"), format!("Secret `{secret_key}` holds an empty value"));
                return None;
            }
            value.to_string()
        }
    };
    if !value.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)) {
        fail(&format!("{path}.value"), "not a valid HTTP header value (printable ASCII only)".into());
        ok = false;
    }
    ok.then_some((name, value))
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+.^_`|~-".contains(&b)
}

/// Tool names, each checked and unique, sorted (their order means nothing).
fn tool_names(names: &[String], path: &str, fail: &mut dyn FnMut(&str, String)) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        if !is_tool_name(name) {
            fail(
                &format!("{path}[{i}]"),
                format!("`{name}` is not a tool name (1 to {MAX_TOOL_NAME} of A-Z a-z 0-9 _ - .)"),
            );
        } else if out.contains(name) {
            fail(&format!("{path}[{i}]"), format!("`{name}` is listed twice"));
        } else {
            out.push(name.clone());
        }
    }
    out.sort();
    out
}

/// MCP's recommended tool names; the same pattern as the CRD's.
pub(crate) fn is_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TOOL_NAME
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}
