//! Latency probes: every [`PROBE_EVERY_MS`] the agent pings each peer host in another zone over the
//! backbone (their underlay addresses, as the control plane's registration answer names them) and
//! reports the round trips, jitter and loss (`POST /agent/v1/probes`). The control plane keeps a
//! sample as the latency of the backbone edge joining the two zones when that edge is their path.

use meridian_core::agent_api::{
    API_VERSION, PROBE_EVERY_MS, PROBES_PATH, Peer, PeerSample, ProbeReport, VERSION_HEADER,
};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;
use uuid::Uuid;

/// Echo requests per peer per round.
const PINGS: &str = "6";

/// Probes the peers on `peers` (those outside `zone`) forever, reporting to `control` as host
/// `host_id` with `token`.
pub async fn run(
    control: String,
    token: String,
    host_id: Uuid,
    zone: String,
    peers: tokio::sync::watch::Receiver<Vec<Peer>>,
) {
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(5)).build() {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "no HTTP client: latency probes are off");
            return;
        }
    };
    let url = format!("{}{PROBES_PATH}", control.trim_end_matches('/'));
    let mut tick = tokio::time::interval(Duration::from_millis(PROBE_EVERY_MS));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tick.tick().await;
        let targets: Vec<Peer> = peers
            .borrow()
            .iter()
            .filter(|p| p.zone != zone)
            .cloned()
            .collect();
        if targets.is_empty() {
            continue;
        }
        let rounds = targets.iter().map(|peer| async move {
            PeerSample {
                host_id: peer.host_id,
                ..ping(&peer.underlay).await
            }
        });
        let report = ProbeReport {
            host_id,
            samples: futures_util::future::join_all(rounds).await,
        };
        let sent = client
            .post(&url)
            .bearer_auth(&token)
            .header(VERSION_HEADER, API_VERSION.to_string())
            .json(&report)
            .send()
            .await;
        match sent {
            Ok(answer) if answer.status().is_success() => failing = false,
            Ok(answer) if !failing => {
                failing = true;
                tracing::warn!(status = %answer.status(), "the control plane refused a probe report");
            }
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "a probe report was not delivered");
            }
            _ => {}
        }
    }
}

/// One round of pings to `address`: the median round trip of the answered ones (the first left out
/// when others came back: it waits for neighbour resolution), the mean difference between
/// consecutive ones (jitter) and the share lost. A peer id is filled in by the caller.
async fn ping(address: &str) -> PeerSample {
    let lost = PeerSample {
        host_id: Uuid::nil(),
        rtt_ms: None,
        jitter_ms: 0.0,
        loss: 1.0,
        routers: None,
    };
    let Ok(out) = Command::new("ping")
        .args(["-n", "-c", PINGS, "-i", "0.2", "-W", "2", address])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
    else {
        return lost;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let routers = text
        .lines()
        .filter_map(|line| line.split("ttl=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse::<u32>().ok())
        .min()
        .map(|ttl| FIRST_TTL.saturating_sub(ttl));
    let mut times: Vec<f64> = text
        .lines()
        .filter_map(|line| line.split("time=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect();
    let sent: f64 = PINGS.parse().unwrap_or(1.0);
    let loss = 1.0 - times.len() as f64 / sent;
    if times.len() > 1 {
        times.remove(0);
    }
    if times.is_empty() {
        return lost;
    }
    let jitter = if times.len() > 1 {
        times.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>() / (times.len() - 1) as f64
    } else {
        0.0
    };
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    PeerSample {
        host_id: Uuid::nil(),
        rtt_ms: Some(sorted[sorted.len() / 2]),
        jitter_ms: jitter,
        loss: loss.clamp(0.0, 1.0),
        routers,
    }
}

/// The TTL a Linux host's answers start with (`net.ipv4.ip_default_ttl`).
const FIRST_TTL: u32 = 64;
