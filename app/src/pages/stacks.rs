//! Stacks: one-click multi-zone clusters, and one stack's live per-VM timeline with its stopwatch.

use crate::api::stack::{StackCreate, StackDelete, StackDetail, StackSummary, stack_list, stack_view};
use crate::components::api_call::{ApiCall, live_calls, stack_calls};
use crate::components::form::{ChangeButton, FormToken};
use crate::components::form::{ChoiceError, FormAlert, TextField, action_error};
use crate::components::latency_budget::{Budget, LatencyBudgetFields};
use crate::components::page::{EmptyState, ListState, PageHeader};
use crate::components::vm_table::StateBadge;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};
use meridian_core::residency::ResidencyPolicy;
use meridian_core::resource::SIZES;
use meridian_core::stack::STACK_TEMPLATES;
use meridian_core::zone::{ZoneId, zone_label};
use std::time::Duration;

/// The stack list and the create form.
#[component]
pub fn StacksPage() -> impl IntoView {
    let create = ServerAction::<StackCreate>::new();
    // The REST request for what the form holds, as it is filled in.
    let (calls, show_calls) = live_calls(&["template", "name"], stack_calls);
    let stacks = Resource::new(move || create.version().get(), |_| stack_list());
    let server = action_error(create);
    // A latency budget rules out the stacks with a zone too far; it may be measured from one of
    // the tenant's VMs, and the residency policy rules zones out too.
    let budget = Budget::new(Vec::new(), None);
    let my_vms = Resource::new(|| (), |_| crate::api::vm::vm_list());
    let residency = Resource::new(|| (), |_| crate::api::settings::residency_view());
    Effect::new(move |_| {
        if let Some(Ok(vms)) = my_vms.get() {
            budget.vms.set_value(vms);
        }
        if let Some(Ok((stored, _))) = residency.get() {
            budget.residency.set_value(ResidencyPolicy::parse(&stored).ok());
            // The verdicts read `ms`: touching it redraws them under the policy.
            budget.ms.update(|_| {});
        }
    });
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = create.value().get() {
            navigate(&format!("/stacks/{id}"), Default::default());
        }
    });
    view! {
        <PageHeader title="Stacks" description="Multi-zone clusters in one action, on your private network, one VM per host." />
        <section class="card" aria-labelledby="stack-create-heading">
            <h2 id="stack-create-heading">"Create a stack"</h2>
            <ActionForm action=create attr:aria-label="Create stack" attr:class="form-grid"
                on:input=show_calls on:change=show_calls><FormToken />
                <FormAlert server />
                <fieldset class="field stack-templates" aria-describedby="stack-template-error">
                    <legend>"Stack"</legend>
                    {STACK_TEMPLATES.iter().enumerate().map(|(i, t)| {
                        // Why the budget or the residency policy rules this stack out, if it does.
                        let ruled_out = move || {
                            let out: Vec<String> = t.zones.iter()
                                .filter_map(|(zone, _)| ZoneId::parse(zone).ok())
                                .filter_map(|zone| budget.verdict(zone).err())
                                .collect();
                            (!out.is_empty()).then(|| format!("Ruled out: {}", out.join(" ")))
                        };
                        view! {
                        <label class="choice stack-choice">
                            <input type="radio" name="template" value=t.slug checked=i == 0
                                disabled=move || ruled_out().is_some() />
                            <span><strong>{t.name}</strong><br />{t.description}
                                <br /><span class="muted">{format!("{} VMs, size {}", t.size_in_vms(), t.size)}</span>
                                <br /><span class="muted">{SIZES.iter().find(|s| s.code == t.size).map(|named| {
                                    meridian_core::pricing::vm_price_text(t.size_in_vms(), &named.size,
                                        meridian_core::pricing::Extras { public_ip: t.breakout, dedicated: false })
                                })}</span>
                                {move || ruled_out().map(|why| view! { <br /><span class="field-error">{why}</span> })}</span>
                        </label>
                    }}).collect_view()}
                    <ChoiceError name="template" id="stack-template-error" server />
                </fieldset>
                // A name is offered, so the demo's "one click" is one click; any other can be typed.
                <TextField label="Name" name="name" id="stack-name" initial="mongo-1".to_owned()
                    hint="Lowercase letters, digits and hyphens; members are called name-zone-n." server />
                <LatencyBudgetFields budget server id_prefix="stack" chosen=Signal::derive(|| None) />
                <div class="form-actions">
                    <ChangeButton label="Create stack" pending=Signal::derive(move || create.pending().get()) />
                </div>
                <ApiCall calls=calls.into() />
            </ActionForm>
        </section>
        <ListState load=move || stacks.get() is_empty=Vec::is_empty
            empty=|| view! {
                <EmptyState title="No stacks yet".to_owned()>
                    <p>"Pick a stack above: the MongoDB replica set spans Los Angeles, London and Berlin in one click."</p>
                </EmptyState>
            }
            items={|list: Vec<StackSummary>| view! {
                <table tabindex="0" class="table" aria-label="Your stacks">
                    <thead><tr><th scope="col">"Name"</th><th scope="col">"Stack"</th><th scope="col">"State"</th><th scope="col">"Spin-up"</th></tr></thead>
                    <tbody>
                        {list.into_iter().map(|s| view! {
                            <tr>
                                <td><a href=format!("/stacks/{}", s.id)>{s.name.clone()}</a></td>
                                <td>{s.template.clone()}</td>
                                <td>{s.state.clone()}</td>
                                <td>{s.spin_up.clone().unwrap_or_else(|| "—".to_owned())}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }} />
    }
}

/// One stack: stopwatch, per-VM per-step timeline, containers; refreshed every second while it
/// deploys or is being deleted.
#[component]
pub fn StackPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let delete = ServerAction::<StackDelete>::new();
    let tick = RwSignal::new(0_u32);
    let settled = RwSignal::new(false);
    Effect::new(move |_| {
        // In the browser only: follow the deployment until the stack settles.
        if let Ok(handle) = set_interval_with_handle(
            move || {
                if !settled.get_untracked() {
                    tick.update(|t| *t += 1);
                }
            },
            Duration::from_secs(1),
        ) {
            on_cleanup(move || handle.clear());
        }
    });
    let detail = Resource::new(
        move || (id(), tick.get(), delete.version().get()),
        |(id, ..)| stack_view(id),
    );
    Effect::new(move |_| {
        if let Some(Ok(d)) = detail.get() {
            settled.set(matches!(d.state.as_str(), "ready" | "failed" | "deleted"));
        }
    });
    view! {
        <ListState not_found=true load=move || detail.get()
            items={move |detail: StackDetail| stack_body(detail, delete)} />
    }
}

fn stack_body(detail: StackDetail, delete: ServerAction<StackDelete>) -> impl IntoView {
    let server = action_error(delete);
    let stopwatch = match detail.spin_up_s {
        Some(s) => format!("Up in {s:.1} s"),
        None if detail.state == "deploying" => format!("{:.1} s", detail.elapsed_s),
        None => "—".to_owned(),
    };
    let zones = if detail.simulated {
        "simulated zones"
    } else {
        "real VMs"
    };
    let compare = detail.spin_up_s.map(|s| {
        format!("Every node up in {s:.1} s, across its zones, on the tenant's private network ({zones}).")
    });
    // Deleting again is offered while deleting: it re-issues destroys that could not start.
    let can_delete = matches!(detail.state.as_str(), "ready" | "failed" | "deleting");
    let id = detail.id.clone();
    view! {
        <leptos_meta::Title text=format!("Stack {}", detail.name) />
        <header class="page-header page-header-actions">
            <h1>"Stack " {detail.name.clone()}</h1>
            <ActionForm action=delete attr:class="inline-form"><FormToken />
                <input type="hidden" name="id" value=id />
                <button type="submit" class="button button-danger" disabled=!can_delete
                    title=if can_delete { "Destroys every VM of the stack and the VDCs it made" } else { "Wait until the stack has finished deploying" }>
                    "Delete stack"
                </button>
            </ActionForm>
        </header>
        <FormAlert server />
        <div class="tiles">
            <section class="card tile" aria-label="Stopwatch">
                <h2>{detail.template.clone()}</h2>
                <p class="tile-figure" role="timer" aria-live="off">{stopwatch}</p>
                <p role="status">{format!("State: {}", detail.state)}</p>
            </section>
            {compare.map(|text| view! { <section class="card tile" aria-label="Spin-up"><h2>"Spin-up"</h2><p>{text}</p></section> })}
        </div>
        <section class="card" aria-labelledby="timeline-heading">
            <h2 id="timeline-heading">"Timeline"</h2>
            <p class="muted">"When each step of each VM finished, counted from the click; the VMs provision side by side."</p>
            <div class="table-scroll">
                <table tabindex="0" class="table timeline" aria-label="Timeline">
                    <thead><tr>
                        <th scope="col">"VM"</th>
                        {detail.steps.iter().map(|s| view! { <th scope="col">{s.clone()}</th> }).collect_view()}
                    </tr></thead>
                    <tbody>
                        {detail.members.iter().map(|m| view! {
                            <tr>
                                <th scope="row"><a href=format!("/vms/{}", m.id)>{m.name.clone()}</a></th>
                                {m.steps.iter().map(|c| {
                                    let text = match (c.status.as_str(), &c.at) {
                                        ("done", Some(at)) => format!("✓ {at}"),
                                        ("failed", _) => "✗ failed".to_owned(),
                                        ("undone", _) => "↶ undone".to_owned(),
                                        ("running", _) => "…".to_owned(),
                                        _ => String::new(),
                                    };
                                    view! { <td class=format!("step-{}", c.status)>{text}</td> }
                                }).collect_view()}
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
        {detail.connection.clone().map(|url| view! {
            <section class="card" aria-labelledby="connect-heading">
                <h2 id="connect-heading">"Connect"</h2>
                <p>"From any of your VMs, in any zone, over your private network:"</p>
                <pre tabindex="0" aria-label="Connection string"><code>{url}</code></pre>
            </section>
        })}
        <section class="card" aria-labelledby="members-heading">
            <h2 id="members-heading">"VMs and containers"</h2>
            <table tabindex="0" class="table" aria-label="Members">
                <thead><tr><th scope="col">"VM"</th><th scope="col">"Zone"</th><th scope="col">"State"</th><th scope="col">"Private IP"</th><th scope="col">"Containers"</th></tr></thead>
                <tbody>
                    {detail.members.into_iter().map(|m| view! {
                        <tr>
                            <td>{m.name.clone()}</td>
                            <td>{zone_label(&m.zone)}</td>
                            <td><StateBadge state=m.state.clone() /></td>
                            <td>{m.private_ip.clone().unwrap_or_else(|| "—".to_owned())}</td>
                            <td>{containers_text(&m.state, &m.containers)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

/// A member's containers for people. Before its VM first runs they have not started, which is
/// not the same as having stopped: they read "starts with the VM", not Docker's "exited".
fn containers_text(vm_state: &str, containers: &[crate::api::stack::ContainerRow]) -> String {
    if containers.is_empty() {
        return "—".to_owned();
    }
    let starting = matches!(vm_state, "pending" | "provisioning");
    containers
        .iter()
        .map(|c| {
            let state = if starting {
                "starts with the VM"
            } else {
                c.state.as_str()
            };
            format!("{} ({}): {state}", c.name, c.image)
        })
        .collect::<Vec<_>>()
        .join(", ")
}
