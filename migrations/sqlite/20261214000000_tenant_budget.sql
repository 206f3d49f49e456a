-- What a tenant spent per calendar month (UTC), kept in the same transaction as each charge so
-- the relays' budget holds (the quota book's `b:` entries) can be reloaded from it. One row per
-- tenant and month; `month` is `YYYY-MM`.
CREATE TABLE tenant_budget_spend (
    tenant TEXT NOT NULL,
    month TEXT NOT NULL,
    spent_micros BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, month)
);
