//! REST: this month's usage so far and the monthly invoices.

use super::{ApiResult, Caller, Page, Paging, ok};
use crate::AppState;
use axum::extract::{Path, State};
use meridian_control::billing::MonthBill;
use meridian_control::now_ms;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A month's invoice: complete for a past month, so far (with a projection) for this one.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Invoice {
    /// `YYYY-MM` (UTC).
    pub month: String,
    /// Whether the month is over (the invoice is final).
    pub is_final: bool,
    /// One line per kind of usage.
    pub lines: Vec<InvoiceLine>,
    /// The sum of the lines, in millionths of a US dollar.
    pub total_micro_usd: i64,
    /// The total at the month's end if your VMs stay as they are now: running ones by the
    /// hour, every disk and public address (a past month: its total).
    pub projected_micro_usd: i64,
    /// What each VM cost in the month (compute, disk, public address), largest first.
    pub by_vm: Vec<VmCharge>,
}

/// What one VM cost in a month.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VmCharge {
    /// The VM's id.
    pub vm_id: String,
    /// Its name; null once its record is gone.
    pub name: Option<String>,
    /// Its zone.
    pub zone: String,
    /// Whether it has been destroyed since.
    pub destroyed: bool,
    /// Seconds it ran in the month.
    pub running_seconds: u64,
    /// Its compute, disk and public address, in millionths of a US dollar.
    pub amount_micro_usd: i64,
}

/// One line of an invoice.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InvoiceLine {
    /// What was used.
    pub description: String,
    /// How much, in the metered unit (`unit`).
    pub quantity: u64,
    /// The metered unit: seconds, GiB-seconds or bytes.
    pub unit: String,
    /// The quantity in priced units, for people (`1.5 hours`).
    pub quantity_text: String,
    /// Price of one priced unit, in millionths of a US dollar (bandwidth: 0).
    pub unit_price_micro_usd: i64,
    /// The line's amount, in millionths of a US dollar.
    pub amount_micro_usd: i64,
}

fn invoice_of(bill: MonthBill, now: i64) -> Invoice {
    let is_final = meridian_core::calendar::month_bounds(now).0
        > meridian_core::calendar::parse_month(&bill.month).unwrap_or(now);
    Invoice {
        month: bill.month,
        is_final,
        lines: bill
            .invoice
            .lines()
            .iter()
            .map(|line| InvoiceLine {
                description: line.description.clone(),
                quantity: line.quantity,
                unit: line.unit.metered_label().to_owned(),
                quantity_text: line.format_quantity(),
                unit_price_micro_usd: line.unit_price.micros(),
                amount_micro_usd: line.amount.micros(),
            })
            .collect(),
        total_micro_usd: bill.invoice.total().micros(),
        projected_micro_usd: bill.projected.micros(),
        by_vm: bill
            .by_vm
            .into_iter()
            .map(|vm| VmCharge {
                vm_id: vm.vm_id,
                name: vm.name,
                zone: vm.zone,
                destroyed: vm.destroyed,
                running_seconds: vm.running_secs,
                amount_micro_usd: vm.amount.micros(),
            })
            .collect(),
    }
}

/// This month's usage so far, rated, with the projection to the month's end.
#[utoipa::path(get, path = "/api/v1/usage", tag = "billing",
    responses((status = 200, body = Invoice), (status = 401, body = super::ApiErrorBody)))]
pub async fn usage_view(state: State<AppState>, Caller(ctx): Caller) -> ApiResult<Invoice> {
    let now = now_ms();
    ok(invoice_of(state.control.billing_month(&ctx, now).await?, now))
}

/// The months you have an invoice for, newest first.
#[utoipa::path(get, path = "/api/v1/invoices", tag = "billing", params(Paging),
    responses((status = 200, body = Page<String>), (status = 401, body = super::ApiErrorBody)))]
pub async fn invoice_list(
    state: State<AppState>,
    Caller(ctx): Caller,
    paging: Paging,
) -> ApiResult<Page<String>> {
    ok(paging.page(state.control.billing_months(&ctx, now_ms()).await?)?)
}

/// One month's invoice.
#[utoipa::path(get, path = "/api/v1/invoices/{month}", tag = "billing", params(("month" = String, Path, description = "YYYY-MM")),
    responses((status = 200, body = Invoice), (status = 422, body = super::ApiErrorBody), (status = 404, body = super::ApiErrorBody)))]
pub async fn invoice_view(
    state: State<AppState>,
    Caller(ctx): Caller,
    Path(month): Path<String>,
) -> ApiResult<Invoice> {
    let now = now_ms();
    ok(invoice_of(
        state.control.billing_invoice(&ctx, &month, now).await?,
        now,
    ))
}
