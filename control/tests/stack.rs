//! Stacks: the nine-node MongoDB replica set over Los Angeles, London and Berlin in one action,
//! on distinct hosts, its containers, its spin-up measured, and deleting all it made.

use meridian_control::driver::simulated::{SimTiming, SimulatedDriver};
use meridian_control::testing::{TestDb, as_user};
use meridian_control::{Actor, Control, Error, OpContext};
use meridian_core::Signup;
use std::collections::BTreeSet;
use std::sync::Arc;

async fn world() -> (TestDb, Control, OpContext) {
    let db = TestDb::fresh().await;
    let control = Control::new(
        db.store.clone(),
        Arc::new(SimulatedDriver::new(SimTiming::instant(), 5)),
    )
    .await
    .unwrap();
    let signup = Signup::parse("Stack Co", "ops@stack.example", "a long enough secret").unwrap();
    let ctx = as_user(
        &control
            .account_signup(&OpContext::anonymous("t"), signup)
            .await
            .unwrap(),
    );
    (db, control, ctx)
}

#[tokio::test]
async fn the_mongodb_stack_runs_nine_nodes_on_nine_hosts_and_deleting_it_removes_everything() {
    let (_db, control, ctx) = world().await;
    let stack = control.stack_create(&ctx, "mongodb-9", "rs0").await.unwrap();
    let tenant = ctx.tenant().unwrap();
    let made = meridian_control::testing::stack_row(&control, tenant, stack.id)
        .await
        .made_vdcs;
    assert_eq!(made.len(), 3, "a VDC in each of the three zones");
    let deploying = control.stack_view(&ctx, stack.id).await.unwrap();
    assert_eq!(deploying.stack.state, "deploying");
    let refused = control.stack_delete(&ctx, stack.id).await.unwrap_err();
    assert!(matches!(refused, Error::Conflict { .. }), "{refused:?}");
    // Every member has its address from the start, and exactly one member's cloud-config
    // initiates the replica set over all nine of them.
    let mut accepted = Vec::new();
    for member in &deploying.members {
        accepted.push(meridian_control::testing::vm_row(&control, member.vm.id).await);
    }
    let addresses: Vec<String> = accepted
        .iter()
        .map(|vm| vm.private_ip.clone().expect("an address at accept"))
        .collect();
    let initiating: Vec<&str> = accepted
        .iter()
        .filter_map(|vm| vm.user_data.as_deref().filter(|u| u.contains("rs.initiate(")))
        .collect();
    assert_eq!(initiating.len(), 1, "one member initiates the set");
    for address in &addresses {
        assert!(
            initiating[0].contains(&format!(r#"host:\"{address}:27017\""#)),
            "{address} in {}",
            initiating[0]
        );
    }
    assert!(!initiating[0].contains(meridian_core::stack::MEMBERS_PLACEHOLDER));
    control.job_drain("w").await.unwrap();

    let view = control.stack_view(&ctx, stack.id).await.unwrap();
    assert_eq!(view.stack.state, "ready");
    assert!(
        view.stack.ready_at.unwrap() >= view.stack.created_at,
        "the spin-up is measured"
    );
    assert_eq!(view.members.len(), 9);
    let zones: Vec<&str> = view.members.iter().map(|m| m.vm.zone.as_str()).collect();
    for zone in ["lax1", "lon1", "ber1"] {
        assert_eq!(zones.iter().filter(|z| **z == zone).count(), 3);
    }
    let mut hosts = BTreeSet::new();
    for member in &view.members {
        let row = meridian_control::testing::vm_row(&control, member.vm.id).await;
        hosts.insert(row.host_id.unwrap());
    }
    assert_eq!(hosts.len(), 9, "anti-affinity: nine hosts");
    let ips: BTreeSet<_> = view
        .members
        .iter()
        .map(|m| m.vm.private_ip.clone().unwrap())
        .collect();
    assert_eq!(ips.len(), 9);
    assert_eq!(
        ips,
        addresses.iter().cloned().collect(),
        "the addresses the set was initiated with"
    );
    for member in &view.members {
        assert_eq!(member.vm.state, "running");
        let row = meridian_control::testing::vm_row(&control, member.vm.id).await;
        assert_eq!(row.image, "coreos-docker");
        assert!(
            member
                .events
                .iter()
                .any(|e| e.step == "boot" && e.status == "done"),
            "{:?}",
            member.events
        );
        assert_eq!(member.containers.len(), 1);
        assert_eq!(
            (
                member.containers[0].name.as_str(),
                member.containers[0].image.as_str(),
                member.containers[0].state.as_str()
            ),
            ("mongod", "mongo:7.0", "running")
        );
    }
    assert_eq!(control.stack_list(&ctx).await.unwrap().len(), 1);

    control.stack_delete(&ctx, stack.id).await.unwrap();
    control.job_drain("w").await.unwrap();
    assert!(
        control.stack_list(&ctx).await.unwrap().is_empty(),
        "the stack is gone"
    );
    assert!(
        control
            .vm_list(&ctx)
            .await
            .unwrap()
            .iter()
            .all(|vm| vm.state == "destroyed")
    );
    assert!(
        control.vdc_list(&ctx).await.unwrap().is_empty(),
        "the VDCs it made are gone"
    );
    let broken = control.invariants_check(true).await.unwrap();
    assert!(broken.is_empty(), "{broken:?}");
}

#[tokio::test]
async fn a_stack_outside_the_residency_policy_or_with_a_bad_name_creates_nothing() {
    let (db, control, ctx) = world().await;
    let Actor::User { tenant_id, .. } = ctx.actor else {
        unreachable!()
    };
    db.store
        .tenant_set_residency(&tenant_id.to_string(), "eu")
        .await
        .unwrap();
    let Error::Invalid(fields) = control.stack_create(&ctx, "mongodb-9", "rs0").await.unwrap_err() else {
        panic!("expected a field error");
    };
    let message = fields.get("template").unwrap();
    assert!(
        message.contains("Los Angeles") && message.contains("residency"),
        "{message}"
    );
    assert!(control.vdc_list(&ctx).await.unwrap().is_empty());
    assert!(control.stack_list(&ctx).await.unwrap().is_empty());

    db.store
        .tenant_set_residency(&tenant_id.to_string(), "anywhere")
        .await
        .unwrap();
    let Error::Invalid(fields) = control.stack_create(&ctx, "web-3", "Web Tier").await.unwrap_err() else {
        panic!("expected a field error");
    };
    assert!(fields.get("name").is_some());
    let Error::Invalid(fields) = control.stack_create(&ctx, "cassandra", "c").await.unwrap_err() else {
        panic!("expected a field error");
    };
    assert!(fields.get("template").is_some());
    control.stack_create(&ctx, "web-3", "web").await.unwrap();
    let again = control.stack_create(&ctx, "web-3", "web").await.unwrap_err();
    assert!(matches!(again, Error::Conflict { .. }), "{again:?}");
    control.job_drain("w").await.unwrap();
    assert_eq!(
        control.vm_list(&ctx).await.unwrap().len(),
        3,
        "one stack of three, not two"
    );
    let broken = control.invariants_check(true).await.unwrap();
    assert!(broken.is_empty(), "{broken:?}");
}

#[tokio::test]
async fn deleting_a_stack_with_a_busy_member_can_be_repeated_and_keeps_what_is_not_the_stacks() {
    let (_db, control, ctx) = world().await;
    let stack = control.stack_create(&ctx, "web-3", "web").await.unwrap();
    control.job_drain("w").await.unwrap();
    let view = control.stack_view(&ctx, stack.id).await.unwrap();
    // The user puts a VM of their own in the London VDC the stack made.
    let london = view
        .members
        .iter()
        .find(|m| m.vm.zone == "lon1")
        .unwrap()
        .vm
        .vdc_id
        .clone();
    let form = meridian_core::resource::VmCreateForm {
        name: "mine".into(),
        zone: "lon1".into(),
        template: "debian-12".into(),
        size: "xs".into(),
        ..Default::default()
    };
    control
        .vm_create(
            &ctx,
            london,
            meridian_core::resource::VmCreate::parse(&form).unwrap(),
        )
        .await
        .unwrap();
    // One member is busy rebooting when the stack is deleted.
    let busy = view
        .members
        .iter()
        .find(|m| m.vm.zone == "sin1")
        .unwrap()
        .vm
        .id
        .clone();
    control.vm_reboot(&ctx, busy).await.unwrap();
    let refused = control.stack_delete(&ctx, stack.id).await.unwrap_err();
    assert!(
        matches!(&refused, Error::Conflict { message, .. } if message.contains("web-sin1-1")),
        "{refused:?}"
    );
    control.job_drain("w").await.unwrap();
    assert_eq!(
        control.stack_view(&ctx, stack.id).await.unwrap().stack.state,
        "deleting"
    );
    control.stack_delete(&ctx, stack.id).await.unwrap();
    control.job_drain("w").await.unwrap();
    assert!(control.stack_list(&ctx).await.unwrap().is_empty());
    let vms = control.vm_list(&ctx).await.unwrap();
    assert!(
        vms.iter().any(|vm| vm.name == "mine" && vm.state == "running"),
        "{vms:?}"
    );
    let vdcs: Vec<_> = control
        .vdc_list(&ctx)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.id)
        .collect();
    assert_eq!(
        vdcs,
        [london],
        "the VDC with the user's own VM stays; the others go"
    );
    let broken = control.invariants_check(true).await.unwrap();
    assert!(broken.is_empty(), "{broken:?}");
}

#[tokio::test]
async fn containers_read_starting_before_boot_and_another_server_sees_the_vms_as_they_are() {
    let (db, control, ctx) = world().await;
    let stack = control.stack_create(&ctx, "mongodb-9", "rs1").await.unwrap();
    let before = control.stack_view(&ctx, stack.id).await.unwrap();
    for member in &before.members {
        let states: Vec<&str> = member.containers.iter().map(|c| c.state.as_str()).collect();
        assert_eq!(states, ["starting"], "not yet booted is not exited");
    }
    control.job_drain("w").await.unwrap();

    // A second server over the same database (or this one restarted): its simulator holds
    // nothing of these VMs, and still shows them as they are.
    let other = Control::new(
        db.store.clone(),
        Arc::new(SimulatedDriver::new(SimTiming::instant(), 6)),
    )
    .await
    .unwrap();
    let view = other.stack_view(&ctx, stack.id).await.unwrap();
    let url = view
        .connection
        .as_deref()
        .expect("a ready replica set has its connection string");
    assert!(
        url.starts_with("mongodb://") && url.ends_with("/?replicaSet=rs0"),
        "{url}"
    );
    assert_eq!(
        before.connection.as_deref(),
        Some(url),
        "the addresses are the members' from the start: the string is known while they boot"
    );
    for member in &view.members {
        assert_eq!(member.containers[0].state, "running", "{}", member.vm.name);
    }
    let first = view.members[0].vm.id;
    let console = other.vm_console(&ctx, first).await.unwrap();
    assert!(
        console.last().is_some_and(|line| line.ends_with("login:")),
        "{console:?}"
    );

    // Stopped through the first server, both read it powered off, its container exited.
    control.vm_stop(&ctx, first).await.unwrap();
    control.job_drain("w").await.unwrap();
    for server in [&control, &other] {
        let console = server.vm_console(&ctx, first).await.unwrap();
        assert_eq!(console, ["[simulated] The VM is powered off."]);
        let view = server.stack_view(&ctx, stack.id).await.unwrap();
        let member = view.members.iter().find(|m| m.vm.id == first).unwrap();
        assert_eq!(member.containers[0].state, "exited");
    }
}

#[tokio::test]
async fn a_latency_budget_refuses_a_stack_with_a_zone_too_far_and_lets_one_that_fits() {
    use meridian_core::placement::latency::{Anchor, LatencyBudget};
    use meridian_core::zone::ZoneId;
    let (_db, control, ctx) = world().await;
    let near_london = |max_ms: f64| LatencyBudget {
        anchor: Anchor::Zone(ZoneId::parse("lon1").unwrap()),
        max_ms,
    };
    let Error::Invalid(fields) = control
        .stack_create_within(&ctx, "mongodb-9", "rs0", Some(near_london(30.0)))
        .await
        .unwrap_err()
    else {
        panic!("a refusal by field")
    };
    let why = fields.get("latency_ms").unwrap();
    assert!(why.contains("Los Angeles"), "{why}");
    assert!(!why.contains("Berlin"), "Berlin is within 30 ms of London: {why}");
    assert!(control.stack_list(&ctx).await.unwrap().is_empty(), "nothing made");
    assert!(control.vm_list(&ctx).await.unwrap().is_empty());
    control
        .stack_create_within(&ctx, "mongodb-9", "rs0", Some(near_london(250.0)))
        .await
        .unwrap();
}
