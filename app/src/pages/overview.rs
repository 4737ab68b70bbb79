//! The overview: the tenant at a glance.

use crate::api::overview::{OverviewData, overview_view};
use crate::components::page::{EmptyState, ListState, PageHeader};
use leptos::prelude::*;
use meridian_core::zone::zone_label;

/// Bytes for people: "1.2 GiB".
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The landing page after log-in.
#[component]
pub fn Overview() -> impl IntoView {
    let data = Resource::new(|| (), |_| overview_view());
    view! {
        <PageHeader title="Overview" description="Your tenant at a glance." />
        <ListState load=move || data.get() is_empty={|data: &OverviewData| data.zones.is_empty()}
            empty=|| view! {
                <EmptyState title="Your resources will appear here".to_owned()>
                    <p>"You have no VDCs yet. A VDC is your data centre in one zone; your private network already spans all 16 zones."</p>
                    <p><a class="button button-primary" href="/vdcs">"Create your first VDC"</a></p>
                </EmptyState>
            }
            items={move |data: OverviewData| view! {
                <div class="tiles">
                    <section class="card tile" aria-label="Spend this month">
                        <h2>"Spend this month"</h2>
                        <p class="tile-figure">{data.spend_month_to_date.clone()}</p>
                        <p>"Projected for the month: " {data.spend_projected.clone()}</p>
                    </section>
                    <section class="card tile" aria-label="Bandwidth this month">
                        <h2>"Bandwidth this month"</h2>
                        <p class="tile-figure">{format_bytes(data.backbone_bytes + data.internet_bytes)}</p>
                        <p>"Backbone " {format_bytes(data.backbone_bytes)} ", internet " {format_bytes(data.internet_bytes)}
                            " — " <strong>"$0.00 charged"</strong></p>
                    </section>
                    <section class="card tile" aria-label="Quick actions">
                        <h2>"Quick actions"</h2>
                        <p><a class="button button-primary" href="/vms/new">"Create VM"</a>" "<a class="button button-secondary" href="/vdcs">"Create VDC"</a></p>
                    </section>
                </div>
                <section class="card" id="zones" aria-label="Resources by zone">
                    <h2>"Resources by zone"</h2>
                    <table tabindex="0" class="table" aria-label="Resources by zone">
                        <thead><tr><th scope="col">"Zone"</th><th scope="col">"VDCs"</th><th scope="col">"VMs"</th></tr></thead>
                        <tbody>
                            {data.zones.iter().map(|zone| {
                                let states = if zone.states.is_empty() {
                                    "none".to_owned()
                                } else {
                                    zone.states.iter().map(|(state, n)| format!("{n} {state}")).collect::<Vec<_>>().join(", ")
                                };
                                view! { <tr><td>{zone_label(&zone.zone)}</td><td>{zone.vdcs}</td><td>{states}</td></tr> }
                            }).collect_view()}
                        </tbody>
                    </table>
                </section>
                <section class="card" aria-label="Recent activity">
                    <h2>"Recent activity"</h2>
                    {if data.activity.is_empty() {
                        view! { <p>"Nothing yet."</p> }.into_any()
                    } else {
                        view! { <ul class="activity">{data.activity.iter().map(|a| view! { <li>{a.text.clone()}</li> }).collect_view()}</ul> }.into_any()
                    }}
                </section>
            }} />
    }
}
