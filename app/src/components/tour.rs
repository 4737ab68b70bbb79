//! The sales demo's bar (what this tenant is, the guided tour, the reset) and the tour itself:
//! a few highlighted steps through the pitch, each on its page, skippable and restartable.

use crate::AuthActions;
use crate::components::form::FormToken;
use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate, use_query_map};

/// The tour: `(page, heading, what to look at, the id of the part of the page it describes)`.
const STEPS: [(&str, &str, &str, &str); 5] = [
    (
        "/",
        "A cloud in four regions",
        "Northwind runs VDCs in London, Frankfurt, New York and Hong Kong. Everything is pay-as-you-go by the hour.",
        "zones",
    ),
    (
        "/networks",
        "Private by default",
        "One private network spans every zone with no set-up: no IP planning, no VPNs. Only VMs with breakout have public addresses.",
        "how-it-works",
    ),
    (
        "/map",
        "The backbone, live",
        "Every link with its live latency, never faster than light in fibre. Try the path finder, then cut a link and watch the traffic reroute.",
        "path-finder-heading",
    ),
    (
        "/bandwidth",
        "$0.00 for bandwidth",
        "Two weeks of traffic between zones and to the internet, charged nothing, next to what it would cost elsewhere.",
        "elsewhere-heading",
    ),
    (
        "/stacks",
        "Nine nodes, three continents, one click",
        "Create the MongoDB replica set over Los Angeles, London and Berlin and watch the stopwatch.",
        "stack-create-heading",
    ),
];

/// The bar shown to the demo tenant, and the current tour step when the URL asks for one.
#[component]
pub fn DemoBar() -> impl IntoView {
    let auth = expect_context::<AuthActions>();
    let query = use_query_map();
    let location = use_location();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = auth.demo_reset.value().get() {
            navigate("/", Default::default());
        }
    });
    // After a reset the seeded VMs are built again: until they all run, the bar says how far
    // it has got (spend and traffic come back with them), asking every two seconds. Signals
    // set from the browser, not a resource: a resource made here, inside the shell's
    // transition, would be numbered differently on the server and in the browser, and every
    // page's own resources would then hydrate with the wrong data.
    let tick = RwSignal::new(0_u32);
    let rebuilding = RwSignal::new(None::<(usize, usize)>);
    Effect::new(move |_| {
        let resets = auth.demo_reset.version().get();
        tick.track();
        if resets == 0 {
            return;
        }
        leptos::task::spawn_local(async move {
            let progress = crate::api::vm::vm_list().await.ok().and_then(|list| {
                let running = list.iter().filter(|vm| vm.state == "running").count();
                (running < list.len()).then_some((running, list.len()))
            });
            rebuilding.set(progress);
            if progress.is_some() {
                set_timeout(
                    move || tick.update(|t| *t += 1),
                    std::time::Duration::from_secs(2),
                );
            }
        });
    });
    let step = move || {
        query
            .read()
            .get("tour")
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|n| (1..=STEPS.len()).contains(n))
    };
    // A step opens at what it describes: the router does not scroll to a link's fragment, so
    // the step does, once its page has rendered (a page whose code is still on its way renders
    // later: the step looks again every 50 ms, for up to 10 s).
    Effect::new(move |_| {
        let _page = location.pathname.get();
        if let Some(n) = step() {
            scroll_to_when_there(STEPS[n - 1].3, 200);
        }
    });
    // Type-erased: the shell's view is deep enough without this subtree's full type.
    view! {
        <section class="demo-bar" aria-label="Demo">
            <p><strong>"Demo tenant."</strong>" The zones are simulated: change anything, then reset it."</p>
            {move || rebuilding.get().map(|(running, all)| view! {
                <p class="demo-progress" role="status">
                    {format!("Putting the demo back: {running} of {all} VMs running. Spend and traffic return with them.")}
                    <progress max=all value=running aria-label="VMs running again"></progress>
                </p>
            })}
            <div class="demo-actions">
                <a class="button button-secondary" href="/?tour=1">"Guided tour"</a>
                // A reset throws away what the visitor did: it asks first (a disclosure, so it works
                // before the page is interactive too).
                <details class="demo-reset">
                    <summary class="button button-secondary">"Reset demo"</summary>
                    <div class="demo-reset-confirm">
                        <p>"Put the seeded demo back? What was changed in it is thrown away."</p>
                        <ActionForm action=auth.demo_reset attr:class="inline-form"><FormToken />
                            <button type="submit" class="button button-danger" disabled=move || auth.demo_reset.pending().get()>
                                {move || if auth.demo_reset.pending().get() { "Resetting…" } else { "Yes, reset the demo" }}
                            </button>
                        </ActionForm>
                    </div>
                </details>
            </div>
        </section>
        {move || step().map(|n| {
            let (_, title, text, target) = STEPS[n - 1];
            let here = location.pathname.get();
            // The next step opens at what it describes.
            let next = STEPS.get(n).map(|(href, _, _, at)| format!("{href}?tour={}#{at}", n + 1));
            view! {
                <section class="tour card" aria-label="Guided tour">
                    <p class="tour-count">{format!("Step {n} of {}", STEPS.len())}</p>
                    <h2>{title}</h2>
                    <p>{text}</p>
                    <p><a href=format!("#{target}")>"Show me"</a></p>
                    <div class="demo-actions">
                        {match next {
                            Some(href) => view! { <a class="button button-primary" href=href>"Next"</a> }.into_any(),
                            None => view! { <a class="button button-primary" href=here.clone()>"Finish the tour"</a> }.into_any(),
                        }}
                        <a class="button button-secondary" href=here>"Skip the tour"</a>
                    </div>
                </section>
            }
        })}
    }
    .into_any()
}

/// Scrolls to the element with this id once it is on the page, looking `tries` more times.
fn scroll_to_when_there(target: &'static str, tries: u32) {
    set_timeout(
        move || match document().get_element_by_id(target) {
            Some(element) => element.scroll_into_view(),
            None if tries > 0 => scroll_to_when_there(target, tries - 1),
            None => {}
        },
        std::time::Duration::from_millis(50),
    );
}
