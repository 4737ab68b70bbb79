-- The rule's uniqueness counted NULL ports (ICMP) as all different, so identical ICMP rules piled up.
-- Identical rules already stored are merged (the oldest stays), then an index that treats a missing
-- port as a value makes the next duplicate a conflict, as TCP and UDP duplicates already are.
DELETE FROM firewall_rules WHERE id IN (
    SELECT later.id FROM firewall_rules later JOIN firewall_rules earlier
      ON earlier.tenant_id = later.tenant_id AND earlier.zone = later.zone
     AND earlier.protocol = later.protocol AND earlier.source = later.source
     AND COALESCE(earlier.port_from, -1) = COALESCE(later.port_from, -1)
     AND COALESCE(earlier.port_to, -1) = COALESCE(later.port_to, -1)
     AND (earlier.created_at < later.created_at OR (earlier.created_at = later.created_at AND earlier.id < later.id))
);
CREATE UNIQUE INDEX firewall_rules_unique_with_icmp ON firewall_rules
    (tenant_id, zone, protocol, COALESCE(port_from, -1), COALESCE(port_to, -1), source);
