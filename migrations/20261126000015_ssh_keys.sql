-- A tenant's SSH public keys, installed into VMs for the template's default user.
CREATE TABLE ssh_keys (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    public_key   TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (tenant_id, name),
    UNIQUE (tenant_id, fingerprint)
);
