-- Same schema as migrations/postgres/20261102000000_accounts_and_billing.sql.

CREATE TABLE users (
    id               BLOB PRIMARY KEY,
    username         TEXT NOT NULL UNIQUE,
    email            TEXT NOT NULL UNIQUE,
    password_hash    TEXT NOT NULL,
    display_name     TEXT NOT NULL DEFAULT '',
    role             TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    group_name       TEXT NOT NULL DEFAULT 'default',
    disabled         INTEGER NOT NULL DEFAULT 0,
    balance_micros   INTEGER NOT NULL DEFAULT 0,
    balance_version  INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

CREATE TABLE ledger (
    id              BLOB PRIMARY KEY,
    user_id         BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('charge', 'topup', 'adjust', 'redeem', 'grant')),
    amount_micros   INTEGER NOT NULL,
    balance_after   INTEGER NOT NULL,
    request_id      BLOB UNIQUE,
    key_id          BLOB,
    model           TEXT,
    note            TEXT NOT NULL DEFAULT '',
    actor_id        BLOB,
    created_at      INTEGER NOT NULL
);
CREATE INDEX ledger_user_time ON ledger (user_id, created_at DESC);

CREATE TABLE refresh_tokens (
    id          BLOB PRIMARY KEY,
    family_id   BLOB NOT NULL,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    revoked_at  INTEGER
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE redeem_codes (
    id             BLOB PRIMARY KEY,
    code_hash      TEXT NOT NULL UNIQUE,
    prefix         TEXT NOT NULL,
    amount_micros  INTEGER NOT NULL CHECK (amount_micros > 0),
    note           TEXT NOT NULL DEFAULT '',
    created_by     BLOB,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER,
    redeemed_by    BLOB,
    redeemed_at    INTEGER
);

ALTER TABLE api_keys ADD COLUMN rpm INTEGER;
ALTER TABLE api_keys ADD COLUMN tpm INTEGER;
ALTER TABLE api_keys ADD COLUMN max_spend_micros INTEGER;
ALTER TABLE api_keys ADD COLUMN spent_micros INTEGER NOT NULL DEFAULT 0;

ALTER TABLE request_logs ADD COLUMN user_id BLOB;
CREATE INDEX request_logs_user_time ON request_logs (user_id, created_at DESC);
