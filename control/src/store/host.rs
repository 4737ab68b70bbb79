//! Host rows: the inventory placement chooses from, and the capacity counters it reserves.

use super::{Store, Tx};
use meridian_core::host::HostSpec;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

/// A host with its capacity and what is reserved on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostRow {
    /// Host id.
    pub id: Uuid,
    /// Zone id text.
    pub zone: String,
    /// Name.
    pub name: String,
    /// vCPUs in total / reserved.
    pub vcpus_total: i64,
    /// Reserved vCPUs.
    pub vcpus_used: i64,
    /// Memory in total.
    pub memory_mib_total: i64,
    /// Reserved memory.
    pub memory_mib_used: i64,
    /// Disk in total.
    pub disk_gib_total: i64,
    /// Reserved disk.
    pub disk_gib_used: i64,
    /// The tenant this host is dedicated to, if any.
    pub dedicated_tenant: Option<String>,
}

/// The resources a VM reserves on a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reservation {
    /// vCPUs.
    pub vcpus: i64,
    /// Memory.
    pub memory_mib: i64,
    /// Disk.
    pub disk_gib: i64,
}

const HOST_COLUMNS: &str = "id, zone, name, vcpus_total, vcpus_used, memory_mib_total, memory_mib_used, \
     disk_gib_total, disk_gib_used, dedicated_tenant_id";

fn host_from_row(row: &AnyRow) -> Result<HostRow, sqlx::Error> {
    let id: String = row.try_get("id")?;
    Ok(HostRow {
        id: id
            .parse()
            .map_err(|e: uuid::Error| sqlx::Error::Decode(e.into()))?,
        zone: row.try_get("zone")?,
        name: row.try_get("name")?,
        vcpus_total: row.try_get("vcpus_total")?,
        vcpus_used: row.try_get("vcpus_used")?,
        memory_mib_total: row.try_get("memory_mib_total")?,
        memory_mib_used: row.try_get("memory_mib_used")?,
        disk_gib_total: row.try_get("disk_gib_total")?,
        disk_gib_used: row.try_get("disk_gib_used")?,
        dedicated_tenant: row.try_get("dedicated_tenant_id")?,
    })
}

impl Store {
    /// Records hosts the driver reports; existing hosts keep their counters.
    pub async fn host_sync(&self, hosts: &[HostSpec]) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        for host in hosts {
            sqlx::query(
                "INSERT INTO hosts (id, zone, name, vcpus_total, memory_mib_total, disk_gib_total) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
            )
            .bind(host.id.to_string())
            .bind(host.zone.as_str())
            .bind(&host.name)
            .bind(i64::from(host.vcpus))
            .bind(i64::try_from(host.memory_mib).unwrap_or(i64::MAX))
            .bind(i64::try_from(host.disk_gib).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// Every host (for the capacity view and the invariant checker).
    pub async fn host_list(&self) -> Result<Vec<HostRow>, sqlx::Error> {
        let sql = format!("SELECT {HOST_COLUMNS} FROM hosts ORDER BY name");
        sqlx::query(&sql)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(host_from_row)
            .collect()
    }

    /// The hosts of one zone, inside a transaction (the inventory placement works on), locked
    /// until the transaction ends so that concurrent placements in a zone take turns: otherwise two
    /// members of an anti-affinity group could both pick the same free host. SQLite's write
    /// transactions are already serialised (`BEGIN IMMEDIATE`) and have no `FOR UPDATE`.
    pub(crate) async fn host_list_zone(&self, tx: &mut Tx, zone: &str) -> Result<Vec<HostRow>, sqlx::Error> {
        let lock = if self.backend() == super::Backend::Postgres {
            " FOR UPDATE"
        } else {
            ""
        };
        let sql = format!("SELECT {HOST_COLUMNS} FROM hosts WHERE zone = $1 ORDER BY name{lock}");
        sqlx::query(&sql)
            .bind(zone)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(host_from_row)
            .collect()
    }

    /// Reserves capacity on a host if it still fits; false if it no longer does (a racing
    /// placement took it), in which case nothing changed.
    pub(crate) async fn host_reserve(
        tx: &mut Tx,
        host: Uuid,
        need: Reservation,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE hosts SET vcpus_used = vcpus_used + $1, memory_mib_used = memory_mib_used + $2, \
             disk_gib_used = disk_gib_used + $3 WHERE id = $4 AND vcpus_used + $1 <= vcpus_total \
             AND memory_mib_used + $2 <= memory_mib_total AND disk_gib_used + $3 <= disk_gib_total",
        )
        .bind(need.vcpus)
        .bind(need.memory_mib)
        .bind(need.disk_gib)
        .bind(host.to_string())
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Returns capacity to a host.
    pub(crate) async fn host_release(tx: &mut Tx, host: Uuid, held: Reservation) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE hosts SET vcpus_used = vcpus_used - $1, memory_mib_used = memory_mib_used - $2, \
             disk_gib_used = disk_gib_used - $3 WHERE id = $4",
        )
        .bind(held.vcpus)
        .bind(held.memory_mib)
        .bind(held.disk_gib)
        .bind(host.to_string())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Marks a host dedicated to a tenant, or shared again (`None`) once no dedicated VM is left.
    pub(crate) async fn host_set_dedicated(
        tx: &mut Tx,
        host: Uuid,
        tenant: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE hosts SET dedicated_tenant_id = $1 WHERE id = $2")
            .bind(tenant)
            .bind(host.to_string())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
