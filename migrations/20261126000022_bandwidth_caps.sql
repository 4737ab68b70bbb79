-- Rate caps a tenant sets on a VM ('vm', its id) or on a zone pair ('pair', "ams1-lon1", the
-- zones in alphabetical order), in Mb/s.
CREATE TABLE bandwidth_caps (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    scope      TEXT NOT NULL CHECK (scope IN ('vm', 'pair')),
    target     TEXT NOT NULL,
    mbps       BIGINT NOT NULL CHECK (mbps > 0),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, scope, target)
);
