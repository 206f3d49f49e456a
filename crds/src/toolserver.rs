use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::SecretKeyRef;
use crate::status::{Condition, SyncStatus};

/// MCP tool names as the specification recommends them; never a `/`, which separates the parts
/// of an Agent's `tools` entry.
pub const TOOL_NAME_PATTERN: &str = r"^[A-Za-z0-9_.-]+$";
/// An HTTP header name (RFC 9110 token).
pub const HEADER_NAME_PATTERN: &str = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$";

/// `spec` of a `ToolServer`: an MCP server whose tools agents may call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(kube::CustomResource, schemars::JsonSchema))]
#[cfg_attr(
    feature = "kube",
    kube(
        group = "oblivious.dev",
        version = "v1alpha1",
        kind = "ToolServer",
        namespaced,
        status = "ToolServerStatus",
        derive = "PartialEq",
        shortname = "ts",
        category = "oblivious",
        doc = "An MCP server agents may call: a Streamable HTTP endpoint (or a stdio command inside `oblivious dev`), auth headers from Secrets, the tools offered and those that wait for the user's approval.",
        printcolumn(name = "URL", type_ = "string", json_path = ".spec.url"),
        printcolumn(name = "Command", type_ = "string", json_path = ".spec.stdio.command", priority = 1),
        printcolumn(name = "Tools", type_ = "integer", json_path = ".status.toolCount"),
        printcolumn(
            name = "Connected",
            type_ = "string",
            json_path = ".status.conditions[?(@.type==\"Connected\")].status"
        ),
        printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
        printcolumn(
            name = "Reason",
            type_ = "string",
            json_path = ".status.conditions[?(@.type==\"Ready\")].reason",
            priority = 1
        ),
        printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
    )
)]
#[cfg_attr(
    feature = "kube",
    schemars(extend("x-kubernetes-validations" = [
        {"rule": "has(self.url) != has(self.stdio)", "message": "set exactly one of url (Streamable HTTP) and stdio"},
        {"rule": "!has(self.headers) || size(self.headers) == 0 || has(self.url)", "message": "headers are sent only to an HTTP server (url); a stdio server gets stdio.env", "fieldPath": ".headers"},
        {"rule": "!has(self.approvalRequired) || !has(self.allowedTools) || size(self.allowedTools) == 0 || self.approvalRequired.all(t, t in self.allowedTools)", "message": "approvalRequired may only name tools in allowedTools", "fieldPath": ".approvalRequired"}
    ]))
)]
#[serde(rename_all = "camelCase")]
pub struct ToolServerSpec {
    /// Streamable HTTP endpoint of the server, e.g. `https://tools.example.com/mcp`. Set this or
    /// `stdio`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "kube",
        schemars(
            length(min = 1, max = 2048),
            extend("x-kubernetes-validations" = [
                {"rule": "self.matches('^https?://[^/?#@]+([/?][^#]*)?$')", "message": "url must be an http(s) URL without credentials or fragment"}
            ])
        )
    )]
    pub url: Option<String>,
    /// A server the data plane starts as a child process, speaking MCP on stdin/stdout. Only
    /// single-process roles (`oblivious dev`) start it: in a cluster the data plane leaves such a
    /// server out and the operator does not probe it (`Connected` stays `Unknown`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdio: Option<StdioTransport>,
    /// Headers sent with every request to `url`, e.g. `Authorization` from a Secret. Names are
    /// case-insensitive and must be unique.
    #[serde(default)]
    #[cfg_attr(
        feature = "kube",
        schemars(
            length(max = 32),
            extend("x-kubernetes-validations" = [
                {"rule": "self.all(h, self.exists_one(g, g.name.lowerAscii() == h.name.lowerAscii()))", "message": "header names must be unique (case-insensitive)"}
            ])
        )
    )]
    pub headers: Vec<ToolServerHeader>,
    /// Tools offered to models; empty means every tool the server lists.
    #[serde(default)]
    #[cfg_attr(
        feature = "kube",
        schemars(
            length(max = 128),
            inner(regex(pattern = TOOL_NAME_PATTERN), length(min = 1, max = 128)),
            extend("x-kubernetes-validations" = [
                {"rule": "self.all(m, self.exists_one(n, n == m))", "message": "allowed tools must be unique"}
            ])
        )
    )]
    pub allowed_tools: Vec<String>,
    /// Tools whose calls wait for the user's approval before they run. When `allowedTools` is
    /// set, each must be one of them.
    #[serde(default)]
    #[cfg_attr(
        feature = "kube",
        schemars(
            length(max = 64),
            inner(regex(pattern = TOOL_NAME_PATTERN), length(min = 1, max = 128)),
            extend("x-kubernetes-validations" = [
                {"rule": "self.all(m, self.exists_one(n, n == m))", "message": "approval tools must be unique"}
            ])
        )
    )]
    pub approval_required: Vec<String>,
    #[serde(default)]
    pub timeouts: ToolServerTimeouts,
    /// User groups that may use the server's tools; empty means every group.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 64), inner(length(min = 1, max = 63))))]
    pub groups: Vec<String>,
}

/// A program speaking MCP on stdin/stdout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct StdioTransport {
    /// The program, looked up on the `PATH` of the process that starts it.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 1024)))]
    pub command: String,
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 64), inner(length(max = 4096))))]
    pub args: Vec<String>,
    /// Environment variables of the process (literal values: this is for `oblivious dev`).
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(transform = crate::schema::bounded_string_map::<64, 256, 4096>))]
    pub env: BTreeMap<String, String>,
}

/// One header sent to the server: a literal `value` or one from a Secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "kube",
    schemars(extend("x-kubernetes-validations" = [
        {"rule": "has(self.value) != has(self.valueFrom)", "message": "set exactly one of value and valueFrom"},
        {"rule": "!has(self.value) || !(self.name.lowerAscii() in ['authorization', 'proxy-authorization', 'x-api-key', 'api-key', 'cookie'])", "message": "credentials come from valueFrom.secretKeyRef, not from value"}
    ]))
)]
#[serde(rename_all = "camelCase")]
pub struct ToolServerHeader {
    /// Header name, e.g. `Authorization`.
    #[cfg_attr(feature = "kube", schemars(regex(pattern = HEADER_NAME_PATTERN), length(min = 1, max = 256)))]
    pub name: String,
    /// A literal value (never a credential: use `valueFrom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(max = 4096)))]
    pub value: Option<String>,
    /// The value from a Secret in the ToolServer's namespace, sent as written there (store
    /// `Bearer …` for an `Authorization` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<HeaderValueSource>,
}

/// Where a header's value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct HeaderValueSource {
    /// The Secret key holding the value.
    pub secret_key_ref: SecretKeyRef,
}

/// How long the data plane waits for the server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ToolServerTimeouts {
    /// Longest one tool call may take: `30s` unless set, at most `10m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(regex(pattern = crate::schema::DURATION_PATTERN), length(max = 32)))]
    pub call: Option<String>,
}

/// What the operator observed about a ToolServer. Header values never appear here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ToolServerStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Accepted`, `ResolvedRefs`, `Connected` and `Ready`.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 16), transform = crate::schema::condition_list_map))]
    pub conditions: Vec<Condition>,
    /// The tools the server listed at the last successful probe, sorted by name (the first 256;
    /// `toolCount` counts them all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "kube", schemars(length(max = 256)))]
    pub tools: Vec<DiscoveredTool>,
    /// How many tools the server listed, for `kubectl get`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_count: Option<u32>,
    /// When the operator last asked the server for its tools (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(max = 64)))]
    pub last_probe_time: Option<String>,
    /// The data plane's uptake of the config containing this server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncStatus>,
}

/// A tool as the server describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DiscoveredTool {
    #[cfg_attr(feature = "kube", schemars(length(max = 256)))]
    pub name: String,
    /// Cut to 1 KiB.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 1024)))]
    pub description: String,
}
