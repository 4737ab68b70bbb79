//! Audit log rows.

use super::Store;
use sqlx::Row;

/// One audit entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    /// When (Unix ms).
    pub at: i64,
    /// Who (an e-mail address, or "anonymous").
    pub actor: String,
    /// What, e.g. `vm.stop`.
    pub action: String,
    /// On what (a name or id).
    pub target: String,
    /// `ok`, or why it was refused or failed.
    pub result: String,
    /// The client's address.
    pub client: String,
    /// The request id, to find the request in the logs.
    pub request_id: String,
}

impl Store {
    /// Appends an entry.
    pub async fn audit_insert(&self, tenant_id: &str, row: &AuditRow) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO audit_log (id, tenant_id, seq, at, actor, action, target, result, client, request_id) \
             SELECT $1, $2, COALESCE(MAX(seq), 0) + 1, $3, $4, $5, $6, $7, $8, $9 FROM audit_log WHERE tenant_id = $2",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(tenant_id)
        .bind(row.at)
        .bind(&row.actor)
        .bind(&row.action)
        .bind(&row.target)
        .bind(&row.result)
        .bind(&row.client)
        .bind(&row.request_id)
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(())
    }

    /// The tenant's newest entries first.
    pub async fn audit_list(&self, tenant_id: &str, limit: i64) -> Result<Vec<AuditRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT at, actor, action, target, result, client, request_id FROM audit_log \
             WHERE tenant_id = $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(tenant_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditRow {
                    at: row.try_get("at")?,
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    target: row.try_get("target")?,
                    result: row.try_get("result")?,
                    client: row.try_get("client")?,
                    request_id: row.try_get("request_id")?,
                })
            })
            .collect()
    }
}
