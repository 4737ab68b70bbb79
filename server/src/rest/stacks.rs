//! REST: stacks, many VMs over several zones made in one action (the nine-node MongoDB replica
//! set over Los Angeles, London and Berlin among them).

use super::{ApiResult, Caller, Page, Paging, body_json, ok};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use http::{HeaderMap, StatusCode};
use meridian_control::{Error, OpContext};
use meridian_core::stack::{Container, STACK_TEMPLATES};
pub use meridian_core::view::{Stack, Vm};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A stack template: what one action makes.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StackTemplate {
    /// Its slug, to create with.
    pub slug: String,
    /// Its name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Zones and how many VMs each gets.
    pub zones: Vec<(String, u32)>,
    /// The size of every VM.
    pub size: String,
}

/// A new stack.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StackCreate {
    /// A template's slug from `/stack-templates`, e.g. `mongodb-9`.
    pub template: String,
    /// Its name, also the prefix of its VMs' names: lower-case letters, digits and hyphens.
    pub name: String,
    /// A latency budget every zone of the stack must meet: refused (422 on `latency_ms`, with the
    /// reasons) when one is further than `max_ms` of round trip from the zone or VM named.
    #[serde(default)]
    pub latency: Option<super::compute::LatencyIn>,
}

/// One VM of a stack and what runs in it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StackMember {
    /// The VM.
    pub vm: Vm,
    /// Its containers.
    pub containers: Vec<Container>,
}

/// A stack with its VMs.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StackDetail {
    /// The stack.
    pub stack: Stack,
    /// Its VMs.
    pub members: Vec<StackMember>,
    /// The URL clients connect with over the members' private addresses (a replica set's), once
    /// every member has one.
    pub connection: Option<String>,
}

/// Lists the stack templates.
#[utoipa::path(get, path = "/api/v1/stack-templates", tag = "stacks", params(Paging),
    responses((status = 200, body = Page<StackTemplate>), (status = 401, body = super::ApiErrorBody)))]
pub async fn stack_template_list(Caller(_ctx): Caller, paging: Paging) -> ApiResult<Page<StackTemplate>> {
    let templates = STACK_TEMPLATES
        .iter()
        .map(|t| StackTemplate {
            slug: t.slug.to_owned(),
            name: t.name.to_owned(),
            description: t.description.to_owned(),
            zones: t.zones.iter().map(|(zone, n)| ((*zone).to_owned(), *n)).collect(),
            size: t.size.to_owned(),
        })
        .collect();
    ok(paging.page(templates)?)
}

/// Lists your stacks.
#[utoipa::path(get, path = "/api/v1/stacks", tag = "stacks", params(Paging),
    responses((status = 200, body = Page<Stack>), (status = 401, body = super::ApiErrorBody)))]
pub async fn stack_list(
    state: State<AppState>,
    Caller(ctx): Caller,
    paging: Paging,
) -> ApiResult<Page<Stack>> {
    ok(paging.page(state.control.stack_list(&ctx).await?)?)
}

/// Creates a stack: its VDCs where you have none, and every VM, each on a host of its own; the
/// VMs' jobs then run side by side. Poll the stack until its state is `ready`.
#[utoipa::path(post, path = "/api/v1/stacks", tag = "stacks", request_body = StackCreate,
    responses((status = 202, body = StackDetail), (status = 422, description = "A field is wrong; nothing was created.", body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody)))]
pub async fn stack_create(
    state: State<AppState>,
    Caller(ctx): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<StackDetail> {
    let input: StackCreate = body_json(&headers, &body)?;
    let latency = match &input.latency {
        Some(latency) => {
            let (ms, of) = latency.form_fields();
            meridian_core::placement::latency::LatencyBudget::parse(&ms, &of).map_err(Error::Invalid)?
        }
        None => None,
    };
    let stack = state
        .control
        .stack_create_within(&ctx, &input.template, &input.name, latency)
        .await?;
    let detail = detail(&state, &ctx, stack.id).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(detail)))
}

/// One of your stacks with its VMs, their containers and, for a replica set, its connection string.
#[utoipa::path(get, path = "/api/v1/stacks/{id}", tag = "stacks", params(("id" = String, Path, description = "Stack id")),
    responses((status = 200, body = StackDetail), (status = 404, body = super::ApiErrorBody)))]
pub async fn stack_view(
    state: State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<String>,
) -> ApiResult<StackDetail> {
    ok(detail(&state, &ctx, Error::id(&id)?).await?)
}

/// Deletes a stack: every VM it made, then the VDCs it made. Refused (409) while it deploys.
#[utoipa::path(delete, path = "/api/v1/stacks/{id}", tag = "stacks", params(("id" = String, Path, description = "Stack id")),
    responses((status = 202, body = StackDetail), (status = 409, body = super::ApiErrorBody), (status = 404, body = super::ApiErrorBody)))]
pub async fn stack_delete(
    state: State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<String>,
) -> ApiResult<StackDetail> {
    let id = Error::id(&id)?;
    state.control.stack_delete(&ctx, id).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(detail(&state, &ctx, id).await?)))
}

async fn detail(
    state: &AppState,
    ctx: &OpContext,
    id: meridian_core::id::StackId,
) -> Result<StackDetail, super::ApiError> {
    let view = state.control.stack_view(ctx, id).await?;
    Ok(StackDetail {
        stack: view.stack,
        members: view
            .members
            .into_iter()
            .map(|m| StackMember {
                vm: m.vm,
                containers: m.containers,
            })
            .collect(),
        connection: view.connection,
    })
}
