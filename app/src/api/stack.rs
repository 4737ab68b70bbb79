//! Stack server functions: list, create, follow and delete multi-zone stacks.
#![expect(
    missing_docs,
    reason = "#[server] generates argument structs whose fields cannot carry doc comments"
)]

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A stack in the list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackSummary {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The template's name.
    pub template: String,
    /// `deploying`, `ready`, `failed`, `deleting`.
    pub state: String,
    /// Measured spin-up, "23.4 s", once ready.
    pub spin_up: Option<String>,
}

/// One step of one member's provisioning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepCell {
    /// `done`, `running`, `failed`, `undone` or `pending`.
    pub status: String,
    /// Seconds since the stack began when it finished, "12.3 s".
    pub at: Option<String>,
}

/// A container in a member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerRow {
    /// Name.
    pub name: String,
    /// Image.
    pub image: String,
    /// State.
    pub state: String,
}

/// One VM of a stack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRow {
    /// VM id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Zone id.
    pub zone: String,
    /// State.
    pub state: String,
    /// Private address.
    pub private_ip: Option<String>,
    /// The create steps, in order.
    pub steps: Vec<StepCell>,
    /// What it runs.
    pub containers: Vec<ContainerRow>,
}

/// A stack with its live timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StackDetail {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The template's name.
    pub template: String,
    /// State.
    pub state: String,
    /// Seconds since it began (until ready: the stopwatch).
    pub elapsed_s: f64,
    /// Measured spin-up in seconds, once ready.
    pub spin_up_s: Option<f64>,
    /// The step labels, the timeline's columns.
    pub steps: Vec<String>,
    /// Its VMs.
    pub members: Vec<MemberRow>,
    /// Whether its VMs are simulated (else real VMs on host agents' hosts).
    pub simulated: bool,
    /// The URL its clients connect with over the members' private addresses (a replica set's),
    /// once every member has one.
    pub connection: Option<String>,
}

/// The tenant's stacks.
#[server(prefix = "/fn", endpoint = "stack_list")]
pub async fn stack_list() -> Result<Vec<StackSummary>, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control.stack_list(&ctx).await?.into_iter().map(summary).collect())
}

/// Creates a stack from a template.
#[server(prefix = "/fn", endpoint = "stack_create")]
pub async fn stack_create(
    template: String,
    name: String,
    #[server(default)] latency_ms: String,
    #[server(default)] latency_of: String,
) -> Result<String, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let budget = meridian_core::placement::latency::LatencyBudget::parse(&latency_ms, &latency_of)
        .map_err(meridian_control::Error::Invalid)?;
    Ok(control
        .stack_create_within(&ctx, &template, &name, budget)
        .await?
        .id
        .to_string())
}

/// One stack with its timeline and containers.
#[server(prefix = "/fn", endpoint = "stack_view")]
pub async fn stack_view(id: String) -> Result<StackDetail, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let view = control
        .stack_view(&ctx, meridian_control::Error::id(&id)?)
        .await?;
    Ok(detail(
        view,
        meridian_control::now_ms(),
        control.driver().is_simulated(),
    ))
}

/// Deletes a stack and everything it made.
#[server(prefix = "/fn", endpoint = "stack_delete")]
pub async fn stack_delete(id: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control
        .stack_delete(&ctx, meridian_control::Error::id(&id)?)
        .await?)
}

#[cfg(feature = "ssr")]
fn seconds(ms: i64) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "milliseconds of a stopwatch")]
    let s = ms as f64 / 1000.0;
    s
}

#[cfg(feature = "ssr")]
fn template_name(slug: &str) -> String {
    meridian_core::stack::StackTemplate::find(slug).map_or_else(|| slug.to_owned(), |t| t.name.to_owned())
}

#[cfg(feature = "ssr")]
fn summary(stack: meridian_core::view::Stack) -> StackSummary {
    StackSummary {
        spin_up: stack
            .ready_at
            .map(|at| format!("{:.1} s", seconds(at - stack.created_at))),
        id: stack.id.to_string(),
        name: stack.name,
        template: template_name(&stack.template),
        state: stack.state,
    }
}

#[cfg(feature = "ssr")]
fn detail(view: meridian_control::stack::StackView, now: i64, simulated: bool) -> StackDetail {
    use meridian_core::job::JobKind;
    let stack = view.stack;
    let started = stack.created_at;
    let steps = JobKind::VmCreate.steps();
    let members = view
        .members
        .into_iter()
        .map(|member| {
            let cells = steps
                .iter()
                .map(|step| {
                    let last = member.events.iter().rev().find(|e| e.step == step.as_str());
                    StepCell {
                        status: last.map_or("pending", |e| e.status.as_str()).to_owned(),
                        at: last.map(|e| format!("{:.1} s", seconds(e.at - started))),
                    }
                })
                .collect::<Vec<_>>();
            // The step after the last one done is the one under way.
            let mut cells = cells;
            if member.vm.state == "provisioning" || member.vm.state == "pending" {
                if let Some(next) = cells.iter_mut().find(|c| c.status == "pending") {
                    next.status = "running".to_owned();
                }
            }
            MemberRow {
                id: member.vm.id.to_string(),
                name: member.vm.name,
                zone: member.vm.zone,
                state: member.vm.state,
                private_ip: member.vm.private_ip,
                steps: cells,
                containers: member
                    .containers
                    .into_iter()
                    .map(|c| ContainerRow {
                        name: c.name,
                        image: c.image,
                        state: c.state,
                    })
                    .collect(),
            }
        })
        .collect();
    StackDetail {
        connection: view.connection,
        elapsed_s: seconds(stack.ready_at.unwrap_or(now) - started),
        spin_up_s: stack.ready_at.map(|at| seconds(at - started)),
        id: stack.id.to_string(),
        name: stack.name,
        template: template_name(&stack.template),
        state: stack.state,
        steps: steps.iter().map(|s| s.label().to_owned()).collect(),
        members,
        simulated,
    }
}
