//! VDCs: the list, the create form (with a latency hint to the tenant's other zones), and one VDC.

use crate::api::vdc::{Vdc, VdcCreate, VdcDetail, vdc_list, vdc_view};
use crate::components::api_call::{ApiCall, live_calls, vdc_create_calls};
use crate::components::form::{ChangeButton, FormToken};
use crate::components::form::{FormAlert, SelectField, TextField, action_error};
use crate::components::page::{EmptyState, ListState, PageHeader, Properties};
use crate::components::vm_table::VmTable;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};
use meridian_core::backbone::{BACKBONE, Cut};
use meridian_core::residency::ResidencyPolicy;
use meridian_core::zone::{ZONES, ZoneId, zone_label};

/// "12 ms to London, 25 ms to Frankfurt" from `zone` to the tenant's other VDC zones, over the backbone.
fn latency_hint(zone: &str, others: &[Vdc]) -> Option<String> {
    let from = ZoneId::parse(zone).ok()?;
    let mut seen = Vec::new();
    let parts: Vec<String> = others
        .iter()
        .filter_map(|vdc| ZoneId::parse(&vdc.zone).ok())
        .filter(|to| {
            *to != from && !seen.contains(to) && {
                seen.push(*to);
                true
            }
        })
        .filter_map(|to| {
            let path = BACKBONE.path(from, to, &Cut::none())?;
            Some(format!("{:.0} ms to {}", path.modelled_rtt_ms, to.zone().city))
        })
        .collect();
    (!parts.is_empty()).then(|| format!("Round trip over the backbone (modelled): {}.", parts.join(", ")))
}

/// The VDC list and create form.
#[component]
pub fn VdcsPage() -> impl IntoView {
    let create = ServerAction::<VdcCreate>::new();
    let vdcs = Resource::new(move || create.version().get(), |_| vdc_list());
    let server = action_error(create);
    let (zone, set_zone) = signal(String::new());
    let residency = Resource::new(|| (), |_| crate::api::settings::residency_view());
    // The REST request and CloudStack command for what the form holds, as it is filled in.
    let (calls, show_calls) = live_calls(&["name", "zone"], vdc_create_calls);
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(vdc)) = create.value().get() {
            navigate(&format!("/vdcs/{}", vdc.id), Default::default());
        }
    });
    view! {
        <PageHeader title="VDCs" description="Your virtual data centres: one per zone you run in, all on your private network." />
        <section class="card" aria-labelledby="vdc-create-heading">
            <h2 id="vdc-create-heading">"Create a VDC"</h2>
            <ActionForm action=create attr:aria-label="Create VDC" attr:class="form-grid"
                on:input=show_calls on:change=show_calls><FormToken />
                <FormAlert server />
                <TextField label="Name" name="name" id="vdc-name"
                    hint="Lowercase letters, digits and hyphens, e.g. hk-prod." server />
                <SelectField label="Zone" name="zone" id="vdc-zone" server
                    on_change=move |value: String| set_zone.set(value)
                    hint=move || view! {
                        <Transition fallback=|| ()>
                        {move || {
                            let others = vdcs.get().and_then(Result::ok).unwrap_or_default();
                            latency_hint(&zone.get(), &others).unwrap_or_else(|| "Your private network reaches every zone; no set-up needed.".to_owned())
                        }}
                        </Transition>
                    }>
                    <option value="">"Choose a zone…"</option>
                    <Transition fallback=|| ()>
                    {move || {
                        // Zones outside the residency policy stay listed, greyed out, with the reason.
                        let policy = residency.get().and_then(Result::ok).and_then(|(stored, label)| {
                            ResidencyPolicy::parse(&stored).ok().map(|p| (p, label))
                        });
                        ZONES.iter().map(|z| {
                            let outside = policy.as_ref().filter(|(p, _)| !p.allows(z.id)).map(|(_, label)| label.clone());
                            let text = match &outside {
                                Some(label) => format!("{} ({}), {} — outside your residency policy ({label})", z.city, z.id, z.country),
                                None => format!("{} ({}), {}", z.city, z.id, z.country),
                            };
                            view! { <option value=z.id.as_str() disabled=outside.is_some()>{text}</option> }
                        }).collect_view()
                    }}
                    </Transition>
                </SelectField>
                <div class="form-actions">
                    <ChangeButton label="Create VDC" pending=Signal::derive(move || create.pending().get()) />
                </div>
            </ActionForm>
            <ApiCall calls=calls.into() />
        </section>
        <ListState load=move || vdcs.get() is_empty=Vec::is_empty
            empty=|| view! {
                <EmptyState title="No VDCs yet".to_owned()>
                    <p>"Create your first VDC above: pick any of the 16 zones. Your private network spans all of them already."</p>
                </EmptyState>
            }
            items={|list: Vec<Vdc>| view! {
                <table tabindex="0" class="table" aria-label="Your VDCs">
                    <thead><tr><th scope="col">"Name"</th><th scope="col">"Zone"</th></tr></thead>
                    <tbody>
                        {list.into_iter().map(|vdc| view! {
                            <tr>
                                <td><a href=format!("/vdcs/{}", vdc.id)>{vdc.name.clone()}</a></td>
                                <td>{zone_label(&vdc.zone)}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }} />
    }
}

/// One VDC: its zone, subnet and VMs.
#[component]
pub fn VdcPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let detail = Resource::new(id, vdc_view);
    view! {
        <ListState not_found=true load=move || detail.get()
            items={|detail: VdcDetail| {
                let new_vm = format!("/vms/new?vdc={}", detail.vdc.id);
                view! {
                    <leptos_meta::Title text=format!("VDC {}", detail.vdc.name) />
                    <header class="page-header page-header-actions">
                        <h1>"VDC " {detail.vdc.name.clone()}</h1>
                        <a class="button button-primary" href=new_vm>"Create VM here"</a>
                    </header>
                    <section class="card" aria-label="VDC properties">
                        <Properties label="VDC properties" rows=vec![
                            ("Zone", zone_label(&detail.vdc.zone)),
                            ("Private subnet", detail.subnet.clone().unwrap_or_else(|| "Assigned with the first VM".to_owned())),
                            ("Internet breakout", "Per VM, opt-in".to_owned()),
                        ] />
                    </section>
                    <h2>"VMs"</h2>
                    <VmTable vms=detail.vms.clone() empty="No VMs in this VDC yet: create one here." />
                }
            }} />
    }
}
