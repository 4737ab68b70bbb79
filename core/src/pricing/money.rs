//! Money: an integer number of micro-dollars, with checked sums and the ways it is shown.

use super::{MICROS_PER_DOLLAR, div_round, group_thousands};
use serde::{Deserialize, Serialize};
use std::fmt;

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
