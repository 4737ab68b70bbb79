//! Tenant networks on this host (issue #16): each tenant's VMs on a segment of their own, a router of
//! the tenant's own per host, and the tenant's routers in every zone joined over the backbone by a
//! VXLAN keyed by the tenant (VNI = the network's id) that carries routed transit — not one layer-2
//! segment stretched across oceans.
//!
//! For network N on this host (everything named from N and, where names are global, the host):
//! - bridge `mbN` holds the VMs' taps and `mvN`, one end of a veth whose other end is `lan` in the
//!   router namespace `m<host>-N` (the kernel has no VRF, so a namespace per tenant router, as
//!   OpenStack Neutron does); `lan` holds the zone subnet's gateway and answers ARP for the
//!   network's VMs on other hosts of the zone (proxy ARP), so a subnet may span hosts;
//! - `mxN`, a VXLAN made here on the host's underlay (backbone) address and moved into the router
//!   namespace, addressed in the network's transit net (169.254.0.0/16, an address per host derived
//!   from its underlay address), with one flood entry per other host of the network;
//! - a /32 route per VM of the network: to `lan` for this host's, via the transit address of its
//!   host for the others'. The MTU is [`TENANT_MTU`] everywhere, VXLAN's headers within the 1500
//!   of the backbone.
//!
//! Isolation: another tenant's VMs are on another bridge behind another router with another VNI;
//! nothing joins them. Anti-spoofing: an nftables table (`bridge meridian`) drops what a VM's tap
//! sends with a MAC or IPv4 address (ARP included) that is not its own.

use meridian_core::agent_api::{TENANT_MTU, TenantNetwork};
use meridian_core::id::VmId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

/// How long one command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// The route protocol number this module tags its routes with, so it can tell them from others.
const ROUTE_PROTO: &str = "77";

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request does not describe a network this host can carry.
    #[error("invalid tenant network: {0}")]
    Invalid(String),
    /// A command failed or could not run.
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Its error output, or why it did not run.
        detail: String,
    },
}

/// A VM's port as this host records it (`<vm dir>/port`), for the anti-spoofing rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    /// The VM.
    pub vm: VmId,
    /// Its tap.
    pub tap: String,
    /// Its MAC.
    pub mac: String,
    /// Its address.
    pub address: Ipv4Addr,
    /// The tenant network it is on.
    pub network: u32,
}

/// This host's tenant networks.
#[derive(Clone, Debug)]
pub struct TenantNets {
    /// The first 8 hex digits of the host id: router namespaces are global names.
    host: String,
    /// The host's underlay (backbone) address.
    underlay: Option<Ipv4Addr>,
    /// One change at a time: two VMs of a network joining at once both bring it up to date, and
    /// the anti-spoofing rules are rewritten whole.
    changing: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// The zone's internet edge as this host reaches it, if it does.
    public: Option<PublicEdge>,
    /// The shaper commands last applied to each device (`mvN`, `mxN`), so an unchanged one is
    /// left alone (rebuilding a shaper drops what it queues).
    shaped: std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, Vec<Vec<String>>>>>,
}

/// Where a host's tenant routers meet the internet: a bridge on the host joined to the zone's
/// edge, and the edge's gateway in the public subnet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicEdge {
    /// The host's bridge to the edge.
    pub bridge: String,
    /// The edge's gateway.
    pub gateway: Ipv4Addr,
    /// The public subnet's prefix length.
    pub prefix: u8,
}

/// The bridge of network `id`.
pub fn bridge(id: u32) -> String {
    format!("mb{id}")
}

/// The transit address of the host at `underlay`, in every network's transit net: 169.254 and the
/// underlay address's last two octets (the lab numbers hosts 10.200.<zone>.<host>).
pub fn transit(underlay: Ipv4Addr) -> Ipv4Addr {
    let [_, _, c, d] = underlay.octets();
    Ipv4Addr::new(169, 254, c, d)
}

impl TenantNets {
    /// The networks of host `host_id` whose underlay address is `underlay`.
    pub fn new(host_id: uuid::Uuid, underlay: Option<Ipv4Addr>) -> Self {
        Self {
            host: host_id.simple().to_string()[..8].to_owned(),
            underlay,
            changing: std::sync::Arc::default(),
            public: None,
            shaped: std::sync::Arc::default(),
        }
    }

    /// The same, whose tenant routers reach the internet through `edge`.
    pub fn with_public_edge(mut self, edge: PublicEdge) -> Self {
        self.public = Some(edge);
        self
    }

    /// The router namespace of network `id` on this host.
    pub fn router(&self, id: u32) -> String {
        format!("m{}-{id}", self.host)
    }

    /// Makes this host carry `net` as described; drops it when none of its members is here.
    pub async fn ensure(&self, net: &TenantNetwork) -> Result<(), Error> {
        let _one_at_a_time = self.changing.lock().await;
        let underlay = self
            .underlay
            .ok_or_else(|| Error::Invalid("this host has no underlay address (--underlay)".to_owned()))?;
        if net.id == 0 || net.id >= 1 << 24 {
            return Err(Error::Invalid(format!(
                "network id {} is not a VXLAN VNI",
                net.id
            )));
        }
        let (gateway, prefix) = parse_gateway(&net.gateway)?;
        let mut local = BTreeSet::new();
        let mut local_vms = Vec::new();
        let mut remote = Vec::new();
        let mut by_zone: std::collections::BTreeMap<String, Vec<Ipv4Addr>> =
            std::collections::BTreeMap::new();
        for member in &net.members {
            let address: Ipv4Addr = member
                .address
                .parse()
                .map_err(|_| Error::Invalid(format!("member address {:?}", member.address)))?;
            let host: Ipv4Addr = member
                .host
                .parse()
                .map_err(|_| Error::Invalid(format!("member host {:?}", member.host)))?;
            if host == underlay {
                local.insert(address);
                local_vms.push((member.vm, address));
            } else {
                remote.push((address, host));
                // (A member without a zone, from an older control plane, is neither counted
                // nor capped by zone.)
                if !member.zone.is_empty() {
                    if !crate::traffic::valid_zone(&member.zone) {
                        return Err(Error::Invalid(format!("member zone {:?}", member.zone)));
                    }
                    by_zone.entry(member.zone.clone()).or_default().push(address);
                }
            }
        }
        // This host's own zone is not a destination over the backbone.
        let own_zone: Option<String> = net
            .members
            .iter()
            .find(|m| m.host == underlay.to_string())
            .map(|m| m.zone.clone());
        if let Some(zone) = own_zone {
            by_zone.remove(&zone);
        }
        if local.is_empty() {
            return self.remove_locked(net.id).await;
        }
        let (router, bridge, veth, vxlan) = (
            self.router(net.id),
            bridge(net.id),
            format!("mv{}", net.id),
            format!("mx{}", net.id),
        );
        let mtu = TENANT_MTU.to_string();
        // The agent must share the machine's mount namespace for the name to be seen by others
        // (`ip netns exec` would give it one of its own: the lab starts agents with `nsenter`).
        if !Path::new("/run/netns").join(&router).exists() {
            run("ip", &["netns", "add", &router]).await?;
        }
        let in_router = |args: &[&str]| {
            let mut all = vec!["-n", router.as_str()];
            all.extend_from_slice(args);
            all.into_iter().map(str::to_owned).collect::<Vec<_>>()
        };
        run("ip", &strs(&in_router(&["link", "set", "lo", "up"]))).await?;
        run(
            "ip",
            &["netns", "exec", &router, "sysctl", "-qw", "net.ipv4.ip_forward=1"],
        )
        .await?;
        // The VMs' ports make this bridge too, without this lock (see `crate::nic::add_link`).
        if !link_exists(&bridge) {
            let made = run("ip", &["link", "add", &bridge, "mtu", &mtu, "type", "bridge"]).await;
            if made.is_err() && !link_exists(&bridge) {
                made?;
            }
        }
        run("ip", &["link", "set", &bridge, "up"]).await?;
        if !link_exists(&veth) {
            run(
                "ip",
                &[
                    "link", "add", &veth, "mtu", &mtu, "type", "veth", "peer", "name", "lan", "netns",
                    &router,
                ],
            )
            .await?;
        }
        run("ip", &["link", "set", &veth, "master", &bridge, "up"]).await?;
        run(
            "ip",
            &strs(&in_router(&["link", "set", "lan", "mtu", &mtu, "up"])),
        )
        .await?;
        run(
            "ip",
            &[
                "netns",
                "exec",
                &router,
                "sysctl",
                "-qw",
                "net.ipv4.conf.lan.proxy_arp=1",
            ],
        )
        .await?;
        run(
            "ip",
            &strs(&in_router(&[
                "addr",
                "replace",
                &format!("{gateway}/{prefix}"),
                "dev",
                "lan",
            ])),
        )
        .await?;
        // The VXLAN is made in this (the underlay's) namespace and keeps sending from it once moved.
        let vni = net.id.to_string();
        // (Moved, it shows as `mxN@ifK`: asked for by name, it answers or fails.)
        if run("ip", &strs(&in_router(&["link", "show", &vxlan])))
            .await
            .is_err()
        {
            if !link_exists(&vxlan) {
                run(
                    "ip",
                    &[
                        "link",
                        "add",
                        &vxlan,
                        "mtu",
                        &mtu,
                        "type",
                        "vxlan",
                        "id",
                        &vni,
                        "local",
                        &underlay.to_string(),
                        "dstport",
                        "4789",
                        "nolearning",
                    ],
                )
                .await?;
            }
            run("ip", &["link", "set", &vxlan, "netns", &router]).await?;
        }
        run(
            "ip",
            &strs(&in_router(&[
                "addr",
                "replace",
                &format!("{}/16", transit(underlay)),
                "dev",
                &vxlan,
            ])),
        )
        .await?;
        run("ip", &strs(&in_router(&["link", "set", &vxlan, "up"]))).await?;

        // Flood entries: one per other host of the network.
        let peers: BTreeSet<Ipv4Addr> = remote.iter().map(|(_, host)| *host).collect();
        let fdb = run("bridge", &["-n", &router, "fdb", "show", "dev", &vxlan]).await?;
        let flooded: BTreeSet<Ipv4Addr> = fdb
            .lines()
            .filter(|line| line.starts_with("00:00:00:00:00:00"))
            .filter_map(|line| {
                line.split_whitespace()
                    .skip_while(|w| *w != "dst")
                    .nth(1)?
                    .parse()
                    .ok()
            })
            .collect();
        for peer in peers.difference(&flooded) {
            run(
                "bridge",
                &[
                    "-n",
                    &router,
                    "fdb",
                    "append",
                    "00:00:00:00:00:00",
                    "dev",
                    &vxlan,
                    "dst",
                    &peer.to_string(),
                ],
            )
            .await?;
        }
        for gone in flooded.difference(&peers) {
            run(
                "bridge",
                &[
                    "-n",
                    &router,
                    "fdb",
                    "del",
                    "00:00:00:00:00:00",
                    "dev",
                    &vxlan,
                    "dst",
                    &gone.to_string(),
                ],
            )
            .await?;
        }

        // Routes: one per VM of the network; ours are tagged, and the stale ones go.
        let mut wanted = BTreeSet::new();
        for address in &local {
            run(
                "ip",
                &strs(&in_router(&[
                    "route",
                    "replace",
                    &format!("{address}/32"),
                    "dev",
                    "lan",
                    "proto",
                    ROUTE_PROTO,
                ])),
            )
            .await?;
            wanted.insert(*address);
        }
        for (address, host) in &remote {
            let via = transit(*host).to_string();
            run(
                "ip",
                &strs(&in_router(&[
                    "route",
                    "replace",
                    &format!("{address}/32"),
                    "via",
                    &via,
                    "dev",
                    &vxlan,
                    "proto",
                    ROUTE_PROTO,
                ])),
            )
            .await?;
            wanted.insert(*address);
        }
        let routes = run("ip", &strs(&in_router(&["route", "show", "proto", ROUTE_PROTO]))).await?;
        for line in routes.lines() {
            let Some(destination) = line.split_whitespace().next() else {
                continue;
            };
            let address = destination.trim_end_matches("/32").parse::<Ipv4Addr>().ok();
            if address.is_none_or(|a| !wanted.contains(&a)) {
                run(
                    "ip",
                    &strs(&in_router(&["route", "del", destination, "proto", ROUTE_PROTO])),
                )
                .await?;
            }
        }
        self.ensure_breakout(net, &router, &local).await?;
        crate::traffic::ensure_meter(&router, net.id, &local_vms, &by_zone).await?;
        let (segment, backbone) = crate::traffic::classes(&net.caps, &local_vms, &by_zone)?;
        self.shape(None, &veth, &segment).await?;
        self.shape(Some(&router), &vxlan, &backbone).await
    }

    /// Shapes `dev` to `classes` unless it already is.
    async fn shape(
        &self,
        netns: Option<&str>,
        dev: &str,
        classes: &[crate::traffic::Class],
    ) -> Result<(), Error> {
        let commands = crate::traffic::shaper_commands(dev, classes);
        let applied = self
            .shaped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(dev)
            .cloned();
        // After a restart nothing is known: a device is shaped (or cleared) once.
        if applied.as_ref() == Some(&commands) {
            return Ok(());
        }
        crate::traffic::shape(netns, dev, &commands).await?;
        self.shaped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(dev.to_owned(), commands);
        Ok(())
    }

    /// What VM `vm` of network `id` has sent ([`crate::traffic`]).
    pub async fn sent(&self, id: u32, vm: VmId) -> Result<meridian_core::agent_api::SentBytes, Error> {
        let router = self.router(id);
        if !Path::new("/run/netns").join(&router).exists() {
            return Ok(meridian_core::agent_api::SentBytes::default());
        }
        crate::traffic::sent(&router, vm).await
    }

    /// The router's side of internet breakout: `ext` on the host's public bridge holding the
    /// public addresses of this host's VMs with breakout, 1:1 NAT between each and its VM, and the
    /// inbound firewall: established traffic and the tenant's rules in, nothing else; out, only
    /// from VMs with breakout (the others have no way out). Without breakouts there is no `ext`.
    async fn ensure_breakout(
        &self,
        net: &TenantNetwork,
        router: &str,
        local: &BTreeSet<Ipv4Addr>,
    ) -> Result<(), Error> {
        let mut pairs = Vec::new();
        for breakout in &net.breakouts {
            let private: Ipv4Addr = breakout
                .address
                .parse()
                .map_err(|_| Error::Invalid(format!("breakout address {:?}", breakout.address)))?;
            let public: Ipv4Addr = breakout
                .public
                .parse()
                .map_err(|_| Error::Invalid(format!("public address {:?}", breakout.public)))?;
            if !local.contains(&private) {
                return Err(Error::Invalid(format!(
                    "{private} has breakout but is not a VM of this host"
                )));
            }
            pairs.push((private, public));
        }
        let outside = format!("mxe{}", net.id);
        let in_router = |args: &[&str]| {
            let mut all = vec!["-n", router];
            all.extend_from_slice(args);
            all.into_iter().map(str::to_owned).collect::<Vec<_>>()
        };
        if pairs.is_empty() {
            if link_exists(&outside) {
                run("ip", &["link", "del", &outside]).await?;
            }
            return nft_in(router, "table ip meridian {}\ndelete table ip meridian\n").await;
        }
        let edge = self
            .public
            .as_ref()
            .ok_or_else(|| Error::Invalid("this host has no internet edge (--public-bridge)".to_owned()))?;
        if !link_exists(&outside) {
            run(
                "ip",
                &[
                    "link", "add", &outside, "type", "veth", "peer", "name", "ext", "netns", router,
                ],
            )
            .await?;
        }
        run("ip", &["link", "set", &outside, "master", &edge.bridge, "up"]).await?;
        run("ip", &strs(&in_router(&["link", "set", "ext", "up"]))).await?;
        let held = run(
            "ip",
            &strs(&in_router(&["-o", "-4", "addr", "show", "dev", "ext"])),
        )
        .await?;
        let wanted: BTreeSet<String> = pairs
            .iter()
            .map(|(_, public)| format!("{public}/{}", edge.prefix))
            .collect();
        for address in &wanted {
            if !held.split_whitespace().any(|word| word == address) {
                run("ip", &strs(&in_router(&["addr", "add", address, "dev", "ext"]))).await?;
            }
        }
        for word in held
            .split_whitespace()
            .filter(|w| w.contains('/') && w.contains('.'))
        {
            if !wanted.contains(word) {
                run("ip", &strs(&in_router(&["addr", "del", word, "dev", "ext"]))).await?;
            }
        }
        run(
            "ip",
            &strs(&in_router(&[
                "route",
                "replace",
                "default",
                "via",
                &edge.gateway.to_string(),
                "dev",
                "ext",
            ])),
        )
        .await?;

        let mut script =
            String::from("table ip meridian {}\ndelete table ip meridian\ntable ip meridian {\n");
        script.push_str("  chain pre {\n    type nat hook prerouting priority dstnat; policy accept;\n");
        for (private, public) in &pairs {
            script.push_str(&format!(
                "    iifname \"ext\" ip daddr {public} dnat to {private}\n"
            ));
        }
        script
            .push_str("  }\n  chain post {\n    type nat hook postrouting priority srcnat; policy accept;\n");
        for (private, public) in &pairs {
            script.push_str(&format!(
                "    oifname \"ext\" ip saddr {private} snat to {public}\n"
            ));
        }
        script.push_str(
            "  }\n  chain forward {\n    type filter hook forward priority filter; policy accept;\n",
        );
        script.push_str("    ct state established,related accept\n");
        for rule in &net.inbound {
            script.push_str(&format!("    iifname \"ext\" {} accept\n", inbound_match(rule)?));
        }
        script.push_str("    iifname \"ext\" drop\n");
        let senders: Vec<String> = pairs.iter().map(|(private, _)| private.to_string()).collect();
        script.push_str(&format!(
            "    oifname \"ext\" ip saddr != {{ {} }} drop\n",
            senders.join(", ")
        ));
        script.push_str("  }\n}\n");
        nft_in(router, &script).await
    }

    /// Drops network `id` from this host: its router namespace (with `lan` and the VXLAN, and so
    /// the veth's other end) and its bridge. Succeeds when it is not here.
    pub async fn remove(&self, id: u32) -> Result<(), Error> {
        let _one_at_a_time = self.changing.lock().await;
        self.remove_locked(id).await
    }

    async fn remove_locked(&self, id: u32) -> Result<(), Error> {
        {
            let mut shaped = self
                .shaped
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            shaped.remove(&format!("mv{id}"));
            shaped.remove(&format!("mx{id}"));
        }
        // The host's links first (deleting `mvN` takes `lan` with it): a namespace's deletion
        // tears its devices down later, in the background, so a link checked after it may vanish
        // between the check and the delete.
        for link in [
            format!("mv{id}"),
            format!("mxe{id}"),
            bridge(id),
            format!("mx{id}"),
        ] {
            if link_exists(&link) {
                match run("ip", &["link", "del", &link]).await {
                    Err(Error::Command { detail, .. }) if detail.contains("Cannot find device") => {}
                    other => {
                        other?;
                    }
                }
            }
        }
        let router = self.router(id);
        if Path::new("/run/netns").join(&router).exists() {
            run("ip", &["netns", "del", &router]).await?;
        }
        Ok(())
    }

    /// Replaces the anti-spoofing rules with ones for `ports` (every port of this host), in one
    /// nftables transaction.
    pub async fn filter_ports(&self, ports: &[Port]) -> Result<(), Error> {
        let _one_at_a_time = self.changing.lock().await;
        let mut script = String::from(
            "table bridge meridian {}\ndelete table bridge meridian\ntable bridge meridian {\n  chain ports {\n    type filter hook forward priority 0; policy accept;\n",
        );
        for port in ports {
            let (tap, mac, address) = (&port.tap, &port.mac, port.address);
            script.push_str(&format!(
                "    iifname \"{tap}\" ether saddr != {mac} drop\n    iifname \"{tap}\" arp saddr ether != {mac} drop\n    iifname \"{tap}\" arp saddr ip != {address} drop\n    iifname \"{tap}\" ip saddr != {address} drop\n    iifname \"{tap}\" ether type ip6 drop\n"
            ));
        }
        script.push_str("  }\n}\n");
        nft(&script).await
    }
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// `10.0.0.1/24` into its address and prefix.
fn parse_gateway(gateway: &str) -> Result<(Ipv4Addr, u8), Error> {
    let invalid = || {
        Error::Invalid(format!(
            "gateway {gateway:?} is not an IPv4 address with a prefix"
        ))
    };
    let (address, prefix) = gateway.split_once('/').ok_or_else(invalid)?;
    let prefix: u8 = prefix
        .parse()
        .ok()
        .filter(|p| (8..=30).contains(p))
        .ok_or_else(invalid)?;
    Ok((address.parse().map_err(|_| invalid())?, prefix))
}

use crate::nic::link_exists;

/// Runs `program args`, logged; its standard output.
pub(crate) async fn run(program: &str, args: &[&str]) -> Result<String, Error> {
    let command = format!("{program} {}", args.join(" "));
    tracing::debug!(command = %command, "running");
    let run = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let failed = |detail: String| Error::Command {
        command: command.clone(),
        detail,
    };
    let out = tokio::time::timeout(COMMAND_TIMEOUT, run)
        .await
        .map_err(|_| failed(format!("no answer within {COMMAND_TIMEOUT:?}")))?
        .map_err(|e| failed(e.to_string()))?;
    if !out.status.success() {
        return Err(failed(String::from_utf8_lossy(&out.stderr).trim().to_owned()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// What an inbound rule matches, in nftables' words. Every part was checked here: the rule text
/// never carries anything the control plane sent verbatim.
fn inbound_match(rule: &meridian_core::agent_api::InboundRule) -> Result<String, Error> {
    let source: ipnet_like::Cidr = rule
        .source
        .parse()
        .map_err(|_| Error::Invalid(format!("rule source {:?}", rule.source)))?;
    let ports = match (rule.port_from, rule.port_to) {
        (Some(a), Some(b)) if a <= b => Some(if a == b { a.to_string() } else { format!("{a}-{b}") }),
        (None, None) => None,
        _ => {
            return Err(Error::Invalid(
                "a rule's ports run from the first to the last".to_owned(),
            ));
        }
    };
    match (rule.protocol.as_str(), ports) {
        ("icmp", None) => Ok(format!("ip saddr {source} ip protocol icmp")),
        (protocol @ ("tcp" | "udp"), Some(ports)) => {
            Ok(format!("ip saddr {source} {protocol} dport {ports}"))
        }
        _ => Err(Error::Invalid(format!("rule {:?} with its ports", rule.protocol))),
    }
}

/// An IPv4 network written `a.b.c.d/n`, parsed strictly.
mod ipnet_like {
    use std::net::Ipv4Addr;

    /// An IPv4 CIDR.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Cidr(Ipv4Addr, u8);

    impl std::str::FromStr for Cidr {
        type Err = ();
        fn from_str(s: &str) -> Result<Self, ()> {
            let (address, prefix) = s.split_once('/').ok_or(())?;
            let prefix: u8 = prefix.parse().map_err(|_| ())?;
            if prefix > 32 {
                return Err(());
            }
            Ok(Cidr(address.parse().map_err(|_| ())?, prefix))
        }
    }

    impl std::fmt::Display for Cidr {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}/{}", self.0, self.1)
        }
    }
}

/// Applies an nftables script in router namespace `router`.
pub(crate) async fn nft_in(router: &str, script: &str) -> Result<(), Error> {
    nft_args(&["netns", "exec", router, "nft", "-f", "-"], "ip", script).await
}

/// Applies an nftables script in one transaction.
async fn nft(script: &str) -> Result<(), Error> {
    nft_args(&["-f", "-"], "nft", script).await
}

/// Runs `program args` with `script` on its standard input.
async fn nft_args(args: &[&str], program: &str, script: &str) -> Result<(), Error> {
    let failed = |detail: String| Error::Command {
        command: format!("{program} {}", args.join(" ")),
        detail,
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .await
            .map_err(|e| failed(e.to_string()))?;
    }
    let out = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| failed("no answer".to_owned()))?
        .map_err(|e| failed(e.to_string()))?;
    if !out.status.success() {
        return Err(failed(String::from_utf8_lossy(&out.stderr).trim().to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transit_addresses_follow_the_underlay() {
        assert_eq!(
            transit(Ipv4Addr::new(10, 200, 4, 11)),
            Ipv4Addr::new(169, 254, 4, 11)
        );
    }

    #[test]
    fn a_gateway_needs_its_prefix() {
        assert_eq!(
            parse_gateway("10.0.0.1/24").expect("valid"),
            (Ipv4Addr::new(10, 0, 0, 1), 24)
        );
        assert!(parse_gateway("10.0.0.1").is_err());
        assert!(parse_gateway("10.0.0.1/33").is_err());
        assert!(parse_gateway("10.0.0.1/24; reboot").is_err());
    }
}
