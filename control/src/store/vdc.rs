//! VDC and subnet rows.

use super::{Store, Tx};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A VDC as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VdcRow {
    /// VDC id.
    pub id: String,
    /// Owner.
    pub tenant_id: String,
    /// Name.
    pub name: String,
    /// Zone id text.
    pub zone: String,
    /// Created (Unix ms).
    pub created_at: i64,
}

fn vdc_from_row(row: &AnyRow) -> Result<VdcRow, sqlx::Error> {
    Ok(VdcRow {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        zone: row.try_get("zone")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Inserts a VDC; a duplicate name within the tenant fails on the UNIQUE constraint.
    pub(crate) async fn vdc_insert(tx: &mut Tx, vdc: &VdcRow) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO vdcs (id, tenant_id, name, zone, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&vdc.id)
            .bind(&vdc.tenant_id)
            .bind(&vdc.name)
            .bind(&vdc.zone)
            .bind(vdc.created_at)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// The tenant's VDCs, by name.
    pub async fn vdc_list(&self, tenant_id: &str) -> Result<Vec<VdcRow>, sqlx::Error> {
        sqlx::query("SELECT * FROM vdcs WHERE tenant_id = $1 ORDER BY name")
            .bind(tenant_id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(vdc_from_row)
            .collect()
    }

    /// One of the tenant's VDCs.
    pub async fn vdc_get(&self, tenant_id: &str, id: &str) -> Result<Option<VdcRow>, sqlx::Error> {
        let row = sqlx::query("SELECT * FROM vdcs WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(vdc_from_row).transpose()
    }

    /// The tenant's subnets as `(zone, cidr)` (inside a transaction, for allocation).
    pub(crate) async fn subnet_list_tx(
        tx: &mut Tx,
        tenant_id: &str,
    ) -> Result<Vec<(String, String)>, sqlx::Error> {
        let rows = sqlx::query("SELECT zone, cidr FROM subnets WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_all(&mut **tx)
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("zone")?, row.try_get("cidr")?)))
            .collect()
    }

    /// The tenant's subnets as `(zone, cidr)`.
    pub async fn subnet_list(&self, tenant_id: &str) -> Result<Vec<(String, String)>, sqlx::Error> {
        let rows = sqlx::query("SELECT zone, cidr FROM subnets WHERE tenant_id = $1 ORDER BY cidr")
            .bind(tenant_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("zone")?, row.try_get("cidr")?)))
            .collect()
    }

    /// The subnet VM `vm_id`'s address is in: its tenant's in its zone.
    pub async fn vm_subnet(&self, vm_id: uuid::Uuid) -> Result<Option<String>, sqlx::Error> {
        sqlx::query(
            "SELECT s.cidr FROM vms v JOIN subnets s ON s.tenant_id = v.tenant_id AND s.zone = v.zone \
             WHERE v.id = $1",
        )
        .bind(vm_id.to_string())
        .fetch_optional(self.pool())
        .await?
        .map(|row| row.try_get("cidr"))
        .transpose()
    }

    /// Records a zone's subnet.
    pub(crate) async fn subnet_insert(
        tx: &mut Tx,
        tenant_id: &str,
        zone: &str,
        cidr: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO subnets (tenant_id, zone, cidr, created_at) VALUES ($1, $2, $3, $4)")
            .bind(tenant_id)
            .bind(zone)
            .bind(cidr)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

impl From<VdcRow> for meridian_core::view::Vdc {
    fn from(row: VdcRow) -> Self {
        Self {
            id: super::id_of(&row.id),
            name: row.name,
            zone: row.zone,
            created_at: row.created_at,
        }
    }
}
