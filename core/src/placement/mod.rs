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
use std::ops::Range;
use thiserror::Error;

mod inventory;
pub mod latency;
#[cfg(test)]
mod tests;

pub use inventory::{Host, Inventory, InventoryError, Resources};

/// Load is measured in parts per million of a host's busiest resource: integers, so no two
/// platforms can disagree about a tie.
const FULL_PPM: u32 = 1_000_000;

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
