//! `meridian` as a tenant's command-line client: the REST API's VDCs, VMs, breakout, firewall
//! and usage from a terminal or a script, in the spirit of `doctl` and the Oxide CLI.
//!
//! `meridian login --url URL` reads an API key from standard input and keeps it in a profile
//! file; every other command uses that profile (or `MERIDIAN_URL` and `MERIDIAN_API_KEY`, which
//! win over it). Output is a table for people or, with `--output json`, the API's own JSON. A
//! refusal prints the API's message and code and exits 1; `--wait` follows a change's job to
//! its end and exits 1 if it fails.

pub mod api;

use api::{Api, ClientError, Profile, table};
use clap::{Args, Subcommand, ValueEnum};
use meridian_core::view::{FirewallRule, Job, Vdc, Vm, VmMetrics};
use reqwest::Method;
use serde::Serialize;
use serde_json::json;
use std::process::ExitCode;

/// How results are printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned columns, for people.
    #[default]
    Table,
    /// The API's JSON, for scripts.
    Json,
}

/// Options of every client command.
#[derive(Clone, Debug, Args)]
pub struct ClientOptions {
    /// The saved profile to use (`meridian login --profile NAME` makes one).
    #[arg(long, env = "MERIDIAN_PROFILE", default_value = "default", global = true)]
    pub profile: String,
    /// `table` or `json`.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Table, global = true)]
    pub output: Output,
}

/// The client commands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Save a profile: the server's URL and an API key, read from standard input (one line) or
    /// `MERIDIAN_API_KEY`. The key is checked before it is saved.
    Login {
        /// The server, e.g. `https://cloud.example` or `http://127.0.0.1:3000`.
        #[arg(long)]
        url: String,
    },
    /// List the zones.
    Zones,
    /// VDCs: list, create.
    #[command(subcommand)]
    Vdc(VdcCommand),
    /// VMs: list, show, create, start, stop, reboot, resize, destroy, metrics.
    #[command(subcommand)]
    Vm(VmCommand),
    /// A VM's public address: open or close its internet breakout.
    #[command(subcommand)]
    Breakout(BreakoutCommand),
    /// Inbound firewall rules of your public addresses: list, add, delete.
    #[command(subcommand)]
    Firewall(FirewallCommand),
    /// This month's usage so far, rated, and the projection to its end.
    Usage,
}

/// VDC commands.
#[derive(Debug, Subcommand)]
pub enum VdcCommand {
    /// List your VDCs.
    List,
    /// Create a VDC in a zone.
    Create {
        /// Its name, e.g. `web-eu`.
        #[arg(long)]
        name: String,
        /// Its zone, e.g. `fra1`.
        #[arg(long)]
        zone: String,
    },
}

/// VM commands. A VM is named by its id or its name.
#[derive(Debug, Subcommand)]
pub enum VmCommand {
    /// List your VMs.
    List,
    /// One VM's properties.
    Show {
        /// Id or name.
        vm: String,
    },
    /// Create a VM in a zone (its VDC is made if you have none there) or in a VDC.
    Create {
        /// Name and hostname.
        #[arg(long)]
        name: String,
        /// A template's slug (e.g. `coreos-docker`) or one of your templates' ids.
        #[arg(long)]
        template: String,
        /// A size code, e.g. `m`.
        #[arg(long)]
        size: String,
        /// Its zone, e.g. `nrt1`.
        #[arg(long)]
        zone: Option<String>,
        /// Its VDC's id.
        #[arg(long)]
        vdc: Option<String>,
        /// Give it a public address.
        #[arg(long)]
        breakout: bool,
        /// Place it on a host of its own (+50 % on the compute).
        #[arg(long)]
        dedicated: bool,
        /// A cloud-config file to boot with.
        #[arg(long)]
        user_data_file: Option<std::path::PathBuf>,
        /// An SSH key's id to install (repeat for more).
        #[arg(long = "ssh-key")]
        ssh_keys: Vec<String>,
        /// Follow the job until the VM runs.
        #[arg(long)]
        wait: bool,
    },
    /// Start a stopped VM.
    Start(VmChange),
    /// Stop a running VM (ACPI shutdown).
    Stop(VmChange),
    /// Restart a running VM.
    Reboot(VmChange),
    /// Change a VM's size (it reboots into it; disks only grow).
    Resize {
        /// Id or name.
        vm: String,
        /// The new size code.
        #[arg(long)]
        size: String,
        /// Follow the job to its end.
        #[arg(long)]
        wait: bool,
    },
    /// Destroy a VM and its disk. Cannot be undone: needs `--yes`.
    Destroy {
        /// Id or name.
        vm: String,
        /// Yes, destroy it.
        #[arg(long)]
        yes: bool,
        /// Follow the job to its end.
        #[arg(long)]
        wait: bool,
    },
    /// A VM's CPU and network over the last hour (a figure a minute) or day (an hour).
    Metrics {
        /// Id or name.
        vm: String,
        /// `hour` or `day`.
        #[arg(long, default_value = "hour")]
        window: String,
    },
}

/// A change to one VM.
#[derive(Debug, Args)]
pub struct VmChange {
    /// Id or name.
    vm: String,
    /// Follow the job to its end.
    #[arg(long)]
    wait: bool,
}

/// Breakout commands.
#[derive(Debug, Subcommand)]
pub enum BreakoutCommand {
    /// Give a VM a public address.
    Open(VmChange),
    /// Take its public address away.
    Close(VmChange),
}

/// Firewall commands.
#[derive(Debug, Subcommand)]
pub enum FirewallCommand {
    /// List the rules.
    List,
    /// Let traffic in to the public addresses of a zone.
    Add {
        /// Zone id.
        #[arg(long)]
        zone: String,
        /// `tcp`, `udp` or `icmp`.
        #[arg(long)]
        protocol: String,
        /// A port (`443`) or a range (`8000-8080`); none for ICMP.
        #[arg(long)]
        port: Option<String>,
        /// Where from, as a CIDR.
        #[arg(long, default_value = "0.0.0.0/0")]
        source: String,
    },
    /// Remove a rule.
    Delete {
        /// The rule's id.
        id: String,
    },
}

/// Runs a client command; its exit status says how it went (see [`ClientError::exit_code`]).
pub async fn run(command: ClientCommand, options: &ClientOptions) -> ExitCode {
    match dispatch(command, options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("meridian: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

/// The profile in use, with `MERIDIAN_URL` and `MERIDIAN_API_KEY` over it.
fn profile(options: &ClientOptions) -> Result<Profile, ClientError> {
    let saved = api::profiles_read()?.remove(&options.profile);
    let url = std::env::var("MERIDIAN_URL")
        .ok()
        .or_else(|| saved.as_ref().map(|p| p.url.clone()));
    let key = std::env::var("MERIDIAN_API_KEY")
        .ok()
        .or_else(|| saved.as_ref().map(|p| p.api_key.clone()));
    match (url, key) {
        (Some(url), Some(api_key)) => Ok(Profile { url, api_key }),
        _ => Err(ClientError::Usage(format!(
            "No profile {:?}: run `meridian login --url URL` (the API key on standard input) first, or set MERIDIAN_URL and MERIDIAN_API_KEY.",
            options.profile
        ))),
    }
}

async fn dispatch(command: ClientCommand, options: &ClientOptions) -> Result<(), ClientError> {
    if let ClientCommand::Login { url } = command {
        return login(&url, &options.profile).await;
    }
    let api = Api::new(&profile(options)?)?;
    let out = Printer(options.output);
    match command {
        ClientCommand::Login { .. } => Ok(()),
        ClientCommand::Zones => {
            let zones: Vec<crate::rest::network::Zone> = api.list("/zones").await?;
            out.list(&zones, "No zones.", &["ID", "CITY", "COUNTRY", "STATUS"], |z| {
                vec![z.id.clone(), z.city.clone(), z.country.clone(), z.status.clone()]
            })
        }
        ClientCommand::Vdc(VdcCommand::List) => {
            let vdcs: Vec<Vdc> = api.list("/vdcs").await?;
            out.list(
                &vdcs,
                "No VDCs yet: `meridian vdc create --name NAME --zone ZONE` makes one (a VM in a zone makes its own).",
                &["ID", "NAME", "ZONE"],
                |v| vec![v.id.to_string(), v.name.clone(), v.zone.clone()],
            )
        }
        ClientCommand::Vdc(VdcCommand::Create { name, zone }) => {
            let vdc: Vdc = api
                .call(Method::POST, "/vdcs", Some(json!({ "name": name, "zone": zone })))
                .await?;
            out.one(&vdc, || {
                format!("Created VDC {} ({}) in {}.", vdc.name, vdc.id, vdc.zone)
            })
        }
        ClientCommand::Vm(command) => vm(&api, out, command).await,
        ClientCommand::Breakout(BreakoutCommand::Open(change)) => {
            let id = vm_id(&api, &change.vm).await?;
            change_vm(
                &api,
                out,
                Method::PUT,
                &format!("/vms/{id}/breakout"),
                None,
                change.wait,
            )
            .await
        }
        ClientCommand::Breakout(BreakoutCommand::Close(change)) => {
            let id = vm_id(&api, &change.vm).await?;
            change_vm(
                &api,
                out,
                Method::DELETE,
                &format!("/vms/{id}/breakout"),
                None,
                change.wait,
            )
            .await
        }
        ClientCommand::Firewall(command) => firewall(&api, out, command).await,
        ClientCommand::Usage => {
            let invoice: crate::rest::billing::Invoice = api.get("/usage").await?;
            out.one(&invoice, || {
                let rows: Vec<Vec<String>> = invoice
                    .lines
                    .iter()
                    .map(|l| {
                        vec![
                            l.description.clone(),
                            l.quantity_text.clone(),
                            dollars(l.amount_micro_usd),
                        ]
                    })
                    .collect();
                let lines = if rows.is_empty() {
                    "Nothing used yet this month.".to_owned()
                } else {
                    table(&["WHAT", "QUANTITY", "AMOUNT"], &rows)
                };
                format!(
                    "{} so far\n{lines}\nTotal so far: {}\nProjected for the month: {}",
                    invoice.month,
                    dollars(invoice.total_micro_usd),
                    dollars(invoice.projected_micro_usd)
                )
            })
        }
    }
}

async fn login(url: &str, name: &str) -> Result<(), ClientError> {
    let key = match std::env::var("MERIDIAN_API_KEY") {
        Ok(key) => key,
        Err(_) => {
            eprintln!("API key (Settings → API keys), then Enter:");
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| ClientError::Usage(format!("No key read from standard input: {e}")))?;
            line
        }
    };
    let profile = Profile {
        url: url.trim().to_owned(),
        api_key: key.trim().to_owned(),
    };
    if profile.api_key.is_empty() {
        return Err(ClientError::Usage("No API key given.".into()));
    }
    // A key that does not work is not saved.
    let _: serde_json::Value = Api::new(&profile)?.get("/vdcs?limit=1").await?;
    let path = api::profile_save(name, profile)?;
    println!("Logged in: profile {name:?} saved in {}.", path.display());
    Ok(())
}

async fn vm(api: &Api, out: Printer, command: VmCommand) -> Result<(), ClientError> {
    match command {
        VmCommand::List => {
            let vms: Vec<Vm> = api.list("/vms").await?;
            out.list(
                &vms,
                "No VMs yet: `meridian vm create --name NAME --template debian-12 --size s --zone fra1` makes one.",
                &["ID", "NAME", "ZONE", "STATE", "SIZE", "PRIVATE IP", "PUBLIC IP"],
                |v| {
                    vec![
                        v.id.to_string(),
                        v.name.clone(),
                        v.zone.clone(),
                        v.state.clone(),
                        size_text(v),
                        v.private_ip.clone().unwrap_or_else(|| "—".into()),
                        v.public_ip.clone().unwrap_or_else(|| "—".into()),
                    ]
                },
            )
        }
        VmCommand::Show { vm } => {
            let id = vm_id(api, &vm).await?;
            let vm: Vm = api.get(&format!("/vms/{id}")).await?;
            out.one(&vm, || vm_text(&vm))
        }
        VmCommand::Create {
            name,
            template,
            size,
            zone,
            vdc,
            breakout,
            dedicated,
            user_data_file,
            ssh_keys,
            wait,
        } => {
            let user_data = match user_data_file {
                Some(path) => Some(
                    std::fs::read_to_string(&path)
                        .map_err(|e| ClientError::Usage(format!("{} cannot be read: {e}", path.display())))?,
                ),
                None => None,
            };
            let body = json!({
                "name": name, "template": template, "size": size, "zone": zone, "vdc_id": vdc,
                "breakout": breakout, "dedicated": dedicated, "user_data": user_data, "ssh_key_ids": ssh_keys,
            });
            change_vm(api, out, Method::POST, "/vms", Some(body), wait).await
        }
        VmCommand::Start(change) => simple_change(api, out, change, "start").await,
        VmCommand::Stop(change) => simple_change(api, out, change, "stop").await,
        VmCommand::Reboot(change) => simple_change(api, out, change, "reboot").await,
        VmCommand::Resize { vm, size, wait } => {
            let id = vm_id(api, &vm).await?;
            let body = json!({ "size": size });
            change_vm(
                api,
                out,
                Method::POST,
                &format!("/vms/{id}/resize"),
                Some(body),
                wait,
            )
            .await
        }
        VmCommand::Destroy { vm, yes, wait } => {
            if !yes {
                return Err(ClientError::Usage(format!(
                    "Destroying {vm} deletes its disk and cannot be undone: add --yes."
                )));
            }
            let id = vm_id(api, &vm).await?;
            change_vm(api, out, Method::DELETE, &format!("/vms/{id}"), None, wait).await
        }
        VmCommand::Metrics { vm, window } => {
            let id = vm_id(api, &vm).await?;
            let metrics: VmMetrics = api.get(&format!("/vms/{id}/metrics?window={window}")).await?;
            let label = if metrics.simulated {
                " (simulated figures)"
            } else {
                ""
            };
            if out.0 == Output::Table && metrics.points.is_empty() {
                println!("No figures yet{label}: the VM has not run in this window (a figure a minute).");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = metrics
                .points
                .iter()
                .map(|p| {
                    vec![
                        meridian_core::calendar::format_utc(p.start_ms),
                        format!("{}.{} %", p.cpu_permille / 10, p.cpu_permille % 10),
                        rate_text(p.received_bytes_per_second),
                        rate_text(p.sent_bytes_per_second),
                    ]
                })
                .collect();
            out.one(&metrics, || {
                format!(
                    "CPU and network{label}\n{}",
                    table(&["FROM", "CPU", "RECEIVED", "SENT"], &rows)
                )
            })
        }
    }
}

async fn simple_change(api: &Api, out: Printer, change: VmChange, action: &str) -> Result<(), ClientError> {
    let id = vm_id(api, &change.vm).await?;
    change_vm(
        api,
        out,
        Method::POST,
        &format!("/vms/{id}/{action}"),
        None,
        change.wait,
    )
    .await
}

/// The answer to a change: its job and the VM as it was when the job started.
#[derive(serde::Deserialize, Serialize)]
struct Accepted {
    job: Job,
    vm: Vm,
}

/// Sends a change that starts a job; with `wait`, follows it and prints the VM as it ends up.
async fn change_vm(
    api: &Api,
    out: Printer,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
    wait: bool,
) -> Result<(), ClientError> {
    let accepted: Accepted = api.call(method, path, body).await?;
    if !wait {
        return out.one(&accepted, || {
            format!(
                "Started {} of {} ({}): job {}. `--wait` follows it; `meridian vm show {}` tells how it went.",
                accepted.job.kind.replace('_', " "),
                accepted.vm.name,
                accepted.vm.id,
                accepted.job.id,
                accepted.vm.name
            )
        });
    }
    if out.0 == Output::Table {
        eprintln!("{} of {}:", accepted.job.kind.replace('_', " "), accepted.vm.name);
    }
    let job = api.wait(accepted.job).await?;
    let vm: Option<Vm> = match api.get(&format!("/vms/{}", accepted.vm.id)).await {
        Ok(vm) => Some(vm),
        // Destroyed: gone from the API.
        Err(ClientError::Api { status: 404, .. }) => None,
        Err(error) => return Err(error),
    };
    let done = json!({ "job": job, "vm": vm });
    out.one(&done, || match &vm {
        Some(vm) => format!("Done.\n{}", vm_text(vm)),
        None => format!("Done: {} is destroyed.", accepted.vm.name),
    })
}

async fn firewall(api: &Api, out: Printer, command: FirewallCommand) -> Result<(), ClientError> {
    match command {
        FirewallCommand::List => {
            let rules: Vec<FirewallRule> = api.list("/firewall-rules").await?;
            out.list(
                &rules,
                "No firewall rules: nothing from the internet reaches your public addresses. `meridian firewall add` lets something in.",
                &["ID", "ZONE", "ALLOWS"],
                |r| vec![r.id.to_string(), r.zone.clone(), r.describe()],
            )
        }
        FirewallCommand::Add {
            zone,
            protocol,
            port,
            source,
        } => {
            let (port_from, port_to) = match port.as_deref() {
                None => (None, None),
                Some(text) => {
                    let number = |t: &str| {
                        t.trim().parse::<u32>().map_err(|_| {
                            ClientError::Usage(format!(
                                "--port {text:?} is not a port (443) or a range (8000-8080)."
                            ))
                        })
                    };
                    match text.split_once('-') {
                        Some((a, b)) => (Some(number(a)?), Some(number(b)?)),
                        None => (Some(number(text)?), None),
                    }
                }
            };
            let body = json!({ "zone": zone, "protocol": protocol, "port_from": port_from, "port_to": port_to, "source": source });
            let rule: FirewallRule = api.call(Method::POST, "/firewall-rules", Some(body)).await?;
            out.one(&rule, || {
                format!("Added rule {} in {}: {}.", rule.id, rule.zone, rule.describe())
            })
        }
        FirewallCommand::Delete { id } => {
            let _: serde_json::Value = api
                .call(Method::DELETE, &format!("/firewall-rules/{id}"), None)
                .await?;
            out.one(&json!({ "deleted": id }), || format!("Deleted rule {id}."))
        }
    }
}

/// A VM's id from its id or its name (which must name exactly one of your VMs).
async fn vm_id(api: &Api, reference: &str) -> Result<String, ClientError> {
    if reference.parse::<uuid::Uuid>().is_ok() {
        return Ok(reference.to_owned());
    }
    let vms: Vec<Vm> = api.list("/vms").await?;
    let named: Vec<&Vm> = vms.iter().filter(|vm| vm.name == reference).collect();
    match named.as_slice() {
        [vm] => Ok(vm.id.to_string()),
        [] => Err(ClientError::Usage(format!(
            "You have no VM named {reference:?} (`meridian vm list` lists them)."
        ))),
        _ => Err(ClientError::Usage(format!(
            "{} of your VMs are named {reference:?}: name one by its id.",
            named.len()
        ))),
    }
}

/// Prints in the chosen format.
#[derive(Clone, Copy)]
struct Printer(Output);

impl Printer {
    fn one<T: Serialize>(self, value: &T, text: impl FnOnce() -> String) -> Result<(), ClientError> {
        match self.0 {
            Output::Json => println!("{}", to_json(value)?),
            Output::Table => println!("{}", text()),
        }
        Ok(())
    }

    fn list<T: Serialize>(
        self,
        items: &[T],
        empty: &str,
        headers: &[&str],
        row: impl Fn(&T) -> Vec<String>,
    ) -> Result<(), ClientError> {
        match self.0 {
            Output::Json => println!("{}", to_json(&items)?),
            Output::Table if items.is_empty() => println!("{empty}"),
            Output::Table => println!("{}", table(headers, &items.iter().map(row).collect::<Vec<_>>())),
        }
        Ok(())
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<String, ClientError> {
    serde_json::to_string_pretty(value).map_err(|e| ClientError::Transport(e.to_string()))
}

fn size_text(vm: &Vm) -> String {
    format!(
        "{} vCPU, {} GiB, {} GiB disk",
        vm.vcpus,
        vm.memory_mib / 1024,
        vm.disk_gib
    )
}

fn vm_text(vm: &Vm) -> String {
    let rows = vec![
        vec!["ID".to_owned(), vm.id.to_string()],
        vec!["Name".to_owned(), vm.name.clone()],
        vec!["Zone".to_owned(), vm.zone.clone()],
        vec!["State".to_owned(), vm.state.clone()],
        vec!["Template".to_owned(), vm.template.clone()],
        vec!["Size".to_owned(), size_text(vm)],
        vec![
            "Private IP".to_owned(),
            vm.private_ip.clone().unwrap_or_else(|| "—".into()),
        ],
        vec![
            "Public IP".to_owned(),
            vm.public_ip.clone().unwrap_or_else(|| "—".into()),
        ],
        vec![
            "Host".to_owned(),
            if vm.dedicated { "dedicated" } else { "shared" }.to_owned(),
        ],
    ];
    table(&["PROPERTY", "VALUE"], &rows)
}

/// "$12.34" from millionths of a dollar (rounded down to the cent).
fn dollars(micro: i64) -> String {
    let cents = micro / 10_000;
    format!("${}.{:02}", cents / 100, (cents % 100).abs())
}

/// "1.2 MiB/s".
fn rate_text(per_second: u64) -> String {
    format!("{}/s", meridian_app::pages::overview::format_bytes(per_second))
}
