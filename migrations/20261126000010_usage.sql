-- Metering: usage rolled up per tenant, UTC hour, kind and resource. Quantities are whole units:
-- seconds (vm_seconds, public_ip_seconds), GiB-seconds (disk_gib_seconds), bytes (bytes_*).
-- `size` is "vcpus/memory_mib/disk_gib" for vm_seconds, so a resized VM is rated per size.
CREATE TABLE usage_records (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    hour_start   BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    resource_id  TEXT NOT NULL,
    size         TEXT NOT NULL DEFAULT '',
    zone         TEXT NOT NULL,
    quantity     BIGINT NOT NULL CHECK (quantity >= 0),
    PRIMARY KEY (tenant_id, hour_start, kind, resource_id, size)
);
