//! Usage of a chat request when the upstream reports nothing or too little: a local count of
//! its prompt and answer (`oblivious_runtime::usage::count_text_tokens`), always marked
//! `estimated` in the request log so nobody mistakes it for a provider's count.

use oblivious_runtime::usage::count_text_tokens;

use crate::ir::{ChatRequest, Part, Usage};

/// Per-message framing overhead OpenAI documents for chat formats.
const TOKENS_PER_MESSAGE: u64 = 3;

/// Cheap prompt-size guess (characters / 4) for places on the hot path that only need an
/// announcement, such as Anthropic's `message_start`.
pub fn quick_prompt_estimate(request: &ChatRequest) -> u64 {
    let chars: usize = request.system.iter().map(String::len).sum::<usize>()
        + request.messages.iter().flat_map(|m| &m.content).map(part_text_len).sum::<usize>();
    (chars as u64).div_ceil(4) + TOKENS_PER_MESSAGE * request.messages.len() as u64
}

fn part_text_len(part: &Part) -> usize {
    match part {
        Part::Text(t) => t.len(),
        Part::ToolCall { name, arguments, .. } => name.len() + arguments.len(),
        Part::ToolResult { content, .. } => content.len(),
        Part::Reasoning { text, .. } => text.len(),
        Part::Image(_) | Part::RedactedReasoning { .. } => 0,
    }
}

/// Counts a prompt with tiktoken. Images count a flat 85 tokens (OpenAI's low-detail price).
pub fn count_prompt_tokens(request: &ChatRequest) -> u64 {
    let mut total = 0;
    for system in &request.system {
        total += TOKENS_PER_MESSAGE + count_text_tokens(system);
    }
    for message in &request.messages {
        total += TOKENS_PER_MESSAGE;
        for part in &message.content {
            total += match part {
                Part::Text(t) => count_text_tokens(t),
                Part::ToolCall { name, arguments, .. } => count_text_tokens(name) + count_text_tokens(arguments),
                Part::ToolResult { content, .. } => count_text_tokens(content),
                Part::Reasoning { text, .. } => count_text_tokens(text),
                Part::Image(_) => 85,
                Part::RedactedReasoning { .. } => 0,
            };
        }
    }
    for tool in &request.tools {
        total += count_text_tokens(&tool.name) + count_text_tokens(&tool.parameters.to_string());
    }
    total + 3 // every reply is primed with <|start|>assistant<|message|>
}

/// Final usage of an answer: the upstream's report when it gave one, otherwise (or for the
/// half it did not give) a local count. Returns the usage and whether any part was estimated.
pub fn settle_usage(reported: Option<Usage>, request: &ChatRequest, output_text: &str) -> (Usage, bool) {
    match reported {
        Some(usage) if usage.input_tokens > 0 && usage.output_tokens > 0 => (usage, false),
        Some(usage) => {
            let mut usage = usage;
            if usage.input_tokens == 0 {
                usage.input_tokens = count_prompt_tokens(request);
            }
            if usage.output_tokens == 0 {
                usage.output_tokens = count_text_tokens(output_text);
            }
            (usage, true)
        }
        None => {
            let usage = Usage {
                input_tokens: count_prompt_tokens(request),
                output_tokens: count_text_tokens(output_text),
                ..Usage::default()
            };
            (usage, true)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::ir::{Message, Role};

    #[test]
    fn a_silent_upstream_gets_a_local_count_marked_estimated() {
        let request = ChatRequest {
            messages: vec![Message { role: Role::User, content: vec![Part::Text("Hello there, how are you?".into())] }],
            ..ChatRequest::default()
        };
        let (usage, estimated) = settle_usage(None, &request, "I am fine, thank you.");
        assert!(estimated);
        assert!(usage.input_tokens >= 7, "{usage:?}");
        assert_eq!(usage.output_tokens, count_text_tokens("I am fine, thank you."));
        let reported = Usage { input_tokens: 10, output_tokens: 3, ..Usage::default() };
        assert_eq!(settle_usage(Some(reported), &request, "x"), (reported, false));
    }

    #[test]
    fn a_report_missing_output_tokens_is_completed_locally() {
        let reported = Usage { input_tokens: 42, output_tokens: 0, ..Usage::default() };
        let (usage, estimated) = settle_usage(Some(reported), &ChatRequest::default(), "one two three");
        assert!(estimated);
        assert_eq!(usage.input_tokens, 42);
        assert!(usage.output_tokens > 0);
    }
}
