-- API keys: a user's credentials for the REST and CloudStack APIs. The secret is derived from the
-- server's master secret and never stored; only its SHA-256 is, to check REST bearer tokens.
CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    api_key       TEXT NOT NULL UNIQUE,
    secret_hash   TEXT NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    UNIQUE (user_id, name)
);
