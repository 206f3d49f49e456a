//! The knowledge bases a chat session answers from (`chat_session_knowledge_bases`). Links go
//! with either side: deleting a session or a knowledge base unlinks it.

use std::collections::HashMap;

use uuid::Uuid;

use crate::backend::{WriteTransaction, on_pool};
use crate::{Store, StoreResult};

impl Store {
    /// The knowledge bases of the user's session `session_id`, oldest link first.
    pub async fn chat_session_knowledge_bases(&self, user_id: Uuid, session_id: Uuid) -> StoreResult<Vec<Uuid>> {
        let sql = "SELECT l.kb_id FROM chat_session_knowledge_bases l \
                   JOIN chat_sessions s ON s.id = l.session_id WHERE l.session_id = $1 AND s.user_id = $2 \
                   ORDER BY l.kb_id";
        let rows: Vec<(Uuid,)> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(session_id).bind(user_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// The knowledge bases of every session of the user, by session.
    pub async fn chat_sessions_knowledge_bases(&self, user_id: Uuid) -> StoreResult<HashMap<Uuid, Vec<Uuid>>> {
        let sql = "SELECT l.session_id, l.kb_id FROM chat_session_knowledge_bases l \
                   JOIN chat_sessions s ON s.id = l.session_id WHERE s.user_id = $1 ORDER BY l.kb_id";
        let rows: Vec<(Uuid, Uuid)> = on_pool!(self, pool => sqlx::query_as(sql).bind(user_id).fetch_all(pool).await?);
        let mut links: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for (session, kb) in rows {
            links.entry(session).or_default().push(kb);
        }
        Ok(links)
    }

    /// Makes `kb_ids` the session's knowledge bases. Every one must be the user's, as must the
    /// session; otherwise nothing changes and the answer is false.
    pub async fn set_chat_session_knowledge_bases(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        kb_ids: &[Uuid],
    ) -> StoreResult<bool> {
        let owned_session = "SELECT 1 FROM chat_sessions WHERE id = $1 AND user_id = $2";
        let clear = "DELETE FROM chat_session_knowledge_bases WHERE session_id = $1";
        // Inserts only a base the user owns: a foreign or unknown id inserts nothing.
        let link = "INSERT INTO chat_session_knowledge_bases (session_id, kb_id) \
                    SELECT $1, id FROM knowledge_bases WHERE id = $2 AND user_id = $3 \
                    ON CONFLICT (session_id, kb_id) DO NOTHING";
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(pool.write_begin()).await?;
            let session: Option<(i32,)> =
                sqlx::query_as(owned_session).bind(session_id).bind(user_id).fetch_optional(&mut *tx).await?;
            if session.is_none() {
                return Ok(false);
            }
            sqlx::query(clear).bind(session_id).execute(&mut *tx).await?;
            let mut distinct = kb_ids.to_vec();
            distinct.sort();
            distinct.dedup();
            for kb_id in &distinct {
                let linked = sqlx::query(link).bind(session_id).bind(kb_id).bind(user_id).execute(&mut *tx).await?;
                if linked.rows_affected() != 1 {
                    return Ok(false);
                }
            }
            tx.commit().await?;
        });
        Ok(true)
    }
}
