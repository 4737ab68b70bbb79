//! The host agent's API: what the control plane and a host agent say to each other, and the token
//! that proves each side to the other.
//!
//! The agent registers its host with the control plane (`POST /agent/v1/register`) and the control
//! plane calls the agent's routes under `/v1/` (listed on [`Route`]). Both directions carry
//! `Authorization: Bearer <token>` with the host's token ([`host_token`]: an HMAC of the host's id
//! under the control plane's agent secret, so one host's token opens no other host) and the
//! [`VERSION_HEADER`]: a side that speaks another version answers `409` with the code
//! [`ERROR_API_VERSION`] instead of misreading the request.

use crate::id::VmId;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

/// The version of this API. Raised when a request or answer changes incompatibly.
pub const API_VERSION: u32 = 1;

/// The header both sides send their [`API_VERSION`] in.
pub const VERSION_HEADER: &str = "meridian-agent-api";

/// The error code of a request made in another API version.
pub const ERROR_API_VERSION: &str = "api_version";
/// The error code of a request without the host's token.
pub const ERROR_UNAUTHORIZED: &str = "unauthorized";
/// The error code of a request the agent refuses for what it asks (bad spec, disk shrink, …).
pub const ERROR_INVALID: &str = "invalid";
/// The error code of a failure on the host (QEMU would not start, I/O, …).
pub const ERROR_HOST: &str = "host";
/// The error code of a serial console asked for while another session holds it (QEMU's socket
/// takes one client at a time).
pub const ERROR_BUSY: &str = "busy";
/// The error code of a serial console asked for while the VM's QEMU does not run.
pub const ERROR_NOT_RUNNING: &str = "not_running";

/// The largest WebSocket message either side of a serial console sends or takes (a paste, or the
/// guest's output read at once; keystrokes are a few bytes).
pub const SERIAL_MESSAGE_MAX: usize = 64 * 1024;

/// The control plane's route an agent registers (and heartbeats) at.
pub const REGISTER_PATH: &str = "/agent/v1/register";

/// The control plane's route an agent reports its latency probes at.
pub const PROBES_PATH: &str = "/agent/v1/probes";

/// The control plane's route the backbone's controller reads the links staff cut at
/// ([`BackboneIntent`]), with the token of [`BACKBONE_CONTROLLER`].
pub const BACKBONE_PATH: &str = "/agent/v1/backbone";

/// The id the backbone's controller authenticates as: its token is [`host_token`] of this id.
pub const BACKBONE_CONTROLLER: Uuid = Uuid::from_u128(0x6d65_7269_6469_616e_2d62_6163_6b62_6f6e);

/// What the backbone's controller makes true: the links staff cut for maintenance are down, the
/// others as the network has them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackboneIntent {
    /// The cut links, by edge key (`lon1-nyc1`).
    pub cut: Vec<String>,
}

/// How often an agent probes its peers over the backbone.
pub const PROBE_EVERY_MS: u64 = 10_000;

/// How often an agent registers again; a host not heard from for [`HOST_SILENT_AFTER_MS`] shows as
/// not answering and gets no new VMs.
pub const HEARTBEAT_MS: i64 = 5_000;
/// See [`HEARTBEAT_MS`].
pub const HOST_SILENT_AFTER_MS: i64 = 20_000;

/// The token of host `host_id` under the control plane's agent `secret`.
pub fn host_token(secret: &[u8], host_id: Uuid) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(b"meridian host agent\0");
    mac.update(host_id.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Whether `presented` is host `host_id`'s token (compared in constant time).
pub fn host_token_valid(secret: &[u8], host_id: Uuid, presented: &str) -> bool {
    let Ok(presented) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(presented.trim()) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(b"meridian host agent\0");
    mac.update(host_id.as_bytes());
    mac.verify_slice(&presented).is_ok()
}

/// The line the guest prints on its serial console once it is up (SSH listening).
pub fn ready_line(id: VmId) -> String {
    format!("meridian-ready {id}")
}

/// What an agent tells the control plane about its host, at start and every [`HEARTBEAT_MS`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// The API version the agent speaks.
    pub api_version: u32,
    /// The host's stable id (kept in the agent's state directory).
    pub host_id: Uuid,
    /// The host's name, e.g. `lon1-lab1`.
    pub name: String,
    /// The zone the host is in (a catalogue id such as `lon1`).
    pub zone: String,
    /// vCPUs offered to VMs.
    pub vcpus: u32,
    /// Memory offered to VMs.
    pub memory_mib: u64,
    /// Disk offered to VMs.
    pub disk_gib: u64,
    /// The accelerator the agent's probe chose (`kvm` or `tcg`) and why.
    pub accelerator: String,
    /// Why that accelerator, in words.
    pub accelerator_reason: String,
    /// Where the control plane reaches the agent, e.g. `http://10.254.0.11:7100`.
    pub endpoint: String,
    /// The guest image the host boots (its manifest's first line).
    pub image: String,
    /// The host's address on the backbone (the underlay its tenant networks' VXLAN runs over), if it
    /// has one.
    #[serde(default)]
    pub underlay: Option<String>,
}

/// The control plane's answer to a registration: the other hosts to probe over the backbone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationAnswer {
    /// Every other answering host with an underlay address.
    pub peers: Vec<Peer>,
}

/// Another host, as a probe target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    /// Its id.
    pub host_id: Uuid,
    /// Its zone.
    pub zone: String,
    /// Its underlay address.
    pub underlay: String,
}

/// An agent's probe round: one sample per peer (`POST /agent/v1/probes`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeReport {
    /// The reporting host.
    pub host_id: Uuid,
    /// What it measured.
    pub samples: Vec<PeerSample>,
}

/// Round trips to one peer in one round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerSample {
    /// The peer.
    pub host_id: Uuid,
    /// Mean round trip of the answered probes in ms; None when none was answered.
    pub rtt_ms: Option<f64>,
    /// Their mean deviation in ms.
    pub jitter_ms: f64,
    /// The share of probes lost (0–1).
    pub loss: f64,
    /// How many routers the answers crossed at most (64, a Linux host's first TTL, less the
    /// lowest TTL they arrived with): the way the network took. None when nothing answered (or
    /// from an agent that does not say).
    #[serde(default)]
    pub routers: Option<u32>,
}

/// A VM as the control plane asks the agent to run it. Every operation is keyed by the id and
/// idempotent: the same request twice leaves the host as once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmRequest {
    /// The VM.
    pub id: VmId,
    /// The guest's hostname.
    pub name: String,
    /// vCPUs (applied at the next start).
    pub vcpus: u32,
    /// Memory in MiB (applied at the next start).
    pub memory_mib: u32,
    /// Disk size in GiB; disks only grow.
    pub disk_gib: u64,
    /// The guest's private address with its prefix, e.g. `10.16.0.5/24`.
    pub address: Option<String>,
    /// The guest's default gateway.
    pub gateway: Option<String>,
    /// OpenSSH public key lines root may log in with.
    pub ssh_authorized_keys: Vec<String>,
    /// User data (run as a script by the guest when it starts with `#!`).
    pub user_data: Option<String>,
    /// The tenant network its port joins ([`TenantNetwork::id`]); none: the host's own bridge.
    #[serde(default)]
    pub network: Option<u32>,
}

/// The MTU of a tenant network's ports: the backbone's 1500 less VXLAN's 50 bytes of headers.
pub const TENANT_MTU: u32 = 1450;

/// A tenant's private network as one host must carry it: `PUT /v1/networks/{id}`. The host keeps a
/// router of its own for the network (its gateway for the zone's subnet on the VMs' segment) joined
/// to the network's other hosts by VXLAN (VNI = `id`); VMs on other hosts are routed to over it. A
/// host with no member of the network drops it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantNetwork {
    /// The network: one per tenant, its VXLAN VNI (1 to 2^24 - 1).
    pub id: u32,
    /// This host's zone subnet's gateway with its prefix, e.g. `10.0.0.1/24`.
    pub gateway: String,
    /// Every VM of the network with an address, wherever it runs.
    pub members: Vec<NetworkMember>,
    /// This host's VMs of the network with internet breakout: each public address, translated 1:1
    /// to its VM's private one at the network's router.
    #[serde(default)]
    pub breakouts: Vec<Breakout>,
    /// What may reach those public addresses from the internet (the tenant's rules for this
    /// host's zone); everything else inbound is dropped.
    #[serde(default)]
    pub inbound: Vec<InboundRule>,
    /// The tenant's rate caps as this host holds them (see [`RateCap`]).
    #[serde(default)]
    pub caps: Vec<RateCap>,
}

/// A limit on what a host's VMs of a network send, held by the host's shaper.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum RateCap {
    /// What this VM (by its private address) sends out of its zone's segment, every destination
    /// together.
    Vm {
        /// The VM's private address.
        address: String,
        /// The rate, in kbit/s (1000 bit/s).
        kbit: u64,
    },
    /// What this host's VMs of the network send together to the network's VMs in `zone`.
    Zone {
        /// The destination zone.
        zone: String,
        /// The rate, in kbit/s: this host's share of the zone pair's cap.
        kbit: u64,
    },
}

/// What a VM has sent since its port was made, as its host counts it at the VM's port: IP bytes
/// (no overlay headers), by destination. `GET /v1/vms/{id}/traffic`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentBytes {
    /// To the network's VMs in each other zone, by zone.
    pub zones: std::collections::BTreeMap<String, u64>,
    /// To the internet (through the VM's breakout).
    pub internet: u64,
}

/// A running VM's counters since its QEMU started: the host CPU time its process used and the
/// bytes through its port (both ways, every destination, the same zone's included). Cumulative;
/// the control plane charts the difference between readings. `GET /v1/vms/{id}/stats`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmCounters {
    /// CPU time of the VM's QEMU process (user and system, all its threads), in ms.
    pub cpu_ms: u64,
    /// Bytes the VM received through its port.
    pub received_bytes: u64,
    /// Bytes the VM sent through its port.
    pub sent_bytes: u64,
}

/// A VM's public address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breakout {
    /// The VM's private address.
    pub address: String,
    /// Its public address.
    pub public: String,
}

/// An inbound firewall rule: traffic it matches reaches the network's public addresses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundRule {
    /// `tcp`, `udp` or `icmp`.
    pub protocol: String,
    /// The first port (none for ICMP).
    pub port_from: Option<u16>,
    /// The last port.
    pub port_to: Option<u16>,
    /// Where it may come from, e.g. `0.0.0.0/0`.
    pub source: String,
}

/// A VM of a tenant network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkMember {
    /// The VM.
    pub vm: VmId,
    /// Its private address (no prefix).
    pub address: String,
    /// Its host's underlay address ([`Registration::underlay`]).
    pub host: String,
    /// Its zone (what its traffic is counted and capped by).
    #[serde(default)]
    pub zone: String,
}

/// A VM's state on its host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmStatus {
    /// The VM.
    pub id: VmId,
    /// Whether its QEMU runs.
    pub running: bool,
    /// The QEMU process, when running.
    pub pid: Option<u32>,
    /// Whether it has a disk on this host.
    pub disk: bool,
    /// Whether the guest printed its ready line ([`ready_line`]) since its QEMU started.
    pub ready: bool,
    /// The guest image it last booted (the manifest's first line).
    pub image: Option<String>,
}

/// The last lines of a VM's serial console.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Console {
    /// Oldest first.
    pub lines: Vec<String>,
}

/// An error answer from either side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// A stable code ([`ERROR_API_VERSION`], [`ERROR_UNAUTHORIZED`], [`ERROR_INVALID`], [`ERROR_HOST`], …).
    pub code: String,
    /// What went wrong, in words.
    pub message: String,
}

/// The agent's routes, for both sides to name them the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /v1/host`: the host's [`Registration`].
    Host,
    /// `GET /v1/vms`: every VM on the host ([`VmStatus`] list), for reconciliation.
    Vms,
    /// `GET /v1/vms/{id}`: one VM's [`VmStatus`] (also for a VM it does not have: not running, no
    /// disk). `DELETE`: destroy it — process, port and disk — leaving nothing behind.
    Vm(VmId),
    /// `PUT /v1/vms/{id}/disk` with a [`VmRequest`]: the disk exists at least that big.
    Disk(VmId),
    /// `PUT /v1/vms/{id}/nic` with a [`VmRequest`]: its network port (a tap on the host's bridge)
    /// exists. `DELETE`: it does not.
    Nic(VmId),
    /// `PUT /v1/vms/{id}/running` with a [`VmRequest`]: it runs.
    Running(VmId),
    /// `POST /v1/vms/{id}/power-off`: ACPI power-down with a bounded wait, then a hard stop.
    PowerOff(VmId),
    /// `POST /v1/vms/{id}/reboot` with a [`VmRequest`]: power off and start (a new size applies).
    Reboot(VmId),
    /// `GET /v1/vms/{id}/console?lines=N`: the last lines of its serial console ([`Console`]).
    Console(VmId),
    /// `PUT /v1/networks/{id}` with a [`TenantNetwork`]: the host carries it as described (or
    /// drops it when no member is on this host).
    Network(u32),
    /// `GET /v1/vms/{id}/serial`, a WebSocket upgrade: the serial console, interactive. Binary
    /// messages carry the guest's output one way and what is typed the other (at most
    /// [`SERIAL_MESSAGE_MAX`] bytes each); the console log goes on being written meanwhile. One
    /// session per VM at a time: another is refused with `409` [`ERROR_BUSY`], and a VM that does
    /// not run with `409` [`ERROR_NOT_RUNNING`]. The socket closes when the VM stops.
    Serial(VmId),
    /// `GET /v1/vms/{id}/traffic`: what the VM has sent ([`SentBytes`]); nothing for a VM without
    /// a port on a tenant network.
    Traffic(VmId),
    /// `GET /v1/vms/{id}/stats`: its [`VmCounters`], or `null` when it does not run.
    Stats(VmId),
}

impl Route {
    /// The path of this route.
    pub fn path(self) -> String {
        match self {
            Route::Host => "/v1/host".to_owned(),
            Route::Vms => "/v1/vms".to_owned(),
            Route::Vm(id) => format!("/v1/vms/{id}"),
            Route::Disk(id) => format!("/v1/vms/{id}/disk"),
            Route::Nic(id) => format!("/v1/vms/{id}/nic"),
            Route::Running(id) => format!("/v1/vms/{id}/running"),
            Route::PowerOff(id) => format!("/v1/vms/{id}/power-off"),
            Route::Reboot(id) => format!("/v1/vms/{id}/reboot"),
            Route::Console(id) => format!("/v1/vms/{id}/console"),
            Route::Network(id) => format!("/v1/networks/{id}"),
            Route::Serial(id) => format!("/v1/vms/{id}/serial"),
            Route::Traffic(id) => format!("/v1/vms/{id}/traffic"),
            Route::Stats(id) => format!("/v1/vms/{id}/stats"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_token_opens_only_its_host() {
        let secret = b"lab secret";
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let token = host_token(secret, a);
        assert!(host_token_valid(secret, a, &token));
        assert!(!host_token_valid(secret, b, &token), "another host's token");
        assert!(
            !host_token_valid(b"other secret", a, &token),
            "another control plane"
        );
        assert!(!host_token_valid(secret, a, ""));
        assert!(!host_token_valid(secret, a, "not base64 !"));
    }
}
