//! The agent's HTTP API (the routes of [`meridian_core::agent_api::Route`]): every request carries
//! the host's bearer token and the API version, answers carry the version, errors are
//! [`ApiError`] JSON. Every operation is idempotent.

use crate::nic::{self, Network};
use crate::qemu::{self, Qemu, VmSpec, VmState};
use crate::serial;
use crate::tenant_net::{self, Port, TenantNets};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use meridian_core::agent_api::{
    API_VERSION, ApiError, Console, ERROR_API_VERSION, ERROR_BUSY, ERROR_HOST, ERROR_INVALID,
    ERROR_NOT_RUNNING, ERROR_UNAUTHORIZED, Registration, SERIAL_MESSAGE_MAX, TENANT_MTU, TenantNetwork,
    VERSION_HEADER, VmRequest, VmStatus,
};
use meridian_core::id::VmId;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// The largest request body (a [`VmRequest`] with its user data).
pub const BODY_LIMIT: usize = 256 * 1024;
/// How long a power-off, reboot or destroy waits for the guest to power off before stopping QEMU.
pub const POWER_OFF_WAIT: Duration = Duration::from_secs(30);
/// Console lines answered when the request does not say.
pub const CONSOLE_LINES_DEFAULT: usize = 200;
/// The most console lines answered.
pub const CONSOLE_LINES_MAX: usize = 2000;
/// The most console bytes read from the end of the log for one answer.
const CONSOLE_READ_MAX: u64 = 1024 * 1024;

/// What the API's handlers share.
#[derive(Clone)]
pub struct Agent {
    /// The VMs.
    pub qemu: Qemu,
    /// Their ports.
    pub network: Network,
    /// The tenant networks this host carries.
    pub nets: TenantNets,
    /// What `GET /v1/host` answers (and what the agent registers).
    pub registration: Registration,
    /// SHA-256 of the host token; compared in constant time with the presented token's.
    token_digest: [u8; 32],
    /// Held while the anti-spoofing rules are read and rewritten, so that two ports changing at
    /// once cannot leave one of them out.
    ports_changing: Arc<tokio::sync::Mutex<()>>,
    /// The serial consoles with a session open.
    serial: serial::Sessions,
}

impl Agent {
    /// The handlers' state; `token` is this host's token.
    pub fn new(
        qemu: Qemu,
        network: Network,
        nets: TenantNets,
        registration: Registration,
        token: &str,
    ) -> Self {
        Self {
            qemu,
            network,
            nets,
            registration,
            token_digest: Sha256::digest(token.as_bytes()).into(),
            ports_changing: Arc::default(),
            serial: serial::Sessions::default(),
        }
    }

    /// Digests, not the tokens, are compared: `ct_eq` is constant-time only over equal lengths,
    /// and a digest gives away nothing about the token's length.
    fn token_matches(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        digest.ct_eq(&self.token_digest).into()
    }
}

/// The router over every route, behind the token and version check.
pub fn router(agent: Agent) -> Router {
    let agent = Arc::new(agent);
    Router::new()
        .route("/v1/host", get(host_view))
        .route("/v1/vms", get(vm_list))
        .route("/v1/vms/{id}", get(vm_view).delete(vm_destroy))
        .route("/v1/vms/{id}/disk", put(disk_ensure))
        .route("/v1/vms/{id}/nic", put(nic_ensure).delete(nic_remove))
        .route("/v1/vms/{id}/running", put(vm_start))
        .route("/v1/vms/{id}/power-off", post(vm_power_off))
        .route("/v1/vms/{id}/reboot", post(vm_reboot))
        .route("/v1/vms/{id}/console", get(console_view))
        .route("/v1/networks/{id}", put(network_ensure))
        .route("/v1/vms/{id}/serial", get(serial_open))
        .route("/v1/vms/{id}/traffic", get(traffic_view))
        .route("/v1/vms/{id}/stats", get(stats_view))
        .fallback(|| async { Failure::NotFound })
        .layer(middleware::from_fn_with_state(agent.clone(), guard))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(agent)
}

/// The edge: bearer token, then version; the version header on every answer.
async fn guard(State(agent): State<Arc<Agent>>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let mut response = if !presented.is_some_and(|token| agent.token_matches(token.trim())) {
        Failure::Unauthorized.into_response()
    } else {
        let version = request
            .headers()
            .get(VERSION_HEADER)
            .and_then(|v| v.to_str().ok());
        if version.and_then(|v| v.trim().parse::<u32>().ok()) == Some(API_VERSION) {
            next.run(request).await
        } else {
            Failure::Version(version.map(str::to_owned)).into_response()
        }
    };
    response
        .headers_mut()
        .insert(VERSION_HEADER, HeaderValue::from(API_VERSION));
    response
}

/// Why a request failed; the one place a failure becomes a status and an [`ApiError`].
#[derive(Debug)]
enum Failure {
    Unauthorized,
    Version(Option<String>),
    NotFound,
    /// Refused for what it asks; the message is the user's.
    Invalid(String),
    /// The body is larger than [`BODY_LIMIT`].
    TooLarge,
    /// A WebSocket route asked for without a WebSocket upgrade; the message says what is missing.
    NotWebSocket(String),
    /// The serial console is in another session's hands.
    Busy,
    /// The serial console of a VM whose QEMU does not run.
    NotRunning,
    /// Failed on the host; `action` is shown, the error only logged.
    Host {
        action: &'static str,
        error: anyhow::Error,
    },
}

impl Failure {
    fn host(action: &'static str, error: impl Into<anyhow::Error>) -> Self {
        Failure::Host {
            action,
            error: error.into(),
        }
    }
}

impl From<(&'static str, qemu::Error)> for Failure {
    fn from((action, error): (&'static str, qemu::Error)) -> Self {
        match error {
            qemu::Error::InvalidSpec(_) | qemu::Error::DiskShrink { .. } => {
                Failure::Invalid(error.to_string())
            }
            error => Failure::host(action, error),
        }
    }
}

impl From<(&'static str, nic::Error)> for Failure {
    fn from((action, error): (&'static str, nic::Error)) -> Self {
        match error {
            nic::Error::Invalid(_) => Failure::Invalid(error.to_string()),
            error => Failure::host(action, error),
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            Failure::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                ERROR_UNAUTHORIZED,
                "this request does not carry this host's token".to_owned(),
            ),
            Failure::Version(asked) => (
                StatusCode::CONFLICT,
                ERROR_API_VERSION,
                format!(
                    "this agent speaks API {API_VERSION}; the request is for API {}",
                    asked.as_deref().unwrap_or("none")
                ),
            ),
            Failure::NotFound => (StatusCode::NOT_FOUND, "not_found", "no such route".to_owned()),
            Failure::Invalid(message) => (StatusCode::UNPROCESSABLE_ENTITY, ERROR_INVALID, message),
            Failure::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                ERROR_INVALID,
                format!("the body is larger than {} KiB", BODY_LIMIT / 1024),
            ),
            Failure::NotWebSocket(message) => (StatusCode::UPGRADE_REQUIRED, ERROR_INVALID, message),
            Failure::Busy => (
                StatusCode::CONFLICT,
                ERROR_BUSY,
                "another session has this VM's serial console open".to_owned(),
            ),
            Failure::NotRunning => (
                StatusCode::CONFLICT,
                ERROR_NOT_RUNNING,
                "the VM is not running".to_owned(),
            ),
            Failure::Host { action, error } => {
                tracing::error!(action, error = format!("{error:#}"), "host failure");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ERROR_HOST,
                    format!("the host could not {action}; the agent's log says why"),
                )
            }
        };
        let body = ApiError {
            code: code.to_owned(),
            message,
        };
        (status, axum::Json(body)).into_response()
    }
}

type Answer<T> = Result<T, Failure>;

fn vm_id(raw: &str) -> Answer<VmId> {
    raw.parse()
        .map_err(|_| Failure::Invalid(format!("{raw:?} is not a VM id")))
}

/// The body as a [`VmRequest`] for VM `id`.
fn vm_request(id: VmId, body: Result<Bytes, BytesRejection>) -> Answer<VmRequest> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Failure::TooLarge
        } else {
            Failure::Invalid(rejection.body_text())
        }
    })?;
    let request: VmRequest = serde_json::from_slice(&body)
        .map_err(|e| Failure::Invalid(format!("the body is not a VM request: {e}")))?;
    if request.id != id {
        return Err(Failure::Invalid(format!(
            "the body is for VM {}, the path for VM {id}",
            request.id
        )));
    }
    Ok(request)
}

/// The QEMU spec of a request, with its port when the tap exists.
fn vm_spec(agent: &Agent, request: VmRequest) -> Answer<VmSpec> {
    let disk_bytes = request
        .disk_gib
        .checked_mul(1 << 30)
        .ok_or_else(|| Failure::Invalid("the disk is too large".to_owned()))?;
    let nic = agent
        .network
        .tap_exists(request.id)
        .then(|| nic::vm_nic(request.id));
    Ok(VmSpec {
        id: request.id,
        vcpus: request.vcpus,
        memory_mib: request.memory_mib,
        disk_bytes,
        meta: qemu::VmMeta {
            hostname: request.name,
            address: request.address,
            gateway: request.gateway,
            ssh_authorized_keys: request.ssh_authorized_keys,
            mtu: request.network.map(|_| TENANT_MTU),
        },
        user_data: request.user_data,
        nic,
    })
}

async fn vm_status(agent: &Agent, id: VmId) -> VmStatus {
    let paths = agent.qemu.paths(id);
    let pid = match agent.qemu.state(id).await {
        VmState::Running { pid } => Some(pid),
        VmState::Stopped => None,
    };
    let ready = match pid {
        Some(_) => {
            let console = paths.console.clone();
            tokio::task::spawn_blocking(move || booted(&console, id))
                .await
                .unwrap_or(false)
        }
        None => false,
    };
    let image = tokio::fs::read_to_string(&paths.image)
        .await
        .ok()
        .map(|m| qemu::image_name(&m));
    VmStatus {
        id,
        running: pid.is_some(),
        pid,
        disk: tokio::fs::try_exists(&paths.disk).await.unwrap_or(false),
        ready,
        image,
    }
}

/// Whether the console log at `path` shows VM `id`'s ready line after the agent's last start of
/// its QEMU ([`qemu::START_MARKER`]). A chatty guest may have pushed the marker out of the lines
/// read: a ready line alone then counts.
fn booted(path: &std::path::Path, id: VmId) -> bool {
    let Ok(lines) = console_tail(path, CONSOLE_LINES_MAX) else {
        return false;
    };
    let ready = meridian_core::agent_api::ready_line(id);
    let last_start = lines.iter().rposition(|l| l.starts_with(qemu::START_MARKER));
    let last_ready = lines.iter().rposition(|l| l.contains(&ready));
    match (last_start, last_ready) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(start), Some(ready)) => ready > start,
    }
}

async fn host_view(State(agent): State<Arc<Agent>>) -> axum::Json<Registration> {
    axum::Json(agent.registration.clone())
}

async fn vm_list(State(agent): State<Arc<Agent>>) -> Answer<axum::Json<Vec<VmStatus>>> {
    let entries = agent
        .qemu
        .list()
        .await
        .map_err(|e| Failure::from(("list its VMs", e)))?;
    let mut vms = Vec::with_capacity(entries.len());
    for entry in entries {
        vms.push(vm_status(&agent, entry.id).await);
    }
    Ok(axum::Json(vms))
}

async fn vm_view(State(agent): State<Arc<Agent>>, Path(id): Path<String>) -> Answer<axum::Json<VmStatus>> {
    let id = vm_id(&id)?;
    Ok(axum::Json(vm_status(&agent, id).await))
}

async fn vm_destroy(State(agent): State<Arc<Agent>>, Path(id): Path<String>) -> Answer<StatusCode> {
    let id = vm_id(&id)?;
    // The process first (it holds the tap), then the port, then the directory.
    agent
        .qemu
        .power_off(id, POWER_OFF_WAIT)
        .await
        .map_err(|e| Failure::from(("power off the VM", e)))?;
    agent
        .network
        .remove_port(id)
        .await
        .map_err(|e| Failure::from(("remove the VM's port", e)))?;
    agent
        .qemu
        .destroy(id, POWER_OFF_WAIT)
        .await
        .map_err(|e| Failure::from(("destroy the VM", e)))?;
    filter_ports(&agent).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn disk_ensure(
    State(agent): State<Arc<Agent>>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Answer<axum::Json<VmStatus>> {
    let id = vm_id(&id)?;
    let spec = vm_spec(&agent, vm_request(id, body)?)?;
    agent
        .qemu
        .ensure_disk(&spec)
        .await
        .map_err(|e| Failure::from(("make the disk", e)))?;
    Ok(axum::Json(vm_status(&agent, id).await))
}

async fn nic_ensure(
    State(agent): State<Arc<Agent>>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Answer<axum::Json<VmStatus>> {
    let id = vm_id(&id)?;
    let request = vm_request(id, body)?;
    match request.network {
        Some(network) => {
            let address = request
                .address
                .as_deref()
                .and_then(|a| a.split('/').next())
                .and_then(|a| a.parse().ok())
                .ok_or_else(|| {
                    Failure::Invalid("a port on a tenant network needs the VM's address".to_owned())
                })?;
            let nic = agent
                .network
                .ensure_tenant_port(id, &tenant_net::bridge(network), TENANT_MTU)
                .await
                .map_err(|e| Failure::from(("make the VM's port", e)))?;
            let port = Port {
                vm: id,
                tap: nic.tap,
                mac: nic.mac,
                address,
                network,
            };
            let file = agent.qemu.paths(id).dir.join("port");
            let text = serde_json::to_vec(&port).map_err(|e| Failure::host("record the VM's port", e))?;
            tokio::fs::create_dir_all(agent.qemu.paths(id).dir)
                .await
                .map_err(|e| Failure::host("record the VM's port", e))?;
            tokio::fs::write(&file, text)
                .await
                .map_err(|e| Failure::host("record the VM's port", e))?;
        }
        None => {
            agent
                .network
                .ensure_port(id, request.address.as_deref(), request.gateway.as_deref())
                .await
                .map_err(|e| Failure::from(("make the VM's port", e)))?;
        }
    }
    filter_ports(&agent).await?;
    Ok(axum::Json(vm_status(&agent, id).await))
}

/// Rewrites the anti-spoofing rules for every tenant port of this host (those whose tap exists).
async fn filter_ports(agent: &Agent) -> Answer<()> {
    let _one_at_a_time = agent.ports_changing.lock().await;
    let entries = agent
        .qemu
        .list()
        .await
        .map_err(|e| Failure::from(("list the VMs", e)))?;
    let mut ports = Vec::new();
    for entry in entries {
        let file = agent.qemu.paths(entry.id).dir.join("port");
        let Ok(text) = tokio::fs::read(&file).await else {
            continue;
        };
        match serde_json::from_slice::<Port>(&text) {
            Ok(port) if agent.network.tap_exists(entry.id) => ports.push(port),
            Ok(_) => {}
            Err(e) => tracing::warn!(path = %file.display(), error = %e, "unreadable port record; ignored"),
        }
    }
    agent
        .nets
        .filter_ports(&ports)
        .await
        .map_err(|e| Failure::host("apply the ports' anti-spoofing rules", e))
}

async fn network_ensure(
    State(agent): State<Arc<Agent>>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Answer<StatusCode> {
    let id: u32 = id.parse().map_err(|_| Failure::NotFound)?;
    let body = body.map_err(|e| Failure::Invalid(e.body_text()))?;
    let net: TenantNetwork =
        serde_json::from_slice(&body).map_err(|e| Failure::Invalid(format!("not a tenant network: {e}")))?;
    if net.id != id {
        return Err(Failure::Invalid(format!(
            "the body is network {}, the path {id}",
            net.id
        )));
    }
    agent.nets.ensure(&net).await.map_err(|e| match e {
        tenant_net::Error::Invalid(message) => Failure::Invalid(message),
        other => Failure::host("set up the tenant network", other),
    })?;
    Ok(StatusCode::NO_CONTENT)
}

async fn nic_remove(State(agent): State<Arc<Agent>>, Path(id): Path<String>) -> Answer<StatusCode> {
    let id = vm_id(&id)?;
    agent
        .network
        .remove_port(id)
        .await
        .map_err(|e| Failure::from(("remove the VM's port", e)))?;
    filter_ports(&agent).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn vm_start(
    State(agent): State<Arc<Agent>>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Answer<axum::Json<VmStatus>> {
    let id = vm_id(&id)?;
    let spec = vm_spec(&agent, vm_request(id, body)?)?;
    agent
        .qemu
        .ensure_running(&spec)
        .await
        .map_err(|e| Failure::from(("start the VM", e)))?;
    Ok(axum::Json(vm_status(&agent, id).await))
}

async fn vm_power_off(
    State(agent): State<Arc<Agent>>,
    Path(id): Path<String>,
) -> Answer<axum::Json<VmStatus>> {
    let id = vm_id(&id)?;
    agent
        .qemu
        .power_off(id, POWER_OFF_WAIT)
        .await
        .map_err(|e| Failure::from(("power off the VM", e)))?;
    Ok(axum::Json(vm_status(&agent, id).await))
}

async fn vm_reboot(
    State(agent): State<Arc<Agent>>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Answer<axum::Json<VmStatus>> {
    let id = vm_id(&id)?;
    let spec = vm_spec(&agent, vm_request(id, body)?)?;
    agent
        .qemu
        .reboot(&spec, POWER_OFF_WAIT)
        .await
        .map_err(|e| Failure::from(("reboot the VM", e)))?;
    Ok(axum::Json(vm_status(&agent, id).await))
}

/// The console query.
#[derive(Debug, Deserialize)]
struct ConsoleQuery {
    lines: Option<usize>,
}

async fn console_view(
    State(agent): State<Arc<Agent>>,
    Path(id): Path<String>,
    query: Result<Query<ConsoleQuery>, QueryRejection>,
) -> Answer<axum::Json<Console>> {
    let id = vm_id(&id)?;
    let Query(query) = query.map_err(|e| Failure::Invalid(e.body_text()))?;
    let lines = query
        .lines
        .unwrap_or(CONSOLE_LINES_DEFAULT)
        .min(CONSOLE_LINES_MAX);
    let path = agent.qemu.paths(id).console;
    let tail = tokio::task::spawn_blocking(move || console_tail(&path, lines))
        .await
        .map_err(|e| Failure::host("read the console", e))?
        .map_err(|e| Failure::host("read the console", e))?;
    Ok(axum::Json(Console { lines: tail }))
}

/// What the VM has sent, by destination, from its tenant router's counters (nothing for a VM
/// without a port on a tenant network).
async fn traffic_view(
    State(agent): State<Arc<Agent>>,
    Path(id): Path<String>,
) -> Answer<axum::Json<meridian_core::agent_api::SentBytes>> {
    let id = vm_id(&id)?;
    let file = agent.qemu.paths(id).dir.join("port");
    let Ok(text) = tokio::fs::read(&file).await else {
        return Ok(axum::Json(Default::default()));
    };
    let port: Port =
        serde_json::from_slice(&text).map_err(|e| Failure::host("read the VM's port record", e))?;
    let sent = agent
        .nets
        .sent(port.network, id)
        .await
        .map_err(|e| Failure::host("read the VM's traffic counters", e))?;
    Ok(axum::Json(sent))
}

/// The VM's CPU time and the bytes through its port; `null` when it does not run.
async fn stats_view(
    State(agent): State<Arc<Agent>>,
    Path(id): Path<String>,
) -> Answer<axum::Json<Option<meridian_core::agent_api::VmCounters>>> {
    let id = vm_id(&id)?;
    let Some(cpu_ms) = agent.qemu.cpu_ms(id).await else {
        return Ok(axum::Json(None));
    };
    let (received_bytes, sent_bytes) = nic::port_bytes(id)
        .await
        .map_err(|e| Failure::host("read the VM's port counters", e))?
        .unwrap_or_default();
    Ok(axum::Json(Some(meridian_core::agent_api::VmCounters {
        cpu_ms,
        received_bytes,
        sent_bytes,
    })))
}

/// The interactive serial console: a WebSocket relayed to the VM's QEMU serial socket (see
/// [`serial`]). Checked before the upgrade, so a refusal is a plain HTTP answer: the VM runs, no
/// other session holds its console, its socket accepts.
async fn serial_open(
    State(agent): State<Arc<Agent>>,
    Path(id): Path<String>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Answer<Response> {
    let id = vm_id(&id)?;
    let upgrade = upgrade.map_err(|rejection| Failure::NotWebSocket(rejection.body_text()))?;
    if agent.qemu.state(id).await == VmState::Stopped {
        return Err(Failure::NotRunning);
    }
    let session = agent.serial.take(id).ok_or(Failure::Busy)?;
    let serial = tokio::net::UnixStream::connect(agent.qemu.paths(id).serial)
        .await
        .map_err(|e| Failure::host("open the serial console", e))?;
    Ok(upgrade
        .max_message_size(SERIAL_MESSAGE_MAX)
        .max_frame_size(SERIAL_MESSAGE_MAX)
        .on_upgrade(move |socket| serial::relay(socket, serial, session)))
}

/// The last `lines` lines of the log at `path` (none when it does not exist), read backwards from
/// its end in blocks, at most [`CONSOLE_READ_MAX`] bytes; lossy UTF-8, control characters other
/// than tab removed.
fn console_tail(path: &std::path::Path, lines: usize) -> std::io::Result<Vec<String>> {
    const BLOCK: u64 = 64 * 1024;
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let floor = len.saturating_sub(CONSOLE_READ_MAX);
    let mut start = len;
    let mut tail: Vec<u8> = Vec::new();
    // One more line break than lines wanted: the text before it is a partial line.
    while start > floor && tail.iter().filter(|b| **b == b'\n').count() <= lines {
        let from = start.saturating_sub(BLOCK).max(floor);
        let mut block = vec![0; (start - from) as usize];
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut block)?;
        block.extend_from_slice(&tail);
        tail = block;
        start = from;
    }
    let text = String::from_utf8_lossy(&tail);
    let mut all: Vec<&str> = text.split('\n').collect();
    if all.last() == Some(&"") {
        all.pop();
    }
    if start > 0 && all.len() > lines {
        // The first piece began mid-line.
        all.remove(0);
    }
    let skip = all.len().saturating_sub(lines);
    Ok(all[skip..]
        .iter()
        .map(|line| line.chars().filter(|c| *c == '\t' || !c.is_control()).collect())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qemu::{Accelerator, GuestImage, QemuConfig};
    use meridian_core::agent_api::Route;
    use tower::ServiceExt as _;

    /// Every route of [`Route`] answers its documented methods (none is 404 or 405). Bodies are
    /// empty, so nothing that changes the host runs: a PUT is refused before it acts, and a
    /// DELETE or power-off of a VM that does not exist does nothing.
    #[tokio::test]
    async fn every_route_is_served_with_its_methods() {
        let dir = tempfile::tempdir().expect("temp dir");
        let qemu = Qemu::new(QemuConfig {
            state_dir: dir.path().to_owned(),
            binary: "qemu-system-x86_64".into(),
            image: GuestImage {
                kernel: dir.path().join("vmlinuz"),
                initrd: dir.path().join("initramfs.cpio.gz"),
                manifest: "image=test\n".to_owned(),
            },
            accelerator: Accelerator::Tcg,
        });
        let registration = Registration {
            api_version: API_VERSION,
            host_id: uuid::Uuid::nil(),
            name: "lon1-test".into(),
            zone: "lon1".into(),
            vcpus: 1,
            memory_mib: 1024,
            disk_gib: 1,
            accelerator: "tcg".into(),
            accelerator_reason: "test".into(),
            endpoint: "http://127.0.0.1:7100".into(),
            image: "image=test".into(),
            underlay: None,
        };
        // A bridge name no host has: nothing here may touch the host's network.
        let agent = Agent::new(
            qemu,
            Network::new("mer-none-test"),
            TenantNets::new(uuid::Uuid::nil(), None),
            registration,
            "token",
        );
        let router = router(agent);
        let id = VmId(uuid::Uuid::new_v4());
        let routes = [
            (Route::Host, vec!["GET"]),
            (Route::Vms, vec!["GET"]),
            (Route::Vm(id), vec!["GET", "DELETE"]),
            (Route::Disk(id), vec!["PUT"]),
            (Route::Nic(id), vec!["PUT", "DELETE"]),
            (Route::Running(id), vec!["PUT"]),
            (Route::PowerOff(id), vec!["POST"]),
            (Route::Reboot(id), vec!["POST"]),
            (Route::Console(id), vec!["GET"]),
            (Route::Serial(id), vec!["GET"]),
            (Route::Traffic(id), vec!["GET"]),
            (Route::Stats(id), vec!["GET"]),
        ];
        for (route, methods) in routes {
            for method in methods {
                let request = axum::http::Request::builder()
                    .method(method)
                    .uri(route.path())
                    .header(header::AUTHORIZATION, "Bearer token")
                    .header(VERSION_HEADER, "1")
                    .body(axum::body::Body::empty())
                    .expect("request");
                let response = router.clone().oneshot(request).await.expect("answer");
                assert!(
                    ![StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED].contains(&response.status()),
                    "{method} {} answered {}",
                    route.path(),
                    response.status()
                );
            }
        }
    }

    #[test]
    fn the_console_tail_is_the_last_lines_cleaned() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("console.log");
        assert!(console_tail(&path, 10).expect("absent log").is_empty());
        let mut log = String::new();
        for i in 0..100_000 {
            log.push_str(&format!("line {i}\r\n"));
        }
        log.push_str("last\x1b[0m\tend\u{7}\n");
        std::fs::write(&path, log.as_bytes()).expect("log");
        let tail = console_tail(&path, 3).expect("tail");
        assert_eq!(tail, vec!["line 99998", "line 99999", "last[0m\tend"]);
        assert_eq!(console_tail(&path, 2000).expect("tail").len(), 2000);
        std::fs::write(&path, b"a\nb").expect("log");
        assert_eq!(console_tail(&path, 200).expect("tail"), vec!["a", "b"]);
    }
}
