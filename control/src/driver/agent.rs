//! The agent driver: real VMs, run by a host agent (`meridian-agent`) on each hypervisor host.
//!
//! Hosts are not listed here: each agent registers its host with the control plane (see
//! [`crate::Control::host_register`]), whenever it starts, and the store keeps where it is reached.
//! Every VM operation is one idempotent call to the agent of the VM's host, keyed by the VM's id
//! and authenticated with that host's token (`meridian_core::agent_api`). An agent that does not
//! answer is retried within the step for [`UNREACHABLE_FOR`]; then the step fails and the job
//! unwinds (its undo steps meet the same bound, and a failed undo is tried again at the job's next
//! claim).
//!
//! Tenant networks are real where hosts have an underlay address (the lab's backbone): each VM's
//! port joins its tenant's network, and every host with a member of that network is told the whole
//! member list (see `agent/src/tenant_net.rs`). The rest of the network is not real yet (issue
//! #16): the backbone's latency and load come from the same model as the simulator's and are
//! labelled simulated, and no VM traffic is metered (no counters are read yet, so none is reported
//! rather than made up).

use super::{Driver, DriverError, HostSpec, Presence, SerialEndpoint, Traffic, TrafficCaps, VmSpec};
use crate::store::Store;
use async_trait::async_trait;
use meridian_core::agent_api::{
    self, API_VERSION, ApiError, Breakout, Console, InboundRule, NetworkMember, RateCap, Route, SentBytes,
    TenantNetwork, VERSION_HEADER, VmRequest, VmStatus,
};
use meridian_core::bandwidth::CapScope;
use meridian_core::id::VmId;
use meridian_core::ipam::Cidr;
use meridian_core::zone::ZoneId;
use rand::SeedableRng;
use rand::rngs::StdRng;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long a host agent that does not answer (no connection, a timeout) is retried within a step.
pub const UNREACHABLE_FOR: Duration = Duration::from_secs(30);
/// How long one call may take; a power-off waits up to half a minute for the guest.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a boot may take to reach the guest's ready line (TCG boots take 3–4 s unloaded).
const BOOT_READY_WITHIN: Duration = Duration::from_secs(120);
/// How many console lines the VM page shows.
const CONSOLE_LINES: u32 = 400;

/// The driver that calls host agents.
pub struct AgentDriver {
    store: Store,
    secret: Arc<[u8]>,
    client: reqwest::Client,
    /// For the backbone model's jitter (see the module's note on the network).
    rng: Mutex<StdRng>,
}

impl AgentDriver {
    /// A driver over `store`'s registered hosts; `secret` is the agent secret host tokens derive
    /// from.
    pub fn new(store: Store, secret: Arc<[u8]>) -> Self {
        let client = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .connect_timeout(Duration::from_secs(3))
            .build()
            .expect("a client without TLS or a proxy always builds");
        Self {
            store,
            secret,
            client,
            rng: Mutex::new(StdRng::from_os_rng()),
        }
    }

    /// Calls `route` on `host`'s agent; `None` for an answer without a body. Retries what did not
    /// reach the agent for [`UNREACHABLE_FOR`].
    async fn call<T: DeserializeOwned>(
        &self,
        host: Uuid,
        method: Method,
        path: &str,
        body: Option<&Body<'_>>,
    ) -> Result<Option<T>, DriverError> {
        self.call_within(host, method, path, body, UNREACHABLE_FOR).await
    }

    /// [`AgentDriver::call`], retrying what did not reach the agent for `retry_for` (zero: once).
    async fn call_within<T: DeserializeOwned>(
        &self,
        host: Uuid,
        method: Method,
        path: &str,
        body: Option<&Body<'_>>,
        retry_for: Duration,
    ) -> Result<Option<T>, DriverError> {
        let agent = self
            .store
            .host_agent(host)
            .await
            .map_err(|e| DriverError::unreachable(format!("The host list could not be read: {e}")))?
            .ok_or_else(|| DriverError::refused(format!("Host {host} has no host agent.")))?;
        let url = format!("{}{path}", agent.endpoint.trim_end_matches('/'));
        let token = agent_api::host_token(&self.secret, host);
        let started = Instant::now();
        let mut pause = Duration::from_millis(250);
        loop {
            let mut request = self
                .client
                .request(method.clone(), &url)
                .bearer_auth(&token)
                .header(VERSION_HEADER, API_VERSION.to_string());
            request = match body {
                Some(Body::Vm(vm)) => request.json(vm),
                Some(Body::Network(net)) => request.json(net),
                None => request,
            };
            match request.send().await {
                Ok(answer) => return read_answer(&agent.host.name, answer).await,
                Err(error) if started.elapsed() + pause < retry_for => {
                    tracing::debug!(host = %agent.host.name, %url, error = %error, "host agent did not answer; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(4));
                }
                Err(error) => {
                    tracing::warn!(host = %agent.host.name, %url, error = %error, "host agent did not answer");
                    return Err(DriverError::refused(if retry_for.is_zero() {
                        format!("The host agent of {} did not answer.", agent.host.name)
                    } else {
                        format!(
                            "The host agent of {} did not answer for {} s.",
                            agent.host.name,
                            retry_for.as_secs()
                        )
                    }));
                }
            }
        }
    }

    /// The call for an operation on a placed VM.
    async fn vm_call<T: DeserializeOwned>(
        &self,
        vm: &VmSpec,
        method: Method,
        path: String,
        with_request: bool,
    ) -> Result<Option<T>, DriverError> {
        let host = vm
            .host
            .ok_or_else(|| DriverError::refused("The VM is not placed on a host."))?;
        let request = if with_request {
            Some(self.request(vm).await?)
        } else {
            None
        };
        self.call(host, method, &path, request.as_ref().map(Body::Vm).as_ref())
            .await
    }

    /// What the agent needs to run `vm`: the SSH keys' public lines and the address within its
    /// subnet.
    async fn request(&self, vm: &VmSpec) -> Result<VmRequest, DriverError> {
        let keys = self
            .store
            .ssh_public_keys(&vm.ssh_keys)
            .await
            .map_err(|e| DriverError::unreachable(format!("The VM's SSH keys could not be read: {e}")))?;
        let (address, gateway) = match vm.private_ip {
            Some(ip) => {
                let subnet = self
                    .store
                    .vm_subnet(vm.id)
                    .await
                    .map_err(|e| DriverError::unreachable(format!("The VM's subnet could not be read: {e}")))?
                    .and_then(|cidr| Cidr::parse(&cidr).ok());
                match subnet {
                    Some(subnet) => (
                        Some(format!("{ip}/{}", subnet.prefix_len())),
                        Some(subnet.plan().gateway().to_string()),
                    ),
                    None => (Some(format!("{ip}/32")), None),
                }
            }
            None => (None, None),
        };
        let network = match (vm.private_ip, vm.host) {
            (Some(_), Some(host)) if self.host_underlay(host).await?.is_some() => {
                Some(self.network_id(vm.id).await?)
            }
            _ => None,
        };
        Ok(VmRequest {
            network,
            id: VmId(vm.id),
            name: vm.name.clone(),
            vcpus: vm.vcpus,
            memory_mib: u32::try_from(vm.memory_mib).unwrap_or(u32::MAX),
            disk_gib: vm.disk_gib,
            address,
            gateway,
            ssh_authorized_keys: keys,
            user_data: vm.user_data.clone(),
        })
    }

    /// Host `host`'s underlay address, if it is an agent's host with one.
    async fn host_underlay(&self, host: Uuid) -> Result<Option<String>, DriverError> {
        Ok(self
            .store
            .host_agent(host)
            .await
            .map_err(|e| DriverError::unreachable(format!("The host list could not be read: {e}")))?
            .and_then(|row| row.underlay))
    }

    /// The network id of VM `vm`'s tenant.
    async fn network_id(&self, vm: Uuid) -> Result<u32, DriverError> {
        let tenant = self
            .store
            .vm_tenant(vm)
            .await
            .map_err(read_error)?
            .ok_or_else(|| DriverError::refused("The VM no longer exists."))?;
        self.tenant_network_id(&tenant).await
    }

    /// Tenant `tenant`'s network id (given now if it has none).
    async fn tenant_network_id(&self, tenant: &str) -> Result<u32, DriverError> {
        let id = self.store.tenant_network_id(tenant).await.map_err(read_error)?;
        u32::try_from(id)
            .ok()
            .filter(|id| *id < 1 << 24)
            .ok_or_else(|| DriverError::refused("The tenant's network id is beyond VXLAN's 24 bits."))
    }

    /// Brings every host of VM `vm`'s tenant network up to date (see [`AgentDriver::tenant_sync`]),
    /// `vm`'s host among them, with `vm` left out as a member (`Leaving::Network`) or as a
    /// breakout (`Leaving::Breakout`) when it is on its way out of one.
    async fn network_sync(&self, vm: &VmSpec, leaving: Leaving) -> Result<(), DriverError> {
        let Some(own_host) = vm.host else {
            return Ok(());
        };
        if self.host_underlay(own_host).await?.is_none() {
            return Ok(());
        }
        let tenant = self
            .store
            .vm_tenant(vm.id)
            .await
            .map_err(read_error)?
            .ok_or_else(|| DriverError::refused("The VM no longer exists."))?;
        self.tenant_sync(&tenant, Some((own_host, vm.zone.as_str())), vm.id, leaving)
            .await
    }

    /// Brings every host with a member of tenant `tenant`'s network (and `also`, a host and its
    /// zone) to the network's current members: each gets the whole member list, its zone's
    /// gateway, its own VMs' breakouts and the tenant's inbound rules for its zone; a host left
    /// without members drops the network. `subject` is the VM `leaving` concerns.
    async fn tenant_sync(
        &self,
        tenant: &str,
        also: Option<(Uuid, &str)>,
        subject: Uuid,
        leaving: Leaving,
    ) -> Result<(), DriverError> {
        let id = self.tenant_network_id(tenant).await?;
        let subject = subject.to_string();
        let rows: Vec<_> = self
            .store
            .tenant_network_members(tenant)
            .await
            .map_err(read_error)?
            .into_iter()
            .filter(|row| !(leaving == Leaving::Network && row.vm_id == subject))
            .collect();
        let subnets: std::collections::BTreeMap<String, String> = self
            .store
            .subnet_list(tenant)
            .await
            .map_err(read_error)?
            .into_iter()
            .collect();
        let rules = self.store.firewall_list(tenant).await.map_err(read_error)?;
        let members: Vec<NetworkMember> = rows
            .iter()
            .filter_map(|row| {
                Some(NetworkMember {
                    vm: VmId(row.vm_id.parse().ok()?),
                    address: row.private_ip.clone(),
                    host: row.underlay.clone(),
                    zone: row.zone.clone(),
                })
            })
            .collect();
        let mut hosts: std::collections::BTreeMap<Uuid, String> =
            rows.iter().map(|row| (row.host_id, row.zone.clone())).collect();
        if let Some((host, zone)) = also {
            hosts.entry(host).or_insert_with(|| zone.to_owned());
        }
        let caps = self.store.cap_list(tenant).await.map_err(read_error)?;
        for (host, zone) in hosts {
            let Some(subnet) = subnets.get(&zone).and_then(|cidr| Cidr::parse(cidr).ok()) else {
                continue;
            };
            let breakouts = rows
                .iter()
                .filter(|row| row.host_id == host)
                .filter(|row| !(leaving == Leaving::Breakout && row.vm_id == subject))
                .filter_map(|row| {
                    Some(Breakout {
                        address: row.private_ip.clone(),
                        public: row.public_ip.clone()?,
                    })
                })
                .collect();
            let inbound = rules
                .iter()
                .filter(|rule| rule.zone == zone)
                .map(|rule| InboundRule {
                    protocol: rule.protocol.clone(),
                    port_from: rule.port_from.and_then(|p| u16::try_from(p).ok()),
                    port_to: rule.port_to.and_then(|p| u16::try_from(p).ok()),
                    source: rule.source.clone(),
                })
                .collect();
            let net = TenantNetwork {
                id,
                gateway: format!("{}/{}", subnet.plan().gateway(), subnet.prefix_len()),
                members: members.clone(),
                breakouts,
                inbound,
                caps: rate_caps(&caps, &rows, host, &zone),
            };
            self.call::<serde_json::Value>(
                host,
                Method::PUT,
                &Route::Network(id).path(),
                Some(&Body::Network(&net)),
            )
            .await?;
        }
        Ok(())
    }

    /// Waits until the VM's guest printed its ready line in its current run.
    async fn wait_ready(&self, vm: &VmSpec) -> Result<(), DriverError> {
        let started = Instant::now();
        loop {
            let status: Option<VmStatus> = self
                .vm_call(vm, Method::GET, Route::Vm(VmId(vm.id)).path(), false)
                .await?;
            match status {
                Some(status) if status.ready => return Ok(()),
                Some(status) if !status.running => {
                    return Err(DriverError::refused(
                        "The VM stopped while booting; its console says why.",
                    ));
                }
                _ => {}
            }
            if started.elapsed() > BOOT_READY_WITHIN {
                return Err(DriverError::refused(format!(
                    "The guest did not report ready within {} s; its console says why.",
                    BOOT_READY_WITHIN.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// Which way a VM is leaving its network while the network is brought up to date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leaving {
    /// It is not.
    Nothing,
    /// It leaves the network (detach).
    Network,
    /// It keeps its place but gives up its public address (breakout detach).
    Breakout,
}

/// A store read that failed, as a driver error (worth trying again).
fn read_error(e: sqlx::Error) -> DriverError {
    DriverError::unreachable(format!("The tenant's network could not be read: {e}"))
}

/// What a call sends.
enum Body<'a> {
    /// A VM's request.
    Vm(&'a VmRequest),
    /// A tenant network.
    Network(&'a TenantNetwork),
}

/// An agent's answer: its body for a success, a driver error (with the agent's message) otherwise.
async fn read_answer<T: DeserializeOwned>(
    host: &str,
    answer: reqwest::Response,
) -> Result<Option<T>, DriverError> {
    let status = answer.status();
    if status.is_success() {
        if status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let bytes = answer.bytes().await.map_err(|e| {
            DriverError::unreachable(format!("The host agent of {host} broke off its answer: {e}"))
        })?;
        if bytes.is_empty() {
            return Ok(None);
        }
        return serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            DriverError::refused(format!(
                "The host agent of {host} answered in an unknown form: {e}"
            ))
        });
    }
    let error: Option<ApiError> = answer.json().await.ok();
    let message = error.map_or_else(|| status.to_string(), |e| format!("{} ({})", e.message, e.code));
    tracing::warn!(host, %status, message, "host agent refused");
    Err(if status.is_server_error() {
        DriverError::refused(format!("The host {host} failed: {message}"))
    } else {
        DriverError::refused(format!("The host agent of {host} refused: {message}"))
    })
}

/// The answer of a call made for its effect.
fn done(_: Option<serde_json::Value>) {}

#[async_trait]
impl Driver for AgentDriver {
    fn name(&self) -> &'static str {
        "Host agents"
    }

    fn is_simulated(&self) -> bool {
        false
    }

    /// Edge load is the model's, and so is the latency of an edge no agent measures (agents'
    /// measurements come in through `edge_measurements`, labelled measured).
    fn network_is_simulated(&self) -> bool {
        true
    }

    async fn hosts(&self) -> Vec<HostSpec> {
        Vec::new()
    }

    /// Zone n's public addresses are 198.51.100.(15n+1)–(15n+14): TEST-NET-2 (RFC 5737), a
    /// documentation range, so lab addresses are never mistaken for the internet's; .254 is the
    /// lab internet's gateway.
    fn public_addresses(&self, zone: meridian_core::zone::ZoneId) -> Vec<std::net::Ipv4Addr> {
        let base = u8::try_from(zone.index() * 15).unwrap_or(u8::MAX - 15);
        (1..=14)
            .map(|i| std::net::Ipv4Addr::new(198, 51, 100, base + i))
            .collect()
    }

    async fn disk_create(&self, vm: &VmSpec) -> Result<(), DriverError> {
        self.vm_call(vm, Method::PUT, Route::Disk(VmId(vm.id)).path(), true)
            .await
            .map(done)
    }

    async fn disk_resize(&self, vm: &VmSpec, disk_gib: u64) -> Result<(), DriverError> {
        let host = vm
            .host
            .ok_or_else(|| DriverError::refused("The VM is not placed on a host."))?;
        let mut request = self.request(vm).await?;
        request.disk_gib = disk_gib;
        self.call(
            host,
            Method::PUT,
            &Route::Disk(VmId(vm.id)).path(),
            Some(&Body::Vm(&request)),
        )
        .await
        .map(done)
    }

    /// The disk goes with the VM's directory: the whole VM is destroyed on its host.
    async fn disk_delete(&self, vm: &VmSpec) -> Result<(), DriverError> {
        let Some(host) = vm.host else {
            return Ok(());
        };
        self.discard(host, vm.id).await
    }

    /// The VM's port is made first when it has an address: QEMU opens the tap as it starts (a
    /// create attaches the network after the boot, which then finds the port there already).
    async fn vm_boot(&self, vm: &VmSpec) -> Result<(), DriverError> {
        if vm.private_ip.is_some() {
            self.network_attach(vm).await?;
        }
        self.vm_call(vm, Method::PUT, Route::Running(VmId(vm.id)).path(), true)
            .await
            .map(done)?;
        self.wait_ready(vm).await
    }

    async fn vm_power_off(&self, vm: &VmSpec) -> Result<(), DriverError> {
        if vm.host.is_none() {
            return Ok(());
        }
        self.vm_call(vm, Method::POST, Route::PowerOff(VmId(vm.id)).path(), false)
            .await
            .map(done)
    }

    async fn vm_reboot(&self, vm: &VmSpec) -> Result<(), DriverError> {
        self.vm_call(vm, Method::POST, Route::Reboot(VmId(vm.id)).path(), true)
            .await
            .map(done)?;
        self.wait_ready(vm).await
    }

    /// The VM's port on its tenant network's bridge, then the network brought up to date on every
    /// host that has a member (routes to the new VM everywhere, the network made here if new).
    async fn network_attach(&self, vm: &VmSpec) -> Result<(), DriverError> {
        self.vm_call(vm, Method::PUT, Route::Nic(VmId(vm.id)).path(), true)
            .await
            .map(done)?;
        self.network_sync(vm, Leaving::Nothing).await
    }

    /// The VM's port goes; every host of the network forgets the VM (and its host drops the
    /// network if it was the last member there).
    async fn network_detach(&self, vm: &VmSpec) -> Result<(), DriverError> {
        if vm.host.is_none() {
            return Ok(());
        }
        self.vm_call(vm, Method::DELETE, Route::Nic(VmId(vm.id)).path(), false)
            .await
            .map(done)?;
        self.network_sync(vm, Leaving::Network).await
    }

    /// The VM's public address (recorded before this is called) is routed to it at its tenant's
    /// router on its host: 1:1 NAT and the tenant's inbound rules.
    async fn breakout_attach(&self, vm: &VmSpec) -> Result<(), DriverError> {
        self.network_sync(vm, Leaving::Nothing).await
    }

    /// The VM's public address is withdrawn from its router (the record goes after).
    async fn breakout_detach(&self, vm: &VmSpec) -> Result<(), DriverError> {
        self.network_sync(vm, Leaving::Breakout).await
    }

    /// A tenant's firewall rules changed: every host of its network gets them.
    async fn network_refresh(&self, tenant: Uuid) -> Result<(), DriverError> {
        self.tenant_sync(&tenant.to_string(), None, Uuid::nil(), Leaving::Nothing)
            .await
    }

    async fn console(&self, vm: &VmSpec) -> Result<Vec<String>, DriverError> {
        if vm.host.is_none() {
            return Ok(vec!["The VM is not placed on a host yet.".to_owned()]);
        }
        let console: Option<Console> = self
            .vm_call(
                vm,
                Method::GET,
                format!("{}?lines={CONSOLE_LINES}", Route::Console(VmId(vm.id)).path()),
                false,
            )
            .await?;
        Ok(console.unwrap_or_default().lines)
    }

    /// Asked once (no retries): it is shown on the VM page, which must not wait for a host that
    /// does not answer.
    async fn guest_image(&self, vm: &VmSpec) -> Result<Option<String>, DriverError> {
        let Some(host) = vm.host else {
            return Ok(None);
        };
        let status: Option<VmStatus> = self
            .call_within(
                host,
                Method::GET,
                &Route::Vm(VmId(vm.id)).path(),
                None,
                Duration::ZERO,
            )
            .await?;
        Ok(status.and_then(|status| status.image))
    }

    /// The agent's serial route (`Route::Serial`), with the host's token and the API version.
    async fn serial_endpoint(&self, vm: &VmSpec) -> Result<Option<SerialEndpoint>, DriverError> {
        let host = vm
            .host
            .ok_or_else(|| DriverError::refused("The VM is not placed on a host yet."))?;
        let agent = self
            .store
            .host_agent(host)
            .await
            .map_err(|e| DriverError::unreachable(format!("The host list could not be read: {e}")))?
            .ok_or_else(|| DriverError::refused(format!("Host {host} has no host agent.")))?;
        let base = agent.endpoint.trim_end_matches('/');
        let base = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            return Err(DriverError::refused(format!(
                "The host agent of {} has an endpoint that is not HTTP.",
                agent.host.name
            )));
        };
        Ok(Some(SerialEndpoint {
            url: format!("{base}{}", Route::Serial(VmId(vm.id)).path()),
            headers: vec![
                (
                    "authorization".to_owned(),
                    format!("Bearer {}", agent_api::host_token(&self.secret, host)),
                ),
                (VERSION_HEADER.to_owned(), API_VERSION.to_string()),
            ],
        }))
    }

    /// The guest image runs no container engine.
    async fn containers(&self, _vm: &VmSpec) -> Result<Vec<meridian_core::stack::Container>, DriverError> {
        Ok(Vec::new())
    }

    /// Asked once (no retries): the meter reads it for every VM each minute and must not wait
    /// for a host that does not answer (the next reading counts what this one missed).
    async fn sent(&self, vm: &VmSpec) -> Result<Option<Traffic>, DriverError> {
        let Some(host) = vm.host else {
            return Ok(None);
        };
        let sent: Option<SentBytes> = self
            .call_within(
                host,
                Method::GET,
                &Route::Traffic(VmId(vm.id)).path(),
                None,
                Duration::ZERO,
            )
            .await?;
        let sent = sent.unwrap_or_default();
        Ok(Some(Traffic {
            backbone: sent
                .zones
                .iter()
                .filter_map(|(zone, bytes)| Some((ZoneId::parse(zone).ok()?, *bytes)))
                .collect(),
            internet: sent.internet,
        }))
    }

    async fn counters(&self, vm: &VmSpec) -> Result<Option<super::VmCounters>, DriverError> {
        let Some(host) = vm.host else {
            return Ok(None);
        };
        let counters: Option<Option<super::VmCounters>> = self
            .call_within(
                host,
                Method::GET,
                &Route::Stats(VmId(vm.id)).path(),
                None,
                Duration::ZERO,
            )
            .await?;
        Ok(counters.flatten())
    }

    async fn present(&self, host: Uuid) -> Result<Vec<Presence>, DriverError> {
        let vms: Option<Vec<VmStatus>> = self.call(host, Method::GET, &Route::Vms.path(), None).await?;
        Ok(vms
            .unwrap_or_default()
            .into_iter()
            .map(|vm| Presence {
                id: vm.id.0,
                running: vm.running,
            })
            .collect())
    }

    async fn discard(&self, host: Uuid, id: Uuid) -> Result<(), DriverError> {
        self.call(host, Method::DELETE, &Route::Vm(VmId(id)).path(), None)
            .await
            .map(done)
    }

    fn probe(&self, edge: &meridian_core::backbone::Edge) -> meridian_core::backbone::ProbeSample {
        meridian_core::backbone::probe_sample(
            edge,
            &mut *self.rng.lock().unwrap_or_else(PoisonError::into_inner),
        )
    }

    fn edge_load(&self, edge: &meridian_core::backbone::Edge, utc_ms: i64) -> f64 {
        meridian_core::backbone::simulated_edge_load(
            edge,
            utc_ms,
            &mut *self.rng.lock().unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Nothing is made up: what VMs send is counted ([`Driver::sent`]).
    fn traffic(
        &self,
        _vm: &VmSpec,
        _peers: &[meridian_core::zone::ZoneId],
        _seconds: u64,
        _caps: &TrafficCaps,
    ) -> Traffic {
        Traffic::default()
    }
}

/// The caps host `host` (in `zone`) holds for its VMs among `rows` (the network's members): a VM's
/// own cap, and for each zone pair with `zone` in it, an even share of the pair's cap per host of
/// the tenant's in `zone` toward the other zone (each direction of a pair is held at the cap).
fn rate_caps(
    caps: &[meridian_core::bandwidth::Cap],
    rows: &[crate::store::host::NetworkMemberRow],
    host: Uuid,
    zone: &str,
) -> Vec<RateCap> {
    let kbit = |cap: &meridian_core::bandwidth::Cap| u64::try_from(cap.mbps).unwrap_or(0) * 1000;
    let hosts_in_zone = rows
        .iter()
        .filter(|row| row.zone == zone)
        .map(|row| row.host_id)
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        .max(1);
    let mut held = Vec::new();
    for cap in caps {
        match CapScope::from_key(&cap.scope, &cap.target) {
            Some(CapScope::Vm(id)) => {
                if let Some(row) = rows.iter().find(|row| row.vm_id == id && row.host_id == host) {
                    held.push(RateCap::Vm {
                        address: row.private_ip.clone(),
                        kbit: kbit(cap),
                    });
                }
            }
            Some(CapScope::Pair(a, b)) if a.as_str() == zone || b.as_str() == zone => {
                let other = if a.as_str() == zone { b } else { a };
                held.push(RateCap::Zone {
                    zone: other.to_string(),
                    kbit: kbit(cap) / hosts_in_zone as u64,
                });
            }
            _ => {}
        }
    }
    held.sort();
    held
}
