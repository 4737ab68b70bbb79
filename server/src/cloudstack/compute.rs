//! The compute commands: VMs (deploy, list, start, stop, reboot, destroy) and the asynchronous
//! jobs their commands answer with (`queryAsyncJobResult`, `listAsyncJobs`).

use super::Params;
use super::catalog::zone_name;
use super::commands::Command;
use super::envelope::{CsError, INTERNAL, job, list, unanswered};
use super::network::{firewall_json, ip_json};
use meridian_control::{Control, Error, OpContext};
use meridian_core::calendar::format_iso;
use meridian_core::job::{JobKind, JobState};
use meridian_core::resource::{SIZES, VmCreate, VmCreateForm};
use meridian_core::view::{Job, Vm};
use serde_json::{Value, json};

/// Runs one of this group's commands.
pub(super) async fn run(
    control: &Control,
    ctx: &OpContext,
    spec: &Command,
    params: &Params,
) -> Result<Value, CsError> {
    match spec.name {
        "deployVirtualMachine" => deploy(control, ctx, params).await,
        "listVirtualMachines" => {
            let wanted_state = params.get("state");
            let vms = control
                .vm_list(ctx)
                .await?
                .into_iter()
                .filter(|vm| params.get("id").is_none_or(|id| id == vm.id.to_string()))
                .filter(|vm| params.get("name").is_none_or(|name| name == vm.name))
                .filter(|vm| params.get("zoneid").is_none_or(|zone| zone == vm.zone))
                .filter(|vm| {
                    params
                        .get("networkid")
                        .is_none_or(|vdc| vdc == vm.vdc_id.to_string())
                })
                .filter(|vm| match wanted_state {
                    Some(state) => vm_state(&vm.state).eq_ignore_ascii_case(state),
                    None => vm.state != "destroyed",
                })
                .map(|vm| vm_json(&vm))
                .collect();
            list("virtualmachine", vms, params)
        }
        "startVirtualMachine" => job(control
            .vm_start(ctx, Error::id(params.required("id")?)?)
            .await?
            .job_id),
        "stopVirtualMachine" => job(control
            .vm_stop(ctx, Error::id(params.required("id")?)?)
            .await?
            .job_id),
        "rebootVirtualMachine" => job(control
            .vm_reboot(ctx, Error::id(params.required("id")?)?)
            .await?
            .job_id),
        "destroyVirtualMachine" => job(control
            .vm_destroy(ctx, Error::id(params.required("id")?)?)
            .await?
            .job_id),
        "queryAsyncJobResult" => {
            let id = params.required("jobid")?;
            match control.job_view(ctx, Error::id(id)?).await {
                Ok(job) => job_json(control, ctx, &job, true).await,
                // A firewall rule is applied at once: its id is its own finished job.
                Err(Error::NotFound) => {
                    let rule = control
                        .firewall_rule_list(ctx)
                        .await?
                        .into_iter()
                        .find(|rule| rule.id.to_string() == id)
                        .ok_or(Error::NotFound)?;
                    Ok(json!({
                        "jobid": rule.id, "jobstatus": 1, "jobprocstatus": 0, "jobresultcode": 0,
                        "cmd": "createFirewallRule", "jobinstancetype": "FirewallRule", "jobinstanceid": rule.id,
                        "jobresulttype": "object", "jobresult": { "firewallrule": firewall_json(&rule) },
                    }))
                }
                Err(error) => Err(error.into()),
            }
        }
        "listAsyncJobs" => {
            let mut jobs = Vec::new();
            for job in control.job_list(ctx, 500).await? {
                jobs.push(job_json(control, ctx, &job, false).await?);
            }
            list("asyncjobs", jobs, params)
        }
        other => Err(unanswered(other)),
    }
}

async fn deploy(control: &Control, ctx: &OpContext, params: &Params) -> Result<Value, CsError> {
    let zone = params.required("zoneid")?;
    let size = params.required("serviceofferingid")?;
    let template = params.required("templateid")?;
    // Without a network, the account's network in the zone, made if it has none (as CloudStack
    // makes an account's default network).
    let vdc = match params
        .get("networkids")
        .map(|ids| ids.split(',').next().unwrap_or_default().trim())
    {
        Some(id) => {
            let vdcs = control.vdc_list(ctx).await?;
            let vdc = vdcs
                .into_iter()
                .find(|vdc| vdc.id.to_string() == id)
                .ok_or_else(|| CsError::param("networkids: you have no such network."))?;
            if vdc.zone != zone {
                return Err(CsError::param(format!(
                    "networkids: network {} is in zone {}, not {zone}.",
                    vdc.id, vdc.zone
                )));
            }
            vdc
        }
        None => control.vdc_default(ctx, zone).await?,
    };
    let user_data = match params.get("userdata") {
        Some(encoded) => {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|_| CsError::param("userdata: send the cloud-config base64-encoded."))?;
            String::from_utf8(bytes)
                .map_err(|_| CsError::param("userdata: the cloud-config must be UTF-8 text."))?
        }
        None => String::new(),
    };
    let wanted_keys: Vec<&str> = params
        .get("keypairs")
        .into_iter()
        .chain(params.get("keypair"))
        .flat_map(|names| names.split(','))
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .collect();
    let mut ssh_key_ids = Vec::new();
    if !wanted_keys.is_empty() {
        let keys = control.ssh_key_list(ctx).await?;
        for name in wanted_keys {
            let key = keys.iter().find(|key| key.name == name).ok_or_else(|| {
                CsError::param(format!("keypairs: you have no SSH key pair named {name:?}."))
            })?;
            ssh_key_ids.push(key.id.to_string());
        }
    }
    let name = match params.get("name").or(params.get("displayname")) {
        Some(name) => name.to_owned(),
        None => format!("vm-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
    };
    let form = VmCreateForm {
        name,
        zone: zone.to_owned(),
        template: template.to_owned(),
        size: size.to_owned(),
        ssh_key_ids,
        user_data,
        ..VmCreateForm::default()
    };
    let create = match VmCreate::parse(&form) {
        Ok(create) => create,
        Err(errors) => {
            return Err(control
                .audit_invalid(ctx, "vm.create", &form.name, errors)
                .await
                .into());
        }
    };
    let started = control.vm_create(ctx, vdc.id, create).await?;
    Ok(json!({ "id": started.vm_id.to_string(), "jobid": started.job_id.to_string() }))
}

/// CloudStack's name for a VM state.
fn vm_state(state: &str) -> &'static str {
    match state {
        "pending" | "provisioning" => "Starting",
        "running" => "Running",
        "stopped" => "Stopped",
        "destroying" => "Expunging",
        "destroyed" => "Destroyed",
        _ => "Error",
    }
}

fn vm_json(vm: &Vm) -> Value {
    let size = SIZES.iter().find(|s| {
        i64::from(s.size.vcpus.get()) == vm.vcpus
            && i64::from(s.size.memory_mib.get()) == vm.memory_mib
            && i64::from(s.size.disk_gib.get()) == vm.disk_gib
    });
    let mut nic = json!({
        "id": format!("{}-nic0", vm.id), "networkid": vm.vdc_id, "isdefault": true,
        "traffictype": "Guest", "type": "Isolated",
    });
    if let Some(ip) = &vm.private_ip {
        nic["ipaddress"] = json!(ip);
    }
    let template = &vm.template;
    let mut value = json!({
        "id": vm.id, "name": vm.name, "displayname": vm.name, "state": vm_state(&vm.state),
        "zoneid": vm.zone, "zonename": zone_name(&vm.zone),
        "templateid": vm.template_id, "templatename": template, "templatedisplaytext": template,
        "serviceofferingid": size.map_or("custom", |s| s.code),
        "serviceofferingname": size.map_or("custom", |s| s.name),
        "cpunumber": vm.vcpus, "memory": vm.memory_mib, "rootdisksize": vm.disk_gib,
        "created": format_iso(vm.created_at), "hypervisor": "KVM", "haenable": false,
        "passwordenabled": false, "nic": [nic], "securitygroup": [], "affinitygroup": [],
    });
    if let Some(ip) = &vm.public_ip {
        value["publicip"] = json!(ip);
        value["publicipid"] = json!(vm.id);
    }
    value
}

/// A job as `queryAsyncJobResult` and `listAsyncJobs` show it: `jobstatus` 0 pending, 1 done,
/// 2 failed; a finished VM job's result is the VM as it is now.
async fn job_json(
    control: &Control,
    ctx: &OpContext,
    job: &Job,
    with_result: bool,
) -> Result<Value, CsError> {
    let state = JobState::parse(&job.state)
        .ok_or_else(|| Error::internal(format_args!("job state {}", job.state)))?;
    let kind =
        JobKind::parse(&job.kind).ok_or_else(|| Error::internal(format_args!("job kind {}", job.kind)))?;
    let status = match state {
        JobState::Queued | JobState::Running | JobState::Unwinding => 0,
        JobState::Succeeded => 1,
        JobState::Failed | JobState::Cancelled => 2,
    };
    let mut value = json!({
        "jobid": job.id.to_string(), "jobstatus": status, "jobprocstatus": 0,
        "jobresultcode": if status == 2 { INTERNAL } else { 0 },
        "cmd": job.kind, "created": format_iso(job.created_at),
        "jobinstancetype": "VirtualMachine", "jobinstanceid": job.vm_id.to_string(),
    });
    if status == 2 {
        let text = job
            .error
            .clone()
            .unwrap_or_else(|| format!("The job was {}.", state.as_str()));
        value["jobresulttype"] = json!("object");
        value["jobresult"] = json!({ "errorcode": INTERNAL, "errortext": text });
    } else if status == 1 && with_result {
        let vm = control.vm_view(ctx, job.vm_id).await?;
        value["jobresulttype"] = json!("object");
        value["jobresult"] = match kind {
            JobKind::VmBreakoutOpen => {
                value["jobinstancetype"] = json!("IpAddress");
                json!({ "ipaddress": ip_json(&vm).unwrap_or_default() })
            }
            JobKind::VmBreakoutClose => json!({ "success": true }),
            _ => json!({ "virtualmachine": vm_json(&vm) }),
        };
    }
    Ok(value)
}
