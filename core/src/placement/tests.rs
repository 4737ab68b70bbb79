//! Tests of placement: examples of each rule, and property tests over random inventories and requests.

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
