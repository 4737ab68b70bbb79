//! The tenant's private network across zones, and each zone's internet breakout.

use crate::api::vm::{
    FirewallRuleCreate, FirewallRuleDelete, Subnet, firewall_rule_list, network_view, vm_list,
};
use crate::components::form::action_error;
use crate::components::page::{EmptyState, PageHeader};
use crate::pages::vdcs::zone_label;
use leptos::prelude::*;

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
        <section class="card callout" aria-label="How your network works">
            <p><strong>"Private by default: "</strong>
                "your VMs in every zone reach each other over the backbone; nothing is reachable from the internet unless you open breakout."</p>
            <p>"There is nothing to configure: each zone you use gets its own subnet of your private range, and routing between zones is already done."</p>
        </section>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || network.get().map(|result| match result {
                Err(error) => view! { <div class="alert alert-error" role="alert">{error.to_string()}</div> }.into_any(),
                Ok(subnets) if subnets.is_empty() => view! {
                    <EmptyState title="No subnets yet".to_owned()>
                        <p>"A zone gets its subnet when your first VM there is created. "
                            <a href="/vdcs">"Create a VDC"</a> " to begin."</p>
                    </EmptyState>
                }.into_any(),
                Ok(subnets) => subnets.into_iter().map(|subnet| view! { <ZoneNetwork subnet rules vms create delete /> })
                    .collect_view().into_any(),
            })}
        </Transition>
    }
}

#[component]
fn ZoneNetwork(
    subnet: Subnet,
    rules: Resource<Result<Vec<crate::api::vm::Rule>, crate::error::AppError>>,
    vms: Resource<Result<Vec<crate::api::vm::Vm>, crate::error::AppError>>,
    create: ServerAction<FirewallRuleCreate>,
    delete: ServerAction<FirewallRuleDelete>,
) -> impl IntoView {
    let heading = format!("{} — {}", zone_label(&subnet.zone), subnet.cidr);
    let zone = subnet.zone.clone();
    let error = action_error(create);
    let form_label = format!("Add a firewall rule in {}", subnet.zone);
    let id_zone = subnet.zone.clone();
    let id = move |name: &str| format!("fw-{id_zone}-{name}");
    let (zone_rules, zone_public) = (zone.clone(), zone.clone());
    view! {
        <section class="card" aria-label=heading.clone()>
            <h2>{heading.clone()}</h2>
            {if subnet.addresses.is_empty() {
                view! { <p>"No VM holds an address here right now."</p> }.into_any()
            } else {
                view! {
                    <table class="table" aria-label=format!("Addresses in {}", subnet.zone)>
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
            <Transition fallback=|| ()>
                {move || rules.get().and_then(Result::ok).map(|all| {
                    let here: Vec<_> = all.into_iter().filter(|r| r.zone == zone_rules).collect();
                    if here.is_empty() {
                        view! { <p>"No inbound rules: the internet cannot reach any VM here, even with a public address."</p> }.into_any()
                    } else {
                        view! {
                            <ul class="rules" aria-label=format!("Firewall rules in {}", zone_rules)>
                                {here.into_iter().map(|rule| view! {
                                    <li>
                                        <span>{rule.describe()}</span>
                                        <ActionForm action=delete attr:class="inline-form">
                                            <input type="hidden" name="id" value=rule.id.to_string() />
                                            <button type="submit" class="button button-secondary" aria-label=format!("Delete rule {}", rule.describe())>"Delete"</button>
                                        </ActionForm>
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    }
                })}
            </Transition>
            <ActionForm action=create attr:aria-label=form_label attr:class="rule-form">
                <input type="hidden" name="zone" value=zone />
                <div class="field">
                    <label for=id("protocol")>"Protocol"</label>
                    <select id=id("protocol") name="protocol">
                        <option value="tcp">"TCP"</option><option value="udp">"UDP"</option><option value="icmp">"ICMP"</option>
                    </select>
                </div>
                <div class="field">
                    <label for=id("from")>"Port"</label>
                    <input id=id("from") name="port_from" inputmode="numeric" placeholder="443" />
                    <p class="field-error" aria-live="polite">{move || error.get().and_then(|e| e.field("port_from"))}</p>
                </div>
                <div class="field">
                    <label for=id("to")>"To port (optional)"</label>
                    <input id=id("to") name="port_to" inputmode="numeric" />
                    <p class="field-error" aria-live="polite">{move || error.get().and_then(|e| e.field("port_to"))}</p>
                </div>
                <div class="field">
                    <label for=id("source")>"Source CIDR"</label>
                    <input id=id("source") name="source" value="0.0.0.0/0" />
                    <p class="field-error" aria-live="polite">{move || error.get().and_then(|e| e.field("source").or_else(|| e.form_message()))}</p>
                </div>
                <button type="submit" class="button button-primary">"Add rule"</button>
            </ActionForm>
        </section>
    }
}
