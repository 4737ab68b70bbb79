//! Idempotency keys of REST creates: a claim while the first request runs, then its answer.

use super::{Store, is_unique_violation};
use sqlx::Row;

/// How long a key's answer is kept (a day, as clients retry within minutes).
pub const IDEMPOTENCY_KEEP_MS: i64 = 24 * 3600 * 1000;

/// A claim with no answer this old was abandoned (its server stopped mid-request; a create
/// answers in milliseconds): the key may be claimed again.
pub const IDEMPOTENCY_ABANDONED_MS: i64 = 5 * 60 * 1000;

/// What a key already holds when a request claims it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// Nothing: this request now holds the key and runs.
    Fresh,
    /// The answer to the first request with this key and this same request: replay it.
    Replay {
        /// Its HTTP status.
        status: u16,
        /// Its body.
        body: String,
    },
    /// The first request with this key is still running, or stopped before its answer was kept
    /// (a crash): whatever it made is found by its id.
    InFlight,
    /// The key was used for a different request.
    Mismatch,
}

impl Store {
    /// Claims the user's `key` for a request with `fingerprint`, or says what the key already
    /// holds. An answer older than [`IDEMPOTENCY_KEEP_MS`], or a claim left without one for
    /// [`IDEMPOTENCY_ABANDONED_MS`], is forgotten first.
    pub async fn idempotency_claim(
        &self,
        (tenant_id, user_id): (&str, &str),
        key: &str,
        fingerprint: &str,
        now: i64,
    ) -> Result<IdempotencyClaim, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2 \
             AND (created_at < $3 OR (status IS NULL AND created_at < $4))",
        )
        .bind(user_id)
        .bind(key)
        .bind(now - IDEMPOTENCY_KEEP_MS)
        .bind(now - IDEMPOTENCY_ABANDONED_MS)
        .execute(&mut *tx)
        .await?;
        let held = sqlx::query(
            "SELECT fingerprint, status, body FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2",
        )
        .bind(user_id)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        let claim = match held {
            Some(row) => {
                let held_fingerprint: String = row.try_get("fingerprint")?;
                let status: Option<i64> = row.try_get("status")?;
                match status {
                    _ if held_fingerprint != fingerprint => IdempotencyClaim::Mismatch,
                    None => IdempotencyClaim::InFlight,
                    Some(status) => IdempotencyClaim::Replay {
                        status: u16::try_from(status).unwrap_or(200),
                        body: row.try_get::<Option<String>, _>("body")?.unwrap_or_default(),
                    },
                }
            }
            None => {
                let inserted = sqlx::query(
                    "INSERT INTO idempotency_keys (tenant_id, user_id, idem_key, fingerprint, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(tenant_id)
                .bind(user_id)
                .bind(key)
                .bind(fingerprint)
                .bind(now)
                .execute(&mut *tx)
                .await;
                match inserted {
                    // Another server's request took it between our read and our insert.
                    Err(error) if is_unique_violation(&error) => return Ok(IdempotencyClaim::InFlight),
                    other => other?,
                };
                IdempotencyClaim::Fresh
            }
        };
        tx.commit().await?;
        Ok(claim)
    }

    /// Keeps the answer of the request that claimed the user's `key`.
    pub async fn idempotency_keep(
        &self,
        user_id: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE idempotency_keys SET status = $1, body = $2 WHERE user_id = $3 AND idem_key = $4",
        )
        .bind(i64::from(status))
        .bind(body)
        .bind(user_id)
        .bind(key)
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(())
    }

    /// Lets the user's `key` go (the request it was claimed for was refused: a retry may run).
    pub async fn idempotency_release(&self, user_id: &str, key: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2 AND status IS NULL")
            .bind(user_id)
            .bind(key)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(())
    }

    /// Forgets answers older than [`IDEMPOTENCY_KEEP_MS`]; how many.
    pub async fn idempotency_delete_expired(&self, now: i64) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(now - IDEMPOTENCY_KEEP_MS)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected())
    }
}
