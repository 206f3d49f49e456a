-- Responses created through `POST /v1/responses` with `store` not false, so a client can read
-- them back (`GET /v1/responses/{id}`, `.../input_items`) and continue a conversation with
-- `previous_response_id` on any channel. `input` holds only the items this request added (JSON
-- array, ids assigned); the conversation is the chain of `previous_response_id` links.
CREATE TABLE responses (
    id TEXT PRIMARY KEY,
    -- `user:<uuid>`, `key:<uuid>` or `bootstrap`: only the same owner may read or continue it.
    owner TEXT NOT NULL,
    previous_response_id TEXT,
    input TEXT NOT NULL,
    -- The response object as the client received it.
    response TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX responses_created_at ON responses (created_at);
