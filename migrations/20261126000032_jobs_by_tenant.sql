-- A tenant's jobs, newest first (the API's job lists), without scanning every tenant's jobs.
CREATE INDEX jobs_by_tenant_created ON jobs (tenant_id, created_at);
