//! The accelerator probe: KVM only when the guest image really boots under it, else TCG, and the
//! answer cached so that a restarted agent does not probe again.
//!
//! The presence of `/dev/kvm` proves nothing (on PVM-backed hosts it exists and a stock kernel does
//! not boot under it), so the probe boots the image under `-accel kvm` and waits for its ready line.

use crate::qemu::{Accelerator, AcceleratorChoice, GuestImage};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Command;

/// How long the probe VM may take to print its ready line under KVM (a KVM boot takes well under
/// a second; TCG needs seconds, so a guest that only crawls reads as "no KVM").
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// What the guest's `/init` prints once it is up (`scripts/guest-image.sh`).
pub const READY_LINE: &str = "meridian-ready ";

/// What a cached answer depends on: a new kernel, QEMU or image probes again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeKey {
    /// `/proc/sys/kernel/osrelease`.
    pub kernel: String,
    /// The QEMU binary as given.
    pub qemu: PathBuf,
    /// The first line of its `--version`.
    pub qemu_version: String,
    /// SHA-256 of the image manifest, hex.
    pub image: String,
}

/// The cache file's content.
#[derive(Debug, Serialize, Deserialize)]
struct Cached {
    key: ProbeKey,
    choice: AcceleratorChoice,
}

/// The accelerator for `binary` booting `image`: from the cache at `cache` when its key matches
/// this host, else probed ([`probe_accelerator`]) and written to the cache. `scratch` is a
/// directory the probe may use (for its console file). Never fails: what cannot be probed is TCG.
pub async fn choose_accelerator(
    binary: &Path,
    image: &GuestImage,
    cache: &Path,
    scratch: &Path,
) -> AcceleratorChoice {
    if !Path::new("/dev/kvm").exists() {
        // Not cached: a KVM module loaded later should be found at the next start.
        let choice = tcg("no /dev/kvm; using TCG");
        tracing::info!(accelerator = choice.accelerator.name(), reason = %choice.reason, cached = false, "accelerator chosen");
        return choice;
    }
    let key = probe_key(binary, image).await;
    let cached = tokio::fs::read(cache)
        .await
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Cached>(&bytes).ok());
    if let Some(cached) = cached
        && cached.key == key
    {
        tracing::info!(accelerator = cached.choice.accelerator.name(), reason = %cached.choice.reason, cached = true, cache = %cache.display(), "accelerator chosen");
        return cached.choice;
    }
    let choice = probe_accelerator(binary, image, scratch).await;
    tracing::info!(accelerator = choice.accelerator.name(), reason = %choice.reason, cached = false, "accelerator chosen");
    let entry = Cached {
        key,
        choice: choice.clone(),
    };
    // Written aside and renamed: an agent starting meanwhile reads the old answer or the new one.
    let aside = cache.with_extension("json.new");
    let written = match serde_json::to_vec_pretty(&entry) {
        Ok(json) => match tokio::fs::write(&aside, json).await {
            Ok(()) => tokio::fs::rename(&aside, cache).await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e.into()),
    };
    if let Err(e) = written {
        tracing::warn!(cache = %cache.display(), error = %e, "accelerator cache not written; the next start probes again");
    }
    choice
}

/// What the cached answer for this host, QEMU and image is keyed by.
async fn probe_key(binary: &Path, image: &GuestImage) -> ProbeKey {
    let kernel = tokio::fs::read_to_string("/proc/sys/kernel/osrelease")
        .await
        .unwrap_or_default()
        .trim()
        .to_owned();
    let qemu_version = match Command::new(binary).arg("--version").output().await {
        Ok(out) => String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned(),
        Err(_) => String::new(),
    };
    let image = Sha256::digest(image.manifest.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    ProbeKey {
        kernel,
        qemu: binary.to_owned(),
        qemu_version,
        image,
    }
}

fn tcg(reason: &str) -> AcceleratorChoice {
    AcceleratorChoice {
        accelerator: Accelerator::Tcg,
        reason: reason.to_owned(),
    }
}

/// Boots `image` under KVM (microvm and `-cpu max` as VMs run, no disk, 128 MiB, its console in a
/// file under `scratch`) and chooses KVM only if the guest printed its ready line within [`PROBE_TIMEOUT`]; the VM is killed
/// either way. Uncached: see [`choose_accelerator`].
pub async fn probe_accelerator(binary: &Path, image: &GuestImage, scratch: &Path) -> AcceleratorChoice {
    if !Path::new("/dev/kvm").exists() {
        return tcg("no /dev/kvm; using TCG");
    }
    if let Err(e) = tokio::fs::create_dir_all(scratch).await {
        tracing::warn!(dir = %scratch.display(), error = %e, "no scratch directory for the KVM probe");
        return tcg("KVM present but the probe could not run (no scratch directory); using TCG");
    }
    let console = scratch.join("kvm-probe-console.log");
    let _ = tokio::fs::remove_file(&console).await;
    // Commas in a path would be read as option separators; QEMU escapes them by doubling.
    let esc = |p: &Path| p.display().to_string().replace(',', ",,");
    let started = Instant::now();
    let child = Command::new(binary)
        .args([
            "-M", "microvm", "-accel", "kvm", "-cpu", "max", "-smp", "1", "-m", "128",
        ])
        .args(["-nodefaults", "-no-user-config", "-display", "none"])
        .arg("-kernel")
        .arg(&image.kernel)
        .arg("-initrd")
        .arg(&image.initrd)
        .args(["-append", "console=ttyS0 quiet"])
        .arg("-chardev")
        .arg(format!("file,id=serial0,path={}", esc(&console)))
        .args(["-serial", "chardev:serial0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            tracing::warn!(qemu = %binary.display(), error = %e, "KVM probe: QEMU could not run");
            return tcg("KVM present but QEMU could not be run to probe it; using TCG");
        }
    };
    let outcome = loop {
        let log = tokio::fs::read(&console).await.unwrap_or_default();
        if String::from_utf8_lossy(&log).contains(READY_LINE) {
            break Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            break Err(format!("QEMU exited ({status}) before the guest was ready"));
        }
        if started.elapsed() > PROBE_TIMEOUT {
            break Err(format!(
                "the guest did not boot under it within {} s",
                PROBE_TIMEOUT.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = child.start_kill();
    let stderr = match child.wait_with_output().await {
        Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        Err(_) => String::new(),
    };
    let _ = tokio::fs::remove_file(&console).await;
    let _ = tokio::fs::remove_dir(scratch).await;
    match outcome {
        Ok(()) => AcceleratorChoice {
            accelerator: Accelerator::Kvm,
            reason: format!(
                "the guest image booted under KVM in {} ms",
                started.elapsed().as_millis()
            ),
        },
        Err(why) => {
            tracing::warn!(qemu.stderr = %stderr, "KVM probe failed: {why}");
            tcg(&format!("KVM present but {why}; using TCG"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_cached_answer_is_used_only_for_the_same_kernel_qemu_and_image() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = dir.path().join("accelerator.json");
        let scratch = dir.path().join("probe");
        // `echo` stands in for QEMU: it has a version line and exits at once, as a QEMU that
        // cannot use KVM does.
        let qemu = Path::new("/bin/echo");
        let image = GuestImage {
            kernel: dir.path().join("vmlinuz"),
            initrd: dir.path().join("initramfs.cpio.gz"),
            manifest: "image=test\n".to_owned(),
        };
        if !Path::new("/dev/kvm").exists() {
            let choice = choose_accelerator(qemu, &image, &cache, &scratch).await;
            assert_eq!(choice.reason, "no /dev/kvm; using TCG");
            return;
        }
        let cached = AcceleratorChoice {
            accelerator: Accelerator::Kvm,
            reason: "from the cache".to_owned(),
        };
        let key = probe_key(qemu, &image).await;
        let entry = Cached {
            key: key.clone(),
            choice: cached.clone(),
        };
        std::fs::write(&cache, serde_json::to_vec(&entry).expect("json")).expect("cache");
        assert_eq!(choose_accelerator(qemu, &image, &cache, &scratch).await, cached);

        // Another kernel: probed again (and `echo` boots nothing), and the new answer cached.
        let stale = Cached {
            key: ProbeKey {
                kernel: "0.0.0-other".to_owned(),
                ..key.clone()
            },
            choice: cached.clone(),
        };
        std::fs::write(&cache, serde_json::to_vec(&stale).expect("json")).expect("cache");
        let probed = choose_accelerator(qemu, &image, &cache, &scratch).await;
        assert_eq!(probed.accelerator, Accelerator::Tcg);
        assert!(
            probed.reason.starts_with("KVM present but QEMU exited"),
            "{}",
            probed.reason
        );
        let written: Cached = serde_json::from_slice(&std::fs::read(&cache).expect("cache")).expect("json");
        assert_eq!((written.key, written.choice), (key, probed));
    }
}
