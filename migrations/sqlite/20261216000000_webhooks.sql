-- Same schema as migrations/postgres/20261216000000_webhooks.sql (JSON is TEXT, booleans are
-- INTEGER). SQLite has one writer at a time, so claiming needs no row locks.
CREATE TABLE webhooks (
    id          BLOB PRIMARY KEY,
    user_id     BLOB REFERENCES users (id) ON DELETE CASCADE,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    event_types TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    enabled     INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX webhooks_user ON webhooks (user_id, created_at);

CREATE TABLE webhook_deliveries (
    id               BLOB PRIMARY KEY,
    webhook_id       BLOB NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         BLOB NOT NULL,
    event_type       TEXT NOT NULL,
    user_id          BLOB,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    next_attempt_at  INTEGER NOT NULL,
    lease_until      INTEGER NOT NULL DEFAULT 0,
    last_status_code INTEGER,
    last_error       TEXT,
    last_attempt_at  INTEGER,
    delivered_at     INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id DESC);
