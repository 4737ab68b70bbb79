//! Staff console server functions: staff log-in, tenants, read-only inspection, suspension,
//! quotas, capacity and the job queue.
#![expect(
    missing_docs,
    reason = "#[server] generates argument structs whose fields cannot carry doc comments"
)]

use crate::api::settings::AuditEntry;
use crate::error::AppError;
use leptos::prelude::*;
use meridian_core::pricing::Money;
use meridian_core::staff::StaffRole;
use serde::{Deserialize, Serialize};

/// The signed-in staff member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffMe {
    /// Log-in address.
    pub email: String,
    /// Support or admin.
    pub role: StaffRole,
    /// The tenant being inspected, as `(id, name)`, if any.
    pub inspecting: Option<(String, String)>,
}

/// A tenant in the staff list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantLine {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The first owner's address.
    pub owner_email: Option<String>,
    /// Signed up (Unix ms).
    pub created_at: i64,
    /// VMs not destroyed.
    pub vms: i64,
    /// Zones with a VDC.
    pub zones: i64,
    /// Spend this month so far.
    pub spend: Money,
    /// Why it is suspended, if it is.
    pub suspended: Option<String>,
}

/// A tenant in detail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantInfo {
    /// The summary.
    pub line: TenantLine,
    /// Users as `(e-mail, role)`.
    pub users: Vec<(String, String)>,
    /// Quota rows `(field name, label, in use, limit)`.
    pub quota: Vec<(String, String, u64, u64)>,
    /// The newest audit entries.
    pub audit: Vec<AuditEntry>,
    /// Whether the viewer is an admin (may suspend and change quotas).
    pub admin: bool,
}

/// The job queue as one staff member sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobQueue {
    /// The jobs, newest first.
    pub jobs: Vec<JobLine>,
    /// Whether the viewer is an admin (may cancel and retry).
    pub admin: bool,
}

/// One zone's capacity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneCapacity {
    /// Zone id.
    pub zone: String,
    /// Hosts.
    pub hosts: i64,
    /// Hosts dedicated to one tenant.
    pub dedicated_hosts: i64,
    /// `(total, used)` vCPUs.
    pub vcpus: (i64, i64),
    /// `(total, used)` MiB.
    pub memory_mib: (i64, i64),
    /// `(total, used)` GiB.
    pub disk_gib: (i64, i64),
    /// VMs on its hosts.
    pub vms: i64,
}

/// A job in the staff queue view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobLine {
    /// Job id.
    pub id: String,
    /// Created (Unix ms).
    pub created_at: i64,
    /// The tenant's name.
    pub tenant: String,
    /// The VM's id and name.
    pub vm: (String, String),
    /// Kind, e.g. `vm_create`.
    pub kind: String,
    /// State.
    pub state: String,
    /// The step it is at (live) or failed at.
    pub step: Option<String>,
    /// What went wrong.
    pub error: Option<String>,
    /// An admin asked for it to be cancelled; the worker has yet to stop it.
    pub cancel_requested: bool,
}

/// Signs a staff member in on a fresh session id (a tenant log-in on this browser ends).
#[server(prefix = "/fn", endpoint = "staff_login")]
pub async fn staff_login(email: String, password: String) -> Result<(), AppError> {
    let (control, session, ctx) = crate::server::op_context().await?;
    let device = crate::server::device_token().await;
    let (staff, device_token) = control
        .staff_login_on_device(&ctx, &email, &password, device.as_deref())
        .await?;
    crate::server::device_token_keep(&device_token);
    crate::server::session_staff_set(&session, staff.id, None).await
}

/// Who is signed in to the staff console, if anyone.
#[server(prefix = "/fn", endpoint = "staff_view")]
pub async fn staff_view() -> Result<Option<StaffMe>, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    if ctx.staff().is_err() {
        return Ok(None);
    }
    let (staff, tenant) = control.staff_inspection_view(&ctx).await?;
    Ok(Some(StaffMe {
        email: staff.email,
        role: staff.role,
        inspecting: tenant.map(|t| (t.id.to_string(), t.name)),
    }))
}

/// Tenants matching `q` (name, e-mail, id), with totals.
#[server(prefix = "/fn", endpoint = "staff_tenants")]
pub async fn staff_tenants(q: String) -> Result<Vec<TenantLine>, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let now = meridian_control::store::now_ms();
    Ok(control
        .staff_tenants(&ctx, &q, now)
        .await?
        .into_iter()
        .map(tenant_line)
        .collect())
}

#[cfg(feature = "ssr")]
fn tenant_line(t: meridian_control::staff::TenantSummary) -> TenantLine {
    TenantLine {
        id: t.row.id,
        name: t.row.name,
        owner_email: t.row.owner_email,
        created_at: t.row.created_at,
        vms: t.row.vms,
        zones: t.row.zones,
        spend: t.spend_this_month,
        suspended: t
            .row
            .suspended_at
            .map(|_| t.row.suspended_reason.unwrap_or_default()),
    }
}

/// One tenant in detail.
#[server(prefix = "/fn", endpoint = "staff_tenant")]
pub async fn staff_tenant(id: String) -> Result<TenantInfo, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let detail = control
        .staff_tenant_view(&ctx, &id, meridian_control::store::now_ms())
        .await?;
    let (quota, used) = detail.quota;
    let admin = ctx.staff()?.1.can_administer();
    Ok(TenantInfo {
        admin,
        line: tenant_line(detail.summary),
        users: detail
            .users
            .into_iter()
            .map(|(_, email, role)| (email, role))
            .collect(),
        quota: vec![
            (
                "max_vms".into(),
                "VMs".into(),
                u64::from(used.vms),
                u64::from(quota.max_vms),
            ),
            (
                "max_vcpus".into(),
                "vCPUs".into(),
                u64::from(used.vcpus),
                u64::from(quota.max_vcpus),
            ),
            (
                "max_memory_mib".into(),
                "Memory (MiB)".into(),
                used.memory_mib,
                quota.max_memory_mib,
            ),
            (
                "max_public_ips".into(),
                "Public IPv4 addresses".into(),
                u64::from(used.public_ips),
                u64::from(quota.max_public_ips),
            ),
        ],
        audit: detail.audit.into_iter().map(AuditEntry::from).collect(),
    })
}

/// Starts a read-only inspection of a tenant, on a fresh session id.
#[server(prefix = "/fn", endpoint = "staff_inspect_start")]
pub async fn staff_inspect_start(tenant_id: String, reason: String) -> Result<(), AppError> {
    let (control, session, ctx) = crate::server::op_context().await?;
    let (staff, _) = ctx.staff()?;
    let inspecting = control.staff_inspect_start(&ctx, &tenant_id, &reason).await?;
    crate::server::session_staff_set(&session, staff, Some(inspecting)).await
}

/// Ends the inspection, on a fresh session id; returns the tenant's id (back to its staff page).
#[server(prefix = "/fn", endpoint = "staff_inspect_end")]
pub async fn staff_inspect_end() -> Result<String, AppError> {
    let (control, session, ctx) = crate::server::op_context().await?;
    let (staff, _) = ctx.staff()?;
    let Some(inspecting) = crate::server::session_inspection(&session).await? else {
        return Err(AppError::not_found());
    };
    control.staff_inspect_end(&ctx, &inspecting).await?;
    crate::server::session_staff_set(&session, staff, None).await?;
    Ok(inspecting.tenant_id.to_string())
}

/// Suspends a tenant (admins).
#[server(prefix = "/fn", endpoint = "tenant_suspend")]
pub async fn tenant_suspend(tenant_id: String, suspend_reason: String) -> Result<u64, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control.tenant_suspend(&ctx, &tenant_id, &suspend_reason).await?)
}

/// Lifts a tenant's suspension (admins).
#[server(prefix = "/fn", endpoint = "tenant_unsuspend")]
pub async fn tenant_unsuspend(tenant_id: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control.tenant_unsuspend(&ctx, &tenant_id).await?)
}

/// Changes a tenant's quota (admins).
#[server(prefix = "/fn", endpoint = "staff_quota_set")]
pub async fn staff_quota_set(
    tenant_id: String,
    max_vms: String,
    max_vcpus: String,
    max_memory_mib: String,
    max_public_ips: String,
) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let form = meridian_control::staff::QuotaForm {
        max_vms,
        max_vcpus,
        max_memory_mib,
        max_public_ips,
    };
    Ok(control.staff_quota_set(&ctx, &tenant_id, &form).await?)
}

/// Every zone's capacity.
#[server(prefix = "/fn", endpoint = "capacity_view")]
pub async fn capacity_view() -> Result<Vec<ZoneCapacity>, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control
        .capacity_view(&ctx)
        .await?
        .into_iter()
        .map(|z| ZoneCapacity {
            zone: z.zone,
            hosts: z.hosts,
            dedicated_hosts: z.dedicated_hosts,
            vcpus: z.vcpus,
            memory_mib: z.memory_mib,
            disk_gib: z.disk_gib,
            vms: z.vms,
        })
        .collect())
}

/// The job queue for one filter (`live`, `failed`, `cancelled`, `all`).
#[server(prefix = "/fn", endpoint = "staff_jobs")]
pub async fn staff_jobs(state: String) -> Result<JobQueue, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let jobs = control
        .staff_jobs(&ctx, &state)
        .await?
        .into_iter()
        .map(|row| {
            let job = row.job;
            let step = match job.position.state {
                meridian_core::job::JobState::Queued | meridian_core::job::JobState::Running => job
                    .position
                    .kind
                    .steps()
                    .get(job.position.step)
                    .map(|s| s.as_str().to_owned()),
                _ => job.failed_step.clone(),
            };
            JobLine {
                id: job.id.to_string(),
                created_at: job.created_at,
                tenant: row.tenant_name.unwrap_or_default(),
                vm: (job.target_id.to_string(), row.vm_name.unwrap_or_default()),
                kind: job.position.kind.as_str().to_owned(),
                state: job.position.state.as_str().to_owned(),
                step,
                error: job.error,
                cancel_requested: row.cancel_requested_at.is_some() && !job.position.state.is_terminal(),
            }
        })
        .collect();
    Ok(JobQueue {
        jobs,
        admin: ctx.staff()?.1.can_administer(),
    })
}

/// Asks for a live job to be cancelled and unwound (admins).
#[server(prefix = "/fn", endpoint = "staff_job_cancel")]
pub async fn staff_job_cancel(id: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control.staff_job_cancel(&ctx, &id).await?)
}

/// Runs a failed or cancelled job again (admins).
#[server(prefix = "/fn", endpoint = "staff_job_retry")]
pub async fn staff_job_retry(id: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    control.staff_job_retry(&ctx, &id).await?;
    Ok(())
}

/// Ends the staff session.
#[server(prefix = "/fn", endpoint = "staff_logout")]
pub async fn staff_logout() -> Result<(), AppError> {
    let session = crate::server::session().await?;
    crate::server::session_end(&session).await
}
