//! Latency probe samples.

use super::Store;
use sqlx::Row;

impl Store {
    /// Records one round of samples `(edge, rtt_us or None when lost)` taken at `at`.
    pub async fn probe_insert(&self, at: i64, samples: &[(String, Option<i64>)]) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        for (edge, rtt_us) in samples {
            sqlx::query(
                "INSERT INTO probe_samples (edge, at, rtt_us, lost) VALUES ($1, $2, $3, $4) ON CONFLICT (edge, at) DO NOTHING",
            )
            .bind(edge)
            .bind(at)
            .bind(*rtt_us)
            .bind(i64::from(rtt_us.is_none()))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// An edge's samples since `since`, oldest first: `(at, rtt_us or None when lost)`.
    pub async fn probe_list(&self, edge: &str, since: i64) -> Result<Vec<(i64, Option<i64>)>, sqlx::Error> {
        let rows =
            sqlx::query("SELECT at, rtt_us FROM probe_samples WHERE edge = $1 AND at >= $2 ORDER BY at")
                .bind(edge)
                .bind(since)
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("at")?, row.try_get("rtt_us")?)))
            .collect()
    }

    /// Deletes samples older than `before`.
    pub async fn probe_prune(&self, before: i64) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("DELETE FROM probe_samples WHERE at < $1")
            .bind(before)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
