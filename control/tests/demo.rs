//! Demo mode: off by default, a believable seeded tenant with history, and a reset that puts it
//! back without touching other tenants.

use meridian_control::driver::simulated::{SimTiming, SimulatedDriver};
use meridian_control::testing::{TestDb, as_user};
use meridian_control::{Actor, Control, Error, OpContext};
use meridian_core::Signup;
use meridian_core::resource::{VmCreate, VmCreateForm};
use std::sync::Arc;

#[tokio::test]
async fn the_demo_is_seeded_with_history_and_reset_without_touching_anyone_else() {
    let db = TestDb::fresh().await;
    let driver = Arc::new(SimulatedDriver::new(SimTiming::instant(), 4));
    let off = Control::new(db.store.clone(), driver.clone()).await.unwrap();
    assert!(
        matches!(
            off.demo_login(&OpContext::anonymous("t")).await,
            Err(Error::NotFound)
        ),
        "no demo without --demo"
    );
    let control = off.with_demo(true);

    // Another tenant with a running VM, which the demo must never touch.
    let signup = Signup::parse("Bystander", "ops@bystander.example", "a long enough secret").unwrap();
    let other = as_user(
        &control
            .account_signup(&OpContext::anonymous("t"), signup)
            .await
            .unwrap(),
    );
    let vdc = control.vdc_create(&other, "par", "par1").await.unwrap().id;
    let form = VmCreateForm {
        name: "keep-me".into(),
        zone: "par1".into(),
        template: "debian-12".into(),
        size: "s".into(),
        ..Default::default()
    };
    control
        .vm_create(&other, vdc, VmCreate::parse(&form).unwrap())
        .await
        .unwrap();

    assert!(control.demo_seed().await.unwrap());
    assert!(
        !control.demo_seed().await.unwrap(),
        "seeding twice changes nothing"
    );
    control.job_drain("w").await.unwrap();
    control
        .demo_history(meridian_control::store::now_ms, 5_000)
        .await
        .unwrap();
    let demo = control.demo_login(&OpContext::anonymous("t")).await.unwrap();
    assert!(control.account_is_demo(&demo));
    let ctx = as_user(&demo);
    let vms = control.vm_list(&ctx).await.unwrap();
    assert_eq!(vms.len(), 6);
    assert!(vms.iter().all(|vm| vm.state == "running"));
    let zones: std::collections::BTreeSet<_> = vms.iter().map(|vm| vm.zone.as_str()).collect();
    assert_eq!(zones.len(), 4, "Europe, the US and Asia");
    let now = meridian_control::store::now_ms();
    let traffic = control.bandwidth_view(&ctx, now).await.unwrap();
    assert!(
        traffic.backbone > 0 && traffic.internet > 0,
        "two weeks of simulated traffic"
    );
    let months = control.billing_months(&ctx, now).await.unwrap();
    let billed: i64 = {
        let mut total = 0;
        for month in &months {
            total += control
                .billing_invoice(&ctx, month, now)
                .await
                .unwrap()
                .invoice
                .total()
                .micros();
        }
        total
    };
    assert!(billed > 0, "weeks of VM hours are billed");

    // The demo user changes things; the reset puts the seeded state back.
    let web = vms.iter().find(|vm| vm.name == "web-lon-1").unwrap();
    control.vm_destroy(&ctx, web.id).await.unwrap();
    control.job_drain("w").await.unwrap();
    let fresh = control.demo_reset(&ctx).await.unwrap();
    assert_ne!(fresh.tenant_id, demo.tenant_id, "a new demo tenant");
    control.job_drain("w").await.unwrap();
    let reset = control.vm_list(&as_user(&fresh)).await.unwrap();
    assert_eq!(reset.len(), 6);
    assert!(reset.iter().all(|vm| vm.state == "running"));
    let kept = control.vm_list(&other).await.unwrap();
    assert_eq!(
        (kept.len(), kept[0].state.as_str()),
        (1, "running"),
        "the other tenant is untouched"
    );
    let broken = control.invariants_check(true).await.unwrap();
    assert!(broken.is_empty(), "{broken:?}");
    let Actor::User { .. } = other.actor else {
        unreachable!()
    };
    assert!(
        matches!(control.demo_reset(&other).await, Err(Error::NotFound)),
        "only the demo tenant resets"
    );
}
