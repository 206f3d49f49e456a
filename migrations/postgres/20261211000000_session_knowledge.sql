-- Knowledge bases a chat session answers from: on each send, the question is searched in them
-- and the best passages go into the prompt as numbered sources. Deleting either side unlinks.
CREATE TABLE chat_session_knowledge_bases (
    session_id UUID NOT NULL REFERENCES chat_sessions(id) ON DELETE CASCADE,
    kb_id UUID NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
    PRIMARY KEY (session_id, kb_id)
);
CREATE INDEX chat_session_knowledge_bases_kb ON chat_session_knowledge_bases (kb_id);
