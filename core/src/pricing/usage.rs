//! Metered usage: what was used, in which unit, over which period.

use super::{
    BANDWIDTH_GIB, DEDICATED_PREMIUM_PERCENT, DISK_GIB_MONTH, HOURS_PER_MONTH, Money, PUBLIC_IPV4_HOUR,
    dedicated_premium, hourly_rate,
};
use crate::resource::{DiskGib, VmSize};
use serde::{Deserialize, Serialize};

/// How many calendar months of hourly usage are kept: the current month and the twelve before it.
/// Older hours are summed in the daily and monthly roll-ups (invoices and the billing page read
/// those), so what the database holds stays bounded however long a tenant stays.
pub const HOURLY_USAGE_MONTHS: usize = 13;

/// The unit a price is quoted in, and how many metered units make one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Priced per hour, metered in seconds.
    Hour,
    /// Priced per GiB-month, metered in GiB-seconds.
    GibMonth,
    /// Priced per GiB (2³⁰ bytes), metered in bytes.
    Gib,
}

impl Unit {
    /// Metered units in one priced unit.
    pub fn metered_per_unit(self) -> u64 {
        match self {
            Unit::Hour => 3600,
            Unit::GibMonth => HOURS_PER_MONTH * 3600,
            Unit::Gib => 1 << 30,
        }
    }

    /// The priced unit's name, singular.
    pub fn label(self) -> &'static str {
        match self {
            Unit::Hour => "hour",
            Unit::GibMonth => "GiB-month",
            Unit::Gib => "GiB",
        }
    }

    /// The metered unit's name, plural.
    pub fn metered_label(self) -> &'static str {
        match self {
            Unit::Hour => "seconds",
            Unit::GibMonth => "GiB-seconds",
            Unit::Gib => "bytes",
        }
    }
}

/// What was used. The names say what is priced; every quantity is in the metered unit of
/// [`UsageKind::unit`], never in the priced one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UsageKind {
    /// A running VM of this size; quantity in seconds of running (stopped VMs are not metered).
    VmHours {
        /// The VM's size while it ran.
        size: VmSize,
    },
    /// A running VM of this size on a dedicated host (no other tenant's VMs beside it): the
    /// host's share it keeps from others, [`DEDICATED_PREMIUM_PERCENT`] of its compute; quantity in
    /// seconds of running.
    DedicatedHours {
        /// The VM's size while it ran.
        size: VmSize,
    },
    /// Disk storage; quantity in GiB-seconds (disk GiB × seconds it existed, running or stopped).
    DiskGibHours,
    /// Public IPv4 addresses; quantity in address-seconds (seconds each address was assigned).
    PublicIpHours,
    /// Traffic over the private backbone between zones; quantity in bytes. Free.
    BytesBackbone,
    /// Traffic to and from the internet; quantity in bytes. Free.
    BytesInternet,
}

impl UsageKind {
    /// The unit its price is quoted in.
    pub fn unit(self) -> Unit {
        match self {
            UsageKind::VmHours { .. } | UsageKind::DedicatedHours { .. } | UsageKind::PublicIpHours => {
                Unit::Hour
            }
            UsageKind::DiskGibHours => Unit::GibMonth,
            UsageKind::BytesBackbone | UsageKind::BytesInternet => Unit::Gib,
        }
    }

    /// The price of one [`UsageKind::unit`].
    pub fn unit_price(self) -> Money {
        match self {
            UsageKind::VmHours { size } => hourly_rate(&size),
            UsageKind::DedicatedHours { size } => dedicated_premium(&size),
            UsageKind::DiskGibHours => DISK_GIB_MONTH,
            UsageKind::PublicIpHours => PUBLIC_IPV4_HOUR,
            UsageKind::BytesBackbone | UsageKind::BytesInternet => BANDWIDTH_GIB,
        }
    }

    /// The line's description on an invoice.
    pub fn description(self) -> String {
        match self {
            UsageKind::VmHours { size } => match size.catalogue_entry() {
                Some(named) => format!(
                    "VM {} ({}): {}, {} memory",
                    named.code, named.name, size.vcpus, size.memory_mib
                ),
                None => format!("VM: {}, {} memory", size.vcpus, size.memory_mib),
            },
            UsageKind::DedicatedHours { size } => format!(
                "Dedicated host for a VM {}: {DEDICATED_PREMIUM_PERCENT} % of its compute",
                size.catalogue_entry().map_or_else(
                    || format!("of {}, {} memory", size.vcpus, size.memory_mib),
                    |named| format!("{} ({})", named.code, named.name)
                )
            ),
            UsageKind::DiskGibHours => "Disk storage".to_owned(),
            UsageKind::PublicIpHours => "Public IPv4 addresses".to_owned(),
            UsageKind::BytesBackbone => "Backbone traffic between zones (always free)".to_owned(),
            UsageKind::BytesInternet => "Internet traffic (always free)".to_owned(),
        }
    }
}

/// The time a record covers: Unix milliseconds, start included, end excluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UsagePeriod {
    /// Start, Unix milliseconds.
    pub start_unix_ms: i64,
    /// End, Unix milliseconds.
    pub end_unix_ms: i64,
}

impl UsagePeriod {
    /// Whole seconds in the period, rounded down so nobody pays for a second not used; an empty or
    /// reversed period is zero.
    pub fn duration_secs(self) -> u64 {
        let millis = i128::from(self.end_unix_ms) - i128::from(self.start_unix_ms);
        u64::try_from(millis / 1000).unwrap_or(0)
    }
}

/// One metering record, written by the control plane's meter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UsageRecord {
    /// What was used.
    pub kind: UsageKind,
    /// How much, in the metered unit of `kind.unit()` (seconds, GiB-seconds or bytes).
    pub quantity: u64,
    /// When.
    pub period: UsagePeriod,
}

impl UsageRecord {
    /// A VM of `size` running for the whole period.
    pub fn vm(size: VmSize, period: UsagePeriod) -> Self {
        Self {
            kind: UsageKind::VmHours { size },
            quantity: period.duration_secs(),
            period,
        }
    }

    /// A VM of `size` running on a dedicated host for the whole period (its premium; its compute
    /// is [`UsageRecord::vm`]).
    pub fn dedicated(size: VmSize, period: UsagePeriod) -> Self {
        Self {
            kind: UsageKind::DedicatedHours { size },
            quantity: period.duration_secs(),
            period,
        }
    }

    /// A disk of `disk` existing for the whole period. The product saturates rather than wrapping;
    /// the largest disk would need over a hundred million years to get there.
    pub fn disk(disk: DiskGib, period: UsagePeriod) -> Self {
        Self {
            kind: UsageKind::DiskGibHours,
            quantity: u64::from(disk.get()).saturating_mul(period.duration_secs()),
            period,
        }
    }

    /// One public IPv4 address assigned for the whole period.
    pub fn public_ip(period: UsagePeriod) -> Self {
        Self {
            kind: UsageKind::PublicIpHours,
            quantity: period.duration_secs(),
            period,
        }
    }

    /// Bytes carried over the backbone during the period.
    pub fn bytes_backbone(bytes: u64, period: UsagePeriod) -> Self {
        Self {
            kind: UsageKind::BytesBackbone,
            quantity: bytes,
            period,
        }
    }

    /// Bytes carried to or from the internet during the period.
    pub fn bytes_internet(bytes: u64, period: UsagePeriod) -> Self {
        Self {
            kind: UsageKind::BytesInternet,
            quantity: bytes,
            period,
        }
    }
}
