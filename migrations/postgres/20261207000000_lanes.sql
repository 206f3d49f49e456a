-- The `laneSelect` permission: a caller holding it (through the user account or the key) may
-- name a canary lane itself with `x-oblivious-lane`; everyone else's lane header is stripped.
ALTER TABLE users ADD COLUMN lane_select BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE api_keys ADD COLUMN lane_select BOOLEAN NOT NULL DEFAULT false;
-- The hops a request went through (`x-oblivious-route`), e.g.
-- `all=baseline@base-0, chat=gray@chat-gray-0, relay=gray@relay-gray-0`.
ALTER TABLE request_logs ADD COLUMN route TEXT;
