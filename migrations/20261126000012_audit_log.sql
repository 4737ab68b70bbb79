-- Who did what to a tenant, when, from where, and with what result. Written by the control plane
-- for every mutation (and sign-ins), refused ones included; never updated.
CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    seq         BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    result      TEXT NOT NULL,
    client      TEXT NOT NULL,
    request_id  TEXT NOT NULL
);

-- `seq` orders a tenant's entries (several can share a millisecond).
CREATE INDEX audit_log_by_tenant_seq ON audit_log (tenant_id, seq);
