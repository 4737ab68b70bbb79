-- Tenants and their users. Ids are UUID text, times are Unix milliseconds: the same DDL runs on SQLite and PostgreSQL.
CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email          TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('owner', 'member', 'viewer')),
    created_at     BIGINT NOT NULL
);

CREATE INDEX users_by_tenant ON users (tenant_id);
