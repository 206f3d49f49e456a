//! The tree of a topic: pages of the active branch (bounded walks up from a leaf), siblings,
//! switching branches, deleting a subtree.

use serde::Serialize;
use uuid::Uuid;

use super::messages::{ChatMessage, MESSAGE_COLUMNS};
use super::topics::{ChatTopic, TOPIC_COLUMNS};
use crate::backend::on_pool;
use crate::{Store, StoreError, StoreResult};

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
}
