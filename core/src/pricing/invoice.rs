//! Rating: turning usage records into invoice lines, the invoice, and the period-end projection.

use super::{Money, Unit, UsageKind, UsagePeriod, UsageRecord, div_round, group_thousands};
use crate::resource::VmSize;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

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
    i64::try_from(micros)
        .map(Money::from_micros)
        .map_err(|_| PricingOverflow)
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

/// A VM as it stands now, for [`project_unchanged`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Standing {
    /// Its size.
    pub size: VmSize,
    /// Running (or on its way to running): its compute is charged.
    pub running: bool,
    /// It holds a public address.
    pub public_ip: bool,
    /// It runs on a dedicated host (the premium is charged while it runs).
    pub dedicated: bool,
}

/// The bill at the end of a period if nothing changes from now on: `so_far`, plus what `vms` cost
/// over `rest` as they stand (compute, and a dedicated host's premium, while running; disk and public address while a VM exists,
/// running or stopped), rated as metering will rate it. One projection for the overview, the
/// billing page and the API: a VM created today projects a month of it, not a pace averaged over
/// the days before it existed.
pub fn project_unchanged(
    so_far: Money,
    vms: &[Standing],
    rest: UsagePeriod,
) -> Result<Money, PricingOverflow> {
    let mut records = Vec::with_capacity(vms.len() * 3);
    for vm in vms {
        if vm.running {
            records.push(UsageRecord::vm(vm.size, rest));
            if vm.dedicated {
                records.push(UsageRecord::dedicated(vm.size, rest));
            }
        }
        records.push(UsageRecord::disk(vm.size.disk_gib, rest));
        if vm.public_ip {
            records.push(UsageRecord::public_ip(rest));
        }
    }
    let to_come = Invoice::from_records(&records)?.total();
    so_far.checked_add(to_come).ok_or(PricingOverflow)
}

/// Seconds in a calendar month (`month` 1–12) of the proleptic Gregorian calendar; `None` for a
/// month outside 1–12. Billing months are UTC, so no DST.
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
