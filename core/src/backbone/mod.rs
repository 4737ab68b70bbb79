//! The private backbone between zones: latency physics, the edge list, shortest paths and a probe model.
//!
//! Everything here is derived from `docs/ZONES.md`: zone coordinates give great-circle distances, the speed
//! of light in fibre turns those into a hard lower bound on round-trip time, and each backbone edge adds a
//! route-length factor on top. Zone-to-zone latency is the shortest path over the edges, so the model can
//! never promise a round trip faster than physics allows. The "what-if" view cuts edges or zones with a
//! [`Cut`].

use crate::zone::{ZONES, Zone, ZoneId};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::sync::LazyLock;

mod probe;
#[cfg(test)]
mod tests;

pub use probe::{
    PROBE_JITTER_FLOOR_MS, PROBE_JITTER_FRACTION, PROBE_LOSS_PROBABILITY, PROBE_TIMEOUT_MS, ProbeSample,
    probe_sample, simulated_edge_load,
};

/// Mean Earth radius in km, the sphere the haversine formula runs on (docs/ZONES.md, "Physics").
pub const EARTH_RADIUS_KM: f64 = 6_371.0;

/// Speed of light in single-mode fibre in km/s, group index ≈ 1.468 (docs/ZONES.md, "Physics").
pub const FIBRE_KM_PER_S: f64 = 204_190.0;

/// Time each backbone hop adds for switching and serialisation, in ms.
///
/// Our own modelling choice: small next to any inter-city propagation delay, but it makes a path with more
/// hops cost a little more than a direct edge of the same length, as it does on a real MPLS network.
pub const HOP_SWITCHING_MS: f64 = 0.1;

/// Great-circle distance between two zones in km (haversine on a sphere of [`EARTH_RADIUS_KM`]).
pub fn great_circle_km(a: &Zone, b: &Zone) -> f64 {
    let (lat_a, lat_b) = (a.lat.to_radians(), b.lat.to_radians());
    let d_lat = lat_b - lat_a;
    let d_lon = (b.lon - a.lon).to_radians();
    let h = (d_lat / 2.0).sin().powi(2) + lat_a.cos() * lat_b.cos() * (d_lon / 2.0).sin().powi(2);
    // Rounding can push `h` a hair above 1 for near-antipodal points, where `asin` would return NaN.
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// Fibre-limit round trip in ms over `km` of great-circle distance: `2 × km / FIBRE_KM_PER_S`.
///
/// No network can beat this: it assumes a perfectly straight fibre and zero switching time.
pub fn fibre_limit_rtt_ms(km: f64) -> f64 {
    2.0 * km / FIBRE_KM_PER_S * 1_000.0
}

/// Fibre-limit round trip in ms between two zones.
pub fn pair_fibre_limit_ms(a: ZoneId, b: ZoneId) -> f64 {
    fibre_limit_rtt_ms(great_circle_km(a.zone(), b.zone()))
}

/// Whether any network at all could meet a round-trip budget between two zones.
///
/// False when the budget is below the fibre limit for the pair: no amount of engineering buys it, so the UI
/// should say so instead of searching for a route.
pub fn budget_is_physically_possible(from: ZoneId, to: ZoneId, budget_ms: f64) -> bool {
    budget_ms >= pair_fibre_limit_ms(from, to)
}

/// How an edge's fibre actually runs, which sets how much longer it is than the great circle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteKind {
    /// Inside one metropolitan area: short runs that wind through ducts and streets.
    Metro,
    /// Over land, along roads and railways.
    Terrestrial,
    /// A submarine cable, which runs close to the great circle once it leaves the coast.
    Subsea,
    /// Europe to Asia through the Mediterranean, the Suez Canal and the Red Sea: a long detour.
    Suez,
}

impl RouteKind {
    /// Route length divided by great-circle distance (docs/ZONES.md: good routes run 1.2–1.5×).
    pub fn route_factor(self) -> f64 {
        match self {
            RouteKind::Metro => 1.5,
            RouteKind::Terrestrial => 1.3,
            RouteKind::Subsea => 1.25,
            RouteKind::Suez => 1.6,
        }
    }
}

/// A backbone edge's id: its dense index in [`Backbone::edges`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EdgeId(usize);

impl EdgeId {
    /// The position in [`Backbone::edges`], for tables indexed by edge.
    pub fn index(self) -> usize {
        self.0
    }
}

/// One link of the backbone. Links are symmetric: `a` and `b` are interchangeable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    /// Dense id, equal to the edge's position in [`Backbone::edges`].
    pub id: EdgeId,
    /// One end.
    pub a: ZoneId,
    /// The other end.
    pub b: ZoneId,
    /// How the fibre runs.
    pub kind: RouteKind,
    /// Provisioned capacity in Gb/s.
    pub capacity_gbps: u32,
    /// Great-circle distance between the ends in km (the fibre itself is `kind.route_factor()` times longer).
    pub km: f64,
    /// Fibre-limit round trip between the ends in ms.
    pub fibre_limit_ms: f64,
    /// Modelled round trip in ms: the fibre limit scaled by the route factor, plus [`HOP_SWITCHING_MS`].
    pub modelled_rtt_ms: f64,
}

impl Edge {
    /// The name the edge's probes are stored and asked for under: "lon1-nyc1".
    pub fn key(&self) -> String {
        format!("{}-{}", self.a, self.b)
    }

    /// Whether the edge touches `zone`.
    pub fn touches(&self, zone: ZoneId) -> bool {
        self.a == zone || self.b == zone
    }
}

/// The edges of docs/ZONES.md, "The backbone", with our choice of route kind and capacity.
///
/// Capacities follow traffic: the London metro ring and the London–Amsterdam–Frankfurt–Paris core carry the
/// most, as does the main transatlantic cable; long-haul Asian routes and secondary paths carry less.
const EDGE_TABLE: [(&str, &str, RouteKind, u32); 24] = [
    // Metro: the three London-area zones form a ring.
    ("lon1", "lon2", RouteKind::Metro, 100),
    ("lon1", "slo1", RouteKind::Metro, 100),
    ("lon2", "slo1", RouteKind::Metro, 100),
    // Europe. London–Amsterdam crosses the North Sea on a cable; London–Paris runs through the Channel
    // Tunnel.
    ("lon1", "ams1", RouteKind::Subsea, 100),
    ("lon1", "par1", RouteKind::Terrestrial, 100),
    ("ams1", "fra1", RouteKind::Terrestrial, 100),
    ("ams1", "ber1", RouteKind::Terrestrial, 40),
    ("fra1", "ber1", RouteKind::Terrestrial, 40),
    ("fra1", "zrh1", RouteKind::Terrestrial, 40),
    ("fra1", "par1", RouteKind::Terrestrial, 80),
    ("par1", "gva1", RouteKind::Terrestrial, 40),
    ("gva1", "zrh1", RouteKind::Terrestrial, 40),
    ("zrh1", "mil1", RouteKind::Terrestrial, 40),
    ("gva1", "mil1", RouteKind::Terrestrial, 20),
    ("par1", "mad1", RouteKind::Terrestrial, 40),
    ("mad1", "mil1", RouteKind::Terrestrial, 20),
    // Atlantic: the main cable from London, a southern one from Spain.
    ("lon1", "nyc1", RouteKind::Subsea, 100),
    ("mad1", "nyc1", RouteKind::Subsea, 40),
    // North America.
    ("nyc1", "chi1", RouteKind::Terrestrial, 40),
    ("chi1", "lax1", RouteKind::Terrestrial, 40),
    ("nyc1", "lax1", RouteKind::Terrestrial, 40),
    // Pacific and Asia.
    ("lax1", "hkg1", RouteKind::Subsea, 40),
    ("hkg1", "sin1", RouteKind::Subsea, 40),
    ("mil1", "sin1", RouteKind::Suez, 20),
];

/// The backbone built once for the whole process (it is a pure function of the catalogue).
pub static BACKBONE: LazyLock<Backbone> = LazyLock::new(Backbone::new);

/// Edges and zones taken out of service for a "what-if" view. [`Cut::none`] is the normal network.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cut {
    /// Edges that carry no traffic.
    pub edges: BTreeSet<EdgeId>,
    /// Zones that are down: no path starts, ends or passes through them.
    pub zones: BTreeSet<ZoneId>,
}

impl Cut {
    /// Nothing cut: the network as it normally runs.
    pub fn none() -> Self {
        Self::default()
    }

    /// This cut plus one more edge.
    pub fn with_edge(mut self, edge: EdgeId) -> Self {
        self.edges.insert(edge);
        self
    }

    /// This cut plus one more zone.
    pub fn with_zone(mut self, zone: ZoneId) -> Self {
        self.zones.insert(zone);
        self
    }

    /// Whether nothing is cut.
    pub fn is_none(&self) -> bool {
        self.edges.is_empty() && self.zones.is_empty()
    }

    /// Whether traffic can no longer use `edge`: it is cut itself, or one of its ends is.
    pub fn blocks(&self, edge: &Edge) -> bool {
        self.edges.contains(&edge.id) || self.zones.contains(&edge.a) || self.zones.contains(&edge.b)
    }
}

/// A route between two zones over the backbone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Path {
    /// The zones visited, from the start to the end inclusive (one zone for a zero-hop path).
    pub zones: Vec<ZoneId>,
    /// The edges taken, in order; `edges[i]` joins `zones[i]` and `zones[i + 1]`.
    pub edges: Vec<EdgeId>,
    /// Number of edges taken.
    pub hops: usize,
    /// Modelled round trip in ms: the sum of the edges' modelled round trips.
    pub modelled_rtt_ms: f64,
    /// Fibre-limit round trip in ms for the pair directly (great circle), the bound no route can beat.
    pub fibre_limit_ms: f64,
    /// `modelled_rtt_ms / fibre_limit_ms`, how far above physics the route runs (1.0 for a zero-hop path).
    pub ratio: f64,
}

/// The backbone graph: every edge, and for each zone the edges leaving it.
#[derive(Clone, Debug, PartialEq)]
pub struct Backbone {
    edges: Vec<Edge>,
    /// Indexed by [`ZoneId::index`]; each list is sorted by neighbour so iteration order is deterministic.
    adjacency: Vec<Vec<(ZoneId, EdgeId)>>,
}

impl Default for Backbone {
    fn default() -> Self {
        Self::new()
    }
}

/// A single-source shortest-path tree (Dijkstra's output), indexed by [`ZoneId::index`].
struct Tree {
    rtt_ms: Vec<f64>,
    hops: Vec<usize>,
    /// The zone and edge a shortest path arrives from; `None` for the source and for unreached zones.
    via: Vec<Option<(ZoneId, EdgeId)>>,
    reached: Vec<bool>,
}

impl Backbone {
    /// Builds the backbone of docs/ZONES.md from the zone catalogue. Pure and cheap; [`BACKBONE`] caches it.
    pub fn new() -> Self {
        // Every id in EDGE_TABLE is in the catalogue (a test checks that no row is lost), so `filter_map`
        // only guards against a typo without a panic path in production code.
        let edges: Vec<Edge> = EDGE_TABLE
            .iter()
            .filter_map(|&(a, b, kind, capacity_gbps)| {
                Some((
                    ZoneId::parse(a).ok()?,
                    ZoneId::parse(b).ok()?,
                    kind,
                    capacity_gbps,
                ))
            })
            .enumerate()
            .map(|(i, (a, b, kind, capacity_gbps))| {
                let km = great_circle_km(a.zone(), b.zone());
                let fibre_limit_ms = fibre_limit_rtt_ms(km);
                Edge {
                    id: EdgeId(i),
                    a,
                    b,
                    kind,
                    capacity_gbps,
                    km,
                    fibre_limit_ms,
                    modelled_rtt_ms: fibre_limit_ms * kind.route_factor() + HOP_SWITCHING_MS,
                }
            })
            .collect();
        let mut adjacency = vec![Vec::new(); ZONES.len()];
        for edge in &edges {
            adjacency[edge.a.index()].push((edge.b, edge.id));
            adjacency[edge.b.index()].push((edge.a, edge.id));
        }
        for list in &mut adjacency {
            list.sort_by_key(|&(zone, edge)| (zone.index(), edge));
        }
        Self { edges, adjacency }
    }

    /// Every edge, in id order.
    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }

    /// One edge by id; `None` for an id that did not come from this backbone (e.g. a forged request).
    pub fn edge(&self, id: EdgeId) -> Option<&Edge> {
        self.edges.get(id.0)
    }

    /// The edge joining two zones directly, in either direction.
    pub fn edge_between(&self, a: ZoneId, b: ZoneId) -> Option<&Edge> {
        self.neighbours(a)
            .iter()
            .find(|&&(zone, _)| zone == b)
            .and_then(|&(_, id)| self.edge(id))
    }

    /// The zones one edge away from `zone`, with the edge to each, in catalogue order.
    pub fn neighbours(&self, zone: ZoneId) -> &[(ZoneId, EdgeId)] {
        self.adjacency.get(zone.index()).map_or(&[], Vec::as_slice)
    }

    /// The lowest-latency route from `from` to `to` avoiding everything in `cut`.
    ///
    /// A zone to itself is a zero-hop path of 0 ms. `None` when the cut leaves `to` unreachable, including
    /// when either end is itself cut. Ties in round-trip time go to the path with fewer hops, then to the one
    /// found first scanning zones in catalogue order, so the answer never changes between runs.
    pub fn path(&self, from: ZoneId, to: ZoneId, cut: &Cut) -> Option<Path> {
        self.tree(from, cut).path_to(from, to)
    }

    /// Every zone reachable from `from` within `budget_ms` of modelled round trip, fastest first.
    ///
    /// `from` itself is included (0 ms) unless it is cut, so the list answers "where can this workload run".
    pub fn within_budget(&self, from: ZoneId, budget_ms: f64, cut: &Cut) -> Vec<(ZoneId, Path)> {
        let tree = self.tree(from, cut);
        let mut found: Vec<(ZoneId, Path)> = ZONES
            .iter()
            .filter_map(|zone| Some((zone.id, tree.path_to(from, zone.id)?)))
            .filter(|(_, path)| path.modelled_rtt_ms <= budget_ms)
            .collect();
        found.sort_by(|(a, pa), (b, pb)| {
            pa.modelled_rtt_ms
                .total_cmp(&pb.modelled_rtt_ms)
                .then(a.index().cmp(&b.index()))
        });
        found
    }

    /// Shortest paths between every ordered pair, indexed `[from.index()][to.index()]`, for a latency matrix.
    pub fn all_pairs(&self, cut: &Cut) -> Vec<Vec<Option<Path>>> {
        ZONES
            .iter()
            .map(|from| {
                let tree = self.tree(from.id, cut);
                ZONES.iter().map(|to| tree.path_to(from.id, to.id)).collect()
            })
            .collect()
    }

    /// Dijkstra on modelled round-trip time from `from`, skipping whatever `cut` blocks.
    ///
    /// With sixteen zones the quadratic "scan for the nearest unsettled zone" form is both the simplest and
    /// the easiest to make deterministic; a heap would buy nothing.
    fn tree(&self, from: ZoneId, cut: &Cut) -> Tree {
        let n = ZONES.len();
        let mut tree = Tree {
            rtt_ms: vec![f64::INFINITY; n],
            hops: vec![usize::MAX; n],
            via: vec![None; n],
            reached: vec![false; n],
        };
        if cut.zones.contains(&from) {
            return tree;
        }
        tree.rtt_ms[from.index()] = 0.0;
        tree.hops[from.index()] = 0;
        let mut settled = vec![false; n];
        loop {
            let nearest = (0..n)
                .filter(|&i| !settled[i] && tree.rtt_ms[i].is_finite())
                .min_by(|&i, &j| {
                    tree.rtt_ms[i]
                        .total_cmp(&tree.rtt_ms[j])
                        .then(tree.hops[i].cmp(&tree.hops[j]))
                        .then(i.cmp(&j))
                });
            let Some(u) = nearest else { break };
            settled[u] = true;
            tree.reached[u] = true;
            for &(next, edge_id) in &self.adjacency[u] {
                let Some(edge) = self.edge(edge_id) else { continue };
                let v = next.index();
                if settled[v] || cut.blocks(edge) {
                    continue;
                }
                let rtt = tree.rtt_ms[u] + edge.modelled_rtt_ms;
                let hops = tree.hops[u] + 1;
                let better = rtt.total_cmp(&tree.rtt_ms[v]).then(hops.cmp(&tree.hops[v])) == Ordering::Less;
                if better {
                    tree.rtt_ms[v] = rtt;
                    tree.hops[v] = hops;
                    tree.via[v] = Some((ZONES[u].id, edge_id));
                }
            }
        }
        tree
    }
}

impl Tree {
    /// Walks the tree back from `to` to the source `from`.
    fn path_to(&self, from: ZoneId, to: ZoneId) -> Option<Path> {
        if !self.reached.get(to.index()).copied().unwrap_or(false) {
            return None;
        }
        let mut zones = vec![to];
        let mut edges = Vec::new();
        let mut at = to;
        while at != from {
            let (prev, edge) = self.via[at.index()]?;
            zones.push(prev);
            edges.push(edge);
            at = prev;
        }
        zones.reverse();
        edges.reverse();
        let modelled_rtt_ms = self.rtt_ms[to.index()];
        let fibre_limit_ms = pair_fibre_limit_ms(from, to);
        let ratio = if fibre_limit_ms > 0.0 {
            modelled_rtt_ms / fibre_limit_ms
        } else {
            1.0
        };
        Some(Path {
            hops: edges.len(),
            zones,
            edges,
            modelled_rtt_ms,
            fibre_limit_ms,
            ratio,
        })
    }
}
