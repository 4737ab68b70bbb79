//! The agent binary through its HTTP API, each test in a network namespace of its own (the bridge
//! and taps it makes never touch the host's network): the token and version checks, one real VM
//! from disk to destroy with its port on the bridge and its serial console typed into through its
//! WebSocket, and the registration with a control plane.
//! Needs root, iproute2, QEMU and the guest image (as `tests/qemu.rs`).

mod common;

use futures_util::{SinkExt as _, StreamExt as _};
use meridian_agent::qemu::GuestImage;
use meridian_core::agent_api::{
    API_VERSION, ApiError, Console, ERROR_API_VERSION, ERROR_BUSY, ERROR_UNAUTHORIZED, REGISTER_PATH,
    Registration, Route, VERSION_HEADER, VmRequest, VmStatus, host_token, host_token_valid,
};
use meridian_core::id::VmId;
use reqwest::{Method, StatusCode};
use std::future::Future;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use uuid::Uuid;

const QEMU: &str = "qemu-system-x86_64";
const SECRET: &[u8] = b"test agent secret";
/// The agent listens here inside its namespace.
const AGENT: &str = "127.0.0.1:7100";
const BRIDGE: &str = "mer0";
const BOOT_LIMIT: Duration = Duration::from_secs(60);
/// The first start of an agent may probe KVM (up to 10 s) before it serves.
const START_LIMIT: Duration = Duration::from_secs(60);

/// The guest image (see `tests/qemu.rs`): `$MERIDIAN_GUEST_IMAGE`, else the repository's cache.
fn guest_image_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MERIDIAN_GUEST_IMAGE") {
        return dir.into();
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = repo.join(".cache/guest/image");
    let out = Command::new(repo.join("scripts/guest-image.sh"))
        .arg(&dir)
        .output()
        .expect("scripts/guest-image.sh runs");
    assert!(
        out.status.success(),
        "scripts/guest-image.sh failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

fn run(command: &str, args: &[&str]) -> String {
    let out = Command::new(command).args(args).output().expect("command runs");
    assert!(
        out.status.success(),
        "{command} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace of the test's own, deleted on drop (with the bridge and taps in it).
struct Netns {
    name: String,
}

impl Netns {
    fn new() -> Self {
        let name = format!("mertest{}", &Uuid::new_v4().simple().to_string()[..8]);
        run("ip", &["netns", "add", &name]);
        let ns = Self { name };
        run("ip", &["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    /// Runs `test` on a thread inside the namespace (its sockets are the namespace's), on a
    /// runtime of its own; a panic in it is the caller's.
    fn run<F: Future<Output = ()>>(&self, test: impl FnOnce() -> F + Send + 'static) {
        let path = format!("/run/netns/{}", self.name);
        let thread = std::thread::spawn(move || {
            let ns = std::fs::File::open(&path).expect("namespace file");
            rustix::thread::move_into_link_name_space(
                ns.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .expect("setns into the test namespace");
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(test());
        });
        if let Err(panic) = thread.join() {
            std::panic::resume_unwind(panic);
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

/// An agent process in namespace `ns`, over a throw-away state directory. On drop it is killed,
/// and so is any QEMU it left running; its log is printed when the test failed.
struct AgentProcess {
    child: std::process::Child,
    dir: tempfile::TempDir,
    host_id: Uuid,
    token: String,
    client: reqwest::Client,
}

impl AgentProcess {
    fn start(ns: &str, control: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("mapi")
            .tempdir_in("/tmp")
            .expect("state directory");
        let state = dir.path().join("state");
        std::fs::create_dir(&state).expect("state directory");
        let host_id = Uuid::new_v4();
        std::fs::write(state.join("host-id"), host_id.to_string()).expect("host id");
        let token = host_token(SECRET, host_id);
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, format!("{token}\n")).expect("token file");
        let log = std::fs::File::create(dir.path().join("agent.log")).expect("log file");
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("accelerator.json");
        let child = Command::new("ip")
            .args(["netns", "exec", ns, env!("CARGO_BIN_EXE_meridian-agent")])
            .args(["--zone", "lon1", "--name", "lon1-test", "--listen", AGENT])
            .arg("--state-dir")
            .arg(&state)
            .arg("--image-dir")
            .arg(guest_image_dir())
            .args(["--qemu", QEMU, "--control", control, "--bridge", BRIDGE])
            .arg("--token-file")
            .arg(&token_file)
            .arg("--accelerator-cache")
            .arg(&cache)
            .args(["--vcpus", "2", "--memory-mib", "2048", "--disk-gib", "20"])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the agent starts");
        Self {
            child,
            dir,
            host_id,
            token,
            client: reqwest::Client::new(),
        }
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// A request to the agent with the host's token and this API version.
    fn request(&self, method: Method, route: Route) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("http://{AGENT}{}", route.path()))
            .bearer_auth(&self.token)
            .header(VERSION_HEADER, API_VERSION.to_string())
    }

    /// Sends `request`, expecting `status`; the body.
    async fn expect(&self, request: reqwest::RequestBuilder, status: StatusCode) -> reqwest::Response {
        let response = request.send().await.expect("the agent answers");
        assert_eq!(
            response
                .headers()
                .get(VERSION_HEADER)
                .and_then(|v| v.to_str().ok()),
            Some("1"),
            "every answer carries the version"
        );
        if response.status() != status {
            panic!(
                "expected {status}, got {}: {}",
                response.status(),
                response.text().await.unwrap_or_default()
            );
        }
        response
    }

    /// Waits until the agent serves (it may probe KVM first).
    async fn ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the agent exited ({status}); its log:\n{}", self.log());
            }
            if let Ok(response) = self.request(Method::GET, Route::Host).send().await
                && response.status() == StatusCode::OK
            {
                return;
            }
            assert!(
                started.elapsed() < START_LIMIT,
                "the agent did not serve within {START_LIMIT:?}; its log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("agent.log")).unwrap_or_default()
    }

    /// Opens VM `id`'s serial console WebSocket with the host's token and this API version.
    async fn serial(&self, id: VmId) -> Result<Serial, tungstenite::Error> {
        let mut request = format!("ws://{AGENT}{}", Route::Serial(id).path()).into_client_request()?;
        let headers = request.headers_mut();
        headers.insert(
            "authorization",
            format!("Bearer {}", self.token).parse().expect("header"),
        );
        headers.insert(VERSION_HEADER, API_VERSION.to_string().parse().expect("header"));
        tokio_tungstenite::connect_async(request)
            .await
            .map(|(socket, _)| socket)
    }
}

type Serial = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Reads the serial console until `expected` appears, typing `typed` every few seconds meanwhile
/// (the guest's shell starts just after its ready line, so the first may come too early).
async fn serial_type_until(serial: &mut Serial, typed: &str, expected: &str) {
    let started = Instant::now();
    let mut output = Vec::new();
    let mut next_type = Instant::now();
    loop {
        if Instant::now() >= next_type {
            serial
                .send(tungstenite::Message::binary(typed.as_bytes().to_vec()))
                .await
                .expect("typed");
            next_type = Instant::now() + Duration::from_secs(3);
        }
        match tokio::time::timeout(Duration::from_millis(500), serial.next()).await {
            Ok(Some(Ok(tungstenite::Message::Binary(bytes)))) => output.extend_from_slice(&bytes),
            Ok(Some(Ok(tungstenite::Message::Close(frame)))) => {
                panic!("the serial console closed: {frame:?}")
            }
            Ok(Some(Ok(_))) | Err(_) => {}
            Ok(Some(Err(error))) => panic!("the serial console failed: {error}"),
            Ok(None) => panic!("the serial console ended"),
        }
        let text = String::from_utf8_lossy(&output);
        if text.contains(expected) {
            return;
        }
        assert!(
            started.elapsed() < BOOT_LIMIT,
            "{expected:?} did not appear within {BOOT_LIMIT:?}; the console said:\n{text}"
        );
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("the agent's log:\n{}", self.log());
        }
        common::kill_qemus_under(&self.state());
    }
}

async fn api_error(response: reqwest::Response) -> ApiError {
    response.json().await.expect("an ApiError body")
}

#[test]
fn strangers_are_refused_and_the_host_registers_with_the_control_plane() {
    let ns = Netns::new();
    let name = ns.name.clone();
    ns.run(move || async move {
        // A control plane that keeps what it is sent, with the headers.
        let (sent, mut received) = tokio::sync::mpsc::unbounded_channel();
        let control = axum::Router::new().route(
            REGISTER_PATH,
            axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let sent = sent.clone();
                async move {
                    let _ = sent.send((headers, body));
                    StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("control listener");
        let control_url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, control).await });

        let mut agent = AgentProcess::start(&name, &control_url);
        agent.ready().await;
        let url = format!("http://{AGENT}{}", Route::Vms.path());

        // No token, a wrong token, another host's token: 401, and nothing else is said.
        for token in [
            None,
            Some("wrong".to_owned()),
            Some(host_token(SECRET, Uuid::new_v4())),
        ] {
            let mut request = agent.client.get(&url).header(VERSION_HEADER, "1");
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let error = api_error(agent.expect(request, StatusCode::UNAUTHORIZED).await).await;
            assert_eq!(error.code, ERROR_UNAUTHORIZED);
        }
        // The right token, without the version or with another: 409 naming both.
        let request = agent.client.get(&url).bearer_auth(&agent.token);
        let error = api_error(agent.expect(request, StatusCode::CONFLICT).await).await;
        assert_eq!(error.code, ERROR_API_VERSION);
        assert_eq!(
            error.message,
            "this agent speaks API 1; the request is for API none"
        );
        let request = agent
            .client
            .get(&url)
            .bearer_auth(&agent.token)
            .header(VERSION_HEADER, "2");
        let error = api_error(agent.expect(request, StatusCode::CONFLICT).await).await;
        assert_eq!(error.message, "this agent speaks API 1; the request is for API 2");
        // Both right: the (empty) list.
        let vms: Vec<VmStatus> = agent
            .expect(agent.request(Method::GET, Route::Vms), StatusCode::OK)
            .await
            .json()
            .await
            .expect("VM list");
        assert_eq!(vms, vec![]);
        // A bad request is refused for what it asks.
        let id = VmId(Uuid::new_v4());
        let request = agent.request(Method::PUT, Route::Disk(id)).body("{}");
        let error = api_error(agent.expect(request, StatusCode::UNPROCESSABLE_ENTITY).await).await;
        assert_eq!(error.code, "invalid");
        let request = agent
            .request(Method::PUT, Route::Disk(id))
            .body(vec![b' '; 300 * 1024]);
        let error = api_error(agent.expect(request, StatusCode::PAYLOAD_TOO_LARGE).await).await;
        assert_eq!(error.code, "invalid", "bodies are bounded");
        let request = agent
            .client
            .get(format!("http://{AGENT}/v1/nothing"))
            .header(VERSION_HEADER, "1");
        agent.expect(request, StatusCode::UNAUTHORIZED).await;

        // The control plane hears the host, with its token and the version.
        let (headers, body) = tokio::time::timeout(Duration::from_secs(15), received.recv())
            .await
            .expect("a registration within 15 s")
            .expect("a registration");
        assert_eq!(
            headers.get(VERSION_HEADER).and_then(|v| v.to_str().ok()),
            Some("1")
        );
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .expect("a bearer token");
        let registration: Registration = serde_json::from_slice(&body).expect("a Registration");
        assert!(
            host_token_valid(SECRET, registration.host_id, bearer),
            "the host's own token"
        );
        assert_eq!(registration.host_id, agent.host_id);
        assert_eq!(registration.api_version, API_VERSION);
        assert_eq!(
            (registration.name.as_str(), registration.zone.as_str()),
            ("lon1-test", "lon1")
        );
        assert_eq!(
            (registration.vcpus, registration.memory_mib, registration.disk_gib),
            (2, 2048, 20)
        );
        assert_eq!(registration.endpoint, format!("http://{AGENT}"));
        assert!(["kvm", "tcg"].contains(&registration.accelerator.as_str()));
        assert!(!registration.accelerator_reason.is_empty());
        let image = GuestImage::load(&guest_image_dir()).expect("image");
        assert_eq!(
            registration.image,
            meridian_agent::qemu::image_name(&image.manifest)
        );
        assert!(!registration.image.is_empty() && !registration.image.starts_with("image="));
        // GET /v1/host answers the same.
        let host: Registration = agent
            .expect(agent.request(Method::GET, Route::Host), StatusCode::OK)
            .await
            .json()
            .await
            .expect("host");
        assert_eq!(host, registration);
    });
}

/// A tenant's VMs boot at once on one host: each port makes the network's bridge if absent, and
/// none may fail because another made it first (CI saw "RTNETLINK answers: File exists"). The
/// ports are made on threads of their own (as the agent's handlers run), started together.
#[test]
fn ports_made_at_once_on_one_new_tenant_bridge_all_succeed() {
    const PORTS: usize = 8;
    let ns = Netns::new();
    ns.run(|| async {
        let together = std::sync::Arc::new(std::sync::Barrier::new(PORTS));
        // Threads made here are in the namespace too.
        let threads: Vec<_> = (0..PORTS)
            .map(|_| {
                let together = together.clone();
                std::thread::spawn(move || {
                    let id = VmId(Uuid::new_v4());
                    let network = meridian_agent::nic::Network::new(BRIDGE);
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("runtime");
                    together.wait();
                    let made = runtime.block_on(network.ensure_tenant_port(id, "mb7", 1450));
                    (id, made.map_err(|e| e.to_string()))
                })
            })
            .collect();
        for thread in threads {
            let (id, made) = thread.join().expect("port thread");
            let nic = made.unwrap_or_else(|e| panic!("the port of VM {id:?} failed: {e}"));
            let link = run("ip", &["-o", "link", "show", "dev", &nic.tap]);
            assert!(link.contains("master mb7"), "{link}");
            assert!(link.contains("mtu 1450"), "{link}");
        }
    });
}

#[test]
fn a_vm_runs_on_the_bridge_through_the_api_and_is_destroyed_without_a_trace() {
    let ns = Netns::new();
    let name = ns.name.clone();
    let ns_ip = {
        let name = ns.name.clone();
        move |args: &[&str]| {
            let mut all = vec!["-n", name.as_str()];
            all.extend_from_slice(args);
            run("ip", &all)
        }
    };
    ns.run(move || async move {
        // Nothing listens at the control plane: the agent serves all the same.
        let mut agent = AgentProcess::start(&name, "http://127.0.0.1:9");
        agent.ready().await;
        let id = VmId(Uuid::new_v4());
        let vm = VmRequest {
            id,
            name: "api-vm".into(),
            vcpus: 1,
            memory_mib: 128,
            disk_gib: 1,
            address: Some("10.77.0.5/24".into()),
            gateway: Some("10.77.0.1".into()),
            ssh_authorized_keys: vec!["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKd0test test@meridian".into()],
            user_data: None,
            network: None,
        };
        let put = |route| agent.request(Method::PUT, route).json(&vm);

        // Each step twice: the second changes nothing.
        for _ in 0..2 {
            agent.expect(put(Route::Disk(id)), StatusCode::OK).await;
            agent.expect(put(Route::Nic(id)), StatusCode::OK).await;
        }
        let mut smaller = vm.clone();
        smaller.disk_gib = 0;
        let request = agent.request(Method::PUT, Route::Disk(id)).json(&smaller);
        let error = api_error(agent.expect(request, StatusCode::UNPROCESSABLE_ENTITY).await).await;
        assert_eq!(error.code, "invalid", "a disk never shrinks");

        let tap = format!("mt{}", &id.0.simple().to_string()[..13]);
        let link = ns_ip(&["-o", "link", "show", "dev", &tap]);
        assert!(
            link.contains(&format!("master {BRIDGE}")),
            "the tap is on the bridge: {link}"
        );
        let bridge = ns_ip(&["-o", "addr", "show", "dev", BRIDGE]);
        assert!(
            bridge.contains("10.77.0.1/24"),
            "the bridge holds the gateway: {bridge}"
        );

        let started = Instant::now();
        let status: VmStatus = agent
            .expect(put(Route::Running(id)), StatusCode::OK)
            .await
            .json()
            .await
            .expect("status");
        assert!(status.running && status.disk);
        let pid = status.pid.expect("a pid");
        let again: VmStatus = agent
            .expect(put(Route::Running(id)), StatusCode::OK)
            .await
            .json()
            .await
            .expect("status");
        assert_eq!(again.pid, Some(pid), "one QEMU for two starts");

        // The ready line on the console, through the API.
        let ready = format!("meridian-ready {id}");
        loop {
            let console: Console = agent
                .expect(
                    agent
                        .client
                        .get(format!("http://{AGENT}{}?lines=50", Route::Console(id).path()))
                        .bearer_auth(&agent.token)
                        .header(VERSION_HEADER, "1"),
                    StatusCode::OK,
                )
                .await
                .json()
                .await
                .expect("console");
            assert!(console.lines.len() <= 50);
            if console.lines.iter().any(|l| l.contains(&ready)) {
                break;
            }
            assert!(
                started.elapsed() < BOOT_LIMIT,
                "no ready line within {BOOT_LIMIT:?}: {console:#?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        eprintln!(
            "boot to ready line through the API: {} ms",
            started.elapsed().as_millis()
        );

        // The guest is on the bridge: its SSH port answers from the host's side.
        let ssh = loop {
            match tokio::time::timeout(
                Duration::from_secs(2),
                tokio::net::TcpStream::connect("10.77.0.5:22"),
            )
            .await
            {
                Ok(Ok(stream)) => break stream,
                _ if started.elapsed() < BOOT_LIMIT => tokio::time::sleep(Duration::from_millis(200)).await,
                other => panic!("no TCP connection to the guest's port 22: {other:?}"),
            }
        };
        drop(ssh);

        // The serial console, interactive: a command typed into the guest's shell runs, and the
        // console log goes on meanwhile.
        let mut serial = agent.serial(id).await.expect("the serial console opens");
        serial_type_until(&mut serial, "echo hi-$((6*7))\n", "hi-42").await;
        // One session at a time: a second is refused, plainly.
        match agent.serial(id).await {
            Err(tungstenite::Error::Http(answer)) => {
                assert_eq!(answer.status(), StatusCode::CONFLICT);
                let error: ApiError = serde_json::from_slice(answer.body().as_deref().unwrap_or_default())
                    .expect("an ApiError");
                assert_eq!(error.code, ERROR_BUSY);
            }
            Ok(_) => panic!("a second serial session opened"),
            Err(other) => panic!("the second serial session failed otherwise: {other}"),
        }
        serial.close(None).await.expect("closed");
        drop(serial);
        let log = std::fs::read_to_string(agent.state().join("vms").join(id.to_string()).join("console.log"))
            .expect("the console log");
        assert!(log.contains("hi-42"), "the log has what the session saw");
        // Once closed, the console is free again.
        let started_again = Instant::now();
        let mut serial = loop {
            match agent.serial(id).await {
                Ok(serial) => break serial,
                Err(_) if started_again.elapsed() < Duration::from_secs(10) => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) => panic!("the serial console stayed busy: {error}"),
            }
        };
        serial_type_until(&mut serial, "echo again-$((7*7))\n", "again-49").await;

        let vms: Vec<VmStatus> = agent
            .expect(agent.request(Method::GET, Route::Vms), StatusCode::OK)
            .await
            .json()
            .await
            .expect("list");
        assert_eq!(vms.len(), 1);
        assert_eq!(
            (vms[0].id, vms[0].running, vms[0].pid, vms[0].disk),
            (id, true, Some(pid), true)
        );
        let image = GuestImage::load(&guest_image_dir()).expect("image");
        assert_eq!(
            vms[0].image,
            Some(meridian_agent::qemu::image_name(&image.manifest))
        );

        let off: VmStatus = agent
            .expect(agent.request(Method::POST, Route::PowerOff(id)), StatusCode::OK)
            .await
            .json()
            .await
            .expect("status");
        assert!(
            !off.running && off.pid.is_none() && off.disk,
            "stopped, disk kept: {off:?}"
        );
        // The open session ends with the VM, saying why; a stopped VM's console is refused.
        let started_close = Instant::now();
        loop {
            match tokio::time::timeout(Duration::from_secs(10), serial.next()).await {
                Ok(Some(Ok(tungstenite::Message::Close(frame)))) => {
                    let frame = frame.expect("a close frame");
                    assert!(frame.reason.contains("VM stopped"), "{frame:?}");
                    break;
                }
                Ok(Some(Ok(_))) if started_close.elapsed() < Duration::from_secs(10) => {}
                other => panic!("the serial session did not close with the VM: {other:?}"),
            }
        }
        match agent.serial(id).await {
            Err(tungstenite::Error::Http(answer)) => assert_eq!(answer.status(), StatusCode::CONFLICT),
            Ok(_) => panic!("a stopped VM's serial console opened"),
            Err(other) => panic!("refused otherwise: {other}"),
        }

        let dir = agent.state().join("vms").join(id.to_string());
        for _ in 0..2 {
            agent
                .expect(
                    agent.request(Method::DELETE, Route::Vm(id)),
                    StatusCode::NO_CONTENT,
                )
                .await;
        }
        assert!(!common::runs_with(pid, &dir.join("qemu.pid")), "no QEMU left");
        assert!(!dir.exists(), "no VM directory left");
        assert!(!ns_ip(&["-o", "link", "show"]).contains(&tap), "no tap left");
        let gone: VmStatus = agent
            .expect(agent.request(Method::GET, Route::Vm(id)), StatusCode::OK)
            .await
            .json()
            .await
            .expect("status");
        assert!(!gone.running && !gone.disk);
    });
    drop(ns);
}

#[tokio::test]
async fn a_control_plane_of_another_version_is_named_in_the_error() {
    let control = axum::Router::new().route(
        REGISTER_PATH,
        axum::routing::post(|| async {
            let error = ApiError {
                code: ERROR_API_VERSION.to_owned(),
                message: "this control plane speaks API 2".to_owned(),
            };
            (StatusCode::CONFLICT, [(VERSION_HEADER, "2")], axum::Json(error))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, control).await });
    let registrar = meridian_agent::register::Registrar::new(&url, "token").expect("client");
    let registration = Registration {
        api_version: API_VERSION,
        host_id: Uuid::new_v4(),
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
    let error = registrar.register(&registration).await.expect_err("refused");
    assert_eq!(
        error.to_string(),
        "the control plane speaks API 2; this agent speaks API 1"
    );
}
