-- Per-tenant limits and what is reserved against them. Reservation is one conditional UPDATE
-- (`used + n <= max`), so concurrent creates at the boundary can never overshoot.
CREATE TABLE quotas (
    tenant_id        TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    max_vms          BIGINT NOT NULL,
    max_vcpus        BIGINT NOT NULL,
    max_memory_mib   BIGINT NOT NULL,
    max_public_ips   BIGINT NOT NULL,
    used_vms         BIGINT NOT NULL DEFAULT 0,
    used_vcpus       BIGINT NOT NULL DEFAULT 0,
    used_memory_mib  BIGINT NOT NULL DEFAULT 0,
    used_public_ips  BIGINT NOT NULL DEFAULT 0,
    CHECK (used_vms >= 0 AND used_vcpus >= 0 AND used_memory_mib >= 0 AND used_public_ips >= 0)
);
