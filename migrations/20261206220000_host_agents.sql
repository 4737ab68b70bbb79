-- Hosts run by a host agent (issue #15): where the control plane reaches the agent, what the agent
-- reported at its last registration (accelerator, guest image) and when (Unix ms), and whether staff
-- drained the host (1: no new VMs are placed there). Simulated hosts leave the agent columns NULL.
ALTER TABLE hosts ADD COLUMN agent_endpoint TEXT;
ALTER TABLE hosts ADD COLUMN accelerator TEXT;
ALTER TABLE hosts ADD COLUMN accelerator_reason TEXT;
ALTER TABLE hosts ADD COLUMN image TEXT;
ALTER TABLE hosts ADD COLUMN last_seen_ms BIGINT;
ALTER TABLE hosts ADD COLUMN draining BIGINT NOT NULL DEFAULT 0 CHECK (draining IN (0, 1));
