//! VM rows. Host, private address and public address are columns of the VM, so releasing any of
//! them is setting it to NULL and nothing can be held by a VM that no longer exists.

use super::{Backend, MAX_BINDS, Marks, Store, Tx, in_list, now_ms};
use serde::{Deserialize, Deserializer};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A VM as stored. (Lists arrive as one JSON value built by the database; see [`Store::vm_list`].)
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct VmRow {
    /// VM id.
    pub id: String,
    /// Owner.
    pub tenant_id: String,
    /// Its VDC.
    pub vdc_id: String,
    /// Name.
    pub name: String,
    /// Zone id text.
    pub zone: String,
    /// Template id text.
    pub template: String,
    /// vCPUs.
    pub vcpus: i64,
    /// Memory.
    pub memory_mib: i64,
    /// Disk.
    pub disk_gib: i64,
    /// State name.
    pub state: String,
    /// Host id text, while placed.
    pub host_id: Option<String>,
    /// Private address, while held.
    pub private_ip: Option<String>,
    /// Public address, while held.
    pub public_ip: Option<String>,
    /// Whether it wants a public address.
    #[serde(deserialize_with = "flag")]
    pub breakout: bool,
    /// Whether it needs a host of its own tenant only.
    #[serde(deserialize_with = "flag")]
    pub dedicated: bool,
    /// Anti-affinity group.
    pub affinity_group: Option<String>,
    /// Cloud-config.
    pub user_data: Option<String>,
    /// Whether its quota is reserved.
    #[serde(deserialize_with = "flag")]
    pub quota_reserved: bool,
    /// Fingerprints of the SSH keys installed at creation, space-separated.
    pub ssh_keys: String,
    /// The template's name when the VM was created.
    pub template_name: String,
    /// The image it boots (a built-in template's slug).
    pub image: String,
    /// A resize's target size ("vcpus/memory_mib/disk_gib") while room for it is reserved.
    pub pending_size: Option<String>,
    /// The stack it belongs to, if any.
    pub stack_id: Option<String>,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Last change (Unix ms).
    pub updated_at: i64,
}

/// A 0/1 column as JSON (SQLite and PostgreSQL both store flags as integers).
fn flag<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(i64::deserialize(deserializer)? != 0)
}

/// Every column of `vms`, as [`VmRow`] names them.
const VM_COLUMNS: [&str; 25] = [
    "id",
    "tenant_id",
    "vdc_id",
    "name",
    "zone",
    "template",
    "vcpus",
    "memory_mib",
    "disk_gib",
    "state",
    "host_id",
    "private_ip",
    "public_ip",
    "breakout",
    "dedicated",
    "affinity_group",
    "user_data",
    "quota_reserved",
    "ssh_keys",
    "template_name",
    "image",
    "pending_size",
    "stack_id",
    "created_at",
    "updated_at",
];

/// A tenant's live VMs as one JSON array built by the database: one row crosses from the
/// database instead of one per VM with every column converted (a tenth of the time for 100 VMs;
/// docs/BENCHMARKS.md).
fn vm_list_sql(backend: Backend) -> &'static str {
    static SQLITE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let pairs: Vec<String> = VM_COLUMNS.iter().map(|c| format!("'{c}', {c}")).collect();
        format!(
            "SELECT json_group_array(json_object({})) AS list FROM vms \
             WHERE tenant_id = $1 AND state <> 'destroyed'",
            pairs.join(", ")
        )
    });
    static POSTGRES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT COALESCE(json_agg(v), '[]'::json)::text AS list FROM \
             (SELECT {} FROM vms WHERE tenant_id = $1 AND state <> 'destroyed') v",
            VM_COLUMNS.join(", ")
        )
    });
    match backend {
        Backend::Sqlite => &SQLITE,
        Backend::Postgres => &POSTGRES,
    }
}

/// The text columns of a VM that steps change; the column names come from here, never from input.
#[derive(Clone, Copy)]
enum VmText {
    State,
    Host,
    PrivateIp,
    PublicIp,
}

impl VmText {
    fn name(self) -> &'static str {
        match self {
            VmText::State => "state",
            VmText::Host => "host_id",
            VmText::PrivateIp => "private_ip",
            VmText::PublicIp => "public_ip",
        }
    }
}

pub(crate) fn vm_from_row(row: &AnyRow) -> Result<VmRow, sqlx::Error> {
    Ok(VmRow {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        vdc_id: row.try_get("vdc_id")?,
        name: row.try_get("name")?,
        zone: row.try_get("zone")?,
        template: row.try_get("template")?,
        vcpus: row.try_get("vcpus")?,
        memory_mib: row.try_get("memory_mib")?,
        disk_gib: row.try_get("disk_gib")?,
        state: row.try_get("state")?,
        host_id: row.try_get("host_id")?,
        private_ip: row.try_get("private_ip")?,
        public_ip: row.try_get("public_ip")?,
        breakout: row.try_get::<i64, _>("breakout")? != 0,
        dedicated: row.try_get::<i64, _>("dedicated")? != 0,
        affinity_group: row.try_get("affinity_group")?,
        user_data: row.try_get("user_data")?,
        quota_reserved: row.try_get::<i64, _>("quota_reserved")? != 0,
        ssh_keys: row.try_get("ssh_keys")?,
        pending_size: row.try_get("pending_size")?,
        stack_id: row.try_get("stack_id")?,
        template_name: row.try_get("template_name")?,
        image: row.try_get("image")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Inserts new VMs, many rows per statement.
    pub(crate) async fn vm_insert_many(tx: &mut Tx, vms: &[VmRow]) -> Result<(), sqlx::Error> {
        const COLUMNS: usize = 22;
        for chunk in vms.chunks(MAX_BINDS / COLUMNS) {
            let sql = format!(
                "INSERT INTO vms (id, tenant_id, vdc_id, name, zone, template, vcpus, memory_mib, disk_gib, state, \
                 breakout, dedicated, affinity_group, user_data, quota_reserved, created_at, updated_at, ssh_keys, \
                 template_name, image, stack_id, private_ip) VALUES {}",
                Marks::of(tx).values(1, chunk.len(), COLUMNS)
            );
            let mut query = sqlx::query(&sql);
            for vm in chunk {
                query = query
                    .bind(&vm.id)
                    .bind(&vm.tenant_id)
                    .bind(&vm.vdc_id)
                    .bind(&vm.name)
                    .bind(&vm.zone)
                    .bind(&vm.template)
                    .bind(vm.vcpus)
                    .bind(vm.memory_mib)
                    .bind(vm.disk_gib)
                    .bind(&vm.state)
                    .bind(i64::from(vm.breakout))
                    .bind(i64::from(vm.dedicated))
                    .bind(&vm.affinity_group)
                    .bind(&vm.user_data)
                    .bind(i64::from(vm.quota_reserved))
                    .bind(vm.created_at)
                    .bind(vm.updated_at)
                    .bind(&vm.ssh_keys)
                    .bind(&vm.template_name)
                    .bind(&vm.image)
                    .bind(&vm.stack_id)
                    .bind(&vm.private_ip);
            }
            query.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// VMs by id inside a transaction (the job runner's waves), in no particular order.
    pub(crate) async fn vm_by_ids_tx(tx: &mut Tx, ids: &[String]) -> Result<Vec<VmRow>, sqlx::Error> {
        let mut vms = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_BINDS) {
            let sql = format!("SELECT * FROM vms WHERE id IN ({})", in_list(1, chunk.len()));
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id);
            }
            for row in query.fetch_all(&mut **tx).await? {
                vms.push(vm_from_row(&row)?);
            }
        }
        Ok(vms)
    }

    /// VMs by id, outside any transaction (what the driver is told before a wave's step).
    pub async fn vm_by_ids(&self, ids: &[String]) -> Result<Vec<VmRow>, sqlx::Error> {
        let mut tx = self.begin_read().await?;
        let vms = Self::vm_by_ids_tx(&mut tx, ids).await?;
        tx.commit().await?;
        Ok(vms)
    }

    /// Sets one text column of many VMs, each to its own value, in one statement per chunk.
    async fn vm_set_text_many(
        tx: &mut Tx,
        column: VmText,
        values: &[(String, Option<String>)],
    ) -> Result<(), sqlx::Error> {
        for chunk in values.chunks(MAX_BINDS / 3) {
            let mut cases = String::new();
            for n in 0..chunk.len() {
                cases.push_str(&format!(" WHEN ${} THEN ${}", 2 * n + 2, 2 * n + 3));
            }
            let sql = format!(
                "UPDATE vms SET {column} = CASE id{cases} END, updated_at = $1 WHERE id IN ({ids})",
                column = column.name(),
                ids = in_list(2 * chunk.len() + 2, chunk.len()),
            );
            let mut query = sqlx::query(&sql).bind(now_ms());
            for (id, value) in chunk {
                query = query.bind(id).bind(value.as_deref());
            }
            for (id, _) in chunk {
                query = query.bind(id);
            }
            query.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Sets the hosts of many VMs.
    pub(crate) async fn vm_set_host_many(
        tx: &mut Tx,
        hosts: &[(String, Option<String>)],
    ) -> Result<(), sqlx::Error> {
        Self::vm_set_text_many(tx, VmText::Host, hosts).await
    }

    /// Sets the private addresses of many VMs. A duplicate fails on the UNIQUE index.
    pub(crate) async fn vm_set_private_ip_many(
        tx: &mut Tx,
        ips: &[(String, Option<String>)],
    ) -> Result<(), sqlx::Error> {
        Self::vm_set_text_many(tx, VmText::PrivateIp, ips).await
    }

    /// Sets many VMs to one state.
    pub(crate) async fn vm_set_state_many(
        tx: &mut Tx,
        ids: &[String],
        state: &str,
    ) -> Result<(), sqlx::Error> {
        let values: Vec<(String, Option<String>)> = ids
            .iter()
            .map(|id| (id.clone(), Some(state.to_owned())))
            .collect();
        Self::vm_set_text_many(tx, VmText::State, &values).await
    }

    /// Marks freshly provisioned VMs running and starts their metering clock at `since_ms`, all
    /// or none: false (and nothing changed that the caller keeps) if any VM was metered already.
    pub(crate) async fn vm_mark_running_fresh(
        tx: &mut Tx,
        ids: &[String],
        since_ms: i64,
    ) -> Result<bool, sqlx::Error> {
        let mut changed = 0;
        for chunk in ids.chunks(MAX_BINDS) {
            let sql = format!(
                "UPDATE vms SET state = 'running', metered_until = $1, updated_at = $2 \
                 WHERE metered_until IS NULL AND id IN ({})",
                in_list(3, chunk.len())
            );
            let mut query = sqlx::query(&sql).bind(since_ms).bind(now_ms());
            for id in chunk {
                query = query.bind(id);
            }
            changed += query.execute(&mut **tx).await?.rows_affected();
        }
        Ok(usize::try_from(changed).is_ok_and(|n| n == ids.len()))
    }

    /// A VM by id, for the job runner (which acts for the tenant the job belongs to).
    pub async fn vm_by_id(&self, id: &str) -> Result<Option<VmRow>, sqlx::Error> {
        let row = sqlx::query("SELECT * FROM vms WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(vm_from_row).transpose()
    }

    /// A VM by id inside a transaction.
    pub(crate) async fn vm_by_id_tx(tx: &mut Tx, id: &str) -> Result<Option<VmRow>, sqlx::Error> {
        let row = sqlx::query("SELECT * FROM vms WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
        row.as_ref().map(vm_from_row).transpose()
    }

    /// One of the tenant's VMs.
    pub async fn vm_get(&self, tenant_id: &str, id: &str) -> Result<Option<VmRow>, sqlx::Error> {
        let row = sqlx::query("SELECT * FROM vms WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(vm_from_row).transpose()
    }

    /// The tenant's VMs that are not destroyed, by name.
    pub async fn vm_list(&self, tenant_id: &str) -> Result<Vec<VmRow>, sqlx::Error> {
        let row = sqlx::query(vm_list_sql(self.backend()))
            .bind(tenant_id)
            .fetch_one(self.pool())
            .await?;
        let list: String = row.try_get("list")?;
        let mut vms: Vec<VmRow> =
            serde_json::from_str(&list).map_err(|error| sqlx::Error::Decode(Box::new(error)))?;
        vms.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(vms)
    }

    /// How many live VMs the tenant has per zone and state: `(zone, state, count)`.
    pub async fn vm_counts(&self, tenant_id: &str) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT zone, state, COUNT(*) AS n FROM vms WHERE tenant_id = $1 AND state <> 'destroyed' \
             GROUP BY zone, state",
        )
        .bind(tenant_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("zone")?, row.try_get("state")?, row.try_get("n")?)))
            .collect()
    }

    /// Every tenant's live VMs per zone: `(tenant, zone, count)`, for what a backbone cut would
    /// do to them (staff).
    pub async fn vm_counts_all(&self) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT tenant_id, zone, COUNT(*) AS n FROM vms WHERE state <> 'destroyed' \
             GROUP BY tenant_id, zone ORDER BY tenant_id, zone",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("tenant_id")?, row.try_get("zone")?, row.try_get("n")?)))
            .collect()
    }

    /// Every VM of every tenant (for the invariant checker).
    pub async fn vm_list_all(&self) -> Result<Vec<VmRow>, sqlx::Error> {
        sqlx::query("SELECT * FROM vms")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(vm_from_row)
            .collect()
    }

    /// Sets a VM's state.
    pub(crate) async fn vm_set_state(tx: &mut Tx, id: &str, state: &str) -> Result<(), sqlx::Error> {
        Self::vm_set_text(tx, id, VmText::State, Some(state)).await
    }

    /// Sets (or clears) a VM's host.
    pub(crate) async fn vm_set_host(tx: &mut Tx, id: &str, host: Option<&str>) -> Result<(), sqlx::Error> {
        Self::vm_set_text(tx, id, VmText::Host, host).await
    }

    /// Sets (or clears) a VM's private address. A duplicate within the tenant fails on the UNIQUE index.
    pub(crate) async fn vm_set_private_ip(
        tx: &mut Tx,
        id: &str,
        ip: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        Self::vm_set_text(tx, id, VmText::PrivateIp, ip).await
    }

    /// Sets (or clears) a VM's public address. A duplicate anywhere fails on the UNIQUE index.
    pub(crate) async fn vm_set_public_ip(tx: &mut Tx, id: &str, ip: Option<&str>) -> Result<(), sqlx::Error> {
        Self::vm_set_text(tx, id, VmText::PublicIp, ip).await
    }

    async fn vm_set_text(
        tx: &mut Tx,
        id: &str,
        column: VmText,
        value: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        let sql = format!(
            "UPDATE vms SET {} = $1, updated_at = $2 WHERE id = $3",
            column.name()
        );
        sqlx::query(&sql)
            .bind(value)
            .bind(now_ms())
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Records whether the VM's quota is reserved.
    pub(crate) async fn vm_set_quota_reserved(
        tx: &mut Tx,
        id: &str,
        reserved: bool,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE vms SET quota_reserved = $1 WHERE id = $2")
            .bind(i64::from(reserved))
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Records whether the VM has internet breakout (its public address follows in a job step).
    pub(crate) async fn vm_set_breakout(tx: &mut Tx, id: &str, breakout: bool) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE vms SET breakout = $1, updated_at = $2 WHERE id = $3")
            .bind(i64::from(breakout))
            .bind(super::now_ms())
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Private addresses the tenant holds in a zone.
    pub(crate) async fn vm_private_ips_in_zone(
        tx: &mut Tx,
        tenant_id: &str,
        zone: &str,
    ) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT private_ip FROM vms WHERE tenant_id = $1 AND zone = $2 AND private_ip IS NOT NULL",
        )
        .bind(tenant_id)
        .bind(zone)
        .fetch_all(&mut **tx)
        .await
    }

    /// Public addresses held in a zone (any tenant: the zone's pool is shared).
    pub(crate) async fn vm_public_ips_in_zone(tx: &mut Tx, zone: &str) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT public_ip FROM vms WHERE zone = $1 AND public_ip IS NOT NULL")
            .bind(zone)
            .fetch_all(&mut **tx)
            .await
    }

    /// For each host of a zone: `(host, tenant, vms, dedicated vms)` of the VMs placed on it.
    pub(crate) async fn vm_host_tenancy(
        tx: &mut Tx,
        zone: &str,
    ) -> Result<Vec<(String, String, i64, i64)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT host_id, tenant_id, COUNT(*) AS n, SUM(CASE WHEN dedicated = 1 THEN 1 ELSE 0 END) AS d \
             FROM vms WHERE zone = $1 AND host_id IS NOT NULL GROUP BY host_id, tenant_id",
        )
        .bind(zone)
        .fetch_all(&mut **tx)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("host_id")?,
                    row.try_get("tenant_id")?,
                    row.try_get("n")?,
                    row.try_get("d")?,
                ))
            })
            .collect()
    }

    /// The hosts that hold the tenant's VMs of any of these anti-affinity groups.
    pub(crate) async fn vm_group_hosts(
        tx: &mut Tx,
        tenant_id: &str,
        groups: &std::collections::BTreeSet<&str>,
    ) -> Result<std::collections::BTreeSet<String>, sqlx::Error> {
        let mut hosts = std::collections::BTreeSet::new();
        for group in groups {
            let rows: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT host_id FROM vms WHERE tenant_id = $1 AND affinity_group = $2 AND host_id IS NOT NULL",
            )
            .bind(tenant_id)
            .bind(*group)
            .fetch_all(&mut **tx)
            .await?;
            hosts.extend(rows);
        }
        Ok(hosts)
    }

    /// Whether a live job is working on this VM.
    pub(crate) async fn vm_live_job(tx: &mut Tx, id: &str) -> Result<Option<uuid::Uuid>, sqlx::Error> {
        let job: Option<String> = sqlx::query_scalar(
            "SELECT id FROM jobs WHERE target_id = $1 AND state IN ('queued', 'running', 'unwinding')",
        )
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
        job.map(|id| id.parse().map_err(|e| sqlx::Error::Decode(Box::new(e))))
            .transpose()
    }
}

impl Store {
    /// Sets a VM's size and its pending (reserved, not yet applied) size.
    pub(crate) async fn vm_set_size(
        tx: &mut Tx,
        id: &str,
        size: (i64, i64, i64),
        pending: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE vms SET vcpus = $1, memory_mib = $2, disk_gib = $3, pending_size = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(size.0)
        .bind(size.1)
        .bind(size.2)
        .bind(pending)
        .bind(now_ms())
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

impl From<VmRow> for meridian_core::view::Vm {
    fn from(row: VmRow) -> Self {
        let template = if row.template_name.is_empty() {
            row.template.clone()
        } else {
            row.template_name
        };
        Self {
            id: super::id_of(&row.id),
            name: row.name,
            vdc_id: super::id_of(&row.vdc_id),
            zone: row.zone,
            state: row.state,
            template,
            template_id: row.template,
            vcpus: row.vcpus,
            memory_mib: row.memory_mib,
            disk_gib: row.disk_gib,
            private_ip: row.private_ip,
            public_ip: row.public_ip,
            breakout: row.breakout,
            dedicated: row.dedicated,
            anti_affinity_group: row.affinity_group,
            created_at: row.created_at,
        }
    }
}
