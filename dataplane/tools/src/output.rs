//! What a tool call gives back to the model: one piece of text. Models take text; images, audio
//! and resources become short placeholders the model can mention but not see, and the text is
//! capped because it goes into a finite context window.

use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};

/// Longest tool output handed to the model, in bytes (including the truncation marker).
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;

/// The result of a tool that ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutput {
    /// Text parts joined by blank lines; placeholders for other content; the structured result
    /// as JSON when there is no text. At most [`MAX_OUTPUT_BYTES`].
    pub text: String,
    /// MCP's `isError`: the tool ran and reported a failure. The model should see it (and may
    /// retry with other arguments), unlike a [`ToolError`](crate::ToolError).
    pub is_error: bool,
}

impl ToolOutput {
    pub(crate) fn from_result(result: CallToolResult) -> Self {
        let has_text = result.content.iter().any(|block| matches!(block, ContentBlock::Text(_)));
        let mut parts: Vec<String> = result.content.iter().map(render_block).collect();
        if !has_text && let Some(structured) = &result.structured_content {
            parts.push(structured.to_string());
        }
        Self { text: truncate(parts.join("\n\n"), MAX_OUTPUT_BYTES), is_error: result.is_error.unwrap_or(false) }
    }
}

fn render_block(block: &ContentBlock) -> String {
    match block {
        ContentBlock::Text(text) => text.text.clone(),
        ContentBlock::Image(image) => format!("[image: {}]", image.mime_type),
        ContentBlock::Audio(audio) => format!("[audio: {}]", audio.mime_type),
        ContentBlock::ResourceLink(link) => format!("[resource link: {}]", link.uri),
        ContentBlock::Resource(embedded) => match &embedded.resource {
            ResourceContents::TextResourceContents { uri, .. } => format!("[resource: {uri}]"),
            ResourceContents::BlobResourceContents { uri, mime_type, .. } => match mime_type {
                Some(mime_type) => format!("[resource: {uri} ({mime_type})]"),
                None => format!("[resource: {uri}]"),
            },
            _ => "[resource]".to_owned(),
        },
        _ => "[unsupported content]".to_owned(),
    }
}

/// Cuts `text` to at most `max` bytes (on a character boundary) and says so at the end.
fn truncate(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    // The marker's digits are bounded by those of `text.len()`, so reserving its length
    // computed for that size is enough.
    let marker_len = marker(text.len(), text.len()).len();
    let mut keep = max.saturating_sub(marker_len);
    while !text.is_char_boundary(keep) {
        keep -= 1;
    }
    let mut cut = text[..keep].to_owned();
    cut.push_str(&marker(keep, text.len()));
    cut
}

fn marker(kept: usize, total: usize) -> String {
    format!("\n\n[output truncated: showing the first {kept} of {total} bytes]")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn output(result: serde_json::Value) -> ToolOutput {
        ToolOutput::from_result(serde_json::from_value(result).unwrap())
    }

    #[test]
    fn text_parts_are_joined_by_blank_lines() {
        let out = output(json!({"content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]}));
        assert_eq!(out, ToolOutput { text: "one\n\ntwo".into(), is_error: false });
    }

    #[test]
    fn non_text_content_becomes_placeholders_naming_type_and_uri() {
        let out = output(json!({"content": [
            {"type": "text", "text": "here"},
            {"type": "image", "data": "aGk=", "mimeType": "image/png"},
            {"type": "audio", "data": "aGk=", "mimeType": "audio/wav"},
            {"type": "resource_link", "uri": "file:///a.txt", "name": "a"},
            {"type": "resource", "resource": {"uri": "file:///b.txt", "text": "secret-ish body"}},
            {"type": "resource", "resource": {"uri": "file:///c.bin", "blob": "aGk=", "mimeType": "application/zip"}},
        ]}));
        assert_eq!(
            out.text,
            "here\n\n[image: image/png]\n\n[audio: audio/wav]\n\n[resource link: file:///a.txt]\n\n\
             [resource: file:///b.txt]\n\n[resource: file:///c.bin (application/zip)]"
        );
    }

    #[test]
    fn structured_content_stands_in_only_when_there_is_no_text() {
        let without_text = output(json!({"content": [], "structuredContent": {"sum": 3}}));
        assert_eq!(without_text.text, r#"{"sum":3}"#);
        let with_text = output(json!({"content": [{"type": "text", "text": "3"}], "structuredContent": {"sum": 3}}));
        assert_eq!(with_text.text, "3");
    }

    #[test]
    fn is_error_is_carried_over() {
        let out = output(json!({"content": [{"type": "text", "text": "bad"}], "isError": true}));
        assert!(out.is_error);
        assert!(!output(json!({"content": []})).is_error);
    }

    #[test]
    fn long_output_is_cut_to_the_cap_with_a_marker() {
        let long = "é".repeat(MAX_OUTPUT_BYTES); // two bytes each: twice the cap
        let out = output(json!({"content": [{"type": "text", "text": long}]}));
        assert!(out.text.len() <= MAX_OUTPUT_BYTES, "{}", out.text.len());
        assert!(out.text.len() > MAX_OUTPUT_BYTES - 100);
        assert!(
            out.text.ends_with(&format!("of {} bytes]", 2 * MAX_OUTPUT_BYTES)),
            "{}",
            &out.text[out.text.len() - 80..]
        );
        assert!(out.text.starts_with("éé"));
    }

    #[test]
    fn output_at_the_cap_is_left_alone() {
        let exact = "x".repeat(MAX_OUTPUT_BYTES);
        assert_eq!(output(json!({"content": [{"type": "text", "text": exact.clone()}]})).text, exact);
    }
}
