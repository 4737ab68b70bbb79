//! Bandwidth rate caps and allowance alerts.

use super::audit::WriteExt;
use super::{Store, Tx};
use meridian_core::bandwidth::{Alert, Cap};
use sqlx::Row;

impl Store {
    /// The tenant's caps.
    pub async fn cap_list(&self, tenant_id: &str) -> Result<Vec<Cap>, sqlx::Error> {
        let mut tx = self.begin_read().await?;
        let caps = Self::cap_list_tx(&mut tx, tenant_id).await?;
        tx.commit().await?;
        Ok(caps)
    }

    /// The tenant's caps, inside a transaction (metering reads them while it meters).
    pub(crate) async fn cap_list_tx(tx: &mut Tx, tenant_id: &str) -> Result<Vec<Cap>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT scope, target, mbps FROM bandwidth_caps WHERE tenant_id = $1 ORDER BY scope, target",
        )
        .bind(tenant_id)
        .fetch_all(&mut **tx)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Cap {
                    scope: row.try_get("scope")?,
                    target: row.try_get("target")?,
                    mbps: row.try_get("mbps")?,
                })
            })
            .collect()
    }

    /// Sets (or replaces) a cap.
    pub async fn cap_set(&self, tenant_id: &str, cap: &Cap, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO bandwidth_caps (tenant_id, scope, target, mbps, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant_id, scope, target) DO UPDATE SET mbps = excluded.mbps",
        )
        .bind(tenant_id)
        .bind(&cap.scope)
        .bind(&cap.target)
        .bind(cap.mbps)
        .bind(now)
        .execute_write(self)
        .await?;
        Ok(())
    }

    /// Removes a cap; false if there was none.
    pub async fn cap_delete(&self, tenant_id: &str, scope: &str, target: &str) -> Result<bool, sqlx::Error> {
        let done =
            sqlx::query("DELETE FROM bandwidth_caps WHERE tenant_id = $1 AND scope = $2 AND target = $3")
                .bind(tenant_id)
                .bind(scope)
                .bind(target)
                .execute_write(self)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The tenant's alert, if set.
    pub async fn alert_get(&self, tenant_id: &str) -> Result<Option<Alert>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT threshold_pct, fired_month, fired_at FROM bandwidth_alerts WHERE tenant_id = $1",
        )
        .bind(tenant_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            Ok(Alert {
                threshold_pct: row.try_get("threshold_pct")?,
                fired_month: row.try_get("fired_month")?,
                fired_at: row.try_get("fired_at")?,
            })
        })
        .transpose()
    }

    /// Sets the alert threshold (or removes the alert with None). A new threshold may fire again
    /// this month.
    pub async fn alert_set(&self, tenant_id: &str, threshold_pct: Option<i64>) -> Result<(), sqlx::Error> {
        match threshold_pct {
            Some(pct) => {
                sqlx::query(
                    "INSERT INTO bandwidth_alerts (tenant_id, threshold_pct) VALUES ($1, $2) \
                     ON CONFLICT (tenant_id) DO UPDATE SET threshold_pct = excluded.threshold_pct, \
                     fired_month = NULL, fired_at = NULL",
                )
                .bind(tenant_id)
                .bind(pct)
                .execute_write(self)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM bandwidth_alerts WHERE tenant_id = $1")
                    .bind(tenant_id)
                    .execute_write(self)
                    .await?;
            }
        }
        Ok(())
    }

    /// Every tenant with an alert that has not fired in `month`: `(tenant, threshold)`.
    pub async fn alert_pending(&self, month: &str) -> Result<Vec<(String, i64)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT tenant_id, threshold_pct FROM bandwidth_alerts WHERE fired_month IS NULL OR fired_month <> $1",
        )
        .bind(month)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("tenant_id")?, row.try_get("threshold_pct")?)))
            .collect()
    }

    /// Records that the tenant's alert fired in `month`; false if it already had.
    pub async fn alert_fire(&self, tenant_id: &str, month: &str, at: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE bandwidth_alerts SET fired_month = $1, fired_at = $2 \
             WHERE tenant_id = $3 AND (fired_month IS NULL OR fired_month <> $1)",
        )
        .bind(month)
        .bind(at)
        .bind(tenant_id)
        .execute_write(self)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
