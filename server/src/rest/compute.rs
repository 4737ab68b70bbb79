//! REST: VDCs, VMs and the jobs that change them.

use super::{ApiError, ApiResult, Caller, Page, Paging, body_json, idempotent, ok, to_json};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use meridian_control::vm::Started;
use meridian_control::{Control, Error, OpContext};
use meridian_core::resource::VmCreateForm;
pub use meridian_core::view::{BulkOutcome, Job, Vdc, VdcDetail, Vm, VmMetrics};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A new VDC.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VdcCreate {
    /// A name, like `web-eu`.
    pub name: String,
    /// The zone, e.g. `fra1`.
    pub zone: String,
}

/// A new VM, in one of your VDCs or in a zone (or both, if they agree). In a zone where you have
/// no VDC, one named `default-<zone>` is made for it: your private network spans every zone.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VmCreate {
    /// The VDC it goes in.
    #[serde(default)]
    pub vdc_id: Option<String>,
    /// The zone it runs in, e.g. `nrt1`: your oldest VDC there, or a new one.
    #[serde(default)]
    pub zone: Option<String>,
    /// Name and hostname: lower-case letters, digits and hyphens.
    pub name: String,
    /// A built-in template's slug (e.g. `coreos-docker`) or one of your templates' ids.
    pub template: String,
    /// A size code from `/sizes`, e.g. `m`.
    pub size: String,
    /// Give it a public address (internet breakout).
    #[serde(default)]
    pub breakout: bool,
    /// Place it on a host that runs no other tenant's VMs.
    #[serde(default)]
    pub dedicated: bool,
    /// Cloud-config.
    #[serde(default)]
    pub user_data: Option<String>,
    /// Ids of your SSH keys to install.
    #[serde(default)]
    pub ssh_key_ids: Vec<String>,
    /// An anti-affinity group: its VMs land on distinct hosts.
    #[serde(default)]
    pub anti_affinity_group: Option<String>,
    /// A latency budget its zone must meet: refused (422 on `latency_ms`, with the reason) when the
    /// zone is further than `max_ms` of round trip from the zone or VM named.
    #[serde(default)]
    pub latency: Option<LatencyIn>,
}

/// "Within `max_ms` of round trip from `from_zone`" (or from one of your VMs, `from_vm`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencyIn {
    /// The round trip allowed, in ms (0–1000).
    pub max_ms: f64,
    /// A zone, e.g. `fra1`.
    #[serde(default)]
    pub from_zone: Option<String>,
    /// One of your VMs' ids.
    #[serde(default)]
    pub from_vm: Option<String>,
}

impl LatencyIn {
    /// The form's two fields: `latency_ms` and `latency_of` (naming both a zone and a VM reads as
    /// neither, and is refused).
    pub(super) fn form_fields(&self) -> (String, String) {
        let of = match (&self.from_zone, &self.from_vm) {
            (Some(zone), None) => zone.clone(),
            (None, Some(vm)) => format!("vm:{vm}"),
            (None, None) => String::new(),
            (Some(zone), Some(vm)) => format!("{zone} and vm:{vm}"),
        };
        (self.max_ms.to_string(), of)
    }
}

/// A new size for a stopped VM.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VmResize {
    /// A size code from `/sizes`; disks only grow.
    pub size: String,
}

/// One action on many VMs.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VmBulk {
    /// `start`, `stop`, `reboot` or `destroy`.
    pub action: String,
    /// Your VMs' ids (at most 100); any that is not one of yours refuses the whole request.
    pub ids: Vec<String>,
    /// For `destroy`: the number of VMs, as a string, to confirm.
    #[serde(default)]
    pub confirm: String,
}

/// What a bulk action did: one outcome per VM, in the order asked.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BulkAnswer {
    /// How many VMs got a job.
    pub started: usize,
    /// How many were skipped, each saying why.
    pub skipped: usize,
    /// Per VM.
    pub outcomes: Vec<BulkOutcome>,
}

/// A change accepted: the job doing it, and the VM as it is now.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Accepted {
    /// Poll this job.
    pub job: Job,
    /// The VM.
    pub vm: Vm,
}

/// The 202 answer to a change that started a job.
async fn accepted(control: &Control, ctx: &OpContext, started: Started) -> Result<Accepted, ApiError> {
    let job = control.job_view(ctx, started.job_id.into()).await?;
    let vm = control.vm_view(ctx, started.vm_id.into()).await?;
    Ok(Accepted { job, vm })
}

/// Lists your VDCs.
#[utoipa::path(get, path = "/api/v1/vdcs", tag = "vdcs", params(Paging),
    responses((status = 200, body = Page<Vdc>), (status = 401, body = super::ApiErrorBody)))]
pub async fn vdc_list(state: State<AppState>, Caller(ctx): Caller, paging: Paging) -> ApiResult<Page<Vdc>> {
    let vdcs = state.control.vdc_list(&ctx).await?;
    ok(paging.page(vdcs)?)
}

/// Creates a VDC in a zone (your private network reaches it at once). Honours `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/vdcs", tag = "vdcs", request_body = VdcCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key: the same key and body give the first answer again.")),
    responses((status = 201, body = Vdc), (status = 422, description = "A field is wrong; nothing was created.", body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody)))]
pub async fn vdc_create(
    state: State<AppState>,
    Caller(ctx): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let control = state.control.clone();
    let parsed: Result<VdcCreate, ApiError> = body_json(&headers, &body);
    let (run_ctx, run_control) = (ctx.clone(), control.clone());
    let create = move |id| async move {
        let input = parsed?;
        let vdc = run_control
            .vdc_create_as(&run_ctx, &input.name, &input.zone, id)
            .await?;
        to_json(StatusCode::CREATED, &vdc)
    };
    let (find_ctx, find_control) = (ctx.clone(), control.clone());
    let existing = move |id: uuid::Uuid| {
        let (ctx, control) = (find_ctx.clone(), find_control.clone());
        async move {
            match control.vdc_view(&ctx, id.into()).await {
                Ok(vdc) => to_json(StatusCode::CREATED, &vdc).map(Some),
                Err(meridian_control::Error::NotFound) => Ok(None),
                Err(error) => Err(error.into()),
            }
        }
    };
    idempotent(
        &control,
        ctx,
        &headers,
        "POST /api/v1/vdcs",
        &body,
        create,
        existing,
    )
    .await
}

/// One of your VDCs, with its VMs and subnet.
#[utoipa::path(get, path = "/api/v1/vdcs/{id}", tag = "vdcs", params(("id" = String, Path, description = "VDC id")),
    responses((status = 200, body = VdcDetail), (status = 404, body = super::ApiErrorBody)))]
pub async fn vdc_view(
    state: State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<String>,
) -> ApiResult<VdcDetail> {
    ok(state.control.vdc_contents(&ctx, Error::id(&id)?).await?)
}

/// Lists your VMs (destroyed ones are gone from the list).
#[utoipa::path(get, path = "/api/v1/vms", tag = "vms", params(Paging),
    responses((status = 200, body = Page<Vm>), (status = 401, body = super::ApiErrorBody)))]
pub async fn vm_list(state: State<AppState>, Caller(ctx): Caller, paging: Paging) -> ApiResult<Page<Vm>> {
    let vms = state.control.vm_list(&ctx).await?;
    ok(paging.page(vms)?)
}

/// Creates a VM; answers at once with the job that builds it. Honours `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/vms", tag = "vms", request_body = VmCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key: the same key and body give the first answer again.")),
    responses((status = 202, description = "Accepted: poll the job.", body = Accepted),
        (status = 422, description = "A field is wrong; nothing was created.", body = super::ApiErrorBody),
        (status = 409, description = "The Idempotency-Key's first request is still running.", body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody)))]
pub async fn vm_create(
    state: State<AppState>,
    Caller(ctx): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let control = state.control.clone();
    let parsed: Result<VmCreate, ApiError> = body_json(&headers, &body);
    let run_ctx = ctx.clone();
    let run_control = control.clone();
    let create = move |id| async move {
        let input = parsed?;
        let (vdc_id, zone) = run_control
            .vm_create_place(&run_ctx, input.vdc_id.as_deref(), input.zone.as_deref())
            .await?;
        let (latency_ms, latency_of) = input
            .latency
            .as_ref()
            .map(LatencyIn::form_fields)
            .unwrap_or_default();
        let text = VmCreateForm {
            name: input.name,
            zone,
            latency_ms,
            latency_of,
            template: input.template,
            size: input.size,
            ssh_key_ids: input.ssh_key_ids,
            user_data: input.user_data.unwrap_or_default(),
            anti_affinity_group: input.anti_affinity_group.unwrap_or_default(),
            ..VmCreateForm::default()
        };
        let create =
            match meridian_core::resource::VmCreate::parse_with_flags(&text, input.breakout, input.dedicated)
            {
                Ok(create) => create,
                Err(errors) => {
                    return Err(run_control
                        .audit_invalid(&run_ctx, "vm.create", &text.name, errors)
                        .await
                        .into());
                }
            };
        let started = run_control.vm_create_as(&run_ctx, vdc_id, create, id).await?;
        to_json(
            StatusCode::ACCEPTED,
            &accepted(&run_control, &run_ctx, started).await?,
        )
    };
    let (find_ctx, find_control) = (ctx.clone(), control.clone());
    let existing = move |id: uuid::Uuid| {
        let (ctx, control) = (find_ctx.clone(), find_control.clone());
        async move {
            match control.vm_create_started(&ctx, id).await? {
                Some(started) => {
                    to_json(StatusCode::ACCEPTED, &accepted(&control, &ctx, started).await?).map(Some)
                }
                None => Ok(None),
            }
        }
    };
    idempotent(
        &control,
        ctx,
        &headers,
        "POST /api/v1/vms",
        &body,
        create,
        existing,
    )
    .await
}

/// One of your VMs.
#[utoipa::path(get, path = "/api/v1/vms/{id}", tag = "vms", params(("id" = String, Path, description = "VM id")),
    responses((status = 200, body = Vm), (status = 404, body = super::ApiErrorBody)))]
pub async fn vm_view(state: State<AppState>, Caller(ctx): Caller, Path(id): Path<String>) -> ApiResult<Vm> {
    ok(state.control.vm_view(&ctx, Error::id(&id)?).await?)
}

/// A VM's serial console: its last lines, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsoleOutput {
    /// The lines.
    pub lines: Vec<String>,
    /// True when the VM is simulated (its console is made up), false for a real guest's.
    pub simulated: bool,
}

/// One of your VMs' serial console output.
#[utoipa::path(get, path = "/api/v1/vms/{id}/console", tag = "vms", params(("id" = String, Path, description = "VM id")),
    responses((status = 200, body = ConsoleOutput), (status = 404, body = super::ApiErrorBody)))]
pub async fn vm_console(
    state: State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<String>,
) -> ApiResult<ConsoleOutput> {
    let lines = state.control.vm_console(&ctx, Error::id(&id)?).await?;
    ok(ConsoleOutput {
        lines,
        simulated: state.control.driver().is_simulated(),
    })
}

/// One of your VMs' CPU and network over the last `hour` (a point a minute, the default) or
/// `day` (a point an hour); simulated figures say so.
#[utoipa::path(get, path = "/api/v1/vms/{id}/metrics", tag = "vms",
    params(("id" = String, Path, description = "VM id"),
        ("window" = Option<String>, Query, description = "`hour` (default) or `day`")),
    responses((status = 200, body = VmMetrics), (status = 404, body = super::ApiErrorBody),
        (status = 422, description = "`window` is neither `hour` nor `day`.", body = super::ApiErrorBody)))]
pub async fn vm_metrics(
    state: State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<VmMetrics> {
    let window = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(name, _)| name == "window")
        .map_or_else(|| "hour".to_owned(), |(_, value)| value.into_owned());
    let window = meridian_control::vm_metrics::MetricWindow::parse(&window)?;
    ok(state.control.vm_metrics(&ctx, Error::id(&id)?, window).await?)
}

/// Answers 202 with the job `started` runs.
async fn started_answer(control: &Control, ctx: &OpContext, started: Started) -> ApiResult<Accepted> {
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(accepted(control, ctx, started).await?),
    ))
}

/// Destroys a VM with its disk and addresses.
#[utoipa::path(delete, path = "/api/v1/vms/{id}", tag = "vms", params(("id" = String, Path, description = "VM id")),
    responses((status = 202, body = Accepted), (status = 403, body = super::ApiErrorBody), (status = 404, body = super::ApiErrorBody)))]
pub async fn vm_destroy(
    state: State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<String>,
) -> ApiResult<Accepted> {
    let started = state.control.vm_destroy(&ctx, Error::id(&id)?).await?;
    started_answer(&state.control, &ctx, started).await
}

/// Starts a stopped VM.
#[utoipa::path(post, path = "/api/v1/vms/{id}/start", tag = "vms", params(("id" = String, Path, description = "VM id")),
    responses((status = 202, body = Accepted), (status = 403, body = super::ApiErrorBody), (status = 404, body = super::ApiErrorBody)))]
pub async fn vm_start(
    state: State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<String>,
) -> ApiResult<Accepted> {
    let started = state.control.vm_start(&ctx, Error::id(&id)?).await?;
    started_answer(&state.control, &ctx, started).await
}

/// Stops a running VM.
#[utoipa::path(post, path = "/api/v1/vms/{id}/stop", tag = "vms", params(("id" = String, Path, description = "VM id")),
    responses((status = 202, body = Accepted), (status = 403, body = super::ApiErrorBody), (status = 404, body = super::ApiErrorBody)))]
pub async fn vm_stop(
    state: State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<String>,
) -> ApiResult<Accepted> {
    let started = state.control.vm_stop(&ctx, Error::id(&id)?).await?;
    started_answer(&state.control, &ctx, started).await
}

/// Reboots a running VM.
#[utoipa::path(post, path = "/api/v1/vms/{id}/reboot", tag = "vms", params(("id" = String, Path, description = "VM id")),
    responses((status = 202, body = Accepted), (status = 403, body = super::ApiErrorBody), (status = 404, body = super::ApiErrorBody)))]
pub async fn vm_reboot(
    state: State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<String>,
) -> ApiResult<Accepted> {
    let started = state.control.vm_reboot(&ctx, Error::id(&id)?).await?;
    started_answer(&state.control, &ctx, started).await
}

/// Starts, stops, reboots or destroys many VMs: one job each. A VM whose state does not allow the
/// action, or that another job holds, is skipped with its reason and the others go ahead; a wrong
/// action, an id that is not yours or an unconfirmed destroy refuses the whole request.
#[utoipa::path(post, path = "/api/v1/vms/bulk", tag = "vms", request_body = VmBulk,
    responses((status = 200, body = BulkAnswer), (status = 422, body = super::ApiErrorBody), (status = 403, body = super::ApiErrorBody),
        (status = 404, description = "One of the ids is not one of your VMs; nothing was done.", body = super::ApiErrorBody)))]
pub async fn vm_bulk(
    state: State<AppState>,
    Caller(ctx): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<BulkAnswer> {
    let input: VmBulk = body_json(&headers, &body)?;
    let outcomes = state
        .control
        .vm_bulk(&ctx, &input.action, &input.ids, &input.confirm)
        .await?;
    let started = outcomes.iter().filter(|o| o.job_id.is_some()).count();
    ok(BulkAnswer {
        started,
        skipped: outcomes.len() - started,
        outcomes,
    })
}

/// Resizes a stopped VM (disks only grow).
#[utoipa::path(post, path = "/api/v1/vms/{id}/resize", tag = "vms", request_body = VmResize,
    params(("id" = String, Path, description = "VM id")),
    responses((status = 202, body = Accepted), (status = 422, body = super::ApiErrorBody), (status = 403, body = super::ApiErrorBody),
        (status = 404, body = super::ApiErrorBody)))]
pub async fn vm_resize(
    state: State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Accepted> {
    let input: VmResize = body_json(&headers, &body)?;
    let started = state
        .control
        .vm_resize(&ctx, Error::id(&id)?, &input.size)
        .await?;
    started_answer(&state.control, &ctx, started).await
}

/// Opens internet breakout: the VM gets a public address in its zone.
#[utoipa::path(put, path = "/api/v1/vms/{id}/breakout", tag = "vms", params(("id" = String, Path, description = "VM id")),
    responses((status = 202, body = Accepted), (status = 403, description = "Already open, the VM is busy, or outside the residency policy.", body = super::ApiErrorBody),
        (status = 404, body = super::ApiErrorBody)))]
pub async fn vm_breakout_open(
    state: State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<String>,
) -> ApiResult<Accepted> {
    let started = state.control.vm_breakout_open(&ctx, Error::id(&id)?).await?;
    started_answer(&state.control, &ctx, started).await
}

/// Closes internet breakout: the VM's public address goes; it stays on the private network.
#[utoipa::path(delete, path = "/api/v1/vms/{id}/breakout", tag = "vms", params(("id" = String, Path, description = "VM id")),
    responses((status = 202, body = Accepted), (status = 403, body = super::ApiErrorBody), (status = 404, body = super::ApiErrorBody)))]
pub async fn vm_breakout_close(
    state: State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<String>,
) -> ApiResult<Accepted> {
    let started = state.control.vm_breakout_close(&ctx, Error::id(&id)?).await?;
    started_answer(&state.control, &ctx, started).await
}

/// Lists your 500 most recent jobs, newest first (paged within those 500).
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", params(Paging),
    responses((status = 200, body = Page<Job>), (status = 401, body = super::ApiErrorBody)))]
pub async fn job_list(state: State<AppState>, Caller(ctx): Caller, paging: Paging) -> ApiResult<Page<Job>> {
    ok(paging.page(state.control.job_list(&ctx, 500).await?)?)
}

/// One of your jobs, with how far each step got.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs", params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = Job), (status = 404, body = super::ApiErrorBody)))]
pub async fn job_view(state: State<AppState>, Caller(ctx): Caller, Path(id): Path<String>) -> ApiResult<Job> {
    ok(state.control.job_view(&ctx, Error::id(&id)?).await?)
}
