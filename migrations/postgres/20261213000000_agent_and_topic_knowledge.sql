-- Knowledge bases a user's private agent answers from. A session started from the agent is
-- linked to them as its own (chat_session_knowledge_bases); deleting either side unlinks.
CREATE TABLE chat_agent_knowledge_bases (
    agent_id UUID NOT NULL REFERENCES chat_agents(id) ON DELETE CASCADE,
    kb_id UUID NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
    PRIMARY KEY (agent_id, kb_id)
);
CREATE INDEX chat_agent_knowledge_bases_kb ON chat_agent_knowledge_bases (kb_id);

-- A topic's own knowledge base: the documents attached to its messages, ingested so that each
-- answer of the topic can search them. Hidden from the knowledge-base API; it goes with the topic.
ALTER TABLE knowledge_bases ADD COLUMN topic_id UUID REFERENCES chat_topics(id) ON DELETE CASCADE;
CREATE UNIQUE INDEX knowledge_bases_topic ON knowledge_bases (topic_id) WHERE topic_id IS NOT NULL;

-- A rerank model (the relay's /v1/rerank) that reorders a base's fused candidates; none by default.
ALTER TABLE knowledge_bases ADD COLUMN rerank_model TEXT;

-- The lane tag of the request that queued a file: its ingestion's embeddings go through that
-- lane (a canary's uploads are embedded by the canary's relays).
ALTER TABLE knowledge_files ADD COLUMN lane TEXT;
