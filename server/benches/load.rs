//! Load on the real release binary over loopback, at fixed request rates (open loop: latency is
//! counted from when a request was due, so a stalled server cannot hide its queue):
//! an authenticated list of 100 VMs, the overview page, and VM creates; the server's resident
//! memory idle and under that load; and the overview's latency while a flood of failed log-ins
//! from many addresses arrives. Goals (issue #7): list p99 ≤ 5 ms at 2,000 req/s, overview p99
//! ≤ 20 ms at 1,000 req/s, create p99 ≤ 25 ms at 200 req/s, RSS ≤ 100 MB idle and ≤ 300 MB loaded;
//! (issue 24) the VM list page p99 ≤ 5 ms at 2,000 req/s, billing and bandwidth pages ≤ 30 ms and
//! the staff tenant list ≤ 50 ms at 200 req/s.
//!
//! `MERIDIAN_LOAD_SCALE=large` measures on a large database instead of a young one: 10,000 other
//! tenants with 100,000 running VMs (metered), and the measured tenant's last 30 days of hourly
//! usage, 3,000 finished jobs and 3,000 audit entries; `MERIDIAN_LOAD_FLEET_METERED=0` leaves
//! those VMs unmetered (what the size costs without metering's work). PostgreSQL instead of
//! SQLite under `scripts/with-postgres.sh`.
//!
//! Run with `scripts/bench-load.sh` (builds the release binary, pins the server to one core and
//! this load generator to the other).

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

const PASSWORD: &str = "load test password";

struct Server {
    base: String,
    child: Child,
}

impl Server {
    /// Starts `binary` on the database at `database_url`, on the CPU `core`.
    async fn start(
        binary: &str,
        site_root: &str,
        core: &str,
        data_dir: &std::path::Path,
        database_url: &str,
    ) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let staff = Command::new(binary)
            .args([
                "staff",
                "create",
                "--email",
                "load@meridian.example",
                "--role",
                "admin",
            ])
            .args(["--data-dir", data_dir.to_str().unwrap(), "--log", "error"])
            .args(["--database-url", database_url])
            .stdin(Stdio::piped())
            .spawn()
            .expect("run meridian staff create");
        feed(staff, PASSWORD).await;
        let child = Command::new("taskset")
            .args([
                "-c",
                core,
                binary,
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .args([
                "--data-dir",
                data_dir.to_str().unwrap(),
                "--database-url",
                database_url,
                "--log",
                "error",
                "--sim-timing",
                "fast",
            ])
            // The load comes from one address through a "proxy" we trust, so the log-in flood can
            // pose as many clients.
            .args(["--trusted-proxy", "127.0.0.1", "--site-root", site_root])
            .kill_on_drop(true)
            .spawn()
            .expect("start meridian (is taskset installed?)");
        let client = reqwest::Client::new();
        let started = Instant::now();
        while client.get(format!("{base}/healthz")).send().await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "server never answered"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self { base, child }
    }

    /// Resident memory now and at its peak, in MB.
    fn memory_mb(&self) -> (f64, f64) {
        let pid = self.child.id().expect("server running");
        // The child is taskset, which execs the server: same pid.
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
                .unwrap_or(0.0)
                / 1024.0
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

async fn feed(mut child: Child, input: &str) {
    use tokio::io::AsyncWriteExt;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{input}\n").as_bytes()).await.unwrap();
    drop(stdin);
    assert!(
        child.wait().await.unwrap().success(),
        "meridian staff create failed"
    );
}

/// A browser-like client: keeps cookies, says where it comes from.
struct Browser {
    http: reqwest::Client,
    base: String,
}

impl Browser {
    fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .pool_max_idle_per_host(256)
                .build()
                .unwrap(),
            base: base.to_owned(),
        }
    }

    fn post(&self, name: &str, form: &[(&str, &str)]) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/fn/{name}", self.base))
            .header("Origin", &self.base)
            .form(form)
    }

    async fn call(&self, name: &str, form: &[(&str, &str)]) -> serde_json::Value {
        let response = self.post(name, form).send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(status.is_success(), "{name}: {status} {body}");
        serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body))
    }
}

/// The status `request` was answered with once its whole body arrived (None: no answer).
async fn answered(request: reqwest::RequestBuilder) -> Option<u16> {
    let response = request.send().await.ok()?;
    let status = response.status().as_u16();
    response.bytes().await.ok()?;
    Some(status)
}

/// One fixed-rate run: the latencies of the requests answered with success, how many were
/// refused at once because the server was full (503), and how many failed otherwise.
struct Run {
    label: String,
    rate: u32,
    latencies_ms: Vec<f64>,
    statuses: Vec<Option<u16>>,
    shed: usize,
    errors: usize,
    elapsed: Duration,
}

impl Run {
    fn percentile(&self, p: f64) -> f64 {
        let mut sorted = self.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        if sorted.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }

    fn report(&self, goal_p99_ms: Option<f64>) {
        let achieved = self.latencies_ms.len() as f64 / self.elapsed.as_secs_f64();
        let p99 = self.percentile(99.0);
        let verdict = match goal_p99_ms {
            Some(goal) if p99 <= goal => format!("meets p99 ≤ {goal} ms"),
            Some(goal) => format!("MISSES p99 ≤ {goal} ms"),
            None => String::new(),
        };
        println!(
            "{:<34} {:>5} req/s offered, {:>7.0} answered/s, shed {:>5}, errors {:>4}: p50 {:>7.2} ms  p90 {:>7.2}  p99 {:>7.2}  max {:>8.2}  {verdict}",
            self.label,
            self.rate,
            achieved,
            self.shed,
            self.errors,
            self.percentile(50.0),
            self.percentile(90.0),
            p99,
            self.percentile(100.0),
        );
    }
}

/// Sends `make(i)` at `rate` per second for `seconds`, each on time whatever the others do.
async fn fixed_rate<F, Fut>(label: &str, rate: u32, seconds: u32, make: F) -> Run
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Option<u16>> + Send + 'static,
{
    let make = Arc::new(make);
    let total = u64::from(rate * seconds);
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = started + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        let make = Arc::clone(&make);
        tasks.push(tokio::spawn(async move {
            let status = make(i).await;
            (due.elapsed().as_secs_f64() * 1000.0, status)
        }));
    }
    let mut run = Run {
        label: label.to_owned(),
        rate,
        latencies_ms: Vec::with_capacity(tasks.len()),
        statuses: Vec::with_capacity(tasks.len()),
        shed: 0,
        errors: 0,
        elapsed: Duration::ZERO,
    };
    for task in tasks {
        let (ms, status) = task.await.unwrap();
        match status {
            Some(200..=299) => run.latencies_ms.push(ms),
            Some(503) => run.shed += 1,
            _ => run.errors += 1,
        }
        run.statuses.push(status);
    }
    run.elapsed = started.elapsed();
    run
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    // Cargo runs benches in the package's directory: the workspace's paths are one level up.
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: &str| {
        args.windows(2)
            .find(|w| w[0] == name)
            .map_or(default.to_owned(), |w| w[1].clone())
    };
    let binary = arg("--binary", "../target/release/meridian");
    let site_root = arg("--site-root", "../target/site");
    let server_core = std::env::var("MERIDIAN_LOAD_SERVER_CORE").unwrap_or_else(|_| "0".into());
    let seconds: u32 = std::env::var("MERIDIAN_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let large = std::env::var("MERIDIAN_LOAD_SCALE").is_ok_and(|scale| scale == "large");
    let data_dir = tempfile::tempdir().unwrap();
    // PostgreSQL when the test run names a server (scripts/with-postgres.sh), else SQLite.
    let postgres = std::env::var("MERIDIAN_TEST_DATABASE_URL").is_ok_and(|url| url.starts_with("postgres"));
    let (database_url, _postgres_db) = if postgres {
        let db = meridian_control::testing::TestDb::fresh().await;
        (db.url.clone(), Some(db))
    } else {
        let url = format!(
            "sqlite://{}?mode=rwc",
            data_dir.path().join("meridian.db").display()
        );
        (url, None)
    };
    let store = meridian_control::store::Store::connect(&database_url)
        .await
        .expect("database");
    store.migrate().await.expect("migrated");
    // MERIDIAN_LOAD_FLEET_METERED=0 leaves the seeded fleet unmetered: what the size alone costs.
    let fleet_metered = std::env::var("MERIDIAN_LOAD_FLEET_METERED").map_or(true, |m| m != "0");
    if large {
        // Ten thousand other tenants with ten running VMs each, metered from now on.
        let started = Instant::now();
        let since = fleet_metered.then(meridian_control::store::now_ms);
        meridian_control::testing::seed_fleet(&store, 10_000, 10, since)
            .await
            .expect("fleet seeded");
        println!(
            "seeded 10,000 tenants and 100,000 running VMs in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let server = Server::start(&binary, &site_root, &server_core, data_dir.path(), &database_url).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (idle_rss, _) = server.memory_mb();
    println!(
        "server {binary} on core {server_core}, {}, {}; {seconds} s per run",
        if postgres { "PostgreSQL" } else { "SQLite" },
        match (large, fleet_metered) {
            (false, _) => "young database",
            (true, true) => "large database, its 100,000 VMs metered",
            (true, false) => "large database, its 100,000 VMs not metered",
        }
    );
    println!("resident memory idle: {idle_rss:.1} MB (goal ≤ 100 MB)");

    // A tenant with room for the load, VDCs in every zone, and 100 VMs.
    let owner = Arc::new(Browser::new(&server.base));
    owner
        .call(
            "account_signup",
            &[
                ("tenant_name", "Load Co"),
                ("email", "ops@load.example"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let staff = Browser::new(&server.base);
    staff
        .call(
            "staff_login",
            &[("email", "load@meridian.example"), ("password", PASSWORD)],
        )
        .await;
    let tenants = staff.call("staff_tenants", &[("q", "Load Co")]).await;
    let tenant = tenants["tenants"][0]["id"]
        .as_str()
        .expect("the tenant")
        .to_owned();
    staff
        .call(
            "staff_quota_set",
            &[
                ("tenant_id", &tenant),
                ("max_vms", "5000"),
                ("max_vcpus", "5000"),
                ("max_memory_mib", "10000000"),
                ("max_public_ips", "10"),
            ],
        )
        .await;
    let mut vdcs = Vec::new();
    for zone in &meridian_core::zone::ZONES {
        let zone = zone.id.as_str();
        let vdc = owner
            .call("vdc_create", &[("name", &format!("load-{zone}")), ("zone", zone)])
            .await;
        vdcs.push(vdc["id"].as_str().unwrap().to_owned());
    }
    for i in 0..100 {
        let vdc = &vdcs[i % vdcs.len()];
        owner
            .call(
                "vm_create",
                &[
                    ("vdc_id", vdc),
                    ("name", &format!("base-{i}")),
                    ("template", "debian-12"),
                    ("size", "xs"),
                ],
            )
            .await;
    }
    let vms = owner.call("vm_list", &[]).await;
    assert_eq!(vms.as_array().map(Vec::len), Some(100), "100 VMs listed");
    if large {
        // The measured tenant's month: every hour of its 100 VMs for 30 days, 3,000 finished jobs
        // and 3,000 audit entries.
        let started = Instant::now();
        meridian_control::testing::seed_history(&store, &tenant, 30, 3_000, 3_000)
            .await
            .expect("history seeded");
        println!(
            "seeded the tenant's 30 days of usage, jobs and audit in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }

    let list = {
        let owner = Arc::clone(&owner);
        fixed_rate("list 100 VMs (POST /fn/vm_list)", 2_000, seconds, move |_| {
            let request = owner.post("vm_list", &[]);
            async move { answered(request).await }
        })
        .await
    };
    list.report(Some(5.0));

    let overview = |label: &'static str| {
        let owner = Arc::clone(&owner);
        fixed_rate(label, 1_000, seconds, move |_| {
            let request = owner.http.get(format!("{}/", owner.base));
            async move { answered(request).await }
        })
    };
    overview("overview page (GET /)").await.report(Some(20.0));

    // The other pages whose work could grow with history or with the number of tenants.
    let owner_pages = [
        ("VM list page (GET /vms)", "/vms", 2_000, 5.0),
        ("billing page (GET /billing)", "/billing", 200, 30.0),
        ("bandwidth page (GET /bandwidth)", "/bandwidth", 200, 30.0),
    ];
    for (label, path, rate, goal) in owner_pages {
        let owner = Arc::clone(&owner);
        fixed_rate(label, rate, seconds, move |_| {
            let request = owner.http.get(format!("{}{path}", owner.base));
            async move { answered(request).await }
        })
        .await
        .report(Some(goal));
    }
    let staff = Arc::new(staff);
    {
        let staff = Arc::clone(&staff);
        // Every other request a search, the rest the first page, newest first.
        fixed_rate("staff tenant list (GET /staff)", 200, seconds, move |i| {
            let path = if i % 2 == 0 {
                "/staff"
            } else {
                "/staff?q=Fleet%2000042&sort=name"
            };
            let request = staff.http.get(format!("{}{path}", staff.base));
            async move { answered(request).await }
        })
        .await
        .report(Some(50.0));
    }

    // The same overview load during log-in floods (before the creates, so the tenant still has
    // its 100 VMs and no jobs run): from one address (throttled after 30, then
    // answered 429 without hashing), and from ever new addresses guessing ever new accounts (no
    // throttle can tell them apart, so each is hashed; hashing is held to one per core).
    for (label, per_second, spread) in [
        ("overview during a 200/s one-address flood", 200u32, false),
        ("overview during a 20/s many-address flood", 20, true),
    ] {
        let flood = tokio::spawn(login_flood(server.base.clone(), per_second, seconds, spread));
        let during = overview(label).await;
        let (refused, throttled, shed) = flood.await.unwrap();
        during.report(Some(20.0));
        println!(
            "    the flood: {refused} refused after hashing, {throttled} answered 429 without hashing, {shed} shed"
        );
    }
    let vdcs = Arc::new(vdcs);
    let create = {
        let owner = Arc::clone(&owner);
        let vdcs = Arc::clone(&vdcs);
        fixed_rate("VM create (POST /fn/vm_create)", 200, seconds.min(5), move |i| {
            let vdc = vdcs[i as usize % vdcs.len()].clone();
            let request = owner.post(
                "vm_create",
                &[
                    ("vdc_id", vdc.as_str()),
                    ("name", &format!("load-{i}")),
                    ("template", "debian-12"),
                    ("size", "xs"),
                ],
            );
            async move { answered(request).await }
        })
        .await
    };
    create.report(Some(25.0));
    let (now_rss, peak_rss) = server.memory_mb();
    println!("resident memory after the load: {now_rss:.1} MB, peak {peak_rss:.1} MB (goal ≤ 300 MB)");
}

/// Failed log-ins at `per_second` for `seconds`; from new forwarded addresses if `spread`.
/// Returns (refused after checking the password, throttled with 429, shed with 503).
async fn login_flood(base: String, per_second: u32, seconds: u32, spread: bool) -> (usize, usize, usize) {
    let http = reqwest::Client::new();
    let run = fixed_rate("flood", per_second, seconds, move |i| {
        let mut request = http.post(format!("{base}/fn/account_login")).form(&[
            ("email", format!("guess{i}@load.example")),
            ("password", "a wrong guess".into()),
        ]);
        if spread {
            request = request.header(
                "X-Forwarded-For",
                format!("10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255),
            );
        }
        async move { answered(request).await }
    })
    .await;
    let count = |wanted: u16| run.statuses.iter().filter(|s| **s == Some(wanted)).count();
    (count(401), count(429), count(503))
}
