//! Latency probes: stored per edge, never below the fibre limit, forgotten after the retention.

use meridian_control::driver::simulated::{SimTiming, SimulatedDriver};
use meridian_control::probe::PROBE_RETENTION_MS;
use meridian_control::testing::{TestDb, as_user};
use meridian_control::{Control, OpContext};
use meridian_core::Signup;
use meridian_core::backbone::BACKBONE;
use std::sync::Arc;

#[tokio::test]
async fn probes_cover_every_edge_never_beat_physics_and_expire() {
    let db = TestDb::fresh().await;
    let control = Control::new(
        db.store.clone(),
        Arc::new(SimulatedDriver::new(SimTiming::instant(), 11)),
    )
    .await
    .unwrap();
    let signup = Signup::parse("Probe Co", "ops@probe.example", "a long enough secret").unwrap();
    let ctx = as_user(
        &control
            .account_signup(&OpContext::anonymous("t"), signup)
            .await
            .unwrap(),
    );
    let start = 10_000_000_000;
    for round in 0..30 {
        assert_eq!(
            control.probe_tick(start + round * 10_000).await.unwrap(),
            BACKBONE.edges().len()
        );
    }
    for edge in BACKBONE.edges() {
        let samples = control.probe_history(&ctx, &[edge.key()], start).await.unwrap();
        assert_eq!(samples.len(), 30, "{}", edge.key());
        for (_, rtt) in samples {
            if let Some(rtt) = rtt {
                assert!(
                    rtt >= edge.fibre_limit_ms && rtt >= edge.modelled_rtt_ms - 0.001,
                    "{} {rtt}",
                    edge.key()
                );
            }
        }
    }
    // A round well past the retention forgets the old samples.
    control
        .probe_tick(start + PROBE_RETENTION_MS + 3_600_000)
        .await
        .unwrap();
    let edge = [BACKBONE.edges()[0].key()];
    assert_eq!(control.probe_history(&ctx, &edge, 0).await.unwrap().len(), 1);
    // Two edges: a row per edge and round, oldest first.
    let two = [BACKBONE.edges()[0].key(), BACKBONE.edges()[1].key()];
    let rows = control.probe_history(&ctx, &two, 0).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.windows(2).all(|pair| pair[0].0 <= pair[1].0));
    assert!(
        control
            .probe_history(&OpContext::anonymous("x"), &edge, 0)
            .await
            .is_err(),
        "signed-in users only"
    );
}

#[tokio::test]
async fn the_map_shows_the_latest_round_and_only_the_tenants_own_footprint() {
    let db = TestDb::fresh().await;
    let control = Control::new(
        db.store.clone(),
        Arc::new(SimulatedDriver::new(SimTiming::instant(), 12)),
    )
    .await
    .unwrap();
    let mut tenants = Vec::new();
    for name in ["Map Co", "Other Co"] {
        let email = format!("ops@{}.example", name.replace(' ', "").to_lowercase());
        let signup = Signup::parse(name, &email, "a long enough secret").unwrap();
        tenants.push(as_user(
            &control
                .account_signup(&OpContext::anonymous("t"), signup)
                .await
                .unwrap(),
        ));
    }
    let (ctx, other) = (&tenants[0], &tenants[1]);
    assert!(
        control.map_view(ctx).await.unwrap().edges.is_empty(),
        "no round yet"
    );
    let vdc = control.vdc_create(ctx, "asia", "hkg1").await.unwrap().id;
    let create = meridian_core::resource::VmCreate::parse(&meridian_core::resource::VmCreateForm {
        name: "edge-1".into(),
        zone: "hkg1".into(),
        template: "debian-12".into(),
        size: "xs".into(),
        ..Default::default()
    })
    .unwrap();
    control.vm_create(ctx, vdc, create).await.unwrap();
    control.job_drain("t").await.unwrap();
    // A minute ago: the map takes jitter and loss over the last hour.
    let start = meridian_control::now_ms() - 60_000;
    for round in 0..3 {
        control.probe_tick(start + round * 10_000).await.unwrap();
    }
    let map = control.map_view(ctx).await.unwrap();
    assert!(map.simulated);
    assert_eq!(map.probed_at, Some(start + 20_000));
    assert_eq!(map.edges.len(), BACKBONE.edges().len());
    for live in &map.edges {
        let load = live.load.unwrap();
        assert!((0.0..1.0).contains(&load), "{live:?}");
        // Jitter and loss over the rounds so far, for every edge, simulated as the rest.
        let loss = live.loss.expect("a loss share");
        assert!((0.0..=1.0).contains(&loss), "{live:?}");
        if loss == 0.0 {
            assert!(live.jitter_ms.is_some_and(|j| j >= 0.0), "{live:?}");
        }
    }
    assert_eq!(map.zones.len(), 1);
    assert_eq!((map.zones[0].zone.as_str(), map.zones[0].running), ("hkg1", 1));
    assert!(map.zones[0].subnet.is_some());
    assert!(
        control.map_view(other).await.unwrap().zones.is_empty(),
        "another tenant's VMs stay hidden"
    );
    let from = meridian_core::zone::ZoneId::parse("lon1").unwrap();
    let to = meridian_core::zone::ZoneId::parse("hkg1").unwrap();
    let history = control.latency_pair_history(ctx, from, to, start).await.unwrap();
    assert_eq!(history.len(), 3);
    let limit = meridian_core::backbone::pair_fibre_limit_ms(from, to);
    for (_, rtt) in history {
        if let Some(rtt) = rtt {
            assert!(rtt > limit, "{rtt} against {limit}");
        }
    }
}
