//! Bandwidth: the month's traffic by zone, link and VM, at $0.00; the fair-use allowance and its
//! alert; rate caps; and what the same traffic would cost on other clouds.

use crate::api::bandwidth::{
    BandwidthAlertSet, BandwidthCapRemove, BandwidthCapSet, BandwidthData, CapView, bandwidth_view,
};
use crate::api::vm::vm_list;
use crate::components::form::{ChangeButton, FormToken};
use crate::components::form::{FormAlert, RowAction, SelectField, TextField, action_error};
use crate::components::page::{EmptyState, ListState, PageHeader};
use crate::pages::overview::format_bytes;
use leptos::prelude::*;
use meridian_core::zone::{ZONES, zone_label};

/// The bandwidth page.
#[component]
pub fn BandwidthPage() -> impl IntoView {
    let cap_set = ServerAction::<BandwidthCapSet>::new();
    let cap_remove = ServerAction::<BandwidthCapRemove>::new();
    let alert_set = ServerAction::<BandwidthAlertSet>::new();
    let data = Resource::new(
        move || {
            (
                cap_set.version().get(),
                cap_remove.version().get(),
                alert_set.version().get(),
            )
        },
        |_| bandwidth_view(),
    );
    view! {
        <PageHeader title="Bandwidth" description="Every byte metered, none charged: traffic between your zones and to the internet is free." />
        <ListState load=move || data.get()
            items={move |data: BandwidthData| view! {
                {summary(&data)}
                {charts(&data)}
                {per_vm(&data)}
                {elsewhere(&data)}
            }} />
        <div class="map-tools">
            <CapForm action=cap_set remove=cap_remove data=data />
            <AlertForm action=alert_set data=data />
        </div>
    }
}

/// The month at a glance: $0.00 charged, the traffic, the allowance.
fn summary(data: &BandwidthData) -> AnyView {
    let used = data.backbone + data.internet;
    let fired = data.alert_fired.clone().zip(data.alert_pct).map(|(at, pct)| {
        view! {
            <div class="alert alert-warning" role="alert">
                {format!("Your traffic passed {pct} % of this month's fair-use allowance on {at}. It is still free; consider rate caps below.")}
            </div>
        }
    });
    view! {
        {fired}
        <div class="tiles">
            <section class="card tile" aria-label="Charged">
                <h2>{format!("Charged for bandwidth in {}", data.month)}</h2>
                <p class="tile-figure">"$0.00"</p>
                <p>"Bandwidth is never charged, inside the backbone or to the internet."</p>
            </section>
            <section class="card tile" aria-label="Traffic this month">
                <h2>"Traffic this month"</h2>
                <p class="tile-figure">{format_bytes(used)}</p>
                <p>{format!("Private backbone {}, internet {}", format_bytes(data.backbone), format_bytes(data.internet))}</p>
                <p class="muted">{if data.measured {
                    "Measured: counted at each VM's port on its host, the bytes your VMs sent."
                } else {
                    "Simulated: the simulated zones make this traffic up."
                }}</p>
            </section>
            <section class="card tile" aria-label="Fair-use allowance">
                <h2>"Fair-use allowance"</h2>
                <p class="tile-figure">{format!("{} %", data.used_pct)}</p>
                <div class="meter" role="progressbar" aria-label="Allowance used" aria-valuemin="0" aria-valuemax="100"
                    aria-valuenow=data.used_pct.min(100).to_string()>
                    <span style=format!("width: {}%", data.used_pct.min(100))></span>
                </div>
                <p>{format!("{} of {} a month, shared by all your VMs.", format_bytes(used), format_bytes(data.allowance))}</p>
            </section>
        </div>
    }
    .into_any()
}

/// Traffic over time by zone, and per backbone link, each with its figures as a table.
fn charts(data: &BandwidthData) -> AnyView {
    if data.zones.is_empty() {
        return view! {
            <EmptyState title="No traffic yet this month".to_owned()>
                <p>"Traffic is metered every minute from running VMs. VMs in two or more zones talk over the private backbone; VMs with breakout also reach the internet."</p>
            </EmptyState>
        }
        .into_any();
    }
    let zone_rows = data
        .zones
        .iter()
        .map(|(zone, bytes)| view! { <tr><td>{zone.clone()}</td><td>{format_bytes(*bytes)}</td></tr> })
        .collect_view();
    let link_rows = data
        .links
        .iter()
        .map(|(link, bytes)| view! { <tr><td>{link.clone()}</td><td>{format_bytes(*bytes)}</td></tr> })
        .collect_view();
    let zone_summary = format!(
        "Traffic sent per {} this month by VMs in {}, stacked by zone.",
        data.by_zone_column,
        data.zones
            .iter()
            .map(|(z, _)| z.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let link_summary = data.links.first().map_or_else(
        || "No backbone traffic yet.".to_owned(),
        |(link, bytes)| {
            format!(
                "Traffic per backbone link this month; the busiest is {link} with {}.",
                format_bytes(*bytes)
            )
        },
    );
    view! {
        <section class="card" aria-labelledby="by-zone-heading">
            <h2 id="by-zone-heading">{format!("By zone, {0} by {0}", data.by_zone_column)}</h2>
            <figure class="chart">
                {data.by_zone_svg.clone().map(|svg| view! { <div class="chart-svg" role="img" aria-label=zone_summary.clone() inner_html=svg></div> })}
                <figcaption>{zone_summary.clone()}</figcaption>
            </figure>
            <table tabindex="0" class="table" aria-label="Traffic by zone">
                <thead><tr><th scope="col">"Zone"</th><th scope="col">"This month"</th></tr></thead>
                <tbody>{zone_rows}</tbody>
            </table>
        </section>
        <section class="card" aria-labelledby="by-link-heading">
            <h2 id="by-link-heading">"By backbone link"</h2>
            <figure class="chart">
                {data.by_link_svg.clone().map(|svg| view! { <div class="chart-svg" role="img" aria-label=link_summary.clone() inner_html=svg></div> })}
                <figcaption>{link_summary.clone()}</figcaption>
            </figure>
            <details>
                <summary>"Every link's figure"</summary>
                <table tabindex="0" class="table" aria-label="Traffic by link">
                    <thead><tr><th scope="col">"Link"</th><th scope="col">"This month"</th></tr></thead>
                    <tbody>{link_rows}</tbody>
                </table>
            </details>
        </section>
    }
    .into_any()
}

/// Per VM, with its cap.
fn per_vm(data: &BandwidthData) -> AnyView {
    if data.vms.is_empty() {
        return ().into_any();
    }
    view! {
        <section class="card" aria-labelledby="by-vm-heading">
            <h2 id="by-vm-heading">"By VM"</h2>
            <table tabindex="0" class="table" aria-label="Traffic by VM">
                <thead><tr>
                    <th scope="col">"VM"</th><th scope="col">"Zone"</th><th scope="col">"Private backbone"</th>
                    <th scope="col">"Internet"</th><th scope="col">"Rate cap"</th><th scope="col">"Charged"</th>
                </tr></thead>
                <tbody>
                    {data.vms.iter().map(|vm| view! {
                        <tr>
                            <td>{if vm.id.is_empty() { vm.name.clone().into_any() } else { view! { <a href=format!("/vms/{}", vm.id)>{vm.name.clone()}</a> }.into_any() }}</td>
                            <td>{zone_label(&vm.zone)}</td>
                            <td>{format_bytes(vm.backbone)}</td>
                            <td>{format_bytes(vm.internet)}</td>
                            <td>{vm.cap.clone().unwrap_or_else(|| "none".to_owned())}</td>
                            <td>"$0.00"</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
    .into_any()
}

/// What the month's traffic would cost under published egress prices.
fn elsewhere(data: &BandwidthData) -> AnyView {
    view! {
        <section class="card" aria-labelledby="elsewhere-heading">
            <h2 id="elsewhere-heading">"What this traffic would cost elsewhere"</h2>
            <p>"This month's traffic priced by two published egress models. Meridian charges $0.00 for it."</p>
            <table tabindex="0" class="table" aria-label="Cost elsewhere">
                <thead><tr><th scope="col">"Model"</th><th scope="col">"Terms"</th><th scope="col">"Source"</th><th scope="col">"This month"</th></tr></thead>
                <tbody>
                    {data.elsewhere.iter().map(|row| view! {
                        <tr>
                            <td>{row.name.clone()}</td>
                            <td>{row.terms.clone()}</td>
                            <td><a href=row.source.clone() rel="noopener noreferrer" target="_blank">{row.source.clone()}</a>
                                <br /><span class="muted">{format!("prices as published, noted {}", row.noted)}</span></td>
                            <td>{row.cost.clone()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
    .into_any()
}

fn zone_options() -> impl IntoView {
    ZONES
        .iter()
        .map(|z| view! { <option value=z.id.as_str()>{format!("{} ({})", z.city, z.id)}</option> })
        .collect_view()
}

/// Set a rate cap on a VM or a zone pair; the caps in force, each removable.
#[component]
fn CapForm(
    /// Sets a cap.
    action: ServerAction<BandwidthCapSet>,
    /// Removes one.
    remove: ServerAction<BandwidthCapRemove>,
    /// The page's data (for the caps in force).
    data: Resource<Result<BandwidthData, crate::error::AppError>>,
) -> impl IntoView {
    let server = action_error(action);
    let scope = RwSignal::new("vm".to_owned());
    let vms = Resource::new(|| (), |_| vm_list());
    view! {
        <section class="card" aria-labelledby="caps-heading">
            <h2 id="caps-heading">"Rate caps"</h2>
            <p>"Cap what a VM sends, or what your VMs send between two zones. The network holds traffic to the cap."</p>
            <ActionForm action=action attr:aria-label="Set a rate cap" attr:class="form-grid"><FormToken />
                <FormAlert server />
                <fieldset class="field">
                    <legend>"Cap"</legend>
                    <label class="choice"><input type="radio" name="scope" value="vm" checked on:change=move |_| scope.set("vm".into()) />"A VM"</label>
                    <label class="choice"><input type="radio" name="scope" value="pair" on:change=move |_| scope.set("pair".into()) />"A zone pair"</label>
                </fieldset>
                <SelectField label="VM" name="vm_id" id="cap-vm" hidden=Signal::derive(move || scope.get() != "vm") server>
                    <option value="">"Choose a VM…"</option>
                    <Transition fallback=|| ()>
                        {move || vms.get().and_then(Result::ok).map(|list| list.into_iter().map(|vm| view! {
                            <option value=vm.id.to_string()>{format!("{} ({})", vm.name, vm.zone)}</option>
                        }).collect_view())}
                    </Transition>
                </SelectField>
                <SelectField label="Between" name="zone_a" id="cap-zone-a" hidden=Signal::derive(move || scope.get() != "pair") server>
                    {zone_options()}
                </SelectField>
                <SelectField label="And" name="zone_b" id="cap-zone-b" hidden=Signal::derive(move || scope.get() != "pair") server>
                    {zone_options()}
                </SelectField>
                <TextField label="Rate (Mb/s)" name="mbps" id="cap-mbps" inputmode="numeric" server />
                <div class="form-actions">
                    <ChangeButton label="Set cap" pending=Signal::derive(move || action.pending().get()) />
                </div>
            </ActionForm>
            <ListState quiet=true is_empty=Vec::is_empty
                load=move || data.get().map(|data| data.map(|data| data.caps))
                empty=|| view! { <p>"No caps: your VMs send as fast as they need."</p> }
                items={move |caps: Vec<CapView>| view! {
                    <table tabindex="0" class="table" aria-label="Rate caps in force">
                        <thead><tr><th scope="col">"Applies to"</th><th scope="col">"Rate"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                        <tbody>
                            {caps.into_iter().map(|cap| {
                                let label = format!("Remove the cap on {}", cap.applies_to);
                                view! {
                                    <tr>
                                        <td>{cap.applies_to.clone()}</td>
                                        <td>{cap.rate.clone()}</td>
                                        <td>
                                            <RowAction action=remove text="Remove" label
                                                hidden=vec![("scope", cap.scope.clone()), ("target", cap.target.clone())] />
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }} />
        </section>
    }
}

/// The alert at a share of the allowance.
#[component]
fn AlertForm(
    /// Sets or turns off the alert.
    action: ServerAction<BandwidthAlertSet>,
    /// The page's data (for the alert in force).
    data: Resource<Result<BandwidthData, crate::error::AppError>>,
) -> impl IntoView {
    let server = action_error(action);
    view! {
        <section class="card" aria-labelledby="alert-heading">
            <h2 id="alert-heading">"Allowance alert"</h2>
            <Transition fallback=|| ()>
                {move || data.get().and_then(Result::ok).map(|data| view! {
                    <p role="status">{match data.alert_pct {
                        Some(pct) => format!("Alert set at {pct} % of the allowance; it fires once a month, into your audit log and on this page."),
                        None => "No alert set.".to_owned(),
                    }}</p>
                })}
            </Transition>
            <ActionForm action=action attr:aria-label="Set the allowance alert" attr:class="form-grid"><FormToken />
                <FormAlert server />
                <TextField label="Alert at (% of the allowance)" name="threshold" id="alert-threshold" inputmode="numeric" server />
                <div class="form-actions">
                    <ChangeButton label="Set alert" pending=Signal::derive(move || action.pending().get()) />
                </div>
            </ActionForm>
            <ActionForm action=action attr:class="inline-form"><FormToken />
                <input type="hidden" name="threshold" value="off" />
                <ChangeButton label="Turn the alert off" class="button button-secondary" />
            </ActionForm>
        </section>
    }
}
