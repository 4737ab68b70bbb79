//! Latency probe samples.

use super::{MAX_BINDS, Marks, Store};
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
    /// `simulated`, `measured` or `implausible` (measured below the fibre limit).
    pub source: String,
    /// Jitter in µs, when measured.
    pub jitter_us: Option<i64>,
    /// Loss in parts per million of the probes, when measured.
    pub loss_ppm: Option<i64>,
}

/// Host agents' latest measurement of an edge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeMeasurement {
    /// The edge, e.g. "lon1-nyc1".
    pub edge: String,
    /// When (Unix ms).
    pub at: i64,
    /// Mean round trip in µs; None when every probe was lost.
    pub rtt_us: Option<i64>,
    /// Jitter in µs.
    pub jitter_us: i64,
    /// Loss in parts per million.
    pub loss_ppm: i64,
    /// `measured`, or `implausible` when below the edge's fibre limit.
    pub source: String,
}

impl Store {
    /// Records one round taken at `at`: per edge, the RTT in µs (None when lost) and the load in
    /// parts per million of its capacity.
    pub async fn probe_insert(&self, at: i64, samples: &[ProbeRow]) -> Result<(), sqlx::Error> {
        const COLUMNS: usize = 8;
        let mut tx = self.begin_write().await?;
        for chunk in samples.chunks(MAX_BINDS / COLUMNS) {
            let sql = format!(
                "INSERT INTO probe_samples (edge, at, rtt_us, lost, load_ppm, source, jitter_us, loss_ppm) VALUES {} \
                 ON CONFLICT (edge, at) DO NOTHING",
                Marks::of(&tx).values(1, chunk.len(), COLUMNS)
            );
            let mut query = sqlx::query(&sql);
            for row in chunk {
                query = query
                    .bind(&row.edge)
                    .bind(at)
                    .bind(row.rtt_us)
                    .bind(i64::from(row.rtt_us.is_none()))
                    .bind(row.load_ppm)
                    .bind(&row.source)
                    .bind(row.jitter_us)
                    .bind(row.loss_ppm);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await
    }

    /// The latest round of samples, whatever its age: `(at, rows)`, or None before the first.
    pub async fn probe_latest(&self) -> Result<Option<(i64, Vec<ProbeRow>)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT edge, at, rtt_us, load_ppm, source, jitter_us, loss_ppm FROM probe_samples \
             WHERE at = (SELECT MAX(at) FROM probe_samples)",
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
                    source: row.try_get("source")?,
                    jitter_us: row.try_get("jitter_us")?,
                    loss_ppm: row.try_get("loss_ppm")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(Some((at, samples)))
    }

    /// The samples of `edges` since `since`, oldest first: `(at, rtt_us or None when lost)`, a
    /// row per edge and round. (A path's edges in one statement, not one each.)
    pub async fn probe_list(
        &self,
        edges: &[String],
        since: i64,
    ) -> Result<Vec<(i64, Option<i64>)>, sqlx::Error> {
        if edges.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT at, rtt_us FROM probe_samples WHERE at >= $1 AND edge IN ({}) ORDER BY at",
            super::in_list(2, edges.len())
        );
        let mut query = sqlx::query(&sql).bind(since);
        for edge in edges {
            query = query.bind(edge);
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| Ok((row.try_get("at")?, row.try_get("rtt_us")?)))
            .collect()
    }

    /// Every edge's probes since `since`: `(edge, probes, lost, jitter in µs)`, the jitter the
    /// mean change between consecutive answered round trips (None with fewer than two).
    pub async fn probe_stats_since(
        &self,
        since: i64,
    ) -> Result<Vec<(String, i64, i64, Option<f64>)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT edge, COUNT(*) AS probes, CAST(SUM(lost) AS BIGINT) AS lost, \
             CAST(AVG(ABS(rtt_us - previous)) AS DOUBLE PRECISION) AS jitter_us FROM \
             (SELECT edge, lost, rtt_us, LAG(rtt_us) OVER (PARTITION BY edge, lost ORDER BY at) AS previous \
              FROM probe_samples WHERE at >= $1) answered \
             GROUP BY edge ORDER BY edge",
        )
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("edge")?,
                    row.try_get("probes")?,
                    row.try_get("lost")?,
                    row.try_get("jitter_us")?,
                ))
            })
            .collect()
    }

    /// Marks backbone edge `edge` cut by staff member `by` at `at` (kept if it already is).
    pub async fn backbone_cut_put(&self, edge: &str, at: i64, by: &str) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO backbone_cuts (edge, cut_at, cut_by) VALUES ($1, $2, $3) ON CONFLICT (edge) DO NOTHING")
            .bind(edge)
            .bind(at)
            .bind(by)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(())
    }

    /// Restores a cut edge; false when it was not cut.
    pub async fn backbone_cut_delete(&self, edge: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM backbone_cuts WHERE edge = $1")
            .bind(edge)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The edges staff cut, with when: `(edge, cut_at)`.
    pub async fn backbone_cuts(&self) -> Result<Vec<(String, i64)>, sqlx::Error> {
        sqlx::query_as("SELECT edge, cut_at FROM backbone_cuts ORDER BY edge")
            .fetch_all(self.pool())
            .await
    }

    /// Records host agents' latest measurement of an edge (replacing the one before).
    pub async fn edge_measurement_put(&self, m: &EdgeMeasurement) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO edge_measurements (edge, at, rtt_us, jitter_us, loss_ppm, source) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (edge) DO UPDATE SET at = excluded.at, rtt_us = excluded.rtt_us, \
             jitter_us = excluded.jitter_us, loss_ppm = excluded.loss_ppm, source = excluded.source",
        )
        .bind(&m.edge)
        .bind(m.at)
        .bind(m.rtt_us)
        .bind(m.jitter_us)
        .bind(m.loss_ppm)
        .bind(&m.source)
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(())
    }

    /// The edges' measurements taken since `since`.
    pub async fn edge_measurements_since(&self, since: i64) -> Result<Vec<EdgeMeasurement>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT edge, at, rtt_us, jitter_us, loss_ppm, source FROM edge_measurements WHERE at >= $1 ORDER BY edge",
        )
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(EdgeMeasurement {
                    edge: row.try_get("edge")?,
                    at: row.try_get("at")?,
                    rtt_us: row.try_get("rtt_us")?,
                    jitter_us: row.try_get("jitter_us")?,
                    loss_ppm: row.try_get("loss_ppm")?,
                    source: row.try_get("source")?,
                })
            })
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
