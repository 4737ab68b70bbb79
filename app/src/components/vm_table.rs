//! The VM table used by the VM list and the VDC page.

use crate::api::vm::Vm;
use crate::components::page::EmptyState;
use leptos::prelude::*;
use meridian_core::zone::zone_label;
use std::collections::BTreeSet;

/// Rows picked for a bulk action: a checkbox per row, sent with the form `form` (by the HTML
/// `form` attribute, so the table need not sit inside it), and the ids picked.
#[derive(Clone, Copy)]
pub struct Selection {
    /// The bulk action form's id.
    pub form: &'static str,
    /// The picked VMs' ids.
    pub picked: RwSignal<BTreeSet<String>>,
}

/// A VM's state as a badge people can tell apart at a glance.
#[component]
pub fn StateBadge(
    /// State name.
    state: String,
) -> impl IntoView {
    let class = format!("badge badge-state badge-{state}");
    view! { <span class=class>{state}</span> }
}

/// VMs in a table, or an empty state.
#[component]
pub fn VmTable(
    /// The VMs.
    vms: Vec<Vm>,
    /// What to say when there are none.
    empty: &'static str,
    /// Rows can be picked for a bulk action.
    #[prop(optional)]
    select: Option<Selection>,
) -> impl IntoView {
    if vms.is_empty() {
        return view! {
            <EmptyState title="No VMs".to_owned()>
                <p>{empty}</p>
            </EmptyState>
        }
        .into_any();
    }
    let ids: Vec<String> = vms.iter().map(|vm| vm.id.to_string()).collect();
    let all_picked = move || {
        select.is_some_and(|s| {
            s.picked
                .with(|picked| !ids.is_empty() && ids.iter().all(|id| picked.contains(id)))
        })
    };
    let shown_ids: Vec<String> = vms.iter().map(|vm| vm.id.to_string()).collect();
    let pick_all = move |ev: leptos::ev::Event| {
        if let Some(s) = select {
            let on = event_target_checked(&ev);
            s.picked.update(|picked| {
                for id in &shown_ids {
                    if on {
                        picked.insert(id.clone());
                    } else {
                        picked.remove(id);
                    }
                }
            });
        }
    };
    view! {
        <table tabindex="0" class="table" aria-label="VMs">
            <thead>
                <tr>
                    {select.map(|_| view! {
                        <th scope="col" class="pick">
                            <input type="checkbox" aria-label="Select every VM shown" prop:checked=all_picked
                                on:change=pick_all />
                        </th>
                    })}
                    <th scope="col">"Name"</th>
                    <th scope="col">"State"</th>
                    <th scope="col">"Zone"</th>
                    <th scope="col">"Size"</th>
                    <th scope="col">"Private IP"</th>
                    <th scope="col">"Public IP"</th>
                </tr>
            </thead>
            <tbody>
                {vms.into_iter().enumerate().map(|(i, vm)| view! {
                    <tr>
                        {select.map(|s| {
                            let id = vm.id.to_string();
                            let checked = id.clone();
                            let changed = id.clone();
                            view! {
                                <td class="pick">
                                    <input type="checkbox" name=format!("ids[{i}]") value=id form=s.form
                                        aria-label=format!("Select {}", vm.name)
                                        prop:checked=move || s.picked.with(|picked| picked.contains(&checked))
                                        on:change=move |ev| {
                                            let on = event_target_checked(&ev);
                                            s.picked.update(|picked| {
                                                if on { picked.insert(changed.clone()); } else { picked.remove(&changed); }
                                            });
                                        } />
                                </td>
                            }
                        })}
                        <td><a href=format!("/vms/{}", vm.id)>{vm.name.clone()}</a></td>
                        <td><StateBadge state=vm.state.clone() /></td>
                        <td>{zone_label(&vm.zone)}</td>
                        <td>{format!("{} vCPU, {} GiB, {} GiB disk", vm.vcpus, vm.memory_mib / 1024, vm.disk_gib)}</td>
                        <td><code>{vm.private_ip.clone().unwrap_or_else(|| "—".into())}</code></td>
                        <td><code>{vm.public_ip.clone().unwrap_or_else(|| "—".into())}</code></td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
