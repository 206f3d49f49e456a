//! Behaviour directives: how a test tells the mock what to do. They ride on the model name
//! (`gpt-4o@words=5,ttfb=200`) — which every client and every relay forwards untouched — and on
//! an optional `x-mock` header with the same syntax (header values win).

use std::collections::BTreeMap;

/// Help text for `oblivious mock-upstream --help`.
pub const HELP: &str = "\
Behaviour directives (append to the model name after `@`, comma-separated, e.g.
`gpt-4o@words=5,tps=20`, or send them in an `x-mock` header; the header wins):
  words=N              answer with exactly N words (default 12); the first word is `Mock`;
                       every word is one completion token
  ttfb=MS              wait MS milliseconds before sending response headers
  tps=N                stream N words per second (non-streaming: wait words/N seconds)
  status=N             answer HTTP status N with the provider's error body for it
  error=KIND           the provider's real error for KIND: rate_limit, insufficient_quota,
                       invalid_key, context_length, content_policy, overloaded, server_error
  error_in_stream=KIND stream starts (200, opening event) then fails with KIND in-stream
  break_after=N        a stream sends N content chunks, then the connection is cut
  no_usage             report no usage at all
  cached=N             report N cached prompt tokens
  reject_stream_options  a request carrying `stream_options` gets a 400 (old vLLM/Ollama)
  reasoning=N          think N words first (reasoning_content / thinking / thought parts; a
                       Responses `reasoning` item, summarized only when `reasoning.summary` is
                       set, with `encrypted_content` only when `include` asks for it)
  tool[=NAME]          call the first tool (or the tool named NAME) when tools are given
                       (unless the last message is a tool result, which the answer then
                       quotes: `Mock result <its words>…`); a forced tool_choice does
                       the same without the directive; `tool_choice: none` calls nothing
  tool_loop            with tool: call it again after every result (a model that loops) Responses: a `function_call` (also in a
                       `namespace`) or, for a custom tool, a `custom_tool_call` with input `mock`
Keys: any non-empty key is accepted; keys starting with `bad-` are rejected as invalid, the way
each provider rejects them.
Routes: OpenAI /v1/chat/completions, /v1/responses, /v1/embeddings, /v1/models, /v1/rerank,
/v1/completions, /v1/images/generations (a 1x1 PNG per image, as b64_json or a url served at
/_mock/images/), /v1/audio/speech (40 ms of silence per character: wav, pcm or MPEG frames,
streamed in chunks), /v1/audio/transcriptions and /v1/audio/translations (multipart; the transcript
names the file's size, usage.seconds its duration), /v1/moderations (flagged when an input has the
word `kill`) (and Azure /openai/deployments/{name}/..., /openai/v1/responses, /openai/responses?api-version=...),
Anthropic /v1/messages and /v1/messages/count_tokens, Gemini
/v1beta/models/{model}:generateContent and :streamGenerateContent[?alt=sse].
Inspection: GET /_mock/requests lists received requests (oldest first), DELETE clears them.";

/// A provider error the mock can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    RateLimit,
    InsufficientQuota,
    InvalidKey,
    ContextLength,
    ContentPolicy,
    Overloaded,
    ServerError,
}

impl ErrorKind {
    fn parse(text: &str) -> Option<ErrorKind> {
        Some(match text {
            "rate_limit" => ErrorKind::RateLimit,
            "insufficient_quota" => ErrorKind::InsufficientQuota,
            "invalid_key" => ErrorKind::InvalidKey,
            "context_length" => ErrorKind::ContextLength,
            "content_policy" => ErrorKind::ContentPolicy,
            "overloaded" => ErrorKind::Overloaded,
            "server_error" => ErrorKind::ServerError,
            _ => return None,
        })
    }
}

/// Everything a request asked of the mock.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directives {
    pub words: Option<usize>,
    pub ttfb_ms: u64,
    pub tps: Option<u32>,
    pub status: Option<u16>,
    pub error: Option<ErrorKind>,
    pub error_in_stream: Option<ErrorKind>,
    pub break_after: Option<usize>,
    pub no_usage: bool,
    pub cached: u64,
    pub reject_stream_options: bool,
    pub reasoning: usize,
    pub tool: bool,
    /// The tool `tool=NAME` asks for (else the first one).
    pub tool_name: Option<String>,
    /// `tool_loop`: keep calling the tool after its results too (a model that never stops).
    pub tool_loop: bool,
}

/// Words in an answer when no `words=` is given.
pub const DEFAULT_WORDS: usize = 12;

impl Directives {
    /// Reads the directives of a model name and an `x-mock` header. The error names the first
    /// directive that is unknown or malformed.
    pub fn parse(model: &str, header: Option<&str>) -> Result<Directives, String> {
        let mut pairs: BTreeMap<String, Option<String>> = BTreeMap::new();
        let from_model = model.split_once('@').map(|(_, d)| d).unwrap_or("");
        for source in [from_model, header.unwrap_or("")] {
            for item in source.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let (name, value) = match item.split_once('=') {
                    Some((n, v)) => (n.trim(), Some(v.trim().to_string())),
                    None => (item, None),
                };
                pairs.insert(name.to_string(), value);
            }
        }
        let mut d = Directives::default();
        for (name, value) in pairs {
            let number = |value: &Option<String>| -> Result<u64, String> {
                value
                    .as_deref()
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| format!("directive `{name}` needs a number"))
            };
            let kind = |value: &Option<String>| -> Result<ErrorKind, String> {
                value
                    .as_deref()
                    .and_then(ErrorKind::parse)
                    .ok_or_else(|| format!("directive `{name}` needs an error kind"))
            };
            match name.as_str() {
                "words" => d.words = Some(number(&value)? as usize),
                "ttfb" => d.ttfb_ms = number(&value)?,
                "tps" => d.tps = Some(number(&value)?.max(1) as u32),
                "status" => d.status = Some(number(&value)? as u16),
                "error" => d.error = Some(kind(&value)?),
                "error_in_stream" => d.error_in_stream = Some(kind(&value)?),
                "break_after" => d.break_after = Some(number(&value)? as usize),
                "no_usage" => d.no_usage = true,
                "cached" => d.cached = number(&value)?,
                "reject_stream_options" => d.reject_stream_options = true,
                "reasoning" => d.reasoning = number(&value)? as usize,
                "tool" => {
                    d.tool = true;
                    d.tool_name = value.filter(|name| !name.is_empty());
                }
                "tool_loop" => d.tool_loop = true,
                other => {
                    return Err(format!("unknown mock directive `{other}` (see `oblivious mock-upstream --help`)"));
                }
            }
        }
        Ok(d)
    }

    pub fn words(&self) -> usize {
        self.words.unwrap_or(DEFAULT_WORDS)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn directives_come_from_the_model_name_and_the_header_wins() {
        let d = Directives::parse("gpt@words=5,tps=20,no_usage,error=rate_limit", Some("words=7")).unwrap();
        assert_eq!((d.words(), d.tps, d.no_usage, d.error), (7, Some(20), true, Some(ErrorKind::RateLimit)));
        assert_eq!(Directives::parse("plain-model", None).unwrap(), Directives::default());
    }

    #[test]
    fn unknown_or_malformed_directives_are_named() {
        assert!(Directives::parse("m@wrods=5", None).unwrap_err().contains("wrods"));
        assert!(Directives::parse("m@words=many", None).unwrap_err().contains("words"));
        assert!(Directives::parse("m@error=boom", None).unwrap_err().contains("error"));
    }
}
