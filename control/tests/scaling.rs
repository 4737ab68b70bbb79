//! Autoscaling groups: load driven up and down through the simulator, the decisions they take
//! (with their reasons), the cooldown, the grace period, the quota, replacement of an unhealthy
//! member and scale-in newest first — on both databases.

use meridian_control::driver::simulated::{SimTiming, SimulatedDriver};
use meridian_control::scaling::ScalingGroupUpdate;
use meridian_control::testing::{TestDb, as_new_staff, as_user};
use meridian_control::{Control, Error, OpContext};
use meridian_core::Signup;
use meridian_core::resource::QuotaForm;
use meridian_core::scaling::{ScalingGroupCreate, ScalingGroupForm};
use meridian_core::view::ScalingGroupDetail;
use std::sync::Arc;

struct World {
    db: TestDb,
    control: Control,
    ctx: OpContext,
}

async fn world() -> World {
    let db = TestDb::fresh().await;
    let control = Control::new(
        db.store.clone(),
        Arc::new(SimulatedDriver::new(SimTiming::instant(), 9)),
    )
    .await
    .unwrap();
    let signup = Signup::parse("Spiky Co", "ops@spiky.example", "a long enough secret").unwrap();
    let ctx = as_user(
        &control
            .account_signup(&OpContext::anonymous("t"), signup)
            .await
            .unwrap(),
    );
    World { db, control, ctx }
}

fn form() -> ScalingGroupForm {
    ScalingGroupForm {
        name: "web".into(),
        template: "debian-12".into(),
        size: "xs".into(),
        zones: vec!["lon1".into(), "fra1".into()],
        min: "2".into(),
        max: "5".into(),
        metric: "cpu".into(),
        target: "60".into(),
        cooldown_secs: "180".into(),
        grace_secs: "60".into(),
        ..ScalingGroupForm::default()
    }
}

impl World {
    /// The group of [`form`], its first members made.
    async fn group(&self) -> meridian_core::view::ScalingGroup {
        let group = self
            .control
            .scaling_group_create(&self.ctx, ScalingGroupCreate::parse(&form()).unwrap())
            .await
            .unwrap();
        self.control.job_drain("w").await.unwrap();
        group
    }

    async fn view(&self, id: &str) -> ScalingGroupDetail {
        self.control.scaling_group_view(&self.ctx, id).await.unwrap()
    }

    /// Sets the members' simulated load and meters three minutes of it, from `from`.
    async fn load(&self, id: &str, cpu: u32, from: i64) {
        let group = self.view(id).await.group;
        self.control
            .scaling_group_update(
                &self.ctx,
                id,
                ScalingGroupUpdate {
                    min: group.min,
                    max: group.max,
                    desired: group.desired,
                    target: group.target,
                    simulated_cpu: Some(cpu),
                },
            )
            .await
            .unwrap();
        self.db.meter_from(None, from).await;
        for minute in 1..=3 {
            self.control.meter_tick(from + minute * 60_000).await.unwrap();
        }
    }

    /// Running members' zones, sorted.
    async fn running(&self, id: &str) -> Vec<String> {
        let mut zones: Vec<String> = self
            .view(id)
            .await
            .members
            .iter()
            .filter(|m| m.vm.state == "running")
            .map(|m| m.vm.zone.clone())
            .collect();
        zones.sort();
        zones
    }
}

/// A whole minute, `minutes` from now.
fn minute_from_now(minutes: i64) -> i64 {
    (meridian_control::now_ms() / 60_000 + minutes) * 60_000
}

#[tokio::test]
async fn load_up_scales_out_after_the_grace_holds_in_the_cooldown_and_load_down_scales_in_newest_first() {
    let w = world().await;
    let group = w.group().await;
    assert_eq!(
        w.running(&group.id).await,
        ["fra1", "lon1"],
        "spread over its zones"
    );

    // Within the grace period the members do not count: nothing to decide on.
    let now = meridian_control::now_ms();
    w.control.scaling_tick(now).await.unwrap();
    assert!(
        w.view(&group.id).await.status.starts_with("No figures yet"),
        "{}",
        w.view(&group.id).await.status
    );

    // 90 % CPU against a 60 % target: out to ceil(2 × 90 / 60) = 3, explained.
    let t = minute_from_now(2);
    w.load(&group.id, 90, t).await;
    w.control.scaling_tick(t + 180_000).await.unwrap();
    let view = w.view(&group.id).await;
    assert_eq!(view.group.desired, 3);
    let messages: Vec<&str> = view.events.iter().map(|e| e.message.as_str()).collect();
    assert!(
        messages.contains(&"Scaled out to 3: CPU 90 % > 60 % over the last 3 min."),
        "{messages:?}"
    );
    w.control.job_drain("w").await.unwrap();
    assert_eq!(w.running(&group.id).await.len(), 3);

    // Still hot, but cooling down: it holds.
    w.control.scaling_tick(t + 240_000).await.unwrap();
    assert_eq!(w.view(&group.id).await.group.desired, 3, "the cooldown holds it");

    // Past the cooldown (and the new member's grace), still at 90 %: to the most, 5.
    let t2 = t + 6 * 60_000;
    w.load(&group.id, 90, t2).await;
    w.control.scaling_tick(t2 + 180_000).await.unwrap();
    assert_eq!(w.view(&group.id).await.group.desired, 5);
    w.control.job_drain("w").await.unwrap();
    let zones = w.running(&group.id).await;
    assert_eq!(zones.len(), 5);
    assert!(
        zones.iter().filter(|z| *z == "lon1").count() >= 2
            && zones.iter().filter(|z| *z == "fra1").count() >= 2
    );

    // Load down to 10 %: in by one per cooldown, the newest first, never below 2.
    let names = |view: &ScalingGroupDetail| -> Vec<String> {
        view.members.iter().map(|m| m.vm.name.clone()).collect()
    };
    let before = names(&w.view(&group.id).await);
    let t3 = t2 + 10 * 60_000;
    w.load(&group.id, 10, t3).await;
    w.control.scaling_tick(t3 + 180_000).await.unwrap();
    w.control.job_drain("w").await.unwrap();
    let view = w.view(&group.id).await;
    assert_eq!(view.group.desired, 4);
    assert!(view.events.iter().any(
        |e| e.message == "Scaled in to 4: CPU 10 % < 42 % (70 % of the 60 % target) over the last 3 min."
    ));
    let after = names(&view);
    assert_eq!(after.len(), 4);
    let newest = before.last().unwrap();
    assert!(
        !after.contains(newest),
        "the newest ({newest}) went first: {after:?}"
    );
    assert!(after.iter().all(|n| before.contains(n)));
}

#[tokio::test]
async fn the_quota_caps_a_scale_out_and_says_so_and_an_unhealthy_member_is_replaced() {
    let w = world().await;
    let group = w.group().await;
    let (_, admin) = as_new_staff(&w.control, "ada@meridian.example", "admin").await;
    let quota = QuotaForm {
        max_vms: "3".into(),
        max_vcpus: "64".into(),
        max_memory_mib: "131072".into(),
        max_public_ips: "4".into(),
    }
    .parse()
    .unwrap();
    let tenant = w.ctx.tenant().unwrap();
    w.control.staff_quota_set(&admin, tenant, quota).await.unwrap();

    let t = minute_from_now(2);
    w.load(&group.id, 100, t).await;
    w.control.scaling_tick(t + 180_000).await.unwrap();
    w.control.job_drain("w").await.unwrap();
    let view = w.view(&group.id).await;
    assert_eq!(view.group.desired, 4, "ceil(2 × 100 / 60) = 4 wanted");
    assert_eq!(w.running(&group.id).await.len(), 3, "the quota allows three VMs");
    let refused: Vec<&str> = view
        .events
        .iter()
        .map(|e| e.message.as_str())
        .filter(|m| m.starts_with("Could not add a member"))
        .collect();
    assert_eq!(refused.len(), 1, "said once, not every round: {:?}", view.events);
    assert!(
        refused[0].contains("quota") || refused[0].contains("VMs"),
        "{}",
        refused[0]
    );

    // A member someone stopped is unhealthy once past its grace: it is destroyed and replaced.
    let stopped = view.members[0].vm.clone();
    w.control.vm_stop(&w.ctx, stopped.id).await.unwrap();
    w.control.job_drain("w").await.unwrap();
    w.control.scaling_tick(t + 200_000).await.unwrap();
    w.control.job_drain("w").await.unwrap();
    w.control.scaling_tick(t + 220_000).await.unwrap();
    w.control.job_drain("w").await.unwrap();
    let view = w.view(&group.id).await;
    assert!(
        view.members.iter().all(|m| m.vm.id != stopped.id),
        "the stopped member is gone"
    );
    assert!(
        view.events
            .iter()
            .any(|e| e.message == format!("Replacing {}: stopped past its 60 s grace period.", stopped.name)),
        "{:?}",
        view.events
    );
    assert_eq!(w.running(&group.id).await.len(), 3, "replaced within the quota");

    // Another tenant sees none of it; deleting the group destroys its members.
    let other = as_user(
        &w.control
            .account_signup(
                &OpContext::anonymous("t"),
                Signup::parse("Other Co", "ops@other.example", "a long enough secret").unwrap(),
            )
            .await
            .unwrap(),
    );
    assert!(matches!(
        w.control.scaling_group_view(&other, &group.id).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        w.control.scaling_group_delete(&other, &group.id).await,
        Err(Error::NotFound)
    ));
    w.control.scaling_group_delete(&w.ctx, &group.id).await.unwrap();
    // The rounds above ran ahead of the clock and hold the group's lease till then: the next
    // round finishes the deletion.
    w.control.scaling_tick(t + 300_000).await.unwrap();
    w.control.job_drain("w").await.unwrap();
    w.control.scaling_tick(t + 320_000).await.unwrap();
    assert!(w.control.scaling_group_list(&w.ctx).await.unwrap().is_empty());
    assert!(
        w.control
            .vm_list(&w.ctx)
            .await
            .unwrap()
            .iter()
            .all(|vm| vm.state == "destroyed")
    );
    let broken = w.control.invariants_check(true).await.unwrap();
    assert!(broken.is_empty(), "{broken:?}");
}

#[tokio::test]
async fn a_bad_group_is_refused_field_by_field_and_makes_nothing() {
    let w = world().await;
    let bad = ScalingGroupForm {
        min: "4".into(),
        max: "2".into(),
        ..form()
    };
    assert!(ScalingGroupCreate::parse(&bad).unwrap_err().get("max").is_some());
    let group = ScalingGroupCreate::parse(&form()).unwrap();
    w.control
        .scaling_group_create(&w.ctx, group.clone())
        .await
        .unwrap();
    let again = w.control.scaling_group_create(&w.ctx, group).await.unwrap_err();
    assert!(
        matches!(
            again,
            Error::Conflict {
                field: Some("name"),
                ..
            }
        ),
        "{again:?}"
    );
    assert_eq!(w.control.scaling_group_list(&w.ctx).await.unwrap().len(), 1);
    w.control.job_drain("w").await.unwrap();
    assert_eq!(
        w.control.vm_list(&w.ctx).await.unwrap().len(),
        2,
        "the second group made no VM"
    );
}

#[tokio::test]
async fn deleting_a_group_whose_members_are_still_being_made_leaves_nothing_behind() {
    let w = world().await;
    let group = w
        .control
        .scaling_group_create(&w.ctx, ScalingGroupCreate::parse(&form()).unwrap())
        .await
        .unwrap();
    // Its two members' create jobs have not run: they cannot be destroyed yet.
    w.control.scaling_group_delete(&w.ctx, &group.id).await.unwrap();
    let view = w.view(&group.id).await;
    assert_eq!(view.status, "Being deleted: 2 members left to destroy.");
    let members: Vec<_> = view.members.iter().map(|m| m.vm.id).collect();
    let refused = w
        .control
        .scaling_group_update(
            &w.ctx,
            &group.id,
            ScalingGroupUpdate {
                min: 0,
                max: 5,
                desired: 3,
                target: 60,
                simulated_cpu: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::Conflict { .. }), "{refused:?}");
    w.control.job_drain("w").await.unwrap();
    w.control.scaling_tick(meridian_control::now_ms()).await.unwrap();
    w.control.job_drain("w").await.unwrap();
    w.control
        .scaling_tick(meridian_control::now_ms() + 1)
        .await
        .unwrap();
    assert!(
        w.control.scaling_group_list(&w.ctx).await.unwrap().is_empty(),
        "the group goes last"
    );
    for id in members {
        let vm = meridian_control::testing::vm_row(&w.control, id).await;
        assert_eq!(vm.state, "destroyed", "{}", vm.name);
    }
    let broken = w.control.invariants_check(true).await.unwrap();
    assert!(broken.is_empty(), "{broken:?}");
}
