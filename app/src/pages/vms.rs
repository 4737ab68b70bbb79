//! The VM list (with filters) and the create form.

use crate::api::vdc::{Vdc, vdc_list};
use crate::api::vm::{BulkOutcome, Vm, VmBulk, VmCreate, vm_list};
use crate::components::api_call::{ApiCall, form_fields, vm_create_calls};
use crate::components::form::{ChangeButton, FormToken};
use crate::components::form::{ChoiceError, FormAlert, SelectField, TextAreaField, TextField, action_error};
use crate::components::latency_budget::{Budget, LatencyBudgetFields};
use crate::components::page::{ListState, PageHeader};
use crate::components::vm_table::{Selection, VmTable};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use meridian_core::pricing::{
    DEDICATED_PREMIUM_PERCENT, Extras, PUBLIC_IPV4_HOUR, hourly_rate, vm_price_text,
};
use meridian_core::residency::ResidencyPolicy;
use meridian_core::resource::{BUILTIN_TEMPLATES, SIZES};
use meridian_core::zone::{ZONES, ZoneId, zone_label};

/// The VM form's fields, for the API call it shows.
const VM_FORM_FIELDS: [&str; 11] = [
    "vdc_id",
    "name",
    "template",
    "size",
    "breakout",
    "dedicated",
    "user_data",
    "anti_affinity_group",
    "ssh_key_ids[]",
    "latency_ms",
    "latency_of",
];

/// All the tenant's VMs, filterable by zone, state and VDC.
#[component]
pub fn VmsPage() -> impl IntoView {
    let vms = Resource::new(|| (), |_| vm_list());
    let vdcs = Resource::new(|| (), |_| vdc_list());
    let (vdc, set_vdc) = signal(String::new());
    let (zone, set_zone) = signal(String::new());
    let (state, set_state) = signal(String::new());
    let select = Selection {
        form: BULK_FORM,
        picked: RwSignal::new(Default::default()),
    };
    let bulk = ServerAction::<VmBulk>::new();
    let follow = RwSignal::new(0_u32);
    follow_bulk(bulk, vms, select, follow);
    keep_current(vms, follow);
    // What a filter hides is not acted on: a new filter starts a new selection.
    let set_zone = move |z: String| {
        select.picked.set(Default::default());
        set_zone.set(z);
    };
    let set_vdc = move |v: String| {
        select.picked.set(Default::default());
        set_vdc.set(v);
    };
    let set_state = move |st: String| {
        select.picked.set(Default::default());
        set_state.set(st);
    };
    let shown = move |all: Vec<Vm>| -> Vec<Vm> {
        all.into_iter()
            .filter(|vm| zone.get().is_empty() || vm.zone == zone.get())
            .filter(|vm| state.get().is_empty() || vm.state == state.get())
            .filter(|vm| vdc.get().is_empty() || vm.vdc_id.to_string() == vdc.get())
            .collect()
    };
    view! {
        <header class="page-header page-header-actions">
            <leptos_meta::Title text="VMs" />
            <h1>"Virtual machines"</h1>
            <a class="button button-primary" href="/vms/new">"Create VM"</a>
        </header>
        <BulkBar bulk select />
        // Both lists load before the page renders them: the VDC filter read its list on its own,
        // so the server could render it before that list arrived and the browser after, and the
        // page then failed to hydrate.
        <ListState load=move || match (vms.get(), vdcs.get()) {
                (Some(vms), Some(vdcs)) => Some(vms.map(|vms| (vms, vdcs.unwrap_or_default()))),
                _ => None,
            }
            items={move |(all, vdc_options): (Vec<Vm>, Vec<Vdc>)| {
                let mut zones: Vec<String> = all.iter().map(|vm| vm.zone.clone()).collect();
                zones.sort();
                zones.dedup();
                let empty = if all.is_empty() {
                    "You have no VMs yet. Create one: pick a VDC, a template and a size."
                } else {
                    "No VM matches these filters."
                };
                view! {
                    <div class="filters" role="group" aria-label="Filter VMs">
                        <label>"Zone "
                            <select on:change=move |ev| set_zone(event_target_value(&ev))>
                                <option value="">"All zones"</option>
                                {zones.into_iter().map(|z| view! { <option value=z.clone()>{zone_label(&z)}</option> }).collect_view()}
                            </select>
                        </label>
                        <label>"VDC "
                            <select on:change=move |ev| set_vdc(event_target_value(&ev))>
                                <option value="">"All VDCs"</option>
                                {vdc_options.into_iter()
                                    .map(|v| view! { <option value=v.id.to_string()>{v.name.clone()}</option> }).collect_view()}
                            </select>
                        </label>
                        <label>"State "
                            <select on:change=move |ev| set_state(event_target_value(&ev))>
                                <option value="">"All states"</option>
                                {["running", "stopped", "provisioning", "pending", "failed", "destroying"].into_iter()
                                    .map(|s| view! { <option value=s>{s}</option> }).collect_view()}
                            </select>
                        </label>
                    </div>
                    {move || view! { <VmTable vms=shown(all.clone()) empty=empty select /> }}
                }
            }} />
    }
}

/// The bulk action form's id: the VM table's checkboxes belong to it.
const BULK_FORM: &str = "vm-bulk";

/// The actions on the picked VMs: start, stop, reboot, and destroy behind one confirmation for
/// all; then what each VM did.
#[component]
fn BulkBar(bulk: ServerAction<VmBulk>, select: Selection) -> impl IntoView {
    let server = action_error(bulk);
    let count = move || select.picked.with(|picked| picked.len());
    let picked_text = move || match count() {
        0 => "Select VMs in the table to act on several at once.".to_owned(),
        1 => "1 VM selected".to_owned(),
        n => format!("{n} VMs selected"),
    };
    let destroy_text = move || match count() {
        1 => "Destroy 1 VM".to_owned(),
        n => format!("Destroy {n} VMs"),
    };
    let pending = Signal::derive(move || bulk.pending().get());
    view! {
        <ActionForm action=bulk attr:id=BULK_FORM attr:class="bulk-bar card" attr:aria-label="Act on selected VMs"><FormToken />
            <p class="bulk-count" aria-live="polite">{picked_text}</p>
            <div class="bulk-buttons" role="group" aria-label="Actions on the selected VMs">
                {[("start", "Start"), ("stop", "Stop"), ("reboot", "Reboot")].into_iter().map(|(value, text)| view! {
                    <button type="submit" name="action" value=value class="button button-secondary"
                        disabled=pending>{text}</button>
                }).collect_view()}
                <details class="bulk-destroy">
                    <summary class="button button-secondary">"Destroy…"</summary>
                    <div class="bulk-destroy-body">
                        <p>"Destroying a VM deletes its disk and releases its addresses. This cannot be undone."</p>
                        <TextField label="Type the number of selected VMs to confirm" name="confirm" id="bulk-confirm"
                            inputmode="numeric" server />
                        <button type="submit" name="action" value="destroy" class="button button-danger"
                            disabled=pending>{destroy_text}</button>
                    </div>
                </details>
            </div>
            <ChoiceError name="ids" also="action" server />
            <FormAlert server />
        </ActionForm>
        {move || bulk.value().get().and_then(Result::ok).map(|outcomes| view! { <BulkResults outcomes /> })}
    }
}

/// What a bulk action did to each VM: started (linked to the VM, whose page follows its job) or
/// skipped, and why.
#[component]
fn BulkResults(outcomes: Vec<BulkOutcome>) -> impl IntoView {
    let started = outcomes.iter().filter(|o| o.job_id.is_some()).count();
    let skipped = outcomes.len() - started;
    let vms = |n: usize| {
        if n == 1 {
            "1 VM".to_owned()
        } else {
            format!("{n} VMs")
        }
    };
    let summary = match (started, skipped) {
        (_, 0) => format!("Started on {}.", vms(started)),
        (0, _) => format!("Nothing started: {} skipped.", vms(skipped)),
        _ => format!("Started on {}; {} skipped.", vms(started), vms(skipped)),
    };
    let class = if skipped == 0 {
        "alert alert-success"
    } else {
        "alert alert-warning"
    };
    view! {
        <section class=class role="status" aria-label="What happened to each VM">
            <p><strong>{summary}</strong></p>
            <ul class="bulk-results">
                {outcomes.into_iter().map(|o| {
                    let what = match (&o.job_id, &o.error) {
                        (Some(_), _) => "started: its page shows the progress".to_owned(),
                        (None, Some(error)) => format!("skipped: {error}"),
                        (None, None) => "skipped".to_owned(),
                    };
                    view! { <li><a href=format!("/vms/{}", o.vm_id)>{o.name}</a>" — "{what}</li> }
                }).collect_view()}
            </ul>
        </section>
    }
}

/// After a bulk action: the selection cleared and the list read again; then the list is kept
/// current (see [`keep_current`]) for half a minute while the jobs move the VMs' states.
fn follow_bulk(bulk: ServerAction<VmBulk>, vms: VmsResource, select: Selection, follow: RwSignal<u32>) {
    Effect::new(move |_| {
        let Some(Ok(outcomes)) = bulk.value().get() else {
            return;
        };
        select.picked.set(Default::default());
        vms.refetch();
        if outcomes.iter().any(|o| o.job_id.is_some()) {
            follow.set(FOLLOW_TICKS);
        }
    });
}

/// The VM list as the page reads it.
type VmsResource = Resource<Result<Vec<Vm>, crate::error::AppError>>;

/// How often the list is read again while something in it moves.
const POLL: std::time::Duration = std::time::Duration::from_secs(2);
/// Reads after a bulk action: half a minute.
const FOLLOW_TICKS: u32 = 15;

/// Reads the list again every [`POLL`] while one of its VMs is on its way somewhere (being made
/// or destroyed) or `follow` has reads left (after a bulk action), so states change on the page
/// without a reload. In the browser only (effects do not run on the server).
fn keep_current(vms: VmsResource, follow: RwSignal<u32>) {
    Effect::new(move |_| {
        let tick = move || {
            let moving = vms.get_untracked().and_then(Result::ok).is_some_and(|list| {
                list.iter()
                    .any(|vm| matches!(vm.state.as_str(), "pending" | "provisioning" | "destroying"))
            });
            let left = follow.get_untracked();
            if left > 0 {
                follow.set(left - 1);
            }
            if moving || left > 0 {
                vms.refetch();
            }
        };
        if let Ok(handle) = set_interval_with_handle(tick, POLL) {
            on_cleanup(move || handle.clear());
        }
    });
}

/// What the form's "where" is chosen among: the VDCs, the VMs a budget may be measured from,
/// and the residency policy (none when it could not be read: the server checks it anyway).
#[derive(Clone)]
struct Where {
    vdcs: Vec<Vdc>,
    vms: Vec<Vm>,
    residency: Option<ResidencyPolicy>,
}

/// An option of the "where" select: disabled, with a short reason, when the residency policy or
/// the latency budget rules its zone out; with its round trip when a budget is set.
fn zone_option(
    value: String,
    label: String,
    zone: Option<ZoneId>,
    selected: bool,
    budget: Budget,
) -> impl IntoView {
    let verdict = move || zone.map(|z| budget.verdict(z));
    let outside = move || {
        let zone = zone?;
        budget
            .residency
            .with_value(|p| p.as_ref().filter(|p| !p.allows(zone)).map(ResidencyPolicy::label))
    };
    let text = move || match (verdict(), outside()) {
        (_, Some(policy)) => format!("{label} — outside your residency policy ({policy})"),
        (Some(Err(_)), None) => format!("{label} — ruled out"),
        (Some(Ok(Some(ms))), None) => format!("{label} — {ms:.1} ms"),
        _ => label.clone(),
    };
    view! { <option value=value selected=selected disabled=move || matches!(verdict(), Some(Err(_)))>{text}</option> }
}

/// The create form: VDC (hence zone), template, size with its price, breakout, extras, then create.
#[component]
pub fn VmNewPage() -> impl IntoView {
    let query = use_query_map();
    let preselected = query.read_untracked().get("vdc").unwrap_or_default();
    let vdcs = Resource::new(|| (), |_| vdc_list());
    // The tenant's VMs (a latency budget may be measured from one) and residency policy.
    let my_vms = Resource::new(|| (), |_| vm_list());
    let residency = Resource::new(|| (), |_| crate::api::settings::residency_view());
    let keys = Resource::new(|| (), |_| crate::api::ssh_key::ssh_key_list());
    let own_templates = Resource::new(|| (), |_| crate::api::template::template_list());
    let create = ServerAction::<VmCreate>::new();
    let server = action_error(create);
    let (size, set_size) = signal("s".to_owned());
    let (breakout, set_breakout) = signal(false);
    let (dedicated, set_dedicated) = signal(false);
    let (keys_chosen, set_keys_chosen) = signal(0_usize);
    // The REST request and CloudStack command for what the form holds, as it is filled in.
    let calls = RwSignal::new(None::<(String, String)>);
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = create.value().get() {
            navigate(&format!("/vms/{id}"), Default::default());
        }
    });
    let price = move || {
        let named = SIZES.iter().find(|s| s.code == size.get())?;
        Some(vm_price_text(
            1,
            &named.size,
            Extras {
                public_ip: breakout.get(),
                dedicated: dedicated.get(),
            },
        ))
    };
    view! {
        <PageHeader title="Create a VM" description="Pick where it runs, what it runs, and how big it is." />
        // A failure to read the VDCs reads as having none: every zone is offered (and the server
        // still checks); so does one to read the VMs or the residency policy.
        <ListState
            load=move || match (vdcs.get(), my_vms.get(), residency.get()) {
                (Some(list), Some(vms), Some(policy)) => Some(Ok(Where {
                    vdcs: list.unwrap_or_default(),
                    vms: vms.unwrap_or_default(),
                    residency: policy.ok().and_then(|(stored, _)| ResidencyPolicy::parse(&stored).ok()),
                })),
                _ => None,
            }
            items={move |place: Where| {
                let Where { vdcs: list, vms: own_vms, residency } = place;
                let preselected = preselected.clone();
                // Zones with none of the tenant's VDCs: choosing one makes its VDC.
                let new_zones: Vec<_> = ZONES
                    .iter()
                    .filter(|z| !list.iter().any(|vdc| vdc.zone == z.id.as_str()))
                    .map(|z| z.id)
                    .collect();
                let has_vdcs = !list.is_empty();
                let vdc_zones: Vec<(String, String)> = list.iter().map(|vdc| (vdc.id.to_string(), vdc.zone.clone())).collect();
                // The choice's zone, as it changes, for the budget's verdict on it.
                let first = list.first().map_or_else(
                    || new_zones.first().map(|z| format!("zone:{z}")).unwrap_or_default(),
                    |vdc| vdc.id.to_string(),
                );
                let chosen = RwSignal::new(if preselected.is_empty() { first } else { preselected.clone() });
                let budget = Budget::new(own_vms.clone(), residency.clone());
                let zone_of_choice = {
                    let vdc_zones = vdc_zones.clone();
                    move |choice: &str| match choice.strip_prefix("zone:") {
                        Some(zone) => ZoneId::parse(zone).ok(),
                        None => vdc_zones.iter().find(|(id, _)| id == choice).and_then(|(_, z)| ZoneId::parse(z).ok()),
                    }
                };
                let show_calls = move |ev: leptos::ev::Event| {
                    let Some(fields) = form_fields(&ev, &VM_FORM_FIELDS) else {
                        return;
                    };
                    let origin = window().location().origin().unwrap_or_default();
                    let key_names: Vec<(String, String)> = keys.get_untracked().and_then(Result::ok).unwrap_or_default()
                        .into_iter().map(|key| (key.id.to_string(), key.name)).collect();
                    let lookup = |pairs: &[(String, String)], id: &str| pairs.iter().find(|(k, _)| k == id).map(|(_, v)| v.clone());
                    calls.set(Some(vm_create_calls(&fields, &origin, |id| lookup(&vdc_zones, id), |id| lookup(&key_names, id))));
                };
                let show_calls_too = show_calls.clone();
                view! {
                    <ActionForm action=create attr:aria-label="Create VM" attr:class="wizard"
                        on:input=show_calls on:change=show_calls_too><FormToken />
                        <FormAlert server />
                        <fieldset class="card">
                            <legend>"1. Where"</legend>
                            <SelectField label="VDC or zone" name="vdc_id" id="vm-vdc" also="zone" server
                                on_change=Callback::new(move |value: String| chosen.set(value))
                                hint=|| "Your private network spans every zone: in a zone where you have no VDC, one named default-<zone> is made.">
                                {has_vdcs.then(|| view! {
                                    <optgroup label="Your VDCs">
                                        {list.into_iter().map(|vdc| {
                                            let selected = vdc.id.to_string() == preselected;
                                            let label = format!("{} — {}", vdc.name, zone_label(&vdc.zone));
                                            zone_option(vdc.id.to_string(), label, ZoneId::parse(&vdc.zone).ok(), selected, budget)
                                        }).collect_view()}
                                    </optgroup>
                                })}
                                <optgroup label="Other zones (a VDC is made)">
                                    {new_zones.into_iter().map(|zone| {
                                        let selected = format!("zone:{zone}") == preselected;
                                        zone_option(format!("zone:{zone}"), zone_label(zone.as_str()), Some(zone), selected, budget)
                                    }).collect_view()}
                                </optgroup>
                            </SelectField>
                            <LatencyBudgetFields budget server id_prefix="vm" chosen=Signal::derive(move || zone_of_choice(&chosen.get())) />
                            <TextField label="Name" name="name" id="vm-name"
                                hint="Also its hostname: lowercase letters, digits and hyphens." server />
                        </fieldset>
                        <fieldset class="card">
                            <legend>"2. Template"</legend>
                            <div class="choices">
                                {BUILTIN_TEMPLATES.iter().enumerate().map(|(i, t)| view! {
                                    <label class="choice">
                                        <input type="radio" name="template" value=t.slug checked=i == 1 />
                                        <span>{t.name}</span>
                                    </label>
                                }).collect_view()}
                                // In a transition of its own: a resource read here outside one can render
                                // differently on the server and in the browser, and then hydration fails.
                                <Transition fallback=|| ()>
                                {move || own_templates.get().and_then(Result::ok).unwrap_or_default().into_iter().map(|t| view! {
                                    <label class="choice">
                                        <input type="radio" name="template" value=t.id.to_string() />
                                        <span>{format!("{} (yours, on {})", t.name, t.base_name)}</span>
                                    </label>
                                }).collect_view()}
                                </Transition>
                            </div>
                            <ChoiceError name="template" server />
                        </fieldset>
                        <fieldset class="card">
                            <legend>"3. Size"</legend>
                            <div class="choices">
                                {SIZES.iter().map(|s| {
                                    let label = format!("{} ({}) — {} vCPU, {} GiB RAM, {} GiB disk — {}/h", s.code, s.name,
                                        s.size.vcpus.get(), s.size.memory_mib.get() / 1024, s.size.disk_gib.get(), hourly_rate(&s.size).format_precise());
                                    view! {
                                        <label class="choice">
                                            <input type="radio" name="size" value=s.code checked=s.code == "s"
                                                on:change=move |_| set_size.set(s.code.to_owned()) />
                                            <span>{label}</span>
                                        </label>
                                    }
                                }).collect_view()}
                            </div>
                            <ChoiceError name="size" also="disk_gib" server />
                        </fieldset>
                        <fieldset class="card">
                            <legend>"4. Network"</legend>
                            <p>"Your private network is already there: this VM gets an address in its zone's subnet and reaches all your other VMs, in every zone."</p>
                            <label class="choice">
                                <input type="checkbox" name="breakout" on:change=move |ev| set_breakout.set(event_target_checked(&ev)) />
                                <span>"Internet breakout: give it a public IP address ("{PUBLIC_IPV4_HOUR.format_precise()}"/h)"</span>
                            </label>
                        </fieldset>
                        <fieldset class="card">
                            <legend>"5. Access"</legend>
                            <Transition fallback=|| ()>
                            {move || keys.get().and_then(Result::ok).map(|list| if list.is_empty() {
                                // Adding a key opens in a new tab, so what is typed here stays.
                                view! {
                                    <p role="note">"No SSH keys yet: without one you reach this VM only through its console. "
                                        <a href="/keys" target="_blank" rel="noopener">"Add a key (opens a new tab)"</a>", then "
                                        <button type="button" class="button-link" on:click=move |_| keys.refetch()>"check again"</button>"."</p>
                                }.into_any()
                            } else {
                                view! {
                                    <div class="choices">
                                        {list.into_iter().enumerate().map(|(i, key)| view! {
                                            <label class="choice">
                                                <input type="checkbox" name=format!("ssh_key_ids[{i}]") value=key.id.to_string()
                                                    on:change=move |ev| set_keys_chosen.update(|n| {
                                                        if event_target_checked(&ev) { *n += 1 } else { *n = n.saturating_sub(1) }
                                                    }) />
                                                <span>{format!("SSH key {} ({})", key.name, key.fingerprint)}</span>
                                            </label>
                                        }).collect_view()}
                                    </div>
                                    {move || (keys_chosen.get() == 0).then(|| view! {
                                        <p class="field-hint" role="note">"No key chosen: you will reach this VM only through its console."</p>
                                    })}
                                }.into_any()
                            })}
                            </Transition>
                            <ChoiceError name="ssh_key_ids" server />
                        </fieldset>
                        <fieldset class="card">
                            <legend>"6. Extras"</legend>
                            <TextAreaField label="Cloud-config user data (optional)" name="user_data" id="vm-user-data"
                                rows=4 placeholder="#cloud-config" server />
                            <TextField label="Anti-affinity group (optional)" name="anti_affinity_group" id="vm-group"
                                hint="VMs in the same group run on different hosts." server />
                            <label class="choice">
                                <input type="checkbox" name="dedicated" on:change=move |ev| set_dedicated.set(event_target_checked(&ev)) />
                                <span>{format!("Dedicated host: no other tenant's VMs on the same host (+{DEDICATED_PREMIUM_PERCENT} % on the compute)")}</span>
                            </label>
                        </fieldset>
                        <section class="card summary" aria-label="Price">
                            <p><strong>{price}</strong></p>
                            <ChangeButton label="Create VM" pending=Signal::derive(move || create.pending().get()) />
                        </section>
                        <ApiCall calls=calls.into() />
                    </ActionForm>
                }
            }} />
    }
}
