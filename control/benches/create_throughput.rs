//! End-to-end VM create throughput on SQLite: accept 10,000 VMs (validation, quota, VM row, job),
//! then run every create job to Running with the simulated driver at zero latency (placement, IPAM,
//! every step's transaction), and check the invariants. Twice: with the VMs asked for 100 at a
//! time (a cluster or stack deploy, `vm_create_many`), and one request per VM (`vm_create`). Run
//! with `cargo bench -p meridian-control --bench create_throughput`.

use meridian_control::driver::simulated::{SimTiming, SimulatedDriver};
use meridian_control::testing::TestDb;
use meridian_control::{Actor, Control, OpContext};
use meridian_core::Signup;
use meridian_core::resource::{Quota, VmCreate, VmCreateForm};
use meridian_core::zone::ZONES;
use std::sync::Arc;
use std::time::Instant;

const TENANTS: usize = 10;
const VMS_PER_TENANT: usize = 1_000;
const WORKERS: usize = 1;

/// VMs per request in the batched run.
const BATCH: usize = 100;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    run(BATCH).await;
    run(1).await;
}

async fn run(batch: usize) {
    let db = TestDb::fresh().await;
    let driver = Arc::new(SimulatedDriver::new(SimTiming::instant(), 1));
    let control = Control::new(db.store.clone(), driver)
        .await
        .expect("control plane");
    let mut tenants = Vec::new();
    for t in 0..TENANTS {
        let signup = Signup::parse(
            &format!("Bench {t}"),
            &format!("bench{t}@example.com"),
            "a long enough secret",
        )
        .expect("valid sign-up");
        let account = control
            .account_signup(&OpContext::anonymous("bench"), signup)
            .await
            .expect("sign-up");
        let big = Quota {
            max_vms: 100_000,
            max_vcpus: 100_000,
            max_memory_mib: 1 << 40,
            max_public_ips: 0,
        };
        db.store
            .quota_set_limits(&account.tenant_id.to_string(), &big)
            .await
            .expect("quota");
        let ctx = OpContext {
            actor: Actor::User {
                user_id: account.user_id,
                tenant_id: account.tenant_id,
                role: account.role,
            },
            request_id: "bench".into(),
            client: None,
            via: None,
        };
        let mut vdcs = Vec::new();
        for zone in &ZONES {
            vdcs.push(
                control
                    .vdc_create(&ctx, &format!("v-{}", zone.id), zone.id.as_str())
                    .await
                    .expect("vdc")
                    .id,
            );
        }
        tenants.push((ctx, vdcs));
    }

    let started = Instant::now();
    for (ctx, vdcs) in &tenants {
        let mut creates = Vec::with_capacity(VMS_PER_TENANT);
        for n in 0..VMS_PER_TENANT {
            let zone = &ZONES[n % ZONES.len()];
            let create = VmCreate::parse(&VmCreateForm {
                name: format!("vm-{n}"),
                zone: zone.id.as_str().into(),
                template: "debian-12".into(),
                size: "xs".into(),
                ..VmCreateForm::default()
            })
            .expect("valid VM");
            creates.push((vdcs[n % ZONES.len()].clone(), create));
        }
        let mut creates = creates.into_iter().peekable();
        while creates.peek().is_some() {
            let request: Vec<_> = creates.by_ref().take(batch).collect();
            if let [(vdc, create)] = request.as_slice() {
                control
                    .vm_create(ctx, *vdc, create.clone())
                    .await
                    .expect("accepted");
            } else {
                control.vm_create_many(ctx, request).await.expect("accepted");
            }
        }
    }
    let accepted = started.elapsed();
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let control = control.clone();
            tokio::spawn(async move { control.job_drain(&format!("bench-{w}")).await.expect("drain") })
        })
        .collect();
    let mut jobs = 0;
    for worker in workers {
        jobs += worker.await.expect("worker");
    }
    let total = started.elapsed();
    let vms = TENANTS * VMS_PER_TENANT;
    let broken = control.invariants_check(true).await.expect("invariants");
    println!("-- {batch} VM(s) per create request");
    println!(
        "{vms} VMs accepted in {:.2} s ({:.0} creates/s accepted)",
        accepted.as_secs_f64(),
        vms as f64 / accepted.as_secs_f64()
    );
    println!(
        "{jobs} create jobs run to Running; total {:.2} s = {:.0} VMs/s end to end ({WORKERS} workers, SQLite)",
        total.as_secs_f64(),
        vms as f64 / total.as_secs_f64()
    );
    println!(
        "invariants: {}",
        if broken.is_empty() {
            "all hold".to_owned()
        } else {
            broken.join("; ")
        }
    );
}
