//! VM network ports: the host's bridge and one tap per VM on it, named from the VM's id, made with
//! `ip` (iproute2).
//!
//! A VM on a tenant network has its tap on that network's bridge (see [`crate::tenant_net`]); a VM
//! without one (the agent's own tests) sits on the host's bridge, which then holds its subnet's
//! gateway so the host reaches it.

use crate::qemu::VmNic;
use meridian_core::id::VmId;
use std::net::IpAddr;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

/// How long one `ip` command may take.
const IP_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong setting up a port.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request's address or gateway does not parse.
    #[error("invalid network request: {0}")]
    Invalid(String),
    /// `ip` could not be run.
    #[error("could not run `{command}`")]
    Spawn {
        /// The command line.
        command: String,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// `ip` failed.
    #[error("`{command}` failed: {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// What it said.
        stderr: String,
    },
    /// `ip` did not finish in time.
    #[error("`{command}` did not finish within {IP_TIMEOUT:?}")]
    Timeout {
        /// The command line.
        command: String,
    },
}

/// The port of VM `id`: tap `mt` + the first 13 hex digits of its id (15 characters, the kernel's
/// limit for an interface name) and MAC `52:54:00` (QEMU's prefix) + the id's last 3 bytes.
pub fn vm_nic(id: VmId) -> VmNic {
    let hex = id.0.simple().to_string();
    let b = id.0.as_bytes();
    VmNic {
        tap: format!("mt{}", &hex[..13]),
        mac: format!("52:54:00:{:02x}:{:02x}:{:02x}", b[13], b[14], b[15]),
    }
}

/// The host's VM network: one bridge.
#[derive(Clone, Debug)]
pub struct Network {
    bridge: String,
}

impl Network {
    /// The network on bridge `bridge` (not made yet: see [`Network::ensure_bridge`]).
    pub fn new(bridge: &str) -> Self {
        Self {
            bridge: bridge.to_owned(),
        }
    }

    /// The bridge's name.
    pub fn bridge(&self) -> &str {
        &self.bridge
    }

    /// Makes the bridge exist and be up.
    pub async fn ensure_bridge(&self) -> Result<(), Error> {
        add_link(&self.bridge, &["link", "add", &self.bridge, "type", "bridge"]).await?;
        if !link_up(&self.bridge) {
            ip(&["link", "set", &self.bridge, "up"]).await?;
        }
        Ok(())
    }

    /// Whether VM `id`'s tap exists.
    pub fn tap_exists(&self, id: VmId) -> bool {
        link_exists(&vm_nic(id).tap)
    }

    /// Makes VM `id`'s tap exist, on the bridge and up; when `address` (`10.16.0.5/24`) and
    /// `gateway` are given, the bridge also holds the gateway with that prefix, so the host
    /// reaches the VM's subnet.
    pub async fn ensure_port(
        &self,
        id: VmId,
        address: Option<&str>,
        gateway: Option<&str>,
    ) -> Result<VmNic, Error> {
        let gateway = match (address, gateway) {
            (Some(address), Some(gateway)) => Some(gateway_on_bridge(address, gateway)?),
            _ => None,
        };
        let nic = self.ensure_tap(id, &self.bridge, None).await?;
        if let Some(gateway) = gateway {
            let held = ip(&["-o", "addr", "show", "dev", &self.bridge]).await?;
            if !held.split_whitespace().any(|word| word == gateway) {
                ip(&["addr", "replace", &gateway, "dev", &self.bridge]).await?;
            }
        }
        Ok(nic)
    }

    /// Makes VM `id`'s tap exist on tenant network bridge `bridge` (made if absent), up, at `mtu`.
    pub async fn ensure_tenant_port(&self, id: VmId, bridge: &str, mtu: u32) -> Result<VmNic, Error> {
        let mtu = mtu.to_string();
        add_link(bridge, &["link", "add", bridge, "mtu", &mtu, "type", "bridge"]).await?;
        if !link_up(bridge) {
            ip(&["link", "set", bridge, "up"]).await?;
        }
        self.ensure_tap(id, bridge, Some(&mtu)).await
    }

    /// VM `id`'s tap, on `bridge` and up.
    async fn ensure_tap(&self, id: VmId, bridge: &str, mtu: Option<&str>) -> Result<VmNic, Error> {
        let nic = vm_nic(id);
        add_link(&nic.tap, &["tuntap", "add", "dev", &nic.tap, "mode", "tap"]).await?;
        if let Some(mtu) = mtu {
            ip(&["link", "set", &nic.tap, "mtu", mtu]).await?;
        }
        if master(&nic.tap).as_deref() != Some(bridge) {
            ip(&["link", "set", &nic.tap, "master", bridge]).await?;
        }
        if !link_up(&nic.tap) {
            ip(&["link", "set", &nic.tap, "up"]).await?;
        }
        Ok(nic)
    }

    /// Removes VM `id`'s tap; succeeds when it is already gone.
    pub async fn remove_port(&self, id: VmId) -> Result<(), Error> {
        let nic = vm_nic(id);
        if link_exists(&nic.tap) {
            ip(&["link", "del", "dev", &nic.tap]).await?;
        }
        Ok(())
    }
}

/// `gateway/prefix` from the VM's `address/prefix` and its `gateway`.
fn gateway_on_bridge(address: &str, gateway: &str) -> Result<String, Error> {
    let (ip_part, prefix) = address
        .split_once('/')
        .ok_or_else(|| Error::Invalid(format!("address {address:?} has no /prefix")))?;
    let ip_addr: IpAddr = ip_part
        .parse()
        .map_err(|_| Error::Invalid(format!("address {address:?} is not an IP address")))?;
    let gateway: IpAddr = gateway
        .parse()
        .map_err(|_| Error::Invalid(format!("gateway {gateway:?} is not an IP address")))?;
    let max = if ip_addr.is_ipv4() { 32 } else { 128 };
    let prefix: u8 = prefix
        .parse()
        .ok()
        .filter(|p| *p <= max)
        .ok_or_else(|| Error::Invalid(format!("address {address:?} has a bad prefix")))?;
    if ip_addr.is_ipv4() != gateway.is_ipv4() {
        return Err(Error::Invalid(
            "address and gateway are of different IP versions".to_owned(),
        ));
    }
    Ok(format!("{gateway}/{prefix}"))
}

// Link state is asked of the kernel over netlink (`ip -o link show`), not read from sysfs: an
// agent that entered its network namespace without a mount namespace of its own (as the lab starts
// it, so that the tenant routers it names are seen by everyone) sees the machine's sysfs.
fn link(name: &str) -> Option<String> {
    let out = std::process::Command::new("ip")
        .args(["-o", "link", "show", "dev", name])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The bytes through VM `id`'s port since its tap was made, as `(received by the VM, sent by
/// it)`; None when it has no tap.
pub async fn port_bytes(id: VmId) -> Result<Option<(u64, u64)>, Error> {
    let tap = vm_nic(id).tap;
    if !link_exists(&tap) {
        return Ok(None);
    }
    let listed = ip(&["-j", "-s", "link", "show", "dev", &tap]).await?;
    tap_bytes(&listed).map(Some)
}

/// `(received by the VM, sent by it)` from `ip -j -s link show` of its tap: what the tap
/// transmits goes to the guest, what it receives came from it.
fn tap_bytes(json: &str) -> Result<(u64, u64), Error> {
    let listed: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| Error::Invalid(format!("`ip -j -s link` did not print JSON: {e}")))?;
    let stats = &listed[0]["stats64"];
    match (stats["tx"]["bytes"].as_u64(), stats["rx"]["bytes"].as_u64()) {
        (Some(to_guest), Some(from_guest)) => Ok((to_guest, from_guest)),
        _ => Err(Error::Invalid(
            "`ip -j -s link` printed no byte counts".to_owned(),
        )),
    }
}

/// Whether link `name` exists in this network namespace.
pub(crate) fn link_exists(name: &str) -> bool {
    link(name).is_some()
}

fn link_up(name: &str) -> bool {
    // The administrative flags, e.g. `<BROADCAST,MULTICAST,UP,LOWER_UP>`.
    link(name).is_some_and(|line| {
        line.split(['<', '>'])
            .nth(1)
            .is_some_and(|flags| flags.split(',').any(|flag| flag == "UP"))
    })
}

fn master(name: &str) -> Option<String> {
    link(name)?
        .split_whitespace()
        .skip_while(|word| *word != "master")
        .nth(1)
        .map(str::to_owned)
}

/// Runs `ip args`, which adds link `name`, unless that link exists. Two VMs of one tenant network
/// are booted at once, and each makes their bridge if absent: the one that finds it made between
/// its check and its `ip link add` ("File exists") has what it asked for.
async fn add_link(name: &str, args: &[&str]) -> Result<(), Error> {
    if link_exists(name) {
        return Ok(());
    }
    match ip(args).await {
        Err(_) if link_exists(name) => Ok(()),
        done => done.map(drop),
    }
}

/// Runs `ip args`, logged; its stdout.
async fn ip(args: &[&str]) -> Result<String, Error> {
    let command = format!("ip {}", args.join(" "));
    tracing::info!(command = %command, "running");
    let run = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(IP_TIMEOUT, run)
        .await
        .map_err(|_| Error::Timeout {
            command: command.clone(),
        })?
        .map_err(|source| Error::Spawn {
            command: command.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(Error::Command {
            command,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_is_named_from_its_vm_id_within_the_kernels_limit() {
        let id = VmId("01234567-89ab-cdef-0123-456789abcdef".parse().expect("uuid"));
        let nic = vm_nic(id);
        assert_eq!(nic.tap, "mt0123456789abc");
        assert_eq!(nic.tap.len(), 15, "IFNAMSIZ is 16 with the NUL");
        assert_eq!(nic.mac, "52:54:00:ab:cd:ef");
    }

    #[test]
    fn a_taps_transmit_is_what_its_guest_receives() {
        let listed = r#"[{"ifindex":7,"ifname":"mt0123456789abc","stats64":{"rx":{"bytes":1500,"packets":3},"tx":{"bytes":9000,"packets":6}}}]"#;
        assert_eq!(tap_bytes(listed).expect("counts"), (9000, 1500));
        assert!(tap_bytes("[]").is_err(), "no link, no figures");
        assert!(tap_bytes("not json").is_err());
    }

    #[test]
    fn the_bridge_holds_the_gateway_with_the_vms_prefix() {
        assert_eq!(
            gateway_on_bridge("10.77.0.5/24", "10.77.0.1").expect("valid"),
            "10.77.0.1/24"
        );
        assert!(gateway_on_bridge("10.77.0.5", "10.77.0.1").is_err(), "no prefix");
        assert!(gateway_on_bridge("10.77.0.5/33", "10.77.0.1").is_err());
        assert!(gateway_on_bridge("10.77.0.5/24", "fe80::1").is_err());
        assert!(gateway_on_bridge("10.77.0.5/24", "10.77.0.1; reboot").is_err());
    }
}
