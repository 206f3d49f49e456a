-- Files users upload (chat attachments, knowledge-base documents). The bytes live in the object
-- store under `object_key` (content-addressed per user: `files/{user_id}/{sha256}`); one user's
-- identical uploads are one row and one object.
CREATE TABLE files (
    id BLOB PRIMARY KEY,
    user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- Sniffed from the bytes, never taken from the name or the client.
    media_type TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    object_key TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (user_id, sha256)
);
CREATE INDEX files_user_created ON files (user_id, created_at DESC);
