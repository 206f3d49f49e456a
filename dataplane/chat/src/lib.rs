//! Chat for end users (DESIGN §5 "Chat"; the HTTP contract is `API.md`, the invariants are in
//! `NOTES.md`): sessions, topics, messages as a tree with branches, generation jobs that outlive
//! the request and stream through a resumable bus, agents, and the models a user may pick.
//!
//! The chat service is mounted beside the gateway (whose accounts and tokens it uses) and calls
//! the relay over HTTP like any client, as an internal service acting for the user — so quota,
//! limits and billing are the relay's.

mod attachments;
pub mod bus;
pub mod catalog;
pub mod context;
mod document_texts;
pub mod events;
mod exchange;
mod job;
pub mod relay_client;
mod routes;
pub mod running;
mod sources;
#[cfg(test)]
mod test_support;
mod titles;
pub mod tools;
mod topic_files;
pub mod views;

use std::sync::Arc;
use std::time::Duration;

use oblivious_core::edge::Hops;
use oblivious_core::shutdown::Lifecycle;
use oblivious_gateway::{Gateway, GatewayState};
use oblivious_rag::Rag;
use oblivious_store::Store;
use oblivious_tools::{HubSettings, ToolHub};

pub use job::HEARTBEAT_EVERY;
pub use routes::{route_docs, router};

use crate::bus::StreamBus;
use crate::relay_client::RelayClient;

/// A reply whose row was not touched for this long lost its job (its process died).
pub const INTERRUPTED_AFTER: Duration = Duration::from_secs(120);
const REAP_EVERY: Duration = Duration::from_secs(30);

/// Settings of the chat service.
#[derive(Debug, Clone)]
pub struct ChatConfig {
    /// The relay's base URL, e.g. `http://127.0.0.1:8080` (in `oblivious dev`, this process).
    pub relay_url: String,
    /// The token the relay accepts from internal services (`OBLIVIOUS_INTERNAL_TOKEN`).
    pub internal_token: String,
    /// Name new topics with a short model-written title after their first reply.
    pub generate_titles: bool,
    /// Most tool-calling rounds in one reply; the model must answer in words after that.
    pub max_tool_steps: usize,
    /// Whether stdio `ToolServer`s may be started (single-process roles such as `oblivious dev`).
    pub stdio_tools: bool,
    /// Whether users may add their own (Streamable HTTP) MCP servers.
    pub user_tool_servers: bool,
    /// Whether users' servers may be on loopback and private addresses (development only).
    pub user_tool_private_addresses: bool,
}

impl ChatConfig {
    /// The default rounds of tool calls in one reply.
    pub const DEFAULT_MAX_TOOL_STEPS: usize = 8;
}

/// The chat service's state.
pub struct Chat {
    /// Accounts, tokens, the store and the active configuration (through its relay).
    pub gateway: Arc<Gateway>,
    pub relay: RelayClient,
    pub bus: StreamBus,
    pub config: ChatConfig,
    /// The process's shutdown state: jobs are spawned on it.
    pub lifecycle: Arc<Lifecycle>,
    /// Retrieval from the sessions' knowledge bases; `None` where no file storage is configured.
    pub rag: Option<Arc<Rag>>,
    /// Clients of the MCP tool servers replies call.
    pub tools: ToolHub,
    /// Attached documents' text, parsed once.
    documents: document_texts::DocumentTexts,
}

impl Chat {
    /// `hops` sends the relay calls of a request in a lane to that lane's relay; `lifecycle`
    /// tracks generation jobs so a shutdown waits for them.
    pub fn new(
        gateway: Arc<Gateway>,
        bus: StreamBus,
        config: ChatConfig,
        hops: Arc<Hops>,
        lifecycle: Arc<Lifecycle>,
        rag: Option<Arc<Rag>>,
    ) -> Arc<Self> {
        let relay = RelayClient::new(&config.relay_url, &config.internal_token, hops);
        let tools = ToolHub::new(HubSettings {
            allow_stdio: config.stdio_tools,
            allow_private_user_addresses: config.user_tool_private_addresses,
            ..HubSettings::default()
        });
        Arc::new(Chat { gateway, relay, bus, config, lifecycle, rag, tools, documents: Default::default() })
    }

    /// Closes the tool servers' clients (stopping stdio children). Called once the jobs are done.
    pub async fn close_tools(&self) {
        self.tools.shutdown().await;
    }

    pub fn store(&self) -> &Store {
        self.gateway.store()
    }

    /// Ends replies whose job died with its process, now and then every `REAP_EVERY`. With
    /// `all_now` (a single-process deployment starting up) every reply still marked streaming
    /// is ended at once: no job of this process can own it yet.
    pub fn spawn_reaper(self: &Arc<Self>, all_now: bool) {
        let chat = self.clone();
        tokio::spawn(async move {
            if all_now {
                reap(&chat, oblivious_store::now_ms() + 1).await;
            }
            let mut every = tokio::time::interval(REAP_EVERY);
            loop {
                tokio::select! {
                    _ = every.tick() => {}
                    // A draining process leaves reaping to the pods that stay.
                    _ = chat.lifecycle.stopping() => return,
                }
                let stale_before = oblivious_store::now_ms() - INTERRUPTED_AFTER.as_millis() as i64;
                reap(&chat, stale_before).await;
            }
        });
    }
}

/// Chat routes take the gateway's identity extractors: the caller is one of its accounts.
impl GatewayState for Chat {
    fn gateway(&self) -> &Gateway {
        &self.gateway
    }
}

async fn reap(chat: &Chat, stale_before: i64) {
    match chat.store().reap_interrupted_chat_messages(stale_before).await {
        Ok(0) => {}
        Ok(count) => tracing::info!(count, "ended interrupted replies"),
        Err(error) => tracing::warn!(%error, "cannot reap interrupted replies"),
    }
}
