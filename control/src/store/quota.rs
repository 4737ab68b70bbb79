//! Quota rows: limits and reservations, reserved with one conditional UPDATE.

use super::audit::WriteExt;
use super::{Store, Tx};
use meridian_core::resource::{Quota, QuotaUsage};
use sqlx::Row;
use sqlx::any::AnyRow;

fn to_i64<T: TryInto<i64>>(value: T) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}

fn quota_from_row(row: &AnyRow) -> Result<(Quota, QuotaUsage), sqlx::Error> {
    let get = |column: &str| -> Result<i64, sqlx::Error> { row.try_get(column) };
    let u32_of = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
    let u64_of = |v: i64| u64::try_from(v).unwrap_or(0);
    Ok((
        Quota {
            max_vms: u32_of(get("max_vms")?),
            max_vcpus: u32_of(get("max_vcpus")?),
            max_memory_mib: u64_of(get("max_memory_mib")?),
            max_public_ips: u32_of(get("max_public_ips")?),
        },
        QuotaUsage {
            vms: u32_of(get("used_vms")?),
            vcpus: u32_of(get("used_vcpus")?),
            memory_mib: u64_of(get("used_memory_mib")?),
            public_ips: u32_of(get("used_public_ips")?),
        },
    ))
}

impl Store {
    /// Creates a tenant's quota row with its limits.
    pub(crate) async fn quota_insert(tx: &mut Tx, tenant_id: &str, quota: &Quota) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO quotas (tenant_id, max_vms, max_vcpus, max_memory_mib, max_public_ips) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(tenant_id)
        .bind(i64::from(quota.max_vms))
        .bind(i64::from(quota.max_vcpus))
        .bind(to_i64(quota.max_memory_mib))
        .bind(i64::from(quota.max_public_ips))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// A tenant's limits and what is reserved.
    pub async fn quota_get(&self, tenant_id: &str) -> Result<Option<(Quota, QuotaUsage)>, sqlx::Error> {
        let row = sqlx::query("SELECT * FROM quotas WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(quota_from_row).transpose()
    }

    /// Reads the quota row inside a transaction.
    pub(crate) async fn quota_get_tx(
        tx: &mut Tx,
        tenant_id: &str,
    ) -> Result<Option<(Quota, QuotaUsage)>, sqlx::Error> {
        let row = sqlx::query("SELECT * FROM quotas WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_optional(&mut **tx)
            .await?;
        row.as_ref().map(quota_from_row).transpose()
    }

    /// Reserves `amount` if every limit it touches still has room; false (nothing changed) if not.
    /// `enforce = false` reserves regardless (to undo a release during an unwind).
    pub(crate) async fn quota_reserve(
        tx: &mut Tx,
        tenant_id: &str,
        amount: &QuotaUsage,
        enforce: bool,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE quotas SET used_vms = used_vms + $1, used_vcpus = used_vcpus + $2, \
             used_memory_mib = used_memory_mib + $3, used_public_ips = used_public_ips + $4 \
             WHERE tenant_id = $5 AND ($6 = 0 OR ( \
               ($1 = 0 OR used_vms + $1 <= max_vms) AND ($2 = 0 OR used_vcpus + $2 <= max_vcpus) AND \
               ($3 = 0 OR used_memory_mib + $3 <= max_memory_mib) AND \
               ($4 = 0 OR used_public_ips + $4 <= max_public_ips)))",
        )
        .bind(i64::from(amount.vms))
        .bind(i64::from(amount.vcpus))
        .bind(to_i64(amount.memory_mib))
        .bind(i64::from(amount.public_ips))
        .bind(tenant_id)
        .bind(i64::from(enforce))
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Returns a reservation.
    pub(crate) async fn quota_release(
        tx: &mut Tx,
        tenant_id: &str,
        amount: &QuotaUsage,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE quotas SET used_vms = used_vms - $1, used_vcpus = used_vcpus - $2, \
             used_memory_mib = used_memory_mib - $3, used_public_ips = used_public_ips - $4 WHERE tenant_id = $5",
        )
        .bind(i64::from(amount.vms))
        .bind(i64::from(amount.vcpus))
        .bind(to_i64(amount.memory_mib))
        .bind(i64::from(amount.public_ips))
        .bind(tenant_id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Every tenant's quota row (for the invariant checker).
    pub async fn quota_list(&self) -> Result<Vec<(String, Quota, QuotaUsage)>, sqlx::Error> {
        let rows = sqlx::query("SELECT * FROM quotas").fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| {
                let (quota, usage) = quota_from_row(row)?;
                Ok((row.try_get("tenant_id")?, quota, usage))
            })
            .collect()
    }
}

impl Store {
    /// Replaces a tenant's limits (staff tools, benchmarks); reservations are kept.
    pub async fn quota_set_limits(&self, tenant_id: &str, quota: &Quota) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE quotas SET max_vms = $1, max_vcpus = $2, max_memory_mib = $3, max_public_ips = $4 WHERE tenant_id = $5",
        )
        .bind(i64::from(quota.max_vms))
        .bind(i64::from(quota.max_vcpus))
        .bind(to_i64(quota.max_memory_mib))
        .bind(i64::from(quota.max_public_ips))
        .bind(tenant_id)
        .execute_write(self)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
