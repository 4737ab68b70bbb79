//! VM provisioning end to end over the store and the simulated driver: create, operate, destroy,
//! failures injected at every step, steps replayed, quotas under concurrency. Every scenario ends
//! with the invariant checker.

use meridian_control::driver::simulated::{SimFaults, SimTiming, SimulatedDriver};
use meridian_control::testing::{TestDb, as_user};
use meridian_control::{Actor, Control, Error, OpContext};
use meridian_core::Signup;
use meridian_core::job::{JobKind, JobState};
use meridian_core::resource::{VmCreate, VmCreateForm};
use std::sync::Arc;

struct World {
    db: TestDb,
    control: Control,
    driver: Arc<SimulatedDriver>,
    ctx: OpContext,
}

async fn world() -> World {
    let db = TestDb::fresh().await;
    let driver = Arc::new(SimulatedDriver::new(SimTiming::instant(), 7));
    let control = Control::new(db.store.clone(), driver.clone()).await.unwrap();
    let signup = Signup::parse(
        "Acme",
        &format!("ops-{}@acme.io", uuid::Uuid::new_v4()),
        "a long enough secret",
    )
    .unwrap();
    let account = control
        .account_signup(&OpContext::anonymous("t"), signup)
        .await
        .unwrap();
    World {
        db,
        control,
        driver,
        ctx: as_user(&account),
    }
}

fn vm(name: &str, zone: &str, size: &str, breakout: bool) -> VmCreate {
    VmCreate::parse(&VmCreateForm {
        name: name.into(),
        zone: zone.into(),
        template: "ubuntu-24-04".into(),
        size: size.into(),
        breakout: if breakout { "on".into() } else { String::new() },
        ..VmCreateForm::default()
    })
    .unwrap()
}

/// `actor` acting, with nothing else known of the request.
fn acting(actor: Actor, request_id: &str) -> OpContext {
    OpContext {
        actor,
        request_id: request_id.into(),
        client: None,
        via: None,
    }
}

/// The same user as `ctx`, as a viewer of their tenant.
fn as_viewer(ctx: &OpContext) -> OpContext {
    match &ctx.actor {
        Actor::User {
            user_id, tenant_id, ..
        } => acting(
            Actor::User {
                user_id: *user_id,
                tenant_id: *tenant_id,
                role: meridian_core::Role::Viewer,
            },
            "v",
        ),
        Actor::Anonymous | Actor::Staff { .. } => unreachable!(),
    }
}

impl World {
    /// The signed-in user's tenant, as the store names it.
    fn tenant_id(&self) -> String {
        match self.ctx.actor {
            Actor::User { tenant_id, .. } => tenant_id.to_string(),
            Actor::Anonymous | Actor::Staff { .. } => unreachable!(),
        }
    }

    async fn vdc(&self, zone: &str) -> String {
        self.control
            .vdc_create(&self.ctx, &format!("vdc-{zone}"), zone)
            .await
            .unwrap()
            .id
            .to_string()
    }

    /// A VM created in a new VDC of `zone` and built: its id.
    async fn vm_built(&self, name: &str, zone: &str, breakout: bool) -> String {
        let vdc = self.vdc(zone).await;
        let started = self
            .control
            .vm_create(&self.ctx, vdc.parse().unwrap(), vm(name, zone, "s", breakout))
            .await
            .unwrap();
        self.drain().await;
        started.vm_id.to_string()
    }

    /// The names of the tenant's VMs (not destroyed), in name order.
    async fn vm_names(&self) -> Vec<String> {
        let vms = self.control.vm_list(&self.ctx).await.unwrap();
        vms.into_iter().map(|v| v.name).collect()
    }

    async fn drain(&self) {
        self.control.job_drain("test-worker").await.unwrap();
    }

    async fn assert_invariants(&self) {
        let broken = self.control.invariants_check(true).await.unwrap();
        assert!(broken.is_empty(), "invariants broken:\n{}", broken.join("\n"));
        // The simulated hardware agrees with the records: only running VMs are powered.
        for vm in self.db.store.vm_list_all().await.unwrap() {
            let hardware = self.driver.vm_state(vm.id.parse().unwrap());
            let running = vm.state == "running";
            assert_eq!(
                hardware.powered, running,
                "{} is {} but powered={}",
                vm.name, vm.state, hardware.powered
            );
            // A stopped VM keeps its disk, its port on the private network and its public address.
            let exists = matches!(vm.state.as_str(), "running" | "stopped");
            assert_eq!(hardware.disk, exists, "{} disk", vm.name);
            assert_eq!(hardware.network, exists, "{} network", vm.name);
            assert_eq!(hardware.breakout, exists && vm.breakout, "{} breakout", vm.name);
        }
    }

    async fn job_state(&self, job: uuid::Uuid) -> (JobState, Option<String>, Option<String>) {
        let tenant = self.tenant_id();
        let job = self.db.store.job_get(&tenant, job).await.unwrap().unwrap();
        (job.position.state, job.failed_step, job.error)
    }
}

#[tokio::test]
async fn a_vm_is_created_runs_with_a_private_ip_and_is_destroyed_without_leftovers() {
    let w = world().await;
    let vdc = w.vdc("hkg1").await;
    let started = w
        .control
        .vm_create(&w.ctx, vdc.parse().unwrap(), vm("web-1", "hkg1", "s", true))
        .await
        .unwrap();
    w.drain().await;
    assert_eq!(w.job_state(started.job_id).await.0, JobState::Succeeded);
    let row = w
        .control
        .vm_view(&w.ctx, started.vm_id.to_string().parse().unwrap())
        .await
        .unwrap();
    assert_eq!(row.state, "running");
    assert!(row.private_ip.as_deref().unwrap().starts_with("10.0."), "{row:?}");
    assert!(
        row.public_ip.as_deref().unwrap().starts_with("198.18."),
        "simulated public pool: {row:?}"
    );
    assert!(
        w.control
            .vm_console(&w.ctx, row.id)
            .await
            .unwrap()
            .iter()
            .any(|l| l.contains("login:"))
    );
    w.assert_invariants().await;

    let events = w.db.store.job_events(started.job_id, 0).await.unwrap();
    let steps: Vec<&str> = events
        .iter()
        .filter(|e| e.status == "done")
        .map(|e| e.step.as_str())
        .collect();
    assert_eq!(
        steps.len(),
        JobKind::VmCreate.steps().len(),
        "every step reported progress: {steps:?}"
    );

    let stop = w.control.vm_stop(&w.ctx, row.id).await.unwrap();
    w.drain().await;
    assert_eq!(w.job_state(stop.job_id).await.0, JobState::Succeeded);
    assert_eq!(w.control.vm_view(&w.ctx, row.id).await.unwrap().state, "stopped");
    w.assert_invariants().await;
    w.control.vm_start(&w.ctx, row.id).await.unwrap();
    w.drain().await;
    w.control.vm_reboot(&w.ctx, row.id).await.unwrap();
    w.drain().await;
    assert_eq!(w.control.vm_view(&w.ctx, row.id).await.unwrap().state, "running");

    w.control.vm_destroy(&w.ctx, row.id).await.unwrap();
    w.drain().await;
    assert_eq!(
        w.control.vm_view(&w.ctx, row.id).await.unwrap().state,
        "destroyed"
    );
    assert!(w.control.vm_list(&w.ctx).await.unwrap().is_empty());
    w.assert_invariants().await;
    assert!(
        w.driver.vm_states().is_empty(),
        "the hardware holds nothing for a destroyed VM"
    );
}

#[tokio::test]
async fn addresses_are_unique_and_subnets_are_per_zone() {
    let w = world().await;
    let lon = w.vdc("lon1").await;
    let fra = w.vdc("fra1").await;
    for n in 0..4 {
        w.control
            .vm_create(
                &w.ctx,
                lon.parse().unwrap(),
                vm(&format!("l{n}"), "lon1", "xs", false),
            )
            .await
            .unwrap();
        w.control
            .vm_create(
                &w.ctx,
                fra.parse().unwrap(),
                vm(&format!("f{n}"), "fra1", "xs", false),
            )
            .await
            .unwrap();
    }
    w.drain().await;
    let vms = w.control.vm_list(&w.ctx).await.unwrap();
    let mut ips: Vec<String> = vms.iter().map(|v| v.private_ip.clone().unwrap()).collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 8);
    let prefixes: std::collections::BTreeSet<String> = ips
        .iter()
        .map(|ip| ip.rsplit_once('.').unwrap().0.to_owned())
        .collect();
    assert_eq!(prefixes.len(), 2, "one subnet per zone: {ips:?}");
    w.assert_invariants().await;
}

#[tokio::test]
async fn a_failure_at_every_step_of_every_job_unwinds_cleanly_and_names_the_step() {
    for kind in JobKind::ALL {
        for &step in kind.steps() {
            let w = world().await;
            let vdc = w.vdc("fra1").await;
            if (kind, step) == (JobKind::VmCreate, meridian_core::job::Step::ReserveQuota) {
                // This step runs inside the create call itself: a failure refuses the create.
                w.driver.set_faults(SimFaults {
                    fail_step: Some(step),
                    fail_times: None,
                    probability: 0.0,
                    ..SimFaults::default()
                });
                let refused = w
                    .control
                    .vm_create(&w.ctx, vdc.parse().unwrap(), vm("db-1", "fra1", "m", true))
                    .await
                    .unwrap_err();
                assert!(refused.to_string().contains("Simulated failure"), "{refused}");
                assert!(w.control.vm_list(&w.ctx).await.unwrap().is_empty());
                w.assert_invariants().await;
                continue;
            }
            // Opening breakout needs a VM without it; everything else runs on one with it.
            let breakout = kind != JobKind::VmBreakoutOpen;
            let created = w
                .control
                .vm_create(&w.ctx, vdc.parse().unwrap(), vm("db-1", "fra1", "m", breakout))
                .await
                .unwrap();
            let id = created.vm_id.to_string();
            if kind != JobKind::VmCreate {
                w.drain().await;
            }
            if matches!(kind, JobKind::VmStart | JobKind::VmResize) {
                w.control.vm_stop(&w.ctx, id.parse().unwrap()).await.unwrap();
                w.drain().await;
            }
            let before_vm = w.control.vm_view(&w.ctx, id.parse().unwrap()).await.unwrap();
            let before = before_vm.state.clone();
            w.driver.set_faults(SimFaults {
                fail_step: Some(step),
                fail_times: None,
                probability: 0.0,
                ..SimFaults::default()
            });
            let job = match kind {
                JobKind::VmCreate => created.job_id,
                JobKind::VmStop => {
                    w.control
                        .vm_stop(&w.ctx, id.parse().unwrap())
                        .await
                        .unwrap()
                        .job_id
                }
                JobKind::VmStart => {
                    w.control
                        .vm_start(&w.ctx, id.parse().unwrap())
                        .await
                        .unwrap()
                        .job_id
                }
                JobKind::VmReboot => {
                    w.control
                        .vm_reboot(&w.ctx, id.parse().unwrap())
                        .await
                        .unwrap()
                        .job_id
                }
                JobKind::VmDestroy => {
                    w.control
                        .vm_destroy(&w.ctx, id.parse().unwrap())
                        .await
                        .unwrap()
                        .job_id
                }
                JobKind::VmResize => {
                    w.control
                        .vm_resize(&w.ctx, id.parse().unwrap(), "l")
                        .await
                        .unwrap()
                        .job_id
                }
                JobKind::VmBreakoutOpen => {
                    w.control
                        .vm_breakout_open(&w.ctx, id.parse().unwrap())
                        .await
                        .unwrap()
                        .job_id
                }
                JobKind::VmBreakoutClose => {
                    w.control
                        .vm_breakout_close(&w.ctx, id.parse().unwrap())
                        .await
                        .unwrap()
                        .job_id
                }
            };
            w.drain().await;
            let (state, failed_step, error) = w.job_state(job).await;
            assert_eq!(state, JobState::Failed, "{kind:?} failing at {step}");
            let disk_gone = JobKind::VmDestroy
                .steps()
                .iter()
                .position(|s| *s == meridian_core::job::Step::DeleteDisk)
                .is_some_and(|disk| kind == JobKind::VmDestroy && kind.steps()[disk + 1..].contains(&step));
            if disk_gone {
                // Past deleting the disk a destroy is not undone (that would boot a blank VM): it
                // is tried again until it gives up, leaving the VM failed; destroying it again
                // finishes the teardown.
                assert_eq!(failed_step.as_deref(), Some(step.as_str()), "{kind:?} at {step}");
                assert!(error.unwrap().contains("Stopped after"), "{kind:?} at {step}");
                assert_eq!(
                    w.control
                        .vm_view(&w.ctx, id.parse().unwrap())
                        .await
                        .unwrap()
                        .state,
                    "failed"
                );
                w.driver.set_faults(SimFaults::default());
                w.control.vm_destroy(&w.ctx, id.parse().unwrap()).await.unwrap();
                w.drain().await;
                w.assert_invariants().await;
                continue;
            }
            assert_eq!(
                failed_step.as_deref(),
                Some(step.as_str()),
                "{kind:?} names the failed step"
            );
            assert!(error.unwrap().contains("Simulated failure"));
            let after = w
                .control
                .vm_view(&w.ctx, id.parse().unwrap())
                .await
                .unwrap()
                .state;
            let expected = if kind == JobKind::VmCreate {
                "failed".to_owned()
            } else {
                before
            };
            assert_eq!(
                after, expected,
                "{kind:?} failing at {step} leaves the VM as it was"
            );
            if kind != JobKind::VmCreate {
                let after_vm = w.control.vm_view(&w.ctx, id.parse().unwrap()).await.unwrap();
                assert_eq!(
                    (after_vm.breakout, after_vm.public_ip.is_some()),
                    (before_vm.breakout, before_vm.public_ip.is_some()),
                    "{kind:?} failing at {step} leaves the VM's breakout as it was"
                );
            }
            w.driver.set_faults(SimFaults::default());
            w.assert_invariants().await;
        }
    }
}

/// Snapshot of everything a step can change, to compare a step run once with a step run twice.
async fn snapshot(w: &World) -> String {
    let vms = w.db.store.vm_list_all().await.unwrap();
    let hosts: Vec<_> =
        w.db.store
            .host_list()
            .await
            .unwrap()
            .into_iter()
            .filter(|h| h.vcpus_used > 0)
            .collect();
    let quotas = w.db.store.quota_list().await.unwrap();
    let hardware: std::collections::BTreeMap<_, _> = w.driver.vm_states().into_iter().collect();
    let vms: Vec<_> = vms
        .into_iter()
        .map(|mut v| {
            v.updated_at = 0;
            v
        })
        .collect();
    format!("{vms:?}\n{hosts:?}\n{quotas:?}\n{hardware:?}")
}

async fn rewind(w: &World, job: uuid::Uuid, delta: i64) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&w.db.url).await.unwrap();
    sqlx::query("UPDATE jobs SET step = step + $1 WHERE id = $2")
        .bind(delta)
        .bind(job.to_string())
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

#[tokio::test]
async fn every_step_and_every_undo_run_twice_give_the_same_result() {
    let w = world().await;
    let vdc = w.vdc("ams1").await;
    // Forward: create, with every step replayed as if the worker died right after it.
    let created = w
        .control
        .vm_create(&w.ctx, vdc.parse().unwrap(), vm("app-1", "ams1", "s", true))
        .await
        .unwrap();
    let id = created.vm_id.to_string();
    // The first step (quota) ran inside the create call; the rest run in the job.
    for _ in 1..JobKind::VmCreate.steps().len() {
        w.control.job_step_one("replayer").await.unwrap();
        let once = snapshot(&w).await;
        rewind(&w, created.job_id, -1).await;
        w.control.job_step_one("replayer").await.unwrap();
        assert_eq!(snapshot(&w).await, once);
    }
    w.control.job_drain("replayer").await.unwrap();
    assert_eq!(
        w.control
            .vm_view(&w.ctx, id.parse().unwrap())
            .await
            .unwrap()
            .state,
        "running"
    );

    // Backward: a destroy that fails at its power-off (the last step it may unwind from: past
    // deleting the disk it only goes forward) unwinds; every undo is replayed.
    let fail_at = meridian_core::job::Step::PowerOff;
    w.driver.set_faults(SimFaults {
        fail_step: Some(fail_at),
        fail_times: None,
        probability: 0.0,
        ..SimFaults::default()
    });
    let destroy = w.control.vm_destroy(&w.ctx, id.parse().unwrap()).await.unwrap();
    let done = JobKind::VmDestroy
        .steps()
        .iter()
        .position(|step| *step == fail_at)
        .unwrap();
    for _ in 0..=done {
        w.control.job_step_one("replayer").await.unwrap(); // forward steps, then the failure
    }
    w.driver.set_faults(SimFaults::default());
    for _ in 0..done {
        w.control.job_step_one("replayer").await.unwrap();
        let once = snapshot(&w).await;
        rewind(&w, destroy.job_id, 1).await;
        w.control.job_step_one("replayer").await.unwrap();
        assert_eq!(snapshot(&w).await, once);
    }
    w.control.job_drain("replayer").await.unwrap();
    assert_eq!(w.job_state(destroy.job_id).await.0, JobState::Failed);
    assert_eq!(
        w.control
            .vm_view(&w.ctx, id.parse().unwrap())
            .await
            .unwrap()
            .state,
        "running"
    );
    w.assert_invariants().await;
}

#[tokio::test]
async fn fifty_concurrent_creates_at_the_quota_boundary_create_exactly_the_allowed_number() {
    let w = world().await;
    let vdc = w.vdc("lax1").await;
    // The default quota allows 32 vCPUs: 16 VMs of 2 vCPUs (size s), but only 20 VMs at most.
    let creates = (0..50).map(|n| {
        let control = w.control.clone();
        let ctx = w.ctx.clone();
        let vdc = vdc.clone();
        tokio::spawn(async move {
            control
                .vm_create(
                    &ctx,
                    vdc.parse().unwrap(),
                    vm(&format!("n{n}"), "lax1", "s", false),
                )
                .await
        })
    });
    let results = futures_join(creates).await;
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(accepted, 16);
    for refused in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(
            matches!(refused, Error::Forbidden(m) if m.contains("vCPU")),
            "{refused:?}"
        );
    }
    w.drain().await;
    assert_eq!(w.control.vm_list(&w.ctx).await.unwrap().len(), 16);
    w.assert_invariants().await;
}

async fn futures_join<T>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test]
async fn viewers_and_other_tenants_cannot_touch_a_vm() {
    let w = world().await;
    let vdc = w.vdc("sin1").await;
    let started = w
        .control
        .vm_create(&w.ctx, vdc.parse().unwrap(), vm("s-1", "sin1", "xs", false))
        .await
        .unwrap();
    w.drain().await;
    let id = started.vm_id.to_string();
    let other = world().await;
    let stranger = acting(other.ctx.actor.clone(), "x");
    let other_control = Control::new(w.db.store.clone(), w.driver.clone()).await.unwrap();
    assert!(matches!(
        other_control.vm_view(&stranger, id.parse().unwrap()).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        other_control.vm_destroy(&stranger, id.parse().unwrap()).await,
        Err(Error::NotFound)
    ));
    let viewer = as_viewer(&w.ctx);
    assert!(matches!(
        w.control.vm_stop(&viewer, id.parse().unwrap()).await,
        Err(Error::Forbidden(_))
    ));
    assert!(w.control.vm_view(&viewer, id.parse().unwrap()).await.is_ok());
    assert_eq!(
        w.control
            .vm_view(&w.ctx, id.parse().unwrap())
            .await
            .unwrap()
            .state,
        "running"
    );
}

#[tokio::test]
async fn residency_refuses_a_zone_outside_the_policy_and_creates_nothing() {
    let w = world().await;
    let tenant = w.tenant_id();
    w.db.store.tenant_set_residency(&tenant, "eu").await.unwrap();
    let refused = w.control.vdc_create(&w.ctx, "newyork", "nyc1").await.unwrap_err();
    outside_residency(refused);
    assert!(w.control.vdc_list(&w.ctx).await.unwrap().is_empty());
    assert!(w.control.vdc_create(&w.ctx, "berlin", "ber1").await.is_ok());
}

#[tokio::test]
async fn several_workers_share_the_queue_and_run_each_step_exactly_once() {
    let w = world().await;
    let vdc = w.vdc("chi1").await;
    let mut jobs = Vec::new();
    for n in 0..12 {
        jobs.push(
            w.control
                .vm_create(
                    &w.ctx,
                    vdc.parse().unwrap(),
                    vm(&format!("c{n}"), "chi1", "xs", n % 3 == 0),
                )
                .await
                .unwrap()
                .job_id,
        );
    }
    let workers: Vec<_> = (0..4)
        .map(|n| {
            let control = w.control.clone();
            tokio::spawn(async move { control.job_drain(&format!("worker-{n}")).await.unwrap() })
        })
        .collect();
    let mut ran = 0;
    for worker in workers {
        ran += worker.await.unwrap();
    }
    assert_eq!(
        ran, 12,
        "each job is claimed once (no worker died, so no lease ran out)"
    );
    for job in jobs {
        let events = w.db.store.job_events(job, 0).await.unwrap();
        let mut done: Vec<&str> = events
            .iter()
            .filter(|e| e.status == "done")
            .map(|e| e.step.as_str())
            .collect();
        let all = done.len();
        done.sort_unstable();
        done.dedup();
        assert_eq!(done.len(), all, "a step ran twice in job {job}: {events:?}");
        assert_eq!(
            all,
            JobKind::VmCreate.steps().len(),
            "every step done once in job {job}: {events:?}"
        );
        assert_eq!(events.iter().filter(|e| e.status == "started").count(), 1);
    }
    w.assert_invariants().await;
}

#[tokio::test]
async fn every_mutation_and_every_refusal_is_in_the_audit_log() {
    let mut w = world().await;
    w.ctx.client = Some("203.0.113.9".into());
    let vdc = w.vdc("par1").await;
    let started = w
        .control
        .vm_create(&w.ctx, vdc.parse().unwrap(), vm("audit-1", "par1", "xs", false))
        .await
        .unwrap();
    w.drain().await;
    let id = started.vm_id.to_string();
    w.control.vm_stop(&w.ctx, id.parse().unwrap()).await.unwrap();
    w.drain().await;
    assert!(
        w.control.vm_stop(&w.ctx, id.parse().unwrap()).await.is_err(),
        "already stopped"
    );
    assert!(
        w.control
            .vm_destroy_confirmed(&w.ctx, id.parse().unwrap(), "wrong-name")
            .await
            .is_err()
    );
    let log = w.control.audit_list(&w.ctx, 50).await.unwrap();
    let actions: Vec<(&str, &str)> = log
        .iter()
        .rev()
        .map(|e| (e.action.as_str(), e.result.as_str()))
        .collect();
    assert_eq!(actions[0], ("account.signup", "ok"));
    assert_eq!(actions[1], ("vdc.create", "ok"));
    assert_eq!(actions[2], ("vm.create", "ok"));
    assert_eq!(actions[3], ("vm.stop", "ok"));
    assert_eq!(actions[4].0, "vm.stop");
    assert!(actions[4].1.starts_with("forbidden: "), "{:?}", actions[4]);
    assert_eq!(actions[5].0, "vm.destroy");
    // What the person was told, without the form's internal field names.
    assert_eq!(actions[5].1, "invalid_input: Type audit-1 to confirm.");
    // Targets name the VM, not its id.
    let targets: Vec<&str> = log.iter().rev().map(|e| e.target.as_str()).collect();
    assert_eq!(targets[3..6], ["audit-1", "audit-1", "audit-1"], "{targets:?}");
    assert!(!log.iter().any(|e| e.target.contains(&id)), "{log:?}");
    let entry = &log[0];
    assert!(entry.actor.ends_with("@acme.io"), "who: {}", entry.actor);
    assert_eq!(entry.client, "203.0.113.9", "from where");
    assert!(entry.at > 0, "when");
}

#[tokio::test]
async fn a_stopped_vm_is_resized_and_its_host_and_quota_follow() {
    let w = world().await;
    let vdc = w.vdc("mil1").await;
    let id = w
        .control
        .vm_create(&w.ctx, vdc.parse().unwrap(), vm("grow-1", "mil1", "s", false))
        .await
        .unwrap()
        .vm_id
        .to_string();
    w.drain().await;
    let refused = w
        .control
        .vm_resize(&w.ctx, id.parse().unwrap(), "m")
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, Error::Forbidden(m) if m.contains("Stop the VM")),
        "{refused:?}"
    );
    w.control.vm_stop(&w.ctx, id.parse().unwrap()).await.unwrap();
    w.drain().await;
    let Error::Invalid(fields) = w
        .control
        .vm_resize(&w.ctx, id.parse().unwrap(), "xs")
        .await
        .unwrap_err()
    else {
        panic!()
    };
    assert!(fields.get("size").is_some(), "disks never shrink");

    w.control
        .vm_resize(&w.ctx, id.parse().unwrap(), "m")
        .await
        .unwrap();
    w.drain().await;
    let row = w.control.vm_view(&w.ctx, id.parse().unwrap()).await.unwrap();
    assert_eq!((row.vcpus, row.memory_mib, row.disk_gib), (4, 16 * 1024, 100));
    assert_eq!(row.state, "stopped");
    w.assert_invariants().await;
    let (_, usage) = w.control.quota_view(&w.ctx).await.unwrap();
    assert_eq!(usage.vcpus, 4);
    w.control.vm_start(&w.ctx, id.parse().unwrap()).await.unwrap();
    w.drain().await;
    assert_eq!(
        w.control
            .vm_view(&w.ctx, id.parse().unwrap())
            .await
            .unwrap()
            .state,
        "running"
    );
    w.assert_invariants().await;
}

#[tokio::test]
async fn breakout_opens_and_closes_on_an_existing_vm_with_its_address_and_quota() {
    let w = world().await;
    let vdc = w.vdc("lon1").await;
    let id = w
        .control
        .vm_create(&w.ctx, vdc.parse().unwrap(), vm("web-1", "lon1", "s", false))
        .await
        .unwrap()
        .vm_id
        .to_string();
    let early = w
        .control
        .vm_breakout_open(&w.ctx, id.parse().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(&early, Error::Forbidden(m) if m.contains("provisioning")),
        "{early:?}"
    );
    w.drain().await;
    let closed = w
        .control
        .vm_breakout_close(&w.ctx, id.parse().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(&closed, Error::Forbidden(m) if m.contains("no internet breakout")),
        "{closed:?}"
    );

    w.control
        .vm_breakout_open(&w.ctx, id.parse().unwrap())
        .await
        .unwrap();
    let during = w
        .control
        .vm_breakout_open(&w.ctx, id.parse().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(&during, Error::Busy { .. }), "{during:?}");
    w.drain().await;
    let twice = w
        .control
        .vm_breakout_open(&w.ctx, id.parse().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(&twice, Error::Forbidden(m) if m.contains("already has")),
        "{twice:?}"
    );
    let open = w.control.vm_view(&w.ctx, id.parse().unwrap()).await.unwrap();
    assert!(open.breakout && open.public_ip.is_some(), "{open:?}");
    assert_eq!(open.state, "running");
    assert_eq!(w.control.quota_view(&w.ctx).await.unwrap().1.public_ips, 1);
    w.assert_invariants().await;

    // A stopped VM closes too; the address goes back and the quota with it.
    w.control.vm_stop(&w.ctx, id.parse().unwrap()).await.unwrap();
    w.drain().await;
    w.control
        .vm_breakout_close(&w.ctx, id.parse().unwrap())
        .await
        .unwrap();
    w.drain().await;
    let closed = w.control.vm_view(&w.ctx, id.parse().unwrap()).await.unwrap();
    assert!(!closed.breakout && closed.public_ip.is_none(), "{closed:?}");
    assert_eq!(closed.state, "stopped");
    assert_eq!(w.control.quota_view(&w.ctx).await.unwrap().1.public_ips, 0);
    w.assert_invariants().await;

    // The residency policy as it is now decides: a VM left outside it gets no new breakout.
    let tenant = w.tenant_id();
    w.db.store
        .tenant_set_residency(&tenant, "countries:DE")
        .await
        .unwrap();
    let outside = w
        .control
        .vm_breakout_open(&w.ctx, id.parse().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(&outside, Error::Forbidden(m) if m.contains("residency")),
        "{outside:?}"
    );
    assert!(
        !w.control
            .vm_view(&w.ctx, id.parse().unwrap())
            .await
            .unwrap()
            .breakout
    );
    let audit = w.control.audit_list(&w.ctx, 50).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "vm.open_breakout" && e.result == "ok"),
        "{audit:?}"
    );
}

#[tokio::test]
async fn a_breakout_that_fails_half_way_gives_its_address_back_when_it_unwinds() {
    let w = world().await;
    let vdc = w.vdc("par1").await;
    let id = w
        .control
        .vm_create(&w.ctx, vdc.parse().unwrap(), vm("edge-1", "par1", "s", false))
        .await
        .unwrap()
        .vm_id
        .to_string();
    w.drain().await;
    // The address is taken, then the attach itself fails: the job must not keep the address.
    w.driver.set_breakout_attach_fails(true);
    let job = w
        .control
        .vm_breakout_open(&w.ctx, id.parse().unwrap())
        .await
        .unwrap()
        .job_id;
    w.drain().await;
    let (state, failed_step, _) = w.job_state(job).await;
    assert_eq!(
        (state, failed_step.as_deref()),
        (JobState::Failed, Some("breakout"))
    );
    let after = w.control.vm_view(&w.ctx, id.parse().unwrap()).await.unwrap();
    assert!(!after.breakout && after.public_ip.is_none(), "{after:?}");
    assert_eq!(w.control.quota_view(&w.ctx).await.unwrap().1.public_ips, 0);
    w.assert_invariants().await;
    // A create whose breakout fails unwinds whole, address included.
    let created = w
        .control
        .vm_create(&w.ctx, vdc.parse().unwrap(), vm("edge-2", "par1", "s", true))
        .await
        .unwrap();
    w.drain().await;
    assert_eq!(w.job_state(created.job_id).await.0, JobState::Failed);
    let failed = w
        .control
        .vm_view(&w.ctx, created.vm_id.to_string().parse().unwrap())
        .await
        .unwrap();
    assert!(failed.public_ip.is_none(), "{failed:?}");
    w.assert_invariants().await;
    // Once the attach works again, so does opening breakout.
    w.driver.set_breakout_attach_fails(false);
    w.control
        .vm_breakout_open(&w.ctx, id.parse().unwrap())
        .await
        .unwrap();
    w.drain().await;
    assert!(
        w.control
            .vm_view(&w.ctx, id.parse().unwrap())
            .await
            .unwrap()
            .public_ip
            .is_some()
    );
    w.assert_invariants().await;
}

/// Steps of 300 ms against a 100 ms job lease, and one tenant.
async fn slow_world(tenant: &str, email: &str) -> (TestDb, Arc<SimulatedDriver>, Control, OpContext) {
    let db = TestDb::fresh().await;
    let driver = Arc::new(SimulatedDriver::new(
        SimTiming::uniform(std::time::Duration::from_millis(300)),
        5,
    ));
    let control = Control::new(db.store.clone(), driver.clone())
        .await
        .unwrap()
        .with_job_lease_ms(100);
    let signup = Signup::parse(tenant, email, "a long enough secret").unwrap();
    let ctx = as_user(
        &control
            .account_signup(&OpContext::anonymous("t"), signup)
            .await
            .unwrap(),
    );
    (db, driver, control, ctx)
}

#[tokio::test]
async fn steps_longer_than_the_lease_keep_it_and_run_once() {
    // Steps of 300 ms against a 100 ms lease, two workers: without renewal during a step, each
    // worker would steal the job from the other forever.
    let (db, driver, control, ctx) = slow_world("Slow Co", "ops@slow.example").await;
    let vdc = control.vdc_create(&ctx, "slow", "gva1").await.unwrap().id;
    let job = control
        .vm_create(&ctx, vdc, vm("slow-1", "gva1", "xs", false))
        .await
        .unwrap()
        .job_id;
    let workers: Vec<_> = (0..2)
        .map(|n| {
            let control = control.clone();
            tokio::spawn(async move {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
                while std::time::Instant::now() < deadline {
                    if !control.job_run_one(&format!("slow-{n}")).await.unwrap() {
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        if control.store().job_list_live().await.unwrap().is_empty() {
                            return;
                        }
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let tenant = match ctx.actor {
        Actor::User { tenant_id, .. } => tenant_id.to_string(),
        Actor::Anonymous | Actor::Staff { .. } => unreachable!(),
    };
    assert_eq!(
        db.store
            .job_get(&tenant, job)
            .await
            .unwrap()
            .unwrap()
            .position
            .state,
        JobState::Succeeded
    );
    let events = db.store.job_events(job, 0).await.unwrap();
    assert_eq!(
        events.iter().filter(|e| e.status == "done").count(),
        JobKind::VmCreate.steps().len()
    );
    // Create disk, boot, attach to the network: each carried out once, none redone by a thief.
    assert_eq!(driver.operations(), 3);
}

#[tokio::test]
async fn a_batch_of_creates_runs_as_one_cohort_with_distinct_hosts_for_its_anti_affinity_group() {
    let w = world().await;
    let mut creates = Vec::new();
    for zone in ["lon1", "fra1", "sin1"] {
        let vdc = w.vdc(zone).await;
        for n in 0..5 {
            let mut create = vm(&format!("{zone}-{n}"), zone, "xs", n == 0);
            if zone == "fra1" {
                create.anti_affinity_group = Some(meridian_core::resource::Name::parse("db").unwrap());
            }
            creates.push((vdc.parse().unwrap(), create));
        }
    }
    let started = w.control.vm_create_many(&w.ctx, creates).await.unwrap();
    assert_eq!(started.len(), 15);
    w.drain().await;
    for s in &started {
        assert_eq!(w.job_state(s.job_id).await.0, JobState::Succeeded);
        let events = w.db.store.job_events(s.job_id, 0).await.unwrap();
        let done = events.iter().filter(|e| e.status == "done").count();
        assert_eq!(
            done,
            JobKind::VmCreate.steps().len(),
            "every step once: {events:?}"
        );
    }
    let vms = w.control.vm_list(&w.ctx).await.unwrap();
    assert!(vms.iter().all(|v| v.state == "running"), "{vms:?}");
    let mut ips: Vec<_> = vms.iter().map(|v| v.private_ip.clone().unwrap()).collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 15, "one address each");
    let mut db_hosts = Vec::new();
    for v in vms.iter().filter(|v| v.zone == "fra1") {
        db_hosts.push(
            meridian_control::testing::vm_row(&w.control, v.id)
                .await
                .host_id
                .unwrap(),
        );
    }
    db_hosts.sort();
    db_hosts.dedup();
    assert_eq!(db_hosts.len(), 5, "anti-affinity: five hosts for five members");
    assert_eq!(vms.iter().filter(|v| v.public_ip.is_some()).count(), 3);
    w.assert_invariants().await;
}

#[tokio::test]
async fn members_of_a_cohort_failing_at_any_step_unwind_alone_and_the_rest_run() {
    for &step in JobKind::VmCreate.steps().iter().skip(1) {
        let w = world().await;
        let vdc = w.vdc("ams1").await;
        let creates = (0..6)
            .map(|n| {
                (
                    vdc.parse().unwrap(),
                    vm(&format!("m{n}"), "ams1", "xs", n % 2 == 0),
                )
            })
            .collect();
        let started = w.control.vm_create_many(&w.ctx, creates).await.unwrap();
        // The first two members to reach the step fail there; the other four go on.
        w.driver.set_faults(SimFaults {
            fail_step: Some(step),
            fail_times: Some(2),
            probability: 0.0,
            ..SimFaults::default()
        });
        w.drain().await;
        let mut failed = 0;
        for s in &started {
            let (state, failed_step, _) = w.job_state(s.job_id).await;
            let vm = w
                .control
                .vm_view(&w.ctx, s.vm_id.to_string().parse().unwrap())
                .await
                .unwrap();
            match state {
                JobState::Succeeded => assert_eq!(vm.state, "running", "at {step}"),
                JobState::Failed => {
                    failed += 1;
                    assert_eq!(failed_step.as_deref(), Some(step.as_str()));
                    assert_eq!(vm.state, "failed");
                    let row = meridian_control::testing::vm_row(&w.control, vm.id).await;
                    assert!(row.host_id.is_none() && vm.private_ip.is_none() && vm.public_ip.is_none());
                }
                other => panic!("job left {other:?} at {step}"),
            }
        }
        assert_eq!(failed, 2, "failing at {step}");
        w.driver.set_faults(SimFaults::default());
        w.assert_invariants().await;
    }
}

#[tokio::test]
async fn a_batch_create_is_all_or_nothing() {
    let w = world().await;
    let vdc = w.vdc("par1").await;
    // The default quota allows 20 VMs: a batch of 21 is refused whole.
    let too_many = (0..21)
        .map(|n| (vdc.parse().unwrap(), vm(&format!("q{n}"), "par1", "xs", false)))
        .collect();
    let refused = w.control.vm_create_many(&w.ctx, too_many).await.unwrap_err();
    assert!(
        matches!(&refused, Error::Forbidden(m) if m.contains("VM")),
        "{refused:?}"
    );
    // Two VMs of one request with one name: a field error naming the VM.
    let twins = vec![
        (vdc.parse().unwrap(), vm("twin", "par1", "xs", false)),
        (vdc.parse().unwrap(), vm("twin", "par1", "xs", false)),
    ];
    let Error::Invalid(errors) = w.control.vm_create_many(&w.ctx, twins).await.unwrap_err() else {
        panic!("expected a field error");
    };
    assert!(
        errors.get("vms.1.name").is_some_and(|m| m.starts_with("twin:")),
        "{errors:?}"
    );
    // A name the tenant already uses: refused, and the batch's other VM is not created either.
    w.control
        .vm_create(&w.ctx, vdc.parse().unwrap(), vm("taken", "par1", "xs", false))
        .await
        .unwrap();
    let clash = vec![
        (vdc.parse().unwrap(), vm("fresh", "par1", "xs", false)),
        (vdc.parse().unwrap(), vm("taken", "par1", "xs", false)),
    ];
    let refused = w.control.vm_create_many(&w.ctx, clash).await.unwrap_err();
    assert!(matches!(refused, Error::Conflict { .. }), "{refused:?}");
    assert_eq!(w.vm_names().await, ["taken"]);
    let (_, usage) = w.control.quota_view(&w.ctx).await.unwrap();
    assert_eq!(usage.vms, 1, "only the one accepted VM holds quota");
    w.drain().await;
    w.assert_invariants().await;
}

#[tokio::test]
async fn workers_keep_cohort_leases_and_take_new_jobs_while_a_cohort_is_mid_way() {
    // Steps of 300 ms against a 100 ms lease, two workers: a cohort must renew its members'
    // leases while the driver works, or the other worker would take them and run steps twice.
    let (db, driver, control, ctx) = slow_world("Busy Co", "ops@busy.example").await;
    let vdc = control.vdc_create(&ctx, "busy", "zrh1").await.unwrap().id;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers: Vec<_> = (0..2)
        .map(|n| {
            let control = control.clone();
            let stopped = stopped.clone();
            tokio::spawn(async move { control.worker_run(format!("w{n}"), stopped).await })
        })
        .collect();
    let batch = (0..3)
        .map(|n| (vdc, vm(&format!("b{n}"), "zrh1", "xs", false)))
        .collect();
    let cohort = control.vm_create_many(&ctx, batch).await.unwrap();
    // Wait until the cohort is working, then ask for one more VM.
    while db.store.job_events(cohort[0].job_id, 0).await.unwrap().len() < 3 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let late = control
        .vm_create(&ctx, vdc, vm("late", "zrh1", "xs", false))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !control.store().job_list_live().await.unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "jobs never finished");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stop.send(true).unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    let vms = control.vm_list(&ctx).await.unwrap();
    assert!(vms.iter().all(|v| v.state == "running"), "{vms:?}");
    assert_eq!(
        driver.operations(),
        4 * 3,
        "disk, boot and network once per VM: no step ran twice"
    );
    let started = |events: &[meridian_control::store::job::JobEvent], status: &str| {
        events.iter().find(|e| e.status == status).map(|e| e.at).unwrap()
    };
    let late_events = db.store.job_events(late.job_id, 0).await.unwrap();
    let cohort_events = db.store.job_events(cohort[0].job_id, 0).await.unwrap();
    assert!(
        started(&late_events, "started") < started(&cohort_events, "succeeded"),
        "the late VM started while the cohort was still working"
    );
}

#[tokio::test]
async fn a_group_member_created_later_avoids_the_hosts_of_earlier_members() {
    let w = world().await;
    let tenant = w.tenant_id();
    let big = meridian_core::resource::Quota {
        max_vms: 100,
        max_vcpus: 1_000,
        max_memory_mib: 1 << 30,
        max_public_ips: 5,
    };
    w.db.store.quota_set_limits(&tenant, &big).await.unwrap();
    let vdc = w.vdc("mil1").await;
    let member = |name: &str| {
        let mut create = vm(name, "mil1", "xs", false);
        create.anti_affinity_group = Some(meridian_core::resource::Name::parse("db").unwrap());
        create
    };
    let first = w
        .control
        .vm_create(&w.ctx, vdc.parse().unwrap(), member("db-1"))
        .await
        .unwrap();
    w.drain().await;
    // Milan has ten hosts: fill the nine others so the first member's host is the least loaded.
    for n in 0..9 {
        w.control
            .vm_create(
                &w.ctx,
                vdc.parse().unwrap(),
                vm(&format!("big-{n}"), "mil1", "xl", false),
            )
            .await
            .unwrap();
        w.drain().await;
    }
    let second = w
        .control
        .vm_create(&w.ctx, vdc.parse().unwrap(), member("db-2"))
        .await
        .unwrap();
    w.drain().await;
    let host = |id: uuid::Uuid| {
        let control = w.control.clone();
        async move {
            meridian_control::testing::vm_row(&control, id)
                .await
                .host_id
                .unwrap()
        }
    };
    assert_ne!(
        host(first.vm_id).await,
        host(second.vm_id).await,
        "members of one group never share a host"
    );
    w.assert_invariants().await;
}

#[tokio::test]
async fn two_operations_racing_on_one_vm_start_one_job_and_the_other_names_it() {
    let w = world().await;
    let id = w.vm_built("web-1", "lon1", false).await;
    // Both requests pass "does this VM have a live job?" before either inserts its job (on
    // PostgreSQL; SQLite's single writer lets only one into the check at a time).
    w.control.hooks().hold_before_job_insert(2);
    let (stop, reboot) = tokio::join!(
        w.control.vm_stop(&w.ctx, id.parse().unwrap()),
        w.control.vm_reboot(&w.ctx, id.parse().unwrap())
    );
    let (won, lost) = match (stop, reboot) {
        (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won, lost),
        other => panic!("exactly one operation must start: {other:?}"),
    };
    assert!(
        matches!(lost, Error::Busy { job_id } if job_id == won.job_id),
        "the refusal names the running job: {lost:?}"
    );
    assert_eq!(w.db.store.job_list_live().await.unwrap().len(), 1);
    w.drain().await;
    w.assert_invariants().await;
}

/// Runs the queue to its end, or fails the test if it never empties (a job that loops).
async fn drain_or_fail(w: &World) {
    tokio::time::timeout(std::time::Duration::from_secs(60), w.drain())
        .await
        .expect("every job ends: none is retried forever");
}

#[tokio::test]
async fn a_failed_vm_whose_destroy_fails_half_way_is_put_back_as_it_was_and_the_job_ends() {
    let w = world().await;
    let vdc = w.vdc("lon1").await;
    w.driver.set_faults(SimFaults {
        fail_step: Some(meridian_core::job::Step::Boot),
        fail_times: Some(1),
        ..SimFaults::default()
    });
    let id = w
        .control
        .vm_create(&w.ctx, vdc.parse().unwrap(), vm("web-1", "lon1", "s", true))
        .await
        .unwrap()
        .vm_id
        .to_string();
    drain_or_fail(&w).await;
    assert_eq!(
        w.control
            .vm_view(&w.ctx, id.parse().unwrap())
            .await
            .unwrap()
            .state,
        "failed"
    );
    // The destroy gets past detaching the network and releasing breakout, then fails: undoing
    // must not re-attach a VM that has no address, nor hand it a public one.
    w.driver.set_faults(SimFaults {
        fail_step: Some(meridian_core::job::Step::PowerOff),
        fail_times: Some(1),
        ..SimFaults::default()
    });
    let job = w
        .control
        .vm_destroy(&w.ctx, id.parse().unwrap())
        .await
        .unwrap()
        .job_id;
    drain_or_fail(&w).await;
    assert_eq!(w.job_state(job).await.0, JobState::Failed);
    let row = meridian_control::testing::vm_row(&w.control, &id).await;
    assert_eq!(row.state, "failed");
    assert_eq!((row.host_id, row.private_ip, row.public_ip), (None, None, None));
    w.assert_invariants().await;
    // And destroyed again, it goes.
    let job = w
        .control
        .vm_destroy(&w.ctx, id.parse().unwrap())
        .await
        .unwrap()
        .job_id;
    drain_or_fail(&w).await;
    assert_eq!(w.job_state(job).await.0, JobState::Succeeded);
    w.assert_invariants().await;
}

#[tokio::test]
async fn an_undo_that_keeps_failing_ends_the_job_with_the_vm_failed_instead_of_looping() {
    let w = world().await;
    let id = w.vm_built("db-1", "fra1", false).await;
    // The stop powers off, fails to record it, and then cannot power the VM back on, ever.
    w.driver.set_faults(SimFaults {
        fail_step: Some(meridian_core::job::Step::MarkStopped),
        fail_times: Some(1),
        fail_undo_of: Some(meridian_core::job::Step::PowerOff),
        ..SimFaults::default()
    });
    let job = w
        .control
        .vm_stop(&w.ctx, id.parse().unwrap())
        .await
        .unwrap()
        .job_id;
    drain_or_fail(&w).await;
    let (state, failed_step, error) = w.job_state(job).await;
    assert_eq!(state, JobState::Failed);
    assert_eq!(
        failed_step.as_deref(),
        Some("power_off"),
        "names the undo that failed"
    );
    let error = error.unwrap();
    assert!(
        error.contains("Could not undo") && error.contains("Power off"),
        "{error}"
    );
    assert_eq!(
        w.control
            .vm_view(&w.ctx, id.parse().unwrap())
            .await
            .unwrap()
            .state,
        "failed"
    );
    // What staff (or the customer) can do next: destroy it, which releases everything.
    w.driver.set_faults(SimFaults::default());
    w.control.vm_destroy(&w.ctx, id.parse().unwrap()).await.unwrap();
    drain_or_fail(&w).await;
    w.assert_invariants().await;
}

#[tokio::test]
async fn the_same_firewall_rule_twice_is_refused_for_icmp_as_for_tcp() {
    let w = world().await;
    for (protocol, ports) in [("icmp", ""), ("tcp", "443")] {
        w.control
            .firewall_rule_create(&w.ctx, rule("lon1", protocol, ports, ports, "0.0.0.0/0"))
            .await
            .unwrap();
        let again = w
            .control
            .firewall_rule_create(&w.ctx, rule("lon1", protocol, ports, ports, "0.0.0.0/0"))
            .await;
        assert!(
            matches!(again, Err(Error::Conflict { .. })),
            "{protocol}: {again:?}"
        );
    }
    // The same ICMP rule from another source, or in another zone, is another rule.
    for (zone, source) in [("lon1", "192.0.2.0/24"), ("fra1", "0.0.0.0/0")] {
        w.control
            .firewall_rule_create(&w.ctx, rule(zone, "icmp", "", "", source))
            .await
            .unwrap();
    }
    assert_eq!(w.control.firewall_rule_list(&w.ctx).await.unwrap().len(), 4);
}

#[tokio::test]
async fn a_change_and_its_audit_entry_are_written_together_or_not_at_all() {
    let w = world().await;
    let vdc = w.vdc("lon1").await;
    let entries = w.control.audit_list(&w.ctx, 100).await.unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e.action == "vdc.create" && e.result == "ok"),
        "{entries:?}"
    );
    // The audit log can no longer be written (standing in for a crash between the change and
    // its entry): every change must then fail whole, through a transaction (a VDC, a VM) or a
    // single statement (a firewall rule).
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&w.db.url).await.unwrap();
    sqlx::query("ALTER TABLE audit_log RENAME TO audit_log_gone")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert!(w.control.vdc_create(&w.ctx, "vdc-fra1", "fra1").await.is_err());
    assert!(
        w.control
            .vm_create(&w.ctx, vdc.parse().unwrap(), vm("web-1", "lon1", "s", false))
            .await
            .is_err()
    );
    assert!(
        w.control
            .firewall_rule_create(&w.ctx, rule("lon1", "tcp", "22", "22", "0.0.0.0/0"))
            .await
            .is_err()
    );
    assert_eq!(
        w.control.vdc_list(&w.ctx).await.unwrap().len(),
        1,
        "no VDC without its entry"
    );
    assert!(
        w.control.vm_list(&w.ctx).await.unwrap().is_empty(),
        "no VM without its entry"
    );
    assert!(w.control.firewall_rule_list(&w.ctx).await.unwrap().is_empty());
    assert!(
        w.db.store.job_list_live().await.unwrap().is_empty(),
        "no job either"
    );
}

#[tokio::test]
async fn a_refused_huge_name_is_recorded_in_part() {
    let w = world().await;
    let huge = "x".repeat(1_500_000);
    assert!(matches!(
        w.control.vdc_create(&w.ctx, &huge, "lon1").await,
        Err(Error::Invalid(_))
    ));
    let entry = w.control.audit_list(&w.ctx, 1).await.unwrap().remove(0);
    assert_eq!(entry.action, "vdc.create");
    assert!(entry.result.starts_with("invalid_input"), "{}", entry.result);
    assert!(
        entry.target.chars().count() <= 201,
        "kept {} characters",
        entry.target.len()
    );
}

#[tokio::test]
async fn a_refused_delete_is_recorded_once_and_not_as_done() {
    let w = world().await;
    let missing = uuid::Uuid::new_v4().to_string();
    assert!(matches!(
        w.control
            .firewall_rule_delete(&w.ctx, missing.parse().unwrap())
            .await,
        Err(Error::NotFound)
    ));
    let entries: Vec<_> = w
        .control
        .audit_list(&w.ctx, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "firewall.rule_delete")
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].result.starts_with("not_found"), "{entries:?}");
}

#[tokio::test]
async fn a_resize_that_ends_for_good_gives_back_the_room_it_reserved() {
    let w = world().await;
    let id = w.vm_built("db-1", "fra1", false).await;
    w.control.vm_stop(&w.ctx, id.parse().unwrap()).await.unwrap();
    drain_or_fail(&w).await;
    // Room for the larger size is reserved, the disk grown, then recording the new size fails
    // and growing the disk cannot be undone: the job ends with the VM failed.
    w.driver.set_faults(SimFaults {
        fail_step: Some(meridian_core::job::Step::ResizeApply),
        fail_times: Some(1),
        fail_undo_of: Some(meridian_core::job::Step::ResizeDisk),
        ..SimFaults::default()
    });
    let job = w
        .control
        .vm_resize(&w.ctx, id.parse().unwrap(), "l")
        .await
        .unwrap()
        .job_id;
    drain_or_fail(&w).await;
    assert_eq!(w.job_state(job).await.0, JobState::Failed);
    let row = meridian_control::testing::vm_row(&w.control, &id).await;
    assert_eq!((row.state.as_str(), row.pending_size), ("failed", None));
    // Destroyed, it leaves nothing held: not the growth either.
    w.driver.set_faults(SimFaults::default());
    w.control.vm_destroy(&w.ctx, id.parse().unwrap()).await.unwrap();
    drain_or_fail(&w).await;
    w.assert_invariants().await;
    assert_eq!(w.control.quota_view(&w.ctx).await.unwrap().1.vcpus, 0);
}

/// A firewall rule for a zone, parsed as every front door parses one.
fn rule(
    zone: &str,
    protocol: &str,
    from: &str,
    to: &str,
    source: &str,
) -> meridian_core::resource::FirewallRuleCreate {
    meridian_core::resource::FirewallRuleCreate::parse(zone, protocol, from, to, source).unwrap()
}

#[tokio::test]
async fn a_vm_goes_into_any_zone_its_vdc_made_once_there_within_residency() {
    let w = world().await;
    // No VDC anywhere: a zone alone makes its VDC, named for it; the next VM there uses it.
    let (vdc, zone) = w
        .control
        .vm_create_place(&w.ctx, None, Some("sin1"))
        .await
        .unwrap();
    assert_eq!(zone, "sin1");
    let started = w
        .control
        .vm_create(&w.ctx, vdc, vm("edge-1", "sin1", "xs", false))
        .await
        .unwrap();
    w.control.job_drain("t").await.unwrap();
    let (again, _) = w
        .control
        .vm_create_place(&w.ctx, None, Some("sin1"))
        .await
        .unwrap();
    assert_eq!(again, vdc);
    let vdcs = w.control.vdc_list(&w.ctx).await.unwrap();
    assert_eq!(
        vdcs.iter()
            .map(|v| (v.name.as_str(), v.zone.as_str()))
            .collect::<Vec<_>>(),
        [("default-sin1", "sin1")]
    );
    let made = meridian_control::testing::vm_row(&w.control, started.vm_id).await;
    assert_eq!((made.zone.as_str(), made.state.as_str()), ("sin1", "running"));

    // Two at once make one VDC.
    let (a, b) = tokio::join!(
        w.control.vm_create_place(&w.ctx, None, Some("mad1")),
        w.control.vm_create_place(&w.ctx, None, Some("mad1")),
    );
    assert_eq!(a.unwrap().0, b.unwrap().0);
    assert_eq!(w.control.vdc_list(&w.ctx).await.unwrap().len(), 2);

    // A VDC and a zone that disagree, neither, or an unknown zone: refused on the field, nothing made.
    for (vdc_arg, zone_arg, field) in [
        (Some(vdc.to_string()), Some("lon1"), "zone"),
        (None, None, "vdc_id"),
        (None, Some("atlantis"), "zone"),
    ] {
        let refused = w
            .control
            .vm_create_place(&w.ctx, vdc_arg.as_deref(), zone_arg)
            .await
            .unwrap_err();
        let Error::Invalid(fields) = refused else {
            panic!("expected a field error, not {refused:?}")
        };
        assert!(fields.get(field).is_some(), "{fields:?}");
    }

    // Residency rules out a zone here as everywhere: refused, no VDC made.
    let tenant = w.tenant_id();
    w.db.store.tenant_set_residency(&tenant, "eu").await.unwrap();
    let refused = w
        .control
        .vm_create_place(&w.ctx, None, Some("nyc1"))
        .await
        .unwrap_err();
    outside_residency(refused);
    assert_eq!(w.control.vdc_list(&w.ctx).await.unwrap().len(), 2);
}

/// Fails unless `refused` is residency's refusal, on the zone field.
fn outside_residency(refused: Error) {
    let Error::Invalid(fields) = refused else {
        panic!("expected a field error, not {refused:?}")
    };
    assert!(
        fields
            .get("zone")
            .is_some_and(|message| message.contains("outside your residency policy")),
        "{fields:?}"
    );
}

#[tokio::test]
async fn bulk_actions_start_one_job_per_vm_skip_what_cannot_and_refuse_whole_what_is_wrong() {
    let w = world().await;
    let vdc = w.vdc("lon1").await;
    let mut ids = Vec::new();
    for name in ["bulk-a", "bulk-b", "bulk-c"] {
        let started = w
            .control
            .vm_create(&w.ctx, vdc.parse().unwrap(), vm(name, "lon1", "xs", false))
            .await
            .unwrap();
        ids.push(started.vm_id.to_string());
    }
    w.drain().await;
    w.control.vm_stop(&w.ctx, ids[0].parse().unwrap()).await.unwrap();
    w.drain().await;
    let states = || async {
        let mut states = Vec::new();
        for id in &ids {
            states.push(
                w.control
                    .vm_view(&w.ctx, id.parse().unwrap())
                    .await
                    .unwrap()
                    .state,
            );
        }
        states
    };

    // Stop all three: the stopped one is skipped with its reason, the others stop.
    let outcomes = w.control.vm_bulk(&w.ctx, "stop", &ids, "").await.unwrap();
    assert_eq!(
        outcomes.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
        ["bulk-a", "bulk-b", "bulk-c"]
    );
    assert_eq!(outcomes[0].job_id, None);
    assert_eq!(outcomes[0].error_code.as_deref(), Some("forbidden"));
    assert_eq!(outcomes[0].error.as_deref(), Some("The VM is already stopped."));
    assert!(outcomes[1].job_id.is_some() && outcomes[2].job_id.is_some());
    w.drain().await;
    assert_eq!(states().await, ["stopped", "stopped", "stopped"]);

    // Refused whole, nothing changed: another tenant naming these VMs (404), a viewer, a wrong
    // action, no VM, too many, and a destroy without the count typed.
    let other = world().await;
    let stranger = acting(other.ctx.actor.clone(), "x");
    assert!(matches!(
        w.control.vm_bulk(&stranger, "start", &ids, "").await,
        Err(Error::NotFound)
    ));
    let mine_and_not = vec![ids[1].clone(), uuid::Uuid::new_v4().to_string()];
    assert!(matches!(
        w.control.vm_bulk(&w.ctx, "start", &mine_and_not, "").await,
        Err(Error::NotFound)
    ));
    let viewer = as_viewer(&w.ctx);
    assert!(matches!(
        w.control.vm_bulk(&viewer, "start", &ids, "").await,
        Err(Error::Forbidden(_))
    ));
    let field = |result: Result<_, Error>, field: &str| match result {
        Err(Error::Invalid(errors)) => errors.get(field).map(str::to_owned),
        other => panic!("expected an invalid {field}, got {other:?}"),
    };
    assert!(field(w.control.vm_bulk(&w.ctx, "resize", &ids, "").await, "action").is_some());
    assert!(field(w.control.vm_bulk(&w.ctx, "start", &[], "").await, "ids").is_some());
    let many: Vec<String> = (0..=meridian_control::vm::BULK_MAX)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    assert!(field(w.control.vm_bulk(&w.ctx, "start", &many, "").await, "ids").is_some());
    assert_eq!(
        field(w.control.vm_bulk(&w.ctx, "destroy", &ids, "").await, "confirm").as_deref(),
        Some("Type 3 to confirm destroying 3 VMs.")
    );
    assert!(field(w.control.vm_bulk(&w.ctx, "destroy", &ids, "2").await, "confirm").is_some());
    w.drain().await;
    assert_eq!(states().await, ["stopped", "stopped", "stopped"]);

    // An id named twice is acted on once.
    let twice = vec![ids[1].clone(), ids[1].clone()];
    let outcomes = w.control.vm_bulk(&w.ctx, "start", &twice, "").await.unwrap();
    assert_eq!(outcomes.len(), 1);
    w.drain().await;
    assert_eq!(states().await, ["stopped", "running", "stopped"]);

    // Destroy, confirmed once for all three: one job each, nothing left behind.
    let outcomes = w.control.vm_bulk(&w.ctx, "destroy", &ids, " 3 ").await.unwrap();
    assert!(outcomes.iter().all(|o| o.job_id.is_some()), "{outcomes:?}");
    w.drain().await;
    assert_eq!(states().await, ["destroyed", "destroyed", "destroyed"]);
    assert!(w.control.vm_list(&w.ctx).await.unwrap().is_empty());
    w.assert_invariants().await;
    // Each VM's operation is in the audit log as its own, and the refused destroy too.
    let log = w.control.audit_list(&w.ctx, 100).await.unwrap();
    let destroys = log.iter().filter(|e| e.action == "vm.destroy").count();
    assert_eq!(
        destroys,
        3 + 2,
        "three destroys and two refused confirmations: {log:?}"
    );
}

#[tokio::test]
async fn a_latency_budget_places_a_vm_only_where_the_round_trip_fits_and_says_why_not() {
    let w = world().await;
    let with_budget = |name: &str, zone: &str, ms: &str, of: &str| {
        VmCreate::parse(&VmCreateForm {
            name: name.into(),
            zone: zone.into(),
            template: "debian-12".into(),
            size: "xs".into(),
            latency_ms: ms.into(),
            latency_of: of.into(),
            ..VmCreateForm::default()
        })
        .unwrap()
    };
    let fra = w.vdc("fra1").await.parse().unwrap();
    let ams = w.vdc("ams1").await.parse().unwrap();
    let hkg = w.vdc("hkg1").await.parse().unwrap();
    let refusal = |result: Result<_, Error>, field: &str| match result {
        Err(Error::Invalid(errors)) => errors.get(field).map(str::to_owned).unwrap_or_default(),
        other => panic!("expected a refusal on {field}, got {other:?}"),
    };

    // Within 10 ms of Frankfurt: Amsterdam fits, Hong Kong is beyond physics.
    let db = w
        .control
        .vm_create(&w.ctx, fra, with_budget("db-1", "fra1", "10", "fra1"))
        .await
        .unwrap();
    w.control
        .vm_create(&w.ctx, ams, with_budget("near-1", "ams1", "10", "fra1"))
        .await
        .unwrap();
    let why = refusal(
        w.control
            .vm_create(&w.ctx, hkg, with_budget("far-1", "hkg1", "10", "fra1"))
            .await,
        "latency_ms",
    );
    assert!(why.starts_with("Light in fibre needs"), "{why}");

    // Measured from a VM: its zone. A budget above the fibre limit but below today's route says so.
    let of_db = format!("vm:{}", db.vm_id);
    w.control
        .vm_create(&w.ctx, ams, with_budget("near-2", "ams1", "10", &of_db))
        .await
        .unwrap();
    let limit = meridian_core::backbone::pair_fibre_limit_ms(
        meridian_core::zone::ZoneId::parse("fra1").unwrap(),
        meridian_core::zone::ZoneId::parse("hkg1").unwrap(),
    );
    let why = refusal(
        w.control
            .vm_create(
                &w.ctx,
                hkg,
                with_budget("far-2", "hkg1", &format!("{:.1}", limit + 1.0), &of_db),
            )
            .await,
        "latency_ms",
    );
    assert!(why.contains("ms from Frankfurt over the backbone"), "{why}");

    // Another tenant's VM, or one that does not exist, is no anchor.
    let other = world().await;
    let theirs = other
        .control
        .vm_create(
            &other.ctx,
            other.vdc("fra1").await.parse().unwrap(),
            vm("x-1", "fra1", "xs", false),
        )
        .await
        .unwrap();
    for anchor in [
        format!("vm:{}", theirs.vm_id),
        format!("vm:{}", uuid::Uuid::new_v4()),
    ] {
        let why = refusal(
            w.control
                .vm_create(&w.ctx, ams, with_budget("near-3", "ams1", "10", &anchor))
                .await,
            "latency_of",
        );
        assert_eq!(why, "Choose one of your VMs or a zone.");
    }
    // Nothing refused was made.
    w.drain().await;
    assert_eq!(w.vm_names().await, ["db-1", "near-1", "near-2"]);
    w.assert_invariants().await;
}
