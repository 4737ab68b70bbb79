//! Placement benchmark: 10,000 VMs onto 1,000 hosts over the 16 zones, in rounds of tenant requests.
//!
//! Run with `cargo bench -p meridian-core --bench placement`. A plain `main` timed with `Instant`
//! (no criterion) so it builds with the crate's own dependencies. The goal is at most 50 ms for all
//! 10,000 VMs on one core, including applying each placement to the inventory before the next.

use meridian_core::id::{HostId, TenantId, VmId};
use meridian_core::placement::{
    Host, Inventory, PlacementRequest, Resources, Strategy, VmRequest, ZoneSpread, place,
};
use meridian_core::residency::ResidencyPolicy;
use meridian_core::zone::{EU_COUNTRIES, ZONES, ZoneId};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};
use uuid::Uuid;

const HOSTS: usize = 1_000;
const VMS: usize = 10_000;
const VMS_PER_REQUEST: usize = 20;
const REPEATS: usize = 9;

/// Instance sizes, weighted towards the small ones as real fleets are.
const SIZES: [(u32, Resources); 5] = [
    (35, Resources::new(1, 2 * 1024, 25)),
    (30, Resources::new(2, 4 * 1024, 50)),
    (20, Resources::new(4, 8 * 1024, 80)),
    (10, Resources::new(8, 32 * 1024, 160)),
    (5, Resources::new(16, 64 * 1024, 320)),
];

/// 1,000 identical hosts (96 vCPUs, 768 GiB, 8 TiB disk), split over zones in proportion to their RAM.
fn inventory() -> Inventory {
    let total_ram: u32 = ZONES.iter().map(|z| z.ram_tib).sum();
    let mut hosts = Vec::with_capacity(HOSTS);
    for (i, zone) in ZONES.iter().enumerate() {
        let count = if i + 1 == ZONES.len() {
            HOSTS - hosts.len()
        } else {
            HOSTS * zone.ram_tib as usize / total_ram as usize
        };
        for _ in 0..count {
            let id = HostId(Uuid::from_u128(0x1_0000 + hosts.len() as u128));
            hosts.push(Host::empty(id, zone.id, Resources::new(96, 768 * 1024, 8 * 1024)));
        }
    }
    Inventory::new(hosts).expect("host ids are unique")
}

fn size(rng: &mut SmallRng) -> Resources {
    let mut pick = rng.random_range(0..100);
    for (weight, size) in SIZES {
        if pick < weight {
            return size;
        }
        pick -= weight;
    }
    SIZES[0].1
}

/// A zone picked in proportion to its RAM, as customers follow capacity (and sales follow it too).
fn weighted_zone(zones: &[ZoneId], rng: &mut SmallRng) -> ZoneId {
    let total: u32 = zones.iter().map(|z| z.zone().ram_tib).sum();
    let mut pick = rng.random_range(0..total);
    for &zone in zones {
        let weight = zone.zone().ram_tib;
        if pick < weight {
            return zone;
        }
        pick -= weight;
    }
    zones[0]
}

/// 500 tenants of 20 VMs each: most in one home zone, one in five a stack with anti-affinity groups
/// spread over three zones, one in twenty-five with two dedicated VMs; a third of the tenants EU-only.
fn requests(rng: &mut SmallRng) -> Vec<PlacementRequest> {
    let eu_zones: Vec<ZoneId> = ZONES
        .iter()
        .filter(|z| EU_COUNTRIES.contains(&z.country))
        .map(|z| z.id)
        .collect();
    let all_zones: Vec<ZoneId> = ZONES.iter().map(|z| z.id).collect();
    let mut out = Vec::with_capacity(VMS / VMS_PER_REQUEST);
    let mut vm_number = 0u128;
    for t in 0..VMS / VMS_PER_REQUEST {
        let eu_only = t % 3 == 0;
        let zones = if eu_only { &eu_zones } else { &all_zones };
        let residency = if eu_only {
            ResidencyPolicy::eu_only()
        } else {
            ResidencyPolicy::Anywhere
        };
        let home = weighted_zone(zones, rng);
        let stack = t % 5 == 0;
        let dedicated = t % 25 == 0;
        let stack_zones: Vec<ZoneId> = (0..3)
            .map(|k| zones[(home.index() + k * 2) % zones.len()])
            .collect();
        let vms = (0..VMS_PER_REQUEST)
            .map(|k| {
                vm_number += 1;
                let in_group = stack && k < 12;
                VmRequest {
                    vm: VmId(Uuid::from_u128(vm_number)),
                    name: format!("vm-{vm_number}"),
                    size: size(rng),
                    zones: if in_group { stack_zones.clone() } else { vec![home] },
                    anti_affinity: in_group.then(|| format!("tier-{}", k % 3)),
                    dedicated: dedicated && k < 2,
                }
            })
            .collect();
        out.push(PlacementRequest {
            tenant: TenantId(Uuid::from_u128(0x5000_0000 + t as u128)),
            residency,
            vms,
            zone_spread: if stack {
                ZoneSpread::Balanced
            } else {
                ZoneSpread::Off
            },
        });
    }
    // Dedicated customers first: under Spread every host soon holds someone, as it should, and a
    // dedicated VM arriving late would (correctly) find no host; that is a capacity-planning
    // question, not what this benchmark measures.
    out.sort_by_key(|r| !r.vms.iter().any(|vm| vm.dedicated));
    out
}

/// Places every request in turn, applying each placement before the next. Returns the time taken
/// and how many VMs were placed.
fn round(
    base: &Inventory,
    requests: &[PlacementRequest],
    strategy: Strategy,
    seed: u64,
) -> (Duration, usize) {
    let mut inventory = base.clone();
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut placed = 0;
    let start = Instant::now();
    for request in requests {
        match place(request, &inventory, strategy, &mut rng) {
            Ok(placement) => {
                placed += placement.assignments.len();
                inventory.apply(&placement).expect("a fresh placement applies");
            }
            Err(error) if seed == 0 => eprintln!("  {strategy:?}: {error}"),
            Err(_) => {}
        }
    }
    (start.elapsed(), placed)
}

/// One request of 10,000 VMs, each allowed in every zone: the worst case for the per-VM host scan.
fn one_big_request(rng: &mut SmallRng) -> PlacementRequest {
    let zones: Vec<ZoneId> = ZONES.iter().map(|z| z.id).collect();
    PlacementRequest {
        tenant: TenantId(Uuid::from_u128(0x6000_0000)),
        residency: ResidencyPolicy::Anywhere,
        vms: (0..VMS as u128)
            .map(|n| VmRequest {
                vm: VmId(Uuid::from_u128(0x7000_0000 + n)),
                name: format!("big-{n}"),
                size: size(rng),
                zones: zones.clone(),
                anti_affinity: None,
                dedicated: false,
            })
            .collect(),
        zone_spread: ZoneSpread::Off,
    }
}

fn report(label: &str, mut times: Vec<Duration>, placed: usize) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label:<44} min {:>7.2} ms   median {:>7.2} ms   max {:>7.2} ms   ({placed} of {VMS} VMs placed)",
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1]),
    );
}

fn main() {
    let base = inventory();
    let mut rng = SmallRng::seed_from_u64(2026);
    let requests = requests(&mut rng);
    assert_eq!(requests.iter().map(|r| r.vms.len()).sum::<usize>(), VMS);
    println!(
        "{} hosts in {} zones; {} requests of {VMS_PER_REQUEST} VMs; {REPEATS} runs each",
        HOSTS,
        ZONES.len(),
        requests.len()
    );

    for strategy in [Strategy::Spread, Strategy::Pack] {
        let mut times = Vec::with_capacity(REPEATS);
        let mut placed = 0;
        for run in 0..REPEATS {
            let (time, count) = round(&base, &requests, strategy, run as u64);
            times.push(time);
            placed = count;
        }
        report(&format!("500 requests x 20 VMs, {strategy:?}"), times, placed);
    }

    let big = one_big_request(&mut rng);
    for strategy in [Strategy::Spread, Strategy::Pack] {
        let mut times = Vec::with_capacity(REPEATS);
        let mut placed = 0;
        for run in 0..REPEATS {
            let start = Instant::now();
            let result = place(&big, &base, strategy, &mut SmallRng::seed_from_u64(run as u64));
            times.push(start.elapsed());
            placed = result.map_or(0, |p| p.assignments.len());
        }
        report(
            &format!("1 request x 10,000 VMs in any zone, {strategy:?}"),
            times,
            placed,
        );
    }
}
