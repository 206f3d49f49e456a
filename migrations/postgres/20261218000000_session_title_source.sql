-- Where a session's title came from: `auto` (a blank chat, still "New chat": its first topic's
-- generated title becomes its own), `generated` (it got one) or `user` (typed, or an agent's name;
-- never replaced). Existing sessions keep their titles.
ALTER TABLE chat_sessions ADD COLUMN title_source text NOT NULL DEFAULT 'user'
    CHECK (title_source IN ('auto', 'generated', 'user'));
