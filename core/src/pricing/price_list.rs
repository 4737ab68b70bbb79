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

/// What a VM costs for a whole month running, for the create form: compute, its disk, and its public
/// address if it has internet breakout. Bandwidth is free, so it is not in the estimate.
pub fn vm_monthly_estimate(size: &VmSize, public_ip: bool) -> Money {
    // HOURS_PER_MONTH is a small constant; every term is bounded by the size limits.
    let hours = HOURS_PER_MONTH as i64;
    let compute = hourly_rate(size).micros() * hours;
    let disk = i64::from(size.disk_gib.get()) * DISK_GIB_MONTH.micros();
    let ip = if public_ip {
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
pub fn vm_price_text(count: u32, size: &VmSize, public_ip: bool) -> String {
    let n = i64::from(count.max(1));
    let mut hourly = hourly_rate(size);
    if public_ip {
        hourly = hourly.checked_add(PUBLIC_IPV4_HOUR).unwrap_or(hourly);
    }
    let times = |money: Money| money.checked_mul(n).unwrap_or(Money::MAX);
    let disk_gib = size.disk_gib.get();
    let disk = times(
        DISK_GIB_MONTH
            .checked_mul(i64::from(disk_gib))
            .unwrap_or(Money::MAX),
    );
    let month = times(vm_monthly_estimate(size, public_ip));
    if count > 1 {
        format!(
            "{count} VMs: {} per hour while running, ≈ {} a month with their {count} × {disk_gib} GiB of disk ({} a month, also while stopped). Bandwidth: always $0.00.",
            times(hourly).format_precise(),
            month.format_cents(),
            disk.format_cents()
        )
    } else {
        format!(
            "{} per hour while running, ≈ {} a month with its {disk_gib} GiB disk ({} a month, also while stopped). Bandwidth: always $0.00.",
            hourly.format_precise(),
            month.format_cents(),
            disk.format_cents()
        )
    }
}
