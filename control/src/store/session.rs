//! Session rows: the persisted form of tower-sessions records.

use super::Store;
use meridian_core::UserId;
use sqlx::Row;

impl Store {
    /// How many sessions have not expired at `now`.
    pub async fn session_count_live(&self, now: i64) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE expires_at > $1")
            .bind(now)
            .fetch_one(self.pool())
            .await
    }
}

impl Store {
    /// Updates a session record that still exists; false if it is gone. A session ended (logged
    /// out, ended by a password change, expired and swept) while a request that had loaded it was
    /// still running must stay ended when that request saves it: it is never written back.
    pub async fn session_update(
        &self,
        id: &str,
        user_id: Option<UserId>,
        data: &str,
        expires_at: i64,
    ) -> Result<bool, sqlx::Error> {
        self.session_write(
            "UPDATE sessions SET user_id = $2, data = $3, expires_at = $4 WHERE id = $1",
            (id, user_id, data, expires_at),
        )
        .await
    }

    /// Inserts a new session record; false if the id is already taken.
    pub async fn session_insert(
        &self,
        id: &str,
        user_id: Option<UserId>,
        data: &str,
        expires_at: i64,
    ) -> Result<bool, sqlx::Error> {
        self.session_write(
            "INSERT INTO sessions (id, user_id, data, expires_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO NOTHING",
            (id, user_id, data, expires_at),
        )
        .await
    }

    /// Runs `sql` (binding id, user, data and expiry as `$1`–`$4`) and, when it wrote the row,
    /// remembers the session; false when it wrote nothing.
    async fn session_write(
        &self,
        sql: &str,
        (id, user_id, data, expires_at): (&str, Option<UserId>, &str, i64),
    ) -> Result<bool, sqlx::Error> {
        let epoch = self.auth.epoch();
        let mut writer = self.writer().await?;
        let done = sqlx::query(sql)
            .bind(id)
            .bind(user_id.map(|u| u.to_string()))
            .bind(data)
            .bind(expires_at)
            .execute(&mut *writer)
            .await?;
        let written = done.rows_affected() == 1;
        // Remembered while the turn to write is held: two saves of one session cannot leave the
        // memory with one's data and the database with the other's.
        if written {
            self.auth.session_keep(id, data, expires_at, epoch);
        }
        drop(writer);
        Ok(written)
    }

    /// The data and expiry of a session that has not expired at `now`.
    pub async fn session_load(&self, id: &str, now: i64) -> Result<Option<(String, i64)>, sqlx::Error> {
        if let Some(remembered) = self.auth.session(id, now) {
            return Ok(Some(remembered));
        }
        let epoch = self.auth.epoch();
        let row = sqlx::query("SELECT data, expires_at FROM sessions WHERE id = $1 AND expires_at > $2")
            .bind(id)
            .bind(now)
            .fetch_optional(self.pool())
            .await?;
        let loaded: Option<(String, i64)> = row.map(|row| (row.get("data"), row.get("expires_at")));
        if let Some((data, expires_at)) = &loaded {
            self.auth.session_keep(id, data, *expires_at, epoch);
        }
        Ok(loaded)
    }

    /// Deletes one session.
    pub async fn session_delete(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id)
            .execute(&mut *self.writer().await?)
            .await?;
        self.auth.changed();
        Ok(())
    }

    /// Ends every session of a user except `keep` (the caller's own, when it should survive).
    pub async fn session_delete_for_user(
        &self,
        user_id: UserId,
        keep: Option<&str>,
    ) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
            .bind(user_id.to_string())
            .bind(keep.unwrap_or(""))
            .execute(&mut *self.writer().await?)
            .await?;
        self.auth.changed();
        Ok(done.rows_affected())
    }

    /// Deletes sessions that expired before `now`; returns how many.
    pub async fn session_delete_expired(&self, now: i64) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *self.writer().await?)
            .await?;
        self.auth.changed();
        Ok(done.rows_affected())
    }

    /// How many live sessions a user has (for tests and the settings page).
    pub async fn session_count_for_user(&self, user_id: UserId, now: i64) -> Result<i64, sqlx::Error> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM sessions WHERE user_id = $1 AND expires_at > $2")
            .bind(user_id.to_string())
            .bind(now)
            .fetch_one(self.pool())
            .await?;
        row.try_get("n")
    }
}
