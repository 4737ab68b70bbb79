//! Latency probes: every backbone edge is measured on a timer; the map and the latency history
//! read the samples.

use crate::host::RegisterRefusal;
use crate::store::probe::{EdgeMeasurement, ProbeRow};
use crate::{Control, Error};
use meridian_core::agent_api::{self, ProbeReport};
use meridian_core::backbone::{BACKBONE, Cut};
use meridian_core::zone::ZoneId;
use std::collections::BTreeMap;

/// How long samples are kept: the latency history covers the last day.
pub const PROBE_RETENTION_MS: i64 = 2 * 24 * 3_600_000;
/// How recent host agents' measurement of an edge must be to stand for it in a probe round (two
/// of their rounds).
pub const MEASURED_FRESH_MS: i64 = 2 * agent_api::PROBE_EVERY_MS as i64 + 5_000;
/// The most samples one report is read for.
const MAX_SAMPLES: usize = 256;

impl Control {
    /// Probes every backbone edge once, as of `now`, and forgets samples past the retention. An
    /// edge that host agents measured within [`MEASURED_FRESH_MS`] takes their measurement,
    /// labelled measured (or implausible); the others the driver's probe, labelled simulated when
    /// the driver's network is a model.
    pub async fn probe_tick(&self, now: i64) -> Result<usize, Error> {
        let measured: BTreeMap<String, EdgeMeasurement> = self
            .store
            .edge_measurements_since(now - MEASURED_FRESH_MS)
            .await?
            .into_iter()
            .map(|m| (m.edge.clone(), m))
            .collect();
        let samples: Vec<ProbeRow> = BACKBONE
            .edges()
            .iter()
            .map(|edge| {
                #[expect(clippy::cast_possible_truncation, reason = "a fraction times a million")]
                let load_ppm = (self.driver.edge_load(edge, now).clamp(0.0, 1.0) * 1e6).round() as i64;
                if let Some(m) = measured.get(&edge.key()) {
                    return ProbeRow {
                        edge: edge.key(),
                        rtt_us: m.rtt_us,
                        load_ppm: Some(load_ppm),
                        source: m.source.clone(),
                        jitter_us: Some(m.jitter_us),
                        loss_ppm: Some(m.loss_ppm),
                    };
                }
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
                ProbeRow {
                    edge: edge.key(),
                    rtt_us,
                    load_ppm: Some(load_ppm),
                    source: source.to_owned(),
                    jitter_us: None,
                    loss_ppm: None,
                }
            })
            .collect();
        self.store.probe_insert(now, &samples).await?;
        self.store.probe_prune(now - PROBE_RETENTION_MS).await?;
        Ok(samples.len())
    }

    /// Records a host agent's probe round (presented with `token`, the host's). A sample between
    /// two zones whose shortest path is the one edge joining them is that edge's measurement; one
    /// below the edge's fibre limit is recorded as implausible (an error to show, never a fact).
    pub async fn host_probes(&self, token: &str, report: &ProbeReport) -> Result<usize, RegisterRefusal> {
        let secret = self.agent_secret.as_ref().ok_or(RegisterRefusal::NoAgents)?;
        if !agent_api::host_token_valid(secret, report.host_id, token) {
            return Err(RegisterRefusal::Unauthorized);
        }
        let hosts: BTreeMap<uuid::Uuid, String> = self
            .store
            .host_agent_list()
            .await
            .map_err(Error::from)?
            .into_iter()
            .map(|row| (row.host.id, row.host.zone))
            .collect();
        let from = hosts
            .get(&report.host_id)
            .and_then(|zone| ZoneId::parse(zone).ok())
            .ok_or_else(|| {
                RegisterRefusal::Invalid("register the host before reporting probes".to_owned())
            })?;
        let now = crate::store::now_ms();
        let mut recorded = 0;
        for sample in report.samples.iter().take(MAX_SAMPLES) {
            let Some(to) = hosts
                .get(&sample.host_id)
                .and_then(|zone| ZoneId::parse(zone).ok())
            else {
                continue;
            };
            let Some(edge) = BACKBONE.edge_between(from, to) else {
                continue;
            };
            let direct = BACKBONE
                .path(from, to, &Cut::none())
                .is_some_and(|path| path.edges == [edge.id]);
            if !direct || !sample.loss.is_finite() || !sample.jitter_ms.is_finite() {
                continue;
            }
            // The answers crossed more routers than the edge's two ends: the network took another
            // way (the edge is cut, or its routing changed) and the sample measured the detour,
            // not the edge.
            if let Some(routers) = sample.routers.filter(|routers| *routers != 2) {
                tracing::info!(edge = %edge.key(), routers, rtt_ms = ?sample.rtt_ms,
                    "a probe between the edge's zones took another way; not the edge's measurement");
                metrics::counter!("meridian_backbone_probes_rerouted_total").increment(1);
                continue;
            }
            let rtt_ms = sample.rtt_ms.filter(|ms| ms.is_finite() && *ms >= 0.0);
            let implausible = rtt_ms.is_some_and(|ms| ms < edge.fibre_limit_ms);
            if implausible {
                tracing::error!(edge = %edge.key(), rtt_ms = ?rtt_ms, fibre_limit_ms = edge.fibre_limit_ms,
                    "a measured round trip beats the fibre limit: a measurement error, not drawn as latency");
                metrics::counter!("meridian_backbone_probes_implausible_total", "edge" => edge.key())
                    .increment(1);
            }
            #[expect(
                clippy::cast_possible_truncation,
                reason = "ms to µs and fractions to ppm fit i64 by far"
            )]
            let measurement = EdgeMeasurement {
                edge: edge.key(),
                at: now,
                rtt_us: rtt_ms.map(|ms| (ms * 1000.0).round() as i64),
                jitter_us: (sample.jitter_ms.max(0.0) * 1000.0).round() as i64,
                loss_ppm: (sample.loss.clamp(0.0, 1.0) * 1e6).round() as i64,
                source: if implausible { "implausible" } else { "measured" }.to_owned(),
            };
            if let Some(ms) = rtt_ms.filter(|_| !implausible) {
                metrics::histogram!("meridian_backbone_probe_rtt_seconds", "edge" => edge.key(), "source" => "measured")
                    .record(ms / 1000.0);
            }
            self.store
                .edge_measurement_put(&measurement)
                .await
                .map_err(Error::from)?;
            recorded += 1;
        }
        Ok(recorded)
    }

    /// The samples of `edges` since `since`: `(at, RTT in ms or None when lost)`, a row per edge
    /// and round, oldest first. Backbone data is the same for every tenant, so any signed-in user
    /// may read it.
    pub async fn probe_history(
        &self,
        ctx: &crate::OpContext,
        edges: &[String],
        since: i64,
    ) -> Result<Vec<(i64, Option<f64>)>, Error> {
        ctx.tenant()?;
        #[expect(clippy::cast_precision_loss, reason = "µs RTTs are far below 2^52")]
        let samples = self
            .store
            .probe_list(edges, since)
            .await?
            .into_iter()
            .map(|(at, rtt_us)| (at, rtt_us.map(|us| us as f64 / 1000.0)))
            .collect();
        Ok(samples)
    }
}
