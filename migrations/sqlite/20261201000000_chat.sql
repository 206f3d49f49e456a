-- Same schema as migrations/postgres/20261201000000_chat.sql.

CREATE TABLE chat_sessions (
    id                 BLOB PRIMARY KEY,
    user_id            BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    agent_id           BLOB,
    title              TEXT NOT NULL,
    avatar             TEXT NOT NULL DEFAULT '',
    description        TEXT NOT NULL DEFAULT '',
    system_prompt      TEXT NOT NULL DEFAULT '',
    model              TEXT NOT NULL,
    temperature_milli  INTEGER,
    opening_message    TEXT,
    pinned             INTEGER NOT NULL DEFAULT 0,
    group_name         TEXT NOT NULL DEFAULT '',
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX chat_sessions_user ON chat_sessions (user_id, updated_at DESC);

CREATE TABLE chat_topics (
    id              BLOB PRIMARY KEY,
    session_id      BLOB NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    user_id         BLOB NOT NULL,
    title           TEXT NOT NULL,
    -- 'auto' titles may be replaced by the generated one; 'user' titles never are.
    title_source    TEXT NOT NULL DEFAULT 'auto' CHECK (title_source IN ('auto', 'user')),
    active_leaf_id  BLOB,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX chat_topics_session ON chat_topics (session_id, updated_at DESC, id DESC);

-- One row per message; a topic's messages form a tree through parent_id (edits and
-- regenerations are siblings). Deleting a message deletes its descendants.
CREATE TABLE chat_messages (
    id                   BLOB PRIMARY KEY,
    topic_id             BLOB NOT NULL REFERENCES chat_topics (id) ON DELETE CASCADE,
    session_id           BLOB NOT NULL,
    user_id              BLOB NOT NULL,
    parent_id            BLOB REFERENCES chat_messages (id) ON DELETE CASCADE,
    role                 TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content              TEXT NOT NULL DEFAULT '',
    reasoning            TEXT NOT NULL DEFAULT '',
    model                TEXT,
    status               TEXT NOT NULL CHECK (status IN ('complete', 'streaming', 'stopped', 'error')),
    error_code           TEXT,
    error_message        TEXT,
    input_tokens         INTEGER,
    output_tokens        INTEGER,
    cached_input_tokens  INTEGER,
    reasoning_tokens     INTEGER,
    cost_micros          INTEGER,
    currency             TEXT,
    sources              TEXT NOT NULL DEFAULT '[]',
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX chat_messages_parent ON chat_messages (parent_id, created_at, id);
CREATE INDEX chat_messages_topic ON chat_messages (topic_id, created_at, id);
CREATE INDEX chat_messages_user ON chat_messages (user_id, created_at DESC);
CREATE INDEX chat_messages_streaming ON chat_messages (updated_at) WHERE status = 'streaming';

CREATE TABLE chat_agents (
    id                 BLOB PRIMARY KEY,
    user_id            BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    avatar             TEXT NOT NULL DEFAULT '',
    description        TEXT NOT NULL DEFAULT '',
    tags               TEXT NOT NULL DEFAULT '[]',
    system_prompt      TEXT NOT NULL DEFAULT '',
    model              TEXT,
    temperature_milli  INTEGER,
    opening_message    TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX chat_agents_user ON chat_agents (user_id, updated_at DESC);
