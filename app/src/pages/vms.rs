//! The VM list (with filters) and the create form.

use crate::api::vdc::{Vdc, vdc_list};
use crate::api::vm::{Vm, VmCreate, vm_list};
use crate::components::api_call::{ApiCall, form_fields, vm_create_calls};
use crate::components::form::{ChangeButton, FormToken};
use crate::components::form::{ChoiceError, FormAlert, SelectField, TextAreaField, TextField, action_error};
use crate::components::page::{ListState, PageHeader};
use crate::components::vm_table::VmTable;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use meridian_core::pricing::{PUBLIC_IPV4_HOUR, hourly_rate, vm_price_text};
use meridian_core::resource::{BUILTIN_TEMPLATES, SIZES};
use meridian_core::zone::{ZONES, zone_label};

/// The VM form's fields, for the API call it shows.
const VM_FORM_FIELDS: [&str; 9] = [
    "vdc_id",
    "name",
    "template",
    "size",
    "breakout",
    "dedicated",
    "user_data",
    "anti_affinity_group",
    "ssh_key_ids[]",
];

/// All the tenant's VMs, filterable by zone, state and VDC.
#[component]
pub fn VmsPage() -> impl IntoView {
    let vms = Resource::new(|| (), |_| vm_list());
    let vdcs = Resource::new(|| (), |_| vdc_list());
    let (vdc, set_vdc) = signal(String::new());
    let (zone, set_zone) = signal(String::new());
    let (state, set_state) = signal(String::new());
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
                            <select on:change=move |ev| set_zone.set(event_target_value(&ev))>
                                <option value="">"All zones"</option>
                                {zones.into_iter().map(|z| view! { <option value=z.clone()>{zone_label(&z)}</option> }).collect_view()}
                            </select>
                        </label>
                        <label>"VDC "
                            <select on:change=move |ev| set_vdc.set(event_target_value(&ev))>
                                <option value="">"All VDCs"</option>
                                {vdc_options.into_iter()
                                    .map(|v| view! { <option value=v.id.to_string()>{v.name.clone()}</option> }).collect_view()}
                            </select>
                        </label>
                        <label>"State "
                            <select on:change=move |ev| set_state.set(event_target_value(&ev))>
                                <option value="">"All states"</option>
                                {["running", "stopped", "provisioning", "pending", "failed", "destroying"].into_iter()
                                    .map(|s| view! { <option value=s>{s}</option> }).collect_view()}
                            </select>
                        </label>
                    </div>
                    {move || view! { <VmTable vms=shown(all.clone()) empty=empty /> }}
                }
            }} />
    }
}

/// The create form: VDC (hence zone), template, size with its price, breakout, extras, then create.
#[component]
pub fn VmNewPage() -> impl IntoView {
    let query = use_query_map();
    let preselected = query.read_untracked().get("vdc").unwrap_or_default();
    let vdcs = Resource::new(|| (), |_| vdc_list());
    let keys = Resource::new(|| (), |_| crate::api::ssh_key::ssh_key_list());
    let own_templates = Resource::new(|| (), |_| crate::api::template::template_list());
    let create = ServerAction::<VmCreate>::new();
    let server = action_error(create);
    let (size, set_size) = signal("s".to_owned());
    let (breakout, set_breakout) = signal(false);
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
        Some(vm_price_text(1, &named.size, breakout.get()))
    };
    view! {
        <PageHeader title="Create a VM" description="Pick where it runs, what it runs, and how big it is." />
        // A failure to read the VDCs reads as having none: every zone is offered.
        <ListState
            load=move || vdcs.get().map(|result| Ok(result.unwrap_or_default()))
            items={move |list: Vec<Vdc>| {
                let preselected = preselected.clone();
                // Zones with none of the tenant's VDCs: choosing one makes its VDC.
                let new_zones: Vec<_> = ZONES
                    .iter()
                    .filter(|z| !list.iter().any(|vdc| vdc.zone == z.id.as_str()))
                    .map(|z| z.id)
                    .collect();
                let has_vdcs = !list.is_empty();
                let vdc_zones: Vec<(String, String)> = list.iter().map(|vdc| (vdc.id.to_string(), vdc.zone.clone())).collect();
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
                                hint=|| "Your private network spans every zone: in a zone where you have no VDC, one named default-<zone> is made.">
                                {has_vdcs.then(|| view! {
                                    <optgroup label="Your VDCs">
                                        {list.into_iter().map(|vdc| {
                                            let selected = vdc.id.to_string() == preselected;
                                            view! { <option value=vdc.id.to_string() selected=selected>{format!("{} — {}", vdc.name, zone_label(&vdc.zone))}</option> }
                                        }).collect_view()}
                                    </optgroup>
                                })}
                                <optgroup label="Other zones (a VDC is made)">
                                    {new_zones.into_iter().map(|zone| {
                                        let selected = format!("zone:{zone}") == preselected;
                                        view! { <option value=format!("zone:{zone}") selected=selected>{zone_label(zone.as_str())}</option> }
                                    }).collect_view()}
                                </optgroup>
                            </SelectField>
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
                                <input type="checkbox" name="dedicated" />
                                <span>"Dedicated host: no other tenant's VMs on the same host"</span>
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
