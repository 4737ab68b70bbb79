//! Views for Meridian's staff: tenants with their totals, zones' capacity, the job queue.

use crate::id::{HostId, JobId, TenantId, VmId};
use crate::pricing::Money;
use serde::{Deserialize, Serialize};

/// A tenant in the staff list, with its totals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSummary {
    /// Id.
    pub id: TenantId,
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
    /// What it has spent this month so far (bandwidth is free: compute, disk and IPs).
    pub spend: Money,
    /// Why it is suspended, if it is.
    pub suspended: Option<String>,
}

/// A page of the staff list of tenants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantPage {
    /// The tenants on this page.
    pub tenants: Vec<TenantSummary>,
    /// Which page, from 0.
    pub page: u32,
    /// Whether a next page has more.
    pub more: bool,
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

/// A host run by a host agent, as staff see it on the capacity page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentHost {
    /// Id.
    pub id: HostId,
    /// Name, e.g. `lon1-lab`.
    pub name: String,
    /// Zone id.
    pub zone: String,
    /// The accelerator its agent chose (`kvm`, `tcg`).
    pub accelerator: String,
    /// Why, in the agent's words.
    pub accelerator_reason: String,
    /// The guest image it boots.
    pub image: String,
    /// Its agent's last registration (Unix ms).
    pub last_seen: i64,
    /// Whether its agent registered recently enough to take VMs; a silent host is shown as gone.
    pub answering: bool,
    /// Whether staff drained it: no new VMs are placed there.
    pub draining: bool,
    /// `(total, used)` vCPUs.
    pub vcpus: (i64, i64),
    /// `(total, used)` MiB.
    pub memory_mib: (i64, i64),
    /// `(total, used)` GiB.
    pub disk_gib: (i64, i64),
}

/// A job in the staff queue, across tenants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffJob {
    /// Job id.
    pub id: JobId,
    /// Created (Unix ms).
    pub created_at: i64,
    /// The tenant's name.
    pub tenant: String,
    /// The tenant's id, for a link to its page; None for a job of no tenant.
    pub tenant_id: Option<String>,
    /// The VM's id and name.
    pub vm: (VmId, String),
    /// How long it has run (live) or ran (ended), in ms.
    pub duration_ms: i64,
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

/// A backbone link as staff see it: cut for maintenance or in service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackboneLink {
    /// Its edge key, `lon1-nyc1`.
    pub key: String,
    /// "London – New York".
    pub name: String,
    /// When staff cut it (Unix ms), while it is cut.
    pub cut_at: Option<i64>,
    /// Tenants with VMs in two zones whose round trip changes while it is cut.
    pub tenants_affected: usize,
    /// Their VMs in those zones.
    pub vms_affected: usize,
    /// The largest change, e.g. "London – New York: 68.3 → 90.2 ms" or "… cut off".
    pub worst: Option<String>,
}
