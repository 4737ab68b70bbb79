//! Prices and rating: integer money, the price list, and turning metered usage into an invoice.
//!
//! Money is an integer number of micro-dollars; nothing here touches floating point. Usage is metered
//! in whole small units (seconds, GiB-seconds, bytes) and priced per hour, GiB-month or GiB, and each
//! invoice line is rounded exactly once, half-up, to the micro-dollar. Summing rounded records instead
//! would let a bill drift with how often the meter happened to write.

mod invoice;
mod money;
mod price_list;
#[cfg(test)]
mod tests;
mod usage;

pub use invoice::{
    Invoice, InvoiceLine, InvoiceMismatch, PricingOverflow, Standing, project_unchanged, rate,
    seconds_in_month,
};
pub use money::Money;
pub use price_list::{
    BANDWIDTH_GIB, DEDICATED_PREMIUM_PERCENT, DISK_GIB_MONTH, Extras, HOURS_PER_MONTH, MEMORY_GIB_HOUR,
    PUBLIC_IPV4_HOUR, VCPU_HOUR, dedicated_premium, hourly_rate, vm_monthly_estimate, vm_price_text,
};
pub use usage::{HOURLY_USAGE_MONTHS, Unit, UsageKind, UsagePeriod, UsageRecord};

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
