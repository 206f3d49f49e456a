//! The LLM relay: OpenAI, Anthropic and Gemini ingress in front of many upstream channels, with
//! routing by priority and weight, failover before the first byte, passive health, exact usage
//! and asynchronous request records (DESIGN §5).
//!
//! Request path: `http` (auth, body limit, dialect parse) -> `chat` (select a channel, attempt,
//! fail over) -> `upstream` (HTTP with deadlines) -> `stream` (relay and translate) ->
//! `finalize` (one record and metrics per request).

pub mod billing;
pub mod chat;
pub mod dialect;
mod failover;
pub mod finalize;
pub mod http;
pub mod ir;
pub mod metrics;
pub mod request_log;
mod spans;
pub mod state;
pub mod stored_responses;
pub mod stream;
pub mod upstream;
pub mod usage;

pub use http::app;
pub use state::{Relay, RelayConfig};
