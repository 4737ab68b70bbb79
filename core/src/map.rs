//! Drawing the backbone on a world map, and the latency statistics the map shows.
//!
//! The map is equirectangular (plate carrée) on a 1000 × 500 plane, the projection of the coastline
//! asset `public/map/land-110m.svg` (see `public/map/SOURCE.md`): longitude −180…180 runs left to
//! right, latitude 90…−90 top to bottom. Backbone edges are drawn as great circles, cut where they
//! cross the antimeridian (Los Angeles–Hong Kong leaves the map on one side and comes back on the
//! other). A probe can never beat the fibre limit, and [`live_rtt_ms`] makes sure what the map shows
//! never claims to.

use crate::backbone::{Backbone, Cut, Edge, Path};
use crate::zone::Zone;
use serde::{Deserialize, Serialize};

/// Width of the map plane.
pub const MAP_WIDTH: f64 = 1_000.0;

/// Height of the map plane.
pub const MAP_HEIGHT: f64 = 500.0;

/// A point on the map plane.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Left to right, 0…[`MAP_WIDTH`].
    pub x: f64,
    /// Top to bottom, 0…[`MAP_HEIGHT`].
    pub y: f64,
}

/// Where a latitude/longitude lands on the map.
pub fn project(lat: f64, lon: f64) -> Point {
    Point {
        x: (lon + 180.0) / 360.0 * MAP_WIDTH,
        y: (90.0 - lat) / 180.0 * MAP_HEIGHT,
    }
}

/// A zone's place on the map.
pub fn zone_point(zone: &Zone) -> Point {
    project(zone.lat, zone.lon)
}

/// The great circle from `a` to `b` as `(lat, lon)` points, `steps + 1` of them, by spherical
/// interpolation of the two positions as unit vectors.
pub fn great_circle(a: (f64, f64), b: (f64, f64), steps: usize) -> Vec<(f64, f64)> {
    let to_vector = |(lat, lon): (f64, f64)| {
        let (lat, lon) = (lat.to_radians(), lon.to_radians());
        [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
    };
    let (va, vb) = (to_vector(a), to_vector(b));
    let dot = (va[0] * vb[0] + va[1] * vb[1] + va[2] * vb[2]).clamp(-1.0, 1.0);
    let angle = dot.acos();
    let steps = steps.max(1);
    (0..=steps)
        .map(|i| {
            #[expect(clippy::cast_precision_loss, reason = "a handful of interpolation steps")]
            let t = i as f64 / steps as f64;
            let (wa, wb) = if angle < 1e-9 {
                (1.0 - t, t)
            } else {
                (
                    ((1.0 - t) * angle).sin() / angle.sin(),
                    (t * angle).sin() / angle.sin(),
                )
            };
            let v = [
                wa * va[0] + wb * vb[0],
                wa * va[1] + wb * vb[1],
                wa * va[2] + wb * vb[2],
            ];
            let lat = v[2].atan2(v[0].hypot(v[1])).to_degrees();
            let lon = v[1].atan2(v[0]).to_degrees();
            (lat, lon)
        })
        .collect()
}

/// The great circle between two zones as map polylines: one, or two where it crosses the
/// antimeridian (each piece then runs to the edge of the map, at the crossing's latitude).
pub fn arc(a: &Zone, b: &Zone) -> Vec<Vec<Point>> {
    let points = great_circle((a.lat, a.lon), (b.lat, b.lon), 48);
    let mut pieces: Vec<Vec<Point>> = vec![Vec::new()];
    let mut previous: Option<(f64, f64)> = None;
    for (lat, lon) in points {
        if let Some((prev_lat, prev_lon)) = previous {
            if (lon - prev_lon).abs() > 180.0 {
                // Crossing the antimeridian: unwrap the longitude, find the latitude at ±180, and
                // end this piece at one edge and start the next at the other.
                let unwrapped = if lon < prev_lon { lon + 360.0 } else { lon - 360.0 };
                let edge = if unwrapped > prev_lon { 180.0 } else { -180.0 };
                let t = (edge - prev_lon) / (unwrapped - prev_lon);
                let lat_at_edge = prev_lat + t * (lat - prev_lat);
                if let Some(piece) = pieces.last_mut() {
                    piece.push(project(lat_at_edge, edge));
                }
                pieces.push(vec![project(lat_at_edge, -edge)]);
            }
        }
        if let Some(piece) = pieces.last_mut() {
            piece.push(project(lat, lon));
        }
        previous = Some((lat, lon));
    }
    pieces
}

/// An SVG path (`d` attribute) through polylines, to one decimal place.
pub fn svg_path(pieces: &[Vec<Point>]) -> String {
    let mut d = String::new();
    for piece in pieces {
        for (i, p) in piece.iter().enumerate() {
            if !d.is_empty() {
                d.push(' ');
            }
            d.push(if i == 0 { 'M' } else { 'L' });
            d.push_str(&format!("{:.1} {:.1}", p.x, p.y));
        }
    }
    d
}

/// What the map shows as an edge's live round trip: the latest probe, or the modelled round trip
/// while there is none. Never below the edge's fibre limit: a probe faster than light in fibre is
/// a clock fault, not a measurement, so it is shown as the limit.
pub fn live_rtt_ms(edge: &Edge, probe_ms: Option<f64>) -> f64 {
    probe_ms
        .filter(|ms| ms.is_finite())
        .unwrap_or(edge.modelled_rtt_ms)
        .max(edge.fibre_limit_ms)
}

/// A path's live round trip: the sum of its edges' live round trips (`live` gives the latest probe
/// of an edge, by index), never below the path's own fibre limit.
pub fn path_live_rtt_ms(backbone: &Backbone, path: &Path, live: impl Fn(usize) -> Option<f64>) -> f64 {
    let sum: f64 = path
        .edges
        .iter()
        .filter_map(|&id| backbone.edge(id))
        .map(|edge| live_rtt_ms(edge, live(edge.id.index())))
        .sum();
    sum.max(path.fibre_limit_ms)
}

/// Jitter and loss along a path from its edges' (`(jitter ms, loss 0–1)`, None for an edge without
/// figures): jitters add up (each edge's queues add their own variation) and a packet arrives
/// only if no edge loses it. None when any edge has no figures.
pub fn path_jitter_loss(edges: &[Option<(f64, f64)>]) -> Option<(f64, f64)> {
    let mut jitter = 0.0;
    let mut arrives = 1.0;
    for (edge_jitter, edge_loss) in edges.iter().copied().collect::<Option<Vec<_>>>()? {
        jitter += edge_jitter.max(0.0);
        arrives *= 1.0 - edge_loss.clamp(0.0, 1.0);
    }
    Some((jitter, 1.0 - arrives))
}

/// Jitter of `(at, rtt or None when lost)` samples in time order: the mean change between
/// consecutive answered round trips, in ms; None with fewer than two.
pub fn jitter_ms(samples: &[(i64, Option<f64>)]) -> Option<f64> {
    let answered: Vec<f64> = samples.iter().filter_map(|(_, rtt)| *rtt).collect();
    if answered.len() < 2 {
        return None;
    }
    let changes: f64 = answered.windows(2).map(|w| (w[1] - w[0]).abs()).sum();
    #[expect(clippy::cast_precision_loss, reason = "probe counts are small")]
    let mean = changes / (answered.len() - 1) as f64;
    Some(mean)
}

/// The shortest path between two zones with and without a cut, for the what-if view.
#[derive(Clone, Debug, PartialEq)]
pub struct Reroute {
    /// The path on the whole backbone.
    pub before: Option<Path>,
    /// The path with the cut applied; `None` when the cut leaves the zones unconnected.
    pub after: Option<Path>,
}

/// Where traffic between two zones goes when `cut` is applied.
pub fn reroute(
    backbone: &Backbone,
    from: crate::zone::ZoneId,
    to: crate::zone::ZoneId,
    cut: &Cut,
) -> Reroute {
    Reroute {
        before: backbone.path(from, to, &Cut::none()),
        after: backbone.path(from, to, cut),
    }
}

/// How a cut changes the round trip between two zones that both hold VMs.
#[derive(Clone, Debug, PartialEq)]
pub struct PairImpact {
    /// One zone of the pair (the earlier in the catalogue).
    pub a: crate::zone::ZoneId,
    /// The other.
    pub b: crate::zone::ZoneId,
    /// The modelled round trip on the whole backbone, in ms.
    pub before_ms: f64,
    /// The same with the cut applied; `None` when the cut leaves the pair unconnected.
    pub after_ms: Option<f64>,
}

impl PairImpact {
    /// How much longer the round trip gets, in ms; `None` when the pair is cut off.
    pub fn added_ms(&self) -> Option<f64> {
        self.after_ms.map(|after| after - self.before_ms)
    }
}

/// Every pair of zones whose round trip `cut` changes, the ones it cuts off first, then the
/// largest change first. A pair whose route only moves to another of the same length is not
/// changed. Computed once per cut and filtered per tenant ([`cut_impact`]).
pub fn cut_changes(backbone: &Backbone, cut: &Cut) -> Vec<PairImpact> {
    let before = backbone.all_pairs(&Cut::none());
    let after = backbone.all_pairs(cut);
    let mut changed = Vec::new();
    for (i, a) in crate::zone::ZONES.iter().enumerate() {
        for (j, b) in crate::zone::ZONES.iter().enumerate().skip(i + 1) {
            let Some(before) = before[i][j].as_ref() else {
                continue;
            };
            let after = after[i][j].as_ref().map(|p| p.modelled_rtt_ms);
            if after.is_some_and(|after| (after - before.modelled_rtt_ms).abs() < 0.05) {
                continue;
            }
            changed.push(PairImpact {
                a: a.id,
                b: b.id,
                before_ms: before.modelled_rtt_ms,
                after_ms: after,
            });
        }
    }
    changed.sort_by(|x, y| match (x.added_ms(), y.added_ms()) {
        (None, None) => (x.a.index(), x.b.index()).cmp(&(y.a.index(), y.b.index())),
        (None, Some(_)) => std::cmp::Ordering::Less,
        (Some(_), None) => std::cmp::Ordering::Greater,
        (Some(dx), Some(dy)) => dy.total_cmp(&dx),
    });
    changed
}

/// The pairs of `zones` (where someone's VMs are) among `changes` ([`cut_changes`]).
pub fn cut_impact(changes: &[PairImpact], zones: &[crate::zone::ZoneId]) -> Vec<PairImpact> {
    changes
        .iter()
        .filter(|p| zones.contains(&p.a) && zones.contains(&p.b))
        .cloned()
        .collect()
}

/// A pair's change in words: "London – New York: 68.3 → 90.2 ms (+21.9 ms)" or
/// "London – New York: cut off".
pub fn pair_change_text(pair: &PairImpact) -> String {
    let name = format!("{} – {}", pair.a.zone().city, pair.b.zone().city);
    match pair.after_ms {
        Some(after) => format!(
            "{name}: {:.1} → {after:.1} ms ({:+.1} ms)",
            pair.before_ms,
            after - pair.before_ms
        ),
        None => format!("{name}: cut off"),
    }
}

/// Latency over one period: the median and 95th percentile of the probes that came back, and the
/// share that did not.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencyBucket {
    /// Start of the period (Unix ms).
    pub start_ms: i64,
    /// Median round trip in ms, if any probe came back.
    pub p50_ms: Option<f64>,
    /// 95th-percentile round trip in ms, if any probe came back.
    pub p95_ms: Option<f64>,
    /// Lost probes as a fraction of all probes (0–1).
    pub loss: f64,
    /// How many probes were sent.
    pub probes: usize,
}

/// The `q`-quantile (0–1) of sorted values by the nearest-rank method.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    #[expect(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a rank within a short list"
    )]
    let rank = ((q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted.get(rank - 1).copied()
}

/// Groups `(at, rtt or None when lost)` samples into periods of `bucket_ms` from `from_ms` to
/// `to_ms` and summarises each; periods without probes are left out.
pub fn latency_buckets(
    samples: &[(i64, Option<f64>)],
    from_ms: i64,
    to_ms: i64,
    bucket_ms: i64,
) -> Vec<LatencyBucket> {
    let bucket_ms = bucket_ms.max(1);
    let mut buckets: std::collections::BTreeMap<i64, (Vec<f64>, usize)> = std::collections::BTreeMap::new();
    for &(at, rtt) in samples {
        if at < from_ms || at >= to_ms {
            continue;
        }
        let start = from_ms + (at - from_ms) / bucket_ms * bucket_ms;
        let entry = buckets.entry(start).or_default();
        match rtt {
            Some(ms) if ms.is_finite() => entry.0.push(ms),
            _ => entry.1 += 1,
        }
    }
    buckets
        .into_iter()
        .map(|(start_ms, (mut rtts, lost))| {
            rtts.sort_by(f64::total_cmp);
            let probes = rtts.len() + lost;
            #[expect(clippy::cast_precision_loss, reason = "probe counts are small")]
            let loss = lost as f64 / probes as f64;
            LatencyBucket {
                start_ms,
                p50_ms: quantile(&rtts, 0.5),
                p95_ms: quantile(&rtts, 0.95),
                loss,
                probes,
            }
        })
        .collect()
}

/// One period of a latency chart, as text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyRow {
    /// Start of the period, "14:05 UTC".
    pub period: String,
    /// Median, "58.9 ms" or "—".
    pub p50: String,
    /// 95th percentile.
    pub p95: String,
    /// Loss, "0.0 %".
    pub loss: String,
}

/// A latency history chart and its text alternative.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyFigure {
    /// What is charted, e.g. "London → Hong Kong".
    pub title: String,
    /// The chart as an SVG document (rendered on the server), or None while too few probes exist.
    pub svg: Option<String>,
    /// One sentence for screen readers and for a glance.
    pub summary: String,
    /// The charted figures, period by period.
    pub rows: Vec<LatencyRow>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backbone::{BACKBONE, probe_sample};
    use crate::test_rng::SplitMix64;
    use crate::zone::ZoneId;
    use proptest::prelude::{prop_assert, proptest};

    fn zone(id: &str) -> &'static Zone {
        ZoneId::parse(id).unwrap().zone()
    }

    #[test]
    fn a_cut_names_the_pairs_it_slows_or_cuts_off_and_no_others() {
        let z = |id: &str| ZoneId::parse(id).unwrap();
        let zones = [z("lon1"), z("nyc1"), z("hkg1"), z("lon1")];
        assert!(cut_changes(&BACKBONE, &Cut::none()).is_empty());
        let edge = BACKBONE.edges().iter().find(|e| e.key() == "lon1-nyc1").unwrap();
        let impact = cut_impact(&cut_changes(&BACKBONE, &Cut::none().with_edge(edge.id)), &zones);
        let pair = impact
            .iter()
            .find(|p| (p.a, p.b) == (z("lon1"), z("nyc1")))
            .expect("London-New York goes another way");
        assert!((pair.before_ms - edge.modelled_rtt_ms).abs() < 1e-9);
        assert!(pair.added_ms().unwrap() > 1.0, "{pair:?}");
        for pair in &impact {
            let after = pair.after_ms.expect("one edge cuts no zone off");
            assert!((after - pair.before_ms).abs() >= 0.05, "{pair:?} did not change");
        }
        // Every pair not listed keeps its round trip.
        for (a, b) in [(z("lon1"), z("hkg1")), (z("nyc1"), z("hkg1"))] {
            if !impact.iter().any(|p| (p.a, p.b) == (a, b)) {
                let cut = Cut::none().with_edge(edge.id);
                assert_eq!(
                    BACKBONE.path(a, b, &cut).map(|p| p.modelled_rtt_ms),
                    BACKBONE.path(a, b, &Cut::none()).map(|p| p.modelled_rtt_ms)
                );
            }
        }
        // A zone cut: its pairs are cut off, and they come first.
        let impact = cut_impact(&cut_changes(&BACKBONE, &Cut::none().with_zone(z("lon1"))), &zones);
        assert!(impact.len() >= 2);
        assert_eq!(impact[0].after_ms, None);
        assert_eq!(impact[1].after_ms, None);
        assert!(
            impact
                .iter()
                .all(|p| (p.after_ms.is_none()) == (p.a == z("lon1") || p.b == z("lon1")))
        );
    }

    #[test]
    fn jitter_adds_up_along_a_path_and_loss_compounds() {
        let (jitter, loss) = path_jitter_loss(&[Some((0.5, 0.01)), Some((1.5, 0.02))]).unwrap();
        assert!((jitter - 2.0).abs() < 1e-9);
        assert!((loss - (1.0 - 0.99 * 0.98)).abs() < 1e-9);
        assert_eq!(path_jitter_loss(&[Some((0.5, 0.0)), None]), None);
        assert_eq!(
            jitter_ms(&[(1, Some(10.0)), (2, None), (3, Some(12.0)), (4, Some(11.0))]),
            Some(1.5)
        );
        assert_eq!(jitter_ms(&[(1, Some(10.0)), (2, None)]), None);
    }

    #[test]
    fn the_projection_matches_the_coastline_asset() {
        assert_eq!(project(0.0, 0.0), Point { x: 500.0, y: 250.0 });
        assert_eq!(project(90.0, -180.0), Point { x: 0.0, y: 0.0 });
        let london = zone_point(zone("lon1"));
        assert!(
            (london.x - 499.6).abs() < 0.1 && (london.y - 106.9).abs() < 0.1,
            "{london:?}"
        );
    }

    #[test]
    fn great_circles_end_at_their_zones_and_bow_towards_the_pole() {
        let points = great_circle((51.5, -0.13), (40.7, -74.0), 10);
        assert!((points[0].0 - 51.5).abs() < 1e-9 && (points[10].1 + 74.0).abs() < 1e-9);
        // London–New York runs north of both ends' latitude line, over the Atlantic.
        assert!(points[5].0 > 51.5, "{:?}", points[5]);
    }

    #[test]
    fn los_angeles_to_hong_kong_is_cut_at_the_antimeridian() {
        let pieces = arc(zone("lax1"), zone("hkg1"));
        assert_eq!(pieces.len(), 2);
        let first_end = pieces[0].last().unwrap();
        let second_start = pieces[1].first().unwrap();
        assert!(first_end.x.abs() < 1e-6 || (first_end.x - MAP_WIDTH).abs() < 1e-6);
        assert!((first_end.x - second_start.x).abs() > MAP_WIDTH - 1e-6);
        assert!((first_end.y - second_start.y).abs() < 1e-9);
        // No segment jumps across the map.
        for piece in &pieces {
            for pair in piece.windows(2) {
                assert!((pair[0].x - pair[1].x).abs() < 100.0);
            }
        }
        assert_eq!(arc(zone("lon1"), zone("nyc1")).len(), 1);
    }

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        assert_eq!(quantile(&values, 0.5), Some(5.0));
        assert_eq!(quantile(&values, 0.95), Some(10.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn buckets_count_loss_apart_from_latency() {
        let samples = [(0, Some(10.0)), (10, None), (20, Some(12.0)), (60, Some(11.0))];
        let buckets = latency_buckets(&samples, 0, 120, 60);
        assert_eq!(buckets.len(), 2);
        assert_eq!(buckets[0].probes, 3);
        assert!((buckets[0].loss - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(buckets[0].p50_ms, Some(10.0));
        assert_eq!(buckets[1].p95_ms, Some(11.0));
    }

    proptest! {
        /// Whatever the jitter, what the map shows for an edge or a path is never faster than light
        /// in fibre.
        #[test]
        fn the_maps_live_rtt_is_never_below_the_fibre_limit(seed in proptest::num::u64::ANY, skew in -50.0f64..50.0) {
            let mut rng = SplitMix64(seed);
            let probes: Vec<f64> = BACKBONE
                .edges()
                .iter()
                .map(|edge| probe_sample(edge, &mut rng).rtt_ms)
                .collect();
            for edge in BACKBONE.edges() {
                let probe = probes[edge.id.index()];
                prop_assert!(live_rtt_ms(edge, Some(probe)) >= edge.fibre_limit_ms);
                // Even a faulty probe (a clock skewed by `skew` ms) is not shown faster than physics.
                prop_assert!(live_rtt_ms(edge, Some(probe + skew)) >= edge.fibre_limit_ms);
            }
            for from in crate::zone::ZONES.iter() {
                for to in crate::zone::ZONES.iter() {
                    if let Some(path) = BACKBONE.path(from.id, to.id, &Cut::none()) {
                        let live = path_live_rtt_ms(&BACKBONE, &path, |i| Some(probes[i] + skew));
                        prop_assert!(live >= crate::backbone::pair_fibre_limit_ms(from.id, to.id) - 1e-9);
                    }
                }
            }
        }
    }
}
