//! The chat service's client of the relay (DESIGN §5: chat -> relay). It calls the relay's own
//! OpenAI endpoint as an internal service acting for the user (`OBLIVIOUS_INTERNAL_TOKEN` plus
//! `x-oblivious-user-id`), so rate limits, quota holds and settlement are the relay's, exactly
//! as for a B-side client. The call goes to the relay version of the request's lane
//! (`edge::Hops`), with the lane headers, the hop token and the reply's request id.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use oblivious_core::edge::{HopError, Hops, REQUEST_ID_HEADER, USER_HEADER};
use oblivious_core::lane::LaneContext;
use oblivious_core::sse::SseParser;
use oblivious_runtime::Usage;
use serde_json::Value;
use uuid::Uuid;

/// Connecting to the relay never takes longer than this (it is a hop inside the cluster).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What a streamed answer delivers.
#[derive(Debug, Clone, PartialEq)]
pub enum RelayChunk {
    Text(String),
    Reasoning(String),
    /// Cumulative: the last one wins.
    Usage(Usage),
}

/// A tool call the model asked for, assembled from its streamed pieces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolCallRequest {
    /// The model's id for the call, which its result must quote.
    pub id: String,
    /// The function's name as offered to the model.
    pub name: String,
    /// The arguments as the model wrote them: a JSON object, unless the model erred.
    pub arguments: String,
}

/// The relay refused or failed, in its own words (an OpenAI error body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayFailure {
    /// HTTP status; 0 when the relay could not be reached or the stream broke.
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl RelayFailure {
    fn from_hop(error: HopError) -> Self {
        match error {
            HopError::LaneUnavailable { .. } => RelayFailure {
                status: 503,
                code: "lane_unavailable".into(),
                message: format!("The model service is unavailable: {error}."),
            },
            HopError::Transport(error) => Self::unreachable(error),
        }
    }

    fn unreachable(detail: impl std::fmt::Display) -> Self {
        tracing::warn!(%detail, "relay unreachable");
        RelayFailure {
            status: 0,
            code: "relay_unavailable".into(),
            message: "The model service is unreachable.".into(),
        }
    }

    /// Whether another model may succeed where this one failed: the model or its channels
    /// failed (not found, rate limited, overloaded, broken), not the request or the payer (a bad
    /// request, no balance, a spent budget) and not the way to the relay itself.
    pub fn may_fall_back(&self) -> bool {
        match self.status {
            400 | 401 | 403 | 413 | 422 => false,
            402 => false,
            429 => !matches!(self.code.as_str(), "insufficient_quota" | "tenant_budget_exceeded"),
            0 => !matches!(self.code.as_str(), "relay_unavailable" | "lane_unavailable"),
            _ => true,
        }
    }

    /// Reads an OpenAI-style error body (`{"error": {"message", "type", "code"}}`).
    fn from_body(status: u16, body: &[u8]) -> Self {
        let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let error = &value["error"];
        let code = error["code"].as_str().or_else(|| error["type"].as_str()).unwrap_or("upstream_error");
        let message = error["message"].as_str().unwrap_or("The model service failed.");
        RelayFailure { status, code: code.to_string(), message: message.to_string() }
    }
}

/// Where the relay is and how to present ourselves.
#[derive(Clone)]
pub struct RelayClient {
    http: reqwest::Client,
    /// E.g. `http://127.0.0.1:8080` (no trailing slash, no `/v1`).
    base_url: String,
    internal_token: String,
    hops: Arc<Hops>,
}

impl RelayClient {
    pub fn new(base_url: &str, internal_token: &str, hops: Arc<Hops>) -> Self {
        let http = reqwest::Client::builder().connect_timeout(CONNECT_TIMEOUT).build().unwrap_or_default();
        RelayClient {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            internal_token: internal_token.into(),
            hops,
        }
    }

    /// Posts a Chat Completions request for `user` to the relay of the request's lane. With
    /// `request_id`, the relay records (and bills) the request under that id.
    async fn send(
        &self,
        user: Uuid,
        lane: &LaneContext,
        request_id: Option<Uuid>,
        body: &Value,
    ) -> Result<reqwest::Response, RelayFailure> {
        let build = |base: &str| {
            let request = self
                .http
                .post(format!("{base}/v1/chat/completions"))
                .bearer_auth(&self.internal_token)
                .header(USER_HEADER, user.to_string())
                .json(body);
            match request_id {
                Some(id) => request.header(REQUEST_ID_HEADER, id.to_string()),
                None => request,
            }
        };
        self.hops.send("relay", &self.base_url, lane, build).await.map_err(RelayFailure::from_hop)
    }

    /// Starts a streamed completion (`body` is a Chat Completions request; `stream` and usage
    /// reporting are set here) whose relay request id — the key of its ledger entry and request
    /// log — is `request_id`. Fails before the first byte with the relay's refusal.
    pub async fn stream(
        &self,
        user: Uuid,
        lane: &LaneContext,
        request_id: Uuid,
        body: &Value,
    ) -> Result<RelayStream, RelayFailure> {
        let mut body = body.clone();
        body["stream"] = Value::Bool(true);
        body["stream_options"] = serde_json::json!({"include_usage": true});
        let response = self.send(user, lane, Some(request_id), &body).await?;
        let status = response.status().as_u16();
        if status != 200 {
            let bytes = response.bytes().await.unwrap_or_default();
            return Err(RelayFailure::from_body(status, &bytes));
        }
        let body: BoxStream<'static, reqwest::Result<Bytes>> = response.bytes_stream().boxed();
        Ok(RelayStream {
            body,
            parser: SseParser::new(),
            pending: VecDeque::new(),
            finished: false,
            tool_calls: Vec::new(),
        })
    }

    /// A complete (non-streamed) answer's text, for small jobs such as topic titles.
    pub async fn complete(&self, user: Uuid, lane: &LaneContext, body: &Value) -> Result<String, RelayFailure> {
        let response = self.send(user, lane, None, body).await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(RelayFailure::unreachable)?;
        if status != 200 {
            return Err(RelayFailure::from_body(status, &bytes));
        }
        let value: Value = serde_json::from_slice(&bytes).map_err(RelayFailure::unreachable)?;
        Ok(value.pointer("/choices/0/message/content").and_then(Value::as_str).unwrap_or_default().to_string())
    }
}

/// A streamed answer, chunk by chunk.
pub struct RelayStream {
    body: BoxStream<'static, reqwest::Result<Bytes>>,
    parser: SseParser,
    pending: VecDeque<RelayChunk>,
    finished: bool,
    /// Tool calls by their index in the answer, growing as their pieces arrive.
    tool_calls: Vec<ToolCallRequest>,
}

impl RelayStream {
    /// The tool calls the answer asked for (complete once `next` returned `None`).
    pub fn tool_calls(&self) -> &[ToolCallRequest] {
        &self.tool_calls
    }

    /// The next chunk; `None` at `[DONE]`. A stream that ends without `[DONE]` or carries an
    /// error frame is a failure (the relay's error, or a broken connection).
    pub async fn next(&mut self) -> Option<Result<RelayChunk, RelayFailure>> {
        loop {
            if let Some(chunk) = self.pending.pop_front() {
                return Some(Ok(chunk));
            }
            if self.finished {
                return None;
            }
            let bytes = match self.body.next().await {
                Some(Ok(bytes)) => bytes,
                Some(Err(error)) => return Some(Err(RelayFailure::unreachable(error))),
                None => return Some(Err(broken_stream())),
            };
            for event in self.parser.push(&bytes) {
                if let Err(failure) = self.take(&event.data) {
                    return Some(Err(failure));
                }
            }
        }
    }

    fn take(&mut self, data: &str) -> Result<(), RelayFailure> {
        let data = data.trim();
        if data == "[DONE]" {
            self.finished = true;
            return Ok(());
        }
        let chunk: Value = serde_json::from_str(data).map_err(|_| broken_stream())?;
        if chunk.get("error").is_some() {
            return Err(RelayFailure::from_body(0, data.as_bytes()));
        }
        let delta = &chunk["choices"][0]["delta"];
        if let Some(text) = delta["reasoning_content"].as_str().filter(|t| !t.is_empty()) {
            self.pending.push_back(RelayChunk::Reasoning(text.to_string()));
        }
        if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
            self.pending.push_back(RelayChunk::Text(text.to_string()));
        }
        for piece in delta["tool_calls"].as_array().into_iter().flatten() {
            self.add_tool_call_piece(piece);
        }
        if chunk["usage"].is_object() {
            self.pending.push_back(RelayChunk::Usage(usage_from_json(&chunk["usage"])));
        }
        Ok(())
    }
}

impl RelayStream {
    /// Adds a streamed piece of a tool call: the first names it, later ones extend its arguments.
    fn add_tool_call_piece(&mut self, piece: &Value) {
        let index = piece["index"].as_u64().and_then(|i| usize::try_from(i).ok()).unwrap_or(self.tool_calls.len());
        // A model lists a handful of calls at most; an absurd index is not worth the memory.
        if index > 64 {
            return;
        }
        if self.tool_calls.len() <= index {
            self.tool_calls.resize_with(index + 1, ToolCallRequest::default);
        }
        let call = &mut self.tool_calls[index];
        if let Some(id) = piece["id"].as_str() {
            call.id = id.to_string();
        }
        if let Some(name) = piece.pointer("/function/name").and_then(Value::as_str) {
            call.name.push_str(name);
        }
        if let Some(arguments) = piece.pointer("/function/arguments").and_then(Value::as_str) {
            call.arguments.push_str(arguments);
        }
    }
}

fn broken_stream() -> RelayFailure {
    RelayFailure { status: 0, code: "stream_broken".into(), message: "The answer was cut off.".into() }
}

/// The relay's usage object (OpenAI shape: prompt counts include cached tokens).
fn usage_from_json(usage: &Value) -> Usage {
    let n = |pointer: &str| usage.pointer(pointer).and_then(Value::as_u64).unwrap_or(0);
    Usage {
        input_tokens: n("/prompt_tokens"),
        cached_input_tokens: n("/prompt_tokens_details/cached_tokens"),
        cache_write_tokens: n("/cache_creation_input_tokens"),
        output_tokens: n("/completion_tokens"),
        reasoning_tokens: n("/completion_tokens_details/reasoning_tokens"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn stream_of(chunks: &[&'static str]) -> RelayStream {
        let items: Vec<reqwest::Result<Bytes>> = chunks.iter().map(|c| Ok(Bytes::from_static(c.as_bytes()))).collect();
        RelayStream {
            body: futures_util::stream::iter(items).boxed(),
            parser: SseParser::new(),
            pending: VecDeque::new(),
            finished: false,
            tool_calls: Vec::new(),
        }
    }

    async fn drain(mut stream: RelayStream) -> Vec<Result<RelayChunk, RelayFailure>> {
        let mut out = Vec::new();
        while let Some(item) = stream.next().await {
            let failed = item.is_err();
            out.push(item);
            if failed {
                break;
            }
        }
        out
    }

    #[tokio::test]
    async fn chunks_split_anywhere_give_text_reasoning_and_the_usage() {
        let stream = stream_of(&[
            "data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"hm\"}}]}\n\ndata: {\"choi",
            "ces\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"prompt_tokens_details\":{\"cached_tokens\":4}}}\n\n",
            "data: [DONE]\n\n",
        ]);
        let chunks: Vec<RelayChunk> = drain(stream).await.into_iter().map(Result::unwrap).collect();
        assert_eq!(chunks[0], RelayChunk::Reasoning("hm".into()));
        assert_eq!(chunks[1], RelayChunk::Text("Hi".into()));
        let RelayChunk::Usage(usage) = &chunks[2] else { panic!("usage expected") };
        assert_eq!((usage.input_tokens, usage.cached_input_tokens, usage.output_tokens), (9, 4, 2));
    }

    #[tokio::test]
    async fn tool_calls_are_assembled_from_their_pieces() {
        let mut stream = stream_of(&[
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"echo\",\"arguments\":\"\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"message\\\":\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"hi\\\"}\"}},{\"index\":1,\"id\":\"call_2\",\"function\":{\"name\":\"get-sum\",\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n",
            "data: [DONE]\n\n",
        ]);
        while let Some(item) = stream.next().await {
            item.unwrap();
        }
        let calls = stream.tool_calls();
        assert_eq!(calls.len(), 2);
        assert_eq!((calls[0].id.as_str(), calls[0].name.as_str()), ("call_1", "echo"));
        assert_eq!(calls[0].arguments, r#"{"message":"hi"}"#);
        assert_eq!(
            (calls[1].id.as_str(), calls[1].name.as_str(), calls[1].arguments.as_str()),
            ("call_2", "get-sum", "{}")
        );
    }

    #[tokio::test]
    async fn an_error_frame_or_a_missing_done_is_a_failure() {
        let errored = stream_of(&[
            "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n",
            "data: {\"error\":{\"message\":\"upstream broke\",\"type\":\"api_error\",\"code\":\"upstream_error\"}}\n\n",
        ]);
        let items = drain(errored).await;
        let failure = items.last().unwrap().clone().unwrap_err();
        assert_eq!((failure.code.as_str(), failure.message.as_str()), ("upstream_error", "upstream broke"));
        let cut = drain(stream_of(&["data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"])).await;
        assert_eq!(cut.last().unwrap().clone().unwrap_err().code, "stream_broken");
    }

    #[test]
    fn refusals_keep_the_relays_code_and_message() {
        let body = br#"{"error":{"message":"You exceeded your current quota.","type":"insufficient_quota","code":"insufficient_quota"}}"#;
        let failure = RelayFailure::from_body(402, body);
        assert_eq!((failure.status, failure.code.as_str()), (402, "insufficient_quota"));
        assert_eq!(RelayFailure::from_body(502, b"garbage").code, "upstream_error");
    }

    #[test]
    fn only_failures_of_the_model_fall_back_to_another() {
        let failure = |status, code: &str| RelayFailure { status, code: code.into(), message: String::new() };
        assert!(failure(404, "model_not_found").may_fall_back());
        assert!(failure(503, "upstream_error").may_fall_back());
        assert!(failure(429, "rate_limit_exceeded").may_fall_back());
        assert!(failure(0, "stream_broken").may_fall_back());
        assert!(!failure(429, "insufficient_quota").may_fall_back());
        assert!(!failure(429, "tenant_budget_exceeded").may_fall_back());
        assert!(!failure(402, "insufficient_quota").may_fall_back());
        assert!(!failure(400, "invalid_request_error").may_fall_back());
        assert!(!failure(0, "relay_unavailable").may_fall_back());
    }
}
