//! Typed accessors over a parsed JSON body for ingress parsers. Every error is a 400 naming the
//! exact field path at fault (`messages[1].content[0].type`), the way the providers' own
//! validation reports it, whichever dialect the client speaks.

use oblivious_core::ApiError;
use serde_json::{Map, Value};

pub(crate) fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() { name.to_string() } else { format!("{parent}.{name}") }
}

pub(crate) fn invalid(path: impl Into<String>, reason: impl Into<String>) -> ApiError {
    ApiError::invalid_field(path, reason)
}

pub(crate) fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn expected(path: &str, what: &str, got: &Value) -> ApiError {
    invalid(path, format!("must be {what}, got {}", describe(got)))
}

/// A field that is present and not `null`.
pub(crate) fn optional<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.get(name).filter(|v| !v.is_null())
}

pub(crate) fn required<'a>(object: &'a Map<String, Value>, name: &str, parent: &str) -> Result<&'a Value, ApiError> {
    optional(object, name).ok_or_else(|| invalid(join(parent, name), "field required"))
}

pub(crate) fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, ApiError> {
    value.as_object().ok_or_else(|| expected(path, "an object", value))
}

pub(crate) fn string<'a>(object: &'a Map<String, Value>, name: &str, parent: &str) -> Result<&'a str, ApiError> {
    let value = required(object, name, parent)?;
    value.as_str().ok_or_else(|| expected(&join(parent, name), "a string", value))
}

pub(crate) fn block_type<'a>(block: &'a Map<String, Value>, path: &str) -> Result<&'a str, ApiError> {
    string(block, "type", path)
}

pub(crate) fn number(value: &Value, path: &str) -> Result<f64, ApiError> {
    value.as_f64().ok_or_else(|| expected(path, "a number", value))
}

pub(crate) fn unsigned_u32(value: &Value, path: &str) -> Result<u32, ApiError> {
    let n = value.as_u64().ok_or_else(|| expected(path, "a non-negative integer", value))?;
    u32::try_from(n).map_err(|_| invalid(path, format!("must be at most {}", u32::MAX)))
}

pub(crate) fn positive_u32(value: &Value, path: &str) -> Result<u32, ApiError> {
    let n = unsigned_u32(value, path)?;
    if n == 0 {
        return Err(invalid(path, "must be greater than or equal to 1"));
    }
    Ok(n)
}

pub(crate) fn string_array(value: &Value, path: &str) -> Result<Vec<String>, ApiError> {
    let items = value.as_array().ok_or_else(|| expected(path, "an array of strings", value))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_str().map(str::to_string).ok_or_else(|| expected(&format!("{path}[{i}]"), "a string", item))
        })
        .collect()
}
