//! Starting a reply: an *exchange* — an optional user message plus an assistant placeholder —
//! written in one transaction that also moves the topic's active branch, so a failure leaves
//! nothing behind.

use serde_json::Value;
use uuid::Uuid;

use super::STATUS_STREAMING;
use super::messages::{ChatMessage, MESSAGE_COLUMNS};
use super::topics::{ChatTopic, TOPIC_COLUMNS};
use crate::backend::{WriteTransaction, on_pool};
use crate::{Store, StoreError, StoreResult};

/// Where the new messages of an exchange hang in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeParent {
    /// After the last message of the topic's active branch (a plain send).
    ActiveLeaf,
    /// At the top of the tree (editing the first message).
    Root,
    /// Under this message of the topic (edits and regenerations branch here).
    Message(Uuid),
}

/// The user's turn of an exchange; absent when regenerating a reply.
#[derive(Debug, Clone)]
pub struct NewTurn {
    pub content: String,
    /// The files attached to it (a JSON array; `[]` for none).
    pub attachments: Value,
}

/// Everything one exchange writes.
#[derive(Debug, Clone)]
pub struct ExchangeStart {
    pub user_id: Uuid,
    pub session_id: Uuid,
    /// An existing topic of the session, or `None` to create one titled `new_topic_title`.
    pub topic_id: Option<Uuid>,
    pub new_topic_title: String,
    pub parent: ExchangeParent,
    pub user_turn: Option<NewTurn>,
    /// The model the reply is generated with.
    pub model: String,
}

/// What an exchange wrote.
#[derive(Debug, Clone)]
pub struct StartedExchange {
    pub topic: ChatTopic,
    pub user_message: Option<ChatMessage>,
    /// The placeholder, `status = streaming`.
    pub assistant_message: ChatMessage,
}

impl Store {
    /// Writes an exchange: the topic if new, the user's message (unless regenerating), the
    /// assistant placeholder, and the topic's new active leaf — all or nothing. `NotFound` when
    /// the session, topic or parent is not the user's.
    pub async fn start_chat_exchange(&self, start: &ExchangeStart) -> StoreResult<StartedExchange> {
        let now = crate::now_ms();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(pool.write_begin()).await?;
            let owned: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM chat_sessions WHERE id = $1 AND user_id = $2")
                .bind(start.session_id)
                .bind(start.user_id)
                .fetch_optional(&mut *tx)
                .await?;
            if owned.is_none() {
                return Err(StoreError::NotFound("session"));
            }
            let topic: ChatTopic = match start.topic_id {
                Some(topic_id) => {
                    let sql = format!("SELECT {TOPIC_COLUMNS} FROM chat_topics WHERE id = $1 AND session_id = $2");
                    sqlx::query_as(&sql)
                        .bind(topic_id)
                        .bind(start.session_id)
                        .fetch_optional(&mut *tx)
                        .await?
                        .ok_or(StoreError::NotFound("topic"))?
                }
                None => {
                    let sql = format!(
                        "INSERT INTO chat_topics ({TOPIC_COLUMNS}) VALUES ($1, $2, $3, $4, 'auto', NULL, $5, $5) \
                         RETURNING {TOPIC_COLUMNS}"
                    );
                    sqlx::query_as(&sql)
                        .bind(Uuid::now_v7())
                        .bind(start.session_id)
                        .bind(start.user_id)
                        .bind(&start.new_topic_title)
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await?
                }
            };
            let parent = match start.parent {
                ExchangeParent::ActiveLeaf => topic.active_leaf_id,
                ExchangeParent::Root => None,
                ExchangeParent::Message(id) => {
                    let found: Option<(Uuid,)> =
                        sqlx::query_as("SELECT id FROM chat_messages WHERE id = $1 AND topic_id = $2")
                            .bind(id)
                            .bind(topic.id)
                            .fetch_optional(&mut *tx)
                            .await?;
                    Some(found.ok_or(StoreError::NotFound("message"))?.0)
                }
            };
            let blank = |role: &str, parent_id: Option<Uuid>, content: String, attachments: Value, status: &str| ChatMessage {
                id: Uuid::now_v7(),
                topic_id: topic.id,
                session_id: start.session_id,
                user_id: start.user_id,
                parent_id,
                role: role.to_string(),
                content,
                reasoning: String::new(),
                model: Some(start.model.clone()),
                status: status.to_string(),
                error_code: None,
                error_message: None,
                input_tokens: None,
                output_tokens: None,
                cached_input_tokens: None,
                reasoning_tokens: None,
                cost_micros: None,
                currency: None,
                sources: Value::Array(Vec::new()),
                attachments,
                tool_calls: Value::Array(Vec::new()),
                created_at: now,
                updated_at: now,
            };
            let insert = format!(
                "INSERT INTO chat_messages ({MESSAGE_COLUMNS}) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, '', $8, $9, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '[]', $11, '[]', $10, $10)"
            );
            let mut user_message = None;
            let mut reply_parent = parent;
            if let Some(turn) = &start.user_turn {
                let message = blank("user", parent, turn.content.clone(), turn.attachments.clone(), "complete");
                reply_parent = Some(message.id);
                user_message = Some(message);
            }
            let assistant = blank("assistant", reply_parent, String::new(), Value::Array(Vec::new()), STATUS_STREAMING);
            for message in user_message.iter().chain(std::iter::once(&assistant)) {
                sqlx::query(&insert)
                    .bind(message.id)
                    .bind(message.topic_id)
                    .bind(message.session_id)
                    .bind(message.user_id)
                    .bind(message.parent_id)
                    .bind(&message.role)
                    .bind(&message.content)
                    .bind(&message.model)
                    .bind(&message.status)
                    .bind(now)
                    .bind(sqlx::types::Json(&message.attachments))
                    .execute(&mut *tx)
                    .await?;
            }
            let sql = format!(
                "UPDATE chat_topics SET active_leaf_id = $1, updated_at = $2 WHERE id = $3 RETURNING {TOPIC_COLUMNS}"
            );
            let topic: ChatTopic =
                sqlx::query_as(&sql).bind(assistant.id).bind(now).bind(topic.id).fetch_one(&mut *tx).await?;
            sqlx::query("UPDATE chat_sessions SET updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(start.session_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(StartedExchange { topic, user_message, assistant_message: assistant })
        })
    }
}
