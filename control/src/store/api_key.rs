//! API key rows: who a key acts for, and its secret's hash.

use super::Store;
use super::audit::WriteExt;
use sqlx::Row;

/// A stored key, without anything secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRow {
    /// Id (for revoking).
    pub id: String,
    /// The user the key acts as.
    pub user_id: String,
    /// The key's name, chosen by the user.
    pub name: String,
    /// The public key (`mk_…`), sent with every request.
    pub api_key: String,
    /// When it was made (Unix ms).
    pub created_at: i64,
    /// When it last authenticated a request (Unix ms), to the minute.
    pub last_used_at: Option<i64>,
}

const API_KEY_COLUMNS: &str = "id, user_id, name, api_key, created_at, last_used_at";

fn api_key_from_row(row: &sqlx::any::AnyRow) -> Result<ApiKeyRow, sqlx::Error> {
    Ok(ApiKeyRow {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        name: row.try_get("name")?,
        api_key: row.try_get("api_key")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

impl Store {
    /// Adds a key; a name the user already uses fails on a UNIQUE constraint.
    pub async fn api_key_insert(
        &self,
        tenant_id: &str,
        key: &ApiKeyRow,
        secret_hash: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO api_keys (id, tenant_id, user_id, name, api_key, secret_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&key.id)
        .bind(tenant_id)
        .bind(&key.user_id)
        .bind(&key.name)
        .bind(&key.api_key)
        .bind(secret_hash)
        .bind(key.created_at)
        .execute_write(self)
        .await?;
        Ok(())
    }

    /// A user's keys, newest first.
    pub async fn api_key_list(&self, user_id: &str) -> Result<Vec<ApiKeyRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY created_at DESC, name"
        );
        let rows = sqlx::query(&sql).bind(user_id).fetch_all(self.pool()).await?;
        rows.iter().map(api_key_from_row).collect()
    }

    /// The key with this public part, with its secret's hash.
    pub async fn api_key_by_key(&self, api_key: &str) -> Result<Option<(ApiKeyRow, String)>, sqlx::Error> {
        let sql = format!("SELECT {API_KEY_COLUMNS}, secret_hash FROM api_keys WHERE api_key = $1");
        let row = sqlx::query(&sql)
            .bind(api_key)
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| Ok((api_key_from_row(&row)?, row.try_get("secret_hash")?)))
            .transpose()
    }

    /// The key whose secret hashes to `secret_hash` (a REST bearer token's), with that hash.
    pub async fn api_key_by_secret_hash(&self, secret_hash: &str) -> Result<Option<ApiKeyRow>, sqlx::Error> {
        let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE secret_hash = $1");
        let row = sqlx::query(&sql)
            .bind(secret_hash)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(api_key_from_row).transpose()
    }

    /// Records a use; at most once a minute per key, also when two servers see the same use.
    pub async fn api_key_touch(&self, id: &str, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 \
             AND (last_used_at IS NULL OR last_used_at < $3)",
        )
        .bind(now)
        .bind(id)
        .bind(now - 60_000)
        .execute_write(self)
        .await?;
        Ok(())
    }

    /// Deletes one of the user's keys; false if they have no such key.
    pub async fn api_key_delete(&self, user_id: &str, id: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM api_keys WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute_write(self)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes every key of a user (when they change their password and ask for it); returns
    /// how many there were.
    pub async fn api_key_delete_for_user(&self, user_id: &str) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("DELETE FROM api_keys WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected())
    }
}

impl From<ApiKeyRow> for meridian_core::view::ApiKey {
    fn from(row: ApiKeyRow) -> Self {
        Self {
            id: super::id_of(&row.id),
            name: row.name,
            api_key: row.api_key,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        }
    }
}
