-- MCP servers users add for themselves (Streamable HTTP only; the platform's are `ToolServer`
-- resources). `headers` maps header names to values, which may be credentials: the API shows
-- the names only. A session turns tools on by reference in `chat_sessions.tools`: a platform
-- ToolServer's `namespace/name`, or `user:<id>` of one of these.
CREATE TABLE user_tool_servers (
    id          BLOB PRIMARY KEY,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    url         TEXT NOT NULL,
    headers     TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX user_tool_servers_user ON user_tool_servers (user_id, created_at);
ALTER TABLE chat_sessions ADD COLUMN tools TEXT NOT NULL DEFAULT '[]';
