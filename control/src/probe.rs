//! Latency probes: every backbone edge is measured on a timer; the map and the latency history
//! read the samples.

use crate::store::probe::ProbeRow;
use crate::{Control, Error};
use meridian_core::backbone::BACKBONE;

/// How long samples are kept: the latency history covers the last day.
pub const PROBE_RETENTION_MS: i64 = 2 * 24 * 3_600_000;

impl Control {
    /// Probes every backbone edge once, as of `now`, and forgets samples past the retention.
    pub async fn probe_tick(&self, now: i64) -> Result<usize, Error> {
        let samples: Vec<ProbeRow> = BACKBONE
            .edges()
            .iter()
            .map(|edge| {
                let sample = self.driver.probe(edge);
                // Microseconds and parts per million as integers: the precision the readings have,
                // and no floats in the store.
                #[expect(clippy::cast_possible_truncation, reason = "an RTT in µs fits an i64 by far")]
                let rtt_us = (!sample.lost).then(|| (sample.rtt_ms * 1000.0).round() as i64);
                // Simulated readings are labelled so: a dashboard must not mistake them for the
                // network's.
                let source = if self.driver.network_is_simulated() { "simulated" } else { "measured" };
                if sample.lost {
                    metrics::counter!("meridian_backbone_probes_lost_total", "edge" => edge.key(), "source" => source).increment(1);
                } else {
                    metrics::histogram!("meridian_backbone_probe_rtt_seconds", "edge" => edge.key(), "source" => source)
                        .record(sample.rtt_ms / 1000.0);
                }
                #[expect(clippy::cast_possible_truncation, reason = "a fraction times a million")]
                let load_ppm = (self.driver.edge_load(edge, now).clamp(0.0, 1.0) * 1e6).round() as i64;
                ProbeRow {
                    edge: edge.key(),
                    rtt_us,
                    load_ppm: Some(load_ppm),
                }
            })
            .collect();
        self.store.probe_insert(now, &samples).await?;
        self.store.probe_prune(now - PROBE_RETENTION_MS).await?;
        Ok(samples.len())
    }

    /// An edge's samples since `since`: `(at, RTT in ms or None when lost)`. Backbone data is the
    /// same for every tenant, so any signed-in user may read it.
    pub async fn probe_history(
        &self,
        ctx: &crate::OpContext,
        edge: &str,
        since: i64,
    ) -> Result<Vec<(i64, Option<f64>)>, Error> {
        ctx.tenant()?;
        #[expect(clippy::cast_precision_loss, reason = "µs RTTs are far below 2^52")]
        let samples = self
            .store
            .probe_list(edge, since)
            .await?
            .into_iter()
            .map(|(at, rtt_us)| (at, rtt_us.map(|us| us as f64 / 1000.0)))
            .collect();
        Ok(samples)
    }
}
