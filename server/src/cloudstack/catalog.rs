//! The catalogue commands: zones, templates, service offerings (sizes), and what the API itself
//! offers (`listCapabilities`, `listApis`).

use super::Params;
use super::commands::{CLOUDSTACK_VERSION, COMMANDS, Command, PAGING};
use super::envelope::{CsError, list, unanswered};
use meridian_control::{Control, OpContext};
use meridian_core::resource::{BUILTIN_TEMPLATES, SIZES};
use meridian_core::zone::{ZONES, ZoneId, ZoneStatus};
use serde_json::{Value, json};

/// Runs one of this group's commands.
pub(super) async fn run(
    control: &Control,
    ctx: &OpContext,
    spec: &Command,
    params: &Params,
) -> Result<Value, CsError> {
    match spec.name {
        "listZones" => zones(params),
        "listTemplates" => templates(control, ctx, params).await,
        "listServiceOfferings" => offerings(params),
        "listCapabilities" => Ok(json!({ "capability": {
            "cloudstackversion": CLOUDSTACK_VERSION,
            "securitygroupsenabled": false,
            "userpublictemplateenabled": false,
            "supportELB": "false",
            "projectinviterequired": false,
            "allowusercreateprojects": false,
            "kvmsnapshotenabled": false,
            "apilimitinterval": 0,
            "apilimitmax": 0,
        } })),
        "listApis" => {
            let apis = COMMANDS
                .iter()
                .filter(|c| params.get("name").is_none_or(|name| name.eq_ignore_ascii_case(c.name)))
                .map(|c| {
                    let params: Vec<Value> = c
                        .params
                        .iter()
                        .chain(if c.name.starts_with("list") { PAGING.iter() } else { [].iter() })
                        .map(|(name, required, description)| json!({ "name": name, "required": required, "description": description, "type": "string" }))
                        .collect();
                    json!({ "name": c.name, "isasync": c.is_async, "description": c.description, "params": params, "response": [] })
                })
                .collect();
            list("api", apis, params)
        }
        other => Err(unanswered(other)),
    }
}

/// A zone's city, as CloudStack's `zonename`; the id itself if it names no zone.
pub(super) fn zone_name(zone: &str) -> String {
    ZoneId::parse(zone).map_or_else(|_| zone.to_owned(), |id| id.zone().city.to_owned())
}

fn zones(params: &Params) -> Result<Value, CsError> {
    let zones = ZONES
        .iter()
        .filter(|z| params.get("id").is_none_or(|id| id == z.id.as_str()))
        .filter(|z| params.get("available") != Some("true") || z.status != ZoneStatus::Maintenance)
        .map(|z| {
            json!({
                "id": z.id.as_str(), "name": z.city, "description": format!("{}, {}", z.city, z.country),
                "allocationstate": if z.status != ZoneStatus::Maintenance { "Enabled" } else { "Disabled" },
                "networktype": "Advanced", "securitygroupsenabled": false, "localstorageenabled": true,
                "country": z.country, "latitude": z.lat, "longitude": z.lon,
            })
        })
        .collect();
    list("zone", zones, params)
}

fn offerings(params: &Params) -> Result<Value, CsError> {
    let sizes = SIZES
        .iter()
        .filter(|s| params.get("id").is_none_or(|id| id == s.code))
        .map(|s| {
            let price = meridian_core::pricing::hourly_rate(&s.size);
            json!({
                "id": s.code, "name": s.code,
                "displaytext": format!("{} ({}): {}, {}/hour", s.code, s.name, s.size, price),
                "cpunumber": s.size.vcpus.get(), "cpuspeed": 2400, "memory": s.size.memory_mib.get(),
                "rootdisksize": s.size.disk_gib.get(), "storagetype": "local", "offerha": false,
                "iscustomized": false, "limitcpuuse": false,
            })
        })
        .collect();
    list("serviceoffering", sizes, params)
}

async fn templates(control: &Control, ctx: &OpContext, params: &Params) -> Result<Value, CsError> {
    let filter = params.required("templatefilter")?.to_ascii_lowercase();
    let (builtin, own) = match filter.as_str() {
        "featured" | "community" => (true, false),
        "self" | "selfexecutable" | "sharedexecutable" => (false, true),
        "executable" | "all" => (true, true),
        other => {
            return Err(CsError::param(format!(
                "templatefilter {other:?}: use featured, self, executable or all."
            )));
        }
    };
    let zone = params.get("zoneid");
    if let Some(zone) = zone {
        ZoneId::parse(zone).map_err(|e| CsError::param(format!("zoneid: {e}")))?;
    }
    let with_zone = |mut template: Value| {
        if let Some(zone) = zone {
            template["zoneid"] = json!(zone);
            template["zonename"] = json!(zone_name(zone));
        } else {
            template["crossZones"] = json!(true);
        }
        template
    };
    let mut items = Vec::new();
    if builtin {
        for t in &BUILTIN_TEMPLATES {
            items.push(with_zone(json!({
                "id": t.slug, "name": t.slug, "displaytext": t.name, "ostypename": t.name,
                "isready": true, "ispublic": true, "isfeatured": true, "passwordenabled": false,
                "format": "QCOW2", "hypervisor": "KVM", "size": u64::from(t.min_disk_gib.get()) << 30,
            })));
        }
    }
    if own {
        for t in control.template_list(ctx).await? {
            items.push(with_zone(json!({
                "id": t.id, "name": t.name, "displaytext": format!("{} (cloud-config on {})", t.name, t.base),
                "isready": true, "ispublic": false, "isfeatured": false, "passwordenabled": false,
                "format": "QCOW2", "hypervisor": "KVM",
            })));
        }
    }
    items.retain(|t| params.get("id").is_none_or(|id| t["id"] == id));
    list("template", items, params)
}
