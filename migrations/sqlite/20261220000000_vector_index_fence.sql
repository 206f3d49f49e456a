-- PostgreSQL's knowledge bases got a vector index fence here (HNSW covers chunks up to it).
-- SQLite searches vectors exactly from memory (store/src/sqlite_vectors.rs) and needs none;
-- this keeps both backends' migration histories the same length.
SELECT 1;
