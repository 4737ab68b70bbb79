//! Billing server functions: this month's rated usage and its projection.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One invoice line, formatted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// What.
    pub description: String,
    /// How much, in priced units ("1.5 hours").
    pub quantity: String,
    /// Unit price, e.g. "$0.045 per hour".
    pub unit_price: String,
    /// Amount, to the cent.
    pub amount: String,
}

/// A month's charges.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bill {
    /// "2026-11".
    pub month: String,
    /// The lines.
    pub lines: Vec<Line>,
    /// Total so far (equals the sum of the lines).
    pub total: String,
    /// Projected at month end at the same pace.
    pub projected: String,
}

/// This month's charges so far.
#[server(prefix = "/fn", endpoint = "billing_view")]
pub async fn billing_view() -> Result<Bill, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let bill = control
        .billing_month(&ctx, meridian_control::store::now_ms())
        .await?;
    Ok(Bill {
        month: bill.month,
        lines: bill
            .invoice
            .lines()
            .iter()
            .map(|l| Line {
                description: l.description.clone(),
                quantity: l.format_quantity(),
                unit_price: format!("{} per {}", l.unit_price.format_precise(), l.unit.label()),
                amount: l.amount.format_cents(),
            })
            .collect(),
        total: bill.invoice.total().format_cents(),
        projected: bill.projected.format_cents(),
    })
}
