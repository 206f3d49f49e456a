//! A tool as offered to a model.

use rmcp::model::Tool;
use serde_json::Value;

/// What chat turns into an OpenAI `tools` entry (`{"type": "function", "function": {name,
/// description, parameters: input_schema}}`). Names are the server's own; mapping them to the
/// provider's allowed characters and keeping them unique across servers is the caller's job.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    /// The server's description, else its title, else empty.
    pub description: String,
    /// JSON Schema of the arguments object.
    pub input_schema: Value,
}

impl ToolSpec {
    pub(crate) fn from_tool(tool: Tool) -> Self {
        let description = tool.description.map(|d| d.into_owned()).or(tool.title).unwrap_or_default();
        let input_schema = Value::Object(std::sync::Arc::unwrap_or_clone(tool.input_schema));
        Self { name: tool.name.into_owned(), description, input_schema }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn description_falls_back_to_the_title() {
        let tool: Tool = serde_json::from_value(json!({
            "name": "get-sum", "title": "Get Sum", "inputSchema": {"type": "object"}
        }))
        .unwrap();
        let spec = ToolSpec::from_tool(tool);
        assert_eq!(spec.description, "Get Sum");
        assert_eq!(spec.input_schema, json!({"type": "object"}));
    }
}
