//! Schema pieces the derives cannot express: bounds on maps, list-map markers, patterns.
//! Every list and string a CEL rule can reach must be bounded, or the API server refuses the
//! CRD for exceeding its CEL cost budget (a test in `crd.rs` walks the generated schemas).

use schemars::Schema;
use serde_json::{Value, json};

/// Go-style durations as `parse_duration_ms` accepts them: `500ms`, `5s`, `2m`, `1h30m`.
pub const DURATION_PATTERN: &str = r"^([0-9]+(ms|s|m|h))+$";
/// Decimal strings for prices and multipliers: `0`, `2.50`, `0.000001` (no floats in a spec).
pub const DECIMAL_PATTERN: &str = r"^[0-9]{1,12}(\.[0-9]{1,6})?$";
/// RFC 1123 label: namespace names, lane tags, Kubernetes names used in DNS.
pub const DNS_LABEL_PATTERN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
/// A UUID in its hyphenated form (a knowledge base id).
pub const UUID_PATTERN: &str = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
/// RFC 3339 timestamp in UTC (what compile accepts): `2026-01-01T00:00:00Z`.
pub const TIMESTAMP_PATTERN: &str = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$";

/// A `map[string]string` with at most `ITEMS` entries, keys up to `KEY` and values up to
/// `VALUE` bytes.
pub fn bounded_string_map<const ITEMS: usize, const KEY: usize, const VALUE: usize>(schema: &mut Schema) {
    schema.insert("maxProperties".into(), json!(ITEMS));
    if let Some(Value::Object(values)) = schema.get_mut("additionalProperties") {
        values.insert("maxLength".into(), json!(VALUE));
    }
    // Keys are not a schema of their own; CEL sees them through `self.all(k, ...)`, so the
    // estimator bounds them by the whole object's size. A rule keeps keys short explicitly.
    push_rule(
        schema,
        json!({"rule": format!("self.all(k, size(k) <= {KEY})"), "message": format!("keys must be at most {KEY} characters")}),
    );
}

/// A map of Kubernetes label keys to values (a `matchLabels`).
pub fn label_map(schema: &mut Schema) {
    bounded_string_map::<16, 317, 63>(schema);
}

/// `conditions` as a list-map keyed by `type`, so server-side apply merges one condition at a
/// time and two condition types can never collide.
pub fn condition_list_map(schema: &mut Schema) {
    schema.insert("x-kubernetes-list-type".into(), json!("map"));
    schema.insert("x-kubernetes-list-map-keys".into(), json!(["type"]));
}

/// Appends a CEL rule to `x-kubernetes-validations`.
pub fn push_rule(schema: &mut Schema, rule: Value) {
    let rules = schema.ensure_object().entry("x-kubernetes-validations").or_insert_with(|| json!([]));
    if let Value::Array(rules) = rules {
        rules.push(rule);
    }
}
