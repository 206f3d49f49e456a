//! PLACEHOLDER: being written (OpenAI dialect). Replaced wholesale by its author.
#![allow(unused_variables)]
use bytes::Bytes;
use oblivious_config::{ApiKey, Channel};
use oblivious_core::ApiError;
use oblivious_core::sse::SseEvent;
use serde_json::Value;

use super::{DecodeError, StreamDecoder, StreamEncoder, StreamMeta, UpstreamFailure, UpstreamRequest};
use crate::ir::{ChatRequest, ChatResponse, StreamEvent, Usage};

pub fn parse_request(body: &[u8]) -> Result<ChatRequest, ApiError> {
    unimplemented!()
}
pub fn render_response(r: &ChatResponse) -> Value {
    unimplemented!()
}
pub fn build_upstream_request(
    channel: &Channel,
    base_url: &str,
    key: &ApiKey,
    request: &ChatRequest,
    upstream_model: &str,
) -> UpstreamRequest {
    unimplemented!()
}
pub fn parse_upstream_response(body: &[u8]) -> Result<ChatResponse, String> {
    unimplemented!()
}
pub fn classify_failure(status: u16, body: &[u8]) -> UpstreamFailure {
    unimplemented!()
}
pub struct OpenAiStreamEncoder;
impl OpenAiStreamEncoder {
    pub fn new(meta: StreamMeta) -> Self {
        unimplemented!()
    }
}
impl StreamEncoder for OpenAiStreamEncoder {
    fn encode(&mut self, event: &StreamEvent) -> Vec<Bytes> {
        unimplemented!()
    }
    fn finish(&mut self, usage: Usage) -> Vec<Bytes> {
        unimplemented!()
    }
    fn abort(&mut self, error: &ApiError) -> Vec<Bytes> {
        unimplemented!()
    }
}
#[derive(Default)]
pub struct OpenAiStreamDecoder;
impl StreamDecoder for OpenAiStreamDecoder {
    fn decode(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, DecodeError> {
        unimplemented!()
    }
    fn done(&self) -> bool {
        unimplemented!()
    }
}
