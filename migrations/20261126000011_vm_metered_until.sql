-- Until when (Unix ms, whole seconds) a VM's usage has been metered; NULL before it first runs.
ALTER TABLE vms ADD COLUMN metered_until BIGINT;
