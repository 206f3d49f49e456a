-- Webhooks (issue 14 item 4): endpoints that receive signed events, and their durable outbox.
--
-- A webhook belongs to a user (it gets that user's events) or, with no user, to the platform (it
-- gets every user's events; administrators manage it). The secret signs deliveries, so it is kept
-- as it was given out, never hashed; it is shown once, at creation.
CREATE TABLE webhooks (
    id          uuid PRIMARY KEY,
    user_id     uuid REFERENCES users (id) ON DELETE CASCADE,
    url         text NOT NULL,
    secret      text NOT NULL,
    -- the event types it subscribes to, e.g. ["reply.completed", "key.created"]
    event_types jsonb NOT NULL,
    description text NOT NULL DEFAULT '',
    enabled     boolean NOT NULL DEFAULT true,
    created_at  bigint NOT NULL,
    updated_at  bigint NOT NULL
);
CREATE INDEX webhooks_user ON webhooks (user_id, created_at);

-- One row per (webhook, event): the outbox the delivery workers claim from (FOR UPDATE SKIP
-- LOCKED), retried with backoff until delivered or out of attempts. `attempts` is bumped by each
-- claim and fences the claimer's result, as `knowledge_files.attempt` does. `payload` is the
-- exact JSON text that is signed and sent, the same bytes on every attempt.
CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY,
    webhook_id       uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         uuid NOT NULL,
    event_type       text NOT NULL,
    -- whose event it is (NULL: a platform event such as a platform hook's ping)
    user_id          uuid,
    payload          text NOT NULL,
    -- pending | delivering | delivered | failed
    status           text NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    -- the attempt after which a failure is final (a replay allows exactly one more)
    max_attempts     integer NOT NULL,
    next_attempt_at  bigint NOT NULL,
    lease_until      bigint NOT NULL DEFAULT 0,
    last_status_code integer,
    last_error       text,
    last_attempt_at  bigint,
    delivered_at     bigint,
    created_at       bigint NOT NULL,
    updated_at       bigint NOT NULL,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id DESC);
