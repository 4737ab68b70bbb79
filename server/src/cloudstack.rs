//! The CloudStack-compatible API at `/client/api`, so existing tools (cloudmonkey, Apache
//! libcloud, the `cs` client) drive Meridian: requests signed with an API key's secret,
//! `response=json` envelopes, and asynchronous commands answered by `queryAsyncJobResult`.
//!
//! Each command is a thin mapping onto the control-plane method the dashboard calls; no rule
//! lives here. Meridian's words map onto CloudStack's: a VDC is a network (the tenant's private
//! network in one zone), a size is a service offering, and a public address belongs to one VM
//! (its id is the VM's id).

use crate::AppState;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use meridian_app::server::ClientAddress;
use meridian_control::store::job::JobRow;
use meridian_control::store::vm::VmRow;
use meridian_control::{Control, Error, OpContext};
use meridian_core::calendar::format_iso;
use meridian_core::job::{JobKind, JobState};
use meridian_core::resource::{BUILTIN_TEMPLATES, SIZES, VmCreateForm};
use meridian_core::zone::{ZONES, ZoneId, ZoneStatus};
use serde_json::{Map, Value, json};

/// What Meridian says it is in `listCapabilities`: the CloudStack API version it follows.
const CLOUDSTACK_VERSION: &str = "4.19.0 (Meridian)";

/// One command of the API, as `listApis` describes it.
pub struct Command {
    /// The command's name, as clients send it.
    pub name: &'static str,
    /// Whether it answers with a `jobid` to poll.
    pub is_async: bool,
    /// What it does.
    pub description: &'static str,
    /// Its parameters: (name, required, description).
    pub params: &'static [(&'static str, bool, &'static str)],
}

const PAGING: [(&str, bool, &str); 2] = [
    ("page", false, "Page number, from 1."),
    ("pagesize", false, "Items per page."),
];

/// Every command Meridian answers. Dispatch, `listApis` and the coverage test all read this.
pub static COMMANDS: &[Command] = &[
    Command {
        name: "listZones",
        is_async: false,
        description: "Lists the zones (Meridian's 16 VDC locations).",
        params: &[
            ("id", false, "A zone id."),
            ("available", false, "Only zones taking new resources."),
        ],
    },
    Command {
        name: "listTemplates",
        is_async: false,
        description: "Lists the built-in templates and the account's own.",
        params: &[
            (
                "templatefilter",
                true,
                "featured (built-in), self (your own), executable or all (both).",
            ),
            ("id", false, "A template id."),
            ("zoneid", false, "Lists each template for this zone."),
        ],
    },
    Command {
        name: "listServiceOfferings",
        is_async: false,
        description: "Lists the VM sizes.",
        params: &[("id", false, "A size code, e.g. m.")],
    },
    Command {
        name: "listNetworks",
        is_async: false,
        description: "Lists your networks: one per VDC, each the private network in its zone.",
        params: &[
            ("id", false, "A network (VDC) id."),
            ("zoneid", false, "Only this zone's."),
        ],
    },
    Command {
        name: "createNetwork",
        is_async: false,
        description: "Creates a VDC in a zone: your private network there.",
        params: &[
            ("name", true, "A name, like web-eu."),
            ("zoneid", true, "The zone."),
            ("displaytext", false, "Ignored: the name is shown."),
            ("networkofferingid", false, "Ignored: every network is private."),
        ],
    },
    Command {
        name: "deployVirtualMachine",
        is_async: true,
        description: "Creates and starts a VM.",
        params: &[
            ("zoneid", true, "The zone."),
            ("serviceofferingid", true, "The size code."),
            ("templateid", true, "The template id."),
            ("name", false, "The VM's name and hostname (made up if absent)."),
            ("displayname", false, "Used as the name when name is absent."),
            (
                "networkids",
                false,
                "The network (VDC) to use; default: your first in the zone.",
            ),
            ("keypair", false, "An SSH key pair name."),
            ("keypairs", false, "SSH key pair names, comma-separated."),
            ("userdata", false, "Cloud-config, base64-encoded."),
        ],
    },
    Command {
        name: "listVirtualMachines",
        is_async: false,
        description: "Lists your VMs.",
        params: &[
            ("id", false, "A VM id."),
            ("name", false, "A VM name."),
            ("zoneid", false, "Only this zone's."),
            ("networkid", false, "Only this network's (VDC's)."),
            (
                "state",
                false,
                "Only VMs in this state; Destroyed ones are listed only when asked.",
            ),
        ],
    },
    Command {
        name: "startVirtualMachine",
        is_async: true,
        description: "Starts a stopped VM.",
        params: &[("id", true, "The VM id.")],
    },
    Command {
        name: "stopVirtualMachine",
        is_async: true,
        description: "Stops a running VM.",
        params: &[("id", true, "The VM id.")],
    },
    Command {
        name: "rebootVirtualMachine",
        is_async: true,
        description: "Reboots a running VM.",
        params: &[("id", true, "The VM id.")],
    },
    Command {
        name: "destroyVirtualMachine",
        is_async: true,
        description: "Destroys a VM, its disk and its addresses.",
        params: &[
            ("id", true, "The VM id."),
            ("expunge", false, "Ignored: a destroyed VM is always gone."),
        ],
    },
    Command {
        name: "queryAsyncJobResult",
        is_async: false,
        description: "The state and result of an asynchronous command.",
        params: &[("jobid", true, "The job id.")],
    },
    Command {
        name: "listAsyncJobs",
        is_async: false,
        description: "Lists your recent asynchronous jobs.",
        params: &[],
    },
    Command {
        name: "listPublicIpAddresses",
        is_async: false,
        description: "Lists your VMs' public addresses (each VM with breakout has one).",
        params: &[
            ("id", false, "An address's id."),
            ("zoneid", false, "Only this zone's."),
            ("ipaddress", false, "Only this address."),
        ],
    },
    Command {
        name: "associateIpAddress",
        is_async: true,
        description: "Gives a VM a public address (opens its internet breakout). In Meridian an address belongs to one VM: name it with virtualmachineid.",
        params: &[
            ("virtualmachineid", true, "The VM (Meridian: required)."),
            ("zoneid", false, "Checked against the VM's zone."),
            ("networkid", false, "Checked against the VM's network (VDC)."),
        ],
    },
    Command {
        name: "disassociateIpAddress",
        is_async: true,
        description: "Releases a public address: its VM stays on the private network only.",
        params: &[(
            "id",
            true,
            "The public address's id (from listPublicIpAddresses).",
        )],
    },
    Command {
        name: "createFirewallRule",
        is_async: true,
        description: "Lets traffic in to the public addresses of the address's zone (Meridian's firewall rules are per zone). Applied at once: the job id is the rule's id, already complete.",
        params: &[
            (
                "ipaddressid",
                true,
                "A public address's id (its VM's id): the rule goes to its zone.",
            ),
            ("protocol", true, "tcp, udp or icmp."),
            ("startport", false, "First port (tcp and udp)."),
            ("endport", false, "Last port (default: startport)."),
            ("cidrlist", false, "Source CIDR (default 0.0.0.0/0); one only."),
        ],
    },
    Command {
        name: "listFirewallRules",
        is_async: false,
        description: "Lists your firewall rules.",
        params: &[
            ("id", false, "A rule id."),
            ("ipaddressid", false, "Only the rules of this address's zone."),
        ],
    },
    Command {
        name: "listPortForwardingRules",
        is_async: false,
        description: "Lists port forwarding rules: Meridian has none (a public address reaches its VM directly).",
        params: &[],
    },
    Command {
        name: "listIpForwardingRules",
        is_async: false,
        description: "Lists static NAT rules: Meridian has none (a public address reaches its VM directly).",
        params: &[],
    },
    Command {
        name: "registerSSHKeyPair",
        is_async: false,
        description: "Adds an SSH public key.",
        params: &[
            ("name", true, "The key pair's name."),
            ("publickey", true, "The OpenSSH public key."),
        ],
    },
    Command {
        name: "listSSHKeyPairs",
        is_async: false,
        description: "Lists your SSH key pairs.",
        params: &[("name", false, "Only this one.")],
    },
    Command {
        name: "deleteSSHKeyPair",
        is_async: false,
        description: "Removes an SSH key pair (VMs that have it keep it).",
        params: &[("name", true, "The key pair's name.")],
    },
    Command {
        name: "listCapabilities",
        is_async: false,
        description: "What this cloud offers.",
        params: &[],
    },
    Command {
        name: "listApis",
        is_async: false,
        description: "Lists these commands.",
        params: &[("name", false, "Only this command.")],
    },
];

impl Command {
    /// Whether the command changes something. Only listings and job queries do not; anything
    /// else counts as a change (a new command is refused a replay until it is listed here).
    pub fn mutates(&self) -> bool {
        !(self.name.starts_with("list") || self.name == "queryAsyncJobResult")
    }
}

/// Whether an answer with this HTTP status is the client's doing although it is 5xx: CloudStack
/// answers a refusal (no right, suspended account) with 531, which the request log must not
/// report as a server failure (ERROR); a 530 is a real failure.
pub fn is_refusal_status(status: StatusCode) -> bool {
    status.as_u16() == ACCOUNT_ERROR
}

/// A CloudStack error. Its HTTP status is its `errorcode`, as CloudStack answers.
#[derive(Debug)]
struct CsError {
    code: u16,
    text: String,
}

/// CloudStack's error codes.
const UNAUTHORIZED: u16 = 401;
const PARAM_ERROR: u16 = 431;
const UNSUPPORTED: u16 = 432;
const TOO_MANY: u16 = 429;
const INTERNAL: u16 = 530;
const ACCOUNT_ERROR: u16 = 531;
/// CloudStack's RESOURCE_IN_USE_ERROR: another operation holds the VM.
const RESOURCE_IN_USE: u16 = 536;

impl CsError {
    fn param(text: impl Into<String>) -> Self {
        Self {
            code: PARAM_ERROR,
            text: text.into(),
        }
    }

    /// `cserrorcode`, the exception class number CloudStack pairs with each code.
    fn cs_code(&self) -> u32 {
        match self.code {
            UNAUTHORIZED | ACCOUNT_ERROR => 4365,
            PARAM_ERROR => 4350,
            // com.cloud.exception.ConcurrentOperationException
            RESOURCE_IN_USE => 4300,
            UNSUPPORTED => 9999,
            _ => 4250,
        }
    }
}

/// The control plane's error in CloudStack's terms; field errors are named by their parameter.
impl From<Error> for CsError {
    fn from(error: Error) -> Self {
        let code = match &error {
            Error::Invalid(_) | Error::NotFound | Error::Conflict { .. } => PARAM_ERROR,
            Error::Unauthenticated | Error::BadCredentials => UNAUTHORIZED,
            Error::Forbidden(_) | Error::Suspended => ACCOUNT_ERROR,
            Error::Throttled { .. } => TOO_MANY,
            Error::Busy { .. } => RESOURCE_IN_USE,
            Error::Internal { .. } | Error::Transient { .. } => INTERNAL,
        };
        let text = match &error {
            Error::Invalid(fields) => fields
                .0
                .iter()
                .map(|(field, message)| format!("{}: {message}", param_name(field)))
                .collect::<Vec<_>>()
                .join(" "),
            Error::Internal { detail } => {
                tracing::error!(error.detail = %detail, "CloudStack API command failed");
                error.to_string()
            }
            _ => error.to_string(),
        };
        Self { code, text }
    }
}

/// The API parameter a form field of the control plane corresponds to.
fn param_name(field: &str) -> &str {
    match field {
        "zone" => "zoneid",
        "template" => "templateid",
        "size" => "serviceofferingid",
        "ssh_key_ids" => "keypairs",
        "user_data" => "userdata",
        "vdc_id" => "networkids",
        "public_key" => "publickey",
        other => other,
    }
}

/// A request's parameters, query and form body together.
struct Params(Vec<(String, String)>);

impl Params {
    /// A parameter by name, any case (CloudStack's names are case-insensitive).
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }

    fn required(&self, name: &str) -> Result<&str, CsError> {
        self.get(name).ok_or_else(|| {
            CsError::param(format!(
                "Unable to execute API command due to missing parameter {name}"
            ))
        })
    }
}

/// `/client/api`: checks the signature, runs the command, answers in CloudStack's JSON shape.
pub async fn client_api(
    State(state): State<AppState>,
    client: Option<axum::Extension<ClientAddress>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        pairs.extend(form_urlencoded::parse(&body).into_owned());
    }
    let params = Params(pairs);
    let command = params.get("command").unwrap_or_default().to_owned();
    let key = format!("{}response", command.to_ascii_lowercase());
    let Some(spec) = COMMANDS.iter().find(|c| c.name.eq_ignore_ascii_case(&command)) else {
        let error = CsError {
            code: UNSUPPORTED,
            text: "The given command does not exist or it is not available for user".into(),
        };
        return answer("errorresponse", Err(error));
    };
    if params
        .get("response")
        .is_some_and(|r| !r.eq_ignore_ascii_case("json"))
    {
        return answer(
            &key,
            Err(CsError::param(
                "Meridian answers in JSON only: send response=json.",
            )),
        );
    }
    let caller = match state.control.api_caller_signed(&params.0, spec.mutates()).await {
        Ok(caller) => caller,
        Err(Error::Suspended) => return answer(&key, Err(CsError::from(Error::Suspended))),
        // A replayed request: refused like a bad signature, saying why.
        Err(Error::Forbidden(reason)) => {
            let error = CsError {
                code: UNAUTHORIZED,
                text: reason,
            };
            return answer(&key, Err(error));
        }
        Err(_) => {
            let error = CsError {
                code: UNAUTHORIZED,
                text: "unable to verify user credentials and/or request signature".into(),
            };
            return answer(&key, Err(error));
        }
    };
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let ctx = caller.context(request_id, client.map(|c| c.0.0.to_string()));
    let result = run(&state.control, &ctx, spec, &params).await;
    if result.is_err() {
        state.control.api_signature_release(&caller).await;
    }
    answer(&key, result)
}

/// The JSON envelope: `{"<command>response": …}`, with the error's code as HTTP status.
fn answer(key: &str, result: Result<Value, CsError>) -> Response {
    let (status, body) = match result {
        Ok(value) => (StatusCode::OK, value),
        Err(error) => (
            StatusCode::from_u16(error.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            json!({
                "uuidList": [],
                "errorcode": error.code,
                "cserrorcode": error.cs_code(),
                "errortext": error.text,
            }),
        ),
    };
    let mut envelope = Map::new();
    envelope.insert(key.to_owned(), body);
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        Value::Object(envelope).to_string(),
    )
        .into_response()
}

/// A list answer: `{"count": n, "<item>": [...]}`, one page of it if asked; `{}` when empty, as
/// CloudStack answers.
fn list(item: &str, mut items: Vec<Value>, params: &Params) -> Result<Value, CsError> {
    let count = items.len();
    if let Some(page) = params.get("page") {
        let page: usize = page
            .parse()
            .map_err(|_| CsError::param("page must be a number from 1."))?;
        let size: usize = match params.get("pagesize") {
            Some(size) => size
                .parse()
                .map_err(|_| CsError::param("pagesize must be a number."))?,
            None => 500,
        };
        if page == 0 || size == 0 {
            return Err(CsError::param("page and pagesize start at 1."));
        }
        items = items
            .into_iter()
            .skip((page - 1).saturating_mul(size))
            .take(size)
            .collect();
    }
    if items.is_empty() {
        return Ok(json!({}));
    }
    Ok(json!({ "count": count, item: items }))
}

async fn run(control: &Control, ctx: &OpContext, spec: &Command, params: &Params) -> Result<Value, CsError> {
    match spec.name {
        "listZones" => zones(params),
        "listTemplates" => templates(control, ctx, params).await,
        "listServiceOfferings" => offerings(params),
        "listNetworks" => networks(control, ctx, params).await,
        "createNetwork" => {
            let vdc = control
                .vdc_create(ctx, params.required("name")?, params.required("zoneid")?)
                .await?;
            let subnets = control.network_subnets(ctx).await?;
            Ok(json!({ "network": network_json(&vdc, &subnets) }))
        }
        "deployVirtualMachine" => deploy(control, ctx, params).await,
        "listVirtualMachines" => {
            let wanted_state = params.get("state");
            let vms = control
                .vm_list(ctx)
                .await?
                .into_iter()
                .filter(|vm| params.get("id").is_none_or(|id| id == vm.id))
                .filter(|vm| params.get("name").is_none_or(|name| name == vm.name))
                .filter(|vm| params.get("zoneid").is_none_or(|zone| zone == vm.zone))
                .filter(|vm| params.get("networkid").is_none_or(|vdc| vdc == vm.vdc_id))
                .filter(|vm| match wanted_state {
                    Some(state) => vm_state(&vm.state).eq_ignore_ascii_case(state),
                    None => vm.state != "destroyed",
                })
                .map(|vm| vm_json(&vm))
                .collect();
            list("virtualmachine", vms, params)
        }
        "startVirtualMachine" => job(control.vm_start(ctx, params.required("id")?).await?.job_id),
        "stopVirtualMachine" => job(control.vm_stop(ctx, params.required("id")?).await?.job_id),
        "rebootVirtualMachine" => job(control.vm_reboot(ctx, params.required("id")?).await?.job_id),
        "destroyVirtualMachine" => job(control.vm_destroy(ctx, params.required("id")?).await?.job_id),
        "queryAsyncJobResult" => {
            let id = params.required("jobid")?;
            match control.job_view(ctx, id).await {
                Ok(job) => job_json(control, ctx, &job, true).await,
                // A firewall rule is applied at once: its id is its own finished job.
                Err(Error::NotFound) => {
                    let rule = control
                        .firewall_rule_list(ctx)
                        .await?
                        .into_iter()
                        .find(|rule| rule.id == id)
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
        "listPublicIpAddresses" => {
            let addresses = control
                .vm_list(ctx)
                .await?
                .iter()
                .filter(|vm| params.get("zoneid").is_none_or(|zone| zone == vm.zone))
                .filter(|vm| params.get("id").is_none_or(|id| id == vm.id))
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
            let vm = control.vm_view(ctx, params.required("virtualmachineid")?).await?;
            if params.get("zoneid").is_some_and(|zone| zone != vm.zone) {
                return Err(CsError::param(format!("zoneid: the VM is in zone {}.", vm.zone)));
            }
            if params.get("networkid").is_some_and(|vdc| vdc != vm.vdc_id) {
                return Err(CsError::param(format!(
                    "networkid: the VM is in network {}.",
                    vm.vdc_id
                )));
            }
            let started = control.vm_breakout_open(ctx, &vm.id).await?;
            Ok(json!({ "id": vm.id, "jobid": started.job_id.to_string() }))
        }
        "disassociateIpAddress" => job(control
            .vm_breakout_close(ctx, params.required("id")?)
            .await?
            .job_id),
        "createFirewallRule" => {
            // The rule is the zone's: it holds for the address's VM whether or not its address
            // has arrived yet.
            let address = control.vm_view(ctx, params.required("ipaddressid")?).await?;
            let start = params.get("startport").unwrap_or_default();
            let end = params.get("endport").unwrap_or(start);
            let source = params.get("cidrlist").unwrap_or("0.0.0.0/0");
            let rule = control
                .firewall_rule_create(
                    ctx,
                    &address.zone,
                    params.required("protocol")?,
                    start,
                    end,
                    source,
                )
                .await?;
            Ok(json!({ "id": rule.id, "jobid": rule.id }))
        }
        "listFirewallRules" => {
            let zone = match params.get("ipaddressid") {
                Some(id) => Some(control.vm_view(ctx, id).await?.zone),
                None => None,
            };
            let rules = control
                .firewall_rule_list(ctx)
                .await?
                .iter()
                .filter(|rule| params.get("id").is_none_or(|id| id == rule.id))
                .filter(|rule| zone.as_ref().is_none_or(|zone| *zone == rule.zone))
                .map(firewall_json)
                .collect();
            list("firewallrule", rules, params)
        }
        "listPortForwardingRules" => list("portforwardingrule", Vec::new(), params),
        "listIpForwardingRules" => list("ipforwardingrule", Vec::new(), params),
        "registerSSHKeyPair" => {
            let key = control
                .ssh_key_create(ctx, params.required("name")?, params.required("publickey")?)
                .await?;
            Ok(
                json!({ "keypair": { "name": key.name, "fingerprint": key.fingerprint, "publickey": key.public_key } }),
            )
        }
        "listSSHKeyPairs" => {
            let keys = control
                .ssh_key_list(ctx)
                .await?
                .into_iter()
                .filter(|key| params.get("name").is_none_or(|name| name == key.name))
                .map(|key| json!({ "name": key.name, "fingerprint": key.fingerprint, "publickey": key.public_key }))
                .collect();
            list("sshkeypair", keys, params)
        }
        "deleteSSHKeyPair" => {
            let name = params.required("name")?;
            let key = control
                .ssh_key_list(ctx)
                .await?
                .into_iter()
                .find(|key| key.name == name)
                .ok_or_else(|| CsError::param("name: you have no SSH key pair with this name."))?;
            control.ssh_key_delete(ctx, &key.id).await?;
            Ok(json!({ "success": "true" }))
        }
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
        other => Err(CsError {
            code: UNSUPPORTED,
            text: format!("{other} is listed but not answered: this is a bug in Meridian."),
        }),
    }
}

/// An asynchronous command's answer: the job to poll.
fn job(job_id: uuid::Uuid) -> Result<Value, CsError> {
    Ok(json!({ "jobid": job_id.to_string() }))
}

fn zone_name(zone: &str) -> String {
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

fn network_json(vdc: &meridian_control::store::vdc::VdcRow, subnets: &[(String, String)]) -> Value {
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
        .filter(|vdc| params.get("id").is_none_or(|id| id == vdc.id))
        .filter(|vdc| params.get("zoneid").is_none_or(|zone| zone == vdc.zone))
        .map(|vdc| network_json(vdc, &subnets))
        .collect();
    list("network", items, params)
}

async fn deploy(control: &Control, ctx: &OpContext, params: &Params) -> Result<Value, CsError> {
    let zone = params.required("zoneid")?;
    let size = params.required("serviceofferingid")?;
    let template = params.required("templateid")?;
    let vdcs = control.vdc_list(ctx).await?;
    let vdc = match params
        .get("networkids")
        .map(|ids| ids.split(',').next().unwrap_or_default().trim())
    {
        Some(id) => vdcs
            .iter()
            .find(|vdc| vdc.id == id)
            .ok_or_else(|| CsError::param("networkids: you have no such network."))?,
        None => vdcs.iter().find(|vdc| vdc.zone == zone).ok_or_else(|| {
            CsError::param(format!(
                "You have no network in zone {zone}: make one with createNetwork (a VDC), then deploy."
            ))
        })?,
    };
    if vdc.zone != zone {
        return Err(CsError::param(format!(
            "networkids: network {} is in zone {}, not {zone}.",
            vdc.id, vdc.zone
        )));
    }
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
            ssh_key_ids.push(key.id.clone());
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
    let started = control.vm_create_from_form(ctx, &vdc.id, form).await?;
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

fn vm_json(vm: &VmRow) -> Value {
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
    let template = if vm.template_name.is_empty() {
        &vm.template
    } else {
        &vm.template_name
    };
    let mut value = json!({
        "id": vm.id, "name": vm.name, "displayname": vm.name, "state": vm_state(&vm.state),
        "zoneid": vm.zone, "zonename": zone_name(&vm.zone),
        "templateid": vm.template, "templatename": template, "templatedisplaytext": template,
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

/// A VM's public address as CloudStack shows one (its id is the VM's); none without one.
fn ip_json(vm: &VmRow) -> Option<Value> {
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

fn firewall_json(rule: &meridian_control::store::firewall::FirewallRow) -> Value {
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

/// A job as `queryAsyncJobResult` and `listAsyncJobs` show it: `jobstatus` 0 pending, 1 done,
/// 2 failed; a finished VM job's result is the VM as it is now.
async fn job_json(
    control: &Control,
    ctx: &OpContext,
    job: &JobRow,
    with_result: bool,
) -> Result<Value, CsError> {
    let state = job.position.state;
    let status = match state {
        JobState::Queued | JobState::Running | JobState::Unwinding => 0,
        JobState::Succeeded => 1,
        JobState::Failed | JobState::Cancelled => 2,
    };
    let mut value = json!({
        "jobid": job.id.to_string(), "jobstatus": status, "jobprocstatus": 0,
        "jobresultcode": if status == 2 { INTERNAL } else { 0 },
        "cmd": job.position.kind.as_str(), "created": format_iso(job.created_at),
        "jobinstancetype": "VirtualMachine", "jobinstanceid": job.target_id.to_string(),
    });
    if status == 2 {
        let text = job
            .error
            .clone()
            .unwrap_or_else(|| format!("The job was {}.", state.as_str()));
        value["jobresulttype"] = json!("object");
        value["jobresult"] = json!({ "errorcode": INTERNAL, "errortext": text });
    } else if status == 1 && with_result {
        let vm = control.vm_view(ctx, &job.target_id.to_string()).await?;
        value["jobresulttype"] = json!("object");
        value["jobresult"] = match job.position.kind {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listings_and_job_queries_are_read_only() {
        let read_only: Vec<&str> = COMMANDS.iter().filter(|c| !c.mutates()).map(|c| c.name).collect();
        assert!(
            read_only
                .iter()
                .all(|name| name.starts_with("list") || *name == "queryAsyncJobResult")
        );
        for name in [
            "createNetwork",
            "deployVirtualMachine",
            "stopVirtualMachine",
            "destroyVirtualMachine",
            "associateIpAddress",
            "createFirewallRule",
            "registerSSHKeyPair",
            "deleteSSHKeyPair",
        ] {
            let command = COMMANDS.iter().find(|c| c.name == name).unwrap();
            assert!(command.mutates(), "{name}");
        }
    }

    #[test]
    fn a_refusal_is_not_a_server_failure_in_the_log() {
        assert!(is_refusal_status(StatusCode::from_u16(ACCOUNT_ERROR).unwrap()));
        assert!(!is_refusal_status(StatusCode::from_u16(INTERNAL).unwrap()));
        assert!(!is_refusal_status(StatusCode::INTERNAL_SERVER_ERROR));
    }
}
