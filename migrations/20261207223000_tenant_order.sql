-- The staff tenant list pages through tenants newest first or by name (issue 24): with these a
-- page reads its 51 tenants in order instead of sorting every tenant per request.
CREATE INDEX tenants_by_created ON tenants (created_at, id);
CREATE INDEX tenants_by_name ON tenants (LOWER(name), id);
