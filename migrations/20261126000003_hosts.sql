-- The hosts of every zone, as the driver reports them. The *_used counters change in the same
-- transaction as the VM rows placed on a host; the CHECKs are the backstop against over-commit.
CREATE TABLE hosts (
    id                   TEXT PRIMARY KEY,
    zone                 TEXT NOT NULL,
    name                 TEXT NOT NULL UNIQUE,
    vcpus_total          BIGINT NOT NULL,
    vcpus_used           BIGINT NOT NULL DEFAULT 0,
    memory_mib_total     BIGINT NOT NULL,
    memory_mib_used      BIGINT NOT NULL DEFAULT 0,
    disk_gib_total       BIGINT NOT NULL,
    disk_gib_used        BIGINT NOT NULL DEFAULT 0,
    dedicated_tenant_id  TEXT REFERENCES tenants (id) ON DELETE SET NULL,
    CHECK (vcpus_used >= 0 AND vcpus_used <= vcpus_total),
    CHECK (memory_mib_used >= 0 AND memory_mib_used <= memory_mib_total),
    CHECK (disk_gib_used >= 0 AND disk_gib_used <= disk_gib_total)
);

CREATE INDEX hosts_by_zone ON hosts (zone);
