//! Messages: the rows of a topic's tree. Sending, editing and regenerating all start an
//! *exchange* — an optional user message plus an assistant placeholder — in one transaction that
//! also moves the topic's active branch, so a failure leaves nothing behind.

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::STATUS_STREAMING;
use super::topics::{ChatTopic, TOPIC_COLUMNS};
use crate::backend::{WriteTransaction, on_pool};
use crate::users::escape_like;
use crate::{Store, StoreError, StoreResult};

/// A message row.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ChatMessage {
    pub id: Uuid,
    pub topic_id: Uuid,
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub parent_id: Option<Uuid>,
    /// `user`, `assistant` or `system`.
    pub role: String,
    pub content: String,
    pub reasoning: String,
    pub model: Option<String>,
    /// `complete`, `streaming`, `stopped` or `error`.
    pub status: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cached_input_tokens: Option<i64>,
    pub reasoning_tokens: Option<i64>,
    pub cost_micros: Option<i64>,
    pub currency: Option<String>,
    /// Citations, as the chat service wrote them (a JSON array).
    #[sqlx(json)]
    pub sources: Value,
    pub created_at: i64,
    pub updated_at: i64,
}

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

/// How a reply ended, written once by `finalize_chat_message`.
#[derive(Debug, Clone, Default)]
pub struct FinalMessage {
    pub content: String,
    pub reasoning: String,
    /// `complete`, `stopped` or `error`.
    pub status: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub model: Option<String>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cached_input_tokens: Option<i64>,
    pub reasoning_tokens: Option<i64>,
    pub cost_micros: Option<i64>,
    pub currency: Option<String>,
    pub sources: Value,
}

/// The messages sharing a parent with a message, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiblingInfo {
    pub index: usize,
    pub count: usize,
    pub ids: Vec<Uuid>,
}

/// A page of the active branch, oldest first, each message with its siblings.
#[derive(Debug, Clone)]
pub struct BranchPage {
    pub messages: Vec<(ChatMessage, SiblingInfo)>,
    /// Older messages exist above the page.
    pub has_more: bool,
}

/// A message matching a search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct MessageSearchHit {
    pub message_id: Uuid,
    pub session_id: Uuid,
    pub topic_id: Uuid,
    pub topic_title: String,
    pub session_title: String,
    pub role: String,
    pub content: String,
    pub created_at: i64,
}

const MESSAGE_COLUMNS: &str = "id, topic_id, session_id, user_id, parent_id, role, content, reasoning, model, status, \
     error_code, error_message, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost_micros, \
     currency, sources, created_at, updated_at";

/// The most messages one walk up a branch returns (exports and context building).
pub const MAX_BRANCH_WALK: i64 = 10_000;

/// The path from the message `{start}` names (a message of topic `$1`) up to the root, at most
/// `$2 + 1` rows, with the distance from the start. Bounded, so a page costs `limit`
/// primary-key lookups.
const WALK_UP: &str = "WITH RECURSIVE path (id, parent_id, depth) AS ( \
       SELECT id, parent_id, 0 FROM chat_messages WHERE id = {start} AND topic_id = $1 \
       UNION ALL \
       SELECT m.id, m.parent_id, path.depth + 1 FROM chat_messages m JOIN path ON m.id = path.parent_id \
       WHERE path.depth < $2 \
     )";

/// Where a walk up a branch starts.
enum WalkStart {
    /// This message.
    Message(Uuid),
    /// The topic's active leaf (no `before`) or the parent of `before`, as the user's: the
    /// start is looked up inside the walk's own statement.
    Page { user_id: Uuid, before: Option<Uuid> },
}

/// From message `$1`, follow the newest child down to a leaf; the last row is the leaf.
const NEWEST_LEAF: &str = "WITH RECURSIVE down (id, depth) AS ( \
       SELECT id, 0 FROM chat_messages WHERE id = $1 \
       UNION ALL \
       SELECT (SELECT c.id FROM chat_messages c WHERE c.parent_id = down.id ORDER BY c.created_at DESC, c.id DESC LIMIT 1), \
              down.depth + 1 \
       FROM down WHERE down.id IS NOT NULL \
     ) SELECT id FROM down WHERE id IS NOT NULL ORDER BY depth DESC LIMIT 1";

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
            let blank = |role: &str, parent_id: Option<Uuid>, content: String, status: &str| ChatMessage {
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
                created_at: now,
                updated_at: now,
            };
            let insert = format!(
                "INSERT INTO chat_messages ({MESSAGE_COLUMNS}) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, '', $8, $9, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '[]', $10, $10)"
            );
            let mut user_message = None;
            let mut reply_parent = parent;
            if let Some(turn) = &start.user_turn {
                let message = blank("user", parent, turn.content.clone(), "complete");
                reply_parent = Some(message.id);
                user_message = Some(message);
            }
            let assistant = blank("assistant", reply_parent, String::new(), STATUS_STREAMING);
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

    pub async fn get_chat_message(&self, user_id: Uuid, id: Uuid) -> StoreResult<Option<ChatMessage>> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE id = $1 AND user_id = $2");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(id).bind(user_id).fetch_optional(pool).await?))
    }

    /// A page of the topic's active branch: the newest `limit` messages, or with `before` the
    /// `limit` messages just above that one. Oldest first. `None` when the topic is not the user's.
    ///
    /// Two round trips on the common path: the walk (which finds its own starting point, so the
    /// topic is not read first) and the siblings. Only an empty walk asks why it was empty.
    pub async fn chat_branch_page(
        &self,
        user_id: Uuid,
        topic_id: Uuid,
        before: Option<Uuid>,
        limit: i64,
    ) -> StoreResult<Option<BranchPage>> {
        let limit = limit.clamp(1, 200);
        let mut path = self.walk_up(topic_id, WalkStart::Page { user_id, before }, limit + 1).await?;
        if path.is_empty() {
            return self.explain_empty_page(user_id, topic_id, before).await;
        }
        let has_more = i64::try_from(path.len()).unwrap_or(i64::MAX) > limit;
        if has_more {
            path.remove(0);
        }
        let siblings = self.siblings_of(topic_id, &path).await?;
        Ok(Some(BranchPage { messages: path.into_iter().zip(siblings).collect(), has_more }))
    }

    /// Why a page came back empty: not the user's topic (`None`), a `before` that is not on
    /// this topic (`NotFound`), or simply nothing there.
    async fn explain_empty_page(
        &self,
        user_id: Uuid,
        topic_id: Uuid,
        before: Option<Uuid>,
    ) -> StoreResult<Option<BranchPage>> {
        if self.get_chat_topic(user_id, topic_id).await?.is_none() {
            return Ok(None);
        }
        if let Some(before) = before {
            let found = self.get_chat_message(user_id, before).await?;
            if found.is_none_or(|m| m.topic_id != topic_id) {
                return Err(StoreError::NotFound("message"));
            }
        }
        Ok(Some(BranchPage { messages: Vec::new(), has_more: false }))
    }

    /// The branch ending at `leaf` (included), oldest first, at most `limit` messages: the
    /// history a reply is generated from, or an export.
    pub async fn chat_branch_to(&self, topic_id: Uuid, leaf: Uuid, limit: i64) -> StoreResult<Vec<ChatMessage>> {
        self.walk_up(topic_id, WalkStart::Message(leaf), limit.clamp(1, MAX_BRANCH_WALK)).await
    }

    /// Up to `count` messages from `start` towards the root, returned oldest first.
    async fn walk_up(&self, topic_id: Uuid, start: WalkStart, count: i64) -> StoreResult<Vec<ChatMessage>> {
        let columns = MESSAGE_COLUMNS.split(", ").map(|c| format!("m.{c}")).collect::<Vec<_>>().join(", ");
        let start_sql = match start {
            WalkStart::Message(_) => "$3",
            WalkStart::Page { before: None, .. } => {
                "(SELECT active_leaf_id FROM chat_topics WHERE id = $1 AND user_id = $3 AND $4 IS NULL)"
            }
            WalkStart::Page { before: Some(_), .. } => {
                "(SELECT b.parent_id FROM chat_messages b WHERE b.id = $4 AND b.topic_id = $1 AND b.user_id = $3)"
            }
        };
        let walk = WALK_UP.replace("{start}", start_sql);
        let sql = format!(
            "{walk} SELECT {columns} FROM chat_messages m JOIN path ON m.id = path.id ORDER BY path.depth DESC"
        );
        Ok(on_pool!(self, pool => {
            let query = sqlx::query_as(&sql).bind(topic_id).bind(count - 1);
            let query = match start {
                WalkStart::Message(id) => query.bind(id),
                WalkStart::Page { user_id, before } => query.bind(user_id).bind(before),
            };
            query.fetch_all(pool).await?
        }))
    }

    /// For each message, the ids of the messages sharing its parent (itself included).
    async fn siblings_of(&self, topic_id: Uuid, messages: &[ChatMessage]) -> StoreResult<Vec<SiblingInfo>> {
        let parents: Vec<Uuid> = messages.iter().filter_map(|m| m.parent_id).collect();
        let has_root = messages.iter().any(|m| m.parent_id.is_none());
        let rows: Vec<(Uuid, Option<Uuid>)> = on_pool!(self, pool => {
            let mut query = sqlx::QueryBuilder::new("SELECT id, parent_id FROM chat_messages WHERE topic_id = ");
            query.push_bind(topic_id).push(" AND (");
            if has_root {
                query.push("parent_id IS NULL OR ");
            }
            query.push("parent_id IN (");
            let mut list = query.separated(", ");
            for parent in &parents {
                list.push_bind(*parent);
            }
            if parents.is_empty() {
                list.push("NULL");
            }
            query.push(")) ORDER BY created_at, id");
            query.build_query_as().fetch_all(pool).await?
        });
        Ok(messages
            .iter()
            .map(|message| {
                let ids: Vec<Uuid> = rows.iter().filter(|(_, p)| *p == message.parent_id).map(|(id, _)| *id).collect();
                let index = ids.iter().position(|id| *id == message.id).unwrap_or(0);
                SiblingInfo { index, count: ids.len(), ids }
            })
            .collect())
    }

    /// The siblings of one message (itself included); `None` when it is not the user's.
    pub async fn chat_message_siblings(&self, user_id: Uuid, message_id: Uuid) -> StoreResult<Option<SiblingInfo>> {
        let Some(message) = self.get_chat_message(user_id, message_id).await? else { return Ok(None) };
        let topic_id = message.topic_id;
        Ok(self.siblings_of(topic_id, &[message]).await?.pop())
    }

    /// Makes the branch through `message_id` the topic's active one, down to its newest leaf.
    pub async fn activate_chat_message(&self, user_id: Uuid, message_id: Uuid) -> StoreResult<Option<ChatTopic>> {
        let Some(message) = self.get_chat_message(user_id, message_id).await? else { return Ok(None) };
        let leaf = self.newest_leaf_from(message.id).await?.unwrap_or(message.id);
        let sql = format!("UPDATE chat_topics SET active_leaf_id = $1 WHERE id = $2 RETURNING {TOPIC_COLUMNS}");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(leaf).bind(message.topic_id).fetch_optional(pool).await?))
    }

    async fn newest_leaf_from(&self, message_id: Uuid) -> StoreResult<Option<Uuid>> {
        let row: Option<(Uuid,)> =
            on_pool!(self, pool => sqlx::query_as(NEWEST_LEAF).bind(message_id).fetch_optional(pool).await?);
        Ok(row.map(|r| r.0))
    }

    /// Deletes a message and its descendants. When the active branch went with them, the
    /// topic's active leaf moves to the newest remaining branch under the parent (or the topic's
    /// newest root). `None` when the message is not the user's.
    pub async fn delete_chat_message(&self, user_id: Uuid, id: Uuid) -> StoreResult<Option<ChatTopic>> {
        let Some(message) = self.get_chat_message(user_id, id).await? else { return Ok(None) };
        let deleted = on_pool!(self, pool => sqlx::query("DELETE FROM chat_messages WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(pool)
            .await?
            .rows_affected());
        if deleted == 0 {
            return Ok(None);
        }
        let Some(topic) = self.get_chat_topic(user_id, message.topic_id).await? else { return Ok(None) };
        let leaf_alive = match topic.active_leaf_id {
            Some(leaf) => self.get_chat_message(user_id, leaf).await?.is_some(),
            None => true,
        };
        if leaf_alive {
            return Ok(Some(topic));
        }
        let branch_top = match message.parent_id {
            Some(parent) => Some(parent),
            None => {
                let sql = "SELECT id FROM chat_messages WHERE topic_id = $1 AND parent_id IS NULL \
                           ORDER BY created_at DESC, id DESC LIMIT 1";
                let row: Option<(Uuid,)> =
                    on_pool!(self, pool => sqlx::query_as(sql).bind(topic.id).fetch_optional(pool).await?);
                row.map(|r| r.0)
            }
        };
        let leaf = match branch_top {
            Some(top) => self.newest_leaf_from(top).await?,
            None => None,
        };
        let sql = format!("UPDATE chat_topics SET active_leaf_id = $1 WHERE id = $2 RETURNING {TOPIC_COLUMNS}");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(leaf).bind(topic.id).fetch_optional(pool).await?))
    }

    /// Saves what a reply has so far (the placeholder is updated as the job runs). False when
    /// the reply is no longer streaming.
    pub async fn update_streaming_chat_message(&self, id: Uuid, content: &str, reasoning: &str) -> StoreResult<bool> {
        let sql = "UPDATE chat_messages SET content = $1, reasoning = $2, updated_at = $3 \
                   WHERE id = $4 AND status = 'streaming'";
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(content)
            .bind(reasoning)
            .bind(crate::now_ms())
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(done > 0)
    }

    /// Writes how a reply ended, once: `None` when it had already ended (e.g. reaped).
    pub async fn finalize_chat_message(&self, id: Uuid, last: &FinalMessage) -> StoreResult<Option<ChatMessage>> {
        let now = crate::now_ms();
        let sql = format!(
            "UPDATE chat_messages SET content = $1, reasoning = $2, status = $3, error_code = $4, error_message = $5, \
             model = COALESCE($6, model), input_tokens = $7, output_tokens = $8, cached_input_tokens = $9, \
             reasoning_tokens = $10, cost_micros = $11, currency = $12, sources = $13, updated_at = $14 \
             WHERE id = $15 AND status = 'streaming' RETURNING {MESSAGE_COLUMNS}"
        );
        let message: Option<ChatMessage> = on_pool!(self, pool => sqlx::query_as(&sql)
            .bind(&last.content)
            .bind(&last.reasoning)
            .bind(&last.status)
            .bind(&last.error_code)
            .bind(&last.error_message)
            .bind(&last.model)
            .bind(last.input_tokens)
            .bind(last.output_tokens)
            .bind(last.cached_input_tokens)
            .bind(last.reasoning_tokens)
            .bind(last.cost_micros)
            .bind(&last.currency)
            .bind(sqlx::types::Json(&last.sources))
            .bind(now)
            .bind(id)
            .fetch_optional(pool)
            .await?);
        if let Some(message) = &message {
            on_pool!(self, pool => sqlx::query("UPDATE chat_topics SET updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(message.topic_id)
                .execute(pool)
                .await
                .map(drop)?);
        }
        Ok(message)
    }

    /// Ends replies whose job stopped saving progress before `stale_before` (its process died):
    /// they become `error` / `interrupted`, keeping what was saved. Returns how many.
    pub async fn reap_interrupted_chat_messages(&self, stale_before: i64) -> StoreResult<u64> {
        let sql = "UPDATE chat_messages SET status = 'error', error_code = 'interrupted', \
                   error_message = 'The reply was interrupted.', updated_at = $1 \
                   WHERE status = 'streaming' AND updated_at < $2";
        Ok(on_pool!(self, pool => sqlx::query(sql)
            .bind(crate::now_ms())
            .bind(stale_before)
            .execute(pool)
            .await?
            .rows_affected()))
    }

    /// The user's messages containing `query` (case-insensitive for ASCII on SQLite, fully on
    /// PostgreSQL), newest first.
    pub async fn search_chat_messages(
        &self,
        user_id: Uuid,
        query: &str,
        limit: i64,
    ) -> StoreResult<Vec<MessageSearchHit>> {
        let pattern = format!("%{}%", escape_like(&query.to_lowercase()));
        let sql = "SELECT m.id AS message_id, m.session_id, m.topic_id, t.title AS topic_title, \
                   s.title AS session_title, m.role, m.content, m.created_at \
                   FROM chat_messages m JOIN chat_topics t ON t.id = m.topic_id JOIN chat_sessions s ON s.id = m.session_id \
                   WHERE m.user_id = $1 AND lower(m.content) LIKE $2 ESCAPE '\\' \
                   ORDER BY m.created_at DESC, m.id DESC LIMIT $3";
        Ok(on_pool!(self, pool => sqlx::query_as(sql)
            .bind(user_id)
            .bind(&pattern)
            .bind(limit.clamp(1, 100))
            .fetch_all(pool)
            .await?))
    }
}
