//! Rows for unit tests.

use oblivious_store::chat::ChatMessage;
use serde_json::Value;
use uuid::Uuid;

/// A message of `role` with `content` and `status`; every other field empty.
pub fn message(role: &str, content: &str, status: &str) -> ChatMessage {
    ChatMessage {
        id: Uuid::now_v7(),
        topic_id: Uuid::nil(),
        session_id: Uuid::nil(),
        user_id: Uuid::nil(),
        parent_id: None,
        role: role.into(),
        content: content.into(),
        reasoning: String::new(),
        model: Some("gpt-4o".into()),
        status: status.into(),
        error_code: None,
        error_message: None,
        input_tokens: None,
        output_tokens: None,
        cached_input_tokens: None,
        reasoning_tokens: None,
        cost_micros: None,
        currency: None,
        sources: Value::Array(Vec::new()),
        attachments: Value::Array(Vec::new()),
        tool_calls: Value::Array(Vec::new()),
        created_at: 0,
        updated_at: 0,
    }
}
