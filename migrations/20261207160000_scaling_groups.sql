-- Autoscaling groups (issue #21): a VM template kept between `min_size` and `max_size` members,
-- `desired` moved by a target on a metric (CPU %, or network KiB/s per member) with a cooldown,
-- members spread over `zones` (comma-separated), replaced when unhealthy past `grace_secs`.
-- `acted_at` is a lease: an actor sets it to its end (now + 30 s) if it is past, acts, and sets it
-- back to now; so one actor (a server's round, a request) works on a group at a time.
-- `sim_cpu`: the simulated load its members follow (CPU %), when set (the simulator only).
-- `deleting`: its members are being destroyed (a busy one once its job ends); the row goes last.
CREATE TABLE scaling_groups (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    created_by     TEXT NOT NULL,
    name           TEXT NOT NULL,
    template       TEXT NOT NULL,
    size           TEXT NOT NULL,
    user_data      TEXT,
    breakout       BIGINT NOT NULL,
    zones          TEXT NOT NULL,
    min_size       BIGINT NOT NULL,
    max_size       BIGINT NOT NULL,
    desired        BIGINT NOT NULL,
    metric         TEXT NOT NULL,
    target         BIGINT NOT NULL,
    cooldown_secs  BIGINT NOT NULL,
    grace_secs     BIGINT NOT NULL,
    sim_cpu        BIGINT,
    last_scaled_at BIGINT,
    acted_at       BIGINT NOT NULL,
    members_made   BIGINT NOT NULL DEFAULT 0,
    events_made    BIGINT NOT NULL DEFAULT 0,
    deleting       BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);
-- Its members: a row is written before its VM is accepted (with the VM's id), so a crash between
-- leaves a row without a VM (dropped at the next round), never a VM outside its group. `number`
-- names it (`<group>-<number>`) and orders members: the highest is the newest.
CREATE TABLE scaling_members (
    group_id    TEXT NOT NULL REFERENCES scaling_groups (id) ON DELETE CASCADE,
    vm_id       TEXT NOT NULL,
    number      BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (group_id, vm_id)
);
CREATE INDEX scaling_members_vm ON scaling_members (vm_id);
-- What the group did and why, newest last; the last 200 per group are kept.
CREATE TABLE scaling_events (
    group_id   TEXT NOT NULL REFERENCES scaling_groups (id) ON DELETE CASCADE,
    at         BIGINT NOT NULL,
    seq        BIGINT NOT NULL,
    size       BIGINT NOT NULL,
    message    TEXT NOT NULL,
    PRIMARY KEY (group_id, seq)
);
