//! REST: VDCs, VMs and the jobs that change them.

use super::{ApiError, ApiResult, Caller, Page, Paging, body_json, idempotent, ok, to_json};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use meridian_control::store::job::JobRow;
use meridian_control::store::vdc::VdcRow;
use meridian_control::store::vm::VmRow;
use meridian_control::vm::Started;
use meridian_control::{Control, OpContext};
use meridian_core::resource::VmCreateForm;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A VDC: the tenant's presence in one zone.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Vdc {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Zone id, e.g. `lon1`.
    pub zone: String,
    /// Created (Unix ms).
    pub created_at: i64,
}

impl From<VdcRow> for Vdc {
    fn from(row: VdcRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            zone: row.zone,
            created_at: row.created_at,
        }
    }
}

/// A VDC with its VMs and its subnet of the private network.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VdcDetail {
    /// The VDC.
    pub vdc: Vdc,
    /// The tenant's subnet in the VDC's zone, once a VM has an address there.
    pub subnet: Option<String>,
    /// Its VMs (not destroyed).
    pub vms: Vec<Vm>,
}

/// A new VDC.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VdcCreate {
    /// A name, like `web-eu`.
    pub name: String,
    /// The zone, e.g. `fra1`.
    pub zone: String,
}

/// A VM.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Vm {
    /// Id.
    pub id: String,
    /// Name, also its hostname.
    pub name: String,
    /// Its VDC.
    pub vdc_id: String,
    /// Zone id.
    pub zone: String,
    /// `pending`, `provisioning`, `running`, `stopped`, `destroying`, `destroyed` or `failed`.
    pub state: String,
    /// Template name.
    pub template: String,
    /// vCPUs.
    pub vcpus: i64,
    /// Memory in MiB.
    pub memory_mib: i64,
    /// Disk in GiB.
    pub disk_gib: i64,
    /// Address on the tenant's private network.
    pub private_ip: Option<String>,
    /// Public address, with internet breakout.
    pub public_ip: Option<String>,
    /// Internet breakout chosen (the public address may still be on its way).
    pub breakout: bool,
    /// On a host that runs no other tenant's VMs.
    pub dedicated: bool,
    /// Anti-affinity group.
    pub anti_affinity_group: Option<String>,
    /// Created (Unix ms).
    pub created_at: i64,
}

impl From<VmRow> for Vm {
    fn from(row: VmRow) -> Self {
        let template = if row.template_name.is_empty() {
            row.template
        } else {
            row.template_name
        };
        Self {
            id: row.id,
            name: row.name,
            vdc_id: row.vdc_id,
            zone: row.zone,
            state: row.state,
            template,
            vcpus: row.vcpus,
            memory_mib: row.memory_mib,
            disk_gib: row.disk_gib,
            private_ip: row.private_ip,
            public_ip: row.public_ip,
            breakout: row.breakout,
            dedicated: row.dedicated,
            anti_affinity_group: row.affinity_group,
            created_at: row.created_at,
        }
    }
}

/// A new VM. Its zone is its VDC's.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VmCreate {
    /// The VDC it goes in.
    pub vdc_id: String,
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
}

/// A new size for a stopped VM.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VmResize {
    /// A size code from `/sizes`; disks only grow.
    pub size: String,
}

/// One step of a job.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobStep {
    /// Stored name, e.g. `boot`.
    pub step: String,
    /// What people read, e.g. `Boot`.
    pub label: String,
    /// `waiting`, `done`, `undone` or `failed`.
    pub status: String,
}

/// A job: the persisted progress of a change to a VM. Poll it until `state` is final.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Job {
    /// Id.
    pub id: String,
    /// `vm_create`, `vm_stop`, `vm_start`, `vm_reboot`, `vm_destroy`, `vm_resize`,
    /// `vm_breakout_open` or `vm_breakout_close`.
    pub kind: String,
    /// `queued`, `running`, `unwinding`, then finally `succeeded`, `failed` or `cancelled`.
    pub state: String,
    /// Whether the state is final.
    pub finished: bool,
    /// The VM it acts on.
    pub vm_id: String,
    /// Every step of its kind, in order, with how far it got (not in lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<JobStep>>,
    /// The step that failed.
    pub failed_step: Option<String>,
    /// What went wrong.
    pub error: Option<String>,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Finished (Unix ms).
    pub finished_at: Option<i64>,
}

/// A change accepted: the job doing it, and the VM as it is now.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Accepted {
    /// Poll this job.
    pub job: Job,
    /// The VM.
    pub vm: Vm,
}

/// A job as listed: without its steps.
fn job_summary(job: &JobRow) -> Job {
    Job {
        id: job.id.to_string(),
        kind: job.position.kind.as_str().to_owned(),
        state: job.position.state.as_str().to_owned(),
        finished: job.position.state.is_terminal(),
        vm_id: job.target_id.to_string(),
        steps: None,
        failed_step: job.failed_step.clone(),
        error: job.error.clone(),
        created_at: job.created_at,
        finished_at: job.finished_at,
    }
}

/// A job with how far each of its steps got.
async fn job_detail(control: &Control, ctx: &OpContext, id: &str) -> Result<Job, ApiError> {
    let (job, events) = control.job_progress(ctx, id).await?;
    let status = |step: &str| {
        let seen = |wanted: &str| events.iter().any(|e| e.step == step && e.status == wanted);
        if job.failed_step.as_deref() == Some(step) {
            "failed"
        } else if seen("undone") {
            "undone"
        } else if seen("done") {
            "done"
        } else {
            "waiting"
        }
    };
    let steps = job
        .position
        .kind
        .steps()
        .iter()
        .map(|s| JobStep {
            step: s.as_str().to_owned(),
            label: s.label().to_owned(),
            status: status(s.as_str()).to_owned(),
        })
        .collect();
    Ok(Job {
        steps: Some(steps),
        ..job_summary(&job)
    })
}

/// The 202 answer to a change that started a job.
async fn accepted(control: &Control, ctx: &OpContext, started: Started) -> Result<Accepted, ApiError> {
    let job = job_detail(control, ctx, &started.job_id.to_string()).await?;
    let vm = control.vm_view(ctx, &started.vm_id.to_string()).await?;
    Ok(Accepted {
        job,
        vm: Vm::from(vm),
    })
}

/// Lists your VDCs.
#[utoipa::path(get, path = "/api/v1/vdcs", tag = "vdcs", params(Paging),
    responses((status = 200, body = Page<Vdc>), (status = 401, body = super::ApiErrorBody)))]
pub async fn vdc_list(state: State<AppState>, Caller(ctx): Caller, paging: Paging) -> ApiResult<Page<Vdc>> {
    let vdcs = state.control.vdc_list(&ctx).await?;
    ok(paging.page(vdcs.into_iter().map(Vdc::from).collect())?)
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
        to_json(StatusCode::CREATED, &Vdc::from(vdc))
    };
    let (find_ctx, find_control) = (ctx.clone(), control.clone());
    let existing = move |id: uuid::Uuid| {
        let (ctx, control) = (find_ctx.clone(), find_control.clone());
        async move {
            match control.vdc_view(&ctx, &id.to_string()).await {
                Ok(vdc) => to_json(StatusCode::CREATED, &Vdc::from(vdc)).map(Some),
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
    let contents = state.control.vdc_contents(&ctx, &id).await?;
    ok(VdcDetail {
        vdc: Vdc::from(contents.vdc),
        subnet: contents.subnet,
        vms: contents.vms.into_iter().map(Vm::from).collect(),
    })
}

/// Lists your VMs (destroyed ones are gone from the list).
#[utoipa::path(get, path = "/api/v1/vms", tag = "vms", params(Paging),
    responses((status = 200, body = Page<Vm>), (status = 401, body = super::ApiErrorBody)))]
pub async fn vm_list(state: State<AppState>, Caller(ctx): Caller, paging: Paging) -> ApiResult<Page<Vm>> {
    let vms = state.control.vm_list(&ctx).await?;
    ok(paging.page(vms.into_iter().map(Vm::from).collect())?)
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
        let form = VmCreateForm {
            name: input.name,
            zone: String::new(),
            template: input.template,
            size: input.size,
            breakout: if input.breakout {
                "on".into()
            } else {
                String::new()
            },
            ssh_key_ids: input.ssh_key_ids,
            user_data: input.user_data.unwrap_or_default(),
            anti_affinity_group: input.anti_affinity_group.unwrap_or_default(),
            dedicated: if input.dedicated {
                "on".into()
            } else {
                String::new()
            },
        };
        let started = run_control
            .vm_create_from_form_as(&run_ctx, &input.vdc_id, form, id)
            .await?;
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
    ok(Vm::from(state.control.vm_view(&ctx, &id).await?))
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
    let started = state.control.vm_destroy(&ctx, &id).await?;
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
    let started = state.control.vm_start(&ctx, &id).await?;
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
    let started = state.control.vm_stop(&ctx, &id).await?;
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
    let started = state.control.vm_reboot(&ctx, &id).await?;
    started_answer(&state.control, &ctx, started).await
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
    let started = state.control.vm_resize(&ctx, &id, &input.size).await?;
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
    let started = state.control.vm_breakout_open(&ctx, &id).await?;
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
    let started = state.control.vm_breakout_close(&ctx, &id).await?;
    started_answer(&state.control, &ctx, started).await
}

/// Lists your 500 most recent jobs, newest first (paged within those 500).
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", params(Paging),
    responses((status = 200, body = Page<Job>), (status = 401, body = super::ApiErrorBody)))]
pub async fn job_list(state: State<AppState>, Caller(ctx): Caller, paging: Paging) -> ApiResult<Page<Job>> {
    let rows = state.control.job_list(&ctx, 500).await?;
    ok(paging.page(rows.iter().map(job_summary).collect())?)
}

/// One of your jobs, with how far each step got.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs", params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = Job), (status = 404, body = super::ApiErrorBody)))]
pub async fn job_view(state: State<AppState>, Caller(ctx): Caller, Path(id): Path<String>) -> ApiResult<Job> {
    ok(job_detail(&state.control, &ctx, &id).await?)
}
