-- Invitations to join a tenant. Only a SHA-256 of the token is stored: the link is shown once.
CREATE TABLE invites (
    token_hash   TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email        TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('owner', 'member', 'viewer')),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    accepted_at  BIGINT
);

CREATE INDEX invites_by_tenant ON invites (tenant_id);
