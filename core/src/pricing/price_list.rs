//! The price list: unit prices and what a VM costs per hour and per month.

use super::Money;
use crate::resource::VmSize;

/// Price of one vCPU for one hour: $0.0125.
pub const VCPU_HOUR: Money = Money::from_micros(12_500);
/// Price of one GiB of memory for one hour: $0.005.
pub const MEMORY_GIB_HOUR: Money = Money::from_micros(5_000);
/// Price of one GiB of disk for one month ([`HOURS_PER_MONTH`] hours): $0.10.
pub const DISK_GIB_MONTH: Money = Money::from_micros(100_000);
/// Price of one public IPv4 address for one hour: $0.005.
pub const PUBLIC_IPV4_HOUR: Money = Money::from_micros(5_000);
/// Price of one GiB of traffic, on the backbone or to the internet: always nothing.
pub const BANDWIDTH_GIB: Money = Money::ZERO;
/// What a dedicated host adds to a VM's compute, in percent: the share of the host it keeps
/// from other tenants.
pub const DEDICATED_PREMIUM_PERCENT: i64 = 50;
/// Hours in a billing month for per-month prices and estimates (365 × 24 / 12).
pub const HOURS_PER_MONTH: u64 = 730;

// Memory comes in steps of 256 MiB (a quarter GiB), so a quarter of the per-GiB price must be whole
// micro-dollars for every VM's hourly rate to be exact.
const _: () = assert!(MEMORY_GIB_HOUR.micros() % 4 == 0);

/// A VM's price per hour while it runs: vCPUs × [`VCPU_HOUR`] + GiB of memory × [`MEMORY_GIB_HOUR`].
/// Exact (see [`crate::resource::MemoryMib::STEP`]); the disk is priced separately as storage.
pub fn hourly_rate(size: &VmSize) -> Money {
    // At most 64 × 12,500 + 262,144 × 5,000 / 1,024 micro-dollars: nowhere near overflow.
    let vcpus = i64::from(size.vcpus.get()) * VCPU_HOUR.micros();
    let memory = i64::from(size.memory_mib.get()) * MEMORY_GIB_HOUR.micros() / 1024;
    Money::from_micros(vcpus + memory)
}

/// What a VM of `size` on a dedicated host pays on top of [`hourly_rate`] per hour while it runs:
/// [`DEDICATED_PREMIUM_PERCENT`] of it. Exact: every hourly rate is a multiple of 1,250
/// micro-dollars, so half of it is whole.
pub fn dedicated_premium(size: &VmSize) -> Money {
    Money::from_micros(hourly_rate(size).micros() * DEDICATED_PREMIUM_PERCENT / 100)
}

/// What a VM asks for besides its size that has a price.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extras {
    /// Internet breakout: a public address.
    pub public_ip: bool,
    /// A dedicated host.
    pub dedicated: bool,
}

impl Extras {
    /// What a running VM of `size` with these extras costs per hour: compute, the dedicated
    /// host's premium, the public address.
    pub fn hourly(self, size: &VmSize) -> Money {
        let mut micros = hourly_rate(size).micros();
        if self.dedicated {
            micros += dedicated_premium(size).micros();
        }
        if self.public_ip {
            micros += PUBLIC_IPV4_HOUR.micros();
        }
        Money::from_micros(micros)
    }
}

/// What a VM costs for a whole month running, for the create form: compute (with a dedicated
/// host's premium), its disk, and its public address if it has internet breakout. Bandwidth is
/// free, so it is not in the estimate.
pub fn vm_monthly_estimate(size: &VmSize, extras: Extras) -> Money {
    // HOURS_PER_MONTH is a small constant; every term is bounded by the size limits.
    let hours = HOURS_PER_MONTH as i64;
    let compute = Extras {
        public_ip: false,
        ..extras
    }
    .hourly(size)
    .micros()
        * hours;
    let disk = i64::from(size.disk_gib.get()) * DISK_GIB_MONTH.micros();
    let ip = if extras.public_ip {
        PUBLIC_IPV4_HOUR.micros() * hours
    } else {
        0
    };
    Money::from_micros(compute + disk + ip)
}

/// What `count` VMs of `size` cost, in words for the forms and pages that create or show them: per
/// hour while they run (their public addresses included) and for a month running, with their
/// disks, which are charged also while the VMs are stopped. Bandwidth is free. One projection
/// everywhere: [`vm_monthly_estimate`].
pub fn vm_price_text(count: u32, size: &VmSize, extras: Extras) -> String {
    let n = i64::from(count.max(1));
    let hourly = extras.hourly(size);
    let times = |money: Money| money.checked_mul(n).unwrap_or(Money::MAX);
    let disk_gib = size.disk_gib.get();
    let disk = times(
        DISK_GIB_MONTH
            .checked_mul(i64::from(disk_gib))
            .unwrap_or(Money::MAX),
    );
    let month = times(vm_monthly_estimate(size, extras));
    let dedicated = if extras.dedicated {
        format!(
            " A dedicated host adds {DEDICATED_PREMIUM_PERCENT} % to the compute: {} per hour{}, included.",
            times(dedicated_premium(size)).format_precise(),
            if count > 1 { " for all of them" } else { "" }
        )
    } else {
        String::new()
    };
    if count > 1 {
        format!(
            "{count} VMs: {} per hour while running, ≈ {} a month with their {count} × {disk_gib} GiB of disk ({} a month, also while stopped). Bandwidth: always $0.00.{dedicated}",
            times(hourly).format_precise(),
            month.format_cents(),
            disk.format_cents()
        )
    } else {
        format!(
            "{} per hour while running, ≈ {} a month with its {disk_gib} GiB disk ({} a month, also while stopped). Bandwidth: always $0.00.{dedicated}",
            hourly.format_precise(),
            month.format_cents(),
            disk.format_cents()
        )
    }
}
