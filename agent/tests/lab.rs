//! The lab, end to end (issue #15): `scripts/lab.sh up` with two zones (a namespace and a host agent
//! each, one control plane with `--driver agents`), then everything through the REST API as two
//! tenants would: real VMs boot to their ready line on the real serial console, take SSH with
//! their tenant's key (and refuse another), keep what was written to their disk across stop and
//! start, stop / start / reboot / resize / destroy, and leave nothing behind; `lab.sh down` leaves
//! no namespace, bridge or process. The lab's backbone routes by OSPF along the path finder's paths,
//! at the modelled delays, and around a cut edge.
//!
//! Needs root, QEMU, iproute2 and OpenSSH's client (`scripts/setup.sh test` installs them) and the
//! server binary: `cargo test --workspace` builds it (the server's own tests need it).

mod common;
use common::run;

use meridian_core::backbone::{BACKBONE, Cut};
use meridian_core::zone::{ZONES, ZoneId};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const JOB_LIMIT: Duration = Duration::from_secs(240);
const PASSWORD: &str = "correct horse battery staple";
/// The tests' labs are named apart from a lab of yours (`scripts/lab.sh`'s default `mlab`).
const NAME: &str = "mlt";
const NET: &str = "10.253.0";

/// One lab at a time: the tests' labs share their name, bridge and net. (A test that failed holding
/// it does not poison a tokio mutex.)
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A lab brought up by `scripts/lab.sh`; taken down on drop, even after a failed assertion.
struct Lab {
    dir: PathBuf,
    base: String,
    down: bool,
    env: Vec<(String, String)>,
}

impl Lab {
    /// Brings a lab up; `env` are settings for its server (`MERIDIAN_*`).
    fn up(zones: &str, port: u16, env: &[(&str, &str)]) -> Self {
        let agent = PathBuf::from(env!("CARGO_BIN_EXE_meridian-agent"));
        let server = agent.with_file_name("meridian");
        assert!(
            server.exists(),
            "{} is missing: build the server first (cargo build -p meridian)",
            server.display()
        );
        let dir = PathBuf::from(format!("/tmp/{NAME}{}", std::process::id()));
        let lab = Lab {
            dir: dir.clone(),
            base: format!("http://127.0.0.1:{port}"),
            down: false,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        // A test lab left by an earlier run that was killed would refuse `up`.
        lab.script("down", &[]);
        lab.script(
            "up",
            &["--zones", zones, "--port", &port.to_string(), "--no-build"],
        );
        lab
    }

    fn script(&self, command: &str, args: &[&str]) -> std::process::Output {
        let agent = PathBuf::from(env!("CARGO_BIN_EXE_meridian-agent"));
        run(Command::new(repo().join("scripts/lab.sh"))
            .arg(command)
            .args(args)
            .args([
                "--dir",
                self.dir.to_str().expect("a UTF-8 path"),
                "--name",
                NAME,
                "--net",
                NET,
            ])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("MERIDIAN_AGENT_BIN", &agent)
            .env("MERIDIAN_LAB_BIN", env!("CARGO_BIN_EXE_meridian-lab"))
            .env("MERIDIAN_BIN", agent.with_file_name("meridian")))
    }

    /// The server binary, for its other commands.
    fn server_command(&self) -> Command {
        let mut command =
            Command::new(PathBuf::from(env!("CARGO_BIN_EXE_meridian-agent")).with_file_name("meridian"));
        command
            .args(["--driver", "agents", "--log", "warn", "--data-dir"])
            .arg(self.dir.join("server"));
        command
    }

    /// Fails the test with what is broken unless every invariant holds.
    fn invariants_hold(&self) {
        let out = self
            .server_command()
            .arg("invariants")
            .output()
            .expect("meridian invariants runs");
        assert!(
            out.status.success(),
            "invariants broken:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Waits until the server answers again.
    async fn server_answers(&self) {
        let started = Instant::now();
        while reqwest::get(format!("{}/healthz", self.base)).await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the server did not come back"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The pid of zone `zone`'s agent.
    fn agent_pid(&self, zone: &str) -> String {
        let pattern = format!("--state-dir {} ", self.dir.join(zone).display());
        let out = run(Command::new("pgrep").args(["-f", "--", &pattern]));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn down(&mut self) {
        self.script("down", &[]);
        self.down = true;
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if !self.down {
            let server_log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
            let tail: Vec<&str> = server_log.lines().rev().take(40).collect();
            eprintln!("server log (last lines, newest first):\n{}", tail.join("\n"));
            for entry in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
                let Ok(log) = std::fs::read_to_string(entry.path().join("agent.log")) else {
                    continue;
                };
                let trouble: Vec<&str> = log
                    .lines()
                    .filter(|l| l.contains("WARN") || l.contains("ERROR"))
                    .collect();
                let start = trouble.len().saturating_sub(10);
                eprintln!(
                    "{} agent's warnings:\n{}",
                    entry.path().display(),
                    trouble[start..].join("\n")
                );
            }
            self.script("down", &[]);
        }
    }
}

/// A browser session on the lab's dashboard: its server functions, called from the same origin.
struct Browser {
    client: reqwest::Client,
    base: String,
}

impl Browser {
    fn new(lab: &Lab) -> Self {
        Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .expect("client"),
            base: lab.base.clone(),
        }
    }

    /// Calls server function `function` with `form`; its answer, which must be a success.
    async fn call(&self, function: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let answer = self
            .client
            .post(format!("{}/fn/{function}", self.base))
            .header("Origin", &self.base)
            .form(form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{function} answers: {e}"));
        assert!(answer.status().is_success(), "{function}: {}", answer.status());
        answer
    }

    /// The same, its JSON answer.
    async fn json(&self, function: &str, form: &[(&str, &str)]) -> Value {
        self.call(function, form)
            .await
            .json()
            .await
            .unwrap_or_else(|e| panic!("{function}'s answer: {e}"))
    }
}

/// A tenant signed up through the dashboard's sign-up, calling REST with an API key.
struct Tenant {
    base: String,
    client: reqwest::Client,
    secret: String,
}

impl Tenant {
    async fn sign_up(lab: &Lab, name: &str, email: &str) -> Self {
        let browser = Browser::new(lab);
        browser
            .call(
                "account_signup",
                &[("tenant_name", name), ("email", email), ("password", PASSWORD)],
            )
            .await;
        let key = browser.json("api_key_create", &[("name", "lab-test")]).await;
        Tenant {
            base: lab.base.clone(),
            client: reqwest::Client::new(),
            secret: key["secret"].as_str().expect("the key's secret").to_owned(),
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.secret);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request.send().await.expect("the server answers");
        let status = answer.status();
        (status, answer.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let (status, answer) = self.send(reqwest::Method::POST, path, Some(body)).await;
        assert!(status.is_success(), "POST {path}: {status} {answer}");
        answer
    }

    async fn get(&self, path: &str) -> Value {
        let (status, answer) = self.send(reqwest::Method::GET, path, None).await;
        assert!(status.is_success(), "GET {path}: {status} {answer}");
        answer
    }

    /// The id of the tenant's VDC in `zone`, made if there is none.
    async fn vdc_in(&self, zone: &str) -> Value {
        let vdcs = self.get("/vdcs").await;
        match vdcs["items"]
            .as_array()
            .and_then(|all| all.iter().find(|v| v["zone"] == zone))
        {
            Some(vdc) => vdc["id"].clone(),
            None => self
                .post("/vdcs", json!({ "name": format!("lab-{zone}"), "zone": zone }))
                .await["id"]
                .clone(),
        }
    }

    /// Waits for the job in a 202 answer to succeed.
    async fn job_done(&self, accepted: &Value) {
        let id = accepted["job"]["id"].as_str().expect("a job id");
        let started = Instant::now();
        loop {
            let job = self.get(&format!("/jobs/{id}")).await;
            match job["state"].as_str() {
                Some("succeeded") => return,
                Some("failed" | "cancelled") => panic!("job {id} ended badly: {job}"),
                _ => {}
            }
            assert!(started.elapsed() < JOB_LIMIT, "job {id} did not finish: {job}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    async fn console(&self, vm: &str) -> Vec<String> {
        let console = self.get(&format!("/vms/{vm}/console")).await;
        assert_eq!(
            console["simulated"], false,
            "a real VM's console is not called simulated"
        );
        console["lines"]
            .as_array()
            .expect("console lines")
            .iter()
            .filter_map(|l| l.as_str().map(str::to_owned))
            .collect()
    }

    async fn ready_lines(&self, vm: &str) -> usize {
        let ready = format!("meridian-ready {vm}");
        self.console(vm)
            .await
            .iter()
            .filter(|l| l.contains(&ready))
            .count()
    }
}

/// A fresh ed25519 key pair: (private key file, public key line).
fn key_pair(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(name);
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path));
    let public = std::fs::read_to_string(path.with_extension("pub")).expect("the public key");
    (path, public.trim().to_owned())
}

/// The namespace of the tenant router that serves VM `vm` on zone `zone`'s first host: the one
/// place on the host that reaches the VM (its tap's bridge names the network).
fn router_ns(lab: &Lab, zone: &str, vm: &str) -> String {
    let tap = format!("mt{}", &vm.replace('-', "")[..13]);
    let link = run(Command::new("ip").args(["-n", &format!("{NAME}-{zone}"), "-o", "link", "show", &tap]));
    let link = String::from_utf8_lossy(&link.stdout).into_owned();
    let network = link
        .split_whitespace()
        .skip_while(|word| *word != "master")
        .nth(1)
        .and_then(|bridge| bridge.strip_prefix("mb"))
        .unwrap_or_else(|| panic!("VM {vm}'s tap is on no tenant bridge: {link}"))
        .to_owned();
    let host = std::fs::read_to_string(lab.dir.join(zone).join("host-id")).expect("the host's id");
    format!("m{}-{network}", &host.trim()[..8])
}

/// The SSH command that runs `command` as root on the VM at `ip` from its tenant router's
/// namespace `ns`.
fn ssh_command(ns: &str, key: &Path, ip: &str, command: &str) -> Command {
    let mut ssh = Command::new("ip");
    ssh.args(["netns", "exec", ns, "ssh", "-i"])
        .arg(key)
        .args([
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "LogLevel=ERROR",
        ])
        .arg(format!("root@{ip}"))
        .arg(command);
    ssh
}

/// Runs `command` as root on the VM at `ip` over SSH from its tenant router's namespace `ns`.
fn ssh(ns: &str, key: &Path, ip: &str, command: &str) -> std::process::Output {
    ssh_command(ns, key, ip, command).output().expect("ssh runs")
}

fn ssh_ok(ns: &str, key: &Path, ip: &str, command: &str) -> String {
    let out = ssh(ns, key, ip, command);
    assert!(
        out.status.success(),
        "ssh root@{ip} {command:?} from {ns}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// What a VM leaves on its zone's host: QEMU processes, taps, its directory.
fn traces(lab: &Lab, zone: &str, vm: &str) -> Vec<String> {
    let mut found = Vec::new();
    let pgrep = Command::new("pgrep")
        .args(["-f", &format!("meridian-{vm}")])
        .output()
        .expect("pgrep runs");
    if pgrep.status.success() {
        found.push(format!(
            "QEMU process {}",
            String::from_utf8_lossy(&pgrep.stdout).trim()
        ));
    }
    let tap = format!("mt{}", &vm.replace('-', "")[..13]);
    let links = run(Command::new("ip").args(["-n", &format!("{NAME}-{zone}"), "-o", "link", "show"]));
    if String::from_utf8_lossy(&links.stdout).contains(&tap) {
        found.push(format!("tap {tap}"));
    }
    let dir = lab.dir.join(zone).join("vms").join(vm);
    if dir.exists() {
        found.push(format!("directory {}", dir.display()));
    }
    found
}

/// The tenant routers on zone `zone`'s first host (none once its tenants' VMs there are gone).
fn tenant_routers(lab: &Lab, zone: &str) -> Vec<String> {
    let host = std::fs::read_to_string(lab.dir.join(zone).join("host-id")).expect("the host's id");
    let namespaces = run(Command::new("ip").args(["netns", "list"]));
    String::from_utf8_lossy(&namespaces.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|ns| ns.starts_with(&format!("m{}-", &host.trim()[..8])))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tenants_in_two_zones_run_real_vms_through_the_rest_api() {
    let _serial = SERIAL.lock().await;
    let keys = tempfile::tempdir().expect("a key directory");
    let mut lab = Lab::up("lon1,hkg1", 3931, &[]);
    let (a_key, a_public) = key_pair(keys.path(), "acme");
    let (b_key, b_public) = key_pair(keys.path(), "bravo");
    let acme = Tenant::sign_up(&lab, "Acme", "ops@acme.example").await;
    let bravo = Tenant::sign_up(&lab, "Bravo", "ops@bravo.example").await;

    // One VM each, in two zones, booted from scratch.
    let mut vms = Vec::new();
    for (tenant, zone, public) in [(&acme, "lon1", &a_public), (&bravo, "hkg1", &b_public)] {
        let key = tenant
            .post("/ssh-keys", json!({ "name": "laptop", "public_key": public }))
            .await;
        let vdc = tenant
            .post("/vdcs", json!({ "name": format!("lab-{zone}"), "zone": zone }))
            .await;
        let started = Instant::now();
        let accepted = tenant
            .post(
                "/vms",
                json!({
                    "vdc_id": vdc["id"], "name": format!("web-{zone}"), "template": "debian-12", "size": "xs",
                    "ssh_key_ids": [key["id"]],
                }),
            )
            .await;
        vms.push((tenant, zone, accepted));
        eprintln!("{zone}: create accepted in {} ms", started.elapsed().as_millis());
    }
    let mut ids = Vec::new();
    for (tenant, zone, accepted) in &vms {
        let started = Instant::now();
        tenant.job_done(accepted).await;
        let id = accepted["vm"]["id"].as_str().expect("a VM id").to_owned();
        eprintln!(
            "{zone}: VM {id} created and ready in {} ms",
            started.elapsed().as_millis()
        );
        assert_eq!(
            tenant.ready_lines(&id).await,
            1,
            "the console shows the boot's ready line"
        );
        let vm = tenant.get(&format!("/vms/{id}")).await;
        assert_eq!(vm["state"], "running", "{vm}");
        let ip = vm["private_ip"].as_str().expect("a private address").to_owned();
        ids.push((*tenant, *zone, id, ip));
    }

    // SSH with the tenant's key, not with another's; a file written to the disk.
    let (a, a_zone, a_id, a_ip) = &ids[0];
    let (b, b_zone, b_id, b_ip) = &ids[1];
    let (a_ns, b_ns) = (router_ns(&lab, a_zone, a_id), router_ns(&lab, b_zone, b_id));
    assert_eq!(ssh_ok(&a_ns, &a_key, a_ip, "hostname"), "web-lon1");
    assert_eq!(ssh_ok(&b_ns, &b_key, b_ip, "hostname"), "web-hkg1");
    assert!(
        !ssh(&a_ns, &b_key, a_ip, "true").status.success(),
        "another tenant's key is refused"
    );
    ssh_ok(&a_ns, &a_key, a_ip, "echo kept > /data/note && sync");

    // Stop, resize (CPU and memory at the next start), start: the file is still there.
    let stopped = a.post(&format!("/vms/{a_id}/stop"), json!({})).await;
    a.job_done(&stopped).await;
    assert_eq!(a.get(&format!("/vms/{a_id}")).await["state"], "stopped");
    assert!(
        !traces(&lab, a_zone, a_id).iter().any(|t| t.starts_with("QEMU")),
        "a stopped VM runs no QEMU"
    );
    let resized = a
        .post(&format!("/vms/{a_id}/resize"), json!({ "size": "s" }))
        .await;
    a.job_done(&resized).await;
    let started = a.post(&format!("/vms/{a_id}/start"), json!({})).await;
    a.job_done(&started).await;
    assert_eq!(ssh_ok(&a_ns, &a_key, a_ip, "cat /data/note"), "kept");
    assert_eq!(ssh_ok(&a_ns, &a_key, a_ip, "nproc"), "2", "the new size's vCPUs");
    let mem_kib: u64 = ssh_ok(&a_ns, &a_key, a_ip, "awk '/MemTotal/ {print $2}' /proc/meminfo")
        .parse()
        .expect("MemTotal");
    assert!(
        mem_kib > 3 * 1024 * 1024,
        "the new size's 4 GiB of memory, saw {mem_kib} KiB"
    );

    // Reboot: a new boot reaches its ready line.
    let before = b.ready_lines(b_id).await;
    let rebooted = b.post(&format!("/vms/{b_id}/reboot"), json!({})).await;
    b.job_done(&rebooted).await;
    assert_eq!(b.ready_lines(b_id).await, before + 1, "the reboot's ready line");
    assert_eq!(ssh_ok(&b_ns, &b_key, b_ip, "hostname"), "web-hkg1");

    // Destroy: nothing left on the hosts.
    for (tenant, zone, id, _) in &ids {
        let (status, destroyed) = tenant
            .send(reqwest::Method::DELETE, &format!("/vms/{id}"), None)
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{destroyed}");
        tenant.job_done(&destroyed).await;
        assert_eq!(
            traces(&lab, zone, id),
            Vec::<String>::new(),
            "VM {id} left traces"
        );
        assert_eq!(
            tenant_routers(&lab, zone),
            Vec::<String>::new(),
            "the last VM's tenant router stays"
        );
    }

    // Down: no namespace, bridge or process left.
    let dir = lab.dir.clone();
    lab.down();
    let namespaces = run(Command::new("ip").args(["netns", "list"]));
    assert!(
        !String::from_utf8_lossy(&namespaces.stdout).contains(&format!("{NAME}-")),
        "namespaces left"
    );
    let bridge = format!("{NAME}0");
    assert!(
        !Command::new("ip")
            .args(["link", "show", &bridge])
            .output()
            .expect("ip runs")
            .status
            .success()
    );
    let left = Command::new("pgrep")
        .args(["-f", dir.to_str().expect("UTF-8")])
        .output()
        .expect("pgrep runs");
    assert!(
        !left.status.success(),
        "processes left: {}",
        String::from_utf8_lossy(&left.stdout)
    );
    assert!(!dir.exists(), "{} left", dir.display());
}

/// The pids of VM `vm`'s QEMU processes.
fn qemu_pids(vm: &str) -> Vec<String> {
    let out = Command::new("pgrep")
        .args(["-f", &format!("process=meridian-{vm}")])
        .output()
        .expect("pgrep runs");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Waits until VM `vm`'s QEMU runs (its create reached the boot step).
async fn qemu_started(vm: &str) {
    let started = Instant::now();
    while qemu_pids(vm).is_empty() {
        assert!(started.elapsed() < JOB_LIMIT, "VM {vm} never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// SIGKILLs `pid` and waits until it is dead with all its threads (gone, or a zombie where nothing
/// reaps it, with no thread left: a zombie leader's other threads can still be exiting, its files —
/// the server's SQLite lock — still open). A restart asked for sooner finds it running, or locked.
fn kill9(pid: &str) {
    run(Command::new("kill").args(["-KILL", pid]));
    let started = Instant::now();
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let running = state
            .lines()
            .find(|line| line.starts_with("State:"))
            .is_some_and(|line| !line.contains("Z"));
        let threads = std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |tasks| tasks.count());
        if !running && threads <= 1 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{pid} survived SIGKILL"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_of_the_agent_or_the_control_plane_mid_create_converge() {
    let _serial = SERIAL.lock().await;
    // Reconciliation every second, orphans discarded after three.
    let mut lab = Lab::up(
        "lon1",
        3932,
        &[
            ("MERIDIAN_RECONCILE_SECS", "1"),
            ("MERIDIAN_ORPHAN_GRACE_SECS", "3"),
        ],
    );
    let tenant = Tenant::sign_up(&lab, "Acme", "ops@acme.example").await;
    let vdc = tenant
        .post("/vdcs", json!({ "name": "crash", "zone": "lon1" }))
        .await;
    let create =
        |name: &str| json!({ "vdc_id": vdc["id"], "name": name, "template": "debian-12", "size": "xs" });

    // The agent is killed (SIGKILL) while the VM boots, and started again: the job goes on and
    // the new agent adopts the VM's QEMU.
    let first = tenant.post("/vms", create("first")).await;
    let first_id = first["vm"]["id"].as_str().expect("a VM id").to_owned();
    qemu_started(&first_id).await;
    kill9(&lab.agent_pid("lon1"));
    tokio::time::sleep(Duration::from_secs(1)).await;
    lab.script("start-agent", &["lon1"]);
    tenant.job_done(&first).await;
    assert_eq!(tenant.get(&format!("/vms/{first_id}")).await["state"], "running");
    assert_eq!(qemu_pids(&first_id).len(), 1, "one QEMU for the VM");

    // The control plane is killed while the next VM boots, and started again: its job resumes.
    let second = tenant.post("/vms", create("second")).await;
    let second_id = second["vm"]["id"].as_str().expect("a VM id").to_owned();
    qemu_started(&second_id).await;
    kill9(
        std::fs::read_to_string(lab.dir.join("server.pid"))
            .expect("the server's pid")
            .trim(),
    );
    lab.script("start-server", &[]);
    lab.server_answers().await;
    tenant.job_done(&second).await;
    assert_eq!(tenant.get(&format!("/vms/{second_id}")).await["state"], "running");
    assert_eq!(qemu_pids(&second_id).len(), 1, "one QEMU for the VM");
    lab.invariants_hold();

    // The host loses a running VM (its QEMU killed): the reconciler starts it again.
    let before = tenant.ready_lines(&first_id).await;
    for pid in qemu_pids(&first_id) {
        kill9(&pid);
    }
    let started = Instant::now();
    while tenant.ready_lines(&first_id).await <= before {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the lost VM was not restarted"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(qemu_pids(&first_id).len(), 1);

    // A VM the database does not know (as a create whose record was lost would leave): discarded
    // after its grace, with nothing left.
    let orphan = "0badc0de-0000-4000-8000-000000000001";
    let token = std::fs::read_to_string(lab.dir.join("lon1/token")).expect("the host's token");
    let agent = reqwest::Client::new();
    let request = json!({ "id": orphan, "name": "orphan", "vcpus": 1, "memory_mib": 128, "disk_gib": 1,
        "address": null, "gateway": null, "ssh_authorized_keys": [], "user_data": null });
    for route in ["disk", "running"] {
        let answer = agent
            .put(format!("http://{NET}.11:7100/v1/vms/{orphan}/{route}"))
            .bearer_auth(token.trim())
            .header("meridian-agent-api", "1")
            .json(&request)
            .send()
            .await
            .expect("the agent answers");
        assert!(answer.status().is_success(), "PUT {route}: {}", answer.status());
    }
    let started = Instant::now();
    while !traces(&lab, "lon1", orphan).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the orphan stayed: {:?}",
            traces(&lab, "lon1", orphan)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    for id in [&first_id, &second_id] {
        let (status, destroyed) = tenant
            .send(reqwest::Method::DELETE, &format!("/vms/{id}"), None)
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{destroyed}");
        tenant.job_done(&destroyed).await;
        assert_eq!(traces(&lab, "lon1", id), Vec::<String>::new());
    }
    assert_eq!(
        tenant_routers(&lab, "lon1"),
        Vec::<String>::new(),
        "the tenant's router stays"
    );
    lab.invariants_hold();
    lab.down();
}

/// The zones a packet from `from`'s router to `to`'s first lab host crosses, as the routers' tables
/// (filled by OSPF) send it: one `ip route get` per router along the way. None while a router on
/// the way has no route (OSPF converging).
fn routed_path(from: ZoneId, to: ZoneId) -> Option<Vec<ZoneId>> {
    let destination = host_backbone_address(to);
    let mut path = vec![from];
    let mut at = from;
    while at != to {
        let out = Command::new("ip")
            .args(["-n", &format!("{NAME}-bb-{at}"), "route", "get", &destination])
            .output()
            .expect("ip runs");
        if !out.status.success() {
            return None;
        }
        let route = String::from_utf8_lossy(&out.stdout).into_owned();
        let device = route
            .split_whitespace()
            .skip_while(|word| *word != "dev")
            .nth(1)
            .unwrap_or_else(|| panic!("no device in {route:?}"))
            .to_owned();
        let edge = device
            .strip_prefix(&format!("{NAME}e"))
            .and_then(|rest| rest[..rest.len() - 1].parse::<usize>().ok())
            .and_then(|index| BACKBONE.edges().get(index))
            .unwrap_or_else(|| panic!("{at} sends to {destination} out of {device}, not a backbone edge"));
        at = if edge.a == at { edge.b } else { edge.a };
        path.push(at);
        if path.len() > ZONES.len() {
            return None; // a transient loop while routers disagree
        }
    }
    Some(path)
}

/// The backbone address of zone `zone`'s first lab host.
fn host_backbone_address(zone: ZoneId) -> String {
    format!("10.200.{}.11", zone.index())
}

/// The median round trip of pings from `from`'s first host to `to`'s, in ms (after two that warm
/// the neighbour caches along the way).
fn measured_rtt_ms(from: ZoneId, to: ZoneId) -> f64 {
    let out = run(Command::new("ip").args([
        "netns",
        "exec",
        &format!("{NAME}-{from}"),
        "ping",
        "-c",
        "12",
        "-i",
        "0.2",
        "-n",
        &host_backbone_address(to),
    ]));
    let mut rtts: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split("time=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .skip(2)
        .collect();
    assert!(rtts.len() >= 8, "pings answered: {rtts:?}");
    rtts.sort_by(f64::total_cmp);
    rtts[rtts.len() / 2]
}

/// Waits until the routers send `from` → `to` along `expected`.
async fn routes_become(from: ZoneId, to: ZoneId, expected: &[ZoneId]) {
    let started = Instant::now();
    loop {
        let path = routed_path(from, to);
        if path.as_deref() == Some(expected) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(45),
            "routed {path:?}, the path finder says {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backbone_routes_by_ospf_at_the_modelled_delays_and_around_a_cut() {
    let _serial = SERIAL.lock().await;
    let mut lab = Lab::up("lon1,hkg1,nyc1", 3933, &[]);
    let zone = |id: &str| ZoneId::parse(id).expect("a catalogue zone");
    let (lon, hkg, nyc) = (zone("lon1"), zone("hkg1"), zone("nyc1"));

    let mut normal_rtt = 0.0;
    for (from, to) in [(lon, nyc), (lon, hkg), (nyc, hkg)] {
        let model = BACKBONE.path(from, to, &Cut::none()).expect("a path");
        assert_eq!(
            routed_path(from, to),
            Some(model.zones.clone()),
            "OSPF's path {from}→{to} is the path finder's"
        );
        let rtt = measured_rtt_ms(from, to);
        eprintln!(
            "{from}→{to}: measured {rtt:.1} ms, modelled {:.1} ms over {:?}",
            model.modelled_rtt_ms, model.zones
        );
        assert!(
            rtt >= model.fibre_limit_ms,
            "{from}→{to}: {rtt} ms beats the fibre limit {}",
            model.fibre_limit_ms
        );
        assert!(
            (rtt - model.modelled_rtt_ms).abs() <= 0.15 * model.modelled_rtt_ms,
            "{from}→{to}: {rtt:.1} ms is not within 15 % of the modelled {:.1} ms",
            model.modelled_rtt_ms
        );
        if (from, to) == (lon, nyc) {
            normal_rtt = rtt;
        }
    }

    // The agents measure what their hosts' zones are joined by directly: London–New York. The map
    // shows it measured, near the model; the edges no agent measures stay the model's, so labelled.
    let browser = Browser::new(&lab);
    browser
        .call(
            "account_signup",
            &[
                ("tenant_name", "Maps"),
                ("email", "ops@maps.example"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let started = Instant::now();
    let map = loop {
        let map = browser.json("map_view", &[]).await;
        let measured = map["edges"].as_array().is_some_and(|edges| {
            edges
                .iter()
                .any(|e| e["edge"] == "lon1-nyc1" && e["source"] == "measured")
        });
        if measured {
            break map;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no measured London–New York edge: {map}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let edges = map["edges"].as_array().expect("edges");
    let lon_nyc = edges.iter().find(|e| e["edge"] == "lon1-nyc1").expect("the edge");
    let rtt = lon_nyc["rtt_ms"].as_f64().expect("a round trip");
    let edge = BACKBONE.edge_between(lon, nyc).expect("the transatlantic edge");
    eprintln!(
        "map: lon1-nyc1 measured {rtt:.1} ms (±{} ms), modelled {:.1} ms",
        lon_nyc["jitter_ms"], edge.modelled_rtt_ms
    );
    assert!(rtt >= edge.fibre_limit_ms && (rtt - edge.modelled_rtt_ms).abs() <= 0.15 * edge.modelled_rtt_ms);
    let edge_rtt = rtt;
    let unmeasured = edges
        .iter()
        .find(|e| e["edge"] == "par1-mad1")
        .expect("an edge no agent measures");
    assert_eq!(unmeasured["source"], "simulated");

    // Cut London–New York: the network reroutes by itself, where the path finder says, and slower.
    let edge = BACKBONE
        .edge_between(lon, nyc)
        .expect("the transatlantic edge")
        .id;
    let detour = BACKBONE
        .path(lon, nyc, &Cut::none().with_edge(edge))
        .expect("a detour");
    lab.script("cut", &["lon1", "nyc1"]);
    let cut_at = Instant::now();
    routes_become(lon, nyc, &detour.zones).await;
    let rtt = measured_rtt_ms(lon, nyc);
    eprintln!(
        "lon1→nyc1 with the edge cut: measured {rtt:.1} ms, modelled {:.1} ms over {:?}",
        detour.modelled_rtt_ms, detour.zones
    );
    assert!(
        rtt > normal_rtt,
        "the detour is slower: {rtt:.1} ms vs {normal_rtt:.1} ms"
    );
    assert!(
        (rtt - detour.modelled_rtt_ms).abs() <= 0.15 * detour.modelled_rtt_ms,
        "the detour's {rtt:.1} ms is not within 15 % of the modelled {:.1} ms",
        detour.modelled_rtt_ms
    );

    // The agents' probes meanwhile went the detour's way: not the edge's measurement (their
    // answers crossed more routers), so the map keeps the edge's last one, not the detour's.
    tokio::time::sleep(Duration::from_secs(25).saturating_sub(cut_at.elapsed())).await;
    let map = browser.json("map_view", &[]).await;
    let during = map["edges"]
        .as_array()
        .and_then(|edges| edges.iter().find(|e| e["edge"] == "lon1-nyc1"))
        .and_then(|e| e["rtt_ms"].as_f64())
        .expect("the edge's round trip");
    assert!(
        (during - edge_rtt).abs() <= 0.15 * edge_rtt,
        "the detour's {during:.1} ms was taken for the edge's ({edge_rtt:.1} ms)"
    );

    // Healed, the edge carries London–New York again.
    lab.script("heal", &["lon1", "nyc1"]);
    let direct = BACKBONE.path(lon, nyc, &Cut::none()).expect("a path").zones;
    routes_become(lon, nyc, &direct).await;

    // An admin cuts it for maintenance on the capacity page: the lab's backbone controller takes
    // it down, the network routes around it; returned to service, it carries the traffic again.
    let mut create = lab.server_command();
    create
        .args([
            "staff",
            "create",
            "--email",
            "noc@meridian.example",
            "--role",
            "admin",
        ])
        .stdin(std::process::Stdio::piped());
    let mut child = create.spawn().expect("meridian staff create runs");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "{PASSWORD}").expect("the password is written");
    }
    assert!(child.wait().expect("it ends").success(), "staff create");
    let staff = Browser::new(&lab);
    staff
        .call(
            "staff_login",
            &[("email", "noc@meridian.example"), ("password", PASSWORD)],
        )
        .await;
    staff
        .call(
            "staff_backbone_link_set",
            &[("edge", "lon1-nyc1"), ("cut", "true")],
        )
        .await;
    routes_become(lon, nyc, &detour.zones).await;
    staff
        .call(
            "staff_backbone_link_set",
            &[("edge", "lon1-nyc1"), ("cut", "false")],
        )
        .await;
    routes_become(lon, nyc, &direct).await;
    lab.down();
}

/// The round trips `ping` printed (ms), the first two left out (neighbour caches warming).
fn ping_times(output: &str) -> Vec<f64> {
    output
        .lines()
        .filter_map(|line| line.split("time=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .skip(2)
        .collect()
}

/// How many echo replies `ping` says it received.
fn ping_received(output: &str) -> u32 {
    output
        .lines()
        .find(|line| line.contains("packets transmitted"))
        .and_then(|line| line.split(", ").nth(1)?.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_networks_span_zones_stay_apart_and_refuse_spoofing() {
    let _serial = SERIAL.lock().await;
    let keys = tempfile::tempdir().expect("a key directory");
    let mut lab = Lab::up("lon1,hkg1", 3934, &[]);
    let (a_key, a_public) = key_pair(keys.path(), "acme");
    let (b_key, b_public) = key_pair(keys.path(), "bravo");
    let acme = Tenant::sign_up(&lab, "Acme", "ops@acme.example").await;
    let bravo = Tenant::sign_up(&lab, "Bravo", "ops@bravo.example").await;

    // Acme in London and Hong Kong, Bravo in London on the same host as Acme's VM there.
    let a_key_id = acme
        .post("/ssh-keys", json!({ "name": "laptop", "public_key": a_public }))
        .await["id"]
        .clone();
    let b_key_id = bravo
        .post("/ssh-keys", json!({ "name": "laptop", "public_key": b_public }))
        .await["id"]
        .clone();
    let mut made = Vec::new();
    for (tenant, key, zone, name) in [
        (&acme, &a_key_id, "lon1", "a-lon"),
        (&acme, &a_key_id, "hkg1", "a-hkg"),
        (&bravo, &b_key_id, "lon1", "b-lon"),
    ] {
        let vdc = tenant.vdc_in(zone).await;
        let accepted = tenant
            .post("/vms", json!({ "vdc_id": vdc, "name": name, "template": "debian-12", "size": "xs", "ssh_key_ids": [key] }))
            .await;
        made.push((tenant, zone, accepted));
    }
    let mut vms = Vec::new();
    for (tenant, zone, accepted) in &made {
        tenant.job_done(accepted).await;
        let id = accepted["vm"]["id"].as_str().expect("a VM id").to_owned();
        let ip = tenant.get(&format!("/vms/{id}")).await["private_ip"]
            .as_str()
            .expect("an address")
            .to_owned();
        vms.push((*zone, router_ns(&lab, zone, &id), ip));
    }
    let (a_lon, a_hkg, b_lon) = (&vms[0], &vms[1], &vms[2]);
    assert_ne!(a_lon.1, b_lon.1, "two tenants on one host have two routers");

    // London to Hong Kong over Acme's private network: at or above the fibre limit, near the model.
    let out = ssh_ok(
        &a_lon.1,
        &a_key,
        &a_lon.2,
        &format!("ping -c 12 -i 0.3 {}", a_hkg.2),
    );
    let mut times = ping_times(&out);
    assert!(times.len() >= 8, "replies: {out}");
    times.sort_by(f64::total_cmp);
    let rtt = times[times.len() / 2];
    let model = BACKBONE
        .path(
            ZoneId::parse("lon1").expect("zone"),
            ZoneId::parse("hkg1").expect("zone"),
            &Cut::none(),
        )
        .expect("a path");
    eprintln!(
        "Acme lon1→hkg1 VM to VM: {rtt:.1} ms, modelled {:.1} ms, fibre limit {:.1} ms",
        model.modelled_rtt_ms, model.fibre_limit_ms
    );
    assert!(rtt >= model.fibre_limit_ms, "{rtt} ms beats physics");
    assert!(
        (rtt - model.modelled_rtt_ms).abs() <= 0.15 * model.modelled_rtt_ms,
        "{rtt:.1} ms vs {:.1} ms",
        model.modelled_rtt_ms
    );

    // Bravo reaches nothing of Acme's, whatever address it tries, its own or a forged one.
    let probe = |target: &str| format!("ping -c 3 -W 1 {target} || true");
    for target in [&a_hkg.2, &a_lon.2] {
        if *target == b_lon.2 {
            continue; // the same address in Bravo's own network is Bravo's VM itself
        }
        let out = ssh_ok(&b_lon.1, &b_key, &b_lon.2, &probe(target));
        assert_eq!(ping_received(&out), 0, "Bravo reached Acme's {target}: {out}");
    }
    ssh_ok(&b_lon.1, &b_key, &b_lon.2, "ip addr add 10.0.200.7/24 dev eth0");
    let out = ssh_ok(
        &b_lon.1,
        &b_key,
        &b_lon.2,
        &format!("ping -c 3 -W 1 -I 10.0.200.7 {} || true", a_hkg.2),
    );
    assert_eq!(ping_received(&out), 0, "a forged source got through: {out}");

    // Acme's own VM cannot send as an address that is not its own (anti-spoofing on its port).
    ssh_ok(&a_lon.1, &a_key, &a_lon.2, "ip addr add 10.0.0.99/24 dev eth0");
    let out = ssh_ok(
        &a_lon.1,
        &a_key,
        &a_lon.2,
        &format!("ping -c 3 -W 1 -I 10.0.0.99 {} || true", a_hkg.2),
    );
    assert_eq!(ping_received(&out), 0, "a spoofed source got through: {out}");
    let out = ssh_ok(&a_lon.1, &a_key, &a_lon.2, &format!("ping -c 2 -W 2 {}", a_hkg.2));
    assert_eq!(ping_received(&out), 2, "its own address still works: {out}");
    lab.down();
}

/// Whether a TCP connection from the lab's internet to `address:port` opens within two seconds.
fn connects_from_internet(address: &str, port: u16) -> bool {
    Command::new("ip")
        .args([
            "netns",
            "exec",
            &format!("{NAME}-inet"),
            "timeout",
            "2",
            "bash",
            "-c",
        ])
        .arg(format!("exec 3<>/dev/tcp/{address}/{port}"))
        .status()
        .expect("bash runs")
        .success()
}

/// Waits (up to 20 s) until a connection to `address:port` from the lab's internet opens or not;
/// the rules of router namespace `ns` are shown if it does not.
async fn internet_reach_becomes(ns: &str, address: &str, port: u16, open: bool) {
    let started = Instant::now();
    while connects_from_internet(address, port) != open {
        if started.elapsed() > Duration::from_secs(20) {
            let rules = Command::new("ip")
                .args(["netns", "exec", ns, "nft", "list", "ruleset"])
                .output()
                .expect("nft runs");
            panic!(
                "{address}:{port} open={open} never came; {ns}'s rules:\n{}",
                String::from_utf8_lossy(&rules.stdout)
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breakout_and_its_firewall_hold_on_real_packets() {
    let _serial = SERIAL.lock().await;
    let keys = tempfile::tempdir().expect("a key directory");
    let mut lab = Lab::up("lon1", 3935, &[]);
    let (key, public) = key_pair(keys.path(), "acme");
    let acme = Tenant::sign_up(&lab, "Acme", "ops@acme.example").await;
    let key_id = acme
        .post("/ssh-keys", json!({ "name": "laptop", "public_key": public }))
        .await["id"]
        .clone();
    let vdc = acme
        .post("/vdcs", json!({ "name": "lab-lon1", "zone": "lon1" }))
        .await["id"]
        .clone();
    acme.post(
        "/firewall-rules",
        json!({ "zone": "lon1", "protocol": "tcp", "port_from": 22, "source": "0.0.0.0/0" }),
    )
    .await;
    let mut vms = Vec::new();
    for (name, breakout) in [("web", true), ("db", false)] {
        let accepted = acme
            .post(
                "/vms",
                json!({ "vdc_id": vdc, "name": name, "template": "debian-12", "size": "xs",
                "ssh_key_ids": [key_id], "breakout": breakout }),
            )
            .await;
        acme.job_done(&accepted).await;
        let id = accepted["vm"]["id"].as_str().expect("a VM id").to_owned();
        vms.push(acme.get(&format!("/vms/{id}")).await);
    }
    let (web, db) = (&vms[0], &vms[1]);
    let public_ip = web["public_ip"]
        .as_str()
        .expect("web has a public address")
        .to_owned();
    assert!(
        public_ip.starts_with("198.51.100."),
        "a documentation address: {public_ip}"
    );
    assert!(db["public_ip"].is_null());
    let ns = router_ns(&lab, "lon1", web["id"].as_str().expect("id"));
    let (web_ip, db_ip) = (
        web["private_ip"].as_str().expect("ip"),
        db["private_ip"].as_str().expect("ip"),
    );

    // From the internet: the allowed port answers (the guest's SSH), another does not.
    // A second SSH server in the guest, on 8080: something that answers there once allowed.
    ssh_ok(
        &ns,
        &key,
        web_ip,
        "dropbear -R -s -p 8080 -P /run/dropbear-8080.pid",
    );
    internet_reach_becomes(&ns, &public_ip, 22, true).await;
    assert!(
        !connects_from_internet(&public_ip, 8080),
        "port 8080 is not allowed"
    );
    // A rule for it opens it within seconds; taking the rule away closes it again.
    let rule = acme
        .post(
            "/firewall-rules",
            json!({ "zone": "lon1", "protocol": "tcp", "port_from": 8080, "source": "0.0.0.0/0" }),
        )
        .await;
    internet_reach_becomes(&ns, &public_ip, 8080, true).await;
    let (status, _) = acme
        .send(
            reqwest::Method::DELETE,
            &format!("/firewall-rules/{}", rule["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert!(status.is_success(), "{status}");
    internet_reach_becomes(&ns, &public_ip, 8080, false).await;

    // Out: the VM with breakout reaches the internet as its public address; the other has no way out.
    let out = ssh_ok(&ns, &key, web_ip, "ping -c 2 -W 2 198.51.100.254 || true");
    assert_eq!(ping_received(&out), 2, "web reaches the internet: {out}");
    let out = ssh_ok(&ns, &key, db_ip, "ping -c 2 -W 1 198.51.100.254 || true");
    assert_eq!(ping_received(&out), 0, "db has no breakout: {out}");
    lab.down();
}

/// A TCP sink in the lab's internet (port 5001): it reads every connection to its end.
struct Sink(std::process::Child);

impl Sink {
    fn start() -> Self {
        const SINK: &str = "import socket, sys, threading\n\
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
s.bind(('0.0.0.0', 5001)); s.listen(8)\n\
def drain(c):\n    while c.recv(65536): pass\n    c.close()\n\
while True:\n    c, _ = s.accept(); threading.Thread(target=drain, args=(c,), daemon=True).start()\n";
        let child = Command::new("ip")
            .args(["netns", "exec", &format!("{NAME}-inet"), "python3", "-c", SINK])
            .spawn()
            .expect("python3 runs");
        Sink(child)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The bytes the lab's internet has received (at its bridge, Ethernet headers included).
fn internet_received() -> u64 {
    let out = run(Command::new("ip").args([
        "netns",
        "exec",
        &format!("{NAME}-inet"),
        "cat",
        "/sys/class/net/world/statistics/rx_bytes",
    ]));
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a byte count")
}

/// The IP bytes that device `dev` of namespace `ns` has sent (its counter less Ethernet headers).
fn ip_bytes_out(ns: &str, dev: &str) -> u64 {
    let out = run(Command::new("ip").args(["-n", ns, "-j", "-s", "link", "show", dev]));
    let links: Value = serde_json::from_slice(&out.stdout).expect("ip's JSON");
    let tx = &links[0]["stats64"]["tx"];
    let (bytes, packets) = (
        tx["bytes"].as_u64().expect("bytes"),
        tx["packets"].as_u64().expect("packets"),
    );
    bytes - 14 * packets
}

/// The same once it has not moved for two seconds (a shaper's queue drained).
async fn settled_bytes_out(ns: &str, dev: &str) -> u64 {
    let mut last = ip_bytes_out(ns, dev);
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = ip_bytes_out(ns, dev);
        if now == last {
            return now;
        }
        last = now;
    }
}

/// Sends `mib` MiB of zeros over TCP from the VM at `ip` (through router `ns`) to `to` port
/// `port`, in the background; the SSH client's process.
fn send_from(ns: &str, key: &Path, ip: &str, mib: u32, to: &str, port: u16) -> std::process::Child {
    let command = format!(
        "dd if=/dev/zero bs=64k count={} 2>/dev/null | nc {to} {port}",
        mib * 16
    );
    ssh_command(ns, key, ip, &command).spawn().expect("ssh runs")
}

/// Sets a cap through the REST API and waits (up to 20 s) until device `dev` of namespace `ns`
/// shapes at its 10 Mb/s.
async fn cap_applied(tenant: &Tenant, cap: Value, ns: &str, dev: &str) {
    let (status, answer) = tenant
        .send(reqwest::Method::PUT, "/bandwidth/caps", Some(cap))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let started = Instant::now();
    loop {
        let classes = run(Command::new("tc").args(["-n", ns, "class", "show", "dev", dev]));
        if String::from_utf8_lossy(&classes.stdout).contains("rate 10Mbit") {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the cap was not applied on {dev}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A TCP listener on `port` in the VM at `ip` that reads what it is sent (its standard input
/// never ends: busybox's `nc` would close on it).
async fn listen_on(ns: &str, key: &Path, ip: &str, port: u16) {
    let out = ssh(
        ns,
        key,
        ip,
        &format!("setsid sh -c 'sleep 600 | nc -l -p {port} >/dev/null' </dev/null >/dev/null 2>&1 &"),
    );
    assert!(out.status.success(), "listener: {out:?}");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// The rate a byte counter grows at over 10 s, starting 4 s from now (the middle of a transfer
/// that has just started), in Mb/s.
async fn mbps_over_10s(counter: impl Fn() -> u64) -> f64 {
    tokio::time::sleep(Duration::from_secs(4)).await;
    let before = counter();
    tokio::time::sleep(Duration::from_secs(10)).await;
    (counter() - before) as f64 * 8.0 / 10.0 / 1e6
}

/// Waits for a sender to finish, successfully.
fn sent_ok(mut sender: std::process::Child, what: &str) {
    let status = sender.wait().expect("ssh ends");
    assert!(status.success(), "{what}: {status}");
}

/// This month's metered bytes of VM `vm` as the REST API reports them: (backbone, internet).
async fn metered(tenant: &Tenant, vm: &str) -> (u64, u64) {
    let bandwidth = tenant.get("/bandwidth").await;
    assert_eq!(
        bandwidth["measured"], true,
        "real traffic is labelled measured: {bandwidth}"
    );
    bandwidth["vms"]
        .as_array()
        .expect("VMs")
        .iter()
        .find(|v| v["vm_id"] == vm)
        .map_or((0, 0), |v| {
            (
                v["backbone_bytes"].as_u64().unwrap_or(0),
                v["internet_bytes"].as_u64().unwrap_or(0),
            )
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caps_and_metering_hold_on_real_packets() {
    const MIB: u64 = 1 << 20;
    let _serial = SERIAL.lock().await;
    let keys = tempfile::tempdir().expect("a key directory");
    let mut lab = Lab::up("lon1,ams1", 3936, &[("MERIDIAN_METER_SECS", "5")]);
    let (key, public) = key_pair(keys.path(), "acme");
    let acme = Tenant::sign_up(&lab, "Acme", "ops@acme.example").await;
    let key_id = acme
        .post("/ssh-keys", json!({ "name": "laptop", "public_key": public }))
        .await["id"]
        .clone();
    let mut made = Vec::new();
    for (zone, name, breakout) in [
        ("lon1", "capped", true),
        ("lon1", "free", true),
        ("ams1", "peer", false),
    ] {
        let vdc = acme.vdc_in(zone).await;
        let accepted = acme
            .post(
                "/vms",
                json!({ "vdc_id": vdc, "name": name, "template": "debian-12", "size": "xs",
                "ssh_key_ids": [key_id], "breakout": breakout }),
            )
            .await;
        made.push((zone, accepted));
    }
    let mut vms = Vec::new();
    for (zone, accepted) in &made {
        acme.job_done(accepted).await;
        let id = accepted["vm"]["id"].as_str().expect("a VM id").to_owned();
        let ip = acme.get(&format!("/vms/{id}")).await["private_ip"]
            .as_str()
            .expect("an address")
            .to_owned();
        vms.push((id.clone(), router_ns(&lab, zone, &id), ip));
    }
    let (capped, free, peer) = (&vms[0], &vms[1], &vms[2]);

    // A cap of 10 Mb/s on one VM, through the REST API; its host shapes it within seconds.
    let network = capped.1.rsplit('-').next().expect("the network id").to_owned();
    let router = capped.1.clone();
    let host = format!("{NAME}-lon1");
    cap_applied(
        &acme,
        json!({ "scope": "vm", "vm_id": capped.0, "mbps": 10 }),
        &host,
        &format!("mv{network}"),
    )
    .await;

    // The capped VM sends 20 MiB to the internet: measured where it arrives, over 10 s in the
    // middle of the transfer, at most 10.5 Mb/s.
    let _sink = Sink::start();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = ip_bytes_out(&router, "ext");
    let sender = send_from(&capped.1, &key, &capped.2, 20, "198.51.100.254", 5001);
    let capped_mbps = mbps_over_10s(internet_received).await;
    sent_ok(sender, "the capped VM's transfer");
    let capped_sent = settled_bytes_out(&router, "ext").await - before;
    eprintln!("capped VM to the internet: {capped_mbps:.2} Mb/s over 10 s");
    assert!(capped_mbps <= 10.5, "the cap let {capped_mbps:.2} Mb/s through");
    assert!(
        capped_mbps >= 5.0,
        "the cap starved the VM: {capped_mbps:.2} Mb/s"
    );

    // The uncapped one sends the same faster.
    let start = Instant::now();
    let before = ip_bytes_out(&router, "ext");
    sent_ok(
        send_from(&free.1, &key, &free.2, 20, "198.51.100.254", 5001),
        "the free VM's transfer",
    );
    let free_sent = settled_bytes_out(&router, "ext").await - before;
    let free_mbps = (20 * MIB) as f64 * 8.0 / start.elapsed().as_secs_f64() / 1e6;
    eprintln!("uncapped VM to the internet: {free_mbps:.2} Mb/s (whole transfer, SSH and settling included)");
    assert!(free_mbps > 10.5, "the uncapped VM sent only {free_mbps:.2} Mb/s");

    // And 8 MiB to its tenant's VM in Amsterdam, over the backbone.
    listen_on(&peer.1, &key, &peer.2, 5002).await;
    let vxlan = format!("mx{network}");
    let before = ip_bytes_out(&router, &vxlan);
    sent_ok(
        send_from(&free.1, &key, &free.2, 8, &peer.2, 5002),
        "the transfer to Amsterdam",
    );
    let backbone_sent = settled_bytes_out(&router, &vxlan).await - before;

    // Metered from the counters at the VMs' ports: what the router's devices saw leave (IP
    // bytes, TCP/IP headers included), within 5 %, and at least what the test's payload was.
    let near = |metered: u64, sent: u64| (metered as f64 - sent as f64).abs() <= 0.05 * sent as f64;
    let started = Instant::now();
    loop {
        let (free_backbone, free_internet) = metered(&acme, &free.0).await;
        let (_, capped_internet) = metered(&acme, &capped.0).await;
        eprintln!(
            "metered: free {free_internet} B to the internet (left the router: {free_sent}), {free_backbone} B to ams1 ({backbone_sent}); capped {capped_internet} B ({capped_sent})"
        );
        // A tick can land while a port's counters are still being read: a count within 5 % of
        // the router's but short of the payload is waited out, not taken as the answer.
        let whole_payload =
            free_internet >= 20 * MIB && capped_internet >= 20 * MIB && free_backbone >= 8 * MIB;
        if near(free_internet, free_sent)
            && near(free_backbone, backbone_sent)
            && near(capped_internet, capped_sent)
            && whole_payload
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the metered bytes never matched what was sent, payload included"
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let (peer_backbone, peer_internet) = metered(&acme, &peer.0).await;
    assert!(
        peer_backbone < MIB && peer_internet == 0,
        "the receiver sent only acknowledgements: {peer_backbone} / {peer_internet}"
    );

    // The VMs' graphs are measured too: the sender's port sent what it sent (its frames, at
    // least the payloads), the receiver's port received its 8 MiB, and their QEMUs used CPU.
    let charted = |metrics: &Value, field: &str| -> u64 {
        metrics["points"]
            .as_array()
            .expect("points")
            .iter()
            .map(|p| p[field].as_u64().unwrap_or(0) * p["seconds"].as_u64().unwrap_or(0))
            .sum()
    };
    let free_graph = acme.get(&format!("/vms/{}/metrics?window=hour", free.0)).await;
    let peer_graph = acme.get(&format!("/vms/{}/metrics?window=hour", peer.0)).await;
    assert_eq!(
        free_graph["simulated"], false,
        "measured figures are never called simulated"
    );
    let free_out = charted(&free_graph, "sent_bytes_per_second");
    let peer_in = charted(&peer_graph, "received_bytes_per_second");
    eprintln!("graphs: free VM sent {free_out} B, the peer received {peer_in} B");
    assert!(
        free_out >= 28 * MIB * 95 / 100,
        "the sender's graph: {free_graph}"
    );
    assert!(
        peer_in >= 8 * MIB * 95 / 100,
        "the receiver's graph: {peer_graph}"
    );
    assert!(
        free_graph["points"]
            .as_array()
            .expect("points")
            .iter()
            .any(|p| p["cpu_permille"].as_u64() > Some(0)),
        "a VM that sent 28 MiB used CPU: {free_graph}"
    );

    // A cap on the zone pair: what London sends to Amsterdam is held to it, measured as it
    // leaves London's router.
    cap_applied(
        &acme,
        json!({ "scope": "pair", "zone_a": "ams1", "zone_b": "lon1", "mbps": 10 }),
        &router,
        &vxlan,
    )
    .await;
    listen_on(&peer.1, &key, &peer.2, 5003).await;
    let sender = send_from(&free.1, &key, &free.2, 20, &peer.2, 5003);
    let pair_mbps = mbps_over_10s(|| ip_bytes_out(&router, &vxlan)).await;
    sent_ok(sender, "the capped transfer to Amsterdam");
    eprintln!("London to Amsterdam under the pair's cap: {pair_mbps:.2} Mb/s over 10 s");
    assert!(
        pair_mbps <= 10.5,
        "the pair's cap let {pair_mbps:.2} Mb/s through"
    );
    assert!(pair_mbps >= 5.0, "the pair's cap starved it: {pair_mbps:.2} Mb/s");
    lab.down();
}
