//! VM server functions: list, create, view with live progress, operate, and the private network.
#![expect(
    missing_docs,
    reason = "#[server] generates argument structs whose fields cannot carry doc comments"
)]

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A VM as the dashboard shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vm {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Its VDC.
    pub vdc_id: String,
    /// Zone id.
    pub zone: String,
    /// State name (`running`, `stopped`, …).
    pub state: String,
    /// Template name.
    pub template: String,
    /// vCPUs.
    pub vcpus: i64,
    /// Memory.
    pub memory_mib: i64,
    /// Disk.
    pub disk_gib: i64,
    /// Private address.
    pub private_ip: Option<String>,
    /// Public address.
    pub public_ip: Option<String>,
    /// Breakout requested.
    pub breakout: bool,
    /// Dedicated host requested.
    pub dedicated: bool,
    /// Anti-affinity group.
    pub affinity_group: Option<String>,
}

#[cfg(feature = "ssr")]
impl From<meridian_control::store::vm::VmRow> for Vm {
    fn from(row: meridian_control::store::vm::VmRow) -> Self {
        let template = if row.template_name.is_empty() {
            row.template.clone()
        } else {
            row.template_name.clone()
        };
        Self {
            id: row.id,
            name: row.name,
            vdc_id: row.vdc_id,
            zone: row.zone,
            state: row.state,
            template,
            vcpus: row.vcpus,
            memory_mib: row.memory_mib,
            disk_gib: row.disk_gib,
            private_ip: row.private_ip,
            public_ip: row.public_ip,
            breakout: row.breakout,
            dedicated: row.dedicated,
            affinity_group: row.affinity_group,
        }
    }
}

/// One line of a job's progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEvent {
    /// Order within the job.
    pub seq: i64,
    /// When (Unix ms).
    pub at: i64,
    /// Step name.
    pub step: String,
    /// `started`, `done`, `failed`, `undone`, `succeeded`, …
    pub status: String,
    /// What happened.
    pub message: String,
}

/// A job as the VM page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Id.
    pub id: String,
    /// Kind (`vm_create`, …).
    pub kind: String,
    /// State (`running`, `succeeded`, …).
    pub state: String,
    /// Every step of the kind, in order, with its label.
    pub steps: Vec<(String, String)>,
    /// The failed step, if it failed.
    pub failed_step: Option<String>,
    /// What went wrong.
    pub error: Option<String>,
}

/// A VM with its latest job, the job's progress, and its console.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmDetail {
    /// The VM.
    pub vm: Vm,
    /// Its latest job.
    pub job: Option<Job>,
    /// That job's events.
    pub events: Vec<JobEvent>,
    /// Console output (simulated by the simulated driver).
    pub console: Vec<String>,
    /// Whether the zones are simulated.
    pub simulated: bool,
    /// Past operations, newest first: `(when, what, outcome)`.
    pub history: Vec<(i64, String, String)>,
}

#[cfg(feature = "ssr")]
pub(crate) fn vm_detail_from(
    activity: meridian_control::vm::VmActivity,
    console: Vec<String>,
    simulated: bool,
) -> VmDetail {
    let job = activity.job.map(|job| Job {
        id: job.id.to_string(),
        kind: job.position.kind.as_str().to_owned(),
        state: job.position.state.as_str().to_owned(),
        steps: job
            .position
            .kind
            .steps()
            .iter()
            .map(|s| (s.as_str().to_owned(), s.label().to_owned()))
            .collect(),
        failed_step: job.failed_step,
        error: job.error,
    });
    let events = activity
        .events
        .into_iter()
        .map(|e| JobEvent {
            seq: e.seq,
            at: e.at,
            step: e.step,
            status: e.status,
            message: e.message,
        })
        .collect();
    let history = activity
        .history
        .iter()
        .map(|job| {
            let outcome = match (&job.failed_step, &job.error) {
                (Some(step), Some(error)) => format!("{} at {step}: {error}", job.position.state.as_str()),
                _ => job.position.state.as_str().to_owned(),
            };
            (
                job.created_at,
                job.position.kind.as_str().replace('_', " "),
                outcome,
            )
        })
        .collect();
    VmDetail {
        vm: Vm::from(activity.vm),
        job,
        events,
        console,
        simulated,
        history,
    }
}

/// The tenant's VMs.
#[server(prefix = "/fn", endpoint = "vm_list")]
pub async fn vm_list() -> Result<Vec<Vm>, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control.vm_list(&ctx).await?.into_iter().map(Vm::from).collect())
}

/// Creates a VM in a VDC; returns its id (the page then follows its progress).
#[server(prefix = "/fn", endpoint = "vm_create")]
pub async fn vm_create(
    vdc_id: String,
    name: String,
    template: String,
    size: String,
    #[server(default)] breakout: String,
    #[server(default)] user_data: String,
    #[server(default)] anti_affinity_group: String,
    #[server(default)] dedicated: String,
    #[server(default)] ssh_key_ids: Vec<String>,
) -> Result<String, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let form = meridian_core::resource::VmCreateForm {
        name,
        template,
        size,
        breakout,
        user_data,
        anti_affinity_group,
        dedicated,
        ssh_key_ids,
        ..Default::default()
    };
    Ok(control
        .vm_create_from_form(&ctx, &vdc_id, form)
        .await?
        .vm_id
        .to_string())
}

/// A VM with its progress and console.
#[server(prefix = "/fn", endpoint = "vm_view")]
pub async fn vm_view(id: String) -> Result<VmDetail, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let activity = control.vm_activity(&ctx, &id).await?;
    let console = control.vm_console(&ctx, &id).await?;
    Ok(vm_detail_from(activity, console, control.driver().is_simulated()))
}

/// Starts, stops or reboots a VM.
#[server(prefix = "/fn", endpoint = "vm_operate")]
pub async fn vm_operate(id: String, action: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    match action.as_str() {
        "start" => control.vm_start(&ctx, &id).await?,
        "stop" => control.vm_stop(&ctx, &id).await?,
        "reboot" => control.vm_reboot(&ctx, &id).await?,
        "open_breakout" => control.vm_breakout_open(&ctx, &id).await?,
        "close_breakout" => control.vm_breakout_close(&ctx, &id).await?,
        _ => {
            let mut fields = meridian_core::FieldErrors::default();
            fields.push(
                "action",
                "Choose start, stop, reboot, open_breakout or close_breakout.",
            );
            return Err(meridian_control::Error::Invalid(fields).into());
        }
    };
    Ok(())
}

/// Resizes a stopped VM to a catalogue size.
#[server(prefix = "/fn", endpoint = "vm_resize")]
pub async fn vm_resize(id: String, size: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    control.vm_resize(&ctx, &id, &size).await?;
    Ok(())
}

/// Destroys a VM; the caller must type its name to confirm.
#[server(prefix = "/fn", endpoint = "vm_destroy")]
pub async fn vm_destroy(id: String, confirm_name: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    control.vm_destroy_confirmed(&ctx, &id, &confirm_name).await?;
    Ok(())
}

/// One zone of the tenant's private network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    /// Zone id.
    pub zone: String,
    /// Subnet CIDR.
    pub cidr: String,
    /// `(VM name, VM id, private address)` of the VMs holding an address in it.
    pub addresses: Vec<(String, String, String)>,
}

/// The tenant's private network across zones.
#[server(prefix = "/fn", endpoint = "network_view")]
pub async fn network_view() -> Result<Vec<Subnet>, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control
        .network_view(&ctx)
        .await?
        .into_iter()
        .map(|z| Subnet {
            zone: z.zone,
            cidr: z.cidr,
            addresses: z.addresses,
        })
        .collect())
}

/// An inbound firewall rule of a zone's breakout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// Id.
    pub id: String,
    /// Zone id.
    pub zone: String,
    /// What it allows, e.g. "TCP 443 from 0.0.0.0/0".
    pub text: String,
}

/// The tenant's firewall rules.
#[server(prefix = "/fn", endpoint = "firewall_rule_list")]
pub async fn firewall_rule_list() -> Result<Vec<Rule>, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control
        .firewall_rule_list(&ctx)
        .await?
        .into_iter()
        .map(|r| {
            let ports = match (r.port_from, r.port_to) {
                (Some(a), Some(b)) if a == b => format!(" {a}"),
                (Some(a), Some(b)) => format!(" {a}–{b}"),
                _ => String::new(),
            };
            Rule {
                id: r.id,
                zone: r.zone,
                text: format!("{}{ports} from {}", r.protocol.to_uppercase(), r.source),
            }
        })
        .collect())
}

/// Adds an inbound rule to a zone's breakout.
#[server(prefix = "/fn", endpoint = "firewall_rule_create")]
pub async fn firewall_rule_create(
    zone: String,
    protocol: String,
    port_from: String,
    #[server(default)] port_to: String,
    source: String,
) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    control
        .firewall_rule_create(&ctx, &zone, &protocol, &port_from, &port_to, &source)
        .await?;
    Ok(())
}

/// Removes a rule.
#[server(prefix = "/fn", endpoint = "firewall_rule_delete")]
pub async fn firewall_rule_delete(id: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control.firewall_rule_delete(&ctx, &id).await?)
}
