-- Inbound firewall rules of a tenant's internet breakout, per zone. Without a rule nothing from the
-- internet reaches a VM, even one with a public address.
CREATE TABLE firewall_rules (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    zone        TEXT NOT NULL,
    protocol    TEXT NOT NULL CHECK (protocol IN ('tcp', 'udp', 'icmp')),
    port_from   BIGINT,
    port_to     BIGINT,
    source      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (tenant_id, zone, protocol, port_from, port_to, source)
);
