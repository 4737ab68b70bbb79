-- Usage summed per tenant, UTC day, kind and size, in the same transaction as usage_records
-- (issue 24): a month's totals (the overview's spend, the staff list's) read at most 31 rows per
-- kind and size instead of every VM's every hour. A day is `hour_start / 86400000`; a month's
-- bounds fall on days. `first_hour` is the first hour with usage that day.
CREATE TABLE usage_days (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    day         BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    size        TEXT NOT NULL DEFAULT '',
    first_hour  BIGINT NOT NULL,
    quantity    BIGINT NOT NULL CHECK (quantity >= 0),
    PRIMARY KEY (tenant_id, day, kind, size)
);

INSERT INTO usage_days (tenant_id, day, kind, size, first_hour, quantity)
SELECT tenant_id, hour_start / 86400000, kind, size, MIN(hour_start), SUM(quantity)
FROM usage_records
GROUP BY tenant_id, hour_start / 86400000, kind, size;
