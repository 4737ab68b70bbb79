-- Virtual machines. Placement, private address and public address live on the VM row itself, so
-- an address or a host reservation can never be held by nothing: releasing is setting it to NULL.
-- Flags are 0/1 integers: the same type on SQLite and PostgreSQL through sqlx's Any driver.
CREATE TABLE vms (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    vdc_id          TEXT NOT NULL REFERENCES vdcs (id),
    name            TEXT NOT NULL,
    zone            TEXT NOT NULL,
    template        TEXT NOT NULL,
    vcpus           BIGINT NOT NULL,
    memory_mib      BIGINT NOT NULL,
    disk_gib        BIGINT NOT NULL,
    state           TEXT NOT NULL,
    host_id         TEXT REFERENCES hosts (id),
    private_ip      TEXT,
    public_ip       TEXT,
    breakout        BIGINT NOT NULL CHECK (breakout IN (0, 1)),
    dedicated       BIGINT NOT NULL CHECK (dedicated IN (0, 1)),
    affinity_group  TEXT,
    user_data       TEXT,
    quota_reserved  BIGINT NOT NULL DEFAULT 0 CHECK (quota_reserved IN (0, 1)),
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (tenant_id, private_ip),
    UNIQUE (public_ip)
);

CREATE INDEX vms_by_tenant_zone ON vms (tenant_id, zone);
CREATE INDEX vms_by_zone_host ON vms (zone, host_id);

-- A destroyed VM stays as a record (for events and billing), and its name becomes free again.
CREATE UNIQUE INDEX vms_live_name ON vms (tenant_id, name) WHERE state <> 'destroyed';
