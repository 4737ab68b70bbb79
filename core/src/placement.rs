//! Placement: choosing a host for every VM of a request. Plain data in, a proposal out, no I/O.
//!
//! The caller loads the hosts of the zones involved into an [`Inventory`], calls [`place`], and
//! persists the [`Placement`] in one transaction whose CHECKs are the backstop against a racing
//! request. Placement never changes the inventory; [`Inventory::apply`] and [`Inventory::release`]
//! do, for callers (tests, the benchmark, a simulated zone) that keep an inventory in memory.
//!
//! The RNG only breaks ties between equally good hosts, so the same inventory, request and seed
//! always give the same placement.

use crate::id::{HostId, TenantId, VmId};
use crate::residency::{ResidencyPolicy, ResidencyViolation};
use crate::zone::{ZONES, ZoneId};
use rand_core::RngCore;
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt;
use std::ops::Range;
use thiserror::Error;

/// Load is measured in parts per million of a host's busiest resource: integers, so no two
/// platforms can disagree about a tie.
const FULL_PPM: u32 = 1_000_000;

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
    fn has_other_tenants(&self, tenant: TenantId) -> bool {
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

/// The busiest resource's share of `total` in use, in parts per million. A resource a host does not
/// have at all counts as full once anything uses it.
fn load_ppm(used: Resources, total: Resources) -> u32 {
    fn share(used: u64, total: u64) -> u32 {
        if total == 0 {
            return if used == 0 { 0 } else { FULL_PPM };
        }
        let ppm = u128::from(used) * u128::from(FULL_PPM) / u128::from(total);
        u32::try_from(ppm.min(u128::from(FULL_PPM))).unwrap_or(FULL_PPM)
    }
    share(used.vcpus.into(), total.vcpus.into())
        .max(share(used.memory_mib, total.memory_mib))
        .max(share(used.disk_gib, total.disk_gib))
}

/// The hosts placement may choose from, indexed by id and by zone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inventory {
    hosts: Vec<Host>,
    by_id: BTreeMap<HostId, usize>,
    /// Positions in `hosts`, per zone index, so a VM only looks at hosts in its own zones.
    by_zone: Vec<Vec<usize>>,
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

/// How to choose among the hosts a VM fits on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Least-loaded host first: spreads load and the blast radius of a host failure.
    #[default]
    Spread,
    /// Most-loaded host that still fits first: keeps whole hosts free for large or dedicated VMs.
    Pack,
}

/// How the members of an anti-affinity group spread over zones when a member may use several.
/// Members are always on distinct hosts; this adds a rule about zones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneSpread {
    /// Distinct hosts only; zones are chosen by the strategy.
    #[default]
    Off,
    /// Each member goes to an allowed zone holding the fewest members so far: all in distinct zones
    /// while there are enough, as even as possible after that.
    Balanced,
    /// Each member that may use several zones must go to a zone holding no other member, or the
    /// request fails.
    Strict,
}

/// One VM to place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmRequest {
    /// The VM.
    pub vm: VmId,
    /// Its name, for messages.
    pub name: String,
    /// What it needs.
    pub size: Resources,
    /// The zones it may run in; at least one.
    pub zones: Vec<ZoneId>,
    /// Its anti-affinity group, if any: members of one group run on distinct hosts.
    pub anti_affinity: Option<String>,
    /// True when it must run on a host holding no other tenant's VMs.
    pub dedicated: bool,
}

/// Every VM one tenant wants placed at once: all get a host, or none does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacementRequest {
    /// The tenant the VMs belong to.
    pub tenant: TenantId,
    /// The tenant's residency policy; every zone of every VM must satisfy it.
    pub residency: ResidencyPolicy,
    /// The VMs.
    pub vms: Vec<VmRequest>,
    /// How anti-affinity groups spread over zones.
    pub zone_spread: ZoneSpread,
}

/// Where one VM goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// The VM.
    pub vm: VmId,
    /// Its host.
    pub host: HostId,
    /// The host's zone.
    pub zone: ZoneId,
    /// What it takes from the host.
    pub size: Resources,
    /// True when the host becomes (or stays) dedicated to the tenant because of this VM.
    pub dedicated: bool,
}

/// A proposal: a host for every VM of a request, in request order. Nothing is reserved until the
/// caller persists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// The tenant the VMs belong to.
    pub tenant: TenantId,
    /// One per requested VM, in the request's order.
    pub assignments: Vec<Assignment>,
}

/// Why a request could not be placed. Each names the VM that failed; none places anything.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum PlacementError {
    /// A VM with no zone to run in.
    #[error("Choose at least one zone for “{name}”.")]
    NoZone {
        /// The VM.
        vm: VmId,
        /// Its name.
        name: String,
    },
    /// A VM asks for a zone the tenant's residency policy forbids.
    #[error("{violation}")]
    Residency {
        /// The VM.
        vm: VmId,
        /// The zone and the rule it breaks.
        violation: ResidencyViolation,
    },
    /// No host in the VM's zones has room for it.
    #[error("No host in {} has room for “{name}” ({size}). Choose a smaller size or another zone.",
            zone_list(.zones))]
    NoCapacity {
        /// The VM.
        vm: VmId,
        /// Its name.
        name: String,
        /// What it needs.
        size: Resources,
        /// The zones it may run in.
        zones: Vec<ZoneId>,
    },
    /// Hosts have room, but none free of other tenants' VMs.
    #[error("“{name}” needs a dedicated host, but no host in {} that is free of other customers has room \
             for {size}.", zone_list(.zones))]
    NoDedicatedHost {
        /// The VM.
        vm: VmId,
        /// Its name.
        name: String,
        /// What it needs.
        size: Resources,
        /// The zones it may run in.
        zones: Vec<ZoneId>,
    },
    /// Hosts have room, but only ones that already hold a member of the VM's group (or, with
    /// [`ZoneSpread::Strict`], only in zones that already do).
    #[error("“{name}” must run apart from the other VMs in group “{group}”, but no {} in {} has room for it.",
            if *.across_zones { "host in another zone" } else { "other host" }, zone_list(.zones))]
    AntiAffinity {
        /// The VM.
        vm: VmId,
        /// Its name.
        name: String,
        /// Its anti-affinity group.
        group: String,
        /// The zones it may run in.
        zones: Vec<ZoneId>,
        /// True when the group must also spread over zones.
        across_zones: bool,
    },
}

impl PlacementError {
    /// The VM that could not be placed.
    pub fn vm(&self) -> VmId {
        match self {
            PlacementError::NoZone { vm, .. }
            | PlacementError::Residency { vm, .. }
            | PlacementError::NoCapacity { vm, .. }
            | PlacementError::NoDedicatedHost { vm, .. }
            | PlacementError::AntiAffinity { vm, .. } => *vm,
        }
    }
}

/// "Frankfurt (fra1)", "Frankfurt (fra1) or London (lon1)", "A, B or C".
fn zone_list(zones: &[ZoneId]) -> String {
    let names: Vec<String> = zones
        .iter()
        .map(|z| format!("{} ({})", z.zone().city, z.as_str()))
        .collect();
    match names.as_slice() {
        [] => "any zone".to_owned(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// A host as one request sees it while placing: its capacity changes as VMs land on it.
#[derive(Clone, Copy, Debug)]
struct Slot {
    /// Position in the inventory.
    host: usize,
    zone: usize,
    free: Resources,
    used: Resources,
    total: Resources,
    load_ppm: u32,
    /// True when no other tenant has VMs here, so a dedicated VM may land.
    clean: bool,
}

/// An anti-affinity group's members placed so far.
#[derive(Clone, Debug)]
struct GroupState {
    slots: Vec<usize>,
    zone_counts: Vec<u32>,
}

/// Chooses a host for every VM of `request`, or says which VM cannot be placed and why.
///
/// Dedicated VMs go first (they need hosts free of other tenants), then VMs with fewer zones to
/// choose from, then larger before smaller: the usual order for greedy bin packing to fail less.
/// Group members that may choose among several zones under a [`ZoneSpread`] go last of all, so they
/// see where every pinned member went. Each VM only looks at hosts in its own zones. The result is
/// in request order.
pub fn place(
    request: &PlacementRequest,
    inventory: &Inventory,
    strategy: Strategy,
    rng: &mut impl RngCore,
) -> Result<Placement, PlacementError> {
    let tenant = request.tenant;
    let zone_count = ZONES.len();

    // Residency is a rule, not a capacity question: refuse before looking at any host.
    let mut zone_allowed: Vec<Option<bool>> = vec![None; zone_count];
    let mut needed = vec![false; zone_count];
    let mut vm_zones: Vec<Vec<usize>> = Vec::with_capacity(request.vms.len());
    for vm in &request.vms {
        if vm.zones.is_empty() {
            return Err(PlacementError::NoZone {
                vm: vm.vm,
                name: vm.name.clone(),
            });
        }
        let mut zones = Vec::with_capacity(vm.zones.len());
        for &zone in &vm.zones {
            let index = zone.index();
            let allowed = *zone_allowed[index].get_or_insert_with(|| request.residency.allows(zone));
            if !allowed {
                let violation = ResidencyViolation {
                    zone,
                    policy: request.residency.clone(),
                };
                return Err(PlacementError::Residency { vm: vm.vm, violation });
            }
            needed[index] = true;
            zones.push(index);
        }
        zones.sort_unstable();
        zones.dedup();
        vm_zones.push(zones);
    }

    // This request's view of the hosts in the zones it uses, grouped by zone.
    let mut slots: Vec<Slot> = Vec::new();
    let mut zone_slots: Vec<Range<usize>> = vec![0..0; zone_count];
    for (zone, positions) in inventory.by_zone.iter().enumerate() {
        if !needed[zone] {
            continue;
        }
        let start = slots.len();
        for &position in positions {
            let host = &inventory.hosts[position];
            // A host dedicated to another tenant does not exist as far as this tenant is concerned.
            if host.dedicated_to.is_some_and(|owner| owner != tenant) {
                continue;
            }
            slots.push(Slot {
                host: position,
                zone,
                free: host.free(),
                used: host.used(),
                total: host.total(),
                load_ppm: host.load_ppm(),
                clean: !host.has_other_tenants(tenant),
            });
        }
        zone_slots[zone] = start..slots.len();
    }

    let mut group_index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut groups: Vec<GroupState> = Vec::new();
    let vm_group: Vec<Option<usize>> = request
        .vms
        .iter()
        .map(|vm| {
            vm.anti_affinity.as_deref().map(|name| {
                *group_index.entry(name).or_insert_with(|| {
                    groups.push(GroupState {
                        slots: Vec::new(),
                        zone_counts: vec![0; zone_count],
                    });
                    groups.len() - 1
                })
            })
        })
        .collect();

    let mut order: Vec<usize> = (0..request.vms.len()).collect();
    order.sort_by_key(|&i| {
        let vm = &request.vms[i];
        let size = (vm.size.memory_mib, vm.size.vcpus, vm.size.disk_gib);
        // A group member free to choose its zone goes after the pinned ones, so it can avoid them.
        let spreads =
            request.zone_spread != ZoneSpread::Off && vm_group[i].is_some() && vm_zones[i].len() > 1;
        (spreads, Reverse(vm.dedicated), vm_zones[i].len(), Reverse(size))
    });

    let mut chosen: Vec<usize> = vec![usize::MAX; request.vms.len()];
    let mut ties: Vec<usize> = Vec::new();
    let mut tier: Vec<usize> = Vec::new();
    for &i in &order {
        let vm = &request.vms[i];
        let zones = &vm_zones[i];
        let group = vm_group[i];
        let search = Search {
            slots: &slots,
            zone_slots: &zone_slots,
            size: vm.size,
            dedicated: vm.dedicated,
        };
        let avoid: &[usize] = group.map_or(&[], |g| groups[g].slots.as_slice());
        let found = match group {
            Some(g) if request.zone_spread != ZoneSpread::Off && zones.len() > 1 => {
                // Try the zones holding the fewest members first; Strict only allows empty ones.
                let counts = &groups[g].zone_counts;
                let mut levels: Vec<u32> = zones.iter().map(|&z| counts[z]).collect();
                levels.sort_unstable();
                levels.dedup();
                if request.zone_spread == ZoneSpread::Strict {
                    levels.retain(|&level| level == 0);
                }
                let mut found = None;
                for level in levels {
                    tier.clear();
                    tier.extend(zones.iter().copied().filter(|&z| counts[z] == level));
                    found = search.best(&tier, avoid, strategy, &mut ties, rng);
                    if found.is_some() {
                        break;
                    }
                }
                found
            }
            _ => search.best(zones, avoid, strategy, &mut ties, rng),
        };
        let Some(s) = found else {
            return Err(search.diagnose(vm, zones, request.zone_spread));
        };

        let slot = &mut slots[s];
        slot.free = slot.free.saturating_sub(vm.size);
        slot.used = slot.used.saturating_add(vm.size);
        slot.load_ppm = load_ppm(slot.used, slot.total);
        if let Some(g) = group {
            groups[g].slots.push(s);
            groups[g].zone_counts[slot.zone] += 1;
        }
        chosen[i] = s;
    }

    let assignments = request
        .vms
        .iter()
        .zip(&chosen)
        .map(|(vm, &s)| {
            let host = &inventory.hosts[slots[s].host];
            Assignment {
                vm: vm.vm,
                host: host.id,
                zone: host.zone,
                size: vm.size,
                dedicated: vm.dedicated,
            }
        })
        .collect();
    Ok(Placement { tenant, assignments })
}

/// One VM's search over the request's view of the hosts.
struct Search<'a> {
    slots: &'a [Slot],
    zone_slots: &'a [Range<usize>],
    size: Resources,
    dedicated: bool,
}

impl Search<'_> {
    /// Hosts in `zones` the VM may use, ignoring anti-affinity.
    fn usable(&self, zones: &[usize]) -> impl Iterator<Item = usize> + '_ {
        let zones: Vec<Range<usize>> = zones.iter().map(|&z| self.zone_slots[z].clone()).collect();
        zones.into_iter().flatten().filter(|&s| {
            let slot = &self.slots[s];
            self.size.fits_within(slot.free) && (!self.dedicated || slot.clean)
        })
    }

    /// The best host in `zones` outside `avoid` for the strategy, ties broken by `rng`.
    fn best(
        &self,
        zones: &[usize],
        avoid: &[usize],
        strategy: Strategy,
        ties: &mut Vec<usize>,
        rng: &mut impl RngCore,
    ) -> Option<usize> {
        ties.clear();
        let mut best_score = 0u32;
        for &zone in zones {
            for s in self.zone_slots[zone].clone() {
                let slot = &self.slots[s];
                if !self.size.fits_within(slot.free) || (self.dedicated && !slot.clean) || avoid.contains(&s)
                {
                    continue;
                }
                // Higher is better for both strategies.
                let score = match strategy {
                    Strategy::Spread => FULL_PPM - slot.load_ppm.min(FULL_PPM),
                    Strategy::Pack => slot.load_ppm,
                };
                if ties.is_empty() || score > best_score {
                    ties.clear();
                    best_score = score;
                    ties.push(s);
                } else if score == best_score {
                    ties.push(s);
                }
            }
        }
        match ties.len() {
            0 => None,
            1 => ties.first().copied(),
            // The modulo bias is below 2^-50 for any realistic number of ties.
            n => ties.get((rng.next_u64() % n as u64) as usize).copied(),
        }
    }

    /// Names the most specific reason no host was found.
    fn diagnose(&self, vm: &VmRequest, zones: &[usize], spread: ZoneSpread) -> PlacementError {
        let zone_ids: Vec<ZoneId> = zones.iter().filter_map(|&z| ZONES.get(z)).map(|z| z.id).collect();
        let any_room = Search {
            dedicated: false,
            ..*self
        }
        .usable(zones)
        .next()
        .is_some();
        if !any_room {
            return PlacementError::NoCapacity {
                vm: vm.vm,
                name: vm.name.clone(),
                size: vm.size,
                zones: zone_ids,
            };
        }
        if vm.dedicated && self.usable(zones).next().is_none() {
            return PlacementError::NoDedicatedHost {
                vm: vm.vm,
                name: vm.name.clone(),
                size: vm.size,
                zones: zone_ids,
            };
        }
        match &vm.anti_affinity {
            Some(group) => PlacementError::AntiAffinity {
                vm: vm.vm,
                name: vm.name.clone(),
                group: group.clone(),
                zones: zone_ids,
                across_zones: spread == ZoneSpread::Strict && zones.len() > 1,
            },
            // Unreachable in practice: with room and no group the search would have found a host.
            None => PlacementError::NoCapacity {
                vm: vm.vm,
                name: vm.name.clone(),
                size: vm.size,
                zones: zone_ids,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Strategy;
    use super::*;
    use proptest::prelude::*;
    // proptest's value generators; `Strategy` here means the placement strategy.
    use proptest::strategy::Strategy as Arb;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;
    use std::collections::BTreeSet;
    use uuid::Uuid;

    const ALICE: TenantId = TenantId(Uuid::from_u128(1));
    const BOB: TenantId = TenantId(Uuid::from_u128(2));
    const CAROL: TenantId = TenantId(Uuid::from_u128(3));

    fn zone(id: &str) -> ZoneId {
        ZoneId::parse(id).unwrap()
    }

    fn host_id(n: u128) -> HostId {
        HostId(Uuid::from_u128(0x1000 + n))
    }

    fn host(n: u128, zone_id: &str, vcpus: u32, memory_gib: u64) -> Host {
        Host::empty(
            host_id(n),
            zone(zone_id),
            Resources::new(vcpus, memory_gib * 1024, 1000),
        )
    }

    fn vm(n: u128, zones: &[&str], vcpus: u32, memory_gib: u64) -> VmRequest {
        VmRequest {
            vm: VmId(Uuid::from_u128(0x2000 + n)),
            name: format!("vm-{n}"),
            size: Resources::new(vcpus, memory_gib * 1024, 20),
            zones: zones.iter().map(|z| zone(z)).collect(),
            anti_affinity: None,
            dedicated: false,
        }
    }

    fn request(vms: Vec<VmRequest>) -> PlacementRequest {
        PlacementRequest {
            tenant: ALICE,
            residency: ResidencyPolicy::Anywhere,
            vms,
            zone_spread: ZoneSpread::Off,
        }
    }

    fn rng(seed: u64) -> SmallRng {
        SmallRng::seed_from_u64(seed)
    }

    fn hosts_of(placement: &Placement) -> Vec<HostId> {
        placement.assignments.iter().map(|a| a.host).collect()
    }

    /// Three fra1 hosts loaded 50 %, 25 % and 75 % by Bob.
    fn loaded_inventory() -> Inventory {
        let mut hosts = vec![
            host(1, "fra1", 8, 32),
            host(2, "fra1", 8, 32),
            host(3, "fra1", 8, 32),
        ];
        for (h, used) in hosts.iter_mut().zip([4, 2, 6]) {
            h.vcpus_used = used;
            h.tenants_present.insert(BOB, 1);
        }
        Inventory::new(hosts).unwrap()
    }

    #[test]
    fn spread_picks_the_least_loaded_host_and_pack_the_fullest_that_fits() {
        let inventory = loaded_inventory();
        let small = request(vec![vm(1, &["fra1"], 1, 1)]);
        let spread = place(&small, &inventory, Strategy::Spread, &mut rng(1)).unwrap();
        assert_eq!(hosts_of(&spread), [host_id(2)]);
        let pack = place(&small, &inventory, Strategy::Pack, &mut rng(1)).unwrap();
        assert_eq!(hosts_of(&pack), [host_id(3)]);
        // Three vCPUs no longer fit on the 75 % host, so packing takes the next fullest.
        let bigger = request(vec![vm(1, &["fra1"], 3, 1)]);
        assert_eq!(
            hosts_of(&place(&bigger, &inventory, Strategy::Pack, &mut rng(1)).unwrap()),
            [host_id(1)]
        );
    }

    #[test]
    fn ties_are_broken_by_the_seed_and_the_same_seed_repeats() {
        let inventory = Inventory::new((0..8).map(|n| host(n, "ams1", 16, 64)).collect()).unwrap();
        let one = request(vec![vm(1, &["ams1"], 2, 4)]);
        let first = place(&one, &inventory, Strategy::Spread, &mut rng(7)).unwrap();
        assert_eq!(
            place(&one, &inventory, Strategy::Spread, &mut rng(7)).unwrap(),
            first
        );
        let distinct: BTreeSet<HostId> = (0..32)
            .map(|seed| {
                place(&one, &inventory, Strategy::Spread, &mut rng(seed))
                    .unwrap()
                    .assignments[0]
                    .host
            })
            .collect();
        assert!(
            distinct.len() > 1,
            "equally empty hosts should not always win in the same order"
        );
    }

    #[test]
    fn the_request_is_all_or_nothing_and_names_the_vm_that_does_not_fit() {
        let inventory = Inventory::new(vec![host(1, "par1", 8, 16)]).unwrap();
        let vms = vec![
            vm(1, &["par1"], 4, 8),
            vm(2, &["par1"], 4, 8),
            vm(3, &["par1"], 4, 8),
        ];
        let error = place(&request(vms), &inventory, Strategy::Spread, &mut rng(1)).unwrap_err();
        assert!(matches!(error, PlacementError::NoCapacity { .. }));
        assert_eq!(
            error.to_string(),
            "No host in Paris (par1) has room for “vm-3” (4 vCPUs, 8 GiB memory and 20 GiB disk). \
             Choose a smaller size or another zone."
        );
        assert_eq!(error.vm(), VmId(Uuid::from_u128(0x2003)));
    }

    #[test]
    fn residency_is_checked_before_any_host_and_carries_the_violation() {
        let inventory = Inventory::new(vec![host(1, "nyc1", 8, 16), host(2, "fra1", 8, 16)]).unwrap();
        let mut req = request(vec![vm(1, &["fra1"], 1, 1), vm(2, &["fra1", "nyc1"], 1, 1)]);
        req.residency = ResidencyPolicy::eu_only();
        let error = place(&req, &inventory, Strategy::Spread, &mut rng(1)).unwrap_err();
        let PlacementError::Residency { vm, violation } = &error else {
            panic!("{error:?}")
        };
        assert_eq!(*vm, VmId(Uuid::from_u128(0x2002)));
        assert_eq!(violation.zone, zone("nyc1"));
        assert!(
            error
                .to_string()
                .starts_with("New York (US) is outside your residency policy “EU only”")
        );
    }

    #[test]
    fn a_dedicated_vm_gets_a_host_free_of_other_tenants_and_keeps_it_to_itself() {
        let mut shared = host(1, "lon1", 32, 128);
        shared.tenants_present.insert(BOB, 1);
        shared.vcpus_used = 1;
        let mut inventory = Inventory::new(vec![shared, host(2, "lon1", 32, 128)]).unwrap();
        let mut private = vm(1, &["lon1"], 2, 4);
        private.dedicated = true;
        let placement = place(
            &request(vec![private.clone()]),
            &inventory,
            Strategy::Pack,
            &mut rng(1),
        )
        .unwrap();
        assert_eq!(
            hosts_of(&placement),
            [host_id(2)],
            "packing would prefer the busier host, but Bob is there"
        );
        inventory.apply(&placement).unwrap();
        assert_eq!(inventory.host(host_id(2)).unwrap().dedicated_to, Some(ALICE));

        // Bob can no longer land on host 2, whatever the strategy.
        let mut bobs = request(vec![vm(5, &["lon1"], 1, 1), vm(6, &["lon1"], 1, 1)]);
        bobs.tenant = BOB;
        for strategy in [Strategy::Spread, Strategy::Pack] {
            let placed = place(&bobs, &inventory, strategy, &mut rng(3)).unwrap();
            assert!(hosts_of(&placed).iter().all(|&h| h == host_id(1)));
        }
        // A second dedicated VM of Alice's fits beside the first; one of Carol's finds nothing.
        let mut second = private.clone();
        second.vm = VmId(Uuid::from_u128(0x2099));
        assert_eq!(
            hosts_of(&place(&request(vec![second]), &inventory, Strategy::Spread, &mut rng(1)).unwrap()),
            [host_id(2)]
        );
        let mut carols = request(vec![private]);
        carols.tenant = CAROL;
        let error = place(&carols, &inventory, Strategy::Spread, &mut rng(1)).unwrap_err();
        assert!(
            matches!(error, PlacementError::NoDedicatedHost { .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("needs a dedicated host"));

        // When the dedicated VM leaves, the host returns to the shared pool.
        inventory.release(&placement).unwrap();
        assert_eq!(inventory.host(host_id(2)).unwrap().dedicated_to, None);
    }

    #[test]
    fn anti_affinity_uses_distinct_hosts_or_fails_with_a_typed_error() {
        let inventory = Inventory::new((0..3).map(|n| host(n, "gva1", 64, 256)).collect()).unwrap();
        let members = |count: u128| {
            (0..count)
                .map(|n| VmRequest {
                    anti_affinity: Some("db".into()),
                    ..vm(n, &["gva1"], 1, 1)
                })
                .collect::<Vec<_>>()
        };
        for strategy in [Strategy::Spread, Strategy::Pack] {
            let placed = place(&request(members(3)), &inventory, strategy, &mut rng(1)).unwrap();
            let distinct: BTreeSet<HostId> = hosts_of(&placed).into_iter().collect();
            assert_eq!(distinct.len(), 3);
        }
        let error = place(&request(members(4)), &inventory, Strategy::Pack, &mut rng(1)).unwrap_err();
        assert!(
            matches!(&error, PlacementError::AntiAffinity { group, .. } if group == "db"),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "“vm-3” must run apart from the other VMs in group “db”, but no other host in Geneva (gva1) has \
             room for it."
        );
    }

    #[test]
    fn groups_spread_over_zones_when_asked() {
        let zones = ["lon1", "lon2", "slo1"];
        let hosts = (0..9).map(|n| host(n, zones[n as usize % 3], 64, 256)).collect();
        let inventory = Inventory::new(hosts).unwrap();
        let members = |count: u128| {
            (0..count)
                .map(|n| VmRequest {
                    anti_affinity: Some("web".into()),
                    ..vm(n, &zones, 1, 1)
                })
                .collect::<Vec<_>>()
        };
        let zones_used = |placement: &Placement| {
            let mut counts: BTreeMap<ZoneId, usize> = BTreeMap::new();
            for a in &placement.assignments {
                *counts.entry(a.zone).or_default() += 1;
            }
            counts
        };
        for seed in 0..10 {
            // Packing alone would stack every member into one zone; the spread rule overrides it.
            let mut req = request(members(3));
            req.zone_spread = ZoneSpread::Strict;
            let placed = place(&req, &inventory, Strategy::Pack, &mut rng(seed)).unwrap();
            assert_eq!(zones_used(&placed).len(), 3);

            let mut req = request(members(6));
            req.zone_spread = ZoneSpread::Balanced;
            let placed = place(&req, &inventory, Strategy::Pack, &mut rng(seed)).unwrap();
            assert!(
                zones_used(&placed).values().all(|&n| n == 2),
                "{:?}",
                zones_used(&placed)
            );
        }
        let mut req = request(members(4));
        req.zone_spread = ZoneSpread::Strict;
        let error = place(&req, &inventory, Strategy::Spread, &mut rng(1)).unwrap_err();
        assert!(
            matches!(
                error,
                PlacementError::AntiAffinity {
                    across_zones: true,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .contains("no host in another zone in London (lon1), London 2")
        );
    }

    #[test]
    fn apply_refuses_a_stale_placement_and_release_undoes_apply() {
        let mut inventory = Inventory::new(vec![host(1, "mil1", 4, 8)]).unwrap();
        let before = inventory.clone();
        let placement = place(
            &request(vec![vm(1, &["mil1"], 3, 4)]),
            &inventory,
            Strategy::Spread,
            &mut rng(1),
        )
        .unwrap();
        inventory.apply(&placement).unwrap();
        assert_eq!(
            inventory.host(host_id(1)).unwrap().free(),
            Resources::new(1, 4096, 980)
        );
        // Applying the same proposal again would over-commit: it is refused and nothing changes.
        let applied = inventory.clone();
        assert_eq!(
            inventory.apply(&placement),
            Err(InventoryError::WouldOvercommit(host_id(1)))
        );
        assert_eq!(inventory, applied);
        inventory.release(&placement).unwrap();
        assert_eq!(inventory, before);
        assert_eq!(
            inventory.release(&placement),
            Err(InventoryError::NotApplied(host_id(1)))
        );
        assert_eq!(
            Inventory::new(vec![host(1, "mil1", 4, 8), host(1, "mad1", 4, 8)]),
            Err(InventoryError::DuplicateHost(host_id(1)))
        );
    }

    #[test]
    fn a_vm_without_zones_is_refused() {
        let inventory = Inventory::new(vec![host(1, "mil1", 4, 8)]).unwrap();
        let error = place(
            &request(vec![vm(1, &[], 1, 1)]),
            &inventory,
            Strategy::Spread,
            &mut rng(1),
        )
        .unwrap_err();
        assert_eq!(error.to_string(), "Choose at least one zone for “vm-1”.");
    }

    // ---- Property tests -------------------------------------------------------------------------

    const POOL: [&str; 4] = ["fra1", "ber1", "lon1", "nyc1"];
    const TENANTS: [TenantId; 3] = [ALICE, BOB, CAROL];

    /// A host in one of the pool's zones, partly used by a random mix of tenants, sometimes
    /// dedicated to one of them (always consistently: a dedicated host holds only its owner).
    fn arb_host(n: u128) -> impl Arb<Value = Host> {
        let fill = prop_oneof![3 => 0u32..=70, 1 => 70u32..=100];
        // The first hosts cover every zone of the pool once, so most requests can succeed.
        let zone_index = if n < POOL.len() as u128 {
            Just(n as usize).boxed()
        } else {
            (0..POOL.len()).boxed()
        };
        (
            zone_index,
            2u32..48,
            4u64..128,
            50u64..800,
            fill,
            prop::collection::vec(0u32..3, 3),
            // One host in four is dedicated, to one of the three tenants.
            0u8..12,
        )
            .prop_map(move |(z, vcpus, memory_gib, disk, fill, vms, dedication)| {
                let mut h = Host::empty(
                    host_id(n),
                    zone(POOL[z]),
                    Resources::new(vcpus, memory_gib * 1024, disk),
                );
                h.vcpus_used = vcpus * fill / 100;
                h.memory_mib_used = h.memory_mib_total * u64::from(fill) / 100;
                h.disk_gib_used = disk * u64::from(fill) / 100;
                if let Some(&owner) = TENANTS.get(usize::from(dedication)) {
                    h.dedicated_to = Some(owner);
                    h.dedicated_vms = 1;
                    h.tenants_present.insert(owner, 1 + vms[0]);
                } else {
                    for (tenant, count) in TENANTS.iter().zip(vms) {
                        if count > 0 {
                            h.tenants_present.insert(*tenant, count);
                        }
                    }
                }
                h
            })
    }

    fn arb_inventory() -> impl Arb<Value = Inventory> {
        (1usize..20).prop_flat_map(|count| {
            (0..count as u128)
                .map(arb_host)
                .collect::<Vec<_>>()
                .prop_map(|hosts| Inventory::new(hosts).unwrap())
        })
    }

    fn arb_vm(n: u128) -> impl Arb<Value = VmRequest> {
        (
            1u8..16,
            1u32..6,
            1u64..12,
            1u64..60,
            prop::option::of(0u8..2),
            prop::bool::weighted(0.2),
        )
            .prop_map(move |(zone_bits, vcpus, memory_gib, disk, group, dedicated)| {
                let zones = POOL
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| zone_bits & (1 << i) != 0)
                    .map(|(_, z)| zone(z));
                VmRequest {
                    vm: VmId(Uuid::from_u128(0x2000 + n)),
                    name: format!("vm-{n}"),
                    size: Resources::new(vcpus, memory_gib * 1024, disk),
                    zones: zones.collect(),
                    anti_affinity: group.map(|g| format!("group-{g}")),
                    dedicated,
                }
            })
    }

    fn arb_request() -> impl Arb<Value = PlacementRequest> {
        let residency = prop_oneof![
            Just(ResidencyPolicy::Anywhere),
            Just(ResidencyPolicy::eu_only()),
            Just(ResidencyPolicy::country("DE").unwrap()),
            Just(ResidencyPolicy::zones([zone("fra1"), zone("lon1"), zone("ber1")]).unwrap()),
        ];
        let spread = prop_oneof![
            Just(ZoneSpread::Off),
            Just(ZoneSpread::Balanced),
            Just(ZoneSpread::Strict)
        ];
        // Mostly requests that respect the policy, as the zone picker only offers allowed zones;
        // otherwise nearly every case would stop at the residency check.
        let respect = prop::bool::weighted(0.85);
        (1usize..8, residency, spread, respect).prop_flat_map(|(count, residency, zone_spread, respect)| {
            (0..count as u128)
                .map(arb_vm)
                .collect::<Vec<_>>()
                .prop_map(move |mut vms| {
                    if respect {
                        for vm in &mut vms {
                            vm.zones.retain(|&z| residency.allows(z));
                            if vm.zones.is_empty() {
                                // Every policy above allows Frankfurt.
                                vm.zones.push(zone("fra1"));
                            }
                        }
                    }
                    PlacementRequest {
                        tenant: ALICE,
                        residency: residency.clone(),
                        vms,
                        zone_spread,
                    }
                })
        })
    }

    fn arb_strategy() -> impl Arb<Value = Strategy> {
        prop_oneof![Just(Strategy::Spread), Just(Strategy::Pack)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn placements_keep_every_rule(
            inventory in arb_inventory(),
            req in arb_request(),
            strategy in arb_strategy(),
            seed in any::<u64>(),
        ) {
            let result = place(&req, &inventory, strategy, &mut rng(seed));
            // Same seed, same answer.
            prop_assert_eq!(&place(&req, &inventory, strategy, &mut rng(seed)), &result);
            let placement = match result {
                Ok(placement) => placement,
                Err(PlacementError::Residency { vm, violation }) => {
                    let asked = req.vms.iter().find(|v| v.vm == vm).unwrap();
                    prop_assert!(asked.zones.contains(&violation.zone));
                    prop_assert!(!req.residency.allows(violation.zone));
                    return Ok(());
                }
                Err(_) => return Ok(()),
            };
            prop_assert_eq!(placement.assignments.len(), req.vms.len());
            let mut added: BTreeMap<HostId, Resources> = BTreeMap::new();
            for (asked, got) in req.vms.iter().zip(&placement.assignments) {
                prop_assert_eq!(asked.vm, got.vm);
                prop_assert_eq!(asked.size, got.size);
                let host = inventory.host(got.host).unwrap();
                prop_assert_eq!(host.zone, got.zone);
                // Residency and the VM's own zones.
                prop_assert!(asked.zones.contains(&got.zone));
                prop_assert!(req.residency.allows(got.zone));
                // Tenancy: never on another tenant's dedicated host; dedicated only where alone.
                prop_assert!(host.dedicated_to.is_none_or(|owner| owner == ALICE));
                if asked.dedicated {
                    prop_assert!(host.tenants_present.keys().all(|&t| t == ALICE));
                }
                let sum = added.entry(got.host).or_default();
                *sum = sum.checked_add(got.size).unwrap();
            }
            // Never over-commit.
            for (id, extra) in &added {
                let host = inventory.host(*id).unwrap();
                prop_assert!(host.used().checked_add(*extra).unwrap().fits_within(host.total()));
            }
            // Anti-affinity: distinct hosts, and distinct zones under Strict for flexible members.
            let mut by_group: BTreeMap<&str, Vec<(&VmRequest, &Assignment)>> = BTreeMap::new();
            for (asked, got) in req.vms.iter().zip(&placement.assignments) {
                if let Some(group) = &asked.anti_affinity {
                    by_group.entry(group).or_default().push((asked, got));
                }
            }
            for members in by_group.values() {
                let hosts: BTreeSet<HostId> = members.iter().map(|(_, got)| got.host).collect();
                prop_assert_eq!(hosts.len(), members.len());
                if req.zone_spread == ZoneSpread::Strict {
                    for (i, (asked, got)) in members.iter().enumerate() {
                        if asked.zones.len() > 1 {
                            for (j, (_, other)) in members.iter().enumerate() {
                                prop_assert!(i == j || other.zone != got.zone);
                            }
                        }
                    }
                }
            }
            // The inventory agrees, and releasing restores it exactly.
            let mut after = inventory.clone();
            prop_assert_eq!(after.apply(&placement), Ok(()));
            for host in after.hosts() {
                prop_assert!(host.used().fits_within(host.total()));
                if host.dedicated_to.is_some() {
                    prop_assert!(host.tenants_present.len() <= 1);
                }
            }
            prop_assert_eq!(after.release(&placement), Ok(()));
            prop_assert_eq!(after, inventory);
        }

        #[test]
        fn a_single_plain_vm_is_refused_only_when_no_host_has_room(
            inventory in arb_inventory(),
            asked in arb_vm(0),
            strategy in arb_strategy(),
            seed in any::<u64>(),
        ) {
            let asked = VmRequest { anti_affinity: None, dedicated: false, ..asked };
            let req = PlacementRequest {
                tenant: ALICE,
                residency: ResidencyPolicy::Anywhere,
                vms: vec![asked.clone()],
                zone_spread: ZoneSpread::Off,
            };
            let room = inventory.hosts().iter().any(|h| {
                asked.zones.contains(&h.zone)
                    && h.dedicated_to.is_none_or(|owner| owner == ALICE)
                    && asked.size.fits_within(h.free())
            });
            match place(&req, &inventory, strategy, &mut rng(seed)) {
                Ok(_) => prop_assert!(room),
                Err(PlacementError::NoCapacity { .. }) => prop_assert!(!room),
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }
}
