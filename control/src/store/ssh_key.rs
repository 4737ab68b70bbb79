//! SSH key rows.

use super::Store;
use super::audit::WriteExt;
use sqlx::Row;

/// A stored key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshKeyRow {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The key in OpenSSH format.
    pub public_key: String,
    /// `SHA256:…` as `ssh-keygen -l` prints it.
    pub fingerprint: String,
}

impl Store {
    /// Adds a key; a duplicate name or key fails on a UNIQUE constraint.
    pub async fn ssh_key_insert(
        &self,
        tenant_id: &str,
        key: &SshKeyRow,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO ssh_keys (id, tenant_id, name, public_key, fingerprint, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&key.id)
        .bind(tenant_id)
        .bind(&key.name)
        .bind(&key.public_key)
        .bind(&key.fingerprint)
        .bind(now)
        .execute_write(self)
        .await?;
        Ok(())
    }

    /// The tenant's keys by name.
    pub async fn ssh_key_list(&self, tenant_id: &str) -> Result<Vec<SshKeyRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, name, public_key, fingerprint FROM ssh_keys WHERE tenant_id = $1 ORDER BY name",
        )
        .bind(tenant_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SshKeyRow {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    public_key: row.try_get("public_key")?,
                    fingerprint: row.try_get("fingerprint")?,
                })
            })
            .collect()
    }

    /// Deletes one of the tenant's keys; false if there is no such key of theirs.
    pub async fn ssh_key_delete(&self, tenant_id: &str, id: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM ssh_keys WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant_id)
            .execute_write(self)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl From<SshKeyRow> for meridian_core::view::SshKey {
    fn from(row: SshKeyRow) -> Self {
        Self {
            id: super::id_of(&row.id),
            name: row.name,
            fingerprint: row.fingerprint,
            public_key: row.public_key,
        }
    }
}
