//! Content helpers every dialect needs: inline image data URLs and tool-call arguments.

use serde_json::{Map, Value};

/// The arguments JSON text of a tool call as a JSON object (Anthropic `input`, Gemini `args`). Empty or
/// invalid text (a model that produced broken JSON) becomes `{}`.
pub(crate) fn arguments_object(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(value @ Value::Object(_)) => value,
        _ => Value::Object(Map::new()),
    }
}

/// `data:image/png;base64,AAAA` -> (`image/png`, `AAAA`). Providers that fetch only
/// http(s) URLs need inline data as a base64 part.
pub(crate) fn parse_data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (header, data) = rest.split_once(',')?;
    let media_type = header.strip_suffix(";base64")?;
    Some((if media_type.is_empty() { "image/png" } else { media_type }, data))
}
