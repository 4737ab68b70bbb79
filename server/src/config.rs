//! Command line and `MERIDIAN_*` environment configuration, validated before anything starts.

use clap::{Parser, Subcommand};
use meridian_control::Backend;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Meridian: a private-by-default, multi-zone cloud control plane and dashboard, and its
/// tenants' command-line client.
#[derive(Debug, Parser)]
#[command(name = "meridian", version, about)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings shared by every command.
    #[command(flatten)]
    pub settings: Settings,
    /// Options of the client commands (`login`, `vm`, …).
    #[command(flatten)]
    pub client: crate::client::ClientOptions,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply migrations, then serve the dashboard and APIs (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage Meridian's own staff accounts (there is no sign-up for staff).
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Check the invariants between the database's records (VMs, hosts, quotas, addresses, jobs)
    /// and print what is broken; exits 1 if anything is.
    Invariants,
    /// Print the token of a host agent's host, or with `--backbone` of the backbone's controller
    /// (from `agent.key` in the data directory, made if absent): what `meridian-agent
    /// --token-file` reads.
    AgentToken {
        /// The host's id (its agent keeps it in `STATE_DIR/host-id`).
        #[arg(long, required_unless_present = "backbone", conflicts_with = "backbone")]
        host_id: Option<uuid::Uuid>,
        /// The token of the backbone's controller instead (it reads the links staff cut).
        #[arg(long)]
        backbone: bool,
    },
    /// Client commands: a tenant's VDCs, VMs, breakout, firewall and usage over the REST API.
    #[command(flatten)]
    Client(crate::client::ClientCommand),
}

/// Staff account commands.
#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Create a staff account. The password is read from standard input (one line), so it stays
    /// out of the shell history and the process list.
    Create {
        /// The staff member's e-mail address (their log-in).
        #[arg(long)]
        email: String,
        /// `support` (read-only) or `admin` (may also suspend tenants, change quotas, retry and
        /// cancel jobs).
        #[arg(long)]
        role: String,
    },
}

/// Settings, each from a flag or its `MERIDIAN_*` variable.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Address to listen on.
    #[arg(
        long,
        env = "MERIDIAN_LISTEN",
        default_value = "127.0.0.1:3000",
        global = true
    )]
    pub listen: SocketAddr,
    /// Database URL: sqlite://PATH or postgres://USER@HOST:PORT/DB. Default: SQLite in the data dir.
    #[arg(long, env = "MERIDIAN_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Directory for Meridian's own files (the default SQLite database).
    #[arg(long, env = "MERIDIAN_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,
    /// Log filter, e.g. `info` or `meridian=debug,tower_http=info`.
    #[arg(long = "log", env = "MERIDIAN_LOG", default_value = "info", global = true)]
    pub log: String,
    /// Directory holding the built browser assets (`pkg/`) and public files.
    #[arg(
        long,
        env = "MERIDIAN_SITE_ROOT",
        default_value = "target/site",
        global = true
    )]
    pub site_root: PathBuf,
    /// The URL users reach Meridian at; decides whether cookies are marked Secure.
    /// Default: http://LISTEN.
    #[arg(long, env = "MERIDIAN_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Minutes of inactivity after which a session ends.
    #[arg(
        long,
        env = "MERIDIAN_SESSION_IDLE_MINUTES",
        default_value_t = 240,
        global = true
    )]
    pub session_idle_minutes: u64,
    /// Hours after log-in after which a session ends, however active.
    #[arg(long, env = "MERIDIAN_SESSION_MAX_HOURS", default_value_t = 24, global = true)]
    pub session_max_hours: u64,
    /// How long the simulated zones take: `realistic` (about 30 s to a running VM), `fast`, or
    /// `<n>ms` for every operation.
    #[arg(long, env = "MERIDIAN_SIM_TIMING", default_value = "realistic", global = true)]
    pub sim_timing: SimTimingChoice,
    /// What runs the VMs: `simulated` zones (the default), or `agents`: real VMs on hosts whose
    /// `meridian-agent` registers with this server (tokens from `meridian agent-token`).
    #[arg(long, env = "MERIDIAN_DRIVER", default_value = "simulated", global = true)]
    pub driver: DriverChoice,
    /// With host agents: seconds between reconciliation rounds (hosts brought back to what the
    /// database says).
    #[arg(long, env = "MERIDIAN_RECONCILE_SECS", default_value_t = 15, global = true)]
    pub reconcile_secs: u64,
    /// With host agents: seconds a VM the database does not know stays on its host before the
    /// reconciler discards it.
    #[arg(long, env = "MERIDIAN_ORPHAN_GRACE_SECS", default_value_t = 60, global = true)]
    pub orphan_grace_secs: u64,
    /// Seconds between metering ticks (usage and traffic recorded up to now).
    #[arg(long, env = "MERIDIAN_METER_SECS", default_value_t = 60, global = true)]
    pub meter_secs: u64,
    /// How long a job worker's claim lasts without renewal: after a crash, another worker takes
    /// the job over this long after.
    #[arg(long, env = "MERIDIAN_JOB_LEASE_MS", default_value_t = 5000, global = true)]
    pub job_lease_ms: u32,
    /// Job workers in this process.
    #[arg(long, env = "MERIDIAN_WORKERS", default_value_t = 4, global = true)]
    pub workers: u16,
    /// Sales demo mode: seed a demo tenant with history and offer "Try the demo" on the log-in
    /// page (one click, no password), with a guided tour and a reset.
    #[arg(long, env = "MERIDIAN_DEMO", global = true)]
    pub demo: bool,
    /// Reverse proxies whose `X-Forwarded-For` names the real client (comma-separated IP
    /// addresses). From anyone else the header is ignored.
    #[arg(
        long = "trusted-proxy",
        env = "MERIDIAN_TRUSTED_PROXIES",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Seconds a client has to send a request's line and headers (and an idle connection to
    /// start its next request) before the connection is closed.
    #[arg(
        long,
        env = "MERIDIAN_HEADER_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    pub header_timeout_secs: u64,
    /// Seconds a client has to send a request's whole body, from its first byte to its last,
    /// before it is answered 408 and the connection closed.
    #[arg(long, env = "MERIDIAN_BODY_TIMEOUT_SECS", default_value_t = 30, global = true)]
    pub body_timeout_secs: u64,
    /// Refuse signed CloudStack requests without `signatureVersion=3` and `expires` (such a
    /// signature never expires; Apache libcloud signs so, the `cs` client does not).
    #[arg(long, env = "MERIDIAN_CLOUDSTACK_REQUIRE_EXPIRES", global = true)]
    pub cloudstack_require_expires: bool,
    /// Where to serve Prometheus metrics at `/metrics`, e.g. `127.0.0.1:9300`. Off unless set;
    /// keep it off the public network (it has no authentication of its own).
    #[arg(long, env = "MERIDIAN_METRICS_LISTEN", global = true)]
    pub metrics_listen: Option<SocketAddr>,
    /// Log lines as `text` (for a terminal) or `json` (one object a line, with the request's
    /// span fields: request id, method, path).
    #[arg(long, env = "MERIDIAN_LOG_FORMAT", default_value = "text", global = true)]
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}

/// What runs the VMs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DriverChoice {
    /// Sixteen zones of simulated hosts, kept in the database.
    Simulated,
    /// Real VMs on hosts run by host agents (`meridian-agent`).
    Agents,
}

/// The simulated driver's pace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimTimingChoice {
    /// Durations like real KVM hosts.
    Realistic,
    /// Near-instant, for tests and demos in a hurry.
    Fast,
    /// The same duration for every operation (crash tests pace steps with it).
    Uniform(Duration),
}

impl std::str::FromStr for SimTimingChoice {
    type Err = String;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "realistic" => Ok(SimTimingChoice::Realistic),
            "fast" => Ok(SimTimingChoice::Fast),
            other => other
                .strip_suffix("ms")
                .and_then(|ms| ms.parse().ok())
                .map(|ms| SimTimingChoice::Uniform(Duration::from_millis(ms)))
                .ok_or_else(|| format!("{other:?}: use realistic, fast, or a duration such as 200ms")),
        }
    }
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address.
    pub listen: SocketAddr,
    /// Database URL, resolved.
    pub database_url: String,
    /// Data directory (exists).
    pub data_dir: PathBuf,
    /// Log filter.
    pub log: String,
    /// Browser assets.
    pub site_root: PathBuf,
    /// Whether session cookies carry `Secure`.
    pub secure_cookies: bool,
    /// The origin (`scheme://host[:port]`) of `--public-url` when it is set: the only `Origin` a
    /// state-changing request may come from. Unset, it is `http://` and the request's `Host`.
    pub public_origin: Option<String>,
    /// Session idle timeout.
    pub session_idle: Duration,
    /// Session absolute lifetime.
    pub session_max: Duration,
    /// The simulated driver's pace.
    pub sim_timing: SimTimingChoice,
    /// What runs the VMs.
    pub driver: DriverChoice,
    /// Time between reconciliation rounds.
    pub reconcile_every: Duration,
    /// How long an orphan VM is left before it is discarded.
    pub orphan_grace: Duration,
    /// Time between metering ticks.
    pub meter_every: Duration,
    /// Job workers in this process.
    pub workers: u16,
    /// Job lease length.
    pub job_lease_ms: u32,
    /// Sales demo mode.
    pub demo: bool,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: std::sync::Arc<[std::net::IpAddr]>,
    /// Time to send a request's headers.
    pub header_timeout: Duration,
    /// Time to send a request's body.
    pub body_timeout: Duration,
    /// Whether signed CloudStack requests must carry an expiry.
    pub cloudstack_require_expires: bool,
    /// Where `/metrics` is served, if anywhere.
    pub metrics_listen: Option<SocketAddr>,
    /// How log lines are written.
    pub log_format: LogFormat,
}

impl Settings {
    /// Checks every value and resolves defaults; the error names the setting and the fix.
    pub fn validate(self) -> anyhow::Result<Config> {
        use anyhow::{Context, bail};
        tracing_subscriber::EnvFilter::try_new(&self.log)
            .with_context(|| format!("--log / MERIDIAN_LOG: {:?} is not a valid log filter", self.log))?;
        let database_url = match self.database_url {
            Some(url) => url,
            None => {
                std::fs::create_dir_all(&self.data_dir).with_context(|| {
                    format!(
                        "--data-dir / MERIDIAN_DATA_DIR: cannot create {}",
                        self.data_dir.display()
                    )
                })?;
                format!(
                    "sqlite://{}?mode=rwc",
                    self.data_dir.join("meridian.db").display()
                )
            }
        };
        Backend::from_url(&database_url).context("--database-url / MERIDIAN_DATABASE_URL")?;
        if self.session_idle_minutes == 0 || self.session_max_hours == 0 {
            bail!("session timeouts must be at least one minute and one hour");
        }
        if self.header_timeout_secs == 0 || self.body_timeout_secs == 0 {
            bail!(
                "--header-timeout-secs and --body-timeout-secs (MERIDIAN_HEADER_TIMEOUT_SECS, \
                 MERIDIAN_BODY_TIMEOUT_SECS) must be at least 1"
            );
        }
        let public_origin = match &self.public_url {
            Some(url) => Some(crate::same_origin::origin_of(url).with_context(|| {
                format!("--public-url / MERIDIAN_PUBLIC_URL: {url:?} is not an http(s) URL")
            })?),
            None => None,
        };
        let public_url = self
            .public_url
            .unwrap_or_else(|| format!("http://{}", self.listen));
        let secure_cookies = !is_plain_http_loopback(&public_url).with_context(|| {
            format!("--public-url / MERIDIAN_PUBLIC_URL: {public_url:?} is not an http(s) URL")
        })?;
        Ok(Config {
            listen: self.listen,
            database_url,
            data_dir: self.data_dir,
            log: self.log,
            site_root: self.site_root,
            secure_cookies,
            public_origin,
            session_idle: Duration::from_secs(self.session_idle_minutes * 60),
            session_max: Duration::from_secs(self.session_max_hours * 3600),
            sim_timing: self.sim_timing,
            driver: self.driver,
            reconcile_every: Duration::from_secs(self.reconcile_secs.max(1)),
            orphan_grace: Duration::from_secs(self.orphan_grace_secs),
            meter_every: Duration::from_secs(self.meter_secs.max(1)),
            workers: self.workers,
            job_lease_ms: self.job_lease_ms,
            demo: self.demo,
            trusted_proxies: self.trusted_proxies.into(),
            header_timeout: Duration::from_secs(self.header_timeout_secs),
            body_timeout: Duration::from_secs(self.body_timeout_secs),
            cloudstack_require_expires: self.cloudstack_require_expires,
            metrics_listen: self.metrics_listen,
            log_format: self.log_format,
        })
    }
}

/// `Some(true)` for `http://` on a loopback host, `Some(false)` for any other http(s) URL.
fn is_plain_http_loopback(url: &str) -> Option<bool> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?;
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => authority.rsplit_once(':').map_or(authority, |(host, _)| host),
    };
    match scheme {
        "https" => Some(false),
        "http" => {
            Some(host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_secure_except_on_plain_http_loopback() {
        assert_eq!(is_plain_http_loopback("http://127.0.0.1:3000"), Some(true));
        assert_eq!(is_plain_http_loopback("http://localhost:3000/"), Some(true));
        assert_eq!(is_plain_http_loopback("http://[::1]:3000"), Some(true));
        assert_eq!(is_plain_http_loopback("http://10.0.0.5:3000"), Some(false));
        assert_eq!(is_plain_http_loopback("https://127.0.0.1"), Some(false));
        assert_eq!(is_plain_http_loopback("ftp://x"), None);
    }

    #[test]
    fn bad_values_are_refused_with_the_setting_named() {
        let parse =
            |args: &[&str]| Cli::try_parse_from(std::iter::once("meridian").chain(args.iter().copied()));
        let error = parse(&["--listen", "nowhere"]).unwrap_err().to_string();
        assert!(error.contains("--listen"), "{error}");
        let cli = parse(&["--database-url", "mysql://x", "migrate"]).unwrap();
        let error = format!("{:#}", cli.settings.validate().unwrap_err());
        assert!(
            error.contains("MERIDIAN_DATABASE_URL") && error.contains("sqlite://"),
            "{error}"
        );
        let cli = parse(&["--log", "info,[", "--database-url", "sqlite://x.db"]).unwrap();
        assert!(format!("{:#}", cli.settings.validate().unwrap_err()).contains("MERIDIAN_LOG"));
    }
}
