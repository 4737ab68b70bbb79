//! VM server functions: list, create, view with live progress, operate, and the private network.
#![expect(
    missing_docs,
    reason = "#[server] generates argument structs whose fields cannot carry doc comments"
)]

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

pub use meridian_core::view::{BulkOutcome, Job, JobEvent, Vm};

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
    /// Whether the zones are simulated (then the console is made up and cannot be typed into).
    pub simulated: bool,
    /// The guest image the VM last booted, as its host names it (none for simulated VMs, or
    /// while its host does not answer).
    pub image: Option<String>,
    /// Whether what the caller types into the console reaches the guest (owners and members).
    pub may_type: bool,
    /// Past operations, newest first: `(when, what, outcome)`.
    pub history: Vec<(i64, String, String)>,
    /// Its VDC's name.
    pub vdc_name: String,
    /// The user its template installs the SSH keys for (none for a tenant's own template, whose
    /// cloud-config decides).
    pub login_user: Option<String>,
}

/// What the VM page shows of the guest besides its activity.
#[cfg(feature = "ssr")]
pub(crate) struct Guest {
    /// The console's last lines.
    pub console: Vec<String>,
    /// Its VDC's name.
    pub vdc_name: String,
    /// Whether the driver is simulated.
    pub simulated: bool,
    /// The image it booted.
    pub image: Option<String>,
    /// Whether the caller may type into its console.
    pub may_type: bool,
}

#[cfg(feature = "ssr")]
pub(crate) fn vm_detail_from(activity: meridian_control::vm::VmActivity, guest: Guest) -> VmDetail {
    let history = activity
        .history
        .iter()
        .map(|job| {
            let outcome = match (&job.failed_step, &job.error) {
                (Some(step), Some(error)) => format!("{} at {step}: {error}", job.state),
                _ => job.state.clone(),
            };
            (job.created_at, job.kind.replace('_', " "), outcome)
        })
        .collect();
    let login_user = activity
        .vm
        .template_id
        .parse()
        .ok()
        .and_then(meridian_core::resource::BuiltinTemplate::find)
        .map(|t| t.default_user.to_owned());
    VmDetail {
        vm: activity.vm,
        job: activity.job,
        events: activity.events,
        console: guest.console,
        simulated: guest.simulated,
        image: guest.image,
        may_type: guest.may_type,
        history,
        vdc_name: guest.vdc_name,
        login_user,
    }
}

/// The tenant's VMs.
#[server(prefix = "/fn", endpoint = "vm_list")]
pub async fn vm_list() -> Result<Vec<Vm>, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control.vm_list(&ctx).await?)
}

/// Creates a VM in a VDC; returns its id (the page then follows its progress).
#[server(prefix = "/fn", endpoint = "vm_create")]
pub async fn vm_create(
    // Absent when the chosen option is disabled (ruled out by a latency budget): then the
    // control plane's "choose" message, not a decoding error.
    #[server(default)] vdc_id: String,
    name: String,
    template: String,
    size: String,
    #[server(default)] breakout: String,
    #[server(default)] user_data: String,
    #[server(default)] anti_affinity_group: String,
    #[server(default)] dedicated: String,
    #[server(default)] ssh_key_ids: Vec<String>,
    #[server(default)] latency_ms: String,
    #[server(default)] latency_of: String,
) -> Result<String, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    // The form's "where" is a VDC's id, or `zone:<id>` for a zone where the tenant has none yet.
    let (vdc_id, zone) = match vdc_id.strip_prefix("zone:") {
        Some(zone) => control.vm_create_place(&ctx, None, Some(zone)).await?,
        None if vdc_id.trim().is_empty() => control.vm_create_place(&ctx, None, None).await?,
        None => control.vm_create_place(&ctx, Some(&vdc_id), None).await?,
    };
    let form = meridian_core::resource::VmCreateForm {
        name,
        zone,
        template,
        size,
        breakout,
        user_data,
        anti_affinity_group,
        dedicated,
        ssh_key_ids,
        latency_ms,
        latency_of,
    };
    let create = match meridian_core::resource::VmCreate::parse(&form) {
        Ok(create) => create,
        Err(errors) => {
            return Err(control
                .audit_invalid(&ctx, "vm.create", &form.name, errors)
                .await
                .into());
        }
    };
    let vm_id = control.vm_create(&ctx, vdc_id, create).await?.vm_id.to_string();
    crate::server::plain_form_goes_to(&format!("/vms/{vm_id}"));
    Ok(vm_id)
}

/// A VM's graphs, drawn on the server: CPU and network over the last hour or day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmMetricsFigure {
    /// `hour` or `day`.
    pub window: String,
    /// The figures are the simulation's.
    pub simulated: bool,
    /// One or two sentences: averages and peak (also the charts' text alternative).
    pub summary: String,
    /// CPU as an SVG document; None while there are no figures.
    pub cpu_svg: Option<String>,
    /// Network in and out as an SVG document.
    pub network_svg: Option<String>,
    /// The figures, period by period.
    pub rows: Vec<VmMetricRow>,
}

/// One minute's or hour's figures, as text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmMetricRow {
    /// "14:05 UTC".
    pub period: String,
    /// "23.4 %".
    pub cpu: String,
    /// "1.2 MiB/s".
    pub received: String,
    /// "800.0 KiB/s".
    pub sent: String,
}

/// VM `id`'s CPU and network over `window` (`hour` or `day`), charted.
#[server(prefix = "/fn", endpoint = "vm_metrics")]
pub async fn vm_metrics(id: String, window: String) -> Result<VmMetricsFigure, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let id = meridian_control::Error::id(&id)?;
    let window = meridian_control::vm_metrics::MetricWindow::parse(&window)?;
    let metrics = control.vm_metrics(&ctx, id, window).await?;
    Ok(crate::charts::vm_metrics_figure(&metrics))
}

/// A VM with its progress and console.
#[server(prefix = "/fn", endpoint = "vm_view")]
pub async fn vm_view(id: String) -> Result<VmDetail, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let id = meridian_control::Error::id(&id)?;
    let activity = control.vm_activity(&ctx, id).await?;
    let vdc_name = control.vdc_view(&ctx, activity.vm.vdc_id).await?.name;
    let guest = Guest {
        console: control.vm_console(&ctx, id).await?,
        vdc_name,
        simulated: control.driver().is_simulated(),
        image: control.vm_guest_image(&ctx, id).await?,
        may_type: control.vm_console_access(&ctx, id).await?.may_type(),
    };
    Ok(vm_detail_from(activity, guest))
}

/// Starts, stops or reboots a VM.
#[server(prefix = "/fn", endpoint = "vm_operate")]
pub async fn vm_operate(id: String, action: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let id = meridian_control::Error::id(&id)?;
    match action.as_str() {
        "start" => control.vm_start(&ctx, id).await?,
        "stop" => control.vm_stop(&ctx, id).await?,
        "reboot" => control.vm_reboot(&ctx, id).await?,
        "open_breakout" => control.vm_breakout_open(&ctx, id).await?,
        "close_breakout" => control.vm_breakout_close(&ctx, id).await?,
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

/// Starts, stops, reboots or destroys the VMs `ids` (`action`), one job each; a destroy needs
/// `confirm` to hold their number. Each VM's outcome says whether it started and why not.
#[server(prefix = "/fn", endpoint = "vm_bulk")]
pub async fn vm_bulk(
    action: String,
    #[server(default)] ids: Vec<String>,
    #[server(default)] confirm: String,
) -> Result<Vec<BulkOutcome>, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let outcomes = control.vm_bulk(&ctx, &action, &ids, &confirm).await?;
    crate::server::plain_form_goes_to("/vms");
    Ok(outcomes)
}

/// Resizes a stopped VM to a catalogue size.
#[server(prefix = "/fn", endpoint = "vm_resize")]
pub async fn vm_resize(id: String, size: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    control
        .vm_resize(&ctx, meridian_control::Error::id(&id)?, &size)
        .await?;
    Ok(())
}

/// Destroys a VM; the caller must type its name to confirm.
#[server(prefix = "/fn", endpoint = "vm_destroy")]
pub async fn vm_destroy(id: String, confirm_name: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    control
        .vm_destroy_confirmed(&ctx, meridian_control::Error::id(&id)?, &confirm_name)
        .await?;
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

pub use meridian_core::view::FirewallRule as Rule;

/// The tenant's firewall rules.
#[server(prefix = "/fn", endpoint = "firewall_rule_list")]
pub async fn firewall_rule_list() -> Result<Vec<Rule>, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control.firewall_rule_list(&ctx).await?)
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
    use meridian_core::resource::FirewallRuleCreate;
    let create = match FirewallRuleCreate::parse(&zone, &protocol, &port_from, &port_to, &source) {
        Ok(create) => create,
        Err(errors) => {
            let target = FirewallRuleCreate::typed_text(&zone, &protocol, &port_from, &port_to, &source);
            return Err(control
                .audit_invalid(&ctx, "firewall.rule_create", &target, errors)
                .await
                .into());
        }
    };
    control.firewall_rule_create(&ctx, create).await?;
    Ok(())
}

/// Removes a rule.
#[server(prefix = "/fn", endpoint = "firewall_rule_delete")]
pub async fn firewall_rule_delete(id: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control
        .firewall_rule_delete(&ctx, meridian_control::Error::id(&id)?)
        .await?)
}
