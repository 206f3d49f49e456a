//! The prompt of a reply (DESIGN §5): the session's system prompt, then as much of the branch's
//! history as fits the model's context window, newest kept first, counted in tokens.

use std::collections::HashMap;

use oblivious_runtime::usage::count_text_tokens;
use oblivious_store::chat::ChatMessage;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::attachments::AttachedContent;

/// Tokens a chat message costs beyond its text (role and framing, as OpenAI counts them).
const PER_MESSAGE_OVERHEAD: u64 = 4;
/// The most history a reply is built from, before counting tokens.
pub const MAX_HISTORY_MESSAGES: i64 = 400;

/// Context windows of well-known model families, by name prefix (longest match wins). Models
/// not listed get `DEFAULT_CONTEXT_WINDOW`, which is small enough for every current model.
const KNOWN_WINDOWS: &[(&str, u64)] = &[
    ("gpt-4o", 128_000),
    ("gpt-4.1", 1_047_576),
    ("gpt-4-turbo", 128_000),
    ("gpt-4", 8_192),
    ("gpt-3.5", 16_385),
    ("gpt-5", 400_000),
    ("o1", 200_000),
    ("o3", 200_000),
    ("o4", 200_000),
    ("claude", 200_000),
    ("gemini-1.5", 1_000_000),
    ("gemini-2", 1_048_576),
    ("gemini-3", 1_048_576),
    ("deepseek", 64_000),
    ("qwen", 131_072),
    ("moonshot", 128_000),
    ("kimi", 128_000),
    ("glm", 128_000),
];
pub const DEFAULT_CONTEXT_WINDOW: u64 = 32_768;

/// The context window of a model, by its public name.
pub fn context_window(model: &str) -> u64 {
    KNOWN_WINDOWS
        .iter()
        .filter(|(prefix, _)| model.starts_with(prefix))
        .max_by_key(|(prefix, _)| prefix.len())
        .map_or(DEFAULT_CONTEXT_WINDOW, |(_, window)| *window)
}

/// Tokens kept free for the answer: a quarter of the window, at most 8k.
pub fn answer_reserve(window: u64) -> u64 {
    (window / 4).min(8_192)
}

/// The `messages` of a Chat Completions request: `system` (if any) then the newest history that
/// fits. `history` is oldest first and ends with the user's message being answered, which is
/// always kept (an oversized one is the upstream's to refuse, in its words). A message in
/// `attached` is sent as its content parts (text with its documents, then its images).
pub fn build_messages(
    system_prompt: &str,
    history: &[ChatMessage],
    attached: &HashMap<Uuid, AttachedContent>,
    window: u64,
) -> Vec<Value> {
    let mut budget = window.saturating_sub(answer_reserve(window));
    let system = Some(system_prompt.trim()).filter(|s| !s.is_empty());
    if let Some(system) = system {
        budget = budget.saturating_sub(count_text_tokens(system) + PER_MESSAGE_OVERHEAD);
    }
    let usable: Vec<&ChatMessage> = history.iter().filter(|m| belongs_in_context(m)).collect();
    let mut kept = Vec::new();
    for (position, message) in usable.iter().rev().enumerate() {
        let (content, tokens) = match attached.get(&message.id) {
            Some(with_files) => (Value::Array(with_files.parts.clone()), with_files.tokens),
            None => {
                let text = with_tool_calls(message);
                let tokens = count_text_tokens(&text);
                (json!(text), tokens)
            }
        };
        let cost = tokens + PER_MESSAGE_OVERHEAD;
        if position > 0 && cost > budget {
            break;
        }
        budget = budget.saturating_sub(cost);
        kept.push(json!({"role": message.role, "content": content}));
    }
    kept.reverse();
    // A conversation sent upstream starts with the user: drop a leading reply left by trimming.
    while kept.first().is_some_and(|m| m["role"] == "assistant") && kept.len() > 1 {
        kept.remove(0);
    }
    system.map(|s| json!({"role": "system", "content": s})).into_iter().chain(kept).collect()
}

/// A reply's text after the tool calls it made, one summary line each (`[Tool …]`), so a later
/// question can build on what the tools returned.
fn with_tool_calls(message: &ChatMessage) -> String {
    let calls = message.tool_calls.as_array().map(Vec::as_slice).unwrap_or_default();
    if calls.is_empty() {
        return message.content.clone();
    }
    let mut text: String = calls.iter().map(|call| format!("[{}]\n", crate::tools::summary_line(call))).collect();
    text.push('\n');
    text.push_str(&message.content);
    text
}

/// Failed replies with nothing in them, and the placeholder being generated, are not history.
fn belongs_in_context(message: &ChatMessage) -> bool {
    match message.role.as_str() {
        "user" | "system" => true,
        _ => {
            let has_calls = message.tool_calls.as_array().is_some_and(|calls| !calls.is_empty());
            message.status != "streaming" && (!message.content.is_empty() || has_calls)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::test_support::message;

    #[test]
    fn windows_come_from_the_longest_known_prefix() {
        assert_eq!(context_window("gpt-4o-mini"), 128_000);
        assert_eq!(context_window("gpt-4"), 8_192);
        assert_eq!(context_window("claude-sonnet-4-5"), 200_000);
        assert_eq!(context_window("my-local-llama"), DEFAULT_CONTEXT_WINDOW);
    }

    #[test]
    fn the_system_prompt_leads_and_failed_or_pending_replies_are_skipped() {
        let history = [
            message("user", "hello", "complete"),
            message("assistant", "", "error"),
            message("user", "again", "complete"),
            message("assistant", "", "streaming"),
        ];
        let built = build_messages("Be brief.", &history, &HashMap::new(), 128_000);
        let roles: Vec<&str> = built.iter().map(|m| m["role"].as_str().unwrap_or_default()).collect();
        assert_eq!(roles, ["system", "user", "user"]);
        assert_eq!(built[0]["content"], "Be brief.");
        assert!(build_messages("  ", &history, &HashMap::new(), 128_000).iter().all(|m| m["role"] != "system"));
    }

    #[test]
    fn a_replys_tool_calls_come_back_as_text_before_its_answer() {
        let mut reply = message("assistant", "It says hi.", "complete");
        reply.tool_calls = json!([
            {"tool": "echo", "arguments": {"message": "hi"}, "status": "ok", "output": "Echo: hi", "error": null},
            {"tool": "slow", "arguments": {}, "status": "error", "output": "", "error": {"code": "timeout", "message": "too slow"}},
        ]);
        let mut silent = message("assistant", "", "complete");
        silent.tool_calls = json!([{"tool": "echo", "arguments": {}, "status": "ok", "output": "x", "error": null}]);
        let history = [message("user", "echo hi", "complete"), reply, message("user", "and?", "complete"), silent];
        let built = build_messages("", &history, &HashMap::new(), 128_000);
        assert_eq!(
            built[1]["content"],
            "[Tool `echo` {\"message\":\"hi\"}: Echo: hi]\n[Tool `slow` {}: failed (timeout): too slow]\n\nIt says hi."
        );
        assert_eq!(built.len(), 4, "a reply of tool calls alone is history too");
    }

    #[test]
    fn history_is_trimmed_from_the_oldest_by_tokens_and_starts_with_the_user() {
        let long = "word ".repeat(300);
        let mut history = Vec::new();
        for _ in 0..20 {
            history.push(message("user", &long, "complete"));
            history.push(message("assistant", &long, "complete"));
        }
        history.push(message("user", "the question", "complete"));
        let window = 4_096;
        let built = build_messages("", &history, &HashMap::new(), window);
        let used: u64 = built.iter().map(|m| count_text_tokens(m["content"].as_str().unwrap_or_default()) + 4).sum();
        assert!(used <= window - answer_reserve(window), "{used} tokens");
        assert!(built.len() < history.len());
        assert_eq!(built.last().map(|m| m["content"].clone()), Some(json!("the question")));
        assert_eq!(built[0]["role"], "user");
    }

    #[test]
    fn an_oversized_question_is_still_sent() {
        let huge = "word ".repeat(10_000);
        let built = build_messages("", &[message("user", &huge, "complete")], &HashMap::new(), 4_096);
        assert_eq!(built.len(), 1);
    }

    #[test]
    fn a_message_with_files_is_sent_as_its_parts_and_costs_their_tokens() {
        let question = message("user", "what is in the picture?", "complete");
        let parts = vec![json!({"type": "text", "text": "what is in the picture?"}), json!({"type": "image_url"})];
        let attached = HashMap::from([(question.id, AttachedContent { parts: parts.clone(), tokens: 5_000 })]);
        let history = [message("user", "earlier", "complete"), message("assistant", "sure", "complete"), question];
        let built = build_messages("", &history, &attached, 128_000);
        assert_eq!(built.last().unwrap()["content"], Value::Array(parts));
        // An image's tokens count against the window: with a tight one only the question fits.
        assert_eq!(build_messages("", &history, &attached, 6_000).len(), 1);
    }
}
