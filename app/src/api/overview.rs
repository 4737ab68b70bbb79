//! The overview server function.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One zone's line on the overview.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneSummary {
    /// Zone id.
    pub zone: String,
    /// VDCs there.
    pub vdcs: usize,
    /// VMs per state.
    pub states: Vec<(String, usize)>,
}

/// A recent event, ready to read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// When (Unix ms).
    pub at: i64,
    /// What, e.g. "web-1 started" or "web-1: start failed: …".
    pub text: String,
}

/// The tenant at a glance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverviewData {
    /// Resources by zone.
    pub zones: Vec<ZoneSummary>,
    /// Spend this month so far, formatted.
    pub spend_month_to_date: String,
    /// Projected month-end spend, formatted.
    pub spend_projected: String,
    /// Backbone bytes this month.
    pub backbone_bytes: u64,
    /// Internet bytes this month.
    pub internet_bytes: u64,
    /// Recent activity.
    pub activity: Vec<Activity>,
}

/// The overview of the signed-in tenant.
#[server(prefix = "/fn", endpoint = "overview_view")]
pub async fn overview_view() -> Result<OverviewData, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let overview = control.overview(&ctx).await?;
    Ok(OverviewData {
        zones: overview
            .zones
            .into_iter()
            .map(|(zone, vdcs, states)| ZoneSummary {
                zone,
                vdcs,
                states: states.into_iter().collect(),
            })
            .collect(),
        spend_month_to_date: overview.spend_month_to_date.format_cents(),
        spend_projected: overview.spend_projected.format_cents(),
        backbone_bytes: overview.bandwidth_bytes.0,
        internet_bytes: overview.bandwidth_bytes.1,
        activity: overview
            .events
            .into_iter()
            .map(|(event, kind, name)| Activity {
                at: event.at,
                text: match meridian_core::job::JobKind::parse(&kind) {
                    Some(kind) if event.status != "failed" => format!("{name} {}", kind.done_phrase()),
                    _ => format!(
                        "{name}: {} failed: {}",
                        kind.trim_start_matches("vm_").replace('_', " "),
                        event.message
                    ),
                },
            })
            .collect(),
    })
}
