//! The `meridian` binary: parse configuration, set up logging, migrate, serve.

use clap::Parser;
use meridian::config::{Cli, Command, Config, LogFormat, StaffCommand};
use meridian_control::{Control, Store};
use std::process::ExitCode;

/// Stack for each runtime worker: rendering a large page nests deep (the VM form overflowed the
/// default 2 MiB in a debug build).
const WORKER_STACK: usize = 8 << 20;

fn main() -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(WORKER_STACK)
        .build()
    {
        Ok(runtime) => runtime.block_on(run()),
        Err(error) => {
            eprintln!("meridian: could not start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> ExitCode {
    let cli = Cli::parse();
    // A client command talks to a server over its API: none of the server's settings apply.
    if let Some(Command::Client(command)) = cli.command {
        return meridian::client::run(command, &cli.client).await;
    }
    let config = match cli.settings.validate() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("meridian: invalid configuration: {error:#}");
            return ExitCode::from(2);
        }
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&config.log))
        // Colours only for a terminal: a log file keeps plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match config.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().with_current_span(true).with_span_list(false).init(),
    }
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => migrate(&config).await.map(|_| ()),
        Command::Staff(StaffCommand::Create { email, role }) => staff_create(&config, &email, &role).await,
        Command::Invariants => invariants(&config).await,
        Command::Client(_) => Ok(()),
        Command::AgentToken { host_id, backbone } => {
            secret_file(&config.data_dir, "agent.key").map(|secret| {
                let id = match host_id {
                    Some(id) if !backbone => id,
                    _ => meridian_core::agent_api::BACKBONE_CONTROLLER,
                };
                println!("{}", meridian_core::agent_api::host_token(&secret, id));
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("meridian: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(config: &Config) -> anyhow::Result<Store> {
    use anyhow::Context;
    let store = Store::connect(&config.database_url)
        .await
        .context("cannot open the database")?;
    store.migrate().await.context("cannot apply migrations")?;
    tracing::info!(backend = ?store.backend(), "database migrated");
    Ok(store)
}

/// `meridian staff create`: the only way a staff account comes to be.
async fn staff_create(config: &Config, email: &str, role: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    let mut password = String::new();
    std::io::stdin()
        .read_line(&mut password)
        .context("cannot read the password from standard input")?;
    let password = password.trim_end_matches(['\r', '\n']);
    let store = migrate(config).await?;
    let control = Control::new(store.clone(), meridian::driver(config, &store, &[]))
        .await
        .context("cannot start the control plane")?;
    let staff = control.staff_create(email, password, role).await?;
    store.close().await;
    println!(
        "Created {} staff member {} ({}).",
        staff.role, staff.email, staff.id
    );
    Ok(())
}

/// `meridian invariants`: the invariant checker over the database, for operators and the lab's
/// crash tests.
async fn invariants(config: &Config) -> anyhow::Result<()> {
    use anyhow::Context;
    let store = migrate(config).await?;
    let control = Control::new(store.clone(), meridian::driver(config, &store, &[]))
        .await
        .context("cannot start the control plane")?;
    let broken = control.invariants_check(false).await?;
    store.close().await;
    for line in &broken {
        println!("{line}");
    }
    anyhow::ensure!(broken.is_empty(), "{} invariants broken", broken.len());
    println!("All invariants hold.");
    Ok(())
}

/// A secret kept in the data directory as `name` (`api-master.key`: API key secrets derive from
/// it; `agent.key`: host agents' tokens do), made (random, readable by this user only) on first
/// use. Servers sharing a database must share them. Two servers starting at once on a fresh
/// directory agree on one: the file is written whole under a temporary name and linked into place,
/// which fails if the other got there first.
fn secret_file(data_dir: &std::path::Path, name: &str) -> anyhow::Result<Vec<u8>> {
    use anyhow::Context;
    use std::io::Write as _;
    let path = data_dir.join(name);
    let read = |path: &std::path::Path| -> anyhow::Result<Option<Vec<u8>>> {
        match std::fs::read(path) {
            Ok(secret) if secret.len() >= 32 => Ok(Some(secret)),
            Ok(_) => anyhow::bail!(
                "{} is shorter than 32 bytes: remove it to make a new one (what was derived from it stops working)",
                path.display()
            ),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
        }
    };
    if let Some(secret) = read(&path)? {
        return Ok(secret);
    }
    std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    let secret: [u8; 32] = rand::random();
    let draft = data_dir.join(format!("{name}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(&draft)
        .and_then(|mut file| file.write_all(&secret).and_then(|()| file.sync_all()))
        .with_context(|| format!("cannot write {}", draft.display()))?;
    let linked = std::fs::hard_link(&draft, &path);
    let _ = std::fs::remove_file(&draft);
    match linked {
        Ok(()) => {
            tracing::info!(path = %path.display(), "made a new secret");
            Ok(secret.to_vec())
        }
        // Another server made it a moment ago: use theirs.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            read(&path)?.with_context(|| format!("{} vanished", path.display()))
        }
        Err(error) => Err(error).with_context(|| format!("cannot write {}", path.display())),
    }
}

/// This server's worker identity, kept in `DATA_DIR/worker-id` (made on first start, written whole
/// under a temporary name and linked into place so that two servers starting at once agree).
fn worker_id(data_dir: &std::path::Path) -> anyhow::Result<String> {
    use anyhow::Context;
    let path = data_dir.join("worker-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim();
        if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Ok(id.to_owned());
        }
    }
    std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    let draft = data_dir.join(format!("worker-id.{}.tmp", std::process::id()));
    std::fs::write(&draft, uuid::Uuid::new_v4().to_string())
        .with_context(|| format!("cannot write {}", draft.display()))?;
    // A concurrent first start may have linked its own already: then that one is the identity.
    let _ = std::fs::hard_link(&draft, &path);
    let _ = std::fs::remove_file(&draft);
    let id = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let id = id.trim();
    anyhow::ensure!(
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
        "{} holds no valid worker identity: remove it to make a new one",
        path.display()
    );
    Ok(id.to_owned())
}

/// How long a starting server waits for another's SQLite lock (see `sqlite_server_lock`).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// On SQLite, the one server a database file may have: an exclusive lock on `<file>.lock`, held
/// while the process lives (the system lets go when it ends, also on a crash). This process writes
/// the file alone (its writes take turns on one connection, and what it remembers of sessions is
/// exact only so); a second server there is refused with a message instead. PostgreSQL takes any
/// number of servers: `None`.
fn sqlite_server_lock(database_url: &str) -> anyhow::Result<Option<std::fs::File>> {
    use anyhow::Context;
    let Some(rest) = database_url.strip_prefix("sqlite:") else {
        return Ok(None);
    };
    let path = rest.trim_start_matches("//");
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() || path == ":memory:" {
        return Ok(None);
    }
    let lock_path = format!("{path}.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open {lock_path}"))?;
    // A server killed a moment ago may still be exiting (its last threads closing its files): a
    // restart right after a crash waits a few seconds for its lock before giving up.
    let mut waited = std::time::Duration::ZERO;
    let mut locked = file.try_lock();
    while matches!(locked, Err(std::fs::TryLockError::WouldBlock)) && waited < LOCK_WAIT {
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += std::time::Duration::from_millis(100);
        locked = file.try_lock();
    }
    match locked {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another Meridian server is already serving {path} (it holds {lock_path}); \
             run one server per SQLite database, or use PostgreSQL for several"
        ),
        Err(std::fs::TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("cannot lock {lock_path}"))
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    use anyhow::Context;
    let started = std::time::Instant::now();
    if !config.site_root.join(meridian::ASSET_NAMES).exists() {
        tracing::warn!(
            site_root = %config.site_root.display(),
            "browser assets not found: pages will render but not hydrate (build them with scripts/build.sh)"
        );
    }
    let _sole_server = sqlite_server_lock(&config.database_url)?;
    let store = migrate(&config).await?;
    let agent_secret = secret_file(&config.data_dir, "agent.key")?;
    let control = Control::new(store.clone(), meridian::driver(&config, &store, &agent_secret))
        .await
        .context("cannot start the control plane")?
        .with_job_lease_ms(i64::from(config.job_lease_ms))
        .with_demo(config.demo)
        .with_cloudstack_require_expires(config.cloudstack_require_expires)
        .with_api_master_secret(&secret_file(&config.data_dir, "api-master.key")?)
        .with_agent_secret(agent_secret.into());
    if config.demo {
        meridian::spawn_demo_seed(control.clone());
    }
    if let Some(address) = config.metrics_listen {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address} for metrics"))?;
        let metrics = meridian::metrics::router(meridian::metrics::install());
        meridian::metrics::spawn_sampler(control.clone());
        tracing::info!(address = %address, "Prometheus metrics at /metrics");
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, metrics).await {
                tracing::error!(error.detail = %error, "metrics listener stopped");
            }
        });
    }
    meridian::spawn_session_sweeper(control.clone());
    meridian::spawn_meter(control.clone(), config.meter_every);
    meridian::spawn_prober(control.clone());
    meridian::spawn_scaler(control.clone());
    if config.driver == meridian::config::DriverChoice::Agents {
        meridian::spawn_reconciler(control.clone(), config.reconcile_every, config.orphan_grace);
    }
    // A stable worker identity: a restart takes back its predecessor's jobs at once.
    let identity = control
        .worker_identity_take(&worker_id(&config.data_dir)?)
        .await
        .context("cannot take the job workers' identity")?;
    tracing::info!(worker.identity = %identity.name, jobs.released = identity.released, "job workers ready");
    // Owners are IDENTITY/BOOT/n#cohort#: this start's own, so that even a process that lost its
    // guard (a database failover) never shares a lease owner with its successor.
    let owner = format!("{}/{}", identity.name, uuid::Uuid::new_v4().simple());
    let (stop_workers, workers) = meridian::spawn_workers_named(&control, config.workers, &owner);
    let app = meridian::router(&config, control);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracing::info!(
        address = %listener.local_addr()?,
        startup_ms = started.elapsed().as_millis() as u64,
        secure_cookies = config.secure_cookies,
        "Meridian is serving on http://{}",
        listener.local_addr()?
    );
    meridian::serve(listener, app, config.header_timeout, shutdown_signal()).await;
    let _ = stop_workers.send(true);
    for worker in workers {
        let _ = worker.await;
    }
    store.close().await;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM, so in-flight requests finish before exit.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(error.detail = %error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(error.detail = %error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received: finishing in-flight requests");
}
