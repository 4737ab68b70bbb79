//! Invitation rows.

use super::audit::WriteExt;
use super::{Store, Tx};
use meridian_core::Role;
use sqlx::Row;

/// A pending invitation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InviteRow {
    /// The tenant to join.
    pub tenant_id: String,
    /// Who is invited.
    pub email: String,
    /// With which role.
    pub role: Role,
    /// Until when (Unix ms).
    pub expires_at: i64,
}

impl Store {
    /// Records an invitation by its token's hash.
    pub(crate) async fn invite_insert(
        &self,
        token_hash: &str,
        invite: &InviteRow,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO invites (token_hash, tenant_id, email, role, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash)
        .bind(&invite.tenant_id)
        .bind(&invite.email)
        .bind(invite.role.as_str())
        .bind(now)
        .bind(invite.expires_at)
        .execute_write(self)
        .await?;
        Ok(())
    }

    /// Whether an unexpired, unused invitation has this token hash (a look before the expensive
    /// part of accepting one; [`Store::invite_take`] decides).
    pub(crate) async fn invite_open(&self, token_hash: &str, now: i64) -> Result<bool, sqlx::Error> {
        let row = sqlx::query(
            "SELECT 1 AS found FROM invites WHERE token_hash = $1 AND accepted_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }

    /// Takes an unexpired, unused invitation (marking it used) inside the caller's transaction.
    pub(crate) async fn invite_take(
        tx: &mut Tx,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<InviteRow>, sqlx::Error> {
        let row = sqlx::query(
            "UPDATE invites SET accepted_at = $1 WHERE token_hash = $2 AND accepted_at IS NULL AND expires_at > $1 \
             RETURNING tenant_id, email, role, expires_at",
        )
        .bind(now)
        .bind(token_hash)
        .fetch_optional(&mut **tx)
        .await?;
        row.map(|row| {
            let role: String = row.try_get("role")?;
            Ok(InviteRow {
                tenant_id: row.try_get("tenant_id")?,
                email: row.try_get("email")?,
                role: Role::parse(&role).map_err(|e| sqlx::Error::Decode(e.to_string().into()))?,
                expires_at: row.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    /// The tenant's users as `(id, email, role)`, by e-mail.
    pub async fn user_list(&self, tenant_id: &str) -> Result<Vec<(String, String, String)>, sqlx::Error> {
        let rows = sqlx::query("SELECT id, email, role FROM users WHERE tenant_id = $1 ORDER BY email")
            .bind(tenant_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("id")?, row.try_get("email")?, row.try_get("role")?)))
            .collect()
    }

    /// Changes a user's role within the tenant; false if no such user there.
    pub async fn user_role_update(
        &self,
        tenant_id: &str,
        user_id: &str,
        role: Role,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("UPDATE users SET role = $1 WHERE id = $2 AND tenant_id = $3")
            .bind(role.as_str())
            .bind(user_id)
            .bind(tenant_id)
            .execute_write(self)
            .await?;
        self.auth.changed();
        Ok(done.rows_affected() == 1)
    }

    /// Removes a user from the tenant (their sessions go with them); false if no such user there.
    pub async fn user_delete(&self, tenant_id: &str, user_id: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM users WHERE id = $1 AND tenant_id = $2")
            .bind(user_id)
            .bind(tenant_id)
            .execute_write(self)
            .await?;
        self.auth.changed();
        Ok(done.rows_affected() == 1)
    }
}
