-- API keys (hash only) and the append-only request log, partitioned by month.
-- Times are milliseconds since the Unix epoch; ids are UUIDv7.

CREATE TABLE api_keys (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    prefix      text NOT NULL,
    key_hash    text NOT NULL UNIQUE,
    models      jsonb NOT NULL DEFAULT '[]',
    is_admin    boolean NOT NULL DEFAULT false,
    user_id     uuid,
    group_name  text NOT NULL DEFAULT 'default',
    created_at  bigint NOT NULL,
    expires_at  bigint,
    revoked_at  bigint
);
CREATE INDEX api_keys_prefix ON api_keys (prefix);
CREATE INDEX api_keys_user ON api_keys (user_id) WHERE user_id IS NOT NULL;

CREATE TABLE request_logs (
    id                  uuid NOT NULL,
    created_at          bigint NOT NULL,
    key_id              uuid,
    key_prefix          text NOT NULL,
    ingress             text NOT NULL,
    endpoint            text NOT NULL,
    model               text NOT NULL,
    upstream_model      text,
    channel             text,
    provider            text,
    status              integer NOT NULL,
    error_class         text,
    attempts            integer NOT NULL,
    stream              boolean NOT NULL,
    latency_ms          bigint NOT NULL,
    ttft_ms             bigint,
    input_tokens        bigint NOT NULL,
    cached_input_tokens bigint NOT NULL,
    cache_write_tokens  bigint NOT NULL,
    output_tokens       bigint NOT NULL,
    reasoning_tokens    bigint NOT NULL,
    usage_estimated     boolean NOT NULL,
    cost_micros         bigint NOT NULL,
    currency            text,
    lane                text,
    PRIMARY KEY (created_at, id)
) PARTITION BY RANGE (created_at);

-- Catches rows outside every monthly partition, so an insert never fails for lack of one.
CREATE TABLE request_logs_default PARTITION OF request_logs DEFAULT;

CREATE INDEX request_logs_key_time ON request_logs (key_id, created_at DESC);
CREATE INDEX request_logs_model_time ON request_logs (model, created_at DESC);
