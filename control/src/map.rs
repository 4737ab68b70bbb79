//! The backbone map's live data: the latest probe round of every edge, the tenant's footprint
//! zone by zone, and latency history for an edge or a zone pair.

use crate::{Control, Error, OpContext};
use meridian_core::backbone::{BACKBONE, Cut};
use meridian_core::zone::ZoneId;
use std::collections::BTreeMap;

/// An edge as last probed.
#[derive(Clone, Debug, PartialEq)]
pub struct EdgeLive {
    /// The edge's key, e.g. "lon1-nyc1".
    pub edge: String,
    /// The probe's round trip in ms; None when it was lost.
    pub rtt_ms: Option<f64>,
    /// Share of the edge's capacity in use (0–1), when recorded.
    pub load: Option<f64>,
    /// `simulated`, `measured` (by host agents over the lab's backbone) or `implausible` (measured
    /// below the fibre limit: an error, its figure not to be drawn).
    pub source: String,
    /// Jitter in ms: an agent's measurement, or over the last hour of probes.
    pub jitter_ms: Option<f64>,
    /// Share of probes lost (0–1): an agent's measurement, or over the last hour of probes.
    pub loss: Option<f64>,
}

/// What the tenant has in one zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneFootprint {
    /// Zone id text.
    pub zone: String,
    /// VMs (not destroyed).
    pub vms: usize,
    /// Of which running.
    pub running: usize,
    /// Their names, in name order.
    pub names: Vec<String>,
    /// The tenant's subnet there: the zone is part of its private network.
    pub subnet: Option<String>,
}

/// Everything the map draws that changes.
#[derive(Clone, Debug, PartialEq)]
pub struct MapView {
    /// The backbone driver's name, and whether it is a simulation (the page says so).
    pub driver: &'static str,
    /// True for the simulated zones.
    pub simulated: bool,
    /// When the latest probe round ran (Unix ms).
    pub probed_at: Option<i64>,
    /// The latest round, one per edge probed.
    pub edges: Vec<EdgeLive>,
    /// The tenant's zones (those with VMs or a subnet).
    pub zones: Vec<ZoneFootprint>,
    /// The links staff cut for maintenance, by edge key.
    pub cut: Vec<String>,
}

/// The window of probes an edge's jitter and loss are taken over when its latest round does
/// not carry them: the last hour.
const JITTER_WINDOW_MS: i64 = 3_600_000;

impl Control {
    /// The map's live data for the signed-in tenant.
    pub async fn map_view(&self, ctx: &OpContext) -> Result<MapView, Error> {
        let vms = self.vm_rows(ctx).await?;
        let subnets = self.network_subnets(ctx).await?;
        let mut zones: BTreeMap<String, ZoneFootprint> = BTreeMap::new();
        let mut entry = |zone: &str| {
            zones.entry(zone.to_owned()).or_insert_with(|| ZoneFootprint {
                zone: zone.to_owned(),
                vms: 0,
                running: 0,
                names: Vec::new(),
                subnet: None,
            });
        };
        for vm in &vms {
            entry(&vm.zone);
        }
        for (zone, _) in &subnets {
            entry(zone);
        }
        for vm in &vms {
            if let Some(footprint) = zones.get_mut(&vm.zone) {
                footprint.vms += 1;
                footprint.running += usize::from(vm.state == "running");
                footprint.names.push(vm.name.clone());
            }
        }
        for (zone, cidr) in subnets {
            if let Some(footprint) = zones.get_mut(&zone) {
                footprint.subnet = Some(cidr);
            }
        }
        let latest = self.store.probe_latest().await?;
        #[expect(
            clippy::cast_precision_loss,
            reason = "µs RTTs and ppm loads are far below 2^52"
        )]
        let edges = latest
            .as_ref()
            .map(|(_, rows)| {
                rows.iter()
                    .map(|row| EdgeLive {
                        edge: row.edge.clone(),
                        rtt_ms: row.rtt_us.map(|us| us as f64 / 1000.0),
                        load: row.load_ppm.map(|ppm| ppm as f64 / 1e6),
                        source: row.source.clone(),
                        jitter_ms: row.jitter_us.map(|us| us as f64 / 1000.0),
                        loss: row.loss_ppm.map(|ppm| ppm as f64 / 1e6),
                    })
                    .collect()
            })
            .unwrap_or_default();
        // Jitter and loss for every edge, over the last hour of probes, where a round's own
        // figures (an agent's measurement) do not give them.
        let mut edges: Vec<EdgeLive> = edges;
        let stats = self
            .store
            .probe_stats_since(crate::store::now_ms() - JITTER_WINDOW_MS)
            .await?;
        for edge in &mut edges {
            if let Some((_, probes, lost, jitter_us)) =
                stats.iter().find(|(key, ..)| key.as_str() == edge.edge)
            {
                if edge.jitter_ms.is_none() {
                    edge.jitter_ms = jitter_us.map(|us| us / 1000.0);
                }
                if edge.loss.is_none() && *probes > 0 {
                    #[expect(clippy::cast_precision_loss, reason = "probe counts are small")]
                    let loss = *lost as f64 / *probes as f64;
                    edge.loss = Some(loss);
                }
            }
        }
        Ok(MapView {
            driver: self.driver.name(),
            simulated: self.driver.network_is_simulated(),
            probed_at: latest.map(|(at, _)| at),
            edges,
            zones: zones.into_values().collect(),
            cut: self
                .store
                .backbone_cuts()
                .await?
                .into_iter()
                .map(|(edge, _)| edge)
                .collect(),
        })
    }

    /// Round trips between two zones since `since` over today's shortest path: per probe round,
    /// the sum of its edges' samples, or None when any of them was lost. Backbone data is the
    /// same for every tenant, so any signed-in user may read it.
    pub async fn latency_pair_history(
        &self,
        ctx: &OpContext,
        from: ZoneId,
        to: ZoneId,
        since: i64,
    ) -> Result<Vec<(i64, Option<f64>)>, Error> {
        ctx.tenant()?;
        let path = BACKBONE.path(from, to, &Cut::none()).ok_or(Error::NotFound)?;
        let edges = path
            .edges
            .iter()
            .map(|id| BACKBONE.edge(*id).map(|edge| edge.key()).ok_or(Error::NotFound))
            .collect::<Result<Vec<_>, _>>()?;
        let mut rounds: BTreeMap<i64, (usize, Option<f64>)> = BTreeMap::new();
        for (at, rtt) in self.probe_history(ctx, &edges, since).await? {
            let round = rounds.entry(at).or_insert((0, Some(0.0)));
            round.0 += 1;
            round.1 = match (round.1, rtt) {
                (Some(sum), Some(ms)) => Some(sum + ms),
                _ => None,
            };
        }
        // Only rounds that measured every edge of the path describe the pair.
        Ok(rounds
            .into_iter()
            .filter(|(_, (edges, _))| *edges == path.edges.len())
            .map(|(at, (_, rtt))| (at, rtt))
            .collect())
    }
}
