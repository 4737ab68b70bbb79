//! Staff console server functions: staff log-in, tenants, read-only inspection, suspension,
//! quotas, capacity and the job queue.
#![expect(
    missing_docs,
    reason = "#[server] generates argument structs whose fields cannot carry doc comments"
)]

use crate::api::settings::AuditEntry;
use crate::error::AppError;
use leptos::prelude::*;
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

pub use meridian_core::staff::TENANT_SORTS;
pub use meridian_core::view::{TenantPage, TenantSummary as TenantLine};

/// A tenant in detail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantInfo {
    /// The summary.
    pub line: TenantLine,
    /// Users as `(e-mail, role)`.
    pub users: Vec<(String, String)>,
    /// Quota rows for people `(what, in use, limit)`, as the tenant sees them.
    pub quota: Vec<(String, String, String)>,
    /// The quota form's fields and their current values `(field name, limit)`; memory in MiB.
    pub quota_limits: Vec<(String, u64)>,
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

pub use meridian_core::view::{AgentHost, StaffJob as JobLine, ZoneCapacity};

/// The capacity page: every zone's totals and the hosts run by host agents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    /// Per zone.
    pub zones: Vec<ZoneCapacity>,
    /// The hosts host agents registered (none with the simulated zones).
    pub hosts: Vec<AgentHost>,
    /// The backbone's links, with the ones staff cut.
    pub links: Vec<meridian_core::view::BackboneLink>,
    /// Whether the VMs are simulated.
    pub simulated: bool,
    /// Whether the viewer is an admin (may drain hosts).
    pub admin: bool,
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
        inspecting: tenant.map(|(id, name)| (id.to_string(), name)),
    }))
}

/// A page of the tenants matching `q` (name, e-mail, id), with totals: ordered by `sort` (a key of
/// `TENANT_SORTS`, newest first when absent), page `page` (0 first, when absent).
#[server(prefix = "/fn", endpoint = "staff_tenants")]
pub async fn staff_tenants(
    q: String,
    sort: Option<String>,
    page: Option<u32>,
) -> Result<TenantPage, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let now = meridian_control::now_ms();
    let sort = sort.unwrap_or_else(|| TENANT_SORTS[0].0.to_owned());
    Ok(control
        .staff_tenants(&ctx, &q, &sort, page.unwrap_or(0), now)
        .await?)
}

/// One tenant in detail.
#[server(prefix = "/fn", endpoint = "staff_tenant")]
pub async fn staff_tenant(id: String) -> Result<TenantInfo, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let detail = control
        .staff_tenant_view(
            &ctx,
            meridian_control::Error::id(&id)?,
            meridian_control::now_ms(),
        )
        .await?;
    let (quota, used) = detail.quota;
    let admin = ctx.staff()?.1.can_administer();
    Ok(TenantInfo {
        admin,
        line: detail.summary,
        users: detail
            .users
            .into_iter()
            .map(|(_, email, role)| (email, role))
            .collect(),
        quota: quota.lines(&used),
        quota_limits: vec![
            ("max_vms".into(), u64::from(quota.max_vms)),
            ("max_vcpus".into(), u64::from(quota.max_vcpus)),
            ("max_memory_mib".into(), quota.max_memory_mib),
            ("max_public_ips".into(), u64::from(quota.max_public_ips)),
        ],
        audit: detail.audit,
    })
}

/// Starts a read-only inspection of a tenant, on a fresh session id.
#[server(prefix = "/fn", endpoint = "staff_inspect_start")]
pub async fn staff_inspect_start(tenant_id: String, reason: String) -> Result<(), AppError> {
    let (control, session, ctx) = crate::server::op_context().await?;
    let (staff, _) = ctx.staff()?;
    let inspecting = control
        .staff_inspect_start(&ctx, meridian_control::Error::id(&tenant_id)?, &reason)
        .await?;
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
pub async fn tenant_suspend(
    tenant_id: String,
    suspend_reason: String,
    #[server(default)] confirm_name: String,
) -> Result<u64, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let id = meridian_control::Error::id(&tenant_id)?;
    Ok(control
        .tenant_suspend(&ctx, id, &suspend_reason, &confirm_name)
        .await?)
}

/// Lifts a tenant's suspension (admins).
#[server(prefix = "/fn", endpoint = "tenant_unsuspend")]
pub async fn tenant_unsuspend(tenant_id: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control
        .tenant_unsuspend(&ctx, meridian_control::Error::id(&tenant_id)?)
        .await?)
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
    // Who may not use the console learns nothing about its forms: staff first, then the input.
    ctx.staff()?;
    let tenant_id = meridian_control::Error::id(&tenant_id)?;
    let quota = meridian_core::resource::QuotaForm {
        max_vms,
        max_vcpus,
        max_memory_mib,
        max_public_ips,
    }
    .parse()
    .map_err(meridian_control::Error::Invalid)?;
    Ok(control.staff_quota_set(&ctx, tenant_id, quota).await?)
}

/// Every zone's capacity, and the hosts of host agents.
#[server(prefix = "/fn", endpoint = "capacity_view")]
pub async fn capacity_view() -> Result<Capacity, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(Capacity {
        zones: control.capacity_view(&ctx).await?,
        hosts: control.agent_hosts_view(&ctx).await?,
        links: control.backbone_links_view(&ctx).await?,
        simulated: control.driver().is_simulated(),
        admin: ctx.staff()?.1.can_administer(),
    })
}

/// Drains a host (`draining` = "true": no new VMs there) or returns it to service (admins).
#[server(prefix = "/fn", endpoint = "staff_host_drain")]
pub async fn staff_host_drain(id: String, draining: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control
        .host_drain(&ctx, meridian_control::Error::id(&id)?, draining == "true")
        .await?)
}

/// Cuts a backbone link for maintenance (`cut` = "true") or returns it to service (admins).
#[server(prefix = "/fn", endpoint = "staff_backbone_link_set")]
pub async fn staff_backbone_link_set(edge: String, cut: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control.backbone_link_set(&ctx, &edge, cut == "true").await?)
}

/// The job queue for one filter (`live`, `failed`, `cancelled`, `all`).
#[server(prefix = "/fn", endpoint = "staff_jobs")]
pub async fn staff_jobs(state: String) -> Result<JobQueue, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let jobs = control.staff_jobs(&ctx, &state).await?;
    Ok(JobQueue {
        jobs,
        admin: ctx.staff()?.1.can_administer(),
    })
}

/// Asks for a live job to be cancelled and unwound (admins).
#[server(prefix = "/fn", endpoint = "staff_job_cancel")]
pub async fn staff_job_cancel(id: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control
        .staff_job_cancel(&ctx, meridian_control::Error::id(&id)?)
        .await?)
}

/// Runs a failed or cancelled job again (admins).
#[server(prefix = "/fn", endpoint = "staff_job_retry")]
pub async fn staff_job_retry(id: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    control
        .staff_job_retry(&ctx, meridian_control::Error::id(&id)?)
        .await?;
    Ok(())
}

/// Ends the staff session.
#[server(prefix = "/fn", endpoint = "staff_logout")]
pub async fn staff_logout() -> Result<(), AppError> {
    let session = crate::server::session().await?;
    crate::server::session_end(&session).await
}
