//! Metering at scale (issue 24): 100,000 running VMs of 10,000 tenants, each VM in two zones'
//! network, metered one minute — the first tick (every usage row, graph row and daily sum new)
//! and the next (the same rows added to) — on the store the test run asks for
//! (`MERIDIAN_TEST_DATABASE_URL`; SQLite by default). Goal: ≤ 2 s of CPU a tick (a minute) on
//! either database. Prints the wall time and the CPU time of this process (the control plane,
//! and SQLite, which runs in it) and of PostgreSQL's processes.
//!
//! `cargo bench -p meridian-control --bench metering` (SQLite);
//! `scripts/with-postgres.sh cargo bench -p meridian-control --bench metering` (PostgreSQL).
//! `METER_BENCH_VMS` changes the number of VMs (ten a tenant).

use meridian_control::Control;
use meridian_control::driver::simulated::{SimTiming, SimulatedDriver};
use meridian_control::testing::TestDb;
use std::sync::Arc;
use std::time::Instant;

const VMS_PER_TENANT: usize = 10;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let vms: usize = std::env::var("METER_BENCH_VMS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let db = TestDb::fresh().await;
    let driver = Arc::new(SimulatedDriver::new(SimTiming::instant(), 1));
    let control = Control::new(db.store.clone(), driver)
        .await
        .expect("control plane");
    let minute = 60_000;
    let start = (meridian_control::store::now_ms() / minute - 10) * minute;
    let seeding = Instant::now();
    meridian_control::testing::seed_fleet(&db.store, vms / VMS_PER_TENANT, VMS_PER_TENANT, Some(start))
        .await
        .expect("fleet seeded");
    println!(
        "database: {}; seeded {} tenants and {vms} running VMs in {:.1} s",
        if db.url.starts_with("postgres") {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        vms / VMS_PER_TENANT,
        seeding.elapsed().as_secs_f64()
    );
    for (n, what) in [
        "first tick (rows new)",
        "second tick (rows added to)",
        "third tick",
    ]
    .iter()
    .enumerate()
    {
        let at = start + (n as i64 + 1) * minute;
        let (cpu, pg) = (own_cpu_s(), postgres_cpu_s());
        let wall = Instant::now();
        let metered = control.meter_tick(at).await.expect("tick");
        let wall = wall.elapsed().as_secs_f64();
        let (cpu, pg) = (own_cpu_s() - cpu, postgres_cpu_s() - pg);
        assert_eq!(metered, vms, "every VM metered");
        println!(
            "{what}: {metered} VMs in {wall:.2} s wall; CPU {cpu:.2} s here + {pg:.2} s PostgreSQL = {:.2} s",
            cpu + pg
        );
    }
}

/// CPU seconds (user and system) this process has used.
fn own_cpu_s() -> f64 {
    stat_cpu_s(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default())
}

/// CPU seconds every `postgres` process on the machine has used (0 without PostgreSQL).
fn postgres_cpu_s() -> f64 {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    procs
        .flatten()
        .filter(|p| std::fs::read_to_string(p.path().join("comm")).is_ok_and(|c| c.trim() == "postgres"))
        .map(|p| stat_cpu_s(&std::fs::read_to_string(p.path().join("stat")).unwrap_or_default()))
        .sum()
}

/// utime + stime of a `/proc/PID/stat` line, in seconds (clock ticks of 1/100 s).
fn stat_cpu_s(stat: &str) -> f64 {
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of the line; 12 and 13 counted after the name and state.
    (ticks(11) + ticks(12)) / 100.0
}
