//! What a VM is made of: its spec and guest metadata, the guest image, the accelerator, and the
//! files derived from its id.

use super::Error;
use meridian_core::id::VmId;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The hardware accelerator QEMU runs guests with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accelerator {
    /// Hardware virtualisation.
    Kvm,
    /// QEMU's software emulation (Tiny Code Generator).
    Tcg,
}

impl Accelerator {
    /// Its name as QEMU's `-accel` and the agent API spell it: `kvm` or `tcg`.
    pub fn name(self) -> &'static str {
        match self {
            Accelerator::Kvm => "kvm",
            Accelerator::Tcg => "tcg",
        }
    }
}

/// The accelerator chosen at agent start and why, for the agent's log and the capacity page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceleratorChoice {
    /// The accelerator every VM of this agent uses.
    pub accelerator: Accelerator,
    /// Why, in words.
    pub reason: String,
}

/// A guest image as `scripts/guest-image.sh` writes it: a kernel, an initramfs and a manifest.
#[derive(Clone, Debug)]
pub struct GuestImage {
    /// The kernel (`vmlinuz`).
    pub kernel: PathBuf,
    /// The initramfs (`initramfs.cpio.gz`).
    pub initrd: PathBuf,
    /// The manifest: which packages, at which versions, made this image.
    pub manifest: String,
}

/// The name of the image a manifest describes: its first line, without the `image=` key.
pub fn image_name(manifest: &str) -> String {
    let first = manifest.lines().next().unwrap_or("");
    first.strip_prefix("image=").unwrap_or(first).to_owned()
}

impl GuestImage {
    /// Reads the image in `dir`; incomplete until its manifest, written last, is there.
    pub fn load(dir: &Path) -> Result<Self, Error> {
        let kernel = dir.join("vmlinuz");
        let initrd = dir.join("initramfs.cpio.gz");
        let manifest = std::fs::read_to_string(dir.join("manifest"));
        match manifest {
            Ok(manifest) if kernel.is_file() && initrd.is_file() => Ok(Self {
                kernel,
                initrd,
                manifest,
            }),
            _ => Err(Error::ImageIncomplete(dir.to_owned())),
        }
    }
}

/// The guest's metadata, read by its `/init` from fw_cfg (`opt/meridian/meta`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmMeta {
    /// The guest's hostname.
    pub hostname: String,
    /// The address of `eth0` with its prefix, e.g. `10.0.0.5/24`.
    pub address: Option<String>,
    /// The default gateway.
    pub gateway: Option<String>,
    /// OpenSSH public key lines root may log in with.
    pub ssh_authorized_keys: Vec<String>,
    /// The MTU of `eth0` (a tenant network's, below the backbone's for VXLAN's headers).
    #[serde(default)]
    pub mtu: Option<u32>,
}

/// What one VM should be. The same spec may be applied any number of times.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmSpec {
    /// The VM; every file and the process are named from it.
    pub id: VmId,
    /// Virtual CPUs (applied at the next start).
    pub vcpus: u32,
    /// Memory in MiB (applied at the next start).
    pub memory_mib: u32,
    /// Size of the disk in bytes; it only grows.
    pub disk_bytes: u64,
    /// Metadata for the guest's `/init`.
    pub meta: VmMeta,
    /// User data; the guest runs it as a script when it starts with `#!`.
    pub user_data: Option<String>,
    /// The network port: a tap QEMU attaches its virtio-net device to (none: no network device).
    pub nic: Option<VmNic>,
}

/// A VM's network port on the host, named from its id (see [`crate::nic`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmNic {
    /// The tap device, which must exist when QEMU starts.
    pub tap: String,
    /// The guest's MAC address, `52:54:00:xx:xx:xx`.
    pub mac: String,
}

impl VmSpec {
    /// The `meta` file: `key=value` lines. A value with a line break would smuggle in another key,
    /// so it is refused.
    pub(super) fn meta_file(&self) -> Result<String, Error> {
        let mut lines = vec![
            ("vm_id", self.id.to_string()),
            ("hostname", self.meta.hostname.clone()),
        ];
        if let Some(address) = &self.meta.address {
            lines.push(("address", address.clone()));
        }
        if let Some(gateway) = &self.meta.gateway {
            lines.push(("gateway", gateway.clone()));
        }
        if let Some(mtu) = self.meta.mtu {
            lines.push(("mtu", mtu.to_string()));
        }
        for key in &self.meta.ssh_authorized_keys {
            lines.push(("ssh_authorized_key", key.trim_end().to_owned()));
        }
        let mut file = String::new();
        for (key, value) in lines {
            if value.contains(['\n', '\r', '\0']) {
                return Err(Error::InvalidSpec(format!("{key} contains a line break")));
            }
            file.push_str(key);
            file.push('=');
            file.push_str(&value);
            file.push('\n');
        }
        Ok(file)
    }
}

/// Whether a VM's QEMU process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "state")]
pub enum VmState {
    /// Its QEMU runs, with this pid.
    Running {
        /// The QEMU process.
        pid: u32,
    },
    /// No QEMU runs for it (its directory may still hold its disk).
    Stopped,
}

/// How a power-off ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerOff {
    /// It was not running.
    AlreadyStopped,
    /// The guest powered off on the ACPI power button.
    Clean,
    /// The guest did not within the wait; QMP `quit` ended QEMU.
    Quit,
    /// QEMU did not quit; SIGKILL ended it.
    Killed,
}

/// One VM directory found under the state directory, for reconciliation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmEntry {
    /// The VM.
    pub id: VmId,
    /// Whether its QEMU runs.
    pub state: VmState,
}

/// The files of one VM, all derived from its id.
#[derive(Clone, Debug)]
pub struct VmPaths {
    /// `<state>/vms/<vm-id>`.
    pub dir: PathBuf,
    /// The virtio-blk disk.
    pub disk: PathBuf,
    /// QEMU's QMP socket.
    pub qmp: PathBuf,
    /// QEMU's pidfile.
    pub pid: PathBuf,
    /// QEMU's serial console socket (ttyS0), for one interactive session at a time.
    pub serial: PathBuf,
    /// The serial console's log (everything ttyS0 said, session or not), appended to across starts.
    pub console: PathBuf,
    /// The console log before the last rotation.
    pub console_old: PathBuf,
    /// The metadata handed to the guest.
    pub meta: PathBuf,
    /// The user data handed to the guest.
    pub user_data: PathBuf,
    /// The manifest of the image the VM last booted.
    pub image: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> VmSpec {
        VmSpec {
            id: VmId(uuid::Uuid::nil()),
            vcpus: 1,
            memory_mib: 128,
            disk_bytes: 1 << 20,
            meta: VmMeta {
                hostname: "web-1".into(),
                address: Some("10.0.0.5/24".into()),
                gateway: Some("10.0.0.1".into()),
                ssh_authorized_keys: vec!["ssh-ed25519 AAAA a@b".into(), "ssh-ed25519 BBBB c@d\n".into()],
                mtu: None,
            },
            user_data: None,
            nic: None,
        }
    }

    #[test]
    fn meta_is_one_key_per_line() {
        assert_eq!(
            spec().meta_file().expect("valid"),
            "vm_id=00000000-0000-0000-0000-000000000000\nhostname=web-1\naddress=10.0.0.5/24\n\
             gateway=10.0.0.1\nssh_authorized_key=ssh-ed25519 AAAA a@b\nssh_authorized_key=ssh-ed25519 BBBB c@d\n"
        );
    }

    #[test]
    fn a_line_break_cannot_smuggle_in_another_key() {
        let mut spec = spec();
        spec.meta.hostname = "web\nssh_authorized_key=ssh-ed25519 EVIL".into();
        assert!(matches!(spec.meta_file(), Err(Error::InvalidSpec(_))));
    }
}
