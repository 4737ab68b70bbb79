//! Tenant rows.

use super::audit::WriteExt;
use super::{Store, Tx};
use meridian_core::{TenantId, TenantName};
use sqlx::Row;

/// A tenant as stored.
#[derive(Clone, Debug)]
pub struct TenantRow {
    /// The tenant's id.
    pub id: TenantId,
    /// Its display name.
    pub name: String,
    /// When it signed up (Unix ms).
    pub created_at: i64,
    /// Suspended since (Unix ms), if it is.
    pub suspended_at: Option<i64>,
    /// Why it was suspended.
    pub suspended_reason: Option<String>,
}

impl Store {
    /// Inserts a tenant inside the caller's transaction.
    pub(crate) async fn tenant_insert(
        tx: &mut Tx,
        id: TenantId,
        name: &TenantName,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(id.to_string())
            .bind(name.as_str())
            .bind(now)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// The tenant with this id.
    pub async fn tenant_get(&self, id: TenantId) -> Result<Option<TenantRow>, sqlx::Error> {
        let row =
            sqlx::query("SELECT name, created_at, suspended_at, suspended_reason FROM tenants WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(|row| TenantRow {
            id,
            name: row.get("name"),
            created_at: row.get("created_at"),
            suspended_at: row.get("suspended_at"),
            suspended_reason: row.get("suspended_reason"),
        }))
    }
}

impl Store {
    /// The tenant's residency policy, in its stored text form.
    pub async fn tenant_residency(&self, id: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT residency FROM tenants WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await
    }

    /// The tenant's stored residency policy, inside a transaction (placement reads it while it
    /// holds the write lock, so it must not wait for another connection).
    pub(crate) async fn tenant_residency_tx(tx: &mut Tx, id: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT residency FROM tenants WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
    }

    /// Replaces the tenant's residency policy.
    pub async fn tenant_set_residency(&self, id: &str, residency: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("UPDATE tenants SET residency = $1 WHERE id = $2")
            .bind(residency)
            .bind(id)
            .execute_write(self)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl Store {
    /// Removes a tenant and everything it has, giving its hosts' capacity back and clearing the
    /// simulated hardware of its VMs, in one transaction. Other tenants are untouched.
    /// Returns false (and changes nothing) while a job of the tenant is live: a resize holds
    /// more than the VM's size, and a placement in flight would leave its reservation behind.
    pub async fn tenant_wipe(&self, id: &str) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let live: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE tenant_id = $1 AND state IN ('queued', 'running', 'unwinding')",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if live > 0 {
            return Ok(false);
        }
        // Lock the tenant's row first (PostgreSQL), so no job of it can start meanwhile.
        sqlx::query("UPDATE tenants SET name = name WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for sql in [
            "UPDATE hosts SET \
               vcpus_used = vcpus_used - (SELECT COALESCE(SUM(vcpus), 0) FROM vms WHERE vms.host_id = hosts.id AND vms.tenant_id = $1), \
               memory_mib_used = memory_mib_used - (SELECT COALESCE(SUM(memory_mib), 0) FROM vms WHERE vms.host_id = hosts.id AND vms.tenant_id = $1), \
               disk_gib_used = disk_gib_used - (SELECT COALESCE(SUM(disk_gib), 0) FROM vms WHERE vms.host_id = hosts.id AND vms.tenant_id = $1) \
             WHERE id IN (SELECT host_id FROM vms WHERE tenant_id = $1 AND host_id IS NOT NULL)",
            "DELETE FROM sim_hardware WHERE vm_id IN (SELECT id FROM vms WHERE tenant_id = $1)",
            "DELETE FROM tenants WHERE id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        self.auth.changed();
        Ok(true)
    }
}
