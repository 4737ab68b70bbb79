//! What placement chooses from: amounts of compute, hosts, and the inventory indexed by id and zone.

use super::{Placement, load_ppm};
use crate::id::{HostId, TenantId};
use crate::zone::{ZONES, ZoneId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt;
use thiserror::Error;

/// An amount of compute: what a VM needs, or what a host has. Plain numbers; the validated size
/// types convert into this at the control plane.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Resources {
    /// Virtual CPUs.
    pub vcpus: u32,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// Disk in GiB.
    pub disk_gib: u64,
}

impl Resources {
    /// Nothing at all.
    pub const ZERO: Resources = Resources::new(0, 0, 0);

    /// Builds an amount from its three parts.
    pub const fn new(vcpus: u32, memory_mib: u64, disk_gib: u64) -> Self {
        Resources {
            vcpus,
            memory_mib,
            disk_gib,
        }
    }

    /// True when every part of `self` is at most the same part of `available`.
    pub fn fits_within(self, available: Resources) -> bool {
        self.vcpus <= available.vcpus
            && self.memory_mib <= available.memory_mib
            && self.disk_gib <= available.disk_gib
    }

    /// The sum, or `None` if a part overflows.
    pub fn checked_add(self, other: Resources) -> Option<Resources> {
        Some(Resources {
            vcpus: self.vcpus.checked_add(other.vcpus)?,
            memory_mib: self.memory_mib.checked_add(other.memory_mib)?,
            disk_gib: self.disk_gib.checked_add(other.disk_gib)?,
        })
    }

    /// The difference, or `None` if any part of `other` is larger.
    pub fn checked_sub(self, other: Resources) -> Option<Resources> {
        Some(Resources {
            vcpus: self.vcpus.checked_sub(other.vcpus)?,
            memory_mib: self.memory_mib.checked_sub(other.memory_mib)?,
            disk_gib: self.disk_gib.checked_sub(other.disk_gib)?,
        })
    }

    /// The difference, each part floored at zero.
    pub fn saturating_sub(self, other: Resources) -> Resources {
        Resources {
            vcpus: self.vcpus.saturating_sub(other.vcpus),
            memory_mib: self.memory_mib.saturating_sub(other.memory_mib),
            disk_gib: self.disk_gib.saturating_sub(other.disk_gib),
        }
    }

    /// The sum, each part capped at its maximum.
    pub fn saturating_add(self, other: Resources) -> Resources {
        Resources {
            vcpus: self.vcpus.saturating_add(other.vcpus),
            memory_mib: self.memory_mib.saturating_add(other.memory_mib),
            disk_gib: self.disk_gib.saturating_add(other.disk_gib),
        }
    }
}

/// "4 vCPUs, 8 GiB memory and 80 GiB disk", as a customer would write it.
impl fmt::Display for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cpus = if self.vcpus == 1 { "vCPU" } else { "vCPUs" };
        write!(f, "{} {cpus}, ", self.vcpus)?;
        if self.memory_mib % 1024 == 0 {
            write!(f, "{} GiB memory", self.memory_mib / 1024)?;
        } else {
            write!(f, "{} MiB memory", self.memory_mib)?;
        }
        write!(f, " and {} GiB disk", self.disk_gib)
    }
}

/// A host's capacity and who is on it, as the store reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    /// The host.
    pub id: HostId,
    /// The zone it stands in.
    pub zone: ZoneId,
    /// Virtual CPUs it can run (after the operator's over-subscription ratio, if any).
    pub vcpus_total: u32,
    /// Virtual CPUs given to VMs.
    pub vcpus_used: u32,
    /// Memory it can give to VMs, in MiB.
    pub memory_mib_total: u64,
    /// Memory given to VMs, in MiB.
    pub memory_mib_used: u64,
    /// Disk it can give to VMs, in GiB.
    pub disk_gib_total: u64,
    /// Disk given to VMs, in GiB.
    pub disk_gib_used: u64,
    /// The tenant this host is reserved for, while it runs dedicated VMs of that tenant.
    pub dedicated_to: Option<TenantId>,
    /// How many of its VMs asked for a dedicated host. Dedication follows them: when the last one
    /// leaves, the host returns to the shared pool.
    pub dedicated_vms: u32,
    /// Which tenants have VMs here, and how many, so a dedicated VM never lands beside another tenant.
    pub tenants_present: BTreeMap<TenantId, u32>,
}

impl Host {
    /// An empty, shared host with the given capacity.
    pub fn empty(id: HostId, zone: ZoneId, capacity: Resources) -> Self {
        Host {
            id,
            zone,
            vcpus_total: capacity.vcpus,
            vcpus_used: 0,
            memory_mib_total: capacity.memory_mib,
            memory_mib_used: 0,
            disk_gib_total: capacity.disk_gib,
            disk_gib_used: 0,
            dedicated_to: None,
            dedicated_vms: 0,
            tenants_present: BTreeMap::new(),
        }
    }

    /// What the host can give to VMs in all.
    pub fn total(&self) -> Resources {
        Resources::new(self.vcpus_total, self.memory_mib_total, self.disk_gib_total)
    }

    /// What VMs already have.
    pub fn used(&self) -> Resources {
        Resources::new(self.vcpus_used, self.memory_mib_used, self.disk_gib_used)
    }

    /// What is left; zero where the store reports more used than total.
    pub fn free(&self) -> Resources {
        self.total().saturating_sub(self.used())
    }

    /// How busy the host is: its busiest resource's share in use, in parts per million.
    pub fn load_ppm(&self) -> u32 {
        load_ppm(self.used(), self.total())
    }

    /// True when a tenant other than `tenant` has VMs here.
    pub(super) fn has_other_tenants(&self, tenant: TenantId) -> bool {
        self.tenants_present
            .iter()
            .any(|(&other, &vms)| other != tenant && vms > 0)
    }

    fn set_used(&mut self, used: Resources) {
        self.vcpus_used = used.vcpus;
        self.memory_mib_used = used.memory_mib;
        self.disk_gib_used = used.disk_gib;
    }
}

/// The hosts placement may choose from, indexed by id and by zone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inventory {
    pub(super) hosts: Vec<Host>,
    by_id: BTreeMap<HostId, usize>,
    /// Positions in `hosts`, per zone index, so a VM only looks at hosts in its own zones.
    pub(super) by_zone: Vec<Vec<usize>>,
}

/// Why an inventory could not be built or updated.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum InventoryError {
    /// Two hosts share an id.
    #[error("Host {0} appears twice in the inventory.")]
    DuplicateHost(HostId),
    /// A placement names a host the inventory does not have.
    #[error("Host {0} is not in the inventory.")]
    UnknownHost(HostId),
    /// The host no longer has room for what the placement puts on it; place again.
    #[error("Host {0} no longer has room for this placement.")]
    WouldOvercommit(HostId),
    /// The host is now dedicated to, or shared with, another tenant; place again.
    #[error("Host {0} can no longer take this tenant's VMs.")]
    TenancyConflict(HostId),
    /// The host does not hold what the placement being released put there.
    #[error("Host {0} does not hold this placement's VMs.")]
    NotApplied(HostId),
}

/// What one placement adds to, or takes from, one host.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    size: Resources,
    vms: u32,
    dedicated: u32,
}

impl Inventory {
    /// Indexes `hosts`. Ids must be unique.
    pub fn new(hosts: Vec<Host>) -> Result<Self, InventoryError> {
        let mut by_id = BTreeMap::new();
        let mut by_zone = vec![Vec::new(); ZONES.len()];
        for (position, host) in hosts.iter().enumerate() {
            if by_id.insert(host.id, position).is_some() {
                return Err(InventoryError::DuplicateHost(host.id));
            }
            if let Some(zone) = by_zone.get_mut(host.zone.index()) {
                zone.push(position);
            }
        }
        Ok(Inventory {
            hosts,
            by_id,
            by_zone,
        })
    }

    /// Every host, in the order given to [`Inventory::new`].
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// One host by id.
    pub fn host(&self, id: HostId) -> Option<&Host> {
        self.by_id.get(&id).and_then(|&position| self.hosts.get(position))
    }

    /// The hosts of one zone.
    pub fn hosts_in(&self, zone: ZoneId) -> impl Iterator<Item = &Host> {
        self.by_zone
            .get(zone.index())
            .into_iter()
            .flatten()
            .filter_map(|&position| self.hosts.get(position))
    }

    /// Gives the hosts back, e.g. to persist them.
    pub fn into_hosts(self) -> Vec<Host> {
        self.hosts
    }

    /// Adds up what `placement` puts on each host, keyed by position.
    fn tally(&self, placement: &Placement) -> Result<BTreeMap<usize, Tally>, InventoryError> {
        let mut tallies: BTreeMap<usize, Tally> = BTreeMap::new();
        for assignment in &placement.assignments {
            let position = *self
                .by_id
                .get(&assignment.host)
                .ok_or(InventoryError::UnknownHost(assignment.host))?;
            let tally = tallies.entry(position).or_default();
            tally.size = tally
                .size
                .checked_add(assignment.size)
                .ok_or(InventoryError::WouldOvercommit(assignment.host))?;
            tally.vms += 1;
            tally.dedicated += u32::from(assignment.dedicated);
        }
        Ok(tallies)
    }

    /// Records `placement` on the hosts: capacity used, tenants present, dedication. All or nothing:
    /// if any host cannot take its share, nothing changes.
    pub fn apply(&mut self, placement: &Placement) -> Result<(), InventoryError> {
        let tenant = placement.tenant;
        let tallies = self.tally(placement)?;
        let mut new_used = Vec::with_capacity(tallies.len());
        for (&position, tally) in &tallies {
            let host = &self.hosts[position];
            let used = host
                .used()
                .checked_add(tally.size)
                .filter(|used| used.fits_within(host.total()))
                .ok_or(InventoryError::WouldOvercommit(host.id))?;
            let foreign_dedication = host.dedicated_to.is_some_and(|owner| owner != tenant);
            if foreign_dedication || (tally.dedicated > 0 && host.has_other_tenants(tenant)) {
                return Err(InventoryError::TenancyConflict(host.id));
            }
            new_used.push(used);
        }
        for ((position, tally), used) in tallies.into_iter().zip(new_used) {
            let host = &mut self.hosts[position];
            host.set_used(used);
            *host.tenants_present.entry(tenant).or_insert(0) += tally.vms;
            if tally.dedicated > 0 {
                host.dedicated_vms += tally.dedicated;
                host.dedicated_to = Some(tenant);
            }
        }
        Ok(())
    }

    /// Undoes [`Inventory::apply`] for a placement whose VMs are gone. All or nothing. A host whose
    /// last dedicated VM leaves returns to the shared pool.
    pub fn release(&mut self, placement: &Placement) -> Result<(), InventoryError> {
        let tenant = placement.tenant;
        let tallies = self.tally(placement)?;
        let mut new_used = Vec::with_capacity(tallies.len());
        for (&position, tally) in &tallies {
            let host = &self.hosts[position];
            let not_applied = InventoryError::NotApplied(host.id);
            let used = host.used().checked_sub(tally.size).ok_or(not_applied.clone())?;
            let present = host.tenants_present.get(&tenant).copied().unwrap_or(0);
            let dedication_ok = tally.dedicated == 0 || host.dedicated_to == Some(tenant);
            if present < tally.vms || host.dedicated_vms < tally.dedicated || !dedication_ok {
                return Err(not_applied);
            }
            new_used.push(used);
        }
        for ((position, tally), used) in tallies.into_iter().zip(new_used) {
            let host = &mut self.hosts[position];
            host.set_used(used);
            if let Entry::Occupied(mut entry) = host.tenants_present.entry(tenant) {
                *entry.get_mut() -= tally.vms;
                if *entry.get() == 0 {
                    entry.remove();
                }
            }
            if tally.dedicated > 0 {
                host.dedicated_vms -= tally.dedicated;
                if host.dedicated_vms == 0 {
                    host.dedicated_to = None;
                }
            }
        }
        Ok(())
    }
}
