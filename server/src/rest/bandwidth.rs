//! REST: this month's traffic per VM (metered, never charged) and the rate caps.

use super::{ApiResult, Caller, body_json, ok};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use http::{HeaderMap, StatusCode};
use meridian_control::now_ms;
use meridian_core::bandwidth::{CapScope, parse_cap_form};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// This month's traffic and the caps on it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Bandwidth {
    /// `YYYY-MM` (UTC).
    pub month: String,
    /// Whether the figures were counted on real packets (at each VM's port on its host) rather
    /// than made up by the simulated zones.
    pub measured: bool,
    /// Bytes sent to your VMs in other zones, over the private backbone.
    pub backbone_bytes: u64,
    /// Bytes sent to the internet.
    pub internet_bytes: u64,
    /// Per VM, busiest first.
    pub vms: Vec<VmBandwidth>,
    /// Your rate caps.
    pub caps: Vec<Cap>,
}

/// One VM's traffic this month.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VmBandwidth {
    /// VM id.
    pub vm_id: String,
    /// Its name (none once it is deleted).
    pub name: Option<String>,
    /// Its zone.
    pub zone: String,
    /// Bytes it sent to your VMs in other zones.
    pub backbone_bytes: u64,
    /// Bytes it sent to the internet.
    pub internet_bytes: u64,
}

/// A rate cap: on one VM (everything it sends) or on a zone pair (what your VMs in each zone send
/// to the other).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Cap {
    /// `vm` or `pair`.
    pub scope: String,
    /// The VM id, or the zone pair as `ams1-lon1`.
    pub target: String,
    /// The rate, in Mb/s.
    pub mbps: i64,
}

/// A cap to set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapSet {
    /// `vm` or `pair`.
    pub scope: String,
    /// The VM, for `vm`.
    #[serde(default)]
    pub vm_id: Option<String>,
    /// One zone of the pair, for `pair`.
    #[serde(default)]
    pub zone_a: Option<String>,
    /// The other zone, for `pair`.
    #[serde(default)]
    pub zone_b: Option<String>,
    /// The rate, in Mb/s (1 to 100,000).
    pub mbps: u32,
}

/// This month's traffic per VM and your rate caps.
#[utoipa::path(get, path = "/api/v1/bandwidth", tag = "network",
    responses((status = 200, body = Bandwidth), (status = 401, body = super::ApiErrorBody)))]
pub async fn bandwidth_view(state: State<AppState>, Caller(ctx): Caller) -> ApiResult<Bandwidth> {
    let view = state.control.bandwidth_view(&ctx, now_ms()).await?;
    ok(Bandwidth {
        month: view.month,
        measured: view.measured,
        backbone_bytes: view.backbone,
        internet_bytes: view.internet,
        vms: view
            .vms
            .into_iter()
            .map(|vm| VmBandwidth {
                vm_id: vm.id,
                name: vm.name,
                zone: vm.zone,
                backbone_bytes: vm.backbone,
                internet_bytes: vm.internet,
            })
            .collect(),
        caps: view
            .caps
            .into_iter()
            .map(|cap| Cap {
                scope: cap.scope,
                target: cap.target,
                mbps: cap.mbps,
            })
            .collect(),
    })
}

/// Sets a rate cap (replacing one on the same VM or pair). Held on real packets within seconds.
#[utoipa::path(put, path = "/api/v1/bandwidth/caps", tag = "network", request_body = CapSet,
    responses((status = 200, body = Cap), (status = 422, body = super::ApiErrorBody), (status = 404, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody)))]
pub async fn cap_set(
    state: State<AppState>,
    Caller(ctx): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Cap> {
    let input: CapSet = body_json(&headers, &body)?;
    let text = |field: &Option<String>| field.clone().unwrap_or_default();
    let (scope, mbps) = parse_cap_form(
        &input.scope,
        &text(&input.vm_id),
        &text(&input.zone_a),
        &text(&input.zone_b),
        &input.mbps.to_string(),
    )
    .map_err(meridian_control::Error::Invalid)?;
    let (kind, target) = scope.key();
    state.control.bandwidth_cap_set(&ctx, scope, mbps).await?;
    ok(Cap {
        scope: kind.to_owned(),
        target,
        mbps: i64::from(mbps),
    })
}

/// Removes a rate cap.
#[utoipa::path(delete, path = "/api/v1/bandwidth/caps/{scope}/{target}", tag = "network",
    params(("scope" = String, Path, description = "`vm` or `pair`"), ("target" = String, Path, description = "The VM id, or the pair as `ams1-lon1`")),
    responses((status = 204, description = "Removed."), (status = 404, body = super::ApiErrorBody), (status = 403, body = super::ApiErrorBody)))]
pub async fn cap_remove(
    state: State<AppState>,
    Caller(ctx): Caller,
    Path((scope, target)): Path<(String, String)>,
) -> Result<StatusCode, super::ApiError> {
    let scope = CapScope::from_key(&scope, &target).ok_or(meridian_control::Error::NotFound)?;
    state.control.bandwidth_cap_remove(&ctx, scope).await?;
    Ok(StatusCode::NO_CONTENT)
}
