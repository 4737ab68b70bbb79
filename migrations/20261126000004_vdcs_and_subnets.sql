-- A tenant's virtual data centres (one zone each) and the per-zone subnets of its private network.
CREATE TABLE vdcs (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    zone        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE INDEX vdcs_by_tenant ON vdcs (tenant_id);

-- One subnet per tenant and zone, carved from the tenant's supernet; never two that overlap
-- (the allocator guarantees it, the UNIQUE on the CIDR catches a racing duplicate).
CREATE TABLE subnets (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    zone        TEXT NOT NULL,
    cidr        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, zone),
    UNIQUE (tenant_id, cidr)
);
