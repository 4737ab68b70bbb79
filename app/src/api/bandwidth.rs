//! Bandwidth server functions: the month's traffic, caps and the allowance alert.
#![expect(
    missing_docs,
    reason = "#[server] generates argument structs whose fields cannot carry doc comments"
)]

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One VM's traffic this month, formatted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmTrafficRow {
    /// VM id (empty when the VM is gone).
    pub id: String,
    /// Name, or "(deleted VM)".
    pub name: String,
    /// Zone id.
    pub zone: String,
    /// Backbone bytes.
    pub backbone: u64,
    /// Internet bytes.
    pub internet: u64,
    /// Its cap, "250 Mb/s", if any.
    pub cap: Option<String>,
}

/// A rate cap, formatted, with what removing it takes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapView {
    /// "VM web-1" or "London ↔ Amsterdam".
    pub applies_to: String,
    /// "250 Mb/s".
    pub rate: String,
    /// "vm" or "pair", for removal.
    pub scope: String,
    /// The VM id or zone pair, for removal.
    pub target: String,
}

/// A price model for the same traffic elsewhere.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElsewhereRow {
    /// The model.
    pub name: String,
    /// How it charges.
    pub terms: String,
    /// Where it is published.
    pub source: String,
    /// When the figures were noted.
    pub noted: String,
    /// What this month's traffic would cost.
    pub cost: String,
}

/// The bandwidth page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BandwidthData {
    /// "2026-11".
    pub month: String,
    /// Whether the traffic was counted on real packets rather than simulated.
    pub measured: bool,
    /// Backbone bytes this month.
    pub backbone: u64,
    /// Internet bytes this month.
    pub internet: u64,
    /// The fair-use allowance in bytes.
    pub allowance: u64,
    /// Share of it used, percent.
    pub used_pct: u32,
    /// Traffic per hour or per day by zone, drawn on the server (None before any traffic).
    pub by_zone_svg: Option<String>,
    /// How long one of its columns is: "hour" or "day".
    pub by_zone_column: String,
    /// Per zone totals: `(zone, bytes)`, the chart's figures.
    pub zones: Vec<(String, u64)>,
    /// Traffic per link, drawn on the server.
    pub by_link_svg: Option<String>,
    /// Per link: `(name, bytes)`, busiest first.
    pub links: Vec<(String, u64)>,
    /// Per VM, busiest first.
    pub vms: Vec<VmTrafficRow>,
    /// The tenant's caps.
    pub caps: Vec<CapView>,
    /// The alert threshold, if set.
    pub alert_pct: Option<i64>,
    /// When the alert fired this month, "2026-11-26 14:05 UTC", if it did.
    pub alert_fired: Option<String>,
    /// What the same traffic costs elsewhere.
    pub elsewhere: Vec<ElsewhereRow>,
}

/// The month's bandwidth of the signed-in tenant.
#[server(prefix = "/fn", endpoint = "bandwidth_view")]
pub async fn bandwidth_view() -> Result<BandwidthData, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let view = control.bandwidth_view(&ctx, meridian_control::now_ms()).await?;
    Ok(data_from(view))
}

/// Sets a rate cap on a VM (`scope` = "vm", `vm_id`) or a zone pair (`scope` = "pair",
/// `zone_a`, `zone_b`), in Mb/s.
#[server(prefix = "/fn", endpoint = "bandwidth_cap_set")]
pub async fn bandwidth_cap_set(
    scope: String,
    #[server(default)] vm_id: String,
    #[server(default)] zone_a: String,
    #[server(default)] zone_b: String,
    mbps: String,
) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let (scope, mbps) = meridian_core::bandwidth::parse_cap_form(&scope, &vm_id, &zone_a, &zone_b, &mbps)
        .map_err(meridian_control::Error::Invalid)?;
    Ok(control.bandwidth_cap_set(&ctx, scope, mbps).await?)
}

/// Removes a rate cap.
#[server(prefix = "/fn", endpoint = "bandwidth_cap_remove")]
pub async fn bandwidth_cap_remove(scope: String, target: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let scope =
        meridian_core::bandwidth::CapScope::from_key(&scope, &target).ok_or_else(AppError::not_found)?;
    Ok(control.bandwidth_cap_remove(&ctx, scope).await?)
}

/// Sets the alert at `threshold` percent of the allowance, or turns it off when `threshold` is
/// "off".
#[server(prefix = "/fn", endpoint = "bandwidth_alert_set")]
pub async fn bandwidth_alert_set(threshold: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let threshold =
        meridian_core::bandwidth::parse_alert_form(&threshold).map_err(meridian_control::Error::Invalid)?;
    Ok(control.bandwidth_alert_set(&ctx, threshold).await?)
}

/// The page's view of the control plane's figures, charts drawn.
#[cfg(feature = "ssr")]
fn data_from(view: meridian_control::bandwidth::BandwidthView) -> BandwidthData {
    use meridian_core::backbone::BACKBONE;
    use meridian_core::bandwidth::CapScope;
    use meridian_core::zone::ZoneId;
    let city =
        |zone: &str| ZoneId::parse(zone).map_or_else(|_| zone.to_owned(), |z| z.zone().city.to_owned());
    let link_name = |key: &str| {
        BACKBONE.edges().iter().find(|e| e.key() == key).map_or_else(
            || key.to_owned(),
            |e| format!("{} – {}", e.a.zone().city, e.b.zone().city),
        )
    };
    let mbps = |m: i64| format!("{m} Mb/s");
    let names = &view.vm_names;
    let caps: Vec<CapView> = view
        .caps
        .iter()
        .map(|cap| CapView {
            applies_to: match CapScope::from_key(&cap.scope, &cap.target) {
                Some(CapScope::Vm(id)) => {
                    format!("VM {}", names.get(&id).map_or(id.as_str(), String::as_str))
                }
                Some(CapScope::Pair(a, b)) => format!("{} ↔ {}", a.zone().city, b.zone().city),
                None => cap.target.clone(),
            },
            rate: mbps(cap.mbps),
            scope: cap.scope.clone(),
            target: cap.target.clone(),
        })
        .collect();
    let mut zones: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for (_, zone, bytes) in &view.hourly {
        *zones.entry(zone.clone()).or_default() += bytes;
    }
    let links: Vec<(String, u64)> = view
        .edges
        .iter()
        .map(|(key, bytes)| (link_name(key), *bytes))
        .collect();
    BandwidthData {
        month: view.month.clone(),
        measured: view.measured,
        backbone: view.backbone,
        internet: view.internet,
        allowance: view.allowance,
        used_pct: view.used_pct,
        by_zone_svg: crate::charts::traffic_by_zone_svg(&view.hourly, view.column_ms),
        by_zone_column: crate::charts::traffic_column(view.column_ms).to_owned(),
        zones: zones
            .into_iter()
            .map(|(zone, bytes)| (city(&zone), bytes))
            .collect(),
        by_link_svg: crate::charts::traffic_by_link_svg(&links),
        links,
        vms: view
            .vms
            .iter()
            .map(|v| VmTrafficRow {
                id: v.name.as_ref().map_or_else(String::new, |_| v.id.clone()),
                name: v.name.clone().unwrap_or_else(|| "(deleted VM)".to_owned()),
                zone: v.zone.clone(),
                backbone: v.backbone,
                internet: v.internet,
                cap: view
                    .caps
                    .iter()
                    .find(|c| c.scope == "vm" && c.target == v.id)
                    .map(|c| mbps(c.mbps)),
            })
            .collect(),
        caps,
        alert_pct: view.alert.as_ref().map(|a| a.threshold_pct),
        alert_fired: view
            .alert
            .as_ref()
            .filter(|a| a.fired_month.as_deref() == Some(view.month.as_str()))
            .and_then(|a| a.fired_at)
            .map(meridian_core::calendar::format_utc),
        elsewhere: view
            .elsewhere
            .iter()
            .map(|(model, cost)| ElsewhereRow {
                name: model.name.to_owned(),
                terms: model.terms.split_whitespace().collect::<Vec<_>>().join(" "),
                source: model.source.to_owned(),
                noted: model.noted.to_owned(),
                cost: cost.format_cents(),
            })
            .collect(),
    }
}
