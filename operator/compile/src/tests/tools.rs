//! ToolServers and the Agent `tools` that name them.

use super::*;

const TOKEN_SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata: {name: gh, namespace: team}\nstringData: {token: \"Bearer ghp-secret\\n\"}\n";

fn tool_server(namespace: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: oblivious.dev/v1alpha1\nkind: ToolServer\nmetadata: {{name: {name}, namespace: {namespace}}}\n\
         spec:\n{spec}"
    )
}

fn github(extra: &str) -> String {
    tool_server(
        "team",
        "github",
        &format!(
            "  url: https://mcp.example.com/github\n  allowedTools: [search_issues, create_issue]\n  \
             approvalRequired: [create_issue]\n{extra}"
        ),
    )
}

fn agent(namespace: &str, tools: &str) -> String {
    format!(
        "apiVersion: oblivious.dev/v1alpha1\nkind: Agent\nmetadata: {{name: helper, namespace: {namespace}}}\n\
         spec: {{displayName: Helper, model: gpt-4o, tools: {tools}}}\n"
    )
}

/// A Channel serving `gpt-4o` in `default`, so agents compile.
fn served() -> String {
    format!("{SECRET}---\n{}", channel("a", ""))
}

fn paths(errors: &[CompileError]) -> Vec<&str> {
    errors.iter().map(|e| e.path.as_str()).collect()
}

#[test]
fn an_http_tool_server_compiles_with_secret_headers_lowercased_trimmed_and_defaults() {
    let headers = "  headers:\n  - {name: Authorization, valueFrom: {secretKeyRef: {name: gh, key: token}}}\n  \
                   - {name: X-Team, value: platform}\n  groups: [vip, staff, vip]\n";
    let snap = compile(&manifests(&format!("{TOKEN_SECRET}---\n{}", github(headers)))).unwrap();
    let server = &snap.tool_servers[0];
    assert_eq!(server.name, "team/github");
    assert_eq!(server.url, "https://mcp.example.com/github");
    assert!(server.command.is_empty());
    assert_eq!(server.headers["authorization"], "Bearer ghp-secret", "the Secret's trailing newline is trimmed");
    assert_eq!(server.headers["x-team"], "platform");
    assert_eq!(server.allowed_tools, ["create_issue", "search_issues"], "sorted");
    assert_eq!(server.approval_tools, ["create_issue"]);
    assert!(server.needs_approval("create_issue") && !server.allows("delete_repo"));
    assert_eq!(server.call_timeout_ms, 30_000);
    assert_eq!(server.groups, ["staff", "vip"]);
}

#[test]
fn a_stdio_tool_server_compiles_to_its_command_line_and_env() {
    let spec = "  stdio: {command: npx, args: [-y, '@modelcontextprotocol/server-everything'], env: {DEBUG: '1'}}\n  \
                timeouts: {call: 2m}\n";
    let snap = compile(&manifests(&tool_server("default", "everything", spec))).unwrap();
    let server = &snap.tool_servers[0];
    assert_eq!(server.command, ["npx", "-y", "@modelcontextprotocol/server-everything"]);
    assert_eq!(server.env["DEBUG"], "1");
    assert!(server.url.is_empty() && server.allowed_tools.is_empty());
    assert!(server.allows("anything"), "no allowlist: every tool");
    assert_eq!(server.call_timeout_ms, 120_000);
}

#[test]
fn a_tool_server_needs_exactly_one_transport_and_an_http_url() {
    let both = tool_server("default", "t", "  url: https://x.example/mcp\n  stdio: {command: srv}\n");
    assert_eq!(paths(&errors_of(&both)), ["spec.stdio"]);
    let neither = tool_server("default", "t", "  allowedTools: [a]\n");
    assert_eq!(paths(&errors_of(&neither)), ["spec.url"]);
    let ftp = tool_server("default", "t", "  url: ftp://x.example/mcp\n");
    let errors = errors_of(&ftp);
    assert_eq!(paths(&errors), ["spec.url"]);
    assert!(errors[0].reason.contains("scheme `ftp`"), "{}", errors[0]);
    let credentials = tool_server("default", "t", "  url: https://user:pw@x.example/mcp\n");
    assert!(errors_of(&credentials)[0].reason.contains("credentials in the URL"));
    let stdio_headers = tool_server("default", "t", "  stdio: {command: srv}\n  headers: [{name: X-A, value: b}]\n");
    assert_eq!(paths(&errors_of(&stdio_headers)), ["spec.headers"]);
}

#[test]
fn a_missing_secret_or_key_names_the_header_field_and_never_the_value() {
    let header = |secret: &str, key: &str| {
        github(&format!(
            "  headers: [{{name: Authorization, valueFrom: {{secretKeyRef: {{name: {secret}, key: {key}}}}}}}]\n"
        ))
    };
    let errors = errors_of(&format!("{TOKEN_SECRET}---\n{}", header("nope", "token")));
    assert_eq!(
        errors[0].to_string(),
        "dir/m.yaml (document 2): ToolServer team/github: spec.headers[0].valueFrom.secretKeyRef.name: \
         Secret `team/nope` not found"
    );
    let errors = errors_of(&format!("{TOKEN_SECRET}---\n{}", header("gh", "other")));
    assert_eq!(paths(&errors), ["spec.headers[0].valueFrom.secretKeyRef.key"]);
    assert!(errors[0].reason.contains("has no key `other`"));
    let bad_value = TOKEN_SECRET.replace("Bearer ghp-secret", "Bearer ghp-secret\\u0007");
    let errors = errors_of(&format!("{bad_value}---\n{}", header("gh", "token")));
    assert_eq!(paths(&errors), ["spec.headers[0].value"]);
    assert!(errors.iter().all(|e| !e.to_string().contains("ghp-secret")), "{errors:?}");
}

#[test]
fn duplicate_headers_literal_credentials_and_client_headers_are_refused() {
    let headers = "  headers:\n  - {name: X-Team, value: a}\n  - {name: x-team, value: b}\n  \
                   - {name: Authorization, value: Bearer x}\n  - {name: Mcp-Session-Id, value: s}\n  \
                   - {name: X-Both, value: a, valueFrom: {secretKeyRef: {name: gh, key: token}}}\n";
    let errors = errors_of(&format!("{TOKEN_SECRET}---\n{}", github(headers)));
    assert_eq!(
        paths(&errors),
        ["spec.headers[1].name", "spec.headers[2].value", "spec.headers[3].name", "spec.headers[4]"],
        "{errors:?}"
    );
    assert!(errors[0].reason.contains("duplicate header `x-team`"));
}

#[test]
fn approval_tools_must_be_allowed_and_the_call_timeout_is_bounded() {
    let errors = errors_of(&github("  timeouts: {call: 11m}\n").replace("[create_issue]\n", "[delete_repo]\n"));
    assert_eq!(paths(&errors), ["spec.approvalRequired[0]", "spec.timeouts.call"], "{errors:?}");
    assert!(errors[0].reason.contains("`delete_repo` is not in allowedTools"));
    assert_eq!(paths(&errors_of(&github("  timeouts: {call: 0s}\n"))), ["spec.timeouts.call"]);
    let open = tool_server("default", "t", "  url: https://x.example/mcp\n  approvalRequired: [anything]\n");
    assert_eq!(compile(&manifests(&open)).unwrap().tool_servers[0].approval_tools, ["anything"]);
}

#[test]
fn agent_tools_are_normalized_to_namespace_server_and_namespace_server_tool() {
    let shared = tool_server("shared", "web", "  url: https://web.example/mcp\n");
    let text = format!(
        "{}---\n{}---\n{shared}---\n{}",
        served(),
        github(""),
        agent("team", "[github, github/search_issues, shared/web/*, shared/web/fetch, team/github/create_issue]")
    );
    let snap = compile(&manifests(&text)).unwrap();
    assert_eq!(
        snap.agents[0].tools,
        ["team/github", "team/github/search_issues", "shared/web", "shared/web/fetch", "team/github/create_issue"]
    );
    let names: Vec<&str> = snap.tool_servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["shared/web", "team/github"], "sorted by name");
}

#[test]
fn an_agent_naming_an_unknown_server_a_disallowed_tool_or_a_server_twice_is_refused_on_that_entry() {
    let shared = tool_server("shared", "web", "  url: https://web.example/mcp\n");
    let text = format!(
        "{}---\n{}---\n{shared}---\n{}",
        served(),
        github(""),
        agent("team", "[shared/web, github/delete_repo, other, a/b/c/d, github, github/*, github/no/pe]")
    );
    let errors = errors_of(&text);
    assert_eq!(
        paths(&errors),
        ["spec.tools[0]", "spec.tools[1]", "spec.tools[2]", "spec.tools[3]", "spec.tools[5]", "spec.tools[6]"],
        "{errors:?}"
    );
    assert!(errors.iter().all(|e| e.resource == "Agent team/helper"));
    assert!(
        errors[0].reason.contains("no ToolServer `team/shared`") && errors[0].reason.contains("write `shared/web/*`"),
        "two parts mean server/tool, and the message says how to name a whole server elsewhere: {}",
        errors[0].reason
    );
    assert!(errors[1].reason.contains("does not allow tool `delete_repo`"), "{}", errors[1].reason);
    assert!(errors[2].reason.contains("no ToolServer `team/other`"), "{}", errors[2].reason);
    assert!(errors[3].reason.contains("is not `server`, `server/tool` or `namespace/server/tool`"));
    assert!(errors[4].reason.contains("names `team/github` again"), "{}", errors[4].reason);
    assert!(errors[5].reason.contains("no ToolServer `github/no`"), "{}", errors[5].reason);
}

#[test]
fn tolerant_compile_leaves_out_a_broken_tool_server_and_the_agent_that_names_it() {
    let broken = github("  timeouts: {call: forever}\n");
    let fine = tool_server("team", "fine", "  url: https://fine.example/mcp\n");
    let unaffected = agent("team", "[fine]").replace("name: helper", "name: other");
    let text = format!("{}---\n{broken}---\n{fine}---\n{}---\n{unaffected}", served(), agent("team", "[github]"));
    let compiled = compile_tolerant(&manifests(&text), &Observed::default());
    let servers: Vec<&str> = compiled.snapshot.tool_servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(servers, ["team/fine"]);
    let agents: Vec<&str> = compiled.snapshot.agents.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(agents, ["team/other"]);
    let rejected: Vec<&(String, String)> = compiled.rejected.keys().collect();
    assert_eq!(
        rejected,
        [&("Agent".to_string(), "team/helper".to_string()), &("ToolServer".to_string(), "team/github".to_string())]
    );
    let agent_problem = &compiled.rejected[&("Agent".into(), "team/helper".into())][0];
    assert_eq!(agent_problem.path, "spec.tools[0]");
}
