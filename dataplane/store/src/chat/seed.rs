//! Bulk data for benchmarks and load tests: `topics` topics of `length` messages each, every
//! topic one linear branch, written by the database itself (one statement per batch of topics)
//! so a million messages take seconds, not an hour of round trips.
//!
//! Ids are derived from positions (topic `t`, message `n`), so parents are computed in SQL: on
//! PostgreSQL as `lpad(to_hex(x), 32, '0')::uuid`, on SQLite as `unhex(printf('%032x', x))`.

use uuid::Uuid;

use crate::backend::{Backend, WriteTransaction};
use crate::{Store, StoreResult};

/// Topics written per statement.
const TOPICS_PER_BATCH: i64 = 1_000;
/// Message `n` of topic `t` has id number `t << 24 | n`, so a topic holds up to 16M messages.
const MESSAGE_BITS: u32 = 24;
/// Topic ids live far above message ids.
const TOPIC_BASE: i64 = 1 << 62;

/// What was seeded.
#[derive(Debug, Clone)]
pub struct SeededChats {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub topics: i64,
    pub length: i64,
}

impl SeededChats {
    pub fn topic_id(&self, topic: i64) -> Uuid {
        Uuid::from_u128((TOPIC_BASE + topic) as u128)
    }

    /// Message `position` (1-based) of `topic`.
    pub fn message_id(&self, topic: i64, position: i64) -> Uuid {
        Uuid::from_u128(((topic << MESSAGE_BITS) | position) as u128)
    }
}

/// Seeds a fresh user with one session holding `topics` topics of `length` messages.
/// `progress` is called after every batch with the number of messages written so far.
pub async fn seed_chat_topics(
    store: &Store,
    topics: i64,
    length: i64,
    mut progress: impl FnMut(i64),
) -> StoreResult<SeededChats> {
    let user = store
        .create_user(crate::NewUser {
            username: format!("seed-{}", Uuid::now_v7().simple()),
            email: format!("seed-{}@example.invalid", Uuid::now_v7().simple()),
            password_hash: "!".into(),
            ..crate::NewUser::default()
        })
        .await?;
    let session = store
        .create_chat_session(super::NewChatSession {
            user_id: user.id,
            title: "Seeded".into(),
            model: "seeded".into(),
            ..super::NewChatSession::default()
        })
        .await?;
    let seeded = SeededChats { user_id: user.id, session_id: session.id, topics, length };
    let mut first = 1;
    while first <= topics {
        let last = (first + TOPICS_PER_BATCH - 1).min(topics);
        seed_batch(store, &seeded, first, last).await?;
        progress((last * length).min(topics * length));
        first = last + 1;
    }
    Ok(seeded)
}

async fn seed_batch(store: &Store, seeded: &SeededChats, first: i64, last: i64) -> StoreResult<()> {
    let (uuid_of, series) = match &store.backend {
        Backend::Postgres(_) => {
            ("lpad(to_hex(({x})::bigint), 32, '0')::uuid", "generate_series({from}, {to}) AS {alias}(value)")
        }
        Backend::Sqlite(_) => (
            "unhex(printf('%032x', {x}))",
            "(WITH RECURSIVE s(value) AS (SELECT {from} UNION ALL SELECT value + 1 FROM s WHERE value < {to}) SELECT value FROM s) AS {alias}",
        ),
    };
    let id = |x: &str| uuid_of.replace("{x}", x);
    let range = |alias: &str, from: &str, to: &str| {
        series.replace("{from}", from).replace("{to}", to).replace("{alias}", alias)
    };
    let topic_id = id(&format!("{TOPIC_BASE} + t.value"));
    let message_id = |n: &str| id(&format!("(t.value << {MESSAGE_BITS}) | ({n})"));
    let topics_sql = format!(
        "INSERT INTO chat_topics (id, session_id, user_id, title, title_source, active_leaf_id, created_at, updated_at) \
         SELECT {topic_id}, $1, $2, 'Topic ' || t.value, 'user', {leaf}, t.value, t.value \
         FROM {topics}",
        leaf = message_id("$3"),
        topics = range("t", "$4", "$5"),
    );
    let messages_sql = format!(
        "INSERT INTO chat_messages (id, topic_id, session_id, user_id, parent_id, role, content, status, created_at, updated_at) \
         SELECT {id}, {topic_id}, $1, $2, CASE WHEN n.value = 1 THEN NULL ELSE {parent} END, \
                CASE WHEN n.value % 2 = 1 THEN 'user' ELSE 'assistant' END, \
                'Message ' || n.value || ' of topic ' || t.value || ': a paragraph of ordinary length to make rows realistic.', \
                'complete', n.value, n.value \
         FROM {topics} CROSS JOIN {messages}",
        id = message_id("n.value"),
        parent = message_id("n.value - 1"),
        topics = range("t", "$4", "$5"),
        messages = range("n", "1", "$3"),
    );
    let (session, user, length) = (seeded.session_id, seeded.user_id, seeded.length);
    crate::backend::on_pool!(store, pool => {
        let mut tx = pool.begin_with(pool.write_begin()).await?;
        for sql in [&topics_sql, &messages_sql] {
            sqlx::query(sql).bind(session).bind(user).bind(length).bind(first).bind(last).execute(&mut *tx).await?;
        }
        tx.commit().await?;
    });
    Ok(())
}
