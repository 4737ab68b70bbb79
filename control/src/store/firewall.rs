//! Firewall rule rows.

use super::Store;
use super::audit::WriteExt;
use sqlx::Row;

/// A stored rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirewallRow {
    /// Id.
    pub id: String,
    /// Zone id text.
    pub zone: String,
    /// `tcp`, `udp` or `icmp`.
    pub protocol: String,
    /// First port (none for ICMP).
    pub port_from: Option<i64>,
    /// Last port.
    pub port_to: Option<i64>,
    /// Source CIDR.
    pub source: String,
}

impl Store {
    /// Adds a rule; an identical rule fails on the UNIQUE constraint.
    pub async fn firewall_insert(
        &self,
        tenant_id: &str,
        rule: &FirewallRow,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO firewall_rules (id, tenant_id, zone, protocol, port_from, port_to, source, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&rule.id)
        .bind(tenant_id)
        .bind(&rule.zone)
        .bind(&rule.protocol)
        .bind(rule.port_from)
        .bind(rule.port_to)
        .bind(&rule.source)
        .bind(now)
        .execute_write(self)
        .await?;
        Ok(())
    }

    /// The tenant's rules, by zone.
    pub async fn firewall_list(&self, tenant_id: &str) -> Result<Vec<FirewallRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, zone, protocol, port_from, port_to, source FROM firewall_rules WHERE tenant_id = $1 \
             ORDER BY zone, created_at",
        )
        .bind(tenant_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(FirewallRow {
                    id: row.try_get("id")?,
                    zone: row.try_get("zone")?,
                    protocol: row.try_get("protocol")?,
                    port_from: row.try_get("port_from")?,
                    port_to: row.try_get("port_to")?,
                    source: row.try_get("source")?,
                })
            })
            .collect()
    }

    /// Deletes one of the tenant's rules; false if there is no such rule of theirs.
    pub async fn firewall_delete(&self, tenant_id: &str, id: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM firewall_rules WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant_id)
            .execute_write(self)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl From<FirewallRow> for meridian_core::view::FirewallRule {
    fn from(row: FirewallRow) -> Self {
        Self {
            id: super::id_of(&row.id),
            zone: row.zone,
            protocol: row.protocol,
            port_from: row.port_from,
            port_to: row.port_to,
            source: row.source,
        }
    }
}
