//! The tenant's private network across zones.

use crate::api::vm::network_view;
use crate::components::page::{EmptyState, PageHeader};
use crate::pages::vdcs::zone_label;
use leptos::prelude::*;

/// Subnets per zone and who holds which address, with the promise in plain words.
#[component]
pub fn NetworksPage() -> impl IntoView {
    let network = Resource::new(|| (), |_| network_view());
    view! {
        <PageHeader title="Networks" description="Your private network, across every zone." />
        <section class="card callout" aria-label="How your network works">
            <p><strong>"Private by default: "</strong>
                "your VMs in every zone reach each other over the backbone; nothing is reachable from the internet unless you open breakout."</p>
            <p>"There is nothing to configure: each zone you use gets its own subnet of your private range, and routing between zones is already done."</p>
        </section>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || network.get().map(|result| match result {
                Err(error) => view! { <div class="alert alert-error" role="alert">{error.to_string()}</div> }.into_any(),
                Ok(subnets) if subnets.is_empty() => view! {
                    <EmptyState title="No subnets yet".to_owned()>
                        <p>"A zone gets its subnet when your first VM there is created. "
                            <a href="/vdcs">"Create a VDC"</a> " to begin."</p>
                    </EmptyState>
                }.into_any(),
                Ok(subnets) => subnets.into_iter().map(|subnet| {
                    let heading = format!("{} — {}", zone_label(&subnet.zone), subnet.cidr);
                    view! {
                        <section class="card" aria-label=heading.clone()>
                            <h2>{heading.clone()}</h2>
                            {if subnet.addresses.is_empty() {
                                view! { <p>"No VM holds an address here right now."</p> }.into_any()
                            } else {
                                view! {
                                    <table class="table" aria-label=format!("Addresses in {}", subnet.zone)>
                                        <thead><tr><th scope="col">"VM"</th><th scope="col">"Private IP"</th></tr></thead>
                                        <tbody>
                                            {subnet.addresses.into_iter().map(|(name, id, ip)| view! {
                                                <tr><td><a href=format!("/vms/{id}")>{name}</a></td><td><code>{ip}</code></td></tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                }.into_any()
                            }}
                        </section>
                    }
                }).collect_view().into_any(),
            })}
        </Transition>
    }
}
