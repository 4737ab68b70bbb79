//! Signatures of mutating CloudStack requests already run: a replay of one is refused.

use super::Store;

impl Store {
    /// Records that `api_key_id` used the signature with this `digest`, to be remembered until
    /// `expires_at` (Unix ms). `false` if it was used before: the request is a replay. The
    /// primary key decides, so two servers receiving the same request at once run it once.
    pub async fn cloudstack_signature_claim(
        &self,
        api_key_id: &str,
        digest: &str,
        expires_at: i64,
    ) -> Result<bool, sqlx::Error> {
        let inserted = sqlx::query(
            "INSERT INTO cloudstack_signatures (api_key_id, signature, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (api_key_id, signature) DO NOTHING",
        )
        .bind(api_key_id)
        .bind(digest)
        .bind(expires_at)
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Forgets one signature (its request was refused and changed nothing).
    pub async fn cloudstack_signature_release(
        &self,
        api_key_id: &str,
        digest: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM cloudstack_signatures WHERE api_key_id = $1 AND signature = $2")
            .bind(api_key_id)
            .bind(digest)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(())
    }

    /// Forgets the signatures that expired before `now` (Unix ms): past its `expires`, a request
    /// is refused anyway. Returns how many were forgotten.
    pub async fn cloudstack_signature_delete_expired(&self, now: i64) -> Result<u64, sqlx::Error> {
        let deleted = sqlx::query("DELETE FROM cloudstack_signatures WHERE expires_at < $1")
            .bind(now)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(deleted.rows_affected())
    }
}
