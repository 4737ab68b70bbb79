//! Billing server functions: a month's rated usage and, for this month, its projection.
#![expect(
    missing_docs,
    reason = "#[server] generates argument structs whose fields cannot carry doc comments"
)]

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
    /// True for a month that has ended: its invoice is final.
    pub closed: bool,
    /// Its hourly usage is still kept (the usage CSV has it); older months keep their sums.
    pub hourly_kept: bool,
    /// Every month with a bill, newest first.
    pub months: Vec<String>,
    /// The lines.
    pub lines: Vec<Line>,
    /// Total so far (equals the sum of the lines).
    pub total: String,
    /// The month's end if the VMs stay as they are now (a past month: its total).
    pub projected: String,
    /// What each VM cost, largest first.
    pub by_vm: Vec<VmLine>,
}

/// What one VM cost in the month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmLine {
    /// Its id: its page, while it exists.
    pub id: String,
    /// Its name, or what became of it.
    pub name: String,
    /// Its zone.
    pub zone: String,
    /// Destroyed since: no page to link to.
    pub destroyed: bool,
    /// Hours it ran ("12.5 hours").
    pub running: String,
    /// Its compute, disk and public address, to the cent.
    pub amount: String,
}

/// A month's charges: `month` ("2026-10"), or this month so far when empty.
#[server(prefix = "/fn", endpoint = "billing_view")]
pub async fn billing_view(#[server(default)] month: String) -> Result<Bill, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let now = meridian_control::now_ms();
    let (bill, months) = control
        .billing_view(&ctx, Some(month.as_str()).filter(|m| !m.is_empty()), now)
        .await?;
    Ok(Bill {
        closed: meridian_core::calendar::month_label(now) != bill.month,
        hourly_kept: bill.hourly_kept,
        months,
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
        by_vm: bill
            .by_vm
            .into_iter()
            .map(|vm| VmLine {
                name: vm.name.unwrap_or_else(|| "a deleted VM".to_owned()),
                running: hours(vm.running_secs),
                amount: vm.amount.format_cents(),
                id: vm.vm_id,
                zone: vm.zone,
                destroyed: vm.destroyed,
            })
            .collect(),
    })
}

/// Seconds as hours to a tenth, for people: "12.5 h".
#[cfg(feature = "ssr")]
fn hours(secs: u64) -> String {
    let tenths = secs.saturating_add(180) / 360;
    format!("{}.{} h", tenths / 10, tenths % 10)
}
