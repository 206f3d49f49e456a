-- Chat (issue "chat for end users"): sessions, topics, messages as a tree (parent_id) and
-- users' private agents. Temperatures are integer thousandths (no floats in storage).

CREATE TABLE chat_sessions (
    id                 uuid PRIMARY KEY,
    user_id            uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    agent_id           uuid,
    title              text NOT NULL,
    avatar             text NOT NULL DEFAULT '',
    description        text NOT NULL DEFAULT '',
    system_prompt      text NOT NULL DEFAULT '',
    model              text NOT NULL,
    temperature_milli  integer,
    opening_message    text,
    pinned             boolean NOT NULL DEFAULT false,
    group_name         text NOT NULL DEFAULT '',
    created_at         bigint NOT NULL,
    updated_at         bigint NOT NULL
);
CREATE INDEX chat_sessions_user ON chat_sessions (user_id, updated_at DESC);

CREATE TABLE chat_topics (
    id              uuid PRIMARY KEY,
    session_id      uuid NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL,
    title           text NOT NULL,
    -- 'auto' titles may be replaced by the generated one; 'user' titles never are.
    title_source    text NOT NULL DEFAULT 'auto' CHECK (title_source IN ('auto', 'user')),
    active_leaf_id  uuid,
    created_at      bigint NOT NULL,
    updated_at      bigint NOT NULL
);
CREATE INDEX chat_topics_session ON chat_topics (session_id, updated_at DESC, id DESC);

-- One row per message; a topic's messages form a tree through parent_id (edits and
-- regenerations are siblings). Deleting a message deletes its descendants.
CREATE TABLE chat_messages (
    id                   uuid PRIMARY KEY,
    topic_id             uuid NOT NULL REFERENCES chat_topics (id) ON DELETE CASCADE,
    session_id           uuid NOT NULL,
    user_id              uuid NOT NULL,
    parent_id            uuid REFERENCES chat_messages (id) ON DELETE CASCADE,
    role                 text NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content              text NOT NULL DEFAULT '',
    reasoning            text NOT NULL DEFAULT '',
    model                text,
    status               text NOT NULL CHECK (status IN ('complete', 'streaming', 'stopped', 'error')),
    error_code           text,
    error_message        text,
    input_tokens         bigint,
    output_tokens        bigint,
    cached_input_tokens  bigint,
    reasoning_tokens     bigint,
    cost_micros          bigint,
    currency             text,
    sources              jsonb NOT NULL DEFAULT '[]',
    created_at           bigint NOT NULL,
    updated_at           bigint NOT NULL
);
CREATE INDEX chat_messages_parent ON chat_messages (parent_id, created_at, id);
CREATE INDEX chat_messages_topic ON chat_messages (topic_id, created_at, id);
CREATE INDEX chat_messages_user ON chat_messages (user_id, created_at DESC);
CREATE INDEX chat_messages_streaming ON chat_messages (updated_at) WHERE status = 'streaming';

CREATE TABLE chat_agents (
    id                 uuid PRIMARY KEY,
    user_id            uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name               text NOT NULL,
    avatar             text NOT NULL DEFAULT '',
    description        text NOT NULL DEFAULT '',
    tags               jsonb NOT NULL DEFAULT '[]',
    system_prompt      text NOT NULL DEFAULT '',
    model              text,
    temperature_milli  integer,
    opening_message    text,
    created_at         bigint NOT NULL,
    updated_at         bigint NOT NULL
);
CREATE INDEX chat_agents_user ON chat_agents (user_id, updated_at DESC);
