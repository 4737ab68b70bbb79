//! Real VMs: boots the guest image built by `scripts/guest-image.sh` under QEMU (TCG here) and
//! drives it through the agent's `qemu` module. Needs Debian's `qemu-system-x86` (`scripts/setup.sh
//! test` installs it) and fails, rather than skips, without it.

mod common;
use common::runs_with;

use meridian_agent::accel::choose_accelerator;
use meridian_agent::qemu::{
    CONSOLE_LOG_MAX_BYTES, GuestImage, PowerOff, Qemu, QemuConfig, VmEntry, VmMeta, VmSpec, VmState,
};
use meridian_core::id::VmId;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const QEMU: &str = "qemu-system-x86_64";
const BOOT_LIMIT: Duration = Duration::from_secs(60);
const POWER_OFF_WAIT: Duration = Duration::from_secs(30);

/// The guest image: the one in `$MERIDIAN_GUEST_IMAGE` when set (e.g. another worktree's cache),
/// else built (or found current) in the repository's git-ignored cache.
fn guest_image() -> GuestImage {
    match Command::new(QEMU).arg("--version").output() {
        Ok(out) if out.status.success() => {}
        _ => panic!("{QEMU} is missing: install Debian's qemu-system-x86 (scripts/setup.sh test does)"),
    }
    if let Some(dir) = std::env::var_os("MERIDIAN_GUEST_IMAGE") {
        return GuestImage::load(Path::new(&dir))
            .expect("the guest image in $MERIDIAN_GUEST_IMAGE is complete");
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = repo.join(".cache/guest/image");
    let out = Command::new(repo.join("scripts/guest-image.sh"))
        .arg(&dir)
        .output()
        .expect("scripts/guest-image.sh runs");
    assert!(
        out.status.success(),
        "scripts/guest-image.sh {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    GuestImage::load(&dir).expect("the guest image is complete")
}

/// A throw-away state directory (short: the QMP socket path must fit a unix socket address). On
/// drop, even after a failed assertion, it kills any QEMU still running from it.
struct Lab {
    dir: tempfile::TempDir,
    config: QemuConfig,
}

impl Lab {
    async fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("mag")
            .tempdir_in("/tmp")
            .expect("temporary state directory");
        let image = guest_image();
        // Cached in the target directory: only the first test run on a host boots the KVM probe.
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let accelerator = choose_accelerator(
            Path::new(QEMU),
            &image,
            &tmp.join("accelerator.json"),
            &dir.path().join("probe"),
        )
        .await
        .accelerator;
        let config = QemuConfig {
            state_dir: dir.path().to_owned(),
            binary: QEMU.into(),
            image,
            accelerator,
        };
        Self { dir, config }
    }

    fn qemu(&self) -> Qemu {
        Qemu::new(self.config.clone())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        common::kill_qemus_under(self.dir.path());
    }
}

fn spec(user_data: Option<&str>) -> VmSpec {
    VmSpec {
        id: VmId(uuid::Uuid::new_v4()),
        vcpus: 1,
        memory_mib: 128,
        disk_bytes: 64 << 20,
        meta: VmMeta {
            hostname: "test-vm".into(),
            address: None,
            gateway: None,
            ssh_authorized_keys: vec!["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKd0test test@meridian".into()],
            mtu: None,
        },
        user_data: user_data.map(str::to_owned),
        nic: None,
    }
}

fn console_len(path: &Path) -> usize {
    std::fs::metadata(path).map_or(0, |m| m.len() as usize)
}

/// Waits until `needle` appears in the console log past byte `from`; the time it took.
async fn wait_for_console(path: &Path, from: usize, needle: &str) -> Duration {
    let started = Instant::now();
    loop {
        let log = std::fs::read(path).unwrap_or_default();
        if log
            .get(from..)
            .is_some_and(|new| String::from_utf8_lossy(new).contains(needle))
        {
            return started.elapsed();
        }
        if started.elapsed() > BOOT_LIMIT {
            panic!(
                "no {needle:?} on the console within {BOOT_LIMIT:?}; console:\n{}",
                String::from_utf8_lossy(&log)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vm_boots_to_its_ready_line_is_adopted_and_destroyed_without_a_trace() {
    let lab = Lab::new().await;
    let qemu = lab.qemu();
    let spec = spec(None);
    let paths = qemu.paths(spec.id);

    let started = Instant::now();
    // Two starts at once (a retried call, a reconciler) start one QEMU.
    let twin = qemu.clone();
    let (a, b) = tokio::join!(qemu.ensure_running(&spec), twin.ensure_running(&spec));
    let pid = a.expect("QEMU starts");
    assert_eq!(b.expect("QEMU runs"), pid, "one QEMU for two starts at once");
    wait_for_console(&paths.console, 0, &format!("meridian-ready {}", spec.id)).await;
    eprintln!(
        "boot to ready line: {} ms; QEMU resident: {} MiB",
        started.elapsed().as_millis(),
        rss_kib(pid) / 1024
    );
    assert_eq!(
        std::fs::read_to_string(&paths.image).expect("image manifest kept"),
        lab.config.image.manifest,
        "the VM records which image it booted"
    );

    // Applying the same spec again changes nothing.
    assert_eq!(
        qemu.ensure_running(&spec).await.expect("no-op"),
        pid,
        "a second ensure_running starts nothing"
    );

    // A new agent (here a new instance over the same state directory) adopts the running VM.
    let adopted = lab.qemu();
    assert_eq!(adopted.state(spec.id).await, VmState::Running { pid });
    assert_eq!(
        adopted.list().await.expect("list"),
        vec![VmEntry {
            id: spec.id,
            state: VmState::Running { pid }
        }]
    );

    // Right after the ready line the guest already hears the power button.
    let t = Instant::now();
    let outcome = adopted
        .power_off(spec.id, POWER_OFF_WAIT)
        .await
        .expect("power off");
    eprintln!("power off right after ready: {} ms", t.elapsed().as_millis());
    assert_eq!(outcome, PowerOff::Clean, "the guest powered itself off");
    adopted.destroy(spec.id, POWER_OFF_WAIT).await.expect("destroy");
    assert!(!runs_with(pid, &paths.pid), "no QEMU left after destroy");
    assert!(!paths.dir.exists(), "no VM directory left after destroy");
    assert_eq!(adopted.list().await.expect("list"), vec![]);
    assert_eq!(adopted.state(spec.id).await, VmState::Stopped);
    adopted
        .destroy(spec.id, POWER_OFF_WAIT)
        .await
        .expect("destroying what is gone succeeds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_guest_writes_to_its_disk_survives_power_off_start_and_reboot() {
    let lab = Lab::new().await;
    let qemu = lab.qemu();
    let spec = spec(Some(
        "#!/bin/sh\n\
         netstat -ltn | grep -q ':22 ' && echo 'ssh: listening'\n\
         echo boot >> /data/boots\n\
         echo \"boots on disk: $(wc -l < /data/boots)\"\n",
    ));
    let paths = qemu.paths(spec.id);

    let first = qemu.ensure_running(&spec).await.expect("first start");
    let took = wait_for_console(&paths.console, 0, "boots on disk: 1").await;
    eprintln!("first boot to user data: {} ms", took.as_millis());
    wait_for_console(&paths.console, 0, "ssh: listening").await;

    // ACPI power-down through QMP: the guest powers itself off within the wait.
    let t = Instant::now();
    let outcome = qemu.power_off(spec.id, POWER_OFF_WAIT).await.expect("power off");
    eprintln!("power off: {} ms", t.elapsed().as_millis());
    assert_eq!(outcome, PowerOff::Clean, "the guest heard the power button");
    assert!(!runs_with(first, &paths.pid), "QEMU is gone after power off");
    assert_eq!(qemu.state(spec.id).await, VmState::Stopped);
    assert_eq!(
        qemu.power_off(spec.id, POWER_OFF_WAIT).await.expect("again"),
        PowerOff::AlreadyStopped
    );

    let from = console_len(&paths.console);
    let second = qemu.ensure_running(&spec).await.expect("second start");
    assert_ne!(first, second);
    let took = wait_for_console(&paths.console, from, "boots on disk: 2").await;
    eprintln!("second boot to user data: {} ms", took.as_millis());

    // A reboot is cold (power off, start): a new QEMU, the same disk.
    let from = console_len(&paths.console);
    let third = qemu.reboot(&spec, POWER_OFF_WAIT).await.expect("reboot");
    assert!(
        !runs_with(second, &paths.pid),
        "the old QEMU is gone after a reboot"
    );
    wait_for_console(&paths.console, from, "boots on disk: 3").await;

    // Given no time to power off, the VM is stopped by QMP quit.
    let outcome = qemu.power_off(spec.id, Duration::ZERO).await.expect("hard stop");
    assert_eq!(outcome, PowerOff::Quit);
    assert!(!runs_with(third, &paths.pid));
    qemu.destroy(spec.id, POWER_OFF_WAIT).await.expect("destroy");
    assert!(!paths.dir.exists());
}

#[tokio::test]
async fn a_disk_is_sparse_grows_and_never_shrinks() {
    let lab = Lab::new().await;
    let qemu = lab.qemu();
    let mut spec = spec(None);
    let disk: PathBuf = qemu.paths(spec.id).disk;

    qemu.ensure_disk(&spec).await.expect("create");
    let meta = std::fs::metadata(&disk).expect("disk exists");
    assert_eq!(meta.len(), 64 << 20);
    assert!(meta.blocks() * 512 < meta.len(), "the disk file is sparse");
    qemu.ensure_disk(&spec).await.expect("same size again");

    spec.disk_bytes = 128 << 20;
    qemu.ensure_disk(&spec).await.expect("grow");
    assert_eq!(std::fs::metadata(&disk).expect("disk").len(), 128 << 20);

    spec.disk_bytes = 64 << 20;
    assert!(qemu.ensure_disk(&spec).await.is_err(), "a disk never shrinks");
    assert_eq!(std::fs::metadata(&disk).expect("disk").len(), 128 << 20);
}

#[tokio::test]
async fn the_console_log_stays_bounded() {
    let lab = Lab::new().await;
    let qemu = lab.qemu();
    let spec = spec(None);
    let paths = qemu.paths(spec.id);
    qemu.ensure_disk(&spec).await.expect("VM directory");

    std::fs::write(&paths.console, vec![b'x'; 1024]).expect("small log");
    assert!(
        !qemu.rotate_console(spec.id).await.expect("rotate"),
        "a small log stays"
    );
    let big = CONSOLE_LOG_MAX_BYTES as usize + 1;
    std::fs::write(&paths.console, vec![b'y'; big]).expect("big log");
    assert!(qemu.rotate_console(spec.id).await.expect("rotate"));
    assert_eq!(console_len(&paths.console), 0);
    assert_eq!(console_len(&paths.console_old), big);
}
