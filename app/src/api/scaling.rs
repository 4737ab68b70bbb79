//! Autoscaling group server functions: list, create, follow, change and delete groups.
#![expect(
    missing_docs,
    reason = "#[server] generates argument structs whose fields cannot carry doc comments"
)]

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

pub use meridian_core::view::{ScalingEvent, ScalingGroup, ScalingGroupDetail, ScalingMember};

/// A group's page: the group, and its size over the last day charted on the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalingGroupPage {
    /// The group, its members and events.
    pub detail: ScalingGroupDetail,
    /// Its desired size over the last day as an SVG document; None before it has a history.
    pub size_svg: Option<String>,
    /// The chart in a sentence.
    pub size_summary: String,
}

/// The tenant's scaling groups.
#[server(prefix = "/fn", endpoint = "scaling_group_list")]
pub async fn scaling_group_list() -> Result<Vec<ScalingGroup>, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control.scaling_group_list(&ctx).await?)
}

/// Creates a group and its first members; returns its id.
#[server(prefix = "/fn", endpoint = "scaling_group_create")]
pub async fn scaling_group_create(
    name: String,
    template: String,
    size: String,
    #[server(default)] zones: Vec<String>,
    min: String,
    max: String,
    #[server(default)] desired: String,
    metric: String,
    target: String,
    #[server(default)] cooldown_secs: String,
    #[server(default)] grace_secs: String,
    #[server(default)] user_data: String,
    #[server(default)] breakout: String,
    #[server(default)] latency_ms: String,
    #[server(default)] latency_of: String,
) -> Result<String, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let form = meridian_core::scaling::ScalingGroupForm {
        name,
        template,
        size,
        zones,
        min,
        max,
        desired,
        metric,
        target,
        cooldown_secs,
        grace_secs,
        user_data,
        breakout,
        latency_ms,
        latency_of,
    };
    let create =
        meridian_core::scaling::ScalingGroupCreate::parse(&form).map_err(meridian_control::Error::Invalid)?;
    Ok(control.scaling_group_create(&ctx, create).await?.id)
}

/// One group with its size over the last day.
#[server(prefix = "/fn", endpoint = "scaling_group_view")]
pub async fn scaling_group_view(id: String) -> Result<ScalingGroupPage, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let detail = control.scaling_group_view(&ctx, &id).await?;
    let (size_svg, size_summary) = crate::charts::group_size_chart(&detail, meridian_control::now_ms());
    Ok(ScalingGroupPage {
        detail,
        size_svg,
        size_summary,
    })
}

/// Changes a group's bounds, desired size, target and (simulated zones) the load its members
/// follow: a CPU % or empty for the simulator's own curve.
#[server(prefix = "/fn", endpoint = "scaling_group_update")]
pub async fn scaling_group_update(
    id: String,
    min: String,
    max: String,
    desired: String,
    target: String,
    #[server(default)] simulated_cpu: String,
) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let mut fields = meridian_core::FieldErrors::default();
    let mut number = |field: &str, raw: &str| match raw.trim().parse::<u32>() {
        Ok(n) => Some(n),
        Err(_) => {
            fields.push(field, "Enter a whole number.");
            None
        }
    };
    let (min, max, desired, target) = (
        number("min", &min),
        number("max", &max),
        number("desired", &desired),
        number("target", &target),
    );
    let simulated_cpu = match simulated_cpu.trim() {
        "" => None,
        raw => number("simulated_cpu", raw),
    };
    let (Some(min), Some(max), Some(desired), Some(target)) = (min, max, desired, target) else {
        return Err(meridian_control::Error::Invalid(fields).into());
    };
    if !fields.is_empty() {
        return Err(meridian_control::Error::Invalid(fields).into());
    }
    let update = meridian_control::scaling::ScalingGroupUpdate {
        min,
        max,
        desired,
        target,
        simulated_cpu,
    };
    control.scaling_group_update(&ctx, &id, update).await?;
    Ok(())
}

/// Deletes a group; its members are destroyed.
#[server(prefix = "/fn", endpoint = "scaling_group_delete")]
pub async fn scaling_group_delete(id: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control.scaling_group_delete(&ctx, &id).await?)
}
