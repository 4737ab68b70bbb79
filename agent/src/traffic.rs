//! What a tenant network's VMs send (issue #16): counted by destination for metering, and shaped
//! to the tenant's rate caps.
//!
//! **Counting.** In each tenant router, table `ip meridian_meter` holds one named counter per VM
//! and destination class — `v<vm>_<zone>` for the network's VMs in another zone, `v<vm>_internet`
//! for breakout — and a chain on the forward hook (after the firewall's, so only what is let
//! through counts) whose rules match the VM's address (anti-spoofing makes it the VM's own) and
//! the way out (`mxN` to a member of that zone, or `ext`). Counters count IP bytes, before any
//! VXLAN or NAT: what the VM itself sent. They are never reset: the chain's rules are rewritten
//! on every change of the network, the counters stay, and the control plane meters the
//! difference between two readings. A VM's counters go when it leaves the host.
//!
//! **Shaping.** This kernel has HTB and TBF but no `police` action (and no `ifb` to shape what
//! arrives), so a cap is held where the VM's packets leave a device: an HTB class on the egress
//! of `mvN` (the bridge's way into the router, which everything a VM sends out of its segment
//! crosses) per capped VM, chosen by a u32 filter on its source address; and an HTB class on the
//! egress of the VXLAN `mxN` per capped destination zone, chosen by the destination addresses of
//! that zone's members. A packet that matches no filter leaves unshaped (HTB's direct queue). A
//! shaper queues what exceeds the rate, so TCP slows down instead of losing packets as it would to
//! a policer.

use crate::tenant_net::{Error, nft_in, run};
use meridian_core::agent_api::{RateCap, SentBytes};
use meridian_core::id::VmId;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// The counters' table in each tenant router.
const TABLE: &str = "meridian_meter";
/// The class name of breakout traffic.
const INTERNET: &str = "internet";
/// How many packets a capped class queues (at 10 Mb/s, about 120 ms of full-size packets).
const CLASS_QUEUE: u32 = 100;

/// The counter of `vm`'s traffic to `class` (a zone or [`INTERNET`]).
fn counter(vm: VmId, class: &str) -> String {
    format!("v{}_{class}", vm.0.simple())
}

/// Whether `zone` can be part of a counter's name (a catalogue zone id is: `lon1`).
pub fn valid_zone(zone: &str) -> bool {
    (1..=16).contains(&zone.len()) && zone.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The script that makes network `id`'s router count what each of `local` (this host's VMs)
/// sends to each zone of `remote` (the other zones' members) and to the internet, and deletes
/// the counters in `stale` (of VMs no longer here). Counters that exist keep their figures.
pub fn meter_script(
    id: u32,
    local: &[(VmId, Ipv4Addr)],
    remote: &BTreeMap<String, Vec<Ipv4Addr>>,
    stale: &[String],
) -> String {
    let mut script = format!(
        "add table ip {TABLE}\nadd chain ip {TABLE} count {{ type filter hook forward priority 10; policy accept; }}\nflush chain ip {TABLE} count\n"
    );
    for (vm, address) in local {
        for (zone, members) in remote {
            let name = counter(*vm, zone);
            let members: Vec<String> = members.iter().map(Ipv4Addr::to_string).collect();
            script.push_str(&format!(
                "add counter ip {TABLE} {name}\nadd rule ip {TABLE} count ip saddr {address} oifname \"mx{id}\" ip daddr {{ {} }} counter name \"{name}\"\n",
                members.join(", ")
            ));
        }
        let name = counter(*vm, INTERNET);
        script.push_str(&format!(
            "add counter ip {TABLE} {name}\nadd rule ip {TABLE} count ip saddr {address} oifname \"ext\" counter name \"{name}\"\n"
        ));
    }
    for name in stale {
        script.push_str(&format!("delete counter ip {TABLE} {name}\n"));
    }
    script
}

/// The counters of router `router`: name and bytes.
async fn counters(router: &str) -> Result<Vec<(String, u64)>, Error> {
    let listed = match run(
        "ip",
        &[
            "netns", "exec", router, "nft", "-j", "list", "counters", "table", "ip", TABLE,
        ],
    )
    .await
    {
        Ok(listed) => listed,
        // No table yet: nothing counted.
        Err(Error::Command { detail, .. }) if detail.contains("No such file") => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    parse_counters(&listed)
}

/// Counters from `nft -j list counters`.
fn parse_counters(json: &str) -> Result<Vec<(String, u64)>, Error> {
    let listed: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| Error::Invalid(format!("nft's counter list is not JSON: {e}")))?;
    Ok(listed["nftables"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|entry| {
            let counter = entry.get("counter")?;
            Some((counter["name"].as_str()?.to_owned(), counter["bytes"].as_u64()?))
        })
        .collect())
}

/// Brings network `id`'s counters in router `router` up to `local` and `remote` (see
/// [`meter_script`]).
pub async fn ensure_meter(
    router: &str,
    id: u32,
    local: &[(VmId, Ipv4Addr)],
    remote: &BTreeMap<String, Vec<Ipv4Addr>>,
) -> Result<(), Error> {
    let prefixes: Vec<String> = local
        .iter()
        .map(|(vm, _)| format!("v{}_", vm.0.simple()))
        .collect();
    let stale: Vec<String> = counters(router)
        .await?
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| !prefixes.iter().any(|p| name.starts_with(p)))
        .collect();
    nft_in(router, &meter_script(id, local, remote, &stale)).await
}

/// What VM `vm` has sent, from router `router`'s counters.
pub async fn sent(router: &str, vm: VmId) -> Result<SentBytes, Error> {
    Ok(sent_of(vm, &counters(router).await?))
}

/// VM `vm`'s figures among `counters`.
fn sent_of(vm: VmId, counters: &[(String, u64)]) -> SentBytes {
    let prefix = format!("v{}_", vm.0.simple());
    let mut sent = SentBytes::default();
    for (name, bytes) in counters {
        match name.strip_prefix(&prefix) {
            Some(INTERNET) => sent.internet += bytes,
            Some(zone) => *sent.zones.entry(zone.to_owned()).or_default() += bytes,
            None => {}
        }
    }
    sent
}

/// One shaped class: its rate and what selects it (u32 matches such as `ip src 10.0.0.5/32`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Class {
    /// kbit/s.
    pub kbit: u64,
    /// Any of these selects the class.
    pub matches: Vec<String>,
}

/// The `tc` commands (after `tc qdisc del dev <dev> root`) that shape `dev`'s egress to
/// `classes`; none when there is nothing to shape.
pub fn shaper_commands(dev: &str, classes: &[Class]) -> Vec<Vec<String>> {
    if classes.iter().all(|class| class.matches.is_empty()) {
        return Vec::new();
    }
    let words = |text: String| text.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    // Unclassified packets take HTB's direct queue (default 0 names no class), unshaped.
    let mut commands = vec![words(format!(
        "qdisc add dev {dev} root handle 1: htb default 0 direct_qlen 1000"
    ))];
    for (n, class) in classes.iter().filter(|c| !c.matches.is_empty()).enumerate() {
        let minor = n + 1;
        let rate = class.kbit.max(8);
        commands.push(words(format!(
            "class add dev {dev} parent 1: classid 1:{minor:x} htb rate {rate}kbit ceil {rate}kbit"
        )));
        commands.push(words(format!(
            "qdisc add dev {dev} parent 1:{minor:x} pfifo limit {CLASS_QUEUE}"
        )));
        for selector in &class.matches {
            commands.push(words(format!(
                "filter add dev {dev} parent 1: protocol ip prio 1 u32 match {selector} flowid 1:{minor:x}"
            )));
        }
    }
    commands
}

/// The classes of network's caps: on the segment's way out (`mvN`) per capped VM of `local`, on
/// the VXLAN per capped zone of `remote`.
pub fn classes(
    caps: &[RateCap],
    local: &[(VmId, Ipv4Addr)],
    remote: &BTreeMap<String, Vec<Ipv4Addr>>,
) -> Result<(Vec<Class>, Vec<Class>), Error> {
    let (mut segment, mut vxlan) = (Vec::new(), Vec::new());
    for cap in caps {
        match cap {
            RateCap::Vm { address, kbit } => {
                let address: Ipv4Addr = address
                    .parse()
                    .map_err(|_| Error::Invalid(format!("capped address {address:?}")))?;
                if local.iter().any(|(_, a)| *a == address) {
                    segment.push(Class {
                        kbit: *kbit,
                        matches: vec![format!("ip src {address}/32")],
                    });
                }
            }
            RateCap::Zone { zone, kbit } => {
                if !valid_zone(zone) {
                    return Err(Error::Invalid(format!("capped zone {zone:?}")));
                }
                vxlan.push(Class {
                    kbit: *kbit,
                    matches: remote
                        .get(zone)
                        .map(Vec::as_slice)
                        .unwrap_or_default()
                        .iter()
                        .map(|member| format!("ip dst {member}/32"))
                        .collect(),
                });
            }
        }
    }
    Ok((segment, vxlan))
}

/// Shapes `dev`'s egress (in namespace `netns`, or the agent's own) with `commands` from
/// [`shaper_commands`], replacing what was there.
pub async fn shape(netns: Option<&str>, dev: &str, commands: &[Vec<String>]) -> Result<(), Error> {
    let with_ns = |args: &[&str]| {
        let mut all: Vec<String> = netns
            .map(|ns| vec!["-n".to_owned(), ns.to_owned()])
            .unwrap_or_default();
        all.extend(args.iter().map(|a| (*a).to_owned()));
        all
    };
    let delete = with_ns(&["qdisc", "del", "dev", dev, "root"]);
    match run("tc", &delete.iter().map(String::as_str).collect::<Vec<_>>()).await {
        // Nothing to delete: the device had its default queue.
        Err(Error::Command { detail, .. })
            if detail.contains("handle of zero") || detail.contains("No such file") => {}
        other => {
            other?;
        }
    }
    for command in commands {
        let args = with_ns(&command.iter().map(String::as_str).collect::<Vec<_>>());
        run("tc", &args.iter().map(String::as_str).collect::<Vec<_>>()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm(n: u128) -> VmId {
        VmId(uuid::Uuid::from_u128(n))
    }

    #[test]
    fn every_vm_counts_per_zone_and_to_the_internet() {
        let remote = BTreeMap::from([(
            "hkg1".to_owned(),
            vec![Ipv4Addr::new(10, 1, 0, 5), Ipv4Addr::new(10, 1, 0, 6)],
        )]);
        let script = meter_script(
            7,
            &[(vm(1), Ipv4Addr::new(10, 0, 0, 5))],
            &remote,
            &["v00000000000000000000000000000009_hkg1".to_owned()],
        );
        let name = format!("v{}_hkg1", vm(1).0.simple());
        assert!(script.contains(&format!(
            "ip saddr 10.0.0.5 oifname \"mx7\" ip daddr {{ 10.1.0.5, 10.1.0.6 }} counter name \"{name}\""
        )));
        assert!(script.contains(&format!("add counter ip meridian_meter {name}\n")));
        assert!(script.contains("ip saddr 10.0.0.5 oifname \"ext\" counter name"));
        assert!(script.contains("delete counter ip meridian_meter v00000000000000000000000000000009_hkg1"));
        assert!(!script.contains("delete table"), "counters outlive every rewrite");
    }

    #[test]
    fn counters_are_read_by_vm_and_class() {
        let one = vm(1).0.simple();
        let listed = format!(
            r#"{{"nftables": [{{"metainfo": {{"version": "1.0.6"}}}},
            {{"counter": {{"family": "ip", "name": "v{one}_hkg1", "table": "meridian_meter", "handle": 3, "packets": 10, "bytes": 14000}}}},
            {{"counter": {{"family": "ip", "name": "v{one}_internet", "table": "meridian_meter", "handle": 4, "packets": 2, "bytes": 120}}}},
            {{"counter": {{"family": "ip", "name": "v{}_hkg1", "table": "meridian_meter", "handle": 5, "packets": 1, "bytes": 99}}}}]}}"#,
            vm(2).0.simple()
        );
        let sent = sent_of(vm(1), &parse_counters(&listed).expect("parses"));
        assert_eq!(sent.internet, 120);
        assert_eq!(sent.zones, BTreeMap::from([("hkg1".to_owned(), 14000)]));
        assert!(parse_counters("not json").is_err());
    }

    #[test]
    fn caps_become_htb_classes_on_the_right_device() {
        let local = [(vm(1), Ipv4Addr::new(10, 0, 0, 5))];
        let remote = BTreeMap::from([("hkg1".to_owned(), vec![Ipv4Addr::new(10, 1, 0, 5)])]);
        let caps = [
            RateCap::Vm {
                address: "10.0.0.5".to_owned(),
                kbit: 10_000,
            },
            // A VM of another host: not shaped here.
            RateCap::Vm {
                address: "10.0.0.9".to_owned(),
                kbit: 5_000,
            },
            RateCap::Zone {
                zone: "hkg1".to_owned(),
                kbit: 2_000,
            },
        ];
        let (segment, vxlan) = classes(&caps, &local, &remote).expect("valid");
        assert_eq!(segment.len(), 1);
        let commands = shaper_commands("mv7", &segment);
        let lines: Vec<String> = commands.iter().map(|c| c.join(" ")).collect();
        assert_eq!(
            lines,
            [
                "qdisc add dev mv7 root handle 1: htb default 0 direct_qlen 1000",
                "class add dev mv7 parent 1: classid 1:1 htb rate 10000kbit ceil 10000kbit",
                "qdisc add dev mv7 parent 1:1 pfifo limit 100",
                "filter add dev mv7 parent 1: protocol ip prio 1 u32 match ip src 10.0.0.5/32 flowid 1:1",
            ]
        );
        let lines: Vec<String> = shaper_commands("mx7", &vxlan)
            .iter()
            .map(|c| c.join(" "))
            .collect();
        assert!(
            lines.contains(
                &"filter add dev mx7 parent 1: protocol ip prio 1 u32 match ip dst 10.1.0.5/32 flowid 1:1"
                    .to_owned()
            )
        );
        assert!(shaper_commands("mv7", &[]).is_empty(), "no caps, no shaper");
        assert!(
            classes(
                &[RateCap::Zone {
                    zone: "hkg1\"; flush".to_owned(),
                    kbit: 1
                }],
                &local,
                &remote
            )
            .is_err()
        );
    }
}
