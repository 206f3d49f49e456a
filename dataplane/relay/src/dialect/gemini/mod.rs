//! PLACEHOLDER: being written (Gemini dialect). Replaced wholesale by its author.
#![allow(unused_variables)]
use bytes::Bytes;
use oblivious_config::{ApiKey, Channel};
use oblivious_core::ApiError;
use oblivious_core::sse::SseEvent;
use serde_json::Value;

use super::{DecodeError, StreamDecoder, StreamEncoder, StreamMeta, UpstreamFailure, UpstreamRequest};
use crate::ir::{ChatRequest, ChatResponse, StreamEvent, Usage};

pub fn parse_request(body: &[u8], hints: super::IngressHints<'_>) -> Result<ChatRequest, ApiError> {
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
pub struct GeminiStreamEncoder;
impl GeminiStreamEncoder {
    pub fn new(meta: StreamMeta) -> Self {
        unimplemented!()
    }
}
impl StreamEncoder for GeminiStreamEncoder {
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
pub struct GeminiStreamDecoder;
impl StreamDecoder for GeminiStreamDecoder {
    fn decode(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, DecodeError> {
        unimplemented!()
    }
    fn done(&self) -> bool {
        unimplemented!()
    }
}
pub fn json_array_encoder(meta: StreamMeta) -> Box<dyn StreamEncoder> {
    unimplemented!()
}
