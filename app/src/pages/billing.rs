//! Billing: this month's charges from metered usage, the projection, and CSV downloads.

use crate::api::billing::billing_view;
use crate::components::page::PageHeader;
use leptos::prelude::*;

/// The billing page.
#[component]
pub fn BillingPage() -> impl IntoView {
    let bill = Resource::new(|| (), |_| billing_view());
    view! {
        <PageHeader title="Billing" description="Pay as you go, by the hour. Bandwidth is never charged." />
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || bill.get().map(|result| match result {
                Err(error) => view! { <div class="alert alert-error" role="alert">{error.to_string()}</div> }.into_any(),
                Ok(bill) => view! {
                    <div class="tiles">
                        <section class="card tile" aria-label="Month to date">
                            <h2>{format!("{} so far", bill.month)}</h2>
                            <p class="tile-figure">{bill.total.clone()}</p>
                        </section>
                        <section class="card tile" aria-label="Projected">
                            <h2>"Projected for the month"</h2>
                            <p class="tile-figure">{bill.projected.clone()}</p>
                            <p>"At the pace of the month so far."</p>
                        </section>
                        <section class="card tile" aria-label="Downloads">
                            <h2>"Downloads"</h2>
                            <p><a class="button button-secondary" href="/billing/invoice.csv" download>"Invoice (CSV)"</a>
                               " " <a class="button button-secondary" href="/billing/usage.csv" download>"Usage (CSV)"</a></p>
                        </section>
                    </div>
                    <section class="card" aria-label="Charges this month">
                        <h2>"Charges this month"</h2>
                        <table class="table" aria-label="Invoice lines">
                            <thead><tr><th scope="col">"Item"</th><th scope="col">"Quantity"</th><th scope="col">"Unit price"</th><th scope="col">"Amount"</th></tr></thead>
                            <tbody>
                                {bill.lines.into_iter().map(|l| view! {
                                    <tr><td>{l.description}</td><td>{l.quantity}</td><td>{l.unit_price}</td><td>{l.amount}</td></tr>
                                }).collect_view()}
                                <tr class="total-row"><td colspan="3">"Total"</td><td>{bill.total}</td></tr>
                            </tbody>
                        </table>
                        <p>"Usage is metered to the second and rolled up per hour; past months' invoices are not shown yet."</p>
                    </section>
                }.into_any(),
            })}
        </Transition>
    }
}
