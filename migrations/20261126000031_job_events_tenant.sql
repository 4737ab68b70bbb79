-- A tenant's most recent job events (the overview's activity feed) are read through this index
-- instead of sorting every event the tenant ever had: events carry their job's tenant.
ALTER TABLE job_events ADD COLUMN tenant_id TEXT;
UPDATE job_events SET tenant_id = (SELECT jobs.tenant_id FROM jobs WHERE jobs.id = job_events.job_id);
CREATE INDEX job_events_by_tenant_recent ON job_events (tenant_id, at, seq);
