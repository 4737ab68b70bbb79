//! The nine-node MongoDB stack (3 VMs each in Los Angeles, London and Berlin) from the click to
//! every VM running, with the simulated driver's fast timing (goal ≤ 2 s) and its realistic
//! timing (the platform's original demo: about 90 s). Run with
//! `cargo bench -p meridian-control --bench stack_spinup`.

use meridian_control::driver::simulated::{SimTiming, SimulatedDriver};
use meridian_control::testing::{TestDb, as_user};
use meridian_control::{Control, OpContext};
use meridian_core::Signup;
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn spin_up(timing: SimTiming, label: &str) {
    let db = TestDb::fresh().await;
    let control = Control::new(db.store.clone(), Arc::new(SimulatedDriver::new(timing, 1)))
        .await
        .expect("control plane");
    let signup = Signup::parse("Bench", "bench@stack.example", "a long enough secret").expect("sign-up");
    let ctx = as_user(
        &control
            .account_signup(&OpContext::anonymous("b"), signup)
            .await
            .expect("account"),
    );
    // Two workers, as the server runs by default.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers: Vec<_> = (0..2)
        .map(|n| {
            let control = control.clone();
            let stopped = stopped.clone();
            tokio::spawn(async move { control.worker_run(format!("bench-{n}"), stopped).await })
        })
        .collect();
    let clicked = Instant::now();
    let stack = control
        .stack_create(&ctx, "mongodb-9", "rs0")
        .await
        .expect("stack");
    loop {
        let view = control.stack_view(&ctx, stack.id).await.expect("view");
        if view.stack.state != "deploying" {
            assert_eq!(view.stack.state, "ready");
            let measured = view.stack.ready_at.expect("ready") - view.stack.created_at;
            println!(
                "{label}: 9 VMs running {:.2} s after the click (the stack records {measured} ms)",
                clicked.elapsed().as_secs_f64()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.send(true).expect("stop");
    for worker in workers {
        worker.await.expect("worker");
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    spin_up(SimTiming::fast(), "fast timing (1 ms per hardware operation)").await;
    spin_up(
        SimTiming::realistic(),
        "realistic timing (disk 6 s, boot 18 s, …)",
    )
    .await;
}
