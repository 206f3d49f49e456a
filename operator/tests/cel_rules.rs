//! Client-side evaluation of every CEL rule (`x-kubernetes-validations`) in the generated CRDs
//! with the `cel` crate, the way the API server runs them: defaults applied first, a rule
//! evaluated at each node its schema path reaches, transition rules (`oldSelf`) only on update.
//! Valid fixtures pass every rule; each invalid fixture fails exactly the rule it targets; and
//! every rule is targeted by at least one fixture, so none is dead.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::{Value, json};

#[derive(Debug, Clone)]
enum Seg {
    Prop(String),
    Items,
    Values,
}

#[derive(Debug, Clone)]
struct Site {
    kind: String,
    path: Vec<Seg>,
    rule: String,
    message: String,
}

fn crd_schemas() -> Vec<(String, Value)> {
    oblivious_crds::crd::all()
        .into_iter()
        .map(|crd| {
            let schema = crd.spec.versions[0].schema.as_ref().unwrap().open_api_v3_schema.clone();
            (crd.spec.names.kind.clone(), serde_json::to_value(schema).unwrap())
        })
        .collect()
}

fn collect_sites(kind: &str, schema: &Value, path: &mut Vec<Seg>, out: &mut Vec<Site>) {
    for rule in schema.get("x-kubernetes-validations").and_then(Value::as_array).into_iter().flatten() {
        out.push(Site {
            kind: kind.into(),
            path: path.clone(),
            rule: rule["rule"].as_str().unwrap().into(),
            message: rule["message"].as_str().unwrap_or_default().into(),
        });
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, child) in properties {
            path.push(Seg::Prop(name.clone()));
            collect_sites(kind, child, path, out);
            path.pop();
        }
    }
    if let Some(items) = schema.get("items") {
        path.push(Seg::Items);
        collect_sites(kind, items, path, out);
        path.pop();
    }
    if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        path.push(Seg::Values);
        collect_sites(kind, values, path, out);
        path.pop();
    }
}

fn sites() -> Vec<Site> {
    let mut out = Vec::new();
    for (kind, schema) in crd_schemas() {
        collect_sites(&kind, &schema, &mut Vec::new(), &mut out);
    }
    out
}

/// Fills in `default`s the way the API server does before validating.
fn apply_defaults(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, child) in properties {
                    if !map.contains_key(name)
                        && let Some(default) = child.get("default")
                    {
                        map.insert(name.clone(), default.clone());
                    }
                    if let Some(v) = map.get_mut(name) {
                        apply_defaults(child, v);
                    }
                }
            }
            if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
                for v in map.values_mut() {
                    apply_defaults(values, v);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    apply_defaults(item_schema, item);
                }
            }
        }
        _ => {}
    }
}

/// Every node `path` reaches in `value`, with the concrete route to it (to find `oldSelf`).
fn reach<'a>(value: &'a Value, path: &[Seg], route: String, out: &mut Vec<(String, &'a Value)>) {
    let Some((first, rest)) = path.split_first() else {
        out.push((route, value));
        return;
    };
    match (first, value) {
        (Seg::Prop(name), Value::Object(map)) => {
            if let Some(child) = map.get(name) {
                reach(child, rest, format!("{route}/{name}"), out);
            }
        }
        (Seg::Items, Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                reach(item, rest, format!("{route}/{i}"), out);
            }
        }
        (Seg::Values, Value::Object(map)) => {
            for (k, v) in map {
                reach(v, rest, format!("{route}/{k}"), out);
            }
        }
        _ => {}
    }
}

fn to_cel(value: &Value) -> cel::Value {
    match value {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => cel::Value::Int(i),
            None => cel::Value::Float(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        Value::Array(items) => cel::Value::List(Arc::new(items.iter().map(to_cel).collect())),
        Value::Object(map) => {
            let map: HashMap<cel::objects::Key, cel::Value> =
                map.iter().map(|(k, v)| (cel::objects::Key::String(Arc::new(k.clone())), to_cel(v))).collect();
            cel::Value::Map(map.into())
        }
    }
}

fn env() -> Arc<cel::Env> {
    let mut env = cel::Env::stdlib();
    env.add_extension(cel::extensions::strings).unwrap();
    Arc::new(env)
}

/// The messages of the rules `object` breaks (an evaluation error counts, with its text).
fn violations(object: &Value, old: Option<&Value>) -> Vec<String> {
    let kind = object["kind"].as_str().unwrap();
    let schema = crd_schemas().into_iter().find(|(k, _)| k == kind).unwrap().1;
    let mut object = object.clone();
    apply_defaults(&schema, &mut object);
    let old = old.map(|o| {
        let mut o = o.clone();
        apply_defaults(&schema, &mut o);
        o
    });
    let env = env();
    let mut failed = Vec::new();
    for site in sites().into_iter().filter(|s| s.kind == kind) {
        let transition = site.rule.contains("oldSelf");
        if transition && old.is_none() {
            continue;
        }
        let mut nodes = Vec::new();
        reach(&object, &site.path, String::new(), &mut nodes);
        for (route, node) in nodes {
            let old_node = old.as_ref().and_then(|o| if route.is_empty() { Some(o) } else { o.pointer(&route) });
            if transition && old_node.is_none() {
                continue;
            }
            let program = env.compile(&site.rule).unwrap_or_else(|e| panic!("{}: {e:?}", site.rule));
            let mut context = cel::Context::with_env(env.clone());
            context.add_variable_from_value("self", to_cel(node));
            if let Some(old_node) = old_node {
                context.add_variable_from_value("oldSelf", to_cel(old_node));
            }
            match program.execute(&context) {
                Ok(cel::Value::Bool(true)) => {}
                Ok(cel::Value::Bool(false)) => failed.push(site.message.clone()),
                other => failed.push(format!("rule `{}` at {route} did not evaluate to a bool: {other:?}", site.rule)),
            }
        }
    }
    failed
}

fn channel() -> Value {
    json!({
        "apiVersion": "oblivious.dev/v1alpha1", "kind": "Channel", "metadata": {"name": "c", "namespace": "team"},
        "spec": {
            "provider": "openai", "baseUrl": "https://api.openai.com/v1",
            "apiKeySecretRef": {"name": "keys", "key": "openai"},
            "models": [{"name": "gpt-4o"}, {"name": "gpt-4o-mini", "upstreamModel": "gpt-4o-mini-2024"}],
            "headers": {"OpenAI-Organization": "org-1"}
        }
    })
}

fn pricing() -> Value {
    json!({
        "apiVersion": "oblivious.dev/v1alpha1", "kind": "ModelPricing", "metadata": {"name": "p", "namespace": "team"},
        "spec": {
            "currency": "USD",
            "models": [{"name": "gpt-4o", "input": "2.50", "output": "10", "tiers": [{"aboveInputTokens": 200000, "input": "5", "output": "20"}]}],
            "groupMultipliers": {"vip": "0.8"},
            "groupLimits": [{"group": "free", "rpm": 10}]
        }
    })
}

fn agent() -> Value {
    json!({
        "apiVersion": "oblivious.dev/v1alpha1", "kind": "Agent", "metadata": {"name": "a", "namespace": "team"},
        "spec": {"displayName": "Helper", "model": "gpt-4o", "fallbackModels": ["gpt-4o-mini"]}
    })
}

fn tool_server() -> Value {
    json!({
        "apiVersion": "oblivious.dev/v1alpha1", "kind": "ToolServer", "metadata": {"name": "github", "namespace": "team"},
        "spec": {
            "url": "https://api.githubcopilot.com/mcp/",
            "headers": [
                {"name": "Authorization", "valueFrom": {"secretKeyRef": {"name": "gh", "key": "token"}}},
                {"name": "X-MCP-Toolsets", "value": "issues"}
            ],
            "allowedTools": ["search_issues", "create_issue"],
            "approvalRequired": ["create_issue"],
            "timeouts": {"call": "30s"},
            "groups": ["staff"]
        }
    })
}

fn stdio_tool_server() -> Value {
    let server = without(without(tool_server(), "/spec/url"), "/spec/headers");
    with(server, "/spec/stdio", json!({"command": "npx", "args": ["-y", "server-everything"], "env": {"DEBUG": "1"}}))
}

/// The manifests `crds/examples/toolservers.yaml` ships commented out, uncommented.
fn tool_server_examples() -> Vec<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crds/examples/toolservers.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let start = text.find("# ---").unwrap();
    let yaml: Vec<&str> =
        text[start..].lines().map(|l| l.strip_prefix("# ").or(l.strip_prefix('#')).unwrap_or(l)).collect();
    let documents: Vec<Value> = serde_yaml::Deserializer::from_str(&yaml.join("\n"))
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .filter(|v: &Value| v["kind"] == "ToolServer")
        .collect();
    assert_eq!(documents.len(), 2, "the example file still holds its two ToolServers");
    documents
}

fn lane() -> Value {
    json!({
        "apiVersion": "oblivious.dev/v1alpha1", "kind": "Lane", "metadata": {"name": "gray", "namespace": "team"},
        "spec": {
            "tag": "gray",
            "conditions": {"operator": "Or", "rules": [
                {"header": {"name": "x-canary", "value": "1"}},
                {"hash": {"stickyKey": "userId", "percent": 5}},
                {"userIds": ["u1", "u2"]}
            ]},
            "members": [
                {"service": "relay", "selector": {"app": "relay", "track": "gray"}},
                {"service": "chat", "endpoint": "http://10.0.0.7:8080"}
            ],
            "expiresAt": "2030-01-01T00:00:00Z"
        }
    })
}

fn tenant() -> Value {
    json!({
        "apiVersion": "oblivious.dev/v1alpha1", "kind": "Tenant", "metadata": {"name": "acme"},
        "spec": {
            "namespace": "tenant-acme",
            "owners": [{"kind": "Group", "name": "acme-admins"}, {"kind": "ServiceAccount", "name": "ci", "namespace": "acme-ci", "role": "edit"}],
            "quota": {"requests.cpu": "8", "pods": "50"},
            "fleet": {"roles": ["relay", "gateway"], "minReplicas": 2, "maxReplicas": 6},
            "database": {"isolation": "Schema"},
            "budget": {"currency": "USD", "monthlyLimit": "5000"}
        }
    })
}

fn with(mut base: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = base.pointer_mut(parent).unwrap_or_else(|| panic!("{parent}"));
    match target {
        Value::Array(items) => {
            let index: usize = key.parse().unwrap();
            if index == items.len() { items.push(value) } else { items[index] = value }
        }
        Value::Object(map) => {
            map.insert(key.into(), value);
        }
        _ => panic!("{pointer}"),
    }
    base
}

fn without(mut base: Value, pointer: &str) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    base.pointer_mut(parent).unwrap().as_object_mut().unwrap().remove(key);
    base
}

struct Invalid {
    what: &'static str,
    object: Value,
    old: Option<Value>,
    breaks: &'static str,
}

fn invalid_fixtures() -> Vec<Invalid> {
    let case = |what, object, breaks| Invalid { what, object, old: None, breaks };
    vec![
        case(
            "an azure channel without apiVersion",
            with(channel(), "/spec/provider", json!("azure-openai")),
            "provider azure-openai needs apiVersion",
        ),
        case(
            "an openai channel with apiVersion",
            with(channel(), "/spec/apiVersion", json!("2024-06-01")),
            "apiVersion is only used by provider azure-openai",
        ),
        case(
            "a vertex-ai channel without vertex",
            with(channel(), "/spec/provider", json!("vertex-ai")),
            "provider vertex-ai needs vertex (project and location)",
        ),
        case(
            "an openai channel with vertex",
            with(channel(), "/spec/vertex", json!({"project": "acme-prod", "location": "us-central1"})),
            "vertex is only used by provider vertex-ai",
        ),
        case(
            "an openai channel without a base URL",
            without(channel(), "/spec/baseUrl"),
            "baseUrl is required (only vertex-ai has a default: its regional endpoint)",
        ),
        case(
            "a base URL with credentials",
            with(channel(), "/spec/baseUrl", json!("https://user:pw@api.openai.com/v1")),
            "baseUrl must be an http(s) URL",
        ),
        case(
            "a base URL with a query",
            with(channel(), "/spec/baseUrl", json!("https://api.openai.com/v1?key=x")),
            "baseUrl must be an http(s) URL",
        ),
        case(
            "an ftp base URL",
            with(channel(), "/spec/baseUrl", json!("ftp://example.com")),
            "baseUrl must be an http(s) URL",
        ),
        case(
            "duplicate model names",
            with(channel(), "/spec/models/1/name", json!("gpt-4o")),
            "model names must be unique",
        ),
        case(
            "a provider key in headers",
            with(channel(), "/spec/headers", json!({"Authorization": "Bearer sk-x"})),
            "provider keys come from apiKeySecretRef",
        ),
        case(
            "an overlong header name",
            with(channel(), "/spec/headers", json!({"x".repeat(300): "v"})),
            "keys must be at most 256 characters",
        ),
        case(
            "a model priced twice",
            with(pricing(), "/spec/models/1", json!({"name": "gpt-4o", "input": "1", "output": "1"})),
            "a model is priced at most once per list",
        ),
        case(
            "two tiers at one threshold",
            with(
                pricing(),
                "/spec/models/0/tiers/1",
                json!({"aboveInputTokens": 200000, "input": "6", "output": "30"}),
            ),
            "tier thresholds must be unique",
        ),
        case(
            "an image price that names neither a size nor a quality",
            with(pricing(), "/spec/models/0/imagePrices", json!([{"perImage": "0.04"}])),
            "name a size, a quality or both",
        ),
        case(
            "a multiplier that is not a decimal",
            with(pricing(), "/spec/groupMultipliers", json!({"vip": "0,8"})),
            "multipliers are decimal strings",
        ),
        case(
            "a group limit with neither rpm nor tpm",
            with(pricing(), "/spec/groupLimits/0", json!({"group": "free"})),
            "set rpm, tpm or both",
        ),
        case(
            "a zero limit",
            with(pricing(), "/spec/groupLimits/0", json!({"group": "free", "tpm": 0})),
            "a limit of 0 would refuse everything",
        ),
        case(
            "an overlong group name in multipliers",
            with(pricing(), "/spec/groupMultipliers", json!({"g".repeat(64): "1"})),
            "keys must be at most 63 characters",
        ),
        case(
            "a fallback repeating the model",
            with(agent(), "/spec/fallbackModels", json!(["gpt-4o"])),
            "fallbackModels must not repeat model",
        ),
        case(
            "a fallback listed twice",
            with(agent(), "/spec/fallbackModels", json!(["m", "m"])),
            "fallback models must be unique",
        ),
        case(
            "agent tools listed twice",
            with(agent(), "/spec/tools", json!(["github", "github"])),
            "tools must be unique",
        ),
        case(
            "a tool server with url and stdio",
            with(tool_server(), "/spec/stdio", json!({"command": "srv"})),
            "set exactly one of url (Streamable HTTP) and stdio",
        ),
        case(
            "a tool server with no transport",
            without(without(tool_server(), "/spec/url"), "/spec/headers"),
            "set exactly one of url (Streamable HTTP) and stdio",
        ),
        case(
            "headers for a stdio server",
            with(stdio_tool_server(), "/spec/headers", json!([{"name": "X-A", "value": "b"}])),
            "headers are sent only to an HTTP server",
        ),
        case(
            "an approval tool that is not allowed",
            with(tool_server(), "/spec/approvalRequired", json!(["delete_repo"])),
            "approvalRequired may only name tools in allowedTools",
        ),
        case(
            "a tool server URL with credentials",
            with(tool_server(), "/spec/url", json!("https://user:pw@mcp.example.com/mcp")),
            "url must be an http(s) URL without credentials or fragment",
        ),
        case(
            "a tool server URL with another scheme",
            with(tool_server(), "/spec/url", json!("ws://mcp.example.com/mcp")),
            "url must be an http(s) URL without credentials or fragment",
        ),
        case(
            "a header listed twice in another case",
            with(tool_server(), "/spec/headers/2", json!({"name": "x-mcp-toolsets", "value": "repos"})),
            "header names must be unique (case-insensitive)",
        ),
        case(
            "an allowed tool listed twice",
            with(tool_server(), "/spec/allowedTools", json!(["create_issue", "create_issue"])),
            "allowed tools must be unique",
        ),
        case(
            "an approval tool listed twice",
            with(tool_server(), "/spec/approvalRequired", json!(["create_issue", "create_issue"])),
            "approval tools must be unique",
        ),
        case(
            "a header with value and valueFrom",
            with(tool_server(), "/spec/headers/1/valueFrom", json!({"secretKeyRef": {"name": "gh", "key": "t"}})),
            "set exactly one of value and valueFrom",
        ),
        case(
            "a header with neither value nor valueFrom",
            with(tool_server(), "/spec/headers/1", json!({"name": "X-A"})),
            "set exactly one of value and valueFrom",
        ),
        case(
            "a literal authorization header",
            with(tool_server(), "/spec/headers/0", json!({"name": "authorization", "value": "Bearer x"})),
            "credentials come from valueFrom.secretKeyRef, not from value",
        ),
        case(
            "an overlong stdio environment name",
            with(stdio_tool_server(), "/spec/stdio/env", json!({"E".repeat(257): "1"})),
            "keys must be at most 256 characters",
        ),
        case(
            "the tag baseline",
            with(lane(), "/spec/tag", json!("baseline")),
            "`baseline` names the traffic outside every lane",
        ),
        Invalid {
            what: "a changed tag",
            object: with(lane(), "/spec/tag", json!("blue")),
            old: Some(lane()),
            breaks: "tag is immutable",
        },
        case(
            "a rule with two matchers",
            with(lane(), "/spec/conditions/rules/0", json!({"header": {"name": "a"}, "percentage": 5})),
            "set exactly one of header, cookie",
        ),
        case("an empty rule", with(lane(), "/spec/conditions/rules/0", json!({})), "set exactly one of header, cookie"),
        case(
            "a service listed twice",
            with(lane(), "/spec/members/1/service", json!("relay")),
            "each service appears once",
        ),
        case(
            "a member with selector and endpoint",
            with(lane(), "/spec/members/0/endpoint", json!("http://x:1")),
            "set exactly one of selector and endpoint",
        ),
        case(
            "a member with a path in its endpoint",
            with(lane(), "/spec/members/1/endpoint", json!("http://10.0.0.7:8080/v1")),
            "endpoint is a base URL",
        ),
        case(
            "an overlong label key",
            with(lane(), "/spec/members/0/selector", json!({"k".repeat(318): "v"})),
            "keys must be at most 317 characters",
        ),
        case(
            "the tenant named default",
            with(tenant(), "/metadata/name", json!("default")),
            "`default` is the platform tenant",
        ),
        case(
            "an overlong tenant name",
            with(tenant(), "/metadata/name", json!("t".repeat(64))),
            "a tenant name is used as a label value",
        ),
        Invalid {
            what: "a moved tenant",
            object: with(tenant(), "/spec/namespace", json!("elsewhere")),
            old: Some(tenant()),
            breaks: "namespace is immutable",
        },
        case(
            "a tenant in kube-system",
            with(tenant(), "/spec/namespace", json!("kube-system")),
            "a tenant needs a namespace of its own",
        ),
        case(
            "own database without a secret",
            with(tenant(), "/spec/database/isolation", json!("Database")),
            "database isolation Database needs",
        ),
        case(
            "a user owner with a namespace",
            with(tenant(), "/spec/owners/0/namespace", json!("x")),
            "namespace is only for ServiceAccount owners",
        ),
        case(
            "max below min replicas",
            with(tenant(), "/spec/fleet/maxReplicas", json!(1)),
            "maxReplicas must be at least minReplicas",
        ),
        case(
            "a plain-http object store without allowHttp",
            with(tenant(), "/spec/objectStore", json!({"url": "s3://files", "endpoint": "http://minio:9000"})),
            "a plain-http endpoint needs allowHttp: true",
        ),
        case(
            "a role listed twice",
            with(tenant(), "/spec/fleet/roles", json!(["relay", "relay"])),
            "each role appears once",
        ),
        case(
            "an overlong quota name",
            with(tenant(), "/spec/quota", json!({"q".repeat(254): "1"})),
            "keys must be at most 253 characters",
        ),
        case(
            "an overlong limit name",
            with(tenant(), "/spec/limits", json!({"defaultRequest": {"c".repeat(64): "1"}})),
            "keys must be at most 63 characters",
        ),
    ]
}

#[test]
fn valid_fixtures_pass_every_rule() {
    let mut fixtures = vec![channel(), pricing(), agent(), tool_server(), stdio_tool_server(), lane(), tenant()];
    fixtures.push(with(
        agent(),
        "/spec/tools",
        json!(["github", "github/search_issues", "shared/web/*", "shared/web/fetch"]),
    ));
    // No allowlist: any tool may wait for approval.
    fixtures.push(without(tool_server(), "/spec/allowedTools"));
    fixtures.push(with(tool_server(), "/spec/allowedTools", json!([])));
    fixtures.extend(tool_server_examples());
    fixtures.push(with(
        with(channel(), "/spec/provider", json!("azure-openai")),
        "/spec/apiVersion",
        json!("2024-06-01"),
    ));
    fixtures.push(with(channel(), "/spec/baseUrl", json!("builtin://mock-upstream/v1")));
    fixtures.push(with(channel(), "/spec/baseUrl", json!("http://vllm.models.svc:8000")));
    fixtures.push(without(agent(), "/spec/fallbackModels"));
    fixtures.push(with(
        with(
            tenant(),
            "/spec/database",
            json!({"isolation": "Database", "connectionSecretRef": {"name": "db", "key": "DATABASE_URL"}}),
        ),
        "/spec/preventDeletion",
        json!(true),
    ));
    fixtures.push(json!({"apiVersion": "oblivious.dev/v1alpha1", "kind": "Tenant", "metadata": {"name": "minimal"}, "spec": {"namespace": "minimal"}}));
    // The examples `oblivious dev` ships must be valid in a cluster too.
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crds/examples");
    for entry in std::fs::read_dir(examples).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            for document in serde_yaml::Deserializer::from_str(&std::fs::read_to_string(&path).unwrap()) {
                let value: Value = serde::Deserialize::deserialize(document).unwrap();
                if value["apiVersion"] == "oblivious.dev/v1alpha1" {
                    fixtures.push(value);
                }
            }
        }
    }
    for fixture in &fixtures {
        let broken = violations(fixture, None);
        assert!(broken.is_empty(), "{} {}: {broken:?}", fixture["kind"], fixture["metadata"]["name"]);
        // An update that changes nothing passes the transition rules too.
        assert!(violations(fixture, Some(fixture)).is_empty());
    }
}

#[test]
fn each_invalid_fixture_breaks_exactly_the_rule_it_targets() {
    for case in invalid_fixtures() {
        let broken = violations(&case.object, case.old.as_ref());
        assert!(
            broken.len() == 1 && broken[0].contains(case.breaks),
            "{}: expected only `{}`, got {broken:?}",
            case.what,
            case.breaks
        );
    }
}

#[test]
fn every_rule_is_exercised_by_an_invalid_fixture() {
    let fixtures = invalid_fixtures();
    let targeted: Vec<&str> = fixtures.iter().map(|c| c.breaks).collect();
    let untested: BTreeSet<String> = sites()
        .into_iter()
        .filter(|site| !targeted.iter().any(|t| site.message.contains(t)))
        .map(|site| format!("{}: {} ({})", site.kind, site.rule, site.message))
        .collect();
    assert!(untested.is_empty(), "rules no fixture breaks: {untested:#?}");
}
