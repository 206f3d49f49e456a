//! Chat storage (DESIGN §5 "Chat"): sessions, topics, messages and users' private agents.
//!
//! Every read and write takes the owning `user_id` and matches it in SQL, so one user can never
//! reach another's rows: a foreign id behaves exactly like a missing one (`None` / `false`).
//!
//! Messages are rows of a tree per topic (`parent_id`); a topic remembers the leaf of its
//! active branch. Lists walk that branch upwards from a starting message with a bounded
//! recursive query, so a page costs `limit` index lookups however long the conversation is.

mod agents;
mod branches;
mod exchange;
mod knowledge;
mod messages;
mod preferences;
mod replies;
mod sessions;
mod tool_servers;
mod topics;

pub use agents::{AgentFields, ChatAgent};
pub use branches::{BranchPage, MAX_BRANCH_WALK, SiblingInfo};
pub use exchange::{ExchangeParent, ExchangeStart, NewTurn, StartedExchange};
pub use messages::{ChatMessage, MessageSearchHit};
pub use replies::FinalMessage;
pub use sessions::{ChatSession, NewChatSession, SessionUpdate};
pub use tool_servers::{MAX_USER_TOOL_SERVERS, UserToolServer};
pub use topics::ChatTopic;

/// Status of a message whose reply is still being generated.
pub const STATUS_STREAMING: &str = "streaming";

mod seed;
pub use seed::{SeededChats, seed_chat_topics};
