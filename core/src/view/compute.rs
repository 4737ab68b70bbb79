//! Views of compute: VDCs, VMs and the jobs that change them.

use crate::id::{JobId, VdcId, VmId};
use serde::{Deserialize, Serialize};

/// A VDC: the tenant's presence in one zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Vdc {
    /// Id.
    pub id: VdcId,
    /// Name.
    pub name: String,
    /// Zone id, e.g. `lon1`.
    pub zone: String,
    /// Created (Unix ms).
    pub created_at: i64,
}

/// A VDC with its VMs and its subnet of the private network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VdcDetail {
    /// The VDC.
    pub vdc: Vdc,
    /// The tenant's subnet in the VDC's zone, once a VM has an address there.
    pub subnet: Option<String>,
    /// Its VMs (not destroyed).
    pub vms: Vec<Vm>,
}

/// A VM.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Vm {
    /// Id.
    pub id: VmId,
    /// Name, also its hostname.
    pub name: String,
    /// Its VDC.
    pub vdc_id: VdcId,
    /// Zone id.
    pub zone: String,
    /// `pending`, `provisioning`, `running`, `stopped`, `destroying`, `destroyed` or `failed`.
    pub state: String,
    /// Template name.
    pub template: String,
    /// What it was created from: a built-in's slug or the tenant template's id. Only the
    /// CloudStack API shows it (as `templateid`); REST and the dashboard name the template.
    #[serde(skip)]
    pub template_id: String,
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

/// What a bulk action did to one of the VMs it named: the job it started, or why it did not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BulkOutcome {
    /// The VM.
    pub vm_id: VmId,
    /// Its name.
    pub name: String,
    /// The job doing the action on it (follow it like any other).
    pub job_id: Option<JobId>,
    /// Why the action did not start on it: a stable code (`forbidden` when its state does not
    /// allow the action, `busy` when another job holds it), for programs.
    pub error_code: Option<String>,
    /// The same for people, e.g. "The VM is already stopped.".
    pub error: Option<String>,
}

/// One step of a job and how far it got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobStep {
    /// Stored name, e.g. `boot`.
    pub step: String,
    /// What people read, e.g. `Boot`.
    pub label: String,
    /// `waiting`, `done`, `undone` or `failed`.
    pub status: String,
}

/// A job: the persisted progress of a change to a VM. Poll it until `state` is final.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Job {
    /// Id.
    pub id: JobId,
    /// `vm_create`, `vm_stop`, `vm_start`, `vm_reboot`, `vm_destroy`, `vm_resize`,
    /// `vm_breakout_open` or `vm_breakout_close`.
    pub kind: String,
    /// `queued`, `running`, `unwinding`, then finally `succeeded`, `failed` or `cancelled`.
    pub state: String,
    /// Whether the state is final.
    pub finished: bool,
    /// The VM it acts on.
    pub vm_id: VmId,
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

/// One line of a job's progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEvent {
    /// The job.
    pub job_id: JobId,
    /// Order within the job, from 1.
    pub seq: i64,
    /// When (Unix ms).
    pub at: i64,
    /// Step name (or `job`).
    pub step: String,
    /// `started`, `done`, `failed`, `undoing`, `undone`, `succeeded`, …
    pub status: String,
    /// What happened.
    pub message: String,
}

/// A VM's CPU and network over the last hour (a point a minute) or day (a point an hour), for its
/// graphs. `GET /api/v1/vms/{id}/metrics?window=hour|day`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VmMetrics {
    /// `hour` or `day`.
    pub window: String,
    /// True when the figures are the simulation's, made up; false when its host measured them.
    pub simulated: bool,
    /// Start of the window, Unix ms.
    pub from_ms: i64,
    /// End of the window (now), Unix ms.
    pub to_ms: i64,
    /// One per minute (or hour) the VM ran in the window, oldest first; none while it has not.
    pub points: Vec<VmMetricPoint>,
}

/// What a VM did over one minute or hour.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VmMetricPoint {
    /// Start of the minute or hour, Unix ms.
    pub start_ms: i64,
    /// Seconds of it the VM ran (and was measured).
    pub seconds: u32,
    /// CPU used, as thousandths of what its vCPUs could do (0–1000).
    pub cpu_permille: u32,
    /// Bytes a second it received, on average while it ran.
    pub received_bytes_per_second: u64,
    /// Bytes a second it sent.
    pub sent_bytes_per_second: u64,
}
