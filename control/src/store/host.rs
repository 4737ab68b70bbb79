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
    /// Only hosts that may take new VMs: not drained, and, for a host agent's host, heard from
    /// since `heard_since` (Unix ms).
    pub(crate) async fn host_list_zone(
        &self,
        tx: &mut Tx,
        zone: &str,
        heard_since: i64,
    ) -> Result<Vec<HostRow>, sqlx::Error> {
        let lock = if self.backend() == super::Backend::Postgres {
            " FOR UPDATE"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {HOST_COLUMNS} FROM hosts WHERE zone = $1 AND draining = 0 \
             AND (agent_endpoint IS NULL OR last_seen_ms >= $2) ORDER BY name{lock}"
        );
        sqlx::query(&sql)
            .bind(zone)
            .bind(heard_since)
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

/// A host run by a host agent, as its last registration left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentHostRow {
    /// The host with its capacity.
    pub host: HostRow,
    /// Where the control plane reaches its agent.
    pub endpoint: String,
    /// The accelerator its agent chose (`kvm`, `tcg`).
    pub accelerator: String,
    /// Why.
    pub accelerator_reason: String,
    /// The guest image it boots.
    pub image: String,
    /// The last registration (Unix ms).
    pub last_seen_ms: i64,
    /// Whether staff drained it.
    pub draining: bool,
    /// Its underlay (backbone) address, if it has one.
    pub underlay: Option<String>,
}

const AGENT_COLUMNS: &str =
    "agent_endpoint, accelerator, accelerator_reason, image, last_seen_ms, draining, underlay";

fn agent_host_from_row(row: &AnyRow) -> Result<AgentHostRow, sqlx::Error> {
    Ok(AgentHostRow {
        host: host_from_row(row)?,
        endpoint: row.try_get("agent_endpoint")?,
        accelerator: row
            .try_get::<Option<String>, _>("accelerator")?
            .unwrap_or_default(),
        accelerator_reason: row
            .try_get::<Option<String>, _>("accelerator_reason")?
            .unwrap_or_default(),
        image: row.try_get::<Option<String>, _>("image")?.unwrap_or_default(),
        last_seen_ms: row.try_get::<Option<i64>, _>("last_seen_ms")?.unwrap_or_default(),
        draining: row.try_get::<i64, _>("draining")? != 0,
        underlay: row.try_get("underlay")?,
    })
}

/// A registration the store refused.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// Another host has the name.
    #[error("another host is named {0}")]
    NameTaken(String),
    /// The host is recorded in another zone (a host does not move).
    #[error("host {0} is recorded in zone {1}")]
    ZoneChanged(Uuid, String),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl Store {
    /// Records a host agent's registration at `now`: a new host, or the same host's new endpoint,
    /// capacity (never below what is reserved on it), accelerator and image.
    pub async fn host_register(
        &self,
        host: &HostSpec,
        endpoint: &str,
        accelerator: (&str, &str),
        image: &str,
        underlay: Option<&str>,
        now: i64,
    ) -> Result<(), RegisterError> {
        let mut tx = self.begin_write().await?;
        let existing = sqlx::query("SELECT zone FROM hosts WHERE id = $1")
            .bind(host.id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = existing {
            let zone: String = row.try_get("zone")?;
            if zone != host.zone.as_str() {
                return Err(RegisterError::ZoneChanged(host.id, zone));
            }
        }
        let taken = sqlx::query("SELECT id FROM hosts WHERE name = $1 AND id <> $2")
            .bind(&host.name)
            .bind(host.id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(RegisterError::NameTaken(host.name.clone()));
        }
        sqlx::query(
            "INSERT INTO hosts (id, zone, name, vcpus_total, memory_mib_total, disk_gib_total, \
               agent_endpoint, accelerator, accelerator_reason, image, last_seen_ms, underlay) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
               vcpus_total = CASE WHEN excluded.vcpus_total >= hosts.vcpus_used THEN excluded.vcpus_total ELSE hosts.vcpus_used END, \
               memory_mib_total = CASE WHEN excluded.memory_mib_total >= hosts.memory_mib_used THEN excluded.memory_mib_total ELSE hosts.memory_mib_used END, \
               disk_gib_total = CASE WHEN excluded.disk_gib_total >= hosts.disk_gib_used THEN excluded.disk_gib_total ELSE hosts.disk_gib_used END, \
               agent_endpoint = excluded.agent_endpoint, accelerator = excluded.accelerator, \
               accelerator_reason = excluded.accelerator_reason, image = excluded.image, \
               last_seen_ms = excluded.last_seen_ms, underlay = excluded.underlay",
        )
        .bind(host.id.to_string())
        .bind(host.zone.as_str())
        .bind(&host.name)
        .bind(i64::from(host.vcpus))
        .bind(i64::try_from(host.memory_mib).unwrap_or(i64::MAX))
        .bind(i64::try_from(host.disk_gib).unwrap_or(i64::MAX))
        .bind(endpoint)
        .bind(accelerator.0)
        .bind(accelerator.1)
        .bind(image)
        .bind(now)
        .bind(underlay)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every host run by a host agent, by name.
    pub async fn host_agent_list(&self) -> Result<Vec<AgentHostRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {HOST_COLUMNS}, {AGENT_COLUMNS} FROM hosts WHERE agent_endpoint IS NOT NULL ORDER BY name"
        );
        sqlx::query(&sql)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(agent_host_from_row)
            .collect()
    }

    /// One host agent's host; None for an unknown or simulated host.
    pub async fn host_agent(&self, id: Uuid) -> Result<Option<AgentHostRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {HOST_COLUMNS}, {AGENT_COLUMNS} FROM hosts WHERE id = $1 AND agent_endpoint IS NOT NULL"
        );
        sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(agent_host_from_row)
            .transpose()
    }

    /// Drains a host (no new VMs are placed on it) or undrains it; false when there is no such host.
    pub async fn host_set_draining(&self, id: Uuid, draining: bool) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("UPDATE hosts SET draining = $1 WHERE id = $2")
            .bind(i64::from(draining))
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The OpenSSH public key lines of the keys with these fingerprints (a key's fingerprint
    /// names its key material, whichever tenant added it).
    pub async fn ssh_public_keys(&self, fingerprints: &[String]) -> Result<Vec<String>, sqlx::Error> {
        if fingerprints.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT DISTINCT public_key FROM ssh_keys WHERE fingerprint IN ({}) ORDER BY public_key",
            super::in_list(1, fingerprints.len())
        );
        let mut query = sqlx::query(&sql);
        for fingerprint in fingerprints {
            query = query.bind(fingerprint);
        }
        query
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| row.try_get("public_key"))
            .collect()
    }
}

/// A VM of a tenant network on a host agent's host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkMemberRow {
    /// The VM.
    pub vm_id: String,
    /// Its private address.
    pub private_ip: String,
    /// Its zone.
    pub zone: String,
    /// Its host.
    pub host_id: Uuid,
    /// Its host's underlay address.
    pub underlay: String,
    /// Its public address, when it has breakout.
    pub public_ip: Option<String>,
}

impl Store {
    /// Tenant `tenant_id`'s network id, given now if it has none (the next free one).
    pub async fn tenant_network_id(&self, tenant_id: &str) -> Result<i64, sqlx::Error> {
        for _ in 0..5 {
            let current: Option<i64> = sqlx::query("SELECT network_id FROM tenants WHERE id = $1")
                .bind(tenant_id)
                .fetch_one(self.pool())
                .await?
                .try_get("network_id")?;
            if let Some(id) = current {
                return Ok(id);
            }
            let given = sqlx::query(
                "UPDATE tenants SET network_id = (SELECT COALESCE(MAX(network_id), 0) + 1 FROM tenants) \
                 WHERE id = $1 AND network_id IS NULL",
            )
            .bind(tenant_id)
            .execute(self.pool())
            .await;
            match given {
                Ok(_) => {}
                // Another tenant took that number at the same moment: read and try again.
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {}
                Err(e) => return Err(e),
            }
        }
        Err(sqlx::Error::Protocol(
            "no network id could be given after five tries".into(),
        ))
    }

    /// Every VM of tenant `tenant_id` with a private address on a host with an underlay, not being
    /// or already destroyed, by address.
    pub async fn tenant_network_members(
        &self,
        tenant_id: &str,
    ) -> Result<Vec<NetworkMemberRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT v.id, v.private_ip, v.public_ip, v.zone, h.id AS host_id, h.underlay FROM vms v JOIN hosts h ON h.id = v.host_id \
             WHERE v.tenant_id = $1 AND v.private_ip IS NOT NULL AND v.state NOT IN ('destroying', 'destroyed') \
             AND h.underlay IS NOT NULL ORDER BY v.private_ip",
        )
        .bind(tenant_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let host: String = row.try_get("host_id")?;
                Ok(NetworkMemberRow {
                    vm_id: row.try_get("id")?,
                    private_ip: row.try_get("private_ip")?,
                    zone: row.try_get("zone")?,
                    host_id: host
                        .parse()
                        .map_err(|e: uuid::Error| sqlx::Error::Decode(e.into()))?,
                    underlay: row.try_get("underlay")?,
                    public_ip: row.try_get("public_ip")?,
                })
            })
            .collect()
    }

    /// The tenant of VM `vm_id`.
    pub async fn vm_tenant(&self, vm_id: Uuid) -> Result<Option<String>, sqlx::Error> {
        sqlx::query("SELECT tenant_id FROM vms WHERE id = $1")
            .bind(vm_id.to_string())
            .fetch_optional(self.pool())
            .await?
            .map(|row| row.try_get("tenant_id"))
            .transpose()
    }
}
