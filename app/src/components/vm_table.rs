//! The VM table used by the VM list and the VDC page.

use crate::api::vm::Vm;
use crate::components::page::EmptyState;
use leptos::prelude::*;
use meridian_core::zone::zone_label;

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
) -> impl IntoView {
    if vms.is_empty() {
        return view! {
            <EmptyState title="No VMs".to_owned()>
                <p>{empty}</p>
            </EmptyState>
        }
        .into_any();
    }
    view! {
        <table tabindex="0" class="table" aria-label="VMs">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"State"</th>
                    <th scope="col">"Zone"</th>
                    <th scope="col">"Size"</th>
                    <th scope="col">"Private IP"</th>
                    <th scope="col">"Public IP"</th>
                </tr>
            </thead>
            <tbody>
                {vms.into_iter().map(|vm| view! {
                    <tr>
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
