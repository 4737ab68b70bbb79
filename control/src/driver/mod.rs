//! Drivers: what a hypervisor and network backend must do for the control plane.
//!
//! The orchestration code (jobs, placement, addressing) is the same whatever is behind this
//! trait; the default [`simulated::SimulatedDriver`] pretends to be sixteen zones of hosts, and a
//! real driver would talk to hypervisors and the MPLS network instead. Every operation must be
//! idempotent: a job step may run twice after a crash, and asking for what is already so succeeds.

pub mod agent;
pub mod simulated;

use async_trait::async_trait;
use meridian_core::job::Step;
use meridian_core::zone::ZoneId;
use std::net::Ipv4Addr;
use thiserror::Error;
use uuid::Uuid;

pub use meridian_core::host::HostSpec;

/// What the backend needs to know about a VM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmSpec {
    /// The VM.
    pub id: Uuid,
    /// Its name (the guest hostname).
    pub name: String,
    /// Zone.
    pub zone: ZoneId,
    /// The host it was placed on.
    pub host: Option<Uuid>,
    /// Template id.
    pub template: String,
    /// vCPUs.
    pub vcpus: u32,
    /// Memory.
    pub memory_mib: u64,
    /// Disk.
    pub disk_gib: u64,
    /// Address on the tenant's private network.
    pub private_ip: Option<Ipv4Addr>,
    /// Public address, when breakout is on.
    pub public_ip: Option<Ipv4Addr>,
    /// Fingerprints of the SSH keys to install for the template's default user.
    pub ssh_keys: Vec<String>,
    /// The cloud-config it boots with.
    pub user_data: Option<String>,
    /// The state the control plane records for it: what a backend that keeps nothing of its
    /// own (the simulator, after a restart or on another server) goes by.
    pub state: meridian_core::resource::VmState,
}

/// A backend failure. The message is safe to show; jobs record it as the failed step's error.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{message}")]
pub struct DriverError {
    /// What went wrong, for the person who asked.
    pub message: String,
    /// Whether the same request may succeed if tried again (a host that did not answer), rather
    /// than being refused for good (no disk to boot): a job retries the step a few times first.
    pub transient: bool,
}

impl DriverError {
    /// The backend refused: trying again would not help.
    pub fn refused(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            transient: false,
        }
    }

    /// The backend could not be reached or did not answer: trying again may help.
    pub fn unreachable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            transient: true,
        }
    }
}

/// Traffic a VM sent during a period, as the network reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Bytes to each other zone of the tenant's private network, over the backbone.
    pub backbone: Vec<(ZoneId, u64)>,
    /// Bytes to and from the internet through the zone's breakout.
    pub internet: u64,
}

/// The most a VM may send over one metering period, in bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrafficCaps {
    /// Everything the VM sends, all destinations together.
    pub total: Option<u64>,
    /// Per peer zone: the VM's share of the tenant's cap on that zone pair.
    pub per_peer: Vec<(ZoneId, u64)>,
}

/// What a simulated VM did over a period besides sending ([`Driver::traffic`]), made up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Load {
    /// CPU time used, all vCPUs together, in ms.
    pub cpu_ms: u64,
    /// Bytes received.
    pub received_bytes: u64,
}

pub use meridian_core::agent_api::VmCounters;

/// A VM that exists on a host, as the backend lists it for reconciliation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Presence {
    /// The VM.
    pub id: Uuid,
    /// Whether it runs.
    pub running: bool,
}

/// Where the server opens a VM's interactive serial console: a WebSocket URL and the headers the
/// request must carry (the host's token among them, so `Debug` shows only the headers' names).
#[derive(Clone, PartialEq, Eq)]
pub struct SerialEndpoint {
    /// `ws://…` of the console.
    pub url: String,
    /// Header name and value pairs to send with the upgrade request.
    pub headers: Vec<(String, String)>,
}

impl std::fmt::Debug for SerialEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("SerialEndpoint")
            .field("url", &self.url)
            .field("headers", &names)
            .finish()
    }
}

/// The operations a backend provides.
#[async_trait]
pub trait Driver: Send + Sync + 'static {
    /// What to call this backend in the UI, e.g. "Simulated zones".
    fn name(&self) -> &'static str;

    /// True when its VMs are not real (no guest runs); the UI labels their consoles, containers
    /// and traffic as simulated. A real backend counts what its VMs send ([`Driver::sent`]).
    fn is_simulated(&self) -> bool;

    /// True when its backbone figures (latency probes, edge load) are a model rather than
    /// measured; the map labels them so.
    fn network_is_simulated(&self) -> bool {
        self.is_simulated()
    }

    /// The hosts the backend knows of when the control plane starts (the simulator's). A host
    /// agent's host is not among them: the agent registers it, whenever it starts.
    async fn hosts(&self) -> Vec<HostSpec>;

    /// The public addresses a zone's internet breakout can hand out.
    fn public_addresses(&self, zone: ZoneId) -> Vec<Ipv4Addr>;

    /// Called before every job step and every undo; a test or chaos setting may make it fail.
    /// Real backends do nothing here.
    async fn before_step(&self, _step: Step, _undo: bool, _vm: &VmSpec) -> Result<(), DriverError> {
        Ok(())
    }

    /// Creates the VM's disk from its template (no-op if it exists).
    async fn disk_create(&self, vm: &VmSpec) -> Result<(), DriverError>;
    /// Grows the VM's disk to `disk_gib` (no-op if it is that big already).
    async fn disk_resize(&self, vm: &VmSpec, disk_gib: u64) -> Result<(), DriverError>;
    /// Deletes the VM's disk (no-op if it is gone).
    async fn disk_delete(&self, vm: &VmSpec) -> Result<(), DriverError>;
    /// Boots the VM on its host (no-op if running).
    async fn vm_boot(&self, vm: &VmSpec) -> Result<(), DriverError>;
    /// Powers the VM off (no-op if off or absent).
    async fn vm_power_off(&self, vm: &VmSpec) -> Result<(), DriverError>;
    /// Restarts the guest.
    async fn vm_reboot(&self, vm: &VmSpec) -> Result<(), DriverError>;
    /// Plugs the VM into the tenant's private network at its private address.
    async fn network_attach(&self, vm: &VmSpec) -> Result<(), DriverError>;
    /// Unplugs the VM from the private network.
    async fn network_detach(&self, vm: &VmSpec) -> Result<(), DriverError>;
    /// Routes the VM's public address to it through the zone's internet breakout.
    async fn breakout_attach(&self, vm: &VmSpec) -> Result<(), DriverError>;
    /// Withdraws the public address.
    async fn breakout_detach(&self, vm: &VmSpec) -> Result<(), DriverError>;

    /// The guest's console output so far (its last lines).
    async fn console(&self, vm: &VmSpec) -> Result<Vec<String>, DriverError>;

    /// The guest image the VM last booted, as its host names it; None when the backend does not
    /// say (the simulator boots no image).
    async fn guest_image(&self, _vm: &VmSpec) -> Result<Option<String>, DriverError> {
        Ok(None)
    }

    /// Where the VM's serial console can be used interactively; None when the backend has no
    /// such console (the simulator's is made up).
    async fn serial_endpoint(&self, _vm: &VmSpec) -> Result<Option<SerialEndpoint>, DriverError> {
        Ok(None)
    }

    /// The containers running in the guest, as its container engine reports them.
    async fn containers(&self, vm: &VmSpec) -> Result<Vec<meridian_core::stack::Container>, DriverError>;

    /// Every VM that exists on `host` (a process, a port or a disk), for reconciliation. A
    /// backend whose hardware cannot drift from the database lists nothing.
    async fn present(&self, host: Uuid) -> Result<Vec<Presence>, DriverError>;

    /// Tenant `tenant`'s network settings changed (its firewall rules): the backend applies them.
    /// A backend that reads them when it routes (the simulator) has nothing to do.
    async fn network_refresh(&self, _tenant: Uuid) -> Result<(), DriverError> {
        Ok(())
    }

    /// Removes VM `id` from `host` entirely (process, port, disk) though the database no longer
    /// knows it: the reconciler's way to clear an orphan. No-op if nothing is there.
    async fn discard(&self, host: Uuid, id: Uuid) -> Result<(), DriverError>;

    /// One latency probe over a backbone edge.
    fn probe(&self, edge: &meridian_core::backbone::Edge) -> meridian_core::backbone::ProbeSample;

    /// How much of a backbone edge's capacity is in use at `utc_ms` (0–1), all traffic counted.
    fn edge_load(&self, edge: &meridian_core::backbone::Edge, utc_ms: i64) -> f64;

    /// The simulation's traffic: what the VM sent in the last `seconds` to `peers` (the other
    /// zones of its tenant's network) and to the internet, made up and held within `caps` (the
    /// limits the tenant set for this VM over this period). A real backend reports nothing here:
    /// it counts what VMs really send ([`Driver::sent`]) and holds the caps on real packets.
    fn traffic(&self, vm: &VmSpec, peers: &[ZoneId], seconds: u64, caps: &TrafficCaps) -> Traffic;

    /// What the VM has sent since its port was made, by destination, as the counters at its port
    /// count it (cumulative: the meter takes the difference between readings); None from a
    /// backend that counts nothing (the simulation, whose figures come from [`Driver::traffic`]).
    async fn sent(&self, _vm: &VmSpec) -> Result<Option<Traffic>, DriverError> {
        Ok(None)
    }

    /// The simulation's load on the VM over `[from_ms, to_ms)` while it runs: CPU time and bytes
    /// received, made up (what it sent is [`Driver::traffic`]). None from a real backend, which
    /// counts them ([`Driver::counters`]).
    fn load(&self, _vm: &VmSpec, _from_ms: i64, _to_ms: i64) -> Option<Load> {
        None
    }

    /// A running VM's counters since it started (CPU time, bytes through its port both ways),
    /// cumulative; None from a backend that counts nothing, or for a VM that does not run.
    async fn counters(&self, _vm: &VmSpec) -> Result<Option<VmCounters>, DriverError> {
        Ok(None)
    }
}
