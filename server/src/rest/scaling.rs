//! REST: autoscaling groups — a VM template kept between a fewest and a most members, scaled on
//! CPU or network towards a target, its decisions explained.

use super::{ApiResult, Caller, Page, Paging, body_json, ok};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use http::{HeaderMap, StatusCode};
use meridian_control::Error;
use meridian_control::scaling::ScalingGroupUpdate;
use meridian_core::scaling::{ScalingGroupCreate, ScalingGroupForm};
pub use meridian_core::view::{ScalingGroup, ScalingGroupDetail};
use serde::Deserialize;
use utoipa::ToSchema;

/// A new group.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScalingGroupNew {
    /// Its name; members are `<name>-<n>`.
    pub name: String,
    /// A built-in template's slug (e.g. `debian-12`) or one of your templates' ids.
    pub template: String,
    /// A size code from `/sizes`.
    pub size: String,
    /// Zone ids; members are spread over them.
    pub zones: Vec<String>,
    /// The fewest members (0–50).
    pub min: u32,
    /// The most members (1–50).
    pub max: u32,
    /// How many to start with (default: `min`).
    #[serde(default)]
    pub desired: Option<u32>,
    /// `cpu` (average % of the members' vCPUs) or `network` (KiB/s per member).
    pub metric: String,
    /// The value to hold the metric at.
    pub target: u32,
    /// Seconds to hold after a change (30–86400, default 180).
    #[serde(default)]
    pub cooldown_secs: Option<u32>,
    /// Seconds a new member has to boot before it counts or may be replaced (30–86400, default 300).
    #[serde(default)]
    pub grace_secs: Option<u32>,
    /// Cloud-config for every member.
    #[serde(default)]
    pub user_data: Option<String>,
    /// Every member gets a public address.
    #[serde(default)]
    pub breakout: bool,
    /// A latency budget every zone must meet: refused (422 on `zones`, with the reasons) when one
    /// is further than `max_ms` of round trip from the zone or VM named.
    #[serde(default)]
    pub latency: Option<super::compute::LatencyIn>,
}

/// A change to a group.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScalingGroupChange {
    /// The fewest members.
    pub min: u32,
    /// The most members.
    pub max: u32,
    /// The desired size now, within them.
    pub desired: u32,
    /// The target value.
    pub target: u32,
    /// Simulated zones only: the CPU % its members' load follows from now on; null for the
    /// simulator's own curve.
    #[serde(default)]
    pub simulated_cpu: Option<u32>,
}

/// Lists your scaling groups.
#[utoipa::path(get, path = "/api/v1/scaling-groups", tag = "scaling", params(Paging),
    responses((status = 200, body = Page<ScalingGroup>), (status = 401, body = super::ApiErrorBody)))]
pub async fn scaling_group_list(
    state: State<AppState>,
    Caller(ctx): Caller,
    paging: Paging,
) -> ApiResult<Page<ScalingGroup>> {
    ok(paging.page(state.control.scaling_group_list(&ctx).await?)?)
}

/// Creates a scaling group and its first members.
#[utoipa::path(post, path = "/api/v1/scaling-groups", tag = "scaling", request_body = ScalingGroupNew,
    responses((status = 201, body = ScalingGroup), (status = 422, description = "A field is wrong; nothing was created.", body = super::ApiErrorBody),
        (status = 409, description = "The name is taken.", body = super::ApiErrorBody), (status = 403, body = super::ApiErrorBody)))]
pub async fn scaling_group_create(
    state: State<AppState>,
    Caller(ctx): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<ScalingGroup> {
    let input: ScalingGroupNew = body_json(&headers, &body)?;
    let number = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_default();
    let (latency_ms, latency_of) = input
        .latency
        .as_ref()
        .map(|l| l.form_fields())
        .unwrap_or_default();
    let form = ScalingGroupForm {
        name: input.name,
        template: input.template,
        size: input.size,
        zones: input.zones,
        min: input.min.to_string(),
        max: input.max.to_string(),
        desired: number(input.desired),
        metric: input.metric,
        target: input.target.to_string(),
        cooldown_secs: number(input.cooldown_secs),
        grace_secs: number(input.grace_secs),
        user_data: input.user_data.unwrap_or_default(),
        breakout: if input.breakout {
            "on".into()
        } else {
            String::new()
        },
        latency_ms,
        latency_of,
    };
    let create = ScalingGroupCreate::parse(&form).map_err(Error::Invalid)?;
    let group = state.control.scaling_group_create(&ctx, create).await?;
    Ok((StatusCode::CREATED, axum::Json(group)))
}

/// One of your scaling groups: its members with their health, what it did and why, and what it
/// would decide now.
#[utoipa::path(get, path = "/api/v1/scaling-groups/{id}", tag = "scaling", params(("id" = String, Path, description = "Group id")),
    responses((status = 200, body = ScalingGroupDetail), (status = 404, body = super::ApiErrorBody)))]
pub async fn scaling_group_view(
    state: State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<String>,
) -> ApiResult<ScalingGroupDetail> {
    ok(state.control.scaling_group_view(&ctx, &id).await?)
}

/// Changes a group's bounds, desired size, target or simulated load; it then moves to its
/// desired size.
#[utoipa::path(put, path = "/api/v1/scaling-groups/{id}", tag = "scaling", request_body = ScalingGroupChange,
    params(("id" = String, Path, description = "Group id")),
    responses((status = 200, body = ScalingGroup), (status = 422, body = super::ApiErrorBody), (status = 404, body = super::ApiErrorBody)))]
pub async fn scaling_group_update(
    state: State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<ScalingGroup> {
    let input: ScalingGroupChange = body_json(&headers, &body)?;
    let update = ScalingGroupUpdate {
        min: input.min,
        max: input.max,
        desired: input.desired,
        target: input.target,
        simulated_cpu: input.simulated_cpu,
    };
    ok(state.control.scaling_group_update(&ctx, &id, update).await?)
}

/// Deletes a group; its members are destroyed.
#[utoipa::path(delete, path = "/api/v1/scaling-groups/{id}", tag = "scaling", params(("id" = String, Path, description = "Group id")),
    responses((status = 204, description = "Deleted; its members are being destroyed."), (status = 404, body = super::ApiErrorBody)))]
pub async fn scaling_group_delete(
    state: State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, super::ApiError> {
    state.control.scaling_group_delete(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
