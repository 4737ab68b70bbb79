//! User rows. Every lookup by id is scoped to the tenant the caller already knows.

use super::audit::WriteExt;
use super::{Store, Tx};
use meridian_core::{Email, Role, TenantId, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A user as stored, with the password hash (never leaves the control plane).
#[derive(Clone, Debug)]
pub struct UserRow {
    /// The user's id.
    pub id: UserId,
    /// The tenant the user belongs to.
    pub tenant_id: TenantId,
    /// Log-in address.
    pub email: String,
    /// PHC-format argon2id hash.
    pub password_hash: String,
    /// What the user may do.
    pub role: Role,
}

const USER_COLUMNS: &str = "id, tenant_id, email, password_hash, role";

fn user_from_row(row: &AnyRow) -> Result<UserRow, sqlx::Error> {
    let decode = |column: &str, e: &dyn std::fmt::Display| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: e.to_string().into(),
    };
    let id: String = row.try_get("id")?;
    let tenant_id: String = row.try_get("tenant_id")?;
    let role: String = row.try_get("role")?;
    Ok(UserRow {
        id: id.parse().map_err(|e| decode("id", &e))?,
        tenant_id: tenant_id.parse().map_err(|e| decode("tenant_id", &e))?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        role: Role::parse(&role).map_err(|e| decode("role", &e))?,
    })
}

impl Store {
    /// Inserts a user inside the caller's transaction. A duplicate e-mail fails on the UNIQUE index.
    pub(crate) async fn user_insert(tx: &mut Tx, user: &UserRow, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO users (id, tenant_id, email, password_hash, role, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(user.id.to_string())
        .bind(user.tenant_id.to_string())
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(user.role.as_str())
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The user who logs in with this address (log-in is the one lookup not scoped to a tenant).
    pub async fn user_by_email(&self, email: &Email) -> Result<Option<UserRow>, sqlx::Error> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1");
        let row = sqlx::query(&sql)
            .bind(email.as_str())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// A user by id, whatever the tenant: used only to resolve a session to its actor.
    pub async fn user_by_id(&self, id: UserId) -> Result<Option<UserRow>, sqlx::Error> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// A user with whether their tenant is active (exists and is not suspended), in one statement:
    /// what every signed-in request needs to know who acts.
    pub async fn user_active(&self, id: UserId) -> Result<Option<(UserRow, bool)>, sqlx::Error> {
        if let Some(remembered) = self.auth.user(&id.to_string()) {
            return Ok(Some(remembered));
        }
        let epoch = self.auth.epoch();
        let row = sqlx::query(
            "SELECT u.id, u.tenant_id, u.email, u.password_hash, u.role, \
             CASE WHEN t.id IS NOT NULL AND t.suspended_at IS NULL THEN 1 ELSE 0 END AS active \
             FROM users u LEFT JOIN tenants t ON t.id = u.tenant_id WHERE u.id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await?;
        let found = row
            .as_ref()
            .map(|row| Ok::<_, sqlx::Error>((user_from_row(row)?, row.try_get::<i64, _>("active")? != 0)))
            .transpose()?;
        if let Some((user, active)) = &found {
            self.auth.user_keep(user, *active, epoch);
        }
        Ok(found)
    }

    /// Replaces a user's password hash, scoped to their tenant. Returns false if no such user.
    pub async fn user_password_update(
        &self,
        tenant_id: TenantId,
        id: UserId,
        password_hash: &str,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND tenant_id = $3")
            .bind(password_hash)
            .bind(id.to_string())
            .bind(tenant_id.to_string())
            .execute_write(self)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
