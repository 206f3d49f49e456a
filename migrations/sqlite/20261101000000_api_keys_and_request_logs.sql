-- The same schema as migrations/postgres for the embedded store. UUIDs are 16-byte BLOBs,
-- JSON is TEXT, booleans are INTEGER; no partitions.

CREATE TABLE api_keys (
    id          BLOB PRIMARY KEY,
    name        TEXT NOT NULL,
    prefix      TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    models      TEXT NOT NULL DEFAULT '[]',
    is_admin    INTEGER NOT NULL DEFAULT 0,
    user_id     BLOB,
    group_name  TEXT NOT NULL DEFAULT 'default',
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    revoked_at  INTEGER
);
CREATE INDEX api_keys_prefix ON api_keys (prefix);
CREATE INDEX api_keys_user ON api_keys (user_id) WHERE user_id IS NOT NULL;

CREATE TABLE request_logs (
    id                  BLOB NOT NULL,
    created_at          INTEGER NOT NULL,
    key_id              BLOB,
    key_prefix          TEXT NOT NULL,
    ingress             TEXT NOT NULL,
    endpoint            TEXT NOT NULL,
    model               TEXT NOT NULL,
    upstream_model      TEXT,
    channel             TEXT,
    provider            TEXT,
    status              INTEGER NOT NULL,
    error_class         TEXT,
    attempts            INTEGER NOT NULL,
    stream              INTEGER NOT NULL,
    latency_ms          INTEGER NOT NULL,
    ttft_ms             INTEGER,
    input_tokens        INTEGER NOT NULL,
    cached_input_tokens INTEGER NOT NULL,
    cache_write_tokens  INTEGER NOT NULL,
    output_tokens       INTEGER NOT NULL,
    reasoning_tokens    INTEGER NOT NULL,
    usage_estimated     INTEGER NOT NULL,
    cost_micros         INTEGER NOT NULL,
    currency            TEXT,
    lane                TEXT,
    PRIMARY KEY (created_at, id)
);
CREATE INDEX request_logs_key_time ON request_logs (key_id, created_at DESC);
CREATE INDEX request_logs_model_time ON request_logs (model, created_at DESC);
