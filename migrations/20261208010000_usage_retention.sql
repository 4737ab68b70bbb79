-- Hourly usage is kept for the current month and the twelve before it (issue 24): older hours are
-- deleted an hour at a time, oldest first (`Store::usage_prune`), their sums staying in
-- `usage_days` and `usage_months`. These indexes find the oldest hour without reading the table.
CREATE INDEX usage_records_by_hour ON usage_records (hour_start);
CREATE INDEX traffic_zone_hours_by_hour ON traffic_zone_hours (hour_start);
