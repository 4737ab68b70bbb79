//! Backbone map server functions: the live picture, and latency history as a chart.
#![expect(
    missing_docs,
    reason = "#[server] generates argument structs whose fields cannot carry doc comments"
)]

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// An edge's latest probe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EdgeProbe {
    /// The edge's key, e.g. "lon1-nyc1".
    pub edge: String,
    /// Round trip in ms; None when the probe was lost.
    pub rtt_ms: Option<f64>,
    /// Share of capacity in use (0–1).
    pub load: Option<f64>,
    /// `simulated`, `measured` (by host agents over a real backbone) or `implausible` (measured
    /// below the fibre limit: an error, whose figure is not drawn).
    pub source: String,
    /// Jitter in ms, when measured.
    pub jitter_ms: Option<f64>,
    /// Share of probes lost (0–1), when measured.
    pub loss: Option<f64>,
}

/// What the tenant has in a zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneUse {
    /// Zone id.
    pub zone: String,
    /// VMs there.
    pub vms: usize,
    /// Of which running.
    pub running: usize,
    /// Their names.
    pub names: Vec<String>,
    /// The tenant's subnet there.
    pub subnet: Option<String>,
}

/// The map's live data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MapData {
    /// The backbone driver, e.g. "Simulated zones".
    pub driver: String,
    /// True when the probes and loads come from the simulation.
    pub simulated: bool,
    /// Seconds since the latest probe round, if there was one.
    pub probed_ago_s: Option<i64>,
    /// The latest probe of each edge.
    pub edges: Vec<EdgeProbe>,
    /// The tenant's zones.
    pub zones: Vec<ZoneUse>,
    /// The links staff cut for maintenance, by edge key.
    pub cut: Vec<String>,
}

/// The map's live data for the signed-in tenant.
#[server(prefix = "/fn", endpoint = "map_view")]
pub async fn map_view() -> Result<MapData, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let map = control.map_view(&ctx).await?;
    let now = meridian_control::now_ms();
    Ok(MapData {
        driver: map.driver.to_owned(),
        simulated: map.simulated,
        probed_ago_s: map.probed_at.map(|at| (now - at).max(0) / 1000),
        edges: map
            .edges
            .into_iter()
            .map(|e| EdgeProbe {
                edge: e.edge,
                rtt_ms: e.rtt_ms,
                load: e.load,
                source: e.source,
                jitter_ms: e.jitter_ms,
                loss: e.loss,
            })
            .collect(),
        zones: map
            .zones
            .into_iter()
            .map(|z| ZoneUse {
                zone: z.zone,
                vms: z.vms,
                running: z.running,
                names: z.names,
                subnet: z.subnet,
            })
            .collect(),
        cut: map.cut,
    })
}

pub use meridian_core::map::{LatencyFigure, LatencyRow};

/// Latency history of an edge (`target` = "edge:lon1-nyc1") or a zone pair over its shortest
/// path (`target` = "pair:lon1-hkg1"), over the last `window` ("hour" or "day").
#[server(prefix = "/fn", endpoint = "latency_chart")]
pub async fn latency_chart(target: String, window: String) -> Result<LatencyFigure, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let now = meridian_control::now_ms();
    let (span, bucket) = crate::charts::window(&window)?;
    let since = now - span;
    let (title, samples) = match target.split_once(':') {
        Some(("edge", key)) => {
            let title = crate::charts::edge_title(key).ok_or_else(AppError::not_found)?;
            (
                title,
                control.probe_history(&ctx, &[key.to_owned()], since).await?,
            )
        }
        Some(("pair", pair)) => {
            let (from, to) = crate::charts::pair(pair).ok_or_else(AppError::not_found)?;
            let title = format!("{} → {}", from.zone().city, to.zone().city);
            (title, control.latency_pair_history(&ctx, from, to, since).await?)
        }
        _ => return Err(AppError::not_found()),
    };
    Ok(crate::charts::latency_chart(title, &samples, since, now, bucket))
}
