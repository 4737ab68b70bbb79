//! Hosts as a backend reports them: the inventory the control plane records and places onto.
//!
//! Plain data shared by every backend (the simulated zones today, host agents later) and the
//! control plane's store, so that neither has to import the other.

use crate::zone::ZoneId;
use uuid::Uuid;

/// A host as the backend reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostSpec {
    /// Stable id.
    pub id: Uuid,
    /// Human name, e.g. `lon1-h07`.
    pub name: String,
    /// The zone it is in.
    pub zone: ZoneId,
    /// Physical cores offered as vCPUs.
    pub vcpus: u32,
    /// Memory offered to VMs.
    pub memory_mib: u64,
    /// Local disk offered to VMs.
    pub disk_gib: u64,
}
