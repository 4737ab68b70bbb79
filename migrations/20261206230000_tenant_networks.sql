-- Tenant networks on host agents' hosts (issue #16): each tenant's network id, its VXLAN VNI,
-- given when its first VM joins a network on a real host (NULL until then); and each agent host's
-- underlay (backbone) address, which those networks' VXLAN runs over.
ALTER TABLE tenants ADD COLUMN network_id BIGINT;
CREATE UNIQUE INDEX tenants_network_id ON tenants (network_id);
ALTER TABLE hosts ADD COLUMN underlay TEXT;
