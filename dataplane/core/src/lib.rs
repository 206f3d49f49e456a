//! Pieces every data-plane service shares: the wire dialects and their error bodies, SSE
//! framing, the edge layer every role mounts (request ids, lane dyeing and forwarding, in-flight
//! counting), lanes, telemetry set-up and graceful shutdown.

pub mod dialect;
pub mod edge;
pub mod error;
pub mod lane;
pub mod serve;
pub mod shutdown;
pub mod sse;
pub mod telemetry;

pub use dialect::Dialect;
pub use error::{ApiError, ErrorKind};
