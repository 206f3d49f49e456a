//! The deterministic answer to a conversation, shared by every protocol: the same request always
//! gets the same words, token counts and tool call, so tests can assert exact numbers.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::directives::Directives;

/// What the protocols extract from a request, in protocol-neutral form.
#[derive(Debug, Clone, Default)]
pub struct Conversation {
    /// All text of the prompt (system, messages, tool results), for counting.
    pub prompt_text: String,
    pub messages: usize,
    /// The last user text, which the answer quotes.
    pub last_user_text: String,
    /// The last message carries tool results.
    pub ends_with_tool_result: bool,
    /// The text of the last tool result, which an answer after it quotes.
    pub tool_result_text: String,
    /// Tools offered: name and JSON schema of the parameters.
    pub tools: Vec<(String, Value)>,
    /// A tool the request forces (OpenAI `required`/named, Anthropic `any`/`tool`, Gemini `ANY`).
    pub forced_tool: Option<ForcedTool>,
    /// The request forbids tool calls (OpenAI `tool_choice: "none"`, Anthropic `{"type": "none"}`).
    pub tools_forbidden: bool,
    pub max_tokens: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForcedTool {
    Any,
    Named(String),
}

/// A tool call the mock decided to make.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

/// Why the answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    Stop,
    Length,
    ToolCalls,
}

/// Token usage, in the OpenAI convention (prompt includes cached; completion includes reasoning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub prompt: u64,
    pub cached: u64,
    pub completion: u64,
    pub reasoning: u64,
}

/// The complete answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub reasoning: Vec<String>,
    /// Text words, the first without a leading space.
    pub words: Vec<String>,
    pub tool_call: Option<ToolCall>,
    pub finish: Finish,
    pub usage: Usage,
    /// Deterministic signature of the reasoning (Anthropic `signature`, Gemini `thoughtSignature`).
    pub signature: String,
}

const VOCABULARY: &[&str] = &[
    "relay", "stream", "token", "channel", "latency", "answer", "model", "upstream", "quota", "lane", "cluster",
    "snapshot", "request", "gateway", "tenant", "agent", "topic", "session", "usage", "ledger",
];

/// Tokens a completed tool call is reported to cost.
const TOOL_CALL_TOKENS: u64 = 10;

impl Answer {
    pub fn new(model: &str, conversation: &Conversation, directives: &Directives) -> Answer {
        let digest = Sha256::digest(format!("{model}\n{}", conversation.last_user_text).as_bytes());
        let pick = |i: usize| VOCABULARY[usize::from(digest[i % digest.len()]) % VOCABULARY.len()];
        let reasoning: Vec<String> = (0..directives.reasoning).map(|i| format!("thinking-{}", pick(i + 7))).collect();

        let wants_tool = (directives.tool || conversation.forced_tool.is_some()) && !conversation.tools_forbidden;
        let tool_call = if wants_tool && (!conversation.ends_with_tool_result || directives.tool_loop) {
            choose_tool(conversation, directives.tool_name.as_deref()).map(|(name, schema)| ToolCall {
                id: format!("call_{}", hex::encode(&digest[..6])),
                name: name.clone(),
                arguments: arguments_for(schema),
            })
        } else {
            None
        };

        let mut words = Vec::new();
        let mut finish = Finish::Stop;
        if tool_call.is_some() {
            finish = Finish::ToolCalls;
        } else {
            let wanted = directives.words();
            let limit = conversation.max_tokens.unwrap_or(usize::MAX);
            let count = wanted.min(limit);
            if count < wanted {
                finish = Finish::Length;
            }
            let opener = if conversation.ends_with_tool_result { "result" } else { "answer" };
            // After a tool result the answer quotes it (as a model answers from it); the word
            // count, and so the usage, stays what the directives say.
            let quoted: Vec<&str> = if conversation.ends_with_tool_result {
                conversation.tool_result_text.split_whitespace().collect()
            } else {
                Vec::new()
            };
            for i in 0..count {
                words.push(match i {
                    0 => "Mock".to_string(),
                    1 => opener.to_string(),
                    _ => quoted.get(i - 2).map_or_else(|| pick(i).to_string(), |w| w.to_string()),
                });
            }
            // Given numbered sources, a model cites them: the last word becomes `[1]` (the
            // count, and so the usage, stays what the directives say).
            if count > 2 && cites_sources(&conversation.prompt_text) {
                words[count - 1] = "[1]".to_string();
            }
        }

        let prompt = count_words(&conversation.prompt_text) + 3 * conversation.messages.max(1) as u64;
        let reasoning_tokens = reasoning.len() as u64;
        let tool_tokens = if tool_call.is_some() { TOOL_CALL_TOKENS } else { 0 };
        let usage = Usage {
            prompt,
            cached: directives.cached.min(prompt),
            completion: words.len() as u64 + reasoning_tokens + tool_tokens,
            reasoning: reasoning_tokens,
        };
        let signature = format!("mock-sig-{}", hex::encode(&digest[6..18]));
        Answer { reasoning, words, tool_call, finish, usage, signature }
    }

    /// The text, words joined by spaces.
    pub fn text(&self) -> String {
        self.words.join(" ")
    }

    /// Each word as a streamed piece (every word after the first carries its leading space).
    pub fn pieces(&self) -> Vec<String> {
        self.words.iter().enumerate().map(|(i, w)| if i == 0 { w.clone() } else { format!(" {w}") }).collect()
    }

    pub fn reasoning_pieces(&self) -> Vec<String> {
        self.reasoning.iter().enumerate().map(|(i, w)| if i == 0 { w.clone() } else { format!(" {w}") }).collect()
    }
}

fn choose_tool<'a>(conversation: &'a Conversation, wanted: Option<&str>) -> Option<&'a (String, Value)> {
    let named = |name: &str| conversation.tools.iter().find(|(n, _)| n == name);
    match (&conversation.forced_tool, wanted) {
        (Some(ForcedTool::Named(name)), _) => named(name),
        (_, Some(name)) => named(name).or_else(|| conversation.tools.first()),
        _ => conversation.tools.first(),
    }
}

/// Arguments satisfying a JSON schema's required properties with placeholder values.
fn arguments_for(schema: &Value) -> Value {
    let mut args = Map::new();
    let properties = schema.get("properties").and_then(Value::as_object);
    let required: Vec<&str> =
        schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    for name in required {
        let kind = properties
            .and_then(|p| p.get(name))
            .and_then(|p| p.get("type"))
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let value = match kind.as_str() {
            "integer" | "number" => json!(1),
            "boolean" => json!(true),
            "array" => json!([]),
            "object" => json!({}),
            _ => json!("mock"),
        };
        args.insert(name.to_string(), value);
    }
    Value::Object(args)
}

/// Whether the prompt gives numbered sources (a line starting `[1] `, as chat's retrieval writes).
fn cites_sources(prompt: &str) -> bool {
    prompt.lines().any(|line| line.starts_with("[1] "))
}

pub fn count_words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn conversation(text: &str) -> Conversation {
        Conversation { prompt_text: text.into(), messages: 1, last_user_text: text.into(), ..Conversation::default() }
    }

    #[test]
    fn given_numbered_sources_the_answer_cites_the_first() {
        let d = Directives::parse("m@words=4", None).unwrap();
        let sourced = conversation("Answer from the sources.\n[1] handbook.md\nRefunds take 14 days.\nWhen?");
        let answer = Answer::new("m", &sourced, &d);
        assert!(answer.text().ends_with(" [1]"), "{}", answer.text());
        assert_eq!(answer.words.len(), 4);
        assert!(!Answer::new("m", &conversation("see [1] there"), &d).text().contains("[1]"));
    }

    #[test]
    fn answers_are_deterministic_start_with_mock_and_count_one_token_per_word() {
        let d = Directives::parse("m@words=5", None).unwrap();
        let a = Answer::new("m", &conversation("hello there"), &d);
        let b = Answer::new("m", &conversation("hello there"), &d);
        assert_eq!(a.text(), b.text());
        assert_eq!(a.words.len(), 5);
        assert!(a.text().starts_with("Mock answer"));
        assert_eq!(a.usage, Usage { prompt: 2 + 3, cached: 0, completion: 5, reasoning: 0 });
    }

    #[test]
    fn max_tokens_cuts_the_answer_and_tools_are_called_with_schema_shaped_arguments() {
        let mut c = conversation("go");
        c.max_tokens = Some(3);
        let a = Answer::new("m", &c, &Directives::default());
        assert_eq!((a.words.len(), a.finish), (3, Finish::Length));
        c.tools = vec![(
            "lookup".into(),
            json!({"type": "object", "properties": {"q": {"type": "string"}, "n": {"type": "integer"}}, "required": ["q", "n"]}),
        )];
        let d = Directives::parse("m@tool", None).unwrap();
        let call = Answer::new("m", &c, &d).tool_call.unwrap();
        assert_eq!((call.name.as_str(), call.arguments.clone()), ("lookup", json!({"q": "mock", "n": 1})));
        c.ends_with_tool_result = true;
        c.tool_result_text = "forty two".into();
        let after = Answer::new("m", &c, &d);
        assert!(after.tool_call.is_none() && after.text() == "Mock result forty", "{}", after.text());
        let looping = Directives::parse("m@tool,tool_loop", None).unwrap();
        assert!(Answer::new("m", &c, &looping).tool_call.is_some(), "a looping model calls again");
        c.tools_forbidden = true;
        assert!(Answer::new("m", &c, &looping).tool_call.is_none(), "tool_choice none is obeyed");
    }
}
