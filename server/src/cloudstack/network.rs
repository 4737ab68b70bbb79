//! The network commands: networks (a VDC is the tenant's private network in one zone), public
//! addresses (one per VM, its id the VM's) and firewall rules (per zone).

use super::Params;
use super::catalog::zone_name;
use super::commands::Command;
use super::envelope::{CsError, job, list, unanswered};
use meridian_control::{Control, Error, OpContext};
use meridian_core::resource::FirewallRuleCreate;
use meridian_core::view::{FirewallRule, Vdc, Vm};
use serde_json::{Value, json};

/// Runs one of this group's commands.
pub(super) async fn run(
    control: &Control,
    ctx: &OpContext,
    spec: &Command,
    params: &Params,
) -> Result<Value, CsError> {
    match spec.name {
        "listNetworks" => networks(control, ctx, params).await,
        "createNetwork" => {
            let vdc = control
                .vdc_create(ctx, params.required("name")?, params.required("zoneid")?)
                .await?;
            let subnets = control.network_subnets(ctx).await?;
            Ok(json!({ "network": network_json(&vdc, &subnets) }))
        }
        "listPublicIpAddresses" => {
            let addresses = control
                .vm_list(ctx)
                .await?
                .iter()
                .filter(|vm| params.get("zoneid").is_none_or(|zone| zone == vm.zone))
                .filter(|vm| params.get("id").is_none_or(|id| id == vm.id.to_string()))
                .filter(|vm| {
                    params
                        .get("ipaddress")
                        .is_none_or(|wanted| vm.public_ip.as_deref() == Some(wanted))
                })
                .filter_map(ip_json)
                .collect();
            list("publicipaddress", addresses, params)
        }
        "associateIpAddress" => {
            let vm = control
                .vm_view(ctx, Error::id(params.required("virtualmachineid")?)?)
                .await?;
            if params.get("zoneid").is_some_and(|zone| zone != vm.zone) {
                return Err(CsError::param(format!("zoneid: the VM is in zone {}.", vm.zone)));
            }
            if params
                .get("networkid")
                .is_some_and(|vdc| vdc != vm.vdc_id.to_string())
            {
                return Err(CsError::param(format!(
                    "networkid: the VM is in network {}.",
                    vm.vdc_id
                )));
            }
            let started = control.vm_breakout_open(ctx, vm.id).await?;
            Ok(json!({ "id": vm.id, "jobid": started.job_id.to_string() }))
        }
        "disassociateIpAddress" => job(control
            .vm_breakout_close(ctx, Error::id(params.required("id")?)?)
            .await?
            .job_id),
        "createFirewallRule" => {
            // The rule is the zone's: it holds for the address's VM whether or not its address
            // has arrived yet.
            let address = control
                .vm_view(ctx, Error::id(params.required("ipaddressid")?)?)
                .await?;
            let start = params.get("startport").unwrap_or_default();
            let end = params.get("endport").unwrap_or(start);
            let source = params.get("cidrlist").unwrap_or("0.0.0.0/0");
            let protocol = params.required("protocol")?;
            let create = match FirewallRuleCreate::parse(&address.zone, protocol, start, end, source) {
                Ok(create) => create,
                Err(errors) => {
                    let target = FirewallRuleCreate::typed_text(&address.zone, protocol, start, end, source);
                    let refusal = control.audit_invalid(ctx, "firewall.rule_create", &target, errors);
                    return Err(refusal.await.into());
                }
            };
            let rule = control.firewall_rule_create(ctx, create).await?;
            Ok(json!({ "id": rule.id, "jobid": rule.id }))
        }
        "listFirewallRules" => {
            let zone = match params.get("ipaddressid") {
                Some(id) => Some(control.vm_view(ctx, Error::id(id)?).await?.zone),
                None => None,
            };
            let rules = control
                .firewall_rule_list(ctx)
                .await?
                .iter()
                .filter(|rule| params.get("id").is_none_or(|id| id == rule.id.to_string()))
                .filter(|rule| zone.as_ref().is_none_or(|zone| *zone == rule.zone))
                .map(firewall_json)
                .collect();
            list("firewallrule", rules, params)
        }
        "listPortForwardingRules" => list("portforwardingrule", Vec::new(), params),
        "listIpForwardingRules" => list("ipforwardingrule", Vec::new(), params),
        other => Err(unanswered(other)),
    }
}

fn network_json(vdc: &Vdc, subnets: &[(String, String)]) -> Value {
    let cidr = subnets
        .iter()
        .find(|(zone, _)| *zone == vdc.zone)
        .map(|(_, cidr)| cidr.clone());
    json!({
        "id": vdc.id, "name": vdc.name, "displaytext": format!("VDC {} in {}", vdc.name, zone_name(&vdc.zone)),
        "zoneid": vdc.zone, "zonename": zone_name(&vdc.zone), "cidr": cidr, "type": "Isolated",
        "state": "Implemented", "traffictype": "Guest", "ispersistent": true, "canusefordeploy": true,
        "networkofferingid": "meridian-private", "networkofferingname": "Private by default",
    })
}

async fn networks(control: &Control, ctx: &OpContext, params: &Params) -> Result<Value, CsError> {
    let subnets = control.network_subnets(ctx).await?;
    let items = control
        .vdc_list(ctx)
        .await?
        .iter()
        .filter(|vdc| params.get("id").is_none_or(|id| id == vdc.id.to_string()))
        .filter(|vdc| params.get("zoneid").is_none_or(|zone| zone == vdc.zone))
        .map(|vdc| network_json(vdc, &subnets))
        .collect();
    list("network", items, params)
}

/// A VM's public address as CloudStack shows one (its id is the VM's); none without one.
pub(super) fn ip_json(vm: &Vm) -> Option<Value> {
    let ip = vm.public_ip.as_ref()?;
    Some(json!({
        "id": vm.id, "ipaddress": ip, "state": "Allocated",
        "virtualmachineid": vm.id, "virtualmachinename": vm.name,
        "virtualmachinedisplayname": vm.name,
        "zoneid": vm.zone, "zonename": zone_name(&vm.zone),
        "associatednetworkid": vm.vdc_id, "isstaticnat": true,
        "issourcenat": false, "forvirtualnetwork": true,
    }))
}

pub(super) fn firewall_json(rule: &FirewallRule) -> Value {
    let mut value = json!({
        "id": rule.id, "protocol": rule.protocol, "cidrlist": rule.source, "state": "Active",
        "zoneid": rule.zone, "zonename": zone_name(&rule.zone), "traffictype": "Ingress",
    });
    if let (Some(start), Some(end)) = (rule.port_from, rule.port_to) {
        value["startport"] = json!(start);
        value["endport"] = json!(end);
    }
    value
}
