//! Server-side rendering of the backbone map page: a signed-in tenant with VMs in three zones,
//! a day of latency probes behind the history chart, and `GET /map` timed over loopback (the
//! whole page: session, map data, route, chart). Goal: ≤ 20 ms. Run with
//! `cargo bench -p meridian --bench map_ssr`.

use meridian::config::{Config, SimTimingChoice};
use meridian_control::driver::simulated::{SimTiming, SimulatedDriver};
use meridian_control::store::now_ms;
use meridian_control::testing::TestDb;
use meridian_control::{Actor, Control, OpContext};
use meridian_core::resource::{VmCreate, VmCreateForm};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ROUNDS: usize = 300;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let db = TestDb::fresh().await;
    let control = Control::new(
        db.store.clone(),
        Arc::new(SimulatedDriver::new(SimTiming::instant(), 3)),
    )
    .await
    .expect("control plane");
    // A day of probe rounds every 10 s, as a server that has run for a day holds.
    let now = now_ms();
    let started = Instant::now();
    for round in (0..8_640).rev() {
        control
            .probe_tick(now - round * 10_000)
            .await
            .expect("probe round");
    }
    println!(
        "backfilled a day of probes in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let config = Config {
        listen: "127.0.0.1:0".parse().expect("address"),
        database_url: db.url.clone(),
        data_dir: std::env::temp_dir(),
        log: "warn".into(),
        site_root: "target/site".into(),
        secure_cookies: false,
        public_origin: None,
        session_idle: Duration::from_secs(3600),
        session_max: Duration::from_secs(3600),
        sim_timing: SimTimingChoice::Fast,
        driver: meridian::config::DriverChoice::Simulated,
        reconcile_every: std::time::Duration::from_secs(15),
        orphan_grace: std::time::Duration::from_secs(60),
        meter_every: std::time::Duration::from_secs(60),
        workers: 1,
        job_lease_ms: 5000,
        demo: false,
        trusted_proxies: std::sync::Arc::from([]),
        header_timeout: Duration::from_secs(10),
        body_timeout: Duration::from_secs(30),
        cloudstack_require_expires: false,
        metrics_listen: None,
        log_format: meridian::config::LogFormat::Text,
    };
    let app = meridian::router(&config, control.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(meridian::serve(
        listener,
        app,
        config.header_timeout,
        std::future::pending(),
    ));
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let signed_up = client
        .post(format!("{base}/fn/account_signup"))
        .header("Origin", &base)
        .form(&[
            ("tenant_name", "Map Bench"),
            ("email", "bench@map.example"),
            ("password", "correct horse battery staple"),
        ])
        .send()
        .await
        .expect("sign-up");
    assert!(signed_up.status().is_success(), "{}", signed_up.status());

    // The tenant's VMs in London, Los Angeles and Hong Kong, made through the control plane.
    let email = meridian_core::Email::parse("bench@map.example").expect("address");
    let user = db.store.user_by_email(&email).await.expect("user").expect("user");
    let ctx = OpContext {
        actor: Actor::User {
            user_id: user.id,
            tenant_id: user.tenant_id,
            role: user.role,
        },
        request_id: "bench".into(),
        client: None,
        via: None,
    };
    let mut creates = Vec::new();
    for zone in ["lon1", "lax1", "hkg1"] {
        let vdc = control
            .vdc_create(&ctx, &format!("v-{zone}"), zone)
            .await
            .expect("vdc")
            .id;
        for n in 0..3 {
            let form = VmCreateForm {
                name: format!("{zone}-{n}"),
                zone: zone.into(),
                template: "coreos-docker".into(),
                size: "s".into(),
                ..VmCreateForm::default()
            };
            creates.push((vdc.clone(), VmCreate::parse(&form).expect("valid VM")));
        }
    }
    control.vm_create_many(&ctx, creates).await.expect("VMs");
    control.job_drain("bench").await.expect("drain");

    let page = client
        .get(format!("{base}/map"))
        .send()
        .await
        .expect("map")
        .text()
        .await
        .expect("body");
    assert_eq!(
        page.matches("aria-label=\"Zone ").count(),
        16 * 2,
        "16 zones on the map and the inset"
    );
    assert!(
        page.contains("London → Hong Kong: median"),
        "the history chart rendered"
    );
    for _ in 0..20 {
        client
            .get(format!("{base}/map"))
            .send()
            .await
            .expect("warm-up")
            .bytes()
            .await
            .expect("body");
    }
    let mut times = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let response = client.get(format!("{base}/map")).send().await.expect("map");
        assert!(response.status().is_success());
        response.bytes().await.expect("body");
        times.push(started.elapsed());
    }
    times.sort();
    let at = |q: f64| {
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "an index"
        )]
        let i = ((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1;
        times[i].as_secs_f64() * 1000.0
    };
    println!(
        "GET /map ({} bytes, signed in, {ROUNDS} requests one after another): min {:.2} ms, median {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        page.len(),
        at(0.0),
        at(0.5),
        at(0.95),
        at(1.0)
    );
}
