-- The trace context (W3C `traceparent`) of the request that queued a file: its ingestion job
-- runs later, apart from that request, and its span links back to it.
ALTER TABLE knowledge_files ADD COLUMN traceparent TEXT;
