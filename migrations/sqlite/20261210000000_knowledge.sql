-- Same schema as migrations/postgres/20261210000000_knowledge.sql, except: vectors are
-- little-endian f32 BLOBs searched in process, and full text is an FTS5 index kept in step with
-- `chunks` by triggers.
CREATE TABLE knowledge_bases (
    id BLOB PRIMARY KEY,
    user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    embedding_model TEXT NOT NULL,
    embedding_dims INTEGER,
    chunk_tokens INTEGER NOT NULL,
    chunk_overlap INTEGER NOT NULL,
    top_k INTEGER NOT NULL,
    score_threshold_milli INTEGER NOT NULL,
    vector_weight_milli INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX knowledge_bases_user ON knowledge_bases (user_id, created_at DESC);

CREATE TABLE knowledge_files (
    kb_id BLOB NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
    file_id BLOB NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    user_id BLOB NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    chunks_total INTEGER NOT NULL DEFAULT 0,
    chunks_embedded INTEGER NOT NULL DEFAULT 0,
    attempt INTEGER NOT NULL DEFAULT 0,
    lease_until INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (kb_id, file_id)
);
CREATE INDEX knowledge_files_jobs ON knowledge_files (status, lease_until);

CREATE TABLE chunks (
    id BLOB PRIMARY KEY,
    kb_id BLOB NOT NULL,
    file_id BLOB NOT NULL,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    heading TEXT NOT NULL,
    page INTEGER,
    embedding BLOB,
    FOREIGN KEY (kb_id, file_id) REFERENCES knowledge_files (kb_id, file_id) ON DELETE CASCADE,
    UNIQUE (kb_id, file_id, ordinal)
);

CREATE VIRTUAL TABLE chunks_fts USING fts5(heading, text, content='chunks', content_rowid='rowid');
CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts (rowid, heading, text) VALUES (new.rowid, new.heading, new.text);
END;
CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, heading, text) VALUES ('delete', old.rowid, old.heading, old.text);
END;
CREATE TRIGGER chunks_fts_update AFTER UPDATE OF heading, text ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, heading, text) VALUES ('delete', old.rowid, old.heading, old.text);
    INSERT INTO chunks_fts (rowid, heading, text) VALUES (new.rowid, new.heading, new.text);
END;
