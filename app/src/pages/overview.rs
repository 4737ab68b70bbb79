//! The overview: the tenant at a glance.

use crate::MeResource;
use crate::components::page::{EmptyState, PageHeader, Properties};
use leptos::prelude::*;

/// The landing page after log-in.
#[component]
pub fn Overview() -> impl IntoView {
    let me = expect_context::<MeResource>();
    view! {
        <PageHeader title="Overview" description="Your tenant at a glance." />
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || me.get().and_then(Result::ok).flatten().map(|me| view! {
                <section class="card" aria-labelledby="welcome-heading">
                    <h2 id="welcome-heading">"Welcome to " {me.tenant_name.clone()}</h2>
                    <Properties label="Your account" rows=vec![
                        ("Tenant", me.tenant_name.clone()),
                        ("Signed in as", me.email.clone()),
                        ("Role", me.role.as_str().to_owned()),
                    ] />
                </section>
            })}
        </Transition>
        <EmptyState title="Your resources will appear here".to_owned()>
            <p>
                "Virtual data centres and VMs are not built into Meridian yet. When they are, this page will "
                "show them by zone, with your spend and your (free) bandwidth."
            </p>
        </EmptyState>
    }
}
