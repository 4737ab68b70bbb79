//! `meridian-lab`: the lab's own tools, never part of a production data path (issue #16).
//!
//! - `meridian-lab zones` prints the catalogue's zones, `index zone`, the order the lab numbers them in.
//! - `meridian-lab edges` prints the backbone's edges as the lab builds them: `index a b one_way_us
//!   ospf_cost`, the one-way delay being half the edge's modelled round trip.
//! - `meridian-lab delay SPEC READY` is the lab's stand-in for fibre: this kernel has no `netem`, so
//!   each backbone edge is a pair of tap devices whose frames this process carries from one to the
//!   other after the edge's one-way delay. `SPEC` has a line per edge, `tap_a ns_a tap_b ns_b
//!   one_way_us`; the taps are made here, moved into their routers' namespaces and brought up there,
//!   then `READY` is written. Cutting an edge is done to its taps (link down), as a cut fibre would
//!   be seen by the routers; this process keeps carrying whatever still arrives.
//! - `meridian-lab links URL TOKEN_FILE NAME` is the lab backbone's controller: every 2 s it reads
//!   the links staff cut from the control plane at `URL` (`BACKBONE_PATH`, with the backbone
//!   controller's token) and takes a newly cut link's taps down in lab `NAME`'s routers, or a
//!   restored one's up. It changes only what staff changed: an edge cut by hand (`lab.sh cut`)
//!   stays as it is.

use anyhow::{Context, Result, bail};
use meridian_core::backbone::BACKBONE;
use std::sync::Arc;
use std::time::Duration;
use tokio_tun::Tun;

/// Frames queued on one direction of an edge at most (a router's buffer): more are dropped.
const QUEUE_FRAMES: usize = 4096;
/// The largest frame carried (the taps' MTU plus the Ethernet header, with room).
const FRAME_MAX: usize = 1600;
/// OSPF cost units: one per 10 µs of one-way delay, so the shortest-delay path is the cheapest.
const COST_UNIT_US: u64 = 10;

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["zones"] => {
            for (index, zone) in meridian_core::zone::ZONES.iter().enumerate() {
                println!("{index} {}", zone.id);
            }
            Ok(())
        }
        ["edges"] => {
            for edge in BACKBONE.edges() {
                let one_way_us = (edge.modelled_rtt_ms * 500.0).round() as u64;
                let cost = (one_way_us / COST_UNIT_US).clamp(1, 65_535);
                println!("{} {} {} {one_way_us} {cost}", edge.id.index(), edge.a, edge.b);
            }
            Ok(())
        }
        ["delay", spec, ready] => delay(spec, ready).await,
        ["links", url, token_file, name] => links(url, token_file, name).await,
        _ => bail!(
            "usage: meridian-lab zones | meridian-lab edges | meridian-lab delay SPEC READY | meridian-lab links URL TOKEN_FILE NAME"
        ),
    }
}

/// The lab backbone's controller (see the module's documentation).
async fn links(url: &str, token_file: &str, name: &str) -> Result<()> {
    use meridian_core::agent_api::{API_VERSION, BACKBONE_PATH, BackboneIntent, VERSION_HEADER};
    let token = std::fs::read_to_string(token_file).with_context(|| format!("reading {token_file}"))?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let mut applied: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    eprintln!("meridian-lab links: following {url}{BACKBONE_PATH}");
    loop {
        let intent = client
            .get(format!("{}{BACKBONE_PATH}", url.trim_end_matches('/')))
            .bearer_auth(token.trim())
            .header(VERSION_HEADER, API_VERSION.to_string())
            .send()
            .await
            .and_then(reqwest::Response::error_for_status);
        let intent: Option<BackboneIntent> = match intent {
            Ok(answer) => answer.json().await.ok(),
            Err(error) => {
                eprintln!("meridian-lab links: the control plane did not answer: {error}");
                None
            }
        };
        if let Some(intent) = intent {
            let wanted: std::collections::BTreeSet<String> = intent.cut.into_iter().collect();
            for (key, state) in wanted
                .difference(&applied)
                .map(|key| (key, "down"))
                .chain(applied.difference(&wanted).map(|key| (key, "up")))
            {
                let Some(edge) = BACKBONE.edges().iter().find(|e| e.key() == *key) else {
                    continue;
                };
                let index = edge.id.index();
                ip(&[
                    "-n",
                    &format!("{name}-bb-{}", edge.a),
                    "link",
                    "set",
                    &format!("{name}e{index}a"),
                    state,
                ])
                .await?;
                ip(&[
                    "-n",
                    &format!("{name}-bb-{}", edge.b),
                    "link",
                    "set",
                    &format!("{name}e{index}b"),
                    state,
                ])
                .await?;
                eprintln!("meridian-lab links: edge {key} {state} (staff)");
            }
            applied = wanted;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// One backbone edge as the spec gives it.
struct Link {
    tap_a: String,
    ns_a: String,
    tap_b: String,
    ns_b: String,
    one_way: Duration,
}

fn parse_spec(text: &str) -> Result<Vec<Link>> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(
            |line| match line.split_whitespace().collect::<Vec<_>>().as_slice() {
                [tap_a, ns_a, tap_b, ns_b, us] => Ok(Link {
                    tap_a: (*tap_a).to_owned(),
                    ns_a: (*ns_a).to_owned(),
                    tap_b: (*tap_b).to_owned(),
                    ns_b: (*ns_b).to_owned(),
                    one_way: Duration::from_micros(us.parse().with_context(|| format!("delay in {line:?}"))?),
                }),
                _ => bail!("a spec line is `tap_a ns_a tap_b ns_b one_way_us`, not {line:?}"),
            },
        )
        .collect()
}

async fn ip(args: &[&str]) -> Result<()> {
    let out = tokio::process::Command::new("ip")
        .args(args)
        .output()
        .await
        .context("running ip")?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// A tap made here and moved, up, into namespace `ns`.
async fn tap_in(name: &str, ns: &str) -> Result<Arc<Tun>> {
    let tap = Tun::builder()
        .name(name)
        .tap()
        .build()
        .with_context(|| format!("making tap {name}"))?
        .pop()
        .context("one queue")?;
    // Moving a device takes it down; it is brought up where it lands.
    ip(&["link", "set", name, "netns", ns]).await?;
    ip(&["-n", ns, "link", "set", name, "up"]).await?;
    Ok(Arc::new(tap))
}

async fn delay(spec: &str, ready: &str) -> Result<()> {
    let links = parse_spec(&std::fs::read_to_string(spec).with_context(|| format!("reading {spec}"))?)?;
    let mut carriers = Vec::new();
    for link in &links {
        let a = tap_in(&link.tap_a, &link.ns_a).await?;
        let b = tap_in(&link.tap_b, &link.ns_b).await?;
        carriers.push(tokio::spawn(carry(a.clone(), b.clone(), link.one_way)));
        carriers.push(tokio::spawn(carry(b, a, link.one_way)));
    }
    std::fs::write(ready, format!("{} edges\n", links.len())).with_context(|| format!("writing {ready}"))?;
    eprintln!("meridian-lab delay: carrying {} edges", links.len());
    for carrier in carriers {
        carrier.await.context("a carrier task")??;
    }
    Ok(())
}

/// Carries frames from `from` to `to`, each `one_way` after it arrived, in order. Frames are read
/// asynchronously and sent from a thread of their own: its sleep is exact to tens of microseconds,
/// where tokio's timer rounds up to the next millisecond (a millisecond per edge and direction
/// would put a five-edge round trip 10 ms above its model).
async fn carry(from: Arc<Tun>, to: Arc<Tun>, one_way: Duration) -> Result<()> {
    let (queue, due) = std::sync::mpsc::sync_channel::<(std::time::Instant, Vec<u8>)>(QUEUE_FRAMES);
    let sender = std::thread::spawn(move || {
        while let Ok((at, frame)) = due.recv() {
            if let Some(wait) = at.checked_duration_since(std::time::Instant::now()) {
                std::thread::sleep(wait);
            }
            // A tap whose link is down (a cut edge) refuses frames: they are lost, as on a cut fibre.
            let _ = to.try_send(&frame);
        }
    });
    let mut buf = vec![0u8; FRAME_MAX];
    loop {
        let n = from.recv(&mut buf).await.context("reading a tap")?;
        // A full queue drops the frame, as a router's full buffer would.
        let _ = queue.try_send((std::time::Instant::now() + one_way, buf[..n].to_vec()));
        if sender.is_finished() {
            bail!("the sending side stopped");
        }
    }
}
