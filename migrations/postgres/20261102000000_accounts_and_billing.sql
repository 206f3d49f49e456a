-- Accounts, balances with an append-only ledger, refresh-token families, redemption codes,
-- and the per-key limits and spend caps of issue "accounts, keys, quota and billing".
-- Money is bigint micro-units of the price list's currency.

CREATE TABLE users (
    id               uuid PRIMARY KEY,
    username         text NOT NULL UNIQUE,
    email            text NOT NULL UNIQUE,
    password_hash    text NOT NULL,
    display_name     text NOT NULL DEFAULT '',
    role             text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    group_name       text NOT NULL DEFAULT 'default',
    disabled         boolean NOT NULL DEFAULT false,
    -- The balance and a version bumped by every change, so caches can tell newer from older.
    balance_micros   bigint NOT NULL DEFAULT 0,
    balance_version  bigint NOT NULL DEFAULT 0,
    created_at       bigint NOT NULL,
    updated_at       bigint NOT NULL
);

-- Every balance change, signed (charges are negative). Charges carry the request id, which
-- makes settlement idempotent: a request is charged at most once.
CREATE TABLE ledger (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('charge', 'topup', 'adjust', 'redeem', 'grant')),
    amount_micros   bigint NOT NULL,
    balance_after   bigint NOT NULL,
    request_id      uuid UNIQUE,
    key_id          uuid,
    model           text,
    note            text NOT NULL DEFAULT '',
    actor_id        uuid,
    created_at      bigint NOT NULL
);
CREATE INDEX ledger_user_time ON ledger (user_id, created_at DESC);

-- Refresh tokens rotate on every use; all tokens of one login share a family, and presenting
-- an already-used token revokes the whole family (theft detection).
CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    family_id   uuid NOT NULL,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  text NOT NULL UNIQUE,
    created_at  bigint NOT NULL,
    expires_at  bigint NOT NULL,
    used_at     bigint,
    revoked_at  bigint
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE redeem_codes (
    id             uuid PRIMARY KEY,
    code_hash      text NOT NULL UNIQUE,
    prefix         text NOT NULL,
    amount_micros  bigint NOT NULL CHECK (amount_micros > 0),
    note           text NOT NULL DEFAULT '',
    created_by     uuid,
    created_at     bigint NOT NULL,
    expires_at     bigint,
    redeemed_by    uuid,
    redeemed_at    bigint
);

ALTER TABLE api_keys ADD COLUMN rpm bigint;
ALTER TABLE api_keys ADD COLUMN tpm bigint;
ALTER TABLE api_keys ADD COLUMN max_spend_micros bigint;
ALTER TABLE api_keys ADD COLUMN spent_micros bigint NOT NULL DEFAULT 0;

ALTER TABLE request_logs ADD COLUMN user_id uuid;
CREATE INDEX request_logs_user_time ON request_logs (user_id, created_at DESC);
