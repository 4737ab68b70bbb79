-- A suspended tenant's users cannot sign in and nothing new is created for it; its VMs keep running.
-- NULL means active.
ALTER TABLE tenants ADD COLUMN suspended_at BIGINT;
ALTER TABLE tenants ADD COLUMN suspended_reason TEXT;
