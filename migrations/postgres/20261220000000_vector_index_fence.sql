-- A knowledge base's HNSW index covers its chunks up to a fence, a chunk id (ids are UUIDv7,
-- so later chunks sort after it). Chunks past the fence are in no graph: they are searched
-- exactly, and folded into a new index built in bulk once there are enough of them, so
-- ingestion never pays pgvector's one-vector-at-a-time graph inserts (see store/NOTES.md).
ALTER TABLE knowledge_bases ADD COLUMN vector_index_upto uuid;
-- Names the current index (`chunks_hnsw_<base>_<generation>`); each fold builds the next.
ALTER TABLE knowledge_bases ADD COLUMN vector_index_generation integer NOT NULL DEFAULT 0;
-- Chunks in the index when it was built: how large the tail may grow before the next fold.
ALTER TABLE knowledge_bases ADD COLUMN vector_index_rows bigint NOT NULL DEFAULT 0;
-- Finds a base's tail (the chunks past its fence) without reading the rest.
CREATE INDEX chunks_kb_tail ON chunks (kb_id, id);
