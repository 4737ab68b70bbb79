//! Residency evidence: every resource with its zone and country against the tenant's policy,
//! on screen and as a download for auditors.

use crate::api::settings::{EvidenceRow, residency_evidence};
use crate::components::page::{EmptyState, ListState, PageHeader};
use leptos::prelude::*;

/// The evidence page.
#[component]
pub fn ResidencyPage() -> impl IntoView {
    let evidence = Resource::new(|| (), |_| residency_evidence());
    view! {
        <PageHeader title="Residency evidence" description="Where every resource of yours is, and whether that is inside your policy." />
        <ListState load=move || evidence.get()
            items={|(policy, at, rows): (String, String, Vec<EvidenceRow>)| {
                let outside = rows.iter().filter(|r| !r.within_policy).count();
                view! {
                    <section class="card" aria-label="Policy">
                        <p>"Policy: " <strong>{policy}</strong> " · drawn up " {at} " · "
                            <a href="/settings">"change the policy"</a></p>
                        <p role="status">{if outside == 0 && rows.len() == 1 {
                            "The one resource is inside the policy.".to_owned()
                        } else if outside == 0 {
                            format!("All {} resources are inside the policy.", rows.len())
                        } else {
                            format!("{outside} of {} resources are outside the policy.", rows.len())
                        }}</p>
                        <a class="button button-secondary" href="/residency/evidence.csv" download>"Download (CSV)"</a>
                    </section>
                    {if rows.is_empty() {
                        view! {
                            <EmptyState title="Nothing to place yet".to_owned()>
                                <p>"Create a VDC and VMs; each will be listed here with its zone and country."</p>
                            </EmptyState>
                        }.into_any()
                    } else {
                        view! {
                            <table tabindex="0" class="table" aria-label="Resources and where they are">
                                <thead><tr><th scope="col">"Resource"</th><th scope="col">"Name"</th><th scope="col">"Zone and country"</th><th scope="col">"Inside the policy"</th></tr></thead>
                                <tbody>
                                    {rows.into_iter().map(|r| view! {
                                        <tr>
                                            <td>{r.kind}</td>
                                            <td>{r.name}</td>
                                            <td>{r.place}</td>
                                            <td>{if r.within_policy { "yes" } else { "no" }}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    }}
                }
            }} />
    }
}
