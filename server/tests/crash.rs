//! Real `meridian` processes: SIGKILLed while a VM create is at each of its steps, or at random
//! moments while VMs and a stack are being built, then restarted, they must finish every job with
//! every invariant intact; and two servers on one database share the job queue and the sessions.

use meridian_control::driver::simulated::{SimHardware, SimTiming, SimulatedDriver};
use meridian_control::testing::TestDb;
use meridian_control::{Actor, Control, OpContext};
use meridian_core::Signup;
use meridian_core::job::{JobKind, JobState};
use meridian_core::resource::{VmCreate, VmCreateForm};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_server(db_url: &str, port: u16) -> Child {
    start_server_paced(db_url, port, "150ms")
}

/// A server whose simulated steps each take `step` (e.g. "150ms"). Job leases last 400 ms, or
/// `MERIDIAN_CRASH_LEASE_MS` (docs/BENCHMARKS.md measures restarts with the default 5000).
fn start_server_paced(db_url: &str, port: u16, step: &str) -> Child {
    let lease = std::env::var("MERIDIAN_CRASH_LEASE_MS").unwrap_or_else(|_| "400".into());
    Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            db_url,
        ])
        .args([
            "--sim-timing",
            step,
            "--job-lease-ms",
            &lease,
            "--workers",
            "2",
            "--log",
            "warn",
        ])
        .args(["--site-root", "/nonexistent"])
        // Its own files (the API key master secret) go to a temporary directory, not the tree.
        .args([
            "--data-dir",
            std::env::temp_dir()
                .join("meridian-crash-tests")
                .to_str()
                .unwrap(),
        ])
        .kill_on_drop(true)
        .spawn()
        .expect("start meridian")
}

async fn wait_healthy(port: u16) -> Duration {
    let started = Instant::now();
    let client = reqwest::Client::new();
    loop {
        if let Ok(response) = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
        {
            if response.status().is_success() {
                return started.elapsed();
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "server never became healthy"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A tenant with room for many VMs, a VDC in London, and a control plane in this process that only
/// queues work and checks results: the server processes run the jobs.
struct Scene {
    db: TestDb,
    control: Control,
    ctx: OpContext,
    tenant: String,
    vdc: String,
}

impl Scene {
    async fn new() -> Self {
        let db = TestDb::fresh().await;
        let driver = Arc::new(SimulatedDriver::persistent(
            db.store.clone(),
            SimTiming::instant(),
            1,
        ));
        let control = Control::new(db.store.clone(), driver).await.unwrap();
        let signup = Signup::parse("Crash Co", "ops@crash.example", "a long enough secret").unwrap();
        let account = control
            .account_signup(&OpContext::anonymous("t"), signup)
            .await
            .unwrap();
        let tenant = account.tenant_id.to_string();
        let roomy = meridian_core::resource::Quota {
            max_vms: 100,
            max_vcpus: 400,
            max_memory_mib: 800 * 1024,
            max_public_ips: 50,
        };
        db.store.quota_set_limits(&tenant, &roomy).await.unwrap();
        let ctx = OpContext {
            actor: Actor::User {
                user_id: account.user_id,
                tenant_id: account.tenant_id,
                role: account.role,
            },
            request_id: "crash".into(),
            client: None,
            via: None,
        };
        let vdc = control
            .vdc_create(&ctx, "main", "lon1")
            .await
            .unwrap()
            .id
            .to_string();
        Self {
            db,
            control,
            ctx,
            tenant,
            vdc,
        }
    }

    /// Queues one VM create named `name`.
    async fn vm_create(&self, name: &str) -> meridian_control::vm::Started {
        let create = VmCreate::parse(&VmCreateForm {
            name: name.into(),
            zone: "lon1".into(),
            template: "coreos-docker".into(),
            size: "s".into(),
            breakout: "on".into(),
            ..VmCreateForm::default()
        })
        .unwrap();
        self.control
            .vm_create(&self.ctx, self.vdc.parse().unwrap(), create)
            .await
            .unwrap()
    }

    /// An API key's secret, made by the server on `port` (so that every server sharing its data
    /// directory knows it) after signing in there as the tenant's owner.
    async fn api_secret(&self, port: u16) -> String {
        let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
        let call = |name: &str, form: &[(&str, &str)]| {
            browser
                .post(format!("http://127.0.0.1:{port}/fn/{name}"))
                .header("Origin", format!("http://127.0.0.1:{port}"))
                .form(form)
                .send()
        };
        let login = call(
            "account_login",
            &[
                ("email", "ops@crash.example"),
                ("password", "a long enough secret"),
            ],
        )
        .await
        .unwrap();
        assert_eq!(login.status(), reqwest::StatusCode::OK);
        let key: serde_json::Value = call("api_key_create", &[("name", "racer")])
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        key["secret"].as_str().unwrap().to_owned()
    }

    /// A Meridian admin, to cancel jobs.
    async fn admin(&self) -> OpContext {
        let staff = self
            .control
            .staff_create("ada@meridian.example", "staff secret phrase", "admin")
            .await
            .unwrap();
        let auth = meridian_control::session_store::StaffAuth {
            staff_id: staff.id,
            signed_in_at: 0,
            inspecting: None,
        };
        OpContext::new(
            self.control.actor_for_staff_session(&auth).await.unwrap(),
            "admin",
        )
    }

    /// `count` VMs named `prefix-N`, built by the running servers: their ids.
    async fn vms_built(&self, prefix: &str, count: usize) -> Vec<String> {
        let mut vms = Vec::with_capacity(count);
        for i in 0..count {
            vms.push(self.vm_create(&format!("{prefix}-{i}")).await.vm_id.to_string());
        }
        self.drained(Duration::from_secs(120)).await;
        vms
    }

    /// Cancels (as `admin`) the oldest live job every `pause_ms` until `deadline`; how many
    /// cancels were accepted.
    async fn cancel_jobs_until(&self, admin: &OpContext, deadline: Instant, pause_ms: u64) -> usize {
        let mut cancelled = 0;
        while Instant::now() < deadline {
            if let Some(job) = self.db.store.job_list_live().await.unwrap().first() {
                let job = job.id.to_string();
                if self
                    .control
                    .staff_job_cancel(admin, job.parse().unwrap())
                    .await
                    .is_ok()
                {
                    cancelled += 1;
                }
            }
            tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        }
        cancelled
    }

    /// Waits until no job is queued or running, at most `limit`; returns how long it took.
    async fn drained(&self, limit: Duration) -> Duration {
        let started = Instant::now();
        loop {
            let live = self.db.store.job_list_live().await.unwrap();
            if live.is_empty() {
                return started.elapsed();
            }
            assert!(started.elapsed() < limit, "jobs stuck: {live:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every VM running on simulated hardware that built it exactly once, and no invariant broken.
    async fn assert_whole(&self) {
        for vm in self.db.store.vm_list_all().await.unwrap() {
            let target = vm.id.parse().unwrap();
            let jobs = self
                .db
                .store
                .job_list_for_target(&self.tenant, target, 5)
                .await
                .unwrap();
            assert_eq!(vm.state, "running", "{}: {vm:?}; its jobs: {jobs:?}", vm.name);
            assert_eq!(
                SimHardware::new(self.db.store.clone())
                    .get(&vm.id.to_string())
                    .await
                    .unwrap(),
                (true, true, true, true),
                "{} built exactly once",
                vm.name
            );
        }
        let broken = self.control.invariants_check(true).await.unwrap();
        assert!(broken.is_empty(), "{}", broken.join("; "));
    }
}

#[tokio::test]
async fn a_server_killed_at_each_step_of_a_vm_create_resumes_it_after_restart() {
    let scene = Scene::new().await;
    let Scene {
        db,
        control,
        ctx,
        tenant,
        ..
    } = &scene;

    let steps = JobKind::VmCreate.steps().len();
    for kill_at in 1..steps {
        let started = scene.vm_create(&format!("crash-{kill_at}")).await;

        let port = free_port();
        let mut server = start_server(&db.url, port);
        wait_healthy(port).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let job = db.store.job_get(tenant, started.job_id).await.unwrap().unwrap();
            if job.position.step >= kill_at || job.position.state.is_terminal() {
                break;
            }
            assert!(Instant::now() < deadline, "job never reached step {kill_at}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        server.kill().await.unwrap(); // SIGKILL: no chance to finish the step or release the lease.

        let port = free_port();
        let mut server = start_server(&db.url, port);
        let restart = wait_healthy(port).await;
        let resumed = Instant::now();
        let job = loop {
            let job = db.store.job_get(tenant, started.job_id).await.unwrap().unwrap();
            if job.position.state.is_terminal() {
                break job;
            }
            assert!(
                resumed.elapsed() < Duration::from_secs(20),
                "job stuck after restart: {job:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        eprintln!(
            "killed at step {kill_at}: healthy again after {} ms, job finished {} ms after that",
            restart.as_millis(),
            resumed.elapsed().as_millis()
        );
        server.kill().await.unwrap();

        assert_eq!(
            job.position.state,
            JobState::Succeeded,
            "killed at step {kill_at}: {job:?}"
        );
        let vm = control
            .vm_view(ctx, started.vm_id.to_string().parse().unwrap())
            .await
            .unwrap();
        assert_eq!(vm.state, "running");
        let hardware = SimHardware::new(db.store.clone())
            .get(&vm.id.to_string())
            .await
            .unwrap();
        assert_eq!(
            hardware,
            (true, true, true, true),
            "the simulated host runs the VM exactly once"
        );
        let broken = control.invariants_check(true).await.unwrap();
        assert!(
            broken.is_empty(),
            "killed at step {kill_at}: {}",
            broken.join("; ")
        );
    }
}

#[tokio::test]
async fn servers_killed_at_random_moments_while_vms_and_a_stack_build_lose_nothing() {
    use rand::{Rng, SeedableRng};
    let scene = Scene::new().await;
    for i in 0..6 {
        scene.vm_create(&format!("soak-{i}")).await;
    }
    scene
        .control
        .stack_create(&scene.ctx, "web-3", "soak-web")
        .await
        .unwrap();
    // Seeded, so a failure can be replayed; the seed is printed.
    let seed = std::env::var("MERIDIAN_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7u64);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut restarts = Vec::new();
    for round in 0..6 {
        // More work arrives while the servers come and go.
        for i in 0..3 {
            scene.vm_create(&format!("soak-{round}-{i}")).await;
        }
        let port = free_port();
        let mut server = start_server_paced(&scene.db.url, port, "250ms");
        restarts.push(wait_healthy(port).await);
        let run_for = Duration::from_millis(rng.random_range(50..900));
        tokio::time::sleep(run_for).await;
        server.kill().await.unwrap();
        let live = scene.db.store.job_list_live().await.unwrap().len();
        eprintln!(
            "seed {seed} round {round}: killed after {} ms with {live} jobs in flight",
            run_for.as_millis()
        );
    }
    let in_flight = scene.db.store.job_list_live().await.unwrap().len();
    assert!(in_flight > 0, "the last kill should leave work to resume");
    let port = free_port();
    let mut server = start_server_paced(&scene.db.url, port, "250ms");
    restarts.push(wait_healthy(port).await);
    let finished = scene.drained(Duration::from_secs(30)).await;
    server.kill().await.unwrap();
    let slowest = restarts.iter().max().unwrap();
    eprintln!(
        "seed {seed}: slowest restart to healthy {} ms; the {in_flight} jobs in flight at the last kill finished {} ms after the last restart",
        slowest.as_millis(),
        finished.as_millis()
    );
    assert_eq!(
        scene.db.store.vm_list_all().await.unwrap().len(),
        27,
        "6 VMs, 3 in the stack, 18 later"
    );
    scene.assert_whole().await;
    let stack = scene.control.stack_list(&scene.ctx).await.unwrap();
    assert_eq!(stack[0].state, "ready", "{stack:?}");
}

/// PostgreSQL is the database for more than one server (the test command runs this on it). On
/// SQLite, two processes writing one file contend for its single write lock unfairly: a writer can
/// wait out the whole busy timeout, so this test is not run there.
#[tokio::test]
async fn two_servers_on_one_database_share_the_queue_and_the_sessions() {
    let scene = Scene::new().await;
    if scene.db.store.backend() != meridian_control::store::Backend::Postgres {
        eprintln!("two servers share PostgreSQL, not SQLite: run with scripts/with-postgres.sh");
        return;
    }
    let (port_a, port_b) = (free_port(), free_port());
    let mut a = start_server_paced(&scene.db.url, port_a, "80ms");
    let mut b = start_server_paced(&scene.db.url, port_b, "80ms");
    wait_healthy(port_a).await;
    wait_healthy(port_b).await;

    // Signed in on A, known on B; signed out on B, gone on A.
    let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let call = |port: u16, name: &str, form: &[(&str, &str)]| {
        browser
            .post(format!("http://127.0.0.1:{port}/fn/{name}"))
            .header("Origin", format!("http://127.0.0.1:{port}"))
            .form(form)
            .send()
    };
    let login = call(
        port_a,
        "account_login",
        &[
            ("email", "ops@crash.example"),
            ("password", "a long enough secret"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(login.status(), reqwest::StatusCode::OK);
    let me: serde_json::Value = call(port_b, "account_view", &[])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "ops@crash.example", "B knows A's session");
    assert_eq!(
        call(port_b, "account_logout", &[]).await.unwrap().status(),
        reqwest::StatusCode::OK
    );
    let me: serde_json::Value = call(port_a, "account_view", &[])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(me.is_null(), "logged out on B is logged out on A: {me}");

    // Work arrives a little at a time, as from many users; both servers' workers take some. A
    // worker busy with jobs claims again each time one ends, so with work arriving faster than it
    // finishes the first server to take some keeps taking all of it (a CI run saw one server run
    // all 24 jobs): each job here arrives after the last has had time to end, when both servers
    // are idle and poll the queue on their own clocks, so each job goes to either (one server
    // taking all 14 by chance: 1 in 8,000).
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&scene.db.url).await.unwrap();
    let mut owners = std::collections::BTreeSet::new();
    let mut jobs = Vec::new();
    for i in 0..14 {
        jobs.push(scene.vm_create(&format!("shared-{i}")).await.job_id);
        for _ in 0..50 {
            let rows: Vec<(String,)> =
                sqlx::query_as("SELECT lease_owner FROM jobs WHERE lease_owner IS NOT NULL")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            // Owners are "<process>/<worker>#<cohort>": keep the process.
            owners.extend(
                rows.into_iter()
                    .filter_map(|(o,)| o.split('/').next().map(str::to_owned)),
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    scene.drained(Duration::from_secs(60)).await;
    a.kill().await.unwrap();
    b.kill().await.unwrap();
    assert_eq!(owners.len(), 2, "both servers ran jobs: {owners:?}");
    for job in jobs {
        let job = scene.db.store.job_get(&scene.tenant, job).await.unwrap().unwrap();
        assert_eq!(job.position.state, JobState::Succeeded, "{job:?}");
    }
    // A job may change hands when a lease lapses, but no step of it is ever done twice.
    let twice: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT job_id, step, COUNT(*) FROM job_events WHERE status = 'done' GROUP BY job_id, step HAVING COUNT(*) > 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(twice.is_empty(), "steps done twice: {twice:?}");
    let done: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM job_events WHERE status = 'done'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        done.0 >= 14 * 7,
        "every step of every job recorded as done once: {}",
        done.0
    );
    scene.assert_whole().await;
}

/// What must hold after any mix of racing operations, checked in SQL against the tables
/// themselves (each line is a broken rule; none may be returned).
const RACE_RULES: &[(&str, &str)] = &[
    (
        "two jobs on one VM were live at the same time",
        "SELECT a.target_id FROM jobs a JOIN jobs b ON a.target_id = b.target_id AND a.id < b.id \
         WHERE a.created_at < COALESCE(b.finished_at, 9000000000000000) \
         AND b.created_at < COALESCE(a.finished_at, 9000000000000000)",
    ),
    (
        "a host's recorded use differs from the VMs on it",
        "SELECT h.id FROM hosts h LEFT JOIN (SELECT host_id, SUM(vcpus) AS v, SUM(memory_mib) AS m, \
         SUM(disk_gib) AS d FROM vms WHERE host_id IS NOT NULL GROUP BY host_id) s ON s.host_id = h.id \
         WHERE h.vcpus_used <> COALESCE(s.v, 0) OR h.memory_mib_used <> COALESCE(s.m, 0) \
         OR h.disk_gib_used <> COALESCE(s.d, 0)",
    ),
    (
        "a tenant's quota use differs from its VMs",
        "SELECT q.tenant_id FROM quotas q LEFT JOIN (SELECT tenant_id, COUNT(*) AS n, SUM(vcpus) AS v, \
         SUM(memory_mib) AS m, SUM(CASE WHEN breakout = 1 THEN 1 ELSE 0 END) AS p FROM vms \
         WHERE quota_reserved = 1 GROUP BY tenant_id) s ON s.tenant_id = q.tenant_id \
         WHERE q.used_vms <> COALESCE(s.n, 0) OR q.used_vcpus <> COALESCE(s.v, 0) \
         OR q.used_memory_mib <> COALESCE(s.m, 0) OR q.used_public_ips <> COALESCE(s.p, 0)",
    ),
    (
        "a destroyed or failed VM still holds an address, a host or quota",
        "SELECT id FROM vms WHERE state IN ('destroyed', 'failed') AND (public_ip IS NOT NULL \
         OR private_ip IS NOT NULL OR host_id IS NOT NULL OR quota_reserved = 1)",
    ),
    (
        "a job was left queued, running or unwinding",
        "SELECT id FROM jobs WHERE state IN ('queued', 'running', 'unwinding')",
    ),
];

/// Every rule of [`RACE_RULES`] that is broken, with what breaks it.
async fn race_rules_broken(pool: &sqlx::AnyPool) -> Vec<String> {
    let mut broken = Vec::new();
    for (rule, sql) in RACE_RULES {
        let rows: Vec<(String,)> = sqlx::query_as(sql).fetch_all(pool).await.unwrap();
        if !rows.is_empty() {
            broken.push(format!("{rule}: {rows:?}"));
        }
    }
    broken
}

/// Clients race operations on the same VMs through the REST API — on PostgreSQL against two
/// servers, each pair of racing requests split between them; on SQLite against one — while an
/// admin cancels fresh jobs. Every request is answered (a refusal names why), and afterwards,
/// checked in SQL: at most one live job per VM at any time, hosts and quotas hold exactly what the
/// VMs hold, nothing held by a destroyed VM, no job left behind.
#[tokio::test]
async fn racing_operations_on_the_same_vms_keep_one_job_per_vm_and_every_invariant() {
    use rand::{Rng, SeedableRng};
    let scene = Scene::new().await;
    let two = scene.db.store.backend() == meridian_control::store::Backend::Postgres;
    let ports: Vec<u16> = (0..if two { 2 } else { 1 }).map(|_| free_port()).collect();
    let mut servers: Vec<Child> = ports
        .iter()
        .map(|&port| start_server_paced(&scene.db.url, port, "15ms"))
        .collect();
    for &port in &ports {
        wait_healthy(port).await;
    }
    let vms = scene.vms_built("race", 6).await;

    let secret = scene.api_secret(ports[0]).await;
    let admin = scene.admin().await;

    // One REST operation; the answer must be a success or a refusal that says why, never a 500.
    let client = reqwest::Client::new();
    let op = |port: u16, what: usize, vm: &str| {
        let (method, path, body) = match what {
            0 => ("POST", format!("/api/v1/vms/{vm}/stop"), String::new()),
            1 => ("POST", format!("/api/v1/vms/{vm}/start"), String::new()),
            2 => ("POST", format!("/api/v1/vms/{vm}/reboot"), String::new()),
            3 => (
                "POST",
                format!("/api/v1/vms/{vm}/resize"),
                r#"{"size":"m"}"#.to_owned(),
            ),
            4 => ("PUT", format!("/api/v1/vms/{vm}/breakout"), String::new()),
            5 => ("DELETE", format!("/api/v1/vms/{vm}/breakout"), String::new()),
            6 => (
                "POST",
                "/api/v1/firewall-rules".to_owned(),
                r#"{"zone":"lon1","protocol":"icmp","source":"0.0.0.0/0"}"#.to_owned(),
            ),
            _ => ("DELETE", format!("/api/v1/vms/{vm}"), String::new()),
        };
        let request = client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("http://127.0.0.1:{port}{path}"),
            )
            .bearer_auth(&secret)
            .header("Content-Type", "application/json")
            .body(body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let text = response.text().await.unwrap();
            assert!(
                status.is_success() || matches!(status.as_u16(), 403 | 409 | 422 | 503),
                "{method} {path}: {status} {text}"
            );
            (status.as_u16(), text)
        }
    };

    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&scene.db.url).await.unwrap();
    let seed = std::env::var("MERIDIAN_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(11u64);
    let busy = std::sync::atomic::AtomicUsize::new(0);
    let racers = (0..6u64).map(|racer| {
        let (vms, ports, op, busy) = (&vms, &ports, &op, &busy);
        async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed * 100 + racer);
            for _ in 0..25 {
                let vm = &vms[rng.random_range(0..vms.len() - 2)];
                let (first, second) = (rng.random_range(0..7), rng.random_range(0..7));
                // The same VM, two operations at once, one through each server.
                let (a, b) = tokio::join!(op(ports[0], first, vm), op(*ports.last().unwrap(), second, vm));
                for (status, text) in [a, b] {
                    if status == 409 && text.contains("operation_in_progress") {
                        busy.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
        }
    });
    // Meanwhile an admin cancels jobs as they appear.
    let cancels = scene.cancel_jobs_until(&admin, Instant::now() + Duration::from_secs(8), 150);
    let (_, cancelled) = tokio::join!(futures_util::future::join_all(racers), cancels);
    // Last, two VMs are destroyed while their breakout closes, each on another server.
    for vm in &vms[vms.len() - 2..] {
        let (port_a, port_b) = (ports[0], *ports.last().unwrap());
        let _ = tokio::join!(op(port_a, 7, vm), op(port_b, 5, vm));
    }
    scene.drained(Duration::from_secs(90)).await;
    for server in &mut servers {
        server.kill().await.unwrap();
    }
    eprintln!(
        "seed {seed}: {} refusals named the running job; {cancelled} jobs cancelled by the admin",
        busy.load(std::sync::atomic::Ordering::Relaxed)
    );
    let broken = race_rules_broken(&pool).await;
    assert!(broken.is_empty(), "{}", broken.join("\n"));
    let broken = scene.control.invariants_check(true).await.unwrap();
    assert!(broken.is_empty(), "{}", broken.join("; "));
    pool.close().await;
}

/// The long soak (not part of the test command: `scripts/soak.sh MINUTES` runs it on PostgreSQL
/// and records what it found). Two servers share one database; clients race operations on the
/// same VMs through both; an admin cancels fresh jobs; every 3–15 s one server is SIGKILLed and
/// started again at once. At the end the servers finish every job and the SQL rules and the
/// invariant checker must hold. The servers' logs go to `MERIDIAN_SOAK_LOG`.
#[tokio::test]
#[ignore = "minutes long: run by scripts/soak.sh"]
async fn soak_racing_operations_while_servers_are_killed() {
    use rand::{Rng, SeedableRng};
    let scene = Scene::new().await;
    let seconds: u64 = std::env::var("MERIDIAN_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let log_path = std::env::var("MERIDIAN_SOAK_LOG").unwrap_or_else(|_| {
        std::env::temp_dir()
            .join("meridian-soak.log")
            .display()
            .to_string()
    });
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .unwrap();
    // Each server has a data directory of its own (its own worker identity, as in production),
    // holding the same API key master secret.
    let master: [u8; 32] = rand::random();
    let data_dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    for dir in &data_dirs {
        std::fs::write(dir.path().join("api-master.key"), master).unwrap();
    }
    let start = |which: usize, port: u16| {
        Command::new(env!("CARGO_BIN_EXE_meridian"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--database-url",
                &scene.db.url,
            ])
            .args([
                "--sim-timing",
                "60ms",
                "--job-lease-ms",
                "2000",
                "--workers",
                "2",
                "--log",
                "info",
            ])
            .args(["--site-root", "/nonexistent"])
            .args(["--data-dir", data_dirs[which].path().to_str().unwrap()])
            .stdout(log.try_clone().unwrap())
            .stderr(log.try_clone().unwrap())
            .kill_on_drop(true)
            .spawn()
            .expect("start meridian")
    };
    let ports = [free_port(), free_port()];
    let mut servers = [start(0, ports[0]), start(1, ports[1])];
    for port in ports {
        wait_healthy(port).await;
    }
    let vms = scene.vms_built("soak", 12).await;
    let secret = scene.api_secret(ports[0]).await;
    let admin = scene.admin().await;

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let answered = std::sync::atomic::AtomicUsize::new(0);
    let racers = (0..6u64).map(|racer| {
        let (vms, client, secret, answered) = (&vms, &client, &secret, &answered);
        async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(racer);
            while Instant::now() < deadline {
                let vm = &vms[rng.random_range(0..vms.len())];
                let what = ["stop", "start", "reboot", "resize", "open", "close", "rule"];
                let send = |port: u16, what: &str| {
                    let (method, path, body) = match what {
                        "open" => ("PUT", format!("/api/v1/vms/{vm}/breakout"), String::new()),
                        "close" => ("DELETE", format!("/api/v1/vms/{vm}/breakout"), String::new()),
                        "resize" => (
                            "POST",
                            format!("/api/v1/vms/{vm}/resize"),
                            r#"{"size":"m"}"#.to_owned(),
                        ),
                        "rule" => (
                            "POST",
                            "/api/v1/firewall-rules".to_owned(),
                            r#"{"zone":"lon1","protocol":"icmp","source":"0.0.0.0/0"}"#.to_owned(),
                        ),
                        verb => ("POST", format!("/api/v1/vms/{vm}/{verb}"), String::new()),
                    };
                    client
                        .request(
                            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                            format!("http://127.0.0.1:{port}{path}"),
                        )
                        .bearer_auth(secret)
                        .header("Content-Type", "application/json")
                        .body(body)
                        .send()
                };
                let (a, b) = tokio::join!(
                    send(ports[0], what[rng.random_range(0..what.len())]),
                    send(ports[1], what[rng.random_range(0..what.len())])
                );
                // A server being killed drops its connections; any answer must not be a 500.
                for response in [a, b].into_iter().flatten() {
                    assert_ne!(response.status().as_u16(), 500, "{:?}", response.text().await);
                    answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(rng.random_range(0..60))).await;
            }
        }
    });
    let cancels = scene.cancel_jobs_until(&admin, deadline, 700);
    let kills = async {
        let mut rng = rand::rngs::StdRng::seed_from_u64(99);
        let mut kills = 0;
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(rng.random_range(3_000..15_000))).await;
            let which = rng.random_range(0..2);
            servers[which].kill().await.unwrap();
            servers[which] = start(which, ports[which]);
            wait_healthy(ports[which]).await;
            kills += 1;
        }
        kills
    };
    let (_, cancelled, kills) = tokio::join!(futures_util::future::join_all(racers), cancels, kills);
    scene.drained(Duration::from_secs(180)).await;
    for server in &mut servers {
        server.kill().await.unwrap();
    }
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&scene.db.url).await.unwrap();
    let jobs: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM jobs")
        .fetch_one(&pool)
        .await
        .unwrap();
    eprintln!(
        "soak: {seconds} s, {kills} kills, {} answers, {} jobs, {cancelled} cancelled by the admin; log {log_path}",
        answered.load(std::sync::atomic::Ordering::Relaxed),
        jobs.0
    );
    let broken = race_rules_broken(&pool).await;
    assert!(broken.is_empty(), "{}", broken.join("\n"));
    let broken = scene.control.invariants_check(true).await.unwrap();
    assert!(broken.is_empty(), "{}", broken.join("; "));
    pool.close().await;
}

#[tokio::test]
async fn json_logs_are_one_object_a_line_with_the_request_in_its_span() {
    let db = TestDb::fresh().await;
    let port = free_port();
    let data = tempfile::tempdir().unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            &db.url,
        ])
        .args(["--log-format", "json", "--log", "info,tower_http=debug"])
        .args([
            "--site-root",
            "/nonexistent",
            "--data-dir",
            data.path().to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start meridian");
    wait_healthy(port).await;
    let answered = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/v1/vms"))
        .header("x-request-id", "req-json-log-1")
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), reqwest::StatusCode::UNAUTHORIZED);
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.start_kill().unwrap();
    let output = server.wait_with_output().await.unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l["timestamp"].is_string() && l["level"].is_string()),
        "{text}"
    );
    assert!(
        lines.iter().any(|l| l["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Meridian is serving"))),
        "{text}"
    );
    assert!(
        lines.iter().any(|l| l["span"]["request.id"] == "req-json-log-1"),
        "a request's lines carry its id: {text}"
    );
}
