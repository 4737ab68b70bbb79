//! `meridian-agent`: the host agent binary. Reads its configuration, chooses the accelerator, makes
//! the bridge, registers with the control plane and serves the agent API; the work is in the library.

use anyhow::Context as _;
use clap::Parser;
use meridian_agent::accel::choose_accelerator;
use meridian_agent::api::{self, Agent};
use meridian_agent::host;
use meridian_agent::nic::Network;
use meridian_agent::qemu::{GuestImage, Qemu, QemuConfig};
use meridian_agent::register::Registrar;
use meridian_agent::tenant_net::{PublicEdge, TenantNets};
use meridian_core::agent_api::{API_VERSION, Registration};
use meridian_core::zone::ZoneId;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How often every VM's console log is checked for rotation.
const CONSOLE_ROTATE_EVERY: Duration = Duration::from_secs(30);

/// Meridian's host agent: one per hypervisor host, run as root.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The zone the host is in (a catalogue id such as `lon1`).
    #[arg(long, env = "MERIDIAN_ZONE")]
    zone: String,
    /// The host's name [default: <zone>-<hostname>].
    #[arg(long, env = "MERIDIAN_HOST_NAME")]
    name: Option<String>,
    /// Where the agent keeps its VMs and its host id.
    #[arg(long, env = "MERIDIAN_STATE_DIR", default_value = "/var/lib/meridian-agent")]
    state_dir: PathBuf,
    /// The guest image (built by scripts/guest-image.sh).
    #[arg(long, env = "MERIDIAN_IMAGE_DIR")]
    image_dir: PathBuf,
    /// The QEMU binary.
    #[arg(long, env = "MERIDIAN_QEMU", default_value = "qemu-system-x86_64")]
    qemu: PathBuf,
    /// The address the API listens on.
    #[arg(long, env = "MERIDIAN_LISTEN", default_value = "0.0.0.0:7100")]
    listen: SocketAddr,
    /// The URL the control plane reaches this agent at [default: http://<listen>].
    #[arg(long, env = "MERIDIAN_ENDPOINT")]
    endpoint: Option<String>,
    /// The control plane's base URL, e.g. http://10.254.0.1:3000.
    #[arg(long, env = "MERIDIAN_CONTROL")]
    control: String,
    /// The file holding this host's token (its content, trimmed).
    #[arg(long, env = "MERIDIAN_TOKEN_FILE")]
    token_file: PathBuf,
    /// vCPUs offered to VMs [default: the CPUs available].
    #[arg(long)]
    vcpus: Option<u32>,
    /// Memory offered to VMs, MiB [default: MemTotal less 1 GiB].
    #[arg(long)]
    memory_mib: Option<u64>,
    /// Disk offered to VMs, GiB [default: the free space of the state directory].
    #[arg(long)]
    disk_gib: Option<u64>,
    /// The bridge VM taps are attached to.
    #[arg(long, env = "MERIDIAN_BRIDGE", default_value = "mer0")]
    bridge: String,
    /// Where the accelerator probe's answer is cached [default: <state>/accelerator.json].
    #[arg(long)]
    accelerator_cache: Option<PathBuf>,
    /// This host's address on the backbone, which its tenant networks' VXLAN runs over (the lab
    /// gives 10.200.<zone>.<host>); without it, the host carries no tenant network.
    #[arg(long, env = "MERIDIAN_AGENT_UNDERLAY")]
    underlay: Option<std::net::Ipv4Addr>,

    /// The bridge joining this host to its zone's internet edge (made if absent); with
    /// `--public-gateway`, VMs here may have internet breakout.
    #[arg(long, requires = "public_gateway")]
    public_bridge: Option<String>,

    /// The edge's gateway with the public subnet's prefix, e.g. `198.51.100.254/24`.
    #[arg(long, requires = "public_bridge")]
    public_gateway: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colours only for a terminal: a log file keeps plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    if let Err(e) = run(args).await {
        tracing::error!(error = format!("{e:#}"), "the agent stops");
        return Err(e);
    }
    Ok(())
}

async fn run(args: Args) -> anyhow::Result<()> {
    let zone = ZoneId::parse(&args.zone).map_err(|e| anyhow::anyhow!("--zone {}: {e}", args.zone))?;
    std::fs::create_dir_all(&args.state_dir)
        .with_context(|| format!("state directory {}", args.state_dir.display()))?;
    let host_id = host::host_id(&args.state_dir).context("host id")?;
    let token = std::fs::read_to_string(&args.token_file)
        .with_context(|| format!("token file {}", args.token_file.display()))?
        .trim()
        .to_owned();
    anyhow::ensure!(
        !token.is_empty(),
        "the token file {} is empty",
        args.token_file.display()
    );
    let image = GuestImage::load(&args.image_dir)?;
    let image_name = meridian_agent::qemu::image_name(&image.manifest);

    let network = Network::new(&args.bridge);
    network.ensure_bridge().await.context("the bridge")?;
    let mut nets = TenantNets::new(host_id, args.underlay);
    if let (Some(bridge), Some(gateway)) = (&args.public_bridge, &args.public_gateway) {
        let (address, prefix) = gateway
            .split_once('/')
            .and_then(|(a, p)| Some((a.parse().ok()?, p.parse().ok().filter(|p: &u8| *p <= 30)?)))
            .context("--public-gateway is an IPv4 address with its prefix, e.g. 198.51.100.254/24")?;
        Network::new(bridge)
            .ensure_bridge()
            .await
            .context("the public bridge")?;
        nets = nets.with_public_edge(PublicEdge {
            bridge: bridge.clone(),
            gateway: address,
            prefix,
        });
    }

    let cache = args
        .accelerator_cache
        .clone()
        .unwrap_or_else(|| args.state_dir.join("accelerator.json"));
    let accelerator = choose_accelerator(&args.qemu, &image, &cache, &args.state_dir.join("probe")).await;

    let registration = Registration {
        api_version: API_VERSION,
        host_id,
        name: args
            .name
            .clone()
            .unwrap_or_else(|| format!("{zone}-{}", host::hostname())),
        zone: zone.to_string(),
        vcpus: args.vcpus.unwrap_or_else(host::default_vcpus),
        memory_mib: match args.memory_mib {
            Some(mib) => mib,
            None => host::default_memory_mib().context("memory offered")?,
        },
        disk_gib: match args.disk_gib {
            Some(gib) => gib,
            None => host::default_disk_gib(&args.state_dir).context("disk offered")?,
        },
        accelerator: accelerator.accelerator.name().to_owned(),
        accelerator_reason: accelerator.reason.clone(),
        endpoint: args.endpoint.clone().unwrap_or_else(|| {
            if args.listen.ip().is_unspecified() {
                tracing::warn!(listen = %args.listen, "no --endpoint: the control plane is told an unspecified address");
            }
            format!("http://{}", args.listen)
        }),
        image: image_name,
        underlay: args.underlay.map(|a| a.to_string()),
    };

    let qemu = Qemu::new(QemuConfig {
        state_dir: args.state_dir.clone(),
        binary: args.qemu.clone(),
        image,
        accelerator: accelerator.accelerator,
    });
    let registrar = Registrar::new(&args.control, &token).context("HTTP client")?;
    let (peers, peers_seen) = tokio::sync::watch::channel(Vec::new());
    tokio::spawn(registrar.run(registration.clone(), peers));
    if args.underlay.is_some() {
        tokio::spawn(meridian_agent::probe::run(
            args.control.clone(),
            token.clone(),
            host_id,
            registration.zone.clone(),
            peers_seen,
        ));
    }
    let rotator = qemu.clone();
    tokio::spawn(async move { rotator.rotate_consoles(CONSOLE_ROTATE_EVERY).await });

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listen on {}", args.listen))?;
    tracing::info!(
        listen = %args.listen,
        host.id = %host_id,
        host.name = %registration.name,
        zone = %registration.zone,
        vcpus = registration.vcpus,
        memory_mib = registration.memory_mib,
        disk_gib = registration.disk_gib,
        "agent serving"
    );
    axum::serve(
        listener,
        api::router(Agent::new(qemu, network, nets, registration, &token)),
    )
    .with_graceful_shutdown(shutdown())
    .await
    .context("serving")?;
    tracing::info!("agent stopped (its VMs keep running)");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::warn!(error = %e, "no SIGTERM handler");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
