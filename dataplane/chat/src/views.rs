//! What the chat API shows of stored rows (API.md "Objects"): money as decimal strings,
//! temperatures as numbers (stored as thousandths), never another user's data.

use oblivious_runtime::money::format_micros;
use oblivious_store::chat::{ChatAgent, ChatMessage, ChatSession, ChatTopic, SiblingInfo};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

/// Thousandths -> the number clients send and see.
pub fn temperature(milli: Option<i32>) -> Option<f64> {
    milli.map(|m| f64::from(m) / 1000.0)
}

/// A client's temperature -> thousandths; `None` for an absent value, an error outside 0..=2.
pub fn temperature_milli(value: Option<f64>) -> Result<Option<i32>, String> {
    match value {
        None => Ok(None),
        Some(t) if (0.0..=2.0).contains(&t) => Ok(Some((t * 1000.0).round() as i32)),
        Some(t) => Err(format!("must be between 0 and 2, not {t}")),
    }
}

#[derive(Debug, Serialize)]
pub struct SessionView {
    pub id: Uuid,
    pub title: String,
    /// The title is a blank chat's placeholder ("New chat"), which clients may show in their
    /// language until the first topic names the chat.
    pub title_is_placeholder: bool,
    pub avatar: String,
    pub description: String,
    pub agent_id: Option<Uuid>,
    pub system_prompt: String,
    pub model: String,
    pub temperature: Option<f64>,
    pub opening_message: Option<String>,
    /// Suggested first questions of the catalog agent the session was made from (read live,
    /// so an edited `Agent` shows in every session of it).
    pub opening_questions: Vec<String>,
    pub pinned: bool,
    pub group: String,
    /// The knowledge bases the session's answers draw on.
    pub knowledge_base_ids: Vec<Uuid>,
    /// The MCP servers its replies may call, besides its agent's (`/chat/tool-servers` refs).
    pub tools: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl SessionView {
    /// The view of a session whose knowledge bases are `knowledge_base_ids` and whose agent
    /// suggests `opening_questions`.
    pub fn new(session: &ChatSession, knowledge_base_ids: Vec<Uuid>, opening_questions: Vec<String>) -> Self {
        SessionView { knowledge_base_ids, opening_questions, ..SessionView::from(session) }
    }
}

impl From<&ChatSession> for SessionView {
    fn from(s: &ChatSession) -> Self {
        SessionView {
            id: s.id,
            title: s.title.clone(),
            title_is_placeholder: s.title_source == "auto",
            avatar: s.avatar.clone(),
            description: s.description.clone(),
            agent_id: s.agent_id,
            system_prompt: s.system_prompt.clone(),
            model: s.model.clone(),
            temperature: temperature(s.temperature_milli),
            opening_message: s.opening_message.clone(),
            opening_questions: Vec::new(),
            pinned: s.pinned,
            group: s.group.clone(),
            knowledge_base_ids: Vec::new(),
            tools: s.tools.clone(),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct TopicView {
    pub id: Uuid,
    pub session_id: Uuid,
    pub title: String,
    pub active_leaf_id: Option<Uuid>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&ChatTopic> for TopicView {
    fn from(t: &ChatTopic) -> Self {
        TopicView {
            id: t.id,
            session_id: t.session_id,
            title: t.title.clone(),
            active_leaf_id: t.active_leaf_id,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// A message; `siblings` is absent where it is not known (stream events).
pub fn message_view(m: &ChatMessage, siblings: Option<&SiblingInfo>) -> Value {
    let usage = m.output_tokens.map(|output| {
        json!({
            "input_tokens": m.input_tokens.unwrap_or(0),
            "output_tokens": output,
            "cached_input_tokens": m.cached_input_tokens.unwrap_or(0),
            "reasoning_tokens": m.reasoning_tokens.unwrap_or(0),
        })
    });
    let error = m.error_code.as_ref().map(|code| json!({"code": code, "message": m.error_message}));
    json!({
        "id": m.id,
        "session_id": m.session_id,
        "topic_id": m.topic_id,
        "parent_id": m.parent_id,
        "role": m.role,
        "content": m.content,
        "reasoning": m.reasoning,
        "model": m.model,
        "status": m.status,
        "error": error,
        "usage": usage,
        "cost": m.cost_micros.map(format_micros),
        "currency": m.currency,
        "sources": m.sources,
        "attachments": m.attachments,
        "tool_calls": m.tool_calls,
        "siblings": siblings,
        "created_at": m.created_at,
        "updated_at": m.updated_at,
    })
}

/// An agent of either source.
#[derive(Debug, Clone, Serialize)]
pub struct AgentView {
    pub id: Uuid,
    /// `catalog` (an `Agent` resource, read-only) or `user`.
    pub source: &'static str,
    pub name: String,
    pub avatar: String,
    pub description: String,
    pub tags: Vec<String>,
    pub system_prompt: String,
    pub model: Option<String>,
    pub temperature: Option<f64>,
    pub opening_message: Option<String>,
    /// Suggested first questions (catalog agents).
    pub opening_questions: Vec<String>,
    /// The knowledge bases the agent answers from (a private agent's are copied to each
    /// session started from it).
    pub knowledge_base_ids: Vec<Uuid>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl AgentView {
    /// The view of a private agent whose knowledge bases are `knowledge_base_ids`.
    pub fn of_user_agent(agent: &ChatAgent, knowledge_base_ids: Vec<Uuid>) -> Self {
        AgentView { knowledge_base_ids, ..AgentView::from(agent) }
    }
}

impl From<&ChatAgent> for AgentView {
    fn from(a: &ChatAgent) -> Self {
        AgentView {
            id: a.id,
            source: "user",
            name: a.name.clone(),
            avatar: a.avatar.clone(),
            description: a.description.clone(),
            tags: a.tags.clone(),
            system_prompt: a.system_prompt.clone(),
            model: a.model.clone(),
            temperature: temperature(a.temperature_milli),
            opening_message: a.opening_message.clone(),
            opening_questions: Vec::new(),
            knowledge_base_ids: Vec::new(),
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn temperatures_round_trip_through_thousandths_and_are_bounded() {
        assert_eq!(temperature_milli(Some(0.7)), Ok(Some(700)));
        assert_eq!(temperature(Some(700)), Some(0.7));
        assert_eq!(temperature_milli(None), Ok(None));
        assert!(temperature_milli(Some(2.5)).is_err());
        assert!(temperature_milli(Some(-0.1)).is_err());
    }
}
