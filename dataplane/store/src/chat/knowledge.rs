//! The knowledge bases a chat session answers from (`chat_session_knowledge_bases`) and those
//! a user's private agent brings to the sessions started from it (`chat_agent_knowledge_bases`).
//! Links go with either side: deleting a session, an agent or a knowledge base unlinks it.

use std::collections::HashMap;

use uuid::Uuid;

use crate::backend::{WriteTransaction, on_pool};
use crate::{Store, StoreResult};

/// One kind of link: its table, the column naming the owner, and the owner's table.
struct Links {
    table: &'static str,
    owner_column: &'static str,
    owners: &'static str,
}

const SESSION_LINKS: Links =
    Links { table: "chat_session_knowledge_bases", owner_column: "session_id", owners: "chat_sessions" };
const AGENT_LINKS: Links =
    Links { table: "chat_agent_knowledge_bases", owner_column: "agent_id", owners: "chat_agents" };

impl Store {
    /// The knowledge bases of the user's session `session_id`.
    pub async fn chat_session_knowledge_bases(&self, user_id: Uuid, session_id: Uuid) -> StoreResult<Vec<Uuid>> {
        self.linked_knowledge_bases(&SESSION_LINKS, user_id, session_id).await
    }

    /// The knowledge bases of the user's private agent `agent_id`.
    pub async fn chat_agent_knowledge_bases(&self, user_id: Uuid, agent_id: Uuid) -> StoreResult<Vec<Uuid>> {
        self.linked_knowledge_bases(&AGENT_LINKS, user_id, agent_id).await
    }

    /// The knowledge bases of every session of the user, by session.
    pub async fn chat_sessions_knowledge_bases(&self, user_id: Uuid) -> StoreResult<HashMap<Uuid, Vec<Uuid>>> {
        self.all_linked_knowledge_bases(&SESSION_LINKS, user_id).await
    }

    /// The knowledge bases of every private agent of the user, by agent.
    pub async fn chat_agents_knowledge_bases(&self, user_id: Uuid) -> StoreResult<HashMap<Uuid, Vec<Uuid>>> {
        self.all_linked_knowledge_bases(&AGENT_LINKS, user_id).await
    }

    /// Makes `kb_ids` the session's knowledge bases. Every one must be the user's, as must the
    /// session; otherwise nothing changes and the answer is false.
    pub async fn set_chat_session_knowledge_bases(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        kb_ids: &[Uuid],
    ) -> StoreResult<bool> {
        self.set_linked_knowledge_bases(&SESSION_LINKS, user_id, session_id, kb_ids).await
    }

    /// Makes `kb_ids` the agent's knowledge bases, as `set_chat_session_knowledge_bases` does.
    pub async fn set_chat_agent_knowledge_bases(
        &self,
        user_id: Uuid,
        agent_id: Uuid,
        kb_ids: &[Uuid],
    ) -> StoreResult<bool> {
        self.set_linked_knowledge_bases(&AGENT_LINKS, user_id, agent_id, kb_ids).await
    }

    async fn linked_knowledge_bases(&self, links: &Links, user_id: Uuid, owner_id: Uuid) -> StoreResult<Vec<Uuid>> {
        let Links { table, owner_column, owners } = links;
        let sql = format!(
            "SELECT l.kb_id FROM {table} l JOIN {owners} o ON o.id = l.{owner_column} \
             WHERE l.{owner_column} = $1 AND o.user_id = $2 ORDER BY l.kb_id"
        );
        let rows: Vec<(Uuid,)> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(owner_id).bind(user_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn all_linked_knowledge_bases(&self, links: &Links, user_id: Uuid) -> StoreResult<HashMap<Uuid, Vec<Uuid>>> {
        let Links { table, owner_column, owners } = links;
        let sql = format!(
            "SELECT l.{owner_column}, l.kb_id FROM {table} l JOIN {owners} o ON o.id = l.{owner_column} \
             WHERE o.user_id = $1 ORDER BY l.kb_id"
        );
        let rows: Vec<(Uuid, Uuid)> = on_pool!(self, pool => sqlx::query_as(&sql).bind(user_id).fetch_all(pool).await?);
        let mut linked: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for (owner, kb) in rows {
            linked.entry(owner).or_default().push(kb);
        }
        Ok(linked)
    }

    async fn set_linked_knowledge_bases(
        &self,
        links: &Links,
        user_id: Uuid,
        owner_id: Uuid,
        kb_ids: &[Uuid],
    ) -> StoreResult<bool> {
        let Links { table, owner_column, owners } = links;
        let owned = format!("SELECT 1 FROM {owners} WHERE id = $1 AND user_id = $2");
        let clear = format!("DELETE FROM {table} WHERE {owner_column} = $1");
        // Inserts only a base the user owns (not a topic's own): a foreign or unknown id inserts
        // nothing.
        let link = format!(
            "INSERT INTO {table} ({owner_column}, kb_id) \
             SELECT $1, id FROM knowledge_bases WHERE id = $2 AND user_id = $3 AND topic_id IS NULL \
             ON CONFLICT ({owner_column}, kb_id) DO NOTHING"
        );
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(pool.write_begin()).await?;
            let owner: Option<(i32,)> =
                sqlx::query_as(&owned).bind(owner_id).bind(user_id).fetch_optional(&mut *tx).await?;
            if owner.is_none() {
                return Ok(false);
            }
            sqlx::query(&clear).bind(owner_id).execute(&mut *tx).await?;
            let mut distinct = kb_ids.to_vec();
            distinct.sort();
            distinct.dedup();
            for kb_id in &distinct {
                let linked = sqlx::query(&link).bind(owner_id).bind(kb_id).bind(user_id).execute(&mut *tx).await?;
                if linked.rows_affected() != 1 {
                    return Ok(false);
                }
            }
            tx.commit().await?;
        });
        Ok(true)
    }
}
