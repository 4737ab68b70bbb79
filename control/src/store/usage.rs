//! Usage records: metered quantities rolled up per hour.

use super::meter::DAY_MS;

/// How many rows one pruning statement deletes at most.
pub const PRUNE_BATCH: u64 = 5_000;
use super::{Store, Tx};
use meridian_core::calendar::month_bounds;
use meridian_core::view::MeteredHour;
use sqlx::Row;

impl Store {
    /// A tenant's usage for hours starting in `[from, to)`, summed in the database: one row per
    /// kind and size (what rating needs), its `hour_start` the first hour, `resource_id` and `zone`
    /// empty. A month of 100 VMs is some 200,000 hourly rows; their totals are a handful. Whole
    /// days (a month, say) are read from the daily sums (`usage_days`): at most 31 rows per kind
    /// and size, however many VMs and hours; other ranges from the hourly rows.
    pub async fn usage_totals(
        &self,
        tenant_id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<MeteredHour>, sqlx::Error> {
        if from.rem_euclid(DAY_MS) == 0 && to.rem_euclid(DAY_MS) == 0 {
            return self
                .usage_query(
                    "SELECT MIN(first_hour) AS hour_start, kind, '' AS resource_id, size, '' AS zone, \
                     CAST(SUM(quantity) AS BIGINT) AS quantity FROM usage_days \
                     WHERE tenant_id = $1 AND day >= $2 AND day < $3 GROUP BY kind, size ORDER BY kind, size",
                    tenant_id,
                    from.div_euclid(DAY_MS),
                    to.div_euclid(DAY_MS),
                )
                .await;
        }
        self.usage_hourly_totals(tenant_id, from, to).await
    }

    /// [`Store::usage_totals`] of several tenants in one query, for whole days (a month): each row
    /// with its tenant. A list of tenants with their spend asks once, not once per tenant.
    pub async fn usage_totals_of_tenants(
        &self,
        tenants: &[String],
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, MeteredHour)>, sqlx::Error> {
        if tenants.is_empty() {
            return Ok(Vec::new());
        }
        debug_assert!(
            from.rem_euclid(DAY_MS) == 0 && to.rem_euclid(DAY_MS) == 0,
            "whole days"
        );
        let listed = (3..3 + tenants.len())
            .map(|n| format!("${n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT tenant_id, MIN(first_hour) AS hour_start, kind, size, \
             CAST(SUM(quantity) AS BIGINT) AS quantity FROM usage_days \
             WHERE day >= $1 AND day < $2 AND tenant_id IN ({listed}) \
             GROUP BY tenant_id, kind, size ORDER BY tenant_id, kind, size"
        );
        let mut query = sqlx::query(&sql)
            .bind(from.div_euclid(DAY_MS))
            .bind(to.div_euclid(DAY_MS));
        for tenant in tenants {
            query = query.bind(tenant);
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("tenant_id")?,
                    MeteredHour {
                        hour_start: row.try_get("hour_start")?,
                        kind: row.try_get("kind")?,
                        resource_id: String::new(),
                        size: row.try_get("size")?,
                        zone: String::new(),
                        quantity: row.try_get("quantity")?,
                    },
                ))
            })
            .collect()
    }

    /// [`Store::usage_totals`] from the hourly rows, whatever the range.
    pub async fn usage_hourly_totals(
        &self,
        tenant_id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<MeteredHour>, sqlx::Error> {
        self.usage_query(
            "SELECT MIN(hour_start) AS hour_start, kind, '' AS resource_id, size, '' AS zone, \
             CAST(SUM(quantity) AS BIGINT) AS quantity FROM usage_records \
             WHERE tenant_id = $1 AND hour_start >= $2 AND hour_start < $3 GROUP BY kind, size ORDER BY kind, size",
            tenant_id,
            from,
            to,
        )
        .await
    }

    /// A tenant's charged usage (compute, dedicated hosts, disk, public addresses) for hours starting in
    /// `[from, to)`, summed per VM: one row per VM, kind and size, `hour_start` its first hour. A
    /// calendar month is read from the monthly sums (`usage_months`): a row per VM and kind
    /// however many hours it ran.
    pub async fn usage_by_resource(
        &self,
        tenant_id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<MeteredHour>, sqlx::Error> {
        if month_bounds(from) == (from, to) {
            return self
                .usage_month_query(
                    tenant_id,
                    from,
                    &[
                        "vm_seconds",
                        "dedicated_seconds",
                        "disk_gib_seconds",
                        "public_ip_seconds",
                    ],
                )
                .await;
        }
        self.usage_query(
            "SELECT MIN(hour_start) AS hour_start, kind, resource_id, size, MIN(zone) AS zone, \
             CAST(SUM(quantity) AS BIGINT) AS quantity FROM usage_records \
             WHERE tenant_id = $1 AND hour_start >= $2 AND hour_start < $3 \
             AND kind IN ('vm_seconds', 'dedicated_seconds', 'disk_gib_seconds', 'public_ip_seconds') \
             GROUP BY resource_id, kind, size ORDER BY resource_id, kind, size",
            tenant_id,
            from,
            to,
        )
        .await
    }

    /// A tenant's usage in the calendar month starting at `month_start`, summed per resource,
    /// kind and size (`usage_months`): `hour_start` is the resource's first hour in the month,
    /// `zone` its zone.
    pub async fn usage_month_by_resource(
        &self,
        tenant_id: &str,
        month_start: i64,
    ) -> Result<Vec<MeteredHour>, sqlx::Error> {
        self.usage_month_query(tenant_id, month_start, &[]).await
    }

    /// The bytes a tenant's VMs sent (backbone and internet) per zone and column of `column_ms`
    /// (an hour, or a day), for hours starting in `[from, to)`: `(column start, zone, bytes)`, in
    /// that order, summed in the database.
    pub async fn traffic_by_zone(
        &self,
        tenant_id: &str,
        from: i64,
        to: i64,
        column_ms: i64,
    ) -> Result<Vec<(i64, String, i64)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT (hour_start / $4) * $4 AS at, zone, CAST(SUM(bytes) AS BIGINT) AS bytes FROM traffic_zone_hours \
             WHERE tenant_id = $1 AND hour_start >= $2 AND hour_start < $3 \
             GROUP BY hour_start / $4, zone ORDER BY at, zone",
        )
        .bind(tenant_id)
        .bind(from)
        .bind(to)
        .bind(column_ms.max(1))
        .fetch_all(self.pool())
        .await
    }

    /// A tenant's usage for hours starting in `[from, to)`.
    pub async fn usage_list(
        &self,
        tenant_id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<MeteredHour>, sqlx::Error> {
        self.usage_query(
            "SELECT hour_start, kind, resource_id, size, zone, quantity FROM usage_records \
             WHERE tenant_id = $1 AND hour_start >= $2 AND hour_start < $3 ORDER BY hour_start, kind, resource_id",
            tenant_id,
            from,
            to,
        )
        .await
    }

    async fn usage_query(
        &self,
        sql: &str,
        tenant_id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<MeteredHour>, sqlx::Error> {
        let rows = sqlx::query(sql)
            .bind(tenant_id)
            .bind(from)
            .bind(to)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(metered_hour).collect()
    }

    /// The rows of `usage_months` for `tenant_id`'s month starting at `month_start`, of the kinds
    /// `only` names (every kind when empty), as [`MeteredHour`]s: `hour_start` is the resource's
    /// first hour in the month.
    async fn usage_month_query(
        &self,
        tenant_id: &str,
        month_start: i64,
        only: &[&str],
    ) -> Result<Vec<MeteredHour>, sqlx::Error> {
        let kinds = if only.is_empty() {
            String::new()
        } else {
            format!(" AND kind IN ({})", super::in_list(3, only.len()))
        };
        let sql = format!(
            "SELECT first_hour AS hour_start, kind, resource_id, size, zone, quantity FROM usage_months \
             WHERE tenant_id = $1 AND month_start = $2{kinds} ORDER BY resource_id, kind, size"
        );
        let mut query = sqlx::query(&sql).bind(tenant_id).bind(month_start);
        for kind in only {
            query = query.bind(*kind);
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter().map(metered_hour).collect()
    }

    /// Starts the metering clock of the tenant's running VMs at `since` (the demo's history).
    pub async fn vm_backdate_metering(&self, tenant_id: &str, since: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE vms SET metered_until = $1 WHERE tenant_id = $2 AND state = 'running'")
            .bind(since)
            .bind(tenant_id)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(())
    }

    /// The tenant's first metered hour (Unix ms), if any: from the monthly sums, which are kept
    /// when the hours are pruned.
    pub async fn usage_first_hour(&self, tenant_id: &str) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar("SELECT MIN(first_hour) FROM usage_months WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_one(self.pool())
            .await
    }

    /// Deletes hourly usage rows and bytes per hour and zone of hours starting before `before`,
    /// oldest hour first, [`PRUNE_BATCH`] rows a statement and at most `rows` rows of each table;
    /// returns how many went. An hour of a large fleet is hundreds of thousands of rows: cut into
    /// batches, no statement holds SQLite's writer (or PostgreSQL's locks) for long. The sums stay
    /// in `usage_days` and `usage_months`.
    pub async fn usage_prune(&self, before: i64, rows: u64) -> Result<u64, sqlx::Error> {
        // The row's own address: SQLite's rowid, PostgreSQL's ctid.
        let address = match self.backend {
            super::Backend::Sqlite => "rowid",
            super::Backend::Postgres => "ctid",
        };
        let mut deleted = 0;
        for table in ["usage_records", "traffic_zone_hours"] {
            let mut left = rows;
            while left > 0 {
                let oldest: Option<i64> = sqlx::query_scalar(&format!("SELECT MIN(hour_start) FROM {table}"))
                    .fetch_one(self.pool())
                    .await?;
                let Some(oldest) = oldest.filter(|hour| *hour < before) else {
                    break;
                };
                let batch = left.min(PRUNE_BATCH);
                let gone = sqlx::query(&format!(
                    "DELETE FROM {table} WHERE {address} IN \
                     (SELECT {address} FROM {table} WHERE hour_start = $1 LIMIT $2)"
                ))
                .bind(oldest)
                .bind(i64::try_from(batch).unwrap_or(i64::MAX))
                .execute(&mut *self.writer().await?)
                .await?
                .rows_affected();
                deleted += gone;
                left = left.saturating_sub(gone.max(1));
            }
        }
        Ok(deleted)
    }

    /// Sets how far a VM's usage is metered.
    pub(crate) async fn vm_set_metered_until(
        tx: &mut Tx,
        id: &str,
        until: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE vms SET metered_until = $1 WHERE id = $2")
            .bind(until)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// How far a VM's usage is metered.
    /// On PostgreSQL the VM's row is locked until the transaction ends: two servers' ticks (or a
    /// tick and a job step) metering one VM at once would both bill the interval since this time.
    /// SQLite's single writer needs no lock.
    pub(crate) async fn vm_metered_until(tx: &mut Tx, id: &str) -> Result<Option<i64>, sqlx::Error> {
        let sql = if tx.backend_name() == "PostgreSQL" {
            "SELECT metered_until FROM vms WHERE id = $1 FOR UPDATE"
        } else {
            "SELECT metered_until FROM vms WHERE id = $1"
        };
        sqlx::query_scalar(sql).bind(id).fetch_one(&mut **tx).await
    }

    /// The VM's traffic counters as last metered: `(class, bytes, read at)`.
    pub(crate) async fn traffic_metered(
        tx: &mut Tx,
        vm_id: &str,
    ) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT class, bytes, read_at FROM vm_traffic_counters WHERE vm_id = $1 ORDER BY class",
        )
        .bind(vm_id)
        .fetch_all(&mut **tx)
        .await
    }

    /// Records a counter reading as metered.
    pub(crate) async fn traffic_metered_set(
        tx: &mut Tx,
        vm_id: &str,
        class: &str,
        bytes: i64,
        read_at: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO vm_traffic_counters (vm_id, class, bytes, read_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (vm_id, class) DO UPDATE SET bytes = excluded.bytes, read_at = excluded.read_at",
        )
        .bind(vm_id)
        .bind(class)
        .bind(bytes)
        .bind(read_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

/// A usage row as read.
fn metered_hour(row: &sqlx::any::AnyRow) -> Result<MeteredHour, sqlx::Error> {
    Ok(MeteredHour {
        hour_start: row.try_get("hour_start")?,
        kind: row.try_get("kind")?,
        resource_id: row.try_get("resource_id")?,
        size: row.try_get("size")?,
        zone: row.try_get("zone")?,
        quantity: row.try_get("quantity")?,
    })
}
