//! The simulated probe model: latency samples across an edge and a daily load curve.

use super::Edge;
use crate::zone::ZoneId;
use rand_core::RngCore;
use serde::{Deserialize, Serialize};

/// Probability that a probe gets no reply (a typical healthy backbone loses about one in a thousand).
pub const PROBE_LOSS_PROBABILITY: f64 = 0.001;

/// Mean jitter as a fraction of the edge's modelled round trip (queueing grows with distance and hops).
pub const PROBE_JITTER_FRACTION: f64 = 0.02;

/// Mean jitter added to every probe whatever its length, in ms (host and line-card scheduling).
pub const PROBE_JITTER_FLOOR_MS: f64 = 0.05;

/// How long a prober waits before declaring a probe lost, in ms; a lost sample reports this, as `ping` does.
pub const PROBE_TIMEOUT_MS: f64 = 1_000.0;

/// One simulated latency probe across an edge.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeSample {
    /// Measured round trip in ms; never below the edge's modelled round trip. [`PROBE_TIMEOUT_MS`] when lost.
    pub rtt_ms: f64,
    /// No reply came back; leave the sample out of latency statistics and count it as loss.
    pub lost: bool,
}

/// Draws one latency probe across `edge`: the modelled round trip plus non-negative jitter, rarely lost.
///
/// Jitter is exponential with mean `PROBE_JITTER_FRACTION × modelled + PROBE_JITTER_FLOOR_MS`: mostly small
/// with an occasional spike, like real queueing, and never negative, because queues only ever add delay. Two
/// numbers are drawn every time, so the RNG advances the same way whether or not the probe is lost.
pub fn probe_sample<R: RngCore + ?Sized>(edge: &Edge, rng: &mut R) -> ProbeSample {
    let lost = unit_interval(rng) < PROBE_LOSS_PROBABILITY;
    let mean_jitter_ms = PROBE_JITTER_FRACTION * edge.modelled_rtt_ms + PROBE_JITTER_FLOOR_MS;
    // Inverse-CDF sampling: 1 - u lies in (0, 1], so its logarithm is finite and never positive.
    let jitter_ms = -(1.0 - unit_interval(rng)).ln() * mean_jitter_ms;
    let rtt_ms = edge.modelled_rtt_ms + jitter_ms.max(0.0);
    if lost {
        ProbeSample {
            rtt_ms: rtt_ms.max(PROBE_TIMEOUT_MS),
            lost,
        }
    } else {
        ProbeSample { rtt_ms, lost }
    }
}

/// How busy a simulated edge is at `utc_ms`, as a fraction of its capacity (0–1).
///
/// A daily curve: each end is busiest mid-afternoon local time (local time from longitude, one hour
/// per 15°) and quietest before dawn; an edge carries the average of its two ends, thinner edges
/// run fuller, and each reading adds ±5 % noise. A real driver reads interface counters instead.
pub fn simulated_edge_load<R: RngCore + ?Sized>(edge: &Edge, utc_ms: i64, rng: &mut R) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "hours of the day")]
    let utc_hours = utc_ms.rem_euclid(86_400_000) as f64 / 3_600_000.0;
    let activity = |zone: ZoneId| {
        let local = (utc_hours + zone.zone().lon / 15.0).rem_euclid(24.0);
        0.5 - 0.5 * (std::f64::consts::TAU * (local - 4.0) / 24.0).cos()
    };
    let busy = f64::midpoint(activity(edge.a), activity(edge.b));
    let fullness = match edge.capacity_gbps {
        0..=20 => 1.2,
        21..=40 => 1.0,
        _ => 0.8,
    };
    let noise = (unit_interval(rng) - 0.5) * 0.1;
    ((0.10 + 0.55 * busy) * fullness + noise).clamp(0.01, 0.97)
}

/// A uniform draw from [0, 1) with the full 53 bits of an f64 mantissa.
fn unit_interval<R: RngCore + ?Sized>(rng: &mut R) -> f64 {
    const SCALE: f64 = 1.0 / (1_u64 << 53) as f64;
    (rng.next_u64() >> 11) as f64 * SCALE
}
