//! QEMU VMs: one detached QEMU process per VM, everything named from the VM's id.
//!
//! A VM lives in `<state>/vms/<vm-id>/`: `disk.img` (sparse, only grows), `meta` and `user-data`
//! (handed to the guest through fw_cfg), `image` (the manifest of the guest image it last booted),
//! `qemu.pid`, `qmp.sock`, `serial.sock` (the serial console, for one interactive session at a
//! time) and `console.log` (everything the serial console said). QEMU is started with `-daemonize`,
//! so VMs outlive the agent; the agent keeps no state in memory, and a new agent process adopts the
//! running VMs simply by reading their pidfiles ([`Qemu::state`], [`Qemu::list`]).

mod disk;
mod process;
pub mod qmp;
mod spec;

use meridian_core::id::VmId;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};
use tokio::process::Command;
use tokio::sync::OwnedMutexGuard;

use process::{is_our_qemu, qmp_once, remove_if_present, rotate_console, wait_gone, write};
pub use qmp::{Qmp, QmpError};
pub use spec::{
    Accelerator, AcceleratorChoice, GuestImage, PowerOff, VmEntry, VmMeta, VmNic, VmPaths, VmSpec, VmState,
    image_name,
};

/// The console log is rotated (to `console.log.1`) at a start, or by [`Qemu::rotate_console`],
/// when it is larger than this.
pub const CONSOLE_LOG_MAX_BYTES: u64 = 1024 * 1024;
/// The line the agent writes to a VM's console log as it starts QEMU: the guest's output after it
/// belongs to this run (a ready line before it is an earlier boot's).
pub const START_MARKER: &str = "[meridian-agent] starting QEMU";

/// How long one QMP call may take.
pub const QMP_TIMEOUT: Duration = Duration::from_secs(2);
/// How long `qemu-system-x86_64 -daemonize` may take to set the VM up and return.
pub const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a `quit`, then a SIGKILL, may take to end the process.
const HARD_STOP_WAIT: Duration = Duration::from_secs(3);
/// How often a power-off presses the ACPI power button again while it waits.
const POWERDOWN_REPEAT: Duration = Duration::from_secs(1);
/// How often a stop checks whether the process is gone.
const POLL: Duration = Duration::from_millis(50);
/// A unix socket path must fit in `sockaddr_un.sun_path` (108 bytes with its NUL).
const MAX_SOCKET_PATH: usize = 107;

/// What went wrong managing a VM.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec cannot be turned into a VM (a value the guest's metadata format cannot carry, …).
    #[error("invalid VM spec: {0}")]
    InvalidSpec(String),
    /// A file or directory under the state directory could not be read or written.
    #[error("I/O on {path}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The failure.
        #[source]
        source: io::Error,
    },
    /// The guest image directory lacks a file `scripts/guest-image.sh` writes.
    #[error("guest image in {0} is incomplete (build it with scripts/guest-image.sh)")]
    ImageIncomplete(PathBuf),
    /// Disks only grow: shrinking would cut the guest's filesystem.
    #[error("disk is {current} bytes; it cannot shrink to {requested}")]
    DiskShrink {
        /// Its size now.
        current: u64,
        /// The size asked for.
        requested: u64,
    },
    /// The QEMU binary could not be run.
    #[error("could not run {0}")]
    Spawn(PathBuf, #[source] io::Error),
    /// QEMU exited with an error before the VM ran.
    #[error("QEMU refused to start the VM: {0}")]
    Start(String),
    /// QEMU did not daemonize in time.
    #[error("QEMU did not start within {0:?}")]
    StartTimeout(Duration),
    /// A QMP call failed.
    #[error("QMP {0} failed")]
    Qmp(&'static str, #[source] QmpError),
    /// The process survived SIGKILL (uninterruptible sleep, …).
    #[error("QEMU process {0} survived SIGKILL")]
    Unkillable(u32),
}

/// The host's TSC frequency in kHz, from `/proc/cpuinfo` (read once); 2 GHz when it says nothing.
fn host_tsc_khz() -> u64 {
    static KHZ: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *KHZ.get_or_init(|| {
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                let line = info.lines().find(|l| l.starts_with("cpu MHz"))?;
                let mhz: f64 = line.split(':').nth(1)?.trim().parse().ok()?;
                (mhz > 100.0).then(|| (mhz * 1000.0).round() as u64)
            })
            .unwrap_or(2_000_000)
    })
}

/// Appends `line` and a line break to the file at `path` (made if absent).
async fn append_line(path: &Path, line: &str) -> Result<(), Error> {
    use tokio::io::AsyncWriteExt as _;
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
        .map_err(io_at(path))?;
    file.write_all(format!("{line}\n").as_bytes())
        .await
        .map_err(io_at(path))
}

/// Where an I/O error happened.
fn io_at(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

/// How this agent runs QEMU.
#[derive(Clone, Debug)]
pub struct QemuConfig {
    /// Root of everything the agent makes (VMs under `vms/`).
    pub state_dir: PathBuf,
    /// The `qemu-system-x86_64` binary.
    pub binary: PathBuf,
    /// The image every VM boots.
    pub image: GuestImage,
    /// The accelerator chosen at start ([`crate::accel::choose_accelerator`]).
    pub accelerator: Accelerator,
}

/// The QEMU subsystem of one agent. Holds no VM state: everything is read from the state
/// directory and `/proc`, so any instance (or a restarted agent) sees the same VMs. It only holds a
/// lock per VM (shared by its clones) so that operations on one VM that overlap — a retried call,
/// a reconciler — run one after the other instead of racing over its pidfile and socket.
#[derive(Clone, Debug)]
pub struct Qemu {
    config: QemuConfig,
    locks: Arc<std::sync::Mutex<HashMap<VmId, Arc<tokio::sync::Mutex<()>>>>>,
}

impl Qemu {
    /// A QEMU subsystem over `config.state_dir`.
    pub fn new(config: QemuConfig) -> Self {
        Self {
            config,
            locks: Arc::default(),
        }
    }

    /// Waits for VM `id`'s lock. (Entries stay in the map: a few bytes per VM id ever seen.)
    async fn lock(&self, id: VmId) -> OwnedMutexGuard<()> {
        let lock = self
            .locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(id)
            .or_default()
            .clone();
        lock.lock_owned().await
    }

    /// The files of VM `id`.
    pub fn paths(&self, id: VmId) -> VmPaths {
        let dir = self.config.state_dir.join("vms").join(id.to_string());
        VmPaths {
            disk: dir.join("disk.img"),
            qmp: dir.join("qmp.sock"),
            serial: dir.join("serial.sock"),
            pid: dir.join("qemu.pid"),
            console: dir.join("console.log"),
            console_old: dir.join("console.log.1"),
            meta: dir.join("meta"),
            user_data: dir.join("user-data"),
            image: dir.join("image"),
            dir,
        }
    }

    /// Starts the VM unless its QEMU already runs (then returns that pid and changes nothing: a
    /// changed size, metadata or user data applies at the next start).
    pub async fn ensure_running(&self, spec: &VmSpec) -> Result<u32, Error> {
        let _lock = self.lock(spec.id).await;
        self.ensure_running_locked(spec).await
    }

    async fn ensure_running_locked(&self, spec: &VmSpec) -> Result<u32, Error> {
        if let VmState::Running { pid } = self.state(spec.id).await {
            return Ok(pid);
        }
        let paths = self.paths(spec.id);
        for socket in [&paths.qmp, &paths.serial] {
            if socket.as_os_str().len() > MAX_SOCKET_PATH {
                return Err(Error::InvalidSpec(format!(
                    "the socket path {} is too long for a unix socket",
                    socket.display()
                )));
            }
        }
        if spec.vcpus == 0 || spec.memory_mib < 64 {
            return Err(Error::InvalidSpec(
                "at least 1 vCPU and 64 MiB are needed".to_owned(),
            ));
        }
        let meta = spec.meta_file()?;
        self.ensure_disk_locked(spec).await?;
        write(&paths.meta, meta.as_bytes()).await?;
        write(
            &paths.user_data,
            spec.user_data.as_deref().unwrap_or("").as_bytes(),
        )
        .await?;
        write(&paths.image, self.config.image.manifest.as_bytes()).await?;
        rotate_console(&paths).await?;
        append_line(&paths.console, START_MARKER).await?;
        // Left over from a QEMU that was killed: QEMU would refuse to bind the sockets.
        remove_if_present(&paths.qmp).await?;
        remove_if_present(&paths.serial).await?;
        remove_if_present(&paths.pid).await?;

        let args = self.args(spec, &paths);
        tracing::info!(vm.id = %spec.id, command = %format!("{} {}", self.config.binary.display(), args.join(" ")), "starting QEMU");
        let started = Instant::now();
        let run = Command::new(&self.config.binary)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(START_TIMEOUT, run)
            .await
            .map_err(|_| Error::StartTimeout(START_TIMEOUT))?
            .map_err(|e| Error::Spawn(self.config.binary.clone(), e))?;
        if !output.status.success() {
            return Err(Error::Start(
                String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            ));
        }
        match self.state(spec.id).await {
            VmState::Running { pid } => {
                tracing::info!(vm.id = %spec.id, pid, duration_ms = started.elapsed().as_millis() as u64, "QEMU started");
                Ok(pid)
            }
            VmState::Stopped => Err(Error::Start(format!(
                "QEMU exited at once; see {}",
                paths.console.display()
            ))),
        }
    }

    /// QEMU's arguments for `spec`.
    fn args(&self, spec: &VmSpec, paths: &VmPaths) -> Vec<String> {
        let path = |p: &Path| p.display().to_string();
        let (accel, mut append) = match self.config.accelerator {
            Accelerator::Kvm => ("kvm".to_owned(), String::new()),
            // microvm under TCG hangs at "Marking TSC unstable" without a given TSC frequency. TCG's
            // TSC is the host's, so the host's frequency it must be: told 2 GHz on a 2.6 GHz host,
            // the guest's clock ran 30 % fast (a 206 ms round trip measured 272 ms in the guest).
            Accelerator::Tcg => (
                "tcg,tb-size=32".to_owned(),
                format!("tsc_early_khz={} ", host_tsc_khz()),
            ),
        };
        append.push_str("console=ttyS0 quiet");
        // Commas in a path would be read as option separators; QEMU escapes them by doubling.
        let esc = |p: &Path| path(p).replace(',', ",,");
        let mut args: Vec<String> = vec![
            "-name".into(),
            format!("meridian-{},process=meridian-{}", spec.id, spec.id),
            "-M".into(),
            "microvm".into(),
            "-cpu".into(),
            "max".into(),
            "-accel".into(),
            accel,
            "-smp".into(),
            spec.vcpus.to_string(),
            "-m".into(),
            spec.memory_mib.to_string(),
            "-nodefaults".into(),
            "-no-user-config".into(),
            "-display".into(),
            "none".into(),
            "-kernel".into(),
            esc(&self.config.image.kernel),
            "-initrd".into(),
            esc(&self.config.image.initrd),
            "-append".into(),
            append,
            "-drive".into(),
            format!(
                "id=disk0,file={},format=raw,if=none,cache=writeback",
                esc(&paths.disk)
            ),
            "-device".into(),
            "virtio-blk-device,drive=disk0".into(),
            "-fw_cfg".into(),
            format!("name=opt/meridian/meta,file={}", esc(&paths.meta)),
            "-fw_cfg".into(),
            format!("name=opt/meridian/user-data,file={}", esc(&paths.user_data)),
            // The serial console is a socket for one interactive session at a time (the agent's
            // serial route); QEMU logs everything the guest says to the console log whether or
            // not a session is open (and drops what it says while none is). The log is appended
            // to (O_APPEND), not truncated, across starts, so rotation may empty it under QEMU.
            "-chardev".into(),
            format!(
                "socket,id=serial0,path={},server=on,wait=off,logfile={},logappend=on",
                esc(&paths.serial),
                esc(&paths.console)
            ),
            "-serial".into(),
            "chardev:serial0".into(),
            "-qmp".into(),
            format!("unix:{},server=on,wait=off", esc(&paths.qmp)),
            "-pidfile".into(),
            path(&paths.pid),
            "-daemonize".into(),
        ];
        if let Some(nic) = &spec.nic {
            args.extend([
                "-netdev".into(),
                format!("tap,id=net0,ifname={},script=no,downscript=no", nic.tap),
                "-device".into(),
                format!("virtio-net-device,netdev=net0,mac={}", nic.mac),
            ]);
        }
        args
    }

    /// Whether VM `id`'s QEMU runs: its pidfile names a live process whose command line is our
    /// QEMU for this VM (a reused pid or a stale pidfile reads as stopped).
    pub async fn state(&self, id: VmId) -> VmState {
        let paths = self.paths(id);
        let Ok(text) = tokio::fs::read_to_string(&paths.pid).await else {
            return VmState::Stopped;
        };
        let Ok(pid) = text.trim().parse::<u32>() else {
            return VmState::Stopped;
        };
        if is_our_qemu(pid, &paths.pid).await {
            VmState::Running { pid }
        } else {
            VmState::Stopped
        }
    }

    /// The CPU time VM `id`'s QEMU has used (user and system, every thread), in ms; None when
    /// it does not run.
    pub async fn cpu_ms(&self, id: VmId) -> Option<u64> {
        let VmState::Running { pid } = self.state(id).await else {
            return None;
        };
        let stat = tokio::fs::read_to_string(format!("/proc/{pid}/stat"))
            .await
            .ok()?;
        let ticks = cpu_ticks(&stat)?;
        let per_second = rustix::param::clock_ticks_per_second().max(1);
        Some(ticks.saturating_mul(1000) / per_second)
    }

    /// Powers the VM off: ACPI power button through QMP and up to `wait` for the guest to power
    /// off, then QMP `quit`, then SIGKILL. Succeeds when it was not running.
    pub async fn power_off(&self, id: VmId, wait: Duration) -> Result<PowerOff, Error> {
        let _lock = self.lock(id).await;
        self.power_off_locked(id, wait).await
    }

    async fn power_off_locked(&self, id: VmId, wait: Duration) -> Result<PowerOff, Error> {
        let VmState::Running { pid } = self.state(id).await else {
            return Ok(PowerOff::AlreadyStopped);
        };
        let paths = self.paths(id);
        let started = Instant::now();
        let outcome = self.stop_process(id, pid, &paths, wait).await?;
        tracing::info!(vm.id = %id, pid, outcome = ?outcome, duration_ms = started.elapsed().as_millis() as u64, "VM powered off");
        // QEMU removes its pidfile when it exits cleanly, but not when killed.
        remove_if_present(&paths.pid).await?;
        remove_if_present(&paths.qmp).await?;
        remove_if_present(&paths.serial).await?;
        Ok(outcome)
    }

    async fn stop_process(
        &self,
        id: VmId,
        pid: u32,
        paths: &VmPaths,
        wait: Duration,
    ) -> Result<PowerOff, Error> {
        // The button is pressed again every second of the wait: a guest still booting has nobody
        // listening to it yet, and an ACPI press nobody hears is lost.
        let deadline = Instant::now() + wait;
        loop {
            if let Err(e) = qmp_once(&paths.qmp, "system_powerdown").await {
                // QEMU closes its socket as it exits after the guest powered off.
                if !is_our_qemu(pid, &paths.pid).await {
                    return Ok(PowerOff::Clean);
                }
                tracing::warn!(vm.id = %id, pid, error = %e, "system_powerdown failed; quitting QEMU");
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if wait_gone(pid, &paths.pid, left.min(POWERDOWN_REPEAT)).await {
                return Ok(PowerOff::Clean);
            }
            if Instant::now() >= deadline {
                tracing::warn!(vm.id = %id, pid, wait_ms = wait.as_millis() as u64, "guest did not power off; quitting QEMU");
                break;
            }
        }
        match qmp_once(&paths.qmp, "quit").await {
            // QEMU may close the socket before answering `quit`.
            Ok(()) | Err(Error::Qmp(_, QmpError::Closed)) => {
                if wait_gone(pid, &paths.pid, HARD_STOP_WAIT).await {
                    return Ok(PowerOff::Quit);
                }
            }
            Err(e) => {
                if !is_our_qemu(pid, &paths.pid).await {
                    return Ok(PowerOff::Quit);
                }
                tracing::warn!(vm.id = %id, pid, error = %e, "quit failed; killing QEMU");
            }
        }
        // Checked again right before the signal: never kill a pid that is no longer our QEMU.
        if is_our_qemu(pid, &paths.pid).await {
            tracing::warn!(vm.id = %id, pid, "sending SIGKILL to QEMU");
            let target = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw);
            if let Some(target) = target {
                // ESRCH: it ended meanwhile, which is what we want.
                let _ = rustix::process::kill_process(target, rustix::process::Signal::KILL);
            }
        }
        if wait_gone(pid, &paths.pid, HARD_STOP_WAIT).await {
            Ok(PowerOff::Killed)
        } else {
            Err(Error::Unkillable(pid))
        }
    }

    /// A cold reboot: power off (as [`Qemu::power_off`]) and start again, so a changed size applies.
    pub async fn reboot(&self, spec: &VmSpec, wait: Duration) -> Result<u32, Error> {
        let _lock = self.lock(spec.id).await;
        self.power_off_locked(spec.id, wait).await?;
        self.ensure_running_locked(spec).await
    }

    /// Stops the VM and removes its directory (disk included). Succeeds when it is already gone.
    pub async fn destroy(&self, id: VmId, wait: Duration) -> Result<(), Error> {
        let _lock = self.lock(id).await;
        self.power_off_locked(id, wait).await?;
        let dir = self.paths(id).dir;
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => {
                tracing::info!(vm.id = %id, "VM destroyed");
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_at(&dir)(e)),
        }
    }

    /// Bounds VM `id`'s console log, also while it runs (every start does it too): past
    /// [`CONSOLE_LOG_MAX_BYTES`] the log moves to `console.log.1`. Returns whether it rotated.
    /// Meant to be called periodically by the agent.
    pub async fn rotate_console(&self, id: VmId) -> Result<bool, Error> {
        rotate_console(&self.paths(id)).await
    }

    /// Rotates every VM's console log ([`Qemu::rotate_console`]) every `every`, forever.
    pub async fn rotate_consoles(&self, every: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let vms = match self.list().await {
                Ok(vms) => vms,
                Err(e) => {
                    tracing::warn!(error = %e, "console rotation: VMs not listed");
                    continue;
                }
            };
            for vm in vms {
                if let Err(e) = self.rotate_console(vm.id).await {
                    tracing::warn!(vm.id = %vm.id, error = %e, "console not rotated");
                }
            }
        }
    }

    /// Every VM directory under the state directory with its state, sorted by id, for
    /// reconciliation. Entries whose name is not a VM id are skipped (and logged).
    pub async fn list(&self) -> Result<Vec<VmEntry>, Error> {
        let root = self.config.state_dir.join("vms");
        let mut dir = match tokio::fs::read_dir(&root).await {
            Ok(dir) => dir,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_at(&root)(e)),
        };
        let mut entries = Vec::new();
        while let Some(entry) = dir.next_entry().await.map_err(io_at(&root))? {
            let name = entry.file_name();
            match name.to_str().and_then(|n| n.parse::<VmId>().ok()) {
                Some(id) => entries.push(VmEntry {
                    id,
                    state: self.state(id).await,
                }),
                None => tracing::warn!(path = %entry.path().display(), "not a VM directory; ignored"),
            }
        }
        entries.sort_by_key(|e| e.id);
        Ok(entries)
    }
}

/// utime + stime, in clock ticks, from a `/proc/<pid>/stat` line. The command name (field 2) is
/// in parentheses and may hold spaces and parentheses itself, so fields are counted after the
/// last `)`: the state is the first of them, utime the 12th, stime the 13th.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user.saturating_add(system))
}

#[cfg(test)]
mod tests {
    use super::cpu_ticks;

    #[test]
    fn cpu_time_is_read_past_a_command_name_with_spaces_and_parentheses() {
        let stat = "4242 (qemu (x) 1) S 1 4242 4242 0 -1 4194560 5000 0 0 0 731 269 0 0 20 0 5 0 900 0 0";
        assert_eq!(cpu_ticks(stat), Some(1000));
        assert_eq!(cpu_ticks("4242 (qemu) S 1"), None, "a short line");
        assert_eq!(cpu_ticks("garbage"), None);
    }
}
