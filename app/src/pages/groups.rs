//! Autoscaling groups: the list and the create form, and one group's page — its size over the
//! day, its members' health, what it decided and why, and its settings.

use crate::api::scaling::{
    ScalingGroup, ScalingGroupCreate, ScalingGroupDelete, ScalingGroupPage, ScalingGroupUpdate,
    scaling_group_list, scaling_group_view,
};
use crate::components::form::{
    ChangeButton, ChoiceError, FormAlert, FormToken, SelectField, TextField, action_error,
};
use crate::components::latency_budget::{Budget, LatencyBudgetFields};
use crate::components::page::{EmptyState, ListState, PageHeader};
use crate::components::vm_table::StateBadge;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};
use meridian_core::residency::ResidencyPolicy;
use meridian_core::resource::SIZES;
use meridian_core::zone::{ZONES, zone_label};
use std::time::Duration;

/// The groups and the form that makes one.
#[component]
pub fn GroupsPage() -> impl IntoView {
    let create = ServerAction::<ScalingGroupCreate>::new();
    let groups = Resource::new(move || create.version().get(), |_| scaling_group_list());
    // A latency budget may be measured from one of the tenant's VMs; the residency policy rules
    // zones out too.
    let my_vms = Resource::new(|| (), |_| crate::api::vm::vm_list());
    let residency = Resource::new(|| (), |_| crate::api::settings::residency_view());
    let server = action_error(create);
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = create.value().get() {
            navigate(&format!("/groups/{id}"), Default::default());
        }
    });
    view! {
        <PageHeader title="Scaling groups"
            description="A VM template kept between a fewest and a most members, spread over zones, scaled on CPU or network." />
        <ListState load=move || groups.get() is_empty=Vec::is_empty
            empty=|| view! {
                <EmptyState title="No scaling groups yet".to_owned()>
                    <p>"Make one below: say how many members at least and at most, and the CPU to hold them at."</p>
                </EmptyState>
            }
            items={|list: Vec<ScalingGroup>| view! {
                <table tabindex="0" class="table" aria-label="Your scaling groups">
                    <thead><tr><th scope="col">"Name"</th><th scope="col">"Members"</th><th scope="col">"Bounds"</th>
                        <th scope="col">"Target"</th><th scope="col">"Zones"</th></tr></thead>
                    <tbody>
                        {list.into_iter().map(|g| view! {
                            <tr>
                                <td><a href=format!("/groups/{}", g.id)>{g.name.clone()}</a>
                                    {g.deleting.then_some(" (being deleted)")}</td>
                                <td>{format!("{} (wants {})", g.members, g.desired)}</td>
                                <td>{format!("{}–{}", g.min, g.max)}</td>
                                <td>{target_text(&g)}</td>
                                <td>{g.zones.join(", ")}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }} />
        <section class="card" aria-labelledby="group-create-heading">
            <h2 id="group-create-heading">"Create a scaling group"</h2>
            <ActionForm action=create attr:aria-label="Create scaling group" attr:class="form-grid"><FormToken />
                <FormAlert server />
                <TextField label="Name" name="name" id="group-name" placeholder="web"
                    hint="Members are called name-1, name-2, …" server />
                <SelectField label="Template" name="template" id="group-template" server>
                    {meridian_core::resource::BUILTIN_TEMPLATES.iter().map(|t| view! {
                        <option value=t.slug selected=t.slug == "debian-12">{t.name}</option>
                    }).collect_view()}
                </SelectField>
                <SelectField label="Size" name="size" id="group-size" server>
                    {SIZES.iter().map(|s| view! {
                        <option value=s.code selected=s.code == "xs">{format!("{} ({}) — {} vCPU, {} GiB RAM", s.code, s.name,
                            s.size.vcpus.get(), s.size.memory_mib.get() / 1024)}</option>
                    }).collect_view()}
                </SelectField>
                <ListState quiet=true
                    load=move || match (my_vms.get(), residency.get()) {
                        (Some(vms), Some(policy)) => Some(Ok((
                            vms.unwrap_or_default(),
                            policy.ok().and_then(|(stored, _)| ResidencyPolicy::parse(&stored).ok()),
                        ))),
                        _ => None,
                    }
                    items={move |(vms, policy): (Vec<crate::api::vm::Vm>, Option<ResidencyPolicy>)| {
                        let budget = Budget::new(vms, policy);
                        view! { <GroupZones budget server /> }
                    }} />
                <TextField label="Fewest members" name="min" id="group-min" inputmode="numeric" initial="2".to_owned() server />
                <TextField label="Most members" name="max" id="group-max" inputmode="numeric" initial="5".to_owned() server />
                <SelectField label="Scale on" name="metric" id="group-metric" server>
                    <option value="cpu">"CPU (average % of the members' vCPUs)"</option>
                    <option value="network">"Network (KiB/s per member)"</option>
                </SelectField>
                <TextField label="Target" name="target" id="group-target" inputmode="numeric" initial="60".to_owned()
                    hint="Above it the group grows; below 70 % of it, it shrinks by one." server />
                <TextField label="Cooldown (seconds)" name="cooldown_secs" id="group-cooldown" inputmode="numeric"
                    initial="180".to_owned() hint="How long it holds after a change." server />
                <TextField label="Grace period (seconds)" name="grace_secs" id="group-grace" inputmode="numeric"
                    initial="300".to_owned() hint="A new member boots this long before it counts or may be replaced." server />
                <div class="form-actions">
                    <ChangeButton label="Create group" pending=Signal::derive(move || create.pending().get()) />
                </div>
            </ActionForm>
        </section>
    }
}

/// The zones to spread over: those the residency policy or the latency budget rules out are
/// disabled with the reason; the budget's fields below.
#[component]
fn GroupZones(budget: Budget, server: Signal<Option<crate::error::AppError>>) -> impl IntoView {
    view! {
        <fieldset class="field" aria-describedby="group-zones-error">
            <legend>"Zones (members are spread over them)"</legend>
            <div class="choices zone-choices">
                {ZONES.iter().enumerate().map(|(i, z)| {
                    let verdict = move || budget.verdict(z.id);
                    let label = move || match verdict() {
                        Err(_) => format!("{} — ruled out", zone_label(z.id.as_str())),
                        Ok(Some(ms)) => format!("{} — {ms:.1} ms", zone_label(z.id.as_str())),
                        Ok(None) => zone_label(z.id.as_str()),
                    };
                    view! {
                        <label class="choice">
                            <input type="checkbox" name=format!("zones[{i}]") value=z.id.as_str()
                                aria-label=zone_label(z.id.as_str()) disabled=move || verdict().is_err() />
                            <span>{label}</span>
                        </label>
                    }
                }).collect_view()}
            </div>
            <ChoiceError name="zones" id="group-zones-error" server />
        </fieldset>
        <LatencyBudgetFields budget server id_prefix="group" chosen=Signal::derive(|| None) />
    }
}

fn target_text(group: &ScalingGroup) -> String {
    if group.metric == "cpu" {
        format!("CPU {} %", group.target)
    } else {
        format!("network {} KiB/s", group.target)
    }
}

/// One group, refreshed every five seconds.
#[component]
pub fn GroupPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let update = ServerAction::<ScalingGroupUpdate>::new();
    let delete = ServerAction::<ScalingGroupDelete>::new();
    let tick = RwSignal::new(0_u32);
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(move || tick.update(|t| *t += 1), Duration::from_secs(5))
        {
            on_cleanup(move || handle.clear());
        }
    });
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            navigate("/groups", Default::default());
        }
    });
    let page = Resource::new(
        move || (id(), tick.get(), update.version().get()),
        |(id, ..)| scaling_group_view(id),
    );
    view! {
        <ListState not_found=true load=move || page.get()
            items={move |page: ScalingGroupPage| group_body(page, update, delete)} />
    }
}

fn group_body(
    page: ScalingGroupPage,
    update: ServerAction<ScalingGroupUpdate>,
    delete: ServerAction<ScalingGroupDelete>,
) -> impl IntoView {
    let ScalingGroupPage {
        detail,
        size_svg,
        size_summary,
    } = page;
    let group = detail.group.clone();
    let update_error = action_error(update);
    let delete_error = action_error(delete);
    let simulated = if detail.simulated { " (simulated)" } else { "" };
    // Without figures, the status below says why.
    let now = detail.value.map(|v| {
        if group.metric == "cpu" {
            format!("CPU{simulated} now {v} % against a {} % target.", group.target)
        } else {
            format!(
                "Network{simulated} now {v} KiB/s per member against {} KiB/s.",
                group.target
            )
        }
    });
    let (id_update, id_delete) = (group.id.clone(), group.id.clone());
    view! {
        <header class="page-header">
            <h1>"Scaling group " {group.name.clone()}</h1>
            <p class="page-description">{format!("{} members of {} ({}), {}–{} members, over {}.", group.members, group.template,
                group.size, group.min, group.max, group.zones.iter().map(|z| zone_label(z)).collect::<Vec<_>>().join(", "))}</p>
        </header>
        <section class="card" aria-labelledby="group-now-heading">
            <h2 id="group-now-heading">"Now"</h2>
            {now.map(|now| view! { <p>{now}</p> })}
            <p role="status">{detail.status.clone()}</p>
            <figure class="chart">
                {match size_svg {
                    Some(svg) => view! { <div class="chart-svg" role="img" aria-label=size_summary.clone() inner_html=svg></div> }.into_any(),
                    None => view! { <p class="chart-empty">"The chart starts with the group's first change."</p> }.into_any(),
                }}
                <figcaption>{size_summary.clone()}</figcaption>
            </figure>
        </section>
        <section class="card" aria-labelledby="group-members-heading">
            <h2 id="group-members-heading">{format!("Members ({} wanted)", group.desired)}</h2>
            {if detail.members.is_empty() {
                view! { <p>"No members right now."</p> }.into_any()
            } else {
                view! {
                    <table tabindex="0" class="table" aria-label="Members">
                        <thead><tr><th scope="col">"VM"</th><th scope="col">"Zone"</th><th scope="col">"State"</th>
                            <th scope="col">"Health"</th><th scope="col">"Private IP"</th></tr></thead>
                        <tbody>
                            {detail.members.iter().map(|m| view! {
                                <tr>
                                    <td><a href=format!("/vms/{}", m.vm.id)>{m.vm.name.clone()}</a></td>
                                    <td>{zone_label(&m.vm.zone)}</td>
                                    <td><StateBadge state=m.vm.state.clone() /></td>
                                    <td>{m.health.clone()}</td>
                                    <td>{m.vm.private_ip.clone().unwrap_or_else(|| "—".into())}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
        <section class="card" aria-labelledby="group-events-heading">
            <h2 id="group-events-heading">"What it did, and why"</h2>
            <ol class="events" aria-label="Scaling decisions">
                {detail.events.iter().rev().take(50).map(|e| view! {
                    <li><time>{meridian_core::calendar::format_utc(e.at)}</time>" — "{e.message.clone()}</li>
                }).collect_view()}
            </ol>
        </section>
        <section class="card" aria-labelledby="group-settings-heading">
            <h2 id="group-settings-heading">"Settings"</h2>
            <ActionForm action=update attr:aria-label="Change scaling group" attr:class="form-grid"><FormToken />
                <FormAlert server=update_error />
                <input type="hidden" name="id" value=id_update />
                <TextField label="Fewest members" name="min" id="group-set-min" inputmode="numeric" initial=group.min.to_string() server=update_error />
                <TextField label="Most members" name="max" id="group-set-max" inputmode="numeric" initial=group.max.to_string() server=update_error />
                <TextField label="Desired members" name="desired" id="group-set-desired" inputmode="numeric" initial=group.desired.to_string() server=update_error />
                <TextField label="Target" name="target" id="group-set-target" inputmode="numeric" initial=group.target.to_string() server=update_error />
                {detail.simulated.then(|| view! {
                    <TextField label="Simulated load (CPU %)" name="simulated_cpu" id="group-set-load" inputmode="numeric"
                        initial=group.simulated_cpu.map(|c| c.to_string()).unwrap_or_default()
                        hint="The simulator's members run at this CPU from now on; empty for its own daily curve."
                        server=update_error />
                })}
                <div class="form-actions"><ChangeButton label="Save" /></div>
            </ActionForm>
            <ActionForm action=delete attr:aria-label="Delete scaling group" attr:class="inline-form"><FormToken />
                <input type="hidden" name="id" value=id_delete />
                <FormAlert server=delete_error />
                <button type="submit" class="button button-danger">"Delete group and its members"</button>
            </ActionForm>
        </section>
    }
}
