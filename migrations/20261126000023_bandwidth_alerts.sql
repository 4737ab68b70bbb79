-- A tenant's alert at a share of its monthly fair-use allowance, and the month it last fired
-- ("2026-11"), so it fires once a month.
CREATE TABLE bandwidth_alerts (
    tenant_id     TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    threshold_pct BIGINT NOT NULL CHECK (threshold_pct BETWEEN 1 AND 100),
    fired_month   TEXT,
    fired_at      BIGINT
);
