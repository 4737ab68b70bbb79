//! Crash safety with real processes: the `meridian` server is SIGKILLed while a VM create is at
//! each of its steps, restarted, and must finish the job with every invariant intact.

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
            "150ms",
            "--job-lease-ms",
            "400",
            "--workers",
            "2",
            "--log",
            "error",
        ])
        .args(["--site-root", "/nonexistent"])
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

#[tokio::test]
async fn a_server_killed_at_each_step_of_a_vm_create_resumes_it_after_restart() {
    let db = TestDb::fresh().await;
    // This process only queues work and checks the result; the server processes run the jobs.
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
        max_public_ips: 50,
        ..Default::default()
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
    };
    let vdc = control.vdc_create(&ctx, "main", "lon1").await.unwrap().id;

    let steps = JobKind::VmCreate.steps().len();
    for kill_at in 1..steps {
        let create = VmCreate::parse(&VmCreateForm {
            name: format!("crash-{kill_at}"),
            zone: "lon1".into(),
            template: "coreos-docker".into(),
            size: "s".into(),
            breakout: "on".into(),
            ..VmCreateForm::default()
        })
        .unwrap();
        let started = control.vm_create(&ctx, &vdc, create).await.unwrap();

        let port = free_port();
        let mut server = start_server(&db.url, port);
        wait_healthy(port).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let job = db.store.job_get(&tenant, started.job_id).await.unwrap().unwrap();
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
            let job = db.store.job_get(&tenant, started.job_id).await.unwrap().unwrap();
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
        let vm = control.vm_view(&ctx, &started.vm_id.to_string()).await.unwrap();
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
