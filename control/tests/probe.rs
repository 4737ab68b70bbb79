//! Latency probes: stored per edge, never below the fibre limit, forgotten after the retention.

use meridian_control::driver::simulated::{SimTiming, SimulatedDriver};
use meridian_control::probe::{PROBE_RETENTION_MS, edge_key};
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
        let samples = control.probe_history(&ctx, &edge_key(edge), start).await.unwrap();
        assert_eq!(samples.len(), 30, "{}", edge_key(edge));
        for (_, rtt) in samples {
            if let Some(rtt) = rtt {
                assert!(
                    rtt >= edge.fibre_limit_ms && rtt >= edge.modelled_rtt_ms - 0.001,
                    "{} {rtt}",
                    edge_key(edge)
                );
            }
        }
    }
    // A round well past the retention forgets the old samples.
    control
        .probe_tick(start + PROBE_RETENTION_MS + 3_600_000)
        .await
        .unwrap();
    let edge = edge_key(&BACKBONE.edges()[0]);
    assert_eq!(control.probe_history(&ctx, &edge, 0).await.unwrap().len(), 1);
    assert!(
        control
            .probe_history(&OpContext::anonymous("x"), &edge, 0)
            .await
            .is_err(),
        "signed-in users only"
    );
}
