//! The signed-in layout: navigation, the tenant and user, and log out.

use crate::components::form::FormToken;
use crate::{AuthActions, MeResource};
use leptos::prelude::*;
use leptos_router::components::{A, Outlet};

/// The sections Meridian's navigation offers, in order.
const NAV: &[(&str, &str)] = &[
    ("/", "Overview"),
    ("/vdcs", "VDCs"),
    ("/vms", "VMs"),
    ("/stacks", "Stacks"),
    ("/groups", "Scaling"),
    ("/networks", "Networks"),
    ("/templates", "Templates"),
    ("/keys", "SSH keys"),
    ("/map", "Map"),
    ("/bandwidth", "Bandwidth"),
    ("/billing", "Billing"),
    ("/settings", "Settings"),
];

/// The layout around every signed-in page.
#[component]
pub fn Shell() -> impl IntoView {
    let me = expect_context::<MeResource>();
    let auth = expect_context::<AuthActions>();
    let who = move || me.get().and_then(Result::ok).flatten();
    view! {
        <div class="app">
            <SkipLink />
            <aside class="sidebar">
                <a class="brand" href="/" aria-label="Meridian home">
                    <svg class="brand-mark" viewBox="0 0 24 24" aria-hidden="true">
                        <circle cx="12" cy="12" r="10" fill="none" stroke="currentColor" stroke-width="2" />
                        <path d="M12 2 C6 8 6 16 12 22 M12 2 C18 8 18 16 12 22 M2 12 H22" fill="none" stroke="currentColor" stroke-width="1.5" />
                    </svg>
                    <span>"Meridian"</span>
                </a>
                <NavToggle>
                    <nav aria-label="Main">
                        <ul>
                            {NAV
                                .iter()
                                .map(|(href, label)| view! { <li><A href=*href exact=true>{*label}</A></li> })
                                .collect_view()}
                        </ul>
                    </nav>
                </NavToggle>
            </aside>
            <div class="main">
                <header class="topbar">
                    <Transition fallback=|| ()>
                        {move || who().map(|me| view! {
                            <div class="topbar-tenant">
                                <span class="topbar-label">"Tenant"</span>
                                <strong data-testid="tenant-name">{me.tenant_name.clone()}</strong>
                            </div>
                            <div class="topbar-user">
                                <span class="topbar-email">{me.email.clone()}</span>
                                {if me.inspection.is_some() {
                                    view! { <span class="badge badge-warning">"Support inspection, read-only"</span> }.into_any()
                                } else {
                                    view! { <span class="badge">{me.role.as_str()}</span> }.into_any()
                                }}
                                <ActionForm action=auth.logout attr:class="inline-form"><FormToken />
                                    <button type="submit" class="button button-secondary">"Log out"</button>
                                </ActionForm>
                            </div>
                        })}
                    </Transition>
                </header>
                <main id="content" tabindex="-1">
                    <Transition fallback=|| ()>
                        {move || who().and_then(|me| me.inspection).map(|inspection| view! { <InspectionBanner inspection /> })}
                        {move || who().filter(|me| me.demo).map(|_| view! { <crate::components::tour::DemoBar /> })}
                    </Transition>
                    <Outlet />
                </main>
            </div>
        </div>
    }
}

/// The first thing a keyboard reaches: it moves the focus to the page's content (a plain link to
/// `#content` before hydration, where the browser does the same).
#[component]
pub fn SkipLink() -> impl IntoView {
    let skip = move |event: leptos::ev::MouseEvent| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            if let Some(main) = document()
                .get_element_by_id("content")
                .and_then(|main| main.dyn_into::<web_sys::HtmlElement>().ok())
            {
                event.prevent_default();
                let _ = main.focus();
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = event;
    };
    view! { <a class="skip-link" href="#content" on:click=skip>"Skip to content"</a> }
}

/// The phone layout's menu switch around the navigation (`children`; on wider screens the switch
/// is hidden and the navigation always shows): a checkbox, so it works before the page is
/// interactive, whose label reads as a button; the navigation shows while it is ticked, and
/// following one of its links closes it.
#[component]
pub fn NavToggle(children: Children) -> impl IntoView {
    let toggle = NodeRef::<leptos::html::Input>::new();
    let close = move |_| {
        if let Some(toggle) = toggle.get() {
            toggle.set_checked(false);
        }
    };
    view! {
        <input type="checkbox" id="nav-toggle" class="nav-toggle" node_ref=toggle
            aria-controls="main-nav" aria-label="Menu" />
        <label for="nav-toggle" class="nav-toggle-label button button-secondary" aria-hidden="true">"Menu"</label>
        <div class="nav-fold" id="main-nav" on:click=close>{children()}</div>
    }
}

/// Shown on every page while Meridian staff inspect this tenant: who, why, since when, and that
/// nothing can be changed.
#[component]
fn InspectionBanner(inspection: crate::api::account::Inspection) -> impl IntoView {
    let end = ServerAction::<crate::api::staff::StaffInspectEnd>::new();
    Effect::new(move |_| {
        if let Some(Ok(tenant)) = end.value().get() {
            crate::components::load_page(&format!("/staff/tenants/{tenant}"));
        }
    });
    view! {
        <section class="inspect-banner" role="region" aria-label="Support inspection">
            <p>
                <strong>"Read-only support inspection"</strong>
                " by " {inspection.staff_email} " since " {meridian_core::calendar::format_utc(inspection.since)} ". "
                "Reason: " <q>{inspection.reason}</q> ". Every change is refused, and this visit is in the tenant's audit log."
            </p>
            <ActionForm action=end attr:class="inline-form"><FormToken />
                <button type="submit" class="button button-secondary">"End inspection"</button>
            </ActionForm>
        </section>
    }
}
