//! The tenant's private network across zones, and each zone's internet breakout.

use crate::api::vm::{
    FirewallRuleCreate, FirewallRuleDelete, Rule, Subnet, Vm, firewall_rule_list, network_view, vm_list,
};
use crate::components::api_call::{ApiCall, firewall_rule_calls, live_calls};
use crate::components::form::{ChangeButton, FormToken};
use crate::components::form::{RowAction, SelectField, TextField, action_error};
use crate::components::page::{EmptyState, ListState, PageHeader};
use crate::error::AppError;
use leptos::prelude::*;
use meridian_core::zone::zone_label;

/// Subnets per zone and who holds which address, with the promise in plain words; per zone, the
/// public addresses and the firewall rules that let traffic in.
#[component]
pub fn NetworksPage() -> impl IntoView {
    let create = ServerAction::<FirewallRuleCreate>::new();
    let delete = ServerAction::<FirewallRuleDelete>::new();
    let network = Resource::new(|| (), |_| network_view());
    let rules = Resource::new(
        move || (create.version().get(), delete.version().get()),
        |_| firewall_rule_list(),
    );
    let vms = Resource::new(|| (), |_| vm_list());
    view! {
        <PageHeader title="Networks" description="Your private network, across every zone, and internet breakout." />
        <section class="card callout" id="how-it-works" aria-label="How your network works">
            <p><strong>"Private by default: "</strong>
                "your VMs in every zone reach each other over the backbone; nothing is reachable from the internet unless you open breakout."</p>
            <p>"There is nothing to configure: each zone you use gets its own subnet of your private range, and routing between zones is already done."</p>
        </section>
        <ListState load=move || network.get() is_empty=Vec::is_empty
            empty=|| view! {
                <EmptyState title="No subnets yet".to_owned()>
                    <p>"A zone gets its subnet when your first VM there is created. "
                        <a href="/vdcs">"Create a VDC"</a> " to begin."</p>
                </EmptyState>
            }
            items={move |subnets: Vec<Subnet>| subnets.into_iter()
                .map(|subnet| view! { <ZoneNetwork subnet rules vms create delete /> })
                .collect_view()} />
    }
}

#[component]
fn ZoneNetwork(
    subnet: Subnet,
    rules: Resource<Result<Vec<Rule>, AppError>>,
    vms: Resource<Result<Vec<Vm>, AppError>>,
    create: ServerAction<FirewallRuleCreate>,
    delete: ServerAction<FirewallRuleDelete>,
) -> impl IntoView {
    let heading = format!("{} — {}", zone_label(&subnet.zone), subnet.cidr);
    let zone = subnet.zone.clone();
    let error = action_error(create);
    let form_label = format!("Add a firewall rule in {}", subnet.zone);
    let id_zone = subnet.zone.clone();
    let id = move |name: &str| format!("fw-{id_zone}-{name}");
    let (zone_rules, zone_public, rules_zone) = (zone.clone(), zone.clone(), zone.clone());
    // The REST request and CloudStack command for the rule being filled in; CloudStack's goes on
    // a public address of the zone, if there is one.
    let (calls, show_calls) = live_calls(
        &["zone", "protocol", "port_from", "port_to", "source"],
        move |fields, origin| {
            let zone = fields.iter().find(|(n, _)| n == "zone").map(|(_, v)| v.clone());
            let address = vms
                .get_untracked()
                .and_then(Result::ok)
                .unwrap_or_default()
                .into_iter()
                .find(|vm| Some(&vm.zone) == zone.as_ref() && vm.public_ip.is_some())
                .map(|vm| vm.id.to_string());
            firewall_rule_calls(fields, origin, address.as_deref())
        },
    );
    view! {
        <section class="card" aria-label=heading.clone()>
            <h2>{heading.clone()}</h2>
            {if subnet.addresses.is_empty() {
                view! { <p>"No VM holds an address here right now."</p> }.into_any()
            } else {
                view! {
                    <table tabindex="0" class="table" aria-label=format!("Addresses in {}", subnet.zone)>
                        <thead><tr><th scope="col">"VM"</th><th scope="col">"Private IP"</th></tr></thead>
                        <tbody>
                            {subnet.addresses.into_iter().map(|(name, id, ip)| view! {
                                <tr><td><a href=format!("/vms/{id}")>{name}</a></td><td><code>{ip}</code></td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
            <h3>"Internet breakout"</h3>
            <p>{move || {
                let public: Vec<String> = vms.get().and_then(Result::ok).unwrap_or_default().into_iter()
                    .filter(|vm| vm.zone == zone_public)
                    .filter_map(|vm| Some(format!("{} ({})", vm.public_ip?, vm.name)))
                    .collect();
                if public.is_empty() {
                    "No public addresses here: nothing in this zone is reachable from the internet.".to_owned()
                } else {
                    format!("Public addresses: {}.", public.join(", "))
                }
            }}</p>
            <ListState quiet=true is_empty=Vec::is_empty
                load=move || rules.get().map(|all| all.map(|all| {
                    all.into_iter().filter(|r| r.zone == zone_rules).collect::<Vec<_>>()
                }))
                empty=|| view! { <p>"No inbound rules: the internet cannot reach any VM here, even with a public address."</p> }
                items={move |here: Vec<Rule>| view! {
                    <ul class="rules" aria-label=format!("Firewall rules in {}", rules_zone)>
                        {here.into_iter().map(|rule| view! {
                            <li>
                                <span>{rule.describe()}</span>
                                <RowAction action=delete hidden=vec![("id", rule.id.to_string())] text="Delete"
                                    label=format!("Delete rule {}", rule.describe()) />
                            </li>
                        }).collect_view()}
                    </ul>
                }} />
            <ActionForm action=create attr:aria-label=form_label attr:class="rule-form"
                on:input=show_calls on:change=show_calls><FormToken />
                <input type="hidden" name="zone" value=zone />
                <SelectField label="Protocol" name="protocol" id=id("protocol") server=error>
                    <option value="tcp">"TCP"</option><option value="udp">"UDP"</option><option value="icmp">"ICMP"</option>
                </SelectField>
                <TextField label="Port" name="port_from" id=id("from") inputmode="numeric" placeholder="443" server=error />
                <TextField label="To port (optional)" name="port_to" id=id("to") inputmode="numeric" server=error />
                <TextField label="Source CIDR" name="source" id=id("source") initial="0.0.0.0/0" with_form_errors=true server=error />
                <ChangeButton label="Add rule" />
                <ApiCall calls=calls.into() />
            </ActionForm>
        </section>
    }
}
