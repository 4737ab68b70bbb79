//! Where a dashboard read's time goes in the store, on SQLite, one thread: the statements a
//! signed-in list of 100 VMs runs (the session row, the user with its tenant, the VM list) timed
//! one by one. Run pinned to one core: `taskset -c 0 cargo bench -p meridian-control --bench read_path`.

use meridian_control::driver::simulated::{SimTiming, SimulatedDriver};
use meridian_control::testing::TestDb;
use meridian_control::{Actor, Control, OpContext};
use meridian_core::Signup;
use meridian_core::resource::{VmCreate, VmCreateForm};
use std::sync::Arc;
use std::time::Instant;

const ROUNDS: u32 = 3_000;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let db = TestDb::fresh().await;
    let driver = Arc::new(SimulatedDriver::new(SimTiming::instant(), 1));
    let control = Control::new(db.store.clone(), driver)
        .await
        .expect("control plane");
    let signup = Signup::parse("Bench", "bench@example.com", "a long enough secret").expect("sign-up");
    let account = control
        .account_signup(&OpContext::anonymous("bench"), signup)
        .await
        .expect("sign-up");
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
    let mut big = control.quota_view(&ctx).await.expect("quota").0;
    big.max_vms = 1000;
    big.max_vcpus = 1000;
    db.store
        .quota_set_limits(&account.tenant_id.to_string(), &big)
        .await
        .expect("quota");
    let vdc = control.vdc_create(&ctx, "bench", "lon1").await.expect("vdc").id;
    let creates: Vec<(meridian_core::id::VdcId, VmCreate)> = (0..100)
        .map(|i| {
            let create = VmCreate::parse(&VmCreateForm {
                name: format!("vm-{i}"),
                zone: "lon1".into(),
                template: "debian-12".into(),
                size: "xs".into(),
                ..VmCreateForm::default()
            })
            .expect("valid VM");
            (vdc.clone(), create)
        })
        .collect();
    control.vm_create_many(&ctx, creates).await.expect("create");
    control.job_drain("bench").await.expect("drain");

    let tenant = account.tenant_id.to_string();
    let time = |label: &'static str, started: Instant, rounds: u32| {
        let micros = started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
        println!("{label:<40} {micros:>8.1} µs per call");
    };
    let started = Instant::now();
    for _ in 0..ROUNDS {
        db.store.ping().await.expect("ping");
    }
    time("one trivial statement", started, ROUNDS);
    let started = Instant::now();
    for _ in 0..ROUNDS {
        control.actor_for_session(account.user_id).await.expect("actor");
    }
    time("actor (user and tenant)", started, ROUNDS);
    let started = Instant::now();
    for _ in 0..ROUNDS {
        let vms = db.store.vm_list(&tenant).await.expect("list");
        assert_eq!(vms.len(), 100);
    }
    time("list of 100 VMs (store)", started, ROUNDS);
    let started = Instant::now();
    for _ in 0..ROUNDS {
        control.vdc_list(&ctx).await.expect("vdcs");
    }
    time("VDC list", started, ROUNDS);
    let started = Instant::now();
    for _ in 0..ROUNDS / 10 {
        control.usage_totals(&ctx, 0, i64::MAX).await.expect("usage");
    }
    time("usage totals", started, ROUNDS / 10);
    let started = Instant::now();
    for _ in 0..ROUNDS / 10 {
        control.overview(&ctx).await.expect("overview");
    }
    time("overview (with recent events)", started, ROUNDS / 10);
    let started = Instant::now();
    for _ in 0..ROUNDS / 10 {
        control.overview(&ctx).await.expect("overview");
    }
    time("the overview's data", started, ROUNDS / 10);
}
