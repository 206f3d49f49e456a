//! Knowledge bases and retrieval (DESIGN §5 "RAG"): users put their files (see `oblivious-files`)
//! into knowledge bases; ingestion parses, chunks and embeds them through the relay as durable
//! jobs; retrieval finds the chunks that answer a question.
//!
//! - `parse`: a file's bytes -> sections (heading path, page).
//! - `chunk`: sections -> token-bounded, overlapping chunks.
//! - `embed`: vectors through the relay's `/v1/embeddings`, acting for the user.
//! - `ingest`: the job worker (claim, parse, chunk, embed, fenced and resumable).
//! - `models`: which models embed; a new base's defaults.
//! - `search`: hybrid retrieval (vectors + full text, fused, threshold last).
//! - `routes`: `/api/v1/knowledge-bases`.

pub mod chunk;
pub mod embed;
pub mod ingest;
pub mod models;
pub mod parse;
mod routes;
pub mod search;
mod stopwords;

use std::sync::Arc;

use oblivious_gateway::{Gateway, GatewayState};
use oblivious_store::Store;

pub use embed::{ActingFor, Backoff, Embedder};
pub use ingest::{IngestSettings, Ingestor, Outcome};
pub use routes::{route_docs, router};

/// The RAG service of a process.
pub struct Rag {
    /// Accounts and identity (the routes take the gateway's extractors) and the store.
    pub gateway: Arc<Gateway>,
    pub ingestor: Arc<Ingestor>,
    /// Embeds search queries (the ingestor has its own for documents).
    pub embedder: Embedder,
}

impl Rag {
    pub fn new(gateway: Arc<Gateway>, ingestor: Arc<Ingestor>, embedder: Embedder) -> Arc<Self> {
        Arc::new(Rag { gateway, ingestor, embedder })
    }

    pub fn store(&self) -> &Store {
        self.gateway.store()
    }
}

impl GatewayState for Rag {
    fn gateway(&self) -> &Gateway {
        &self.gateway
    }
}
