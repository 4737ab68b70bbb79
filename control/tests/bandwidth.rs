//! Bandwidth: rate caps hold in the simulated traffic, the page's figures add up, alerts fire
//! once a month, and only the tenant's own members may change any of it.

use meridian_control::driver::simulated::{SimTiming, SimulatedDriver};
use meridian_control::metering::HOUR_MS;
use meridian_control::testing::{TestDb, as_user};
use meridian_control::{Control, Error, OpContext};
use meridian_core::Signup;
use meridian_core::bandwidth::{CapScope, cap_pair};
use meridian_core::calendar::month_bounds;
use meridian_core::resource::{VmCreate, VmCreateForm};
use meridian_core::zone::ZoneId;
use std::sync::Arc;

struct Tenant {
    db: TestDb,
    control: Control,
    ctx: OpContext,
}

/// A tenant with one 4-vCPU VM in Frankfurt and one in New York, running, metered from
/// `metered_from` on (nothing before it).
async fn tenant(metered_from: i64) -> Tenant {
    let db = TestDb::fresh().await;
    let control = Control::new(
        db.store.clone(),
        Arc::new(SimulatedDriver::new(SimTiming::instant(), 9)),
    )
    .await
    .unwrap();
    let signup = Signup::parse("Traffic Co", "ops@traffic.example", "a long enough secret").unwrap();
    let ctx = as_user(
        &control
            .account_signup(&OpContext::anonymous("t"), signup)
            .await
            .unwrap(),
    );
    let mut creates = Vec::new();
    for zone in ["fra1", "nyc1"] {
        let vdc = control.vdc_create(&ctx, zone, zone).await.unwrap().id;
        let form = VmCreateForm {
            name: format!("app-{zone}"),
            zone: zone.into(),
            template: "debian-12".into(),
            size: "l".into(),
            ..VmCreateForm::default()
        };
        creates.push((vdc, VmCreate::parse(&form).unwrap()));
    }
    control.vm_create_many(&ctx, creates).await.unwrap();
    control.job_drain("t").await.unwrap();
    db.meter_from(None, metered_from).await;
    Tenant { db, control, ctx }
}

fn zone(id: &str) -> ZoneId {
    ZoneId::parse(id).unwrap()
}

/// A whole hour a few hours ago.
fn recent_hour() -> i64 {
    (meridian_control::store::now_ms() / HOUR_MS - 3) * HOUR_MS
}

#[tokio::test]
async fn a_vm_cap_and_a_zone_pair_cap_hold_in_the_metered_traffic() {
    let hour = recent_hour();
    let t = tenant(hour).await;
    let vms = t.control.vm_list(&t.ctx).await.unwrap();
    let fra = vms.iter().find(|v| v.zone == "fra1").unwrap().id.clone();
    // 1 Mb/s is 125 kB/s, 450 MB an hour; a 4-vCPU VM sends at least 200 kB/s uncapped.
    t.control
        .bandwidth_cap_set(&t.ctx, CapScope::Vm(fra.to_string()), 1)
        .await
        .unwrap();
    t.control.meter_tick(hour + HOUR_MS).await.unwrap();
    let view = t.control.bandwidth_view(&t.ctx, hour + HOUR_MS).await.unwrap();
    let sent = |zone: &str| {
        let vm = view.vms.iter().find(|v| v.zone == zone).unwrap();
        vm.backbone + vm.internet
    };
    assert!(sent("fra1") <= 450_000_000, "capped VM sent {}", sent("fra1"));
    assert!(sent("nyc1") > 450_000_000, "uncapped VM sent {}", sent("nyc1"));
    assert_eq!(
        view.backbone + view.internet,
        sent("fra1") + sent("nyc1"),
        "totals add up"
    );
    let hourly: u64 = view.hourly.iter().map(|(_, _, b)| b).sum();
    assert_eq!(hourly, view.backbone + view.internet);
    let atlantic = view
        .edges
        .iter()
        .find(|(edge, _)| edge == "lon1-nyc1")
        .map(|(_, b)| *b);
    assert_eq!(
        atlantic,
        Some(view.edges[0].1),
        "Frankfurt–New York runs over London–New York"
    );

    // A 2 Mb/s cap on the pair is shared by its two running VMs: 1 Mb/s each, either way.
    t.control
        .bandwidth_cap_remove(&t.ctx, CapScope::Vm(fra.to_string()))
        .await
        .unwrap();
    t.control
        .bandwidth_cap_set(&t.ctx, cap_pair(zone("nyc1"), zone("fra1")).unwrap(), 2)
        .await
        .unwrap();
    t.control.meter_tick(hour + 2 * HOUR_MS).await.unwrap();
    let later = t
        .control
        .bandwidth_view(&t.ctx, hour + 2 * HOUR_MS)
        .await
        .unwrap();
    for vm in &later.vms {
        let before = view.vms.iter().find(|v| v.id == vm.id).map_or(0, |v| v.backbone);
        assert!(
            vm.backbone - before <= 450_000_000,
            "{} sent {} over the pair",
            vm.zone,
            vm.backbone - before
        );
    }
    assert_eq!(later.caps.len(), 1);
    assert_eq!(
        (
            later.caps[0].scope.as_str(),
            later.caps[0].target.as_str(),
            later.caps[0].mbps
        ),
        ("pair", "fra1-nyc1", 2)
    );
    // What it would cost elsewhere is computed, never charged here.
    assert_eq!(later.elsewhere.len(), 2);
}

#[tokio::test]
async fn caps_are_checked_and_scoped_to_the_tenant() {
    let t = tenant(recent_hour()).await;
    let other = {
        let signup = Signup::parse("Other Co", "ops@other.example", "a long enough secret").unwrap();
        as_user(
            &t.control
                .account_signup(&OpContext::anonymous("t"), signup)
                .await
                .unwrap(),
        )
    };
    let vm = t.control.vm_list(&t.ctx).await.unwrap()[0].id.clone();
    let refused = t
        .control
        .bandwidth_cap_set(&other, CapScope::Vm(vm.to_string()), 10)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Error::NotFound),
        "another tenant's VM is not found: {refused:?}"
    );
    let missing = t
        .control
        .bandwidth_cap_remove(&t.ctx, CapScope::Vm(vm.to_string()))
        .await
        .unwrap_err();
    assert!(matches!(missing, Error::NotFound));
    assert!(
        t.control
            .bandwidth_view(&other, meridian_control::store::now_ms())
            .await
            .unwrap()
            .caps
            .is_empty()
    );
    // Bad form input is refused field by field, and nothing is set.
    let fields = meridian_core::bandwidth::parse_cap_form("pair", "", "lon1", "lon1", "0").unwrap_err();
    assert!(
        fields.get("mbps").is_some() && fields.get("zone_b").is_some(),
        "{fields:?}"
    );
    let fields = meridian_core::bandwidth::parse_alert_form("150").unwrap_err();
    assert!(fields.get("threshold").is_some());
    let view = t
        .control
        .bandwidth_view(&t.ctx, meridian_control::store::now_ms())
        .await
        .unwrap();
    assert!(view.caps.is_empty() && view.alert.is_none());
    let audit = t.control.audit_list(&t.ctx, 10).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.action == "bandwidth.cap_remove" && a.result.starts_with("not_found")),
        "{audit:?}"
    );
}

#[tokio::test]
async fn an_allowance_alert_fires_once_a_month_into_the_audit_log() {
    // Metered from three weeks before the 22nd of next month: well over 1 % of the allowance
    // (500 GB) lands in that month.
    let (next_month, _) = month_bounds(month_bounds(meridian_control::store::now_ms()).1);
    let now = next_month + 21 * 24 * HOUR_MS;
    let t = tenant(now - 21 * 24 * HOUR_MS).await;
    t.control.bandwidth_alert_set(&t.ctx, Some(1)).await.unwrap();
    t.control.meter_tick(now).await.unwrap();
    assert_eq!(t.control.bandwidth_alerts_check(now).await.unwrap(), 1);
    assert_eq!(
        t.control.bandwidth_alerts_check(now + HOUR_MS).await.unwrap(),
        0,
        "once a month"
    );
    let view = t.control.bandwidth_view(&t.ctx, now).await.unwrap();
    assert!(view.used_pct >= 1, "{}", view.used_pct);
    assert!(view.alert.unwrap().fired_month.is_some());
    let fired: Vec<_> = t
        .control
        .audit_list(&t.ctx, 20)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.action == "bandwidth.alert")
        .collect();
    assert_eq!(fired.len(), 1, "{fired:?}");
    drop(t.db);
}
