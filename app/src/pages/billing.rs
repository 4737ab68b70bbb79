//! Billing: this month's charges from metered usage and the projection, past months' final
//! invoices, and CSV downloads of each.

use crate::api::billing::{Bill, billing_view};
use crate::components::page::{ListState, PageHeader};
use leptos::prelude::*;
use meridian_core::pricing::HOURLY_USAGE_MONTHS;

/// The billing page.
#[component]
pub fn BillingPage() -> impl IntoView {
    // Empty: this month so far.
    let month = RwSignal::new(String::new());
    let bill = Resource::new(move || month.get(), billing_view);
    view! {
        <PageHeader title="Billing" description="Pay as you go, by the hour. Bandwidth is never charged." />
        <ListState load=move || bill.get()
            items={move |bill: Bill| view! {
                <div class="field month-picker">
                    <label for="billing-month">"Month"</label>
                    <select id="billing-month" prop:value=bill.month.clone() on:change=move |ev| month.set(event_target_value(&ev))>
                        {bill.months.iter().enumerate().map(|(i, m)| view! {
                            <option value=m.clone()>{if i == 0 { format!("{m} (this month)") } else { m.clone() }}</option>
                        }).collect_view()}
                    </select>
                </div>
                {bill_view(bill)}
            }} />
    }
}

fn bill_view(bill: Bill) -> AnyView {
    let query = format!("?month={}", bill.month);
    let (headline, note) = if bill.closed {
        (
            format!("Invoice for {}", bill.month),
            "Final: the month has ended.",
        )
    } else {
        (
            format!("{} so far", bill.month),
            "So far, plus the rest of the month for your VMs as they are now: running ones by the hour, every disk and public address.",
        )
    };
    view! {
        <div class="tiles">
            <section class="card tile" aria-label=if bill.closed { "Invoice total" } else { "Month to date" }>
                <h2>{headline}</h2>
                <p class="tile-figure">{bill.total.clone()}</p>
            </section>
            <section class="card tile" aria-label="Projected">
                <h2>{if bill.closed { "Month total" } else { "Projected for the month" }}</h2>
                <p class="tile-figure">{bill.projected.clone()}</p>
                <p>{note}</p>
            </section>
            <section class="card tile" aria-label="Downloads">
                <h2>"Downloads"</h2>
                <p><a class="button button-secondary" href=format!("/billing/invoice.csv{query}") download>"Invoice (CSV)"</a>
                   {bill.hourly_kept.then(|| view! {
                       " " <a class="button button-secondary" href=format!("/billing/usage.csv{query}") download>"Usage (CSV)"</a>
                   })}</p>
                {(!bill.hourly_kept).then(|| view! {
                    <p>{format!("Hourly usage is kept for {HOURLY_USAGE_MONTHS} months; this month's is summed in its invoice.")}</p>
                })}
            </section>
        </div>
        <section class="card" aria-label=format!("Charges for {}", bill.month)>
            <h2>{format!("Charges for {}", bill.month)}</h2>
            <table tabindex="0" class="table" aria-label="Invoice lines">
                <thead><tr><th scope="col">"Item"</th><th scope="col">"Quantity"</th><th scope="col">"Unit price"</th><th scope="col">"Amount"</th></tr></thead>
                <tbody>
                    {bill.lines.into_iter().map(|l| view! {
                        <tr><td>{l.description}</td><td>{l.quantity}</td><td>{l.unit_price}</td><td>{l.amount}</td></tr>
                    }).collect_view()}
                    <tr class="total-row"><td colspan="3">"Total"</td><td>{bill.total}</td></tr>
                </tbody>
            </table>
            <p>{format!("Usage is metered to the second and rolled up per hour; the usage CSV lists every hour of the last {HOURLY_USAGE_MONTHS} months.")}</p>
        </section>
        <section class="card" aria-label="Charges by VM">
            <h2>"Charges by VM"</h2>
            {if bill.by_vm.is_empty() {
                view! { <p class="empty-state">"No VM has been charged this month."</p> }.into_any()
            } else {
                view! {
                    <div class="table-scroll">
                    <table tabindex="0" class="table" aria-label="Charges by VM">
                        <thead><tr><th scope="col">"VM"</th><th scope="col">"Zone"</th><th scope="col">"Running"</th><th scope="col">"Compute, disk and address"</th></tr></thead>
                        <tbody>
                            {bill.by_vm.into_iter().map(|vm| view! {
                                <tr>
                                    <td>{if vm.destroyed {
                                        view! { <span>{vm.name}" (destroyed)"</span> }.into_any()
                                    } else {
                                        view! { <a href=format!("/vms/{}", vm.id)>{vm.name}</a> }.into_any()
                                    }}</td>
                                    <td>{vm.zone}</td><td>{vm.running}</td><td>{vm.amount}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                }.into_any()
            }}
        </section>
    }
    .into_any()
}
