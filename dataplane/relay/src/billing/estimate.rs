//! What a request may cost at most, before it is sent: the basis of its quota hold and of the
//! tokens it is charged against tokens-per-minute limits at admission.
//!
//! The prompt is sized cheaply and on the generous side (a third of its UTF-8 bytes: ~4 bytes
//! per token for English, ~3 for CJK text, so both are over-estimated rather than under), and
//! the answer is assumed to use all of `max_tokens` — or `default_output` when the request sets
//! none. Holding too much only delays other requests by a moment; holding too little would let
//! concurrent requests overdraw.

use super::units::Units;
use crate::ir::{ChatRequest, Part, Usage};

/// Tokens an image is assumed to cost (a large high-detail image; real counts are lower).
const IMAGE_TOKENS: u64 = 1_600;
/// Framing tokens per message.
const PER_MESSAGE: u64 = 4;

/// The largest usage a request can have, as far as can be told before sending it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Estimate {
    pub input_tokens: u64,
    pub max_output_tokens: u64,
    /// The most it may use of what is billed by the unit (images, audio, characters, searches).
    pub units: Units,
}

impl Estimate {
    /// The usage this estimate stands for, to price it.
    pub fn as_usage(&self) -> Usage {
        Usage { input_tokens: self.input_tokens, output_tokens: self.max_output_tokens, ..Usage::default() }
    }

    pub fn total_tokens(&self) -> u64 {
        self.input_tokens + self.max_output_tokens
    }
}

/// Sizes a chat request.
pub fn estimate_chat(request: &ChatRequest, default_output: u64) -> Estimate {
    let mut bytes = request.system.iter().map(String::len).sum::<usize>();
    let mut fixed = PER_MESSAGE * (request.messages.len() + request.system.len()) as u64;
    for part in request.messages.iter().flat_map(|m| &m.content) {
        match part {
            Part::Text(text) | Part::Reasoning { text, .. } => bytes += text.len(),
            Part::ToolCall { name, arguments, .. } => bytes += name.len() + arguments.len(),
            Part::ToolResult { content, .. } => bytes += content.len(),
            Part::RedactedReasoning { data } => bytes += data.len(),
            Part::Image(_) => fixed += IMAGE_TOKENS,
        }
    }
    for tool in &request.tools {
        bytes += tool.name.len() + tool.description.as_ref().map_or(0, String::len) + tool.parameters.to_string().len();
    }
    Estimate {
        input_tokens: (bytes as u64).div_ceil(3) + fixed,
        max_output_tokens: request.max_tokens.map_or(default_output, u64::from),
        units: Units::default(),
    }
}

/// Sizes a request whose input is text of `input_bytes` (embeddings, moderations, a legacy
/// completion's prompt): the same generous third of its bytes as a chat prompt.
pub fn estimate_text_tokens(input_bytes: usize) -> u64 {
    (input_bytes as u64).div_ceil(3)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::ir::{Message, Role};
    use oblivious_runtime::usage::count_text_tokens;

    #[test]
    fn estimates_never_undercount_english_or_chinese_prompts() {
        for text in [
            "The quick brown fox jumps over the lazy dog, again and again, until the sun sets.",
            "敏捷的棕色狐狸跳过了懒狗，一次又一次，直到太阳落山。",
            "fn main() { println!(\"{}\", (1..=10).map(|x| x * x).sum::<u32>()); }",
        ] {
            let request = ChatRequest {
                messages: vec![Message { role: Role::User, content: vec![Part::Text(text.into())] }],
                max_tokens: Some(100),
                ..ChatRequest::default()
            };
            let estimate = estimate_chat(&request, 4096);
            assert!(estimate.input_tokens >= count_text_tokens(text), "{text}: {estimate:?}");
            assert_eq!(estimate.max_output_tokens, 100);
        }
        assert_eq!(estimate_chat(&ChatRequest::default(), 4096).max_output_tokens, 4096);
    }
}
