//! Real `meridian` processes: SIGKILLed while a VM create is at each of its steps, or at random
//! moments while VMs and a stack are being built, then restarted, they must finish every job with
//! every invariant intact; and two servers on one database share the job queue and the sessions.

use meridian_control::driver::simulated::{SimTiming, SimulatedDriver};
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

/// A server whose simulated steps each take `step` (e.g. "150ms").
fn start_server_paced(db_url: &str, port: u16, step: &str) -> Child {
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
            "400",
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
        let vdc = control.vdc_create(&ctx, "main", "lon1").await.unwrap().id;
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
            .vm_create(&self.ctx, &self.vdc, create)
            .await
            .unwrap()
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
                self.db.store.sim_hardware_get(&vm.id).await.unwrap(),
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
        let vm = control.vm_view(ctx, &started.vm_id.to_string()).await.unwrap();
        assert_eq!(vm.state, "running");
        let hardware = db.store.sim_hardware_get(&vm.id).await.unwrap();
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

    // Work arrives a little at a time, as from many users; both servers' workers take some.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&scene.db.url).await.unwrap();
    let mut owners = std::collections::BTreeSet::new();
    let mut jobs = Vec::new();
    for i in 0..24 {
        jobs.push(scene.vm_create(&format!("shared-{i}")).await.job_id);
        for _ in 0..4 {
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
        done.0 >= 24 * 7,
        "every step of every job recorded as done once: {}",
        done.0
    );
    scene.assert_whole().await;
}
