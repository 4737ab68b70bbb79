//! The backbone drawn on a world map: coastlines, the sixteen zones, every edge as a great circle
//! coloured by load with its live round trip, the tenant's own network, a highlighted route and
//! cut edges. Plain SVG rendered on the server and kept current in the browser.

use crate::api::map::MapData;
use leptos::prelude::*;
use meridian_core::backbone::{BACKBONE, Cut, Edge, RouteKind};
use meridian_core::map::{arc, live_rtt_ms, svg_path, zone_point};
use meridian_core::zone::{ZONES, Zone, ZoneId};

/// Which part of the world a map shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Region {
    /// Every zone, from Los Angeles to Singapore.
    World,
    /// The eleven European zones, which crowd each other on the world map.
    Europe,
}

impl Region {
    /// The part of the 1000 × 500 map plane shown, and map units per screen pixel at the width
    /// the page gives the map (so labels and markers keep their on-screen size).
    fn frame(self) -> (&'static str, f64) {
        match self {
            Region::World => ("0 40 1000 335", 1.4),
            Region::Europe => ("470 92 88 62", 0.17),
        }
    }

    fn shows_label(self, zone: &Zone) -> bool {
        match self {
            Region::World => !in_europe(zone),
            Region::Europe => in_europe(zone),
        }
    }

    fn shows_rtt(self, edge: &Edge) -> bool {
        let europe = in_europe(edge.a.zone()) && in_europe(edge.b.zone());
        let here = match self {
            Region::World => !europe,
            Region::Europe => europe && edge.kind != RouteKind::Metro,
        };
        // A link too short on screen for its figure (Chicago – New York on the world map) leaves
        // it to its tooltip and the links table rather than print it over the zones' names.
        let (_, units_per_pixel) = self.frame();
        let (a, b) = (zone_point(edge.a.zone()), zone_point(edge.b.zone()));
        let pixels = (a.x - b.x).hypot(a.y - b.y) / units_per_pixel;
        here && pixels >= MIN_RTT_LINK_PX
    }
}

/// The shortest link, in screen pixels, that has its round trip written beside it.
const MIN_RTT_LINK_PX: f64 = 60.0;

fn in_europe(zone: &Zone) -> bool {
    zone.lon > -15.0 && zone.lon < 30.0 && zone.lat > 34.0
}

/// Where a label sits next to its zone, in screen pixels, where the default would collide.
fn label_offset(zone: ZoneId) -> (f64, f64, &'static str) {
    match zone.as_str() {
        "lon1" => (7.0, -7.0, "start"),
        "lon2" => (8.0, 12.0, "start"),
        "slo1" => (-8.0, 2.0, "end"),
        "par1" | "gva1" | "mad1" => (-8.0, 4.0, "end"),
        "zrh1" => (8.0, -3.0, "start"),
        "fra1" => (8.0, -2.0, "start"),
        "mil1" => (8.0, 8.0, "start"),
        "hkg1" => (8.0, -4.0, "start"),
        "nyc1" => (6.0, 14.0, "start"),
        "chi1" => (-6.0, -8.0, "end"),
        "sin1" => (8.0, 8.0, "start"),
        "lax1" => (-8.0, 4.0, "end"),
        _ => (8.0, 4.0, "start"),
    }
}

/// A label's box on the map plane: left, top, right, bottom.
type LabelBox = (f64, f64, f64, f64);

/// The box `text` takes at `size` map units, its baseline at `(x, y)`: a sans-serif character is
/// about 0.62 em wide; the text rises about 0.8 em above its baseline and falls 0.25 em below.
fn text_box(x: f64, y: f64, text: &str, size: f64, anchor: &str) -> LabelBox {
    #[expect(clippy::cast_precision_loss, reason = "a label's length in characters")]
    let width = text.chars().count() as f64 * 0.62 * size;
    let left = match anchor {
        "end" => x - width,
        "middle" => x - width / 2.0,
        _ => x,
    };
    (left, y - 0.8 * size, left + width, y + 0.25 * size)
}

fn overlap(a: &LabelBox, b: &LabelBox) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

/// Where an edge's round trip is written: the middle of its longest piece, above the line.
fn rtt_anchor(edge: &Edge, k: f64) -> Option<(f64, f64)> {
    let pieces = arc(edge.a.zone(), edge.b.zone());
    let piece = pieces.iter().max_by_key(|p| p.len())?;
    let middle = piece.get(piece.len() / 2)?;
    Some((middle.x, middle.y - 3.0 * k))
}

/// The edges whose round trip is written on the map: zones' names and dots come first, then the
/// longest links; a figure that would print over a name, a dot or another figure is left to the
/// link's tooltip and the links table.
fn rtt_labels(region: Region, data: &MapData) -> Vec<usize> {
    let (_, k) = region.frame();
    let mut placed: Vec<LabelBox> = Vec::new();
    for zone in ZONES.iter() {
        let p = zone_point(zone);
        let dot = 5.0 * k;
        placed.push((p.x - dot, p.y - dot, p.x + dot, p.y + dot));
        if region.shows_label(zone) {
            let (dx, dy, anchor) = label_offset(zone.id);
            placed.push(text_box(p.x + dx * k, p.y + dy * k, zone.city, 11.0 * k, anchor));
        }
    }
    let mut edges: Vec<&Edge> = BACKBONE.edges().iter().filter(|e| region.shows_rtt(e)).collect();
    edges.sort_by(|a, b| b.fibre_limit_ms.total_cmp(&a.fibre_limit_ms));
    let mut shown = Vec::new();
    for edge in edges {
        let Some((x, y)) = rtt_anchor(edge, k) else {
            continue;
        };
        let live = live_rtt_ms(edge, probe_of(data, edge));
        let label = text_box(x, y, &format!("{live:.0} ms"), 10.0 * k, "middle");
        if placed.iter().all(|other| !overlap(&label, other)) {
            placed.push(label);
            shown.push(edge.id.index());
        }
    }
    shown
}

/// An edge's name as people read it: "London – New York".
pub fn edge_name(edge: &Edge) -> String {
    format!("{} – {}", edge.a.zone().city, edge.b.zone().city)
}

/// The latest probe of an edge, in ms; none for a measurement below the fibre limit (an error,
/// never drawn as the edge's latency).
pub fn probe_of(data: &MapData, edge: &Edge) -> Option<f64> {
    let key = edge.key();
    data.edges
        .iter()
        .find(|e| e.edge == key && e.source != "implausible")
        .and_then(|e| e.rtt_ms)
}

/// How an edge's live figure came about, in words for its table cell: measured or simulated, with
/// its jitter and loss, or a measurement error.
pub fn probe_note(data: &MapData, edge: &Edge) -> Option<String> {
    let key = edge.key();
    let probe = data.edges.iter().find(|e| e.edge == key)?;
    let jitter_loss = || match (probe.jitter_ms, probe.loss) {
        (Some(jitter), Some(loss)) => format!(", ±{jitter:.1} ms, {:.0} % lost", loss * 100.0),
        (None, Some(loss)) => format!(", {:.0} % lost", loss * 100.0),
        _ => String::new(),
    };
    match probe.source.as_str() {
        "measured" => Some(format!("measured{}", jitter_loss())),
        "implausible" => Some("measurement error: below the fibre limit, not shown".to_owned()),
        _ => Some(format!("simulated{}", jitter_loss())),
    }
}

/// An edge's jitter (ms) and loss (0–1), when known.
pub fn jitter_loss_of(data: &MapData, edge: &Edge) -> Option<(f64, f64)> {
    let key = edge.key();
    let probe = data.edges.iter().find(|e| e.edge == key)?;
    Some((probe.jitter_ms?, probe.loss?))
}

/// The load of an edge (0–1), as last recorded.
pub fn load_of(data: &MapData, edge: &Edge) -> Option<f64> {
    let key = edge.key();
    data.edges.iter().find(|e| e.edge == key).and_then(|e| e.load)
}

/// "low", "mid", "high" or "unknown": how full an edge runs, for its colour and its legend.
pub fn load_band(load: Option<f64>) -> &'static str {
    match load {
        None => "unknown",
        Some(l) if l < 0.4 => "low",
        Some(l) if l < 0.7 => "mid",
        Some(_) => "high",
    }
}

/// The map. `route` holds the indexes of the edges to highlight; `cut` dims what it removes.
/// Only the world map is exposed to assistive technology (the inset repeats it); the page gives
/// the same facts as tables too.
#[component]
pub fn BackboneMap(
    /// The latest probes and the tenant's zones.
    data: MapData,
    /// Indexes of the edges of the route to highlight.
    route: Vec<usize>,
    /// What the what-if view removes.
    cut: Cut,
    /// The part of the world shown.
    region: Region,
) -> impl IntoView {
    let (view_box, k) = region.frame();
    let mine = |zone: ZoneId| data.zones.iter().find(|z| z.zone == zone.as_str());
    let rtt_shown = rtt_labels(region, &data);
    let edges = BACKBONE
        .edges()
        .iter()
        .map(|edge| {
            let live = live_rtt_ms(edge, probe_of(&data, edge));
            let load = load_of(&data, edge);
            let on_route = route.contains(&edge.id.index());
            let is_cut = cut.blocks(edge);
            let class = format!(
                "edge edge-load-{}{}{}",
                load_band(load),
                if on_route { " edge-route" } else { "" },
                if is_cut { " edge-cut" } else { "" }
            );
            let load_text = load.map_or_else(|| "load not measured yet".to_owned(), |l| format!("{:.0} % load", l * 100.0));
            let label = format!(
                "Link {}: {live:.1} ms live, fibre limit {:.1} ms, {load_text}{}",
                edge_name(edge),
                edge.fibre_limit_ms,
                if is_cut { ", cut in the what-if view" } else { "" }
            );
            let pieces = arc(edge.a.zone(), edge.b.zone());
            let rtt = rtt_anchor(edge, k)
                .filter(|_| rtt_shown.contains(&edge.id.index()))
                .map(|(x, y)| {
                    view! {
                        <text class="edge-rtt" x=format!("{x:.2}") y=format!("{y:.2}") font-size=format!("{:.2}", 10.0 * k) text-anchor="middle" aria-hidden="true">
                            {format!("{live:.0} ms")}
                        </text>
                    }
                });
            let title = label.clone();
            view! {
                <path class=class d=svg_path(&pieces) role="img" aria-label=label>
                    <title>{title}</title>
                </path>
                {rtt}
            }
        })
        .collect_view();
    let zones = ZONES
        .iter()
        .map(|zone| {
            let p = zone_point(zone);
            let own = mine(zone.id);
            let label = match own {
                Some(z) if z.vms > 0 => format!(
                    "Zone {} ({}), {}: on your private network, {} of {} VMs running",
                    zone.city, zone.id, zone.country, z.running, z.vms
                ),
                Some(_) => format!("Zone {} ({}), {}: on your private network", zone.city, zone.id, zone.country),
                None => format!("Zone {} ({}), {}", zone.city, zone.id, zone.country),
            };
            let cut_here = cut.zones.contains(&zone.id);
            let class = format!(
                "zone{}{}",
                if own.is_some() { " zone-mine" } else { "" },
                if cut_here { " zone-cut" } else { "" }
            );
            let (dx, dy, anchor) = label_offset(zone.id);
            let name = region.shows_label(zone).then(|| {
                view! {
                    <text class="zone-name" x=format!("{:.2}", p.x + dx * k) y=format!("{:.2}", p.y + dy * k) font-size=format!("{:.2}", 11.0 * k) text-anchor=anchor aria-hidden="true">
                        {zone.city}
                    </text>
                }
            });
            let title = label.clone();
            view! {
                <g class=class role="img" aria-label=label>
                    <title>{title}</title>
                    {own.is_some().then(|| view! { <circle class="zone-ring" cx=format!("{:.2}", p.x) cy=format!("{:.2}", p.y) r=format!("{:.2}", 8.0 * k) /> })}
                    <circle class="zone-dot" cx=format!("{:.2}", p.x) cy=format!("{:.2}", p.y) r=format!("{:.2}", 4.0 * k) />
                    {name}
                </g>
            }
        })
        .collect_view();
    let europe_hint = (region == Region::World).then(|| {
        view! { <text class="map-note" x="505" y="72" font-size=format!("{:.2}", 10.0 * k) text-anchor="middle" aria-hidden="true">"Europe: see the inset"</text> }
    });
    view! {
        <svg class=format!("backbone-map backbone-map-{}", if region == Region::World { "world" } else { "europe" })
            viewBox=view_box role=if region == Region::World { "group" } else { "presentation" }
            aria-label=if region == Region::World { "Backbone map" } else { "" }
            aria-hidden=if region == Region::World { "false" } else { "true" }
            preserveAspectRatio="xMidYMid meet">
            <image href="/map/land-110m.svg" x="0" y="0" width="1000" height="500" aria-hidden="true" />
            {edges}
            {zones}
            {europe_hint}
        </svg>
    }
}
