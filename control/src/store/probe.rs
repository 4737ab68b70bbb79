//! Latency probe samples.

use super::{MAX_BINDS, Store, values_list};
use sqlx::Row;

/// One edge's sample of a probe round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeRow {
    /// The edge, e.g. "lon1-nyc1".
    pub edge: String,
    /// Round trip in µs; None when the probe was lost.
    pub rtt_us: Option<i64>,
    /// Load in parts per million of the edge's capacity, when recorded.
    pub load_ppm: Option<i64>,
}

impl Store {
    /// Records one round taken at `at`: per edge, the RTT in µs (None when lost) and the load in
    /// parts per million of its capacity.
    pub async fn probe_insert(&self, at: i64, samples: &[ProbeRow]) -> Result<(), sqlx::Error> {
        const COLUMNS: usize = 5;
        let mut tx = self.begin_write().await?;
        for chunk in samples.chunks(MAX_BINDS / COLUMNS) {
            let sql = format!(
                "INSERT INTO probe_samples (edge, at, rtt_us, lost, load_ppm) VALUES {} ON CONFLICT (edge, at) DO NOTHING",
                values_list(chunk.len(), COLUMNS)
            );
            let mut query = sqlx::query(&sql);
            for row in chunk {
                query = query
                    .bind(&row.edge)
                    .bind(at)
                    .bind(row.rtt_us)
                    .bind(i64::from(row.rtt_us.is_none()))
                    .bind(row.load_ppm);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await
    }

    /// The latest round of samples, whatever its age: `(at, rows)`, or None before the first.
    pub async fn probe_latest(&self) -> Result<Option<(i64, Vec<ProbeRow>)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT edge, at, rtt_us, load_ppm FROM probe_samples WHERE at = (SELECT MAX(at) FROM probe_samples)",
        )
        .fetch_all(self.pool())
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let at: i64 = first.try_get("at")?;
        let samples = rows
            .iter()
            .map(|row| {
                Ok(ProbeRow {
                    edge: row.try_get("edge")?,
                    rtt_us: row.try_get("rtt_us")?,
                    load_ppm: row.try_get("load_ppm")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(Some((at, samples)))
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
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected())
    }
}
