//! Prices and rating: integer money, the price list, and turning metered usage into an invoice.
//!
//! Money is an integer number of micro-dollars; nothing here touches floating point. Usage is metered
//! in whole small units (seconds, GiB-seconds, bytes) and priced per hour, GiB-month or GiB, and each
//! invoice line is rounded exactly once, half-up, to the micro-dollar. Summing rounded records instead
//! would let a bill drift with how often the meter happened to write.

use crate::resource::{DiskGib, VmSize};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use thiserror::Error;

/// Micro-dollars in a dollar.
const MICROS_PER_DOLLAR: u64 = 1_000_000;

/// `num / den` rounded to the nearest integer, halves away from zero (so half-up for the
/// non-negative amounts of an invoice). `den` must be positive.
fn div_round(num: i128, den: i128) -> i128 {
    let quotient = num / den;
    let remainder = num % den;
    // The remainder is below `den`, so doubling it cannot overflow u128.
    if remainder.unsigned_abs() * 2 >= den.unsigned_abs() {
        quotient + num.signum()
    } else {
        quotient
    }
}

/// `1234567` as `1,234,567`.
fn group_thousands(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// An amount of US dollars in micro-dollars (millionths). Negative amounts are credits.
///
/// There are no `+`/`-` operators on purpose: every sum goes through a checked method, so an
/// overflow is an error someone handles rather than a wrapped or panicking bill.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(i64);

impl Money {
    /// Nothing.
    pub const ZERO: Money = Money(0);
    /// The largest amount representable (about 9.2 trillion dollars).
    pub const MAX: Money = Money(i64::MAX);
    /// The most negative amount representable.
    pub const MIN: Money = Money(i64::MIN);

    /// An amount in micro-dollars.
    pub const fn from_micros(micros: i64) -> Money {
        Money(micros)
    }

    /// The amount in micro-dollars.
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// `self - other`, or `None` on overflow.
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    /// `self × factor`, or `None` on overflow.
    pub fn checked_mul(self, factor: i64) -> Option<Money> {
        self.0.checked_mul(factor).map(Money)
    }

    /// The sum of `amounts`, or `None` on overflow.
    pub fn checked_sum(amounts: impl IntoIterator<Item = Money>) -> Option<Money> {
        amounts
            .into_iter()
            .try_fold(Money::ZERO, |total, amount| total.checked_add(amount))
    }

    /// For people: rounded half-up to the cent, with thousands separators, e.g. `$1,234.57`.
    pub fn format_cents(self) -> String {
        let cents = div_round(i128::from(self.0), 10_000);
        let sign = if cents < 0 { "-" } else { "" };
        let cents = cents.unsigned_abs();
        format!("{sign}${}.{:02}", group_thousands(cents / 100), cents % 100)
    }

    /// Exact: every micro-dollar, trailing zeros trimmed but at least the cents shown, e.g.
    /// `$0.0125` (a rate), `$1.234567`, `$3.50`. This is also `Display`.
    pub fn format_precise(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let micros = self.0.unsigned_abs();
        let mut fraction = format!("{:06}", micros % MICROS_PER_DOLLAR);
        while fraction.len() > 2 && fraction.ends_with('0') {
            fraction.pop();
        }
        format!(
            "{sign}${}.{fraction}",
            group_thousands(u128::from(micros / MICROS_PER_DOLLAR))
        )
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format_precise())
    }
}

// ---------------------------------------------------------------------------------------------
// The price list
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Usage
// ---------------------------------------------------------------------------------------------

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
            UsageKind::VmHours { .. } | UsageKind::PublicIpHours => Unit::Hour,
            UsageKind::DiskGibHours => Unit::GibMonth,
            UsageKind::BytesBackbone | UsageKind::BytesInternet => Unit::Gib,
        }
    }

    /// The price of one [`UsageKind::unit`].
    pub fn unit_price(self) -> Money {
        match self {
            UsageKind::VmHours { size } => hourly_rate(&size),
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

// ---------------------------------------------------------------------------------------------
// Rating and invoices
// ---------------------------------------------------------------------------------------------

/// Usage too large to price within [`Money`]'s range (trillions of dollars): a metering bug, never a
/// real bill, so it is refused rather than clamped.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
#[error("This usage is too large to price.")]
pub struct PricingOverflow;

/// One line of an invoice: all usage of one kind, priced once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    /// What was used.
    pub kind: UsageKind,
    /// Text for the invoice.
    pub description: String,
    /// Total quantity in the metered unit (seconds, GiB-seconds or bytes).
    pub quantity: u64,
    /// The unit `unit_price` is quoted in.
    pub unit: Unit,
    /// Price of one `unit`.
    pub unit_price: Money,
    /// `quantity × unit_price / unit.metered_per_unit()`, rounded half-up to the micro-dollar.
    pub amount: Money,
}

impl InvoiceLine {
    /// The quantity in priced units for people, to at most four decimals: `1.5 hours`, `0 GiB`.
    pub fn format_quantity(&self) -> String {
        let per_unit = i128::from(self.unit.metered_per_unit());
        let ten_thousandths = div_round(i128::from(self.quantity) * 10_000, per_unit).unsigned_abs();
        let whole = ten_thousandths / 10_000;
        let mut fraction = format!("{:04}", ten_thousandths % 10_000);
        while fraction.ends_with('0') {
            fraction.pop();
        }
        let number = if fraction.is_empty() {
            group_thousands(whole)
        } else {
            format!("{}.{fraction}", group_thousands(whole))
        };
        let label = self.unit.label();
        let plural = ten_thousandths != 10_000 && self.unit != Unit::Gib;
        format!("{number} {label}{}", if plural { "s" } else { "" })
    }
}

/// `quantity` metered units at `unit_price` per `unit`, rounded once.
fn line_amount(quantity: u64, unit: Unit, unit_price: Money) -> Result<Money, PricingOverflow> {
    // u64 × i64 always fits in i128, so the only overflow left is the final narrowing.
    let exact_numerator = i128::from(quantity) * i128::from(unit_price.micros());
    let micros = div_round(exact_numerator, i128::from(unit.metered_per_unit()));
    i64::try_from(micros).map(Money).map_err(|_| PricingOverflow)
}

/// Prices usage: one line per kind (one per VM size), in a fixed order (VM sizes small to large,
/// disk, public IPs, backbone, internet). The two bandwidth lines are always present, at $0.00 when
/// there was no traffic: the invoice shows that bandwidth is free instead of leaving it out.
pub fn rate(records: &[UsageRecord]) -> Result<Vec<InvoiceLine>, PricingOverflow> {
    let mut totals: BTreeMap<UsageKind, u128> = BTreeMap::new();
    totals.insert(UsageKind::BytesBackbone, 0);
    totals.insert(UsageKind::BytesInternet, 0);
    for record in records {
        let total = totals.entry(record.kind).or_insert(0);
        *total = total.saturating_add(u128::from(record.quantity));
    }
    totals
        .into_iter()
        .map(|(kind, quantity)| {
            let quantity = u64::try_from(quantity).map_err(|_| PricingOverflow)?;
            let unit = kind.unit();
            let unit_price = kind.unit_price();
            Ok(InvoiceLine {
                kind,
                description: kind.description(),
                quantity,
                unit,
                unit_price,
                amount: line_amount(quantity, unit, unit_price)?,
            })
        })
        .collect()
}

/// Priced lines and their total, which is always exactly the sum of the lines' amounts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawInvoice")]
pub struct Invoice {
    lines: Vec<InvoiceLine>,
    total: Money,
}

/// The serialized shape of [`Invoice`], checked on the way in.
#[derive(Deserialize)]
struct RawInvoice {
    lines: Vec<InvoiceLine>,
    total: Money,
}

/// An invoice whose total is not the sum of its lines.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
#[error("The invoice total does not match its lines.")]
pub struct InvoiceMismatch;

impl TryFrom<RawInvoice> for Invoice {
    type Error = InvoiceMismatch;
    fn try_from(raw: RawInvoice) -> Result<Self, Self::Error> {
        match Invoice::new(raw.lines) {
            Ok(invoice) if invoice.total == raw.total => Ok(invoice),
            _ => Err(InvoiceMismatch),
        }
    }
}

impl Invoice {
    /// Totals `lines`.
    pub fn new(lines: Vec<InvoiceLine>) -> Result<Self, PricingOverflow> {
        let total = Money::checked_sum(lines.iter().map(|line| line.amount)).ok_or(PricingOverflow)?;
        Ok(Self { lines, total })
    }

    /// Rates `records` ([`rate`]) and totals the lines.
    pub fn from_records(records: &[UsageRecord]) -> Result<Self, PricingOverflow> {
        Self::new(rate(records)?)
    }

    /// The lines, in [`rate`]'s order.
    pub fn lines(&self) -> &[InvoiceLine] {
        &self.lines
    }

    /// The sum of the lines' amounts.
    pub fn total(&self) -> Money {
        self.total
    }
}

/// Projects a month-to-date amount to the whole month at the same pace:
/// `mtd × month_secs / elapsed_secs`, rounded half-up to the micro-dollar.
///
/// With nothing elapsed there is no pace to extrapolate, and once the month is over the amount is
/// final, so both return `mtd` unchanged. The result saturates at [`Money::MAX`]/[`Money::MIN`]: it
/// is an estimate on a dashboard, and only absurd inputs get there.
pub fn project_month(mtd: Money, elapsed_secs: u64, month_secs: u64) -> Money {
    if elapsed_secs == 0 || elapsed_secs >= month_secs {
        return mtd;
    }
    // |i64| × u64 < 2¹²⁷, so the product fits in i128.
    let projected = div_round(
        i128::from(mtd.micros()) * i128::from(month_secs),
        i128::from(elapsed_secs),
    );
    i64::try_from(projected).map_or(if projected < 0 { Money::MIN } else { Money::MAX }, Money)
}

/// Seconds in a calendar month (`month` 1–12) of the proleptic Gregorian calendar, for
/// [`project_month`]; `None` for a month outside 1–12. Billing months are UTC, so no DST.
pub fn seconds_in_month(year: i32, month: u32) -> Option<u64> {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    Some(days * 86_400)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::{MemoryMib, SIZES, Vcpus};

    use proptest::prelude::*;

    const HOUR_MS: i64 = 3_600_000;

    fn period(start_ms: i64, len_ms: i64) -> UsagePeriod {
        UsagePeriod {
            start_unix_ms: start_ms,
            end_unix_ms: start_ms + len_ms,
        }
    }

    fn size(code: &str) -> VmSize {
        VmSize::named(code).unwrap()
    }

    fn vm_seconds(size: VmSize, seconds: u64) -> UsageRecord {
        UsageRecord {
            kind: UsageKind::VmHours { size },
            quantity: seconds,
            period: period(0, 0),
        }
    }

    fn line(invoice: &Invoice, kind: UsageKind) -> &InvoiceLine {
        invoice.lines().iter().find(|l| l.kind == kind).unwrap()
    }

    #[test]
    fn money_formats_for_people_and_exactly() {
        let m = Money::from_micros;
        assert_eq!(m(1_234_567).format_cents(), "$1.23");
        assert_eq!(m(1_234_567).format_precise(), "$1.234567");
        assert_eq!(m(1_234_567).to_string(), "$1.234567");
        assert_eq!(m(1_235_000).format_cents(), "$1.24", "half a cent rounds up");
        assert_eq!(m(5_000).format_cents(), "$0.01");
        assert_eq!(m(4_999).format_cents(), "$0.00");
        assert_eq!(m(12_500).format_precise(), "$0.0125");
        assert_eq!(m(1_500_000).format_precise(), "$1.50");
        assert_eq!(Money::ZERO.format_precise(), "$0.00");
        assert_eq!(Money::ZERO.format_cents(), "$0.00");
        assert_eq!(m(-1_235_000).format_cents(), "-$1.24");
        assert_eq!(m(-4_000).format_cents(), "$0.00", "no negative zero");
        assert_eq!(m(-250_000).format_precise(), "-$0.25");
        assert_eq!(m(1_234_567_890_000).format_cents(), "$1,234,567.89");
        assert_eq!(Money::MAX.format_cents(), "$9,223,372,036,854.78");
        assert_eq!(Money::MIN.format_precise(), "-$9,223,372,036,854.775808");
    }

    #[test]
    fn money_arithmetic_is_checked() {
        let m = Money::from_micros;
        assert_eq!(m(1).checked_add(m(2)), Some(m(3)));
        assert_eq!(Money::MAX.checked_add(m(1)), None);
        assert_eq!(Money::MIN.checked_sub(m(1)), None);
        assert_eq!(m(5).checked_sub(m(7)), Some(m(-2)));
        assert_eq!(m(i64::MAX / 2 + 1).checked_mul(2), None);
        assert_eq!(Money::checked_sum([m(1), m(2), m(3)]), Some(m(6)));
        assert_eq!(Money::checked_sum([Money::MAX, m(1)]), None);
        assert_eq!(serde_json::to_string(&m(12_500)).unwrap(), "12500");
    }

    #[test]
    fn hourly_rates_come_from_vcpus_and_memory_and_are_exact() {
        assert_eq!(hourly_rate(&size("xs")), Money::from_micros(17_500));
        assert_eq!(hourly_rate(&size("m")), Money::from_micros(130_000));
        assert_eq!(hourly_rate(&size("xl")).format_precise(), "$0.52");
        // Every memory size the type allows gives whole micro-dollars: no truncation hides in the
        // division by 1024.
        for mib in (MemoryMib::MIN..=MemoryMib::MAX).step_by(MemoryMib::STEP as usize) {
            assert_eq!(i64::from(mib) * MEMORY_GIB_HOUR.micros() % 1024, 0, "{mib} MiB");
        }
        let custom = VmSize::new(
            Vcpus::new(3).unwrap(),
            MemoryMib::new(1792).unwrap(),
            size("xs").disk_gib,
        );
        assert_eq!(hourly_rate(&custom), Money::from_micros(3 * 12_500 + 8_750));
    }

    #[test]
    fn monthly_estimates() {
        // xs: 730 h × $0.0175 + 20 GiB × $0.10 = $12.775 + $2.00.
        assert_eq!(
            vm_monthly_estimate(&size("xs"), false).format_precise(),
            "$14.775"
        );
        assert_eq!(vm_monthly_estimate(&size("xs"), false).format_cents(), "$14.78");
        // A public address adds 730 h × $0.005 = $3.65.
        assert_eq!(vm_monthly_estimate(&size("xs"), true).format_precise(), "$18.425");
        for named in &SIZES {
            assert!(vm_monthly_estimate(&named.size, true) > vm_monthly_estimate(&named.size, false));
        }
    }

    #[test]
    fn a_vm_running_ninety_minutes_costs_exactly_one_and_a_half_hours() {
        let record = UsageRecord::vm(size("m"), period(1_700_000_000_000, 90 * 60 * 1000));
        assert_eq!(record.quantity, 5400);
        let invoice = Invoice::from_records(&[record]).unwrap();
        let vm = line(&invoice, UsageKind::VmHours { size: size("m") });
        // 1.5 h × $0.13 = $0.195 exactly; shown to people as $0.20.
        assert_eq!(vm.amount, Money::from_micros(195_000));
        assert_eq!(vm.amount.format_cents(), "$0.20");
        assert_eq!(vm.unit_price.format_precise(), "$0.13");
        assert_eq!(vm.format_quantity(), "1.5 hours");
        assert_eq!(vm.description, "VM m (Kestrel): 4 vCPUs, 16 GiB memory");
        assert_eq!(invoice.total(), Money::from_micros(195_000));
    }

    #[test]
    fn each_line_is_rounded_once_half_up() {
        // xs for 18 s: 18 × 17,500 / 3,600 = 87.5 micro-dollars, which rounds up to 88.
        let once = Invoice::from_records(&[vm_seconds(size("xs"), 18)]).unwrap();
        assert_eq!(once.total(), Money::from_micros(88));
        // Two 18 s records make one 36 s line: 175 exactly, not 88 + 88.
        let twice = Invoice::from_records(&[vm_seconds(size("xs"), 18), vm_seconds(size("xs"), 18)]).unwrap();
        assert_eq!(twice.total(), Money::from_micros(175));
        // One GiB for one hour of a 730-hour month: 100,000 / 730 = 136.99 → 137.
        let disk = UsageRecord::disk(DiskGib::new(10).unwrap(), period(0, HOUR_MS));
        assert_eq!(disk.quantity, 36_000);
        let invoice = Invoice::from_records(&[disk]).unwrap();
        assert_eq!(
            line(&invoice, UsageKind::DiskGibHours).amount,
            Money::from_micros(1_370)
        );
    }

    #[test]
    fn bandwidth_lines_are_always_there_and_always_free() {
        let empty = Invoice::from_records(&[]).unwrap();
        assert_eq!(empty.lines().len(), 2);
        for kind in [UsageKind::BytesBackbone, UsageKind::BytesInternet] {
            let bandwidth = line(&empty, kind);
            assert_eq!(bandwidth.amount.format_cents(), "$0.00");
            assert_eq!(bandwidth.format_quantity(), "0 GiB");
        }
        let tebibyte = 1u64 << 40;
        let busy = Invoice::from_records(&[
            UsageRecord::bytes_internet(tebibyte, period(0, HOUR_MS)),
            UsageRecord::bytes_backbone(u64::MAX, period(0, HOUR_MS)),
            UsageRecord::bytes_backbone(u64::MAX, period(HOUR_MS, HOUR_MS)),
        ])
        .unwrap_err();
        // Two records of u64::MAX bytes cannot be summed into one quantity; that is refused, not wrapped.
        assert_eq!(busy, PricingOverflow);
        let busy = Invoice::from_records(&[
            UsageRecord::bytes_internet(tebibyte, period(0, HOUR_MS)),
            UsageRecord::bytes_backbone(u64::MAX, period(0, HOUR_MS)),
        ])
        .unwrap();
        let internet = line(&busy, UsageKind::BytesInternet);
        assert_eq!(internet.format_quantity(), "1,024 GiB");
        assert_eq!(internet.amount, Money::ZERO);
        assert_eq!(busy.total(), Money::ZERO);
    }

    #[test]
    fn invoice_total_is_the_sum_of_its_lines() {
        let day = 24 * HOUR_MS;
        let records = [
            UsageRecord::vm(size("xs"), period(0, 3 * day + 17_123)),
            UsageRecord::vm(size("l"), period(0, 11 * HOUR_MS + 59_999)),
            UsageRecord::vm(size("xs"), period(5 * day, 7 * day)),
            UsageRecord::disk(size("xs").disk_gib, period(0, 10 * day)),
            UsageRecord::disk(size("l").disk_gib, period(0, 12 * HOUR_MS)),
            UsageRecord::public_ip(period(0, 10 * day)),
            UsageRecord::bytes_internet(123_456_789, period(0, day)),
        ];
        let invoice = Invoice::from_records(&records).unwrap();
        let sum: i64 = invoice.lines().iter().map(|l| l.amount.micros()).sum();
        assert_eq!(invoice.total().micros(), sum);
        let kinds: Vec<UsageKind> = invoice.lines().iter().map(|l| l.kind).collect();
        assert_eq!(
            kinds,
            vec![
                UsageKind::VmHours { size: size("xs") },
                UsageKind::VmHours { size: size("l") },
                UsageKind::DiskGibHours,
                UsageKind::PublicIpHours,
                UsageKind::BytesBackbone,
                UsageKind::BytesInternet,
            ]
        );
        // xs ran 10 days and 17 s (the 123 ms are dropped): 864,017 s.
        assert_eq!(line(&invoice, kinds[0]).quantity, 864_017);
        // Ten days of one public address: 240 h × $0.005 = $1.20.
        assert_eq!(
            line(&invoice, UsageKind::PublicIpHours).amount.format_precise(),
            "$1.20"
        );
    }

    #[test]
    fn invoices_check_their_total_when_deserialized() {
        let invoice = Invoice::from_records(&[vm_seconds(size("s"), 3600)]).unwrap();
        let json = serde_json::to_string(&invoice).unwrap();
        assert_eq!(serde_json::from_str::<Invoice>(&json).unwrap(), invoice);
        let tampered = json.replace(&format!("\"total\":{}", invoice.total().micros()), "\"total\":1");
        assert_ne!(tampered, json);
        assert!(serde_json::from_str::<Invoice>(&tampered).is_err());
    }

    #[test]
    fn large_usage_is_exact_and_absurd_usage_is_refused() {
        // 10,000 xl VMs for all of a 31-day month: 744 h × $0.52 × 10,000 = $3,868,800.
        let month = seconds_in_month(2026, 1).unwrap();
        let fleet = vm_seconds(size("xl"), 10_000 * month);
        let invoice = Invoice::from_records(&[fleet]).unwrap();
        assert_eq!(invoice.total(), Money::from_micros(3_868_800_000_000));
        assert_eq!(invoice.total().format_cents(), "$3,868,800.00");
        // The largest quantity priced at the largest rate neither wraps nor panics.
        assert_eq!(rate(&[vm_seconds(size("xl"), u64::MAX)]), Err(PricingOverflow));
        // Two lines that each fit (about $5.8 trillion each, same rate, different disks) but whose
        // sum does not.
        let xs = size("xs");
        let xs_bigger_disk = VmSize::new(xs.vcpus, xs.memory_mib, DiskGib::new(30).unwrap());
        let near_max = 1_200_000_000_000_000_000;
        let lines = rate(&[vm_seconds(xs, near_max), vm_seconds(xs_bigger_disk, near_max)]).unwrap();
        assert_eq!(lines[0].amount, lines[1].amount);
        assert_eq!(Invoice::new(lines), Err(PricingOverflow));
        // Disk usage saturates in the constructor rather than wrapping, and still prices in range.
        let forever = UsagePeriod {
            start_unix_ms: i64::MIN,
            end_unix_ms: i64::MAX,
        };
        let forever = UsageRecord::disk(DiskGib::new(4096).unwrap(), forever);
        assert_eq!(forever.quantity, u64::MAX);
        assert!(rate(&[forever]).is_ok());
    }

    #[test]
    fn periods_count_whole_seconds() {
        assert_eq!(period(0, 1_999).duration_secs(), 1);
        assert_eq!(period(10_000, -5_000).duration_secs(), 0);
        assert_eq!(UsageRecord::public_ip(period(0, HOUR_MS)).quantity, 3600);
        assert_eq!(
            UsagePeriod {
                start_unix_ms: i64::MIN,
                end_unix_ms: i64::MAX
            }
            .duration_secs(),
            u64::MAX / 1000
        );
    }

    #[test]
    fn month_projection() {
        let m = Money::from_micros;
        let month = seconds_in_month(2026, 4).unwrap();
        let ten_days = 10 * 86_400;
        // $10 in 10 of 30 days projects to $30.
        assert_eq!(project_month(m(10_000_000), ten_days, month), m(30_000_000));
        assert_eq!(project_month(m(1), 2, 3), m(2), "1.5 rounds up");
        assert_eq!(project_month(m(5_000_000), 0, month), m(5_000_000));
        assert_eq!(project_month(m(5_000_000), month, month), m(5_000_000));
        assert_eq!(project_month(m(5_000_000), month + 1, month), m(5_000_000));
        assert_eq!(project_month(Money::MAX, 1, u64::MAX), Money::MAX);
        assert_eq!(project_month(Money::MIN, 1, u64::MAX), Money::MIN);
        assert_eq!(project_month(m(-3_000_000), 1, 2), m(-6_000_000));
    }

    #[test]
    fn calendar_months() {
        assert_eq!(seconds_in_month(2024, 2), Some(29 * 86_400));
        assert_eq!(seconds_in_month(2025, 2), Some(28 * 86_400));
        assert_eq!(seconds_in_month(1900, 2), Some(28 * 86_400));
        assert_eq!(seconds_in_month(2000, 2), Some(29 * 86_400));
        assert_eq!(seconds_in_month(2026, 1), Some(31 * 86_400));
        assert_eq!(seconds_in_month(2026, 11), Some(30 * 86_400));
        assert_eq!(seconds_in_month(2026, 0), None);
        assert_eq!(seconds_in_month(2026, 13), None);
    }

    fn arb_record() -> impl Strategy<Value = UsageRecord> {
        let kind = prop_oneof![
            (0..SIZES.len()).prop_map(|i| UsageKind::VmHours { size: SIZES[i].size }),
            Just(UsageKind::DiskGibHours),
            Just(UsageKind::PublicIpHours),
            Just(UsageKind::BytesBackbone),
            Just(UsageKind::BytesInternet),
        ];
        // Up to a year of a 4 TiB disk per record keeps totals in range while exercising rounding.
        (kind, 0..=4096u64 * 366 * 86_400).prop_map(|(kind, quantity)| UsageRecord {
            kind,
            quantity,
            period: UsagePeriod {
                start_unix_ms: 0,
                end_unix_ms: 0,
            },
        })
    }

    proptest! {
        #[test]
        fn any_invoice_total_is_the_sum_of_its_lines(records in prop::collection::vec(arb_record(), 0..40)) {
            let invoice = Invoice::from_records(&records).unwrap();
            let sum: i128 = invoice.lines().iter().map(|l| i128::from(l.amount.micros())).sum();
            prop_assert_eq!(i128::from(invoice.total().micros()), sum);
            for line in invoice.lines() {
                // Each amount is the exact value rounded half-up: within half a micro-dollar.
                let exact_twice = 2 * i128::from(line.quantity) * i128::from(line.unit_price.micros());
                let per_unit = i128::from(line.unit.metered_per_unit());
                let error_twice = 2 * i128::from(line.amount.micros()) * per_unit - exact_twice;
                prop_assert!((-per_unit..=per_unit).contains(&error_twice));
                prop_assert!(error_twice != -per_unit, "a half is rounded up, not down");
            }
        }
    }
}
