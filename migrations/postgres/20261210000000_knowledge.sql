-- Knowledge bases: files a user indexes for retrieval (RAG). Vectors are pgvector's; each base
-- gets its own partial HNSW index once its embedding dimension is known (see the rag crate),
-- so a search filtered to one base walks that base's graph only and loses no neighbours.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE knowledge_bases (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    embedding_model TEXT NOT NULL,
    -- Set by the first embedded batch; every vector of the base has this many dimensions.
    embedding_dims INTEGER,
    chunk_tokens INTEGER NOT NULL,
    chunk_overlap INTEGER NOT NULL,
    top_k INTEGER NOT NULL,
    score_threshold_milli INTEGER NOT NULL,
    vector_weight_milli INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX knowledge_bases_user ON knowledge_bases (user_id, created_at DESC);

-- A file in a knowledge base and its ingestion, which is a durable job: workers claim a row
-- (FOR UPDATE SKIP LOCKED), hold it with a lease they renew, and fence their writes with
-- `attempt`, so a worker that lost its lease can no longer write.
CREATE TABLE knowledge_files (
    kb_id UUID NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
    file_id UUID NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    user_id UUID NOT NULL,
    -- queued | parsing | chunking | embedding | indexed | failed
    status TEXT NOT NULL,
    error TEXT,
    chunks_total INTEGER NOT NULL DEFAULT 0,
    chunks_embedded INTEGER NOT NULL DEFAULT 0,
    attempt INTEGER NOT NULL DEFAULT 0,
    lease_until BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (kb_id, file_id)
);
CREATE INDEX knowledge_files_jobs ON knowledge_files (status, lease_until);

-- Chunks are unique per (base, file, ordinal): a resumed ingestion upserts them, keeping the
-- vectors of unchanged chunks, and never duplicates one.
CREATE TABLE chunks (
    id UUID PRIMARY KEY,
    kb_id UUID NOT NULL,
    file_id UUID NOT NULL,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    heading TEXT NOT NULL,
    page INTEGER,
    embedding vector,
    search tsvector GENERATED ALWAYS AS (to_tsvector('simple', heading || ' ' || text)) STORED,
    FOREIGN KEY (kb_id, file_id) REFERENCES knowledge_files (kb_id, file_id) ON DELETE CASCADE,
    UNIQUE (kb_id, file_id, ordinal)
);
CREATE INDEX chunks_search ON chunks USING gin (search);
