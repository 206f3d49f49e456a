//! The generated CRDs: checked-in copies are current, every string and list a CEL rule can
//! reach is bounded (the API server refuses CRDs whose rules could exceed its cost budget), and
//! the structural markers the controllers rely on are there.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use serde_json::Value;

fn schemas() -> Vec<(String, Value)> {
    oblivious_crds::crd::all()
        .into_iter()
        .map(|crd| {
            let kind = crd.spec.names.kind.clone();
            let schema =
                serde_json::to_value(&crd.spec.versions[0].schema.as_ref().unwrap().open_api_v3_schema).unwrap();
            (kind, schema)
        })
        .collect()
}

#[test]
fn checked_in_crds_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (name, yaml) in oblivious_operator::crdgen::render().unwrap() {
        for (dir, copy) in oblivious_operator::crdgen::OUTPUT_DIRS {
            let path = root.join(dir).join(&name);
            let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                on_disk == copy(&yaml),
                "{} is stale: run `cargo run -p oblivious-operator -- crdgen` and commit the result",
                path.display()
            );
        }
    }
}

/// Walks `schema`, calling `visit(path, node, under_rule)` where `under_rule` says whether some
/// CEL rule at this node or an ancestor can see it.
fn walk(schema: &Value, path: &str, under_rule: bool, visit: &mut dyn FnMut(&str, &Value, bool)) {
    let has_rules = schema.get("x-kubernetes-validations").and_then(Value::as_array).is_some_and(|r| !r.is_empty());
    let under_rule = under_rule || has_rules;
    visit(path, schema, under_rule);
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, child) in properties {
            walk(child, &format!("{path}.{name}"), under_rule, visit);
        }
    }
    if let Some(items) = schema.get("items") {
        walk(items, &format!("{path}[*]"), under_rule, visit);
    }
    if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        walk(values, &format!("{path}{{*}}"), under_rule, visit);
    }
}

#[test]
fn the_chart_copy_adds_only_the_metadata_hook_and_the_plain_yaml_has_no_template_actions() {
    for (_, yaml) in oblivious_operator::crdgen::render().unwrap() {
        assert!(!yaml.contains("{{"), "Helm would parse it");
        let chart = oblivious_operator::crdgen::chart_copy(&yaml);
        let hook = "  {{- include \"oblivious-crds.metadata\" . | nindent 2 }}\n";
        assert_eq!(chart.matches("{{").count(), 1);
        assert_eq!(chart.replacen(hook, "", 1), yaml);
        assert!(chart.contains(&format!("metadata:\n{hook}  name: ")), "{chart}");
    }
}

#[test]
fn every_list_and_string_a_cel_rule_can_reach_is_bounded() {
    let mut unbounded = Vec::new();
    let mut checked = 0;
    for (kind, schema) in schemas() {
        // metadata is bounded by the API server itself; start at spec and status.
        for part in ["spec", "status"] {
            let Some(root) = schema["properties"].get(part) else { continue };
            walk(root, &format!("{kind}.{part}"), false, &mut |path, node, under_rule| {
                if !under_rule {
                    return;
                }
                let bounded = match node.get("type").and_then(Value::as_str) {
                    Some("string") => node.get("maxLength").is_some() || node.get("enum").is_some(),
                    Some("array") => node.get("maxItems").is_some(),
                    Some("object") if node.get("additionalProperties").is_some() => node.get("maxProperties").is_some(),
                    _ => true,
                };
                checked += 1;
                if !bounded {
                    unbounded.push(path.to_string());
                }
            });
        }
    }
    assert!(checked > 50, "the walk must reach the rule-covered fields ({checked})");
    assert!(unbounded.is_empty(), "unbounded but reachable by CEL: {unbounded:#?}");
}

#[test]
fn every_spec_list_and_string_is_bounded_even_without_a_rule() {
    // Stricter than the API server needs: a rule added later must not make the CRD invalid.
    let mut unbounded = Vec::new();
    for (kind, schema) in schemas() {
        walk(&schema["properties"]["spec"], &format!("{kind}.spec"), true, &mut |path, node, _| {
            let bounded = match node.get("type").and_then(Value::as_str) {
                Some("string") => node.get("maxLength").is_some() || node.get("enum").is_some(),
                Some("array") => node.get("maxItems").is_some(),
                Some("object") if node.get("additionalProperties").is_some() => node.get("maxProperties").is_some(),
                _ => true,
            };
            if !bounded {
                unbounded.push(path.to_string());
            }
        });
    }
    assert!(unbounded.is_empty(), "{unbounded:#?}");
}

#[test]
fn every_kind_has_status_conditions_as_a_list_map_keyed_by_type() {
    for (kind, schema) in schemas() {
        let conditions = &schema["properties"]["status"]["properties"]["conditions"];
        assert_eq!(conditions["x-kubernetes-list-type"], "map", "{kind}");
        assert_eq!(conditions["x-kubernetes-list-map-keys"], serde_json::json!(["type"]), "{kind}");
        assert!(conditions["items"]["required"].as_array().unwrap().contains(&"type".into()), "{kind}");
        assert!(schema["properties"]["status"]["properties"].get("observedGeneration").is_some(), "{kind}");
    }
}

#[test]
fn every_kind_has_a_status_subresource_ready_column_short_name_and_the_oblivious_category() {
    for crd in oblivious_crds::crd::all() {
        let kind = &crd.spec.names.kind;
        let version = &crd.spec.versions[0];
        assert!(version.subresources.as_ref().and_then(|s| s.status.as_ref()).is_some(), "{kind}: status subresource");
        let columns = version.additional_printer_columns.as_ref().unwrap();
        assert!(columns.iter().any(|c| c.name == "Ready" && c.json_path.contains("@.type==\"Ready\"")), "{kind}");
        assert!(columns.iter().any(|c| c.name == "Age"), "{kind}");
        assert!(crd.spec.names.short_names.as_ref().is_some_and(|s| !s.is_empty()), "{kind}");
        assert_eq!(crd.spec.names.categories.as_deref(), Some(&["oblivious".to_string()][..]), "{kind}");
    }
    let channel = oblivious_crds::crd::all().remove(0);
    let columns: Vec<String> =
        channel.spec.versions[0].additional_printer_columns.clone().unwrap().into_iter().map(|c| c.name).collect();
    assert_eq!(
        columns,
        ["Provider", "Models", "Ready", "Reason", "Healthy", "Success", "P50 ms", "P99 ms", "Synced", "Age"]
    );
}

#[test]
fn tenant_is_cluster_scoped_and_the_rest_namespaced() {
    for crd in oblivious_crds::crd::all() {
        let expected = if crd.spec.names.kind == "Tenant" { "Cluster" } else { "Namespaced" };
        assert_eq!(crd.spec.scope, expected, "{}", crd.spec.names.kind);
    }
}

#[test]
fn tool_server_shows_its_url_tool_count_and_connection_and_requires_one_transport() {
    let crd = oblivious_crds::crd::all().into_iter().find(|c| c.spec.names.kind == "ToolServer").unwrap();
    assert_eq!(crd.spec.names.short_names.as_deref(), Some(&["ts".to_string()][..]));
    let columns: Vec<String> =
        crd.spec.versions[0].additional_printer_columns.clone().unwrap().into_iter().map(|c| c.name).collect();
    assert_eq!(columns, ["URL", "Command", "Tools", "Connected", "Ready", "Reason", "Age"]);
    let schema = serde_json::to_value(&crd.spec.versions[0].schema.as_ref().unwrap().open_api_v3_schema).unwrap();
    let rules: Vec<&str> = schema["properties"]["spec"]["x-kubernetes-validations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"has(self.url) != has(self.stdio)"), "{rules:?}");
    let status = &schema["properties"]["status"]["properties"];
    assert_eq!(status["tools"]["maxItems"], 256);
    assert!(status.get("lastProbeTime").is_some() && status.get("sync").is_some());
}
