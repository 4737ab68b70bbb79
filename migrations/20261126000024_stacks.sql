-- Stacks: many VMs over several zones created in one action from a stack template. `made_vdcs`
-- lists (space-separated) the VDCs the stack created, which go when the stack does.
CREATE TABLE stacks (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    template    TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('deploying', 'ready', 'failed', 'deleting', 'deleted')),
    created_at  BIGINT NOT NULL,
    ready_at    BIGINT,
    made_vdcs   TEXT NOT NULL DEFAULT ''
);

CREATE UNIQUE INDEX stacks_live_name ON stacks (tenant_id, name) WHERE state <> 'deleted';
