//! The backbone map: live links and latency, the path finder with its what-if cut, latency
//! budgets, and latency history.

use crate::api::map::{LatencyFigure, MapData, latency_chart, map_view};
use crate::components::backbone_map::{
    BackboneMap, Region, edge_name, jitter_loss_of, load_band, load_of, probe_note, probe_of,
};
use crate::components::page::{ListState, PageHeader, Properties};
use leptos::prelude::*;
use meridian_core::backbone::{
    BACKBONE, Cut, Path, RouteKind, budget_is_physically_possible, pair_fibre_limit_ms,
};
use meridian_core::map::{cut_changes, cut_impact, live_rtt_ms, path_live_rtt_ms, reroute};
use meridian_core::zone::{ZONES, ZoneId};
use std::time::Duration;

/// How often the page asks for the latest probes: the probers run every ten seconds.
const REFRESH: Duration = Duration::from_secs(10);

/// The cut chosen in the what-if select: "" (none), "edge:lon1-nyc1" or "zone:lon1".
fn parse_cut(choice: &str) -> Cut {
    match choice.split_once(':') {
        Some(("edge", key)) => BACKBONE
            .edges()
            .iter()
            .find(|e| e.key() == key)
            .map_or_else(Cut::none, |e| Cut::none().with_edge(e.id)),
        Some(("zone", id)) => ZoneId::parse(id).map_or_else(|_| Cut::none(), |z| Cut::none().with_zone(z)),
        _ => Cut::none(),
    }
}

fn cut_name(choice: &str) -> String {
    match choice.split_once(':') {
        Some(("edge", key)) => BACKBONE
            .edges()
            .iter()
            .find(|e| e.key() == key)
            .map_or_else(String::new, |e| format!("the {} link", edge_name(e))),
        Some(("zone", id)) => {
            ZoneId::parse(id).map_or_else(|_| String::new(), |z| format!("the {} zone", z.zone().city))
        }
        _ => String::new(),
    }
}

fn route_text(path: &Path) -> String {
    path.zones
        .iter()
        .map(|z| z.zone().city)
        .collect::<Vec<_>>()
        .join(" → ")
}

fn kind_text(kind: RouteKind) -> &'static str {
    match kind {
        RouteKind::Metro => "Metro fibre",
        RouteKind::Terrestrial => "Terrestrial",
        RouteKind::Subsea => "Subsea cable",
        RouteKind::Suez => "Subsea via Suez",
    }
}

fn zone_options() -> impl IntoView {
    ZONES
        .iter()
        .map(|z| view! { <option value=z.id.as_str()>{format!("{} ({}), {}", z.city, z.id, z.country)}</option> })
        .collect_view()
}

/// The map page.
#[component]
pub fn MapPage() -> impl IntoView {
    let tick = RwSignal::new(0_u32);
    Effect::new(move |_| {
        // In the browser only (effects do not run on the server): fetch the latest probes as they come.
        if let Ok(handle) = set_interval_with_handle(move || tick.update(|t| *t += 1), REFRESH) {
            on_cleanup(move || handle.clear());
        }
    });
    let map = Resource::new(move || tick.get(), |_| map_view());
    let from = RwSignal::new("lon1".to_owned());
    let to = RwSignal::new("hkg1".to_owned());
    let cut = RwSignal::new(String::new());
    let cut_value = Memo::new(move |_| parse_cut(&cut.get()));
    let route = Memo::new(move |_| {
        let (Ok(a), Ok(b)) = (ZoneId::parse(&from.get()), ZoneId::parse(&to.get())) else {
            return None;
        };
        (a != b).then(|| reroute(&BACKBONE, a, b, &cut_value.get()))
    });
    let route_edges = move || {
        route
            .get()
            .and_then(|r| r.after)
            .map(|p| p.edges.iter().map(|e| e.index()).collect::<Vec<_>>())
            .unwrap_or_default()
    };

    view! {
        <PageHeader title="Backbone map" description="Meridian's private MPLS backbone: every zone, every link, live latency. Your network spans all of it." />
        <ListState load=move || map.get() loading="Loading the map…"
            items={move |data: MapData| view! {
                {map_status(&data)}
                {map_card(data.clone(), route_edges, cut_value)}
                <LinksTable data=data />
            }} />
        <div class="map-tools">
            <section class="card" aria-labelledby="path-finder-heading">
                <h2 id="path-finder-heading">"Path finder"</h2>
                <div class="form-grid">
                    <div class="field">
                        <label for="path-from">"From"</label>
                        <select id="path-from" prop:value=move || from.get() on:change=move |ev| from.set(event_target_value(&ev))>{zone_options()}</select>
                    </div>
                    <div class="field">
                        <label for="path-to">"To"</label>
                        <select id="path-to" prop:value=move || to.get() on:change=move |ev| to.set(event_target_value(&ev))>{zone_options()}</select>
                    </div>
                    <div class="field field-wide">
                        <label for="path-cut">"What if we cut"</label>
                        <p class="field-hint" id="path-cut-hint">"A view only: your resources are not affected."</p>
                        <select id="path-cut" aria-describedby="path-cut-hint" prop:value=move || cut.get() on:change=move |ev| cut.set(event_target_value(&ev))>
                            <option value="">"Nothing (the whole backbone)"</option>
                            <optgroup label="A link">
                                {BACKBONE.edges().iter().map(|e| view! { <option value=format!("edge:{}", e.key())>{format!("Link {}", edge_name(e))}</option> }).collect_view()}
                            </optgroup>
                            <optgroup label="A whole zone">
                                {ZONES.iter().map(|z| view! { <option value=format!("zone:{}", z.id)>{format!("Zone {}", z.city)}</option> }).collect_view()}
                            </optgroup>
                        </select>
                    </div>
                </div>
                // Inside a Transition: the live figures are a resource, read here as it loads.
                <Transition fallback=|| ()>
                    {move || {
                        let live = map.get().and_then(Result::ok);
                        match route.get() {
                            None => view! { <p>"Choose two different zones."</p> }.into_any(),
                            Some(r) => path_result(r.before, r.after, &cut.get(), live.as_ref()).into_any(),
                        }
                    }}
                </Transition>
                // What the cut would do to the tenant's own VMs (their zones come with the live data).
                <Transition fallback=|| ()>
                    {move || {
                        let choice = cut.get();
                        let data = map.get().and_then(Result::ok)?;
                        (!choice.is_empty()).then(|| cut_impact_view(&choice, &cut_value.get(), &data))
                    }}
                </Transition>
            </section>
            <BudgetFinder cut=cut_value />
        </div>
        <LatencyHistory from=from to=to tick=tick />
    }
}

/// What cutting `choice` (as [`parse_cut`] reads it into `cut`) does to the tenant's VMs: the
/// pairs of their zones whose round trip changes, by how much, and which VMs are in them.
fn cut_impact_view(choice: &str, cut: &Cut, data: &MapData) -> AnyView {
    let name = cut_name(choice);
    let used: Vec<_> = data.zones.iter().filter(|z| z.vms > 0).collect();
    let zones: Vec<ZoneId> = used.iter().filter_map(|z| ZoneId::parse(&z.zone).ok()).collect();
    let pairs = cut_impact(&cut_changes(&BACKBONE, cut), &zones);
    let cut_zone = choice.strip_prefix("zone:");
    let in_cut_zone = used.iter().find(|z| Some(z.zone.as_str()) == cut_zone);
    let city =
        |zone: &str| ZoneId::parse(zone).map_or_else(|_| zone.to_owned(), |z| z.zone().city.to_owned());
    let vm_lists: Vec<String> = used
        .iter()
        .filter(|z| {
            pairs
                .iter()
                .any(|p| p.a.as_str() == z.zone || p.b.as_str() == z.zone)
        })
        .map(|z| format!("{}: {}", city(&z.zone), z.names.join(", ")))
        .collect();
    let body = if used.is_empty() {
        view! { <p>"You have no VMs: nothing of yours would change."</p> }.into_any()
    } else if pairs.is_empty() && in_cut_zone.is_none() {
        view! { <p>"Nothing of yours changes: the round trips between your zones stay as they are."</p> }
            .into_any()
    } else {
        view! {
            {in_cut_zone.map(|z| view! {
                <p class="alert alert-warning">{format!(
                    "Your {} in {} would be cut off from your other zones: {}.",
                    if z.vms == 1 { "VM".to_owned() } else { format!("{} VMs", z.vms) },
                    city(&z.zone),
                    z.names.join(", ")
                )}</p>
            })}
            {(!pairs.is_empty()).then(|| view! {
                <table tabindex="0" class="table" aria-label="Your zone pairs that change">
                    <thead><tr>
                        <th scope="col">"Between"</th><th scope="col">"Round trip now"</th>
                        <th scope="col">"With the cut"</th><th scope="col">"Change"</th>
                    </tr></thead>
                    <tbody>
                        {pairs.iter().map(|p| view! {
                            <tr>
                                <th scope="row">{format!("{} – {}", p.a.zone().city, p.b.zone().city)}</th>
                                <td>{format!("{:.1} ms", p.before_ms)}</td>
                                <td>{p.after_ms.map_or_else(|| "unreachable".to_owned(), |ms| format!("{ms:.1} ms"))}</td>
                                <td>{p.added_ms().map_or_else(|| "cut off".to_owned(), |ms| format!("{ms:+.1} ms"))}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
                <p>"Your VMs there: "{vm_lists.join("; ")}"."</p>
            })}
        }
        .into_any()
    };
    view! {
        <section class="cut-impact" aria-label="What the cut does to your VMs">
            <h3>{format!("What cutting {name} would do to your VMs")}</h3>
            {body}
        </section>
    }
    .into_any()
}

/// Where the figures come from and how fresh they are.
fn map_status(data: &MapData) -> AnyView {
    let text = match data.probed_ago_s {
        Some(s) => format!(
            "{}: link latency probed {s} s ago, every 10 s; load as the links report it.",
            data.driver
        ),
        None => format!(
            "{}: the first latency probes run within 10 s of start; until then links show their modelled latency.",
            data.driver
        ),
    };
    view! {
        <p class="map-status" role="status" aria-live="polite">
            {data.simulated.then(|| {
                let measured = data.edges.iter().filter(|e| e.source == "measured").count();
                let label = if measured == 0 {
                    "Simulated".to_owned()
                } else {
                    let links = if measured == 1 { "link" } else { "links" };
                    format!("Simulated except {measured} measured {links}")
                };
                view! { <span class="badge badge-warning">{label}</span> " " }
            })}
            {text}
            {(!data.cut.is_empty()).then(|| {
                let names: Vec<String> = data
                    .cut
                    .iter()
                    .filter_map(|key| BACKBONE.edges().iter().find(|e| e.key() == *key))
                    .map(edge_name)
                    .collect();
                format!(" Cut for maintenance: {}; traffic takes other links.", names.join(", "))
            })}
        </p>
    }
    .into_any()
}

/// The world map, the Europe inset and the legend.
fn map_card(
    data: MapData,
    route: impl Fn() -> Vec<usize> + Copy + Send + Sync + 'static,
    cut: Memo<Cut>,
) -> AnyView {
    let europe = data.clone();
    view! {
        <section class="card map-card" aria-label="Map">
            <div class="map-panels">
                // On a phone the world map pans sideways in this frame: it takes the focus so a keyboard
                // can pan it too.
                <div class="map-world" tabindex="0" role="region" aria-label="World map">
                    {move || view! { <BackboneMap data=data.clone() route=route() cut=cut.get() region=Region::World /> }.into_any()}
                </div>
                <figure class="map-europe">
                    {move || view! { <BackboneMap data=europe.clone() route=route() cut=cut.get() region=Region::Europe /> }.into_any()}
                    <figcaption>"Europe, enlarged"</figcaption>
                </figure>
            </div>
            <ul class="map-legend" aria-label="Legend">
                <li><span class="swatch swatch-low"></span>"Link under 40 % load"</li>
                <li><span class="swatch swatch-mid"></span>"40–70 %"</li>
                <li><span class="swatch swatch-high"></span>"Over 70 %"</li>
                <li><span class="swatch swatch-route"></span>"Route in the path finder"</li>
                <li><span class="swatch swatch-mine"></span>"Zones of your private network"</li>
            </ul>
        </section>
    }
    .into_any()
}

/// The path finder's answer: the route, its figures, and what the cut changed.
fn path_result(
    before: Option<Path>,
    after: Option<Path>,
    cut: &str,
    live: Option<&MapData>,
) -> impl IntoView {
    let live_ms = |path: &Path| {
        live.map(|data| {
            path_live_rtt_ms(&BACKBONE, path, |i| {
                BACKBONE.edges().get(i).and_then(|e| probe_of(data, e))
            })
        })
    };
    let comparison = match (&before, &after, cut.is_empty()) {
        (_, _, true) => None,
        (Some(b), Some(a), false) if a.edges == b.edges => {
            Some(format!("Cutting {} does not change this route.", cut_name(cut)))
        }
        (Some(b), Some(a), false) => Some(format!(
            "Rerouted around {}: {:.1} ms instead of {:.1} ms via {} (+{:.1} ms).",
            cut_name(cut),
            a.modelled_rtt_ms,
            b.modelled_rtt_ms,
            route_text(b),
            a.modelled_rtt_ms - b.modelled_rtt_ms
        )),
        (_, None, false) => Some(format!(
            "Cutting {} leaves no path between these zones.",
            cut_name(cut)
        )),
        _ => None,
    };
    let details = after.map(|path| {
        let live_text = live_ms(&path).map_or_else(|| "—".to_owned(), |ms| format!("{ms:.1} ms"));
        let jitter_text = live
            .and_then(|data| {
                let edges: Vec<Option<(f64, f64)>> = path
                    .edges
                    .iter()
                    .map(|id| BACKBONE.edge(*id).and_then(|e| jitter_loss_of(data, e)))
                    .collect();
                meridian_core::map::path_jitter_loss(&edges)
            })
            .map_or_else(
                || "—".to_owned(),
                |(jitter, loss)| format!("±{jitter:.1} ms, {:.1} % lost", loss * 100.0),
            );
        let hops = path
            .zones
            .iter()
            .map(|z| view! { <li>{format!("{} ({})", z.zone().city, z)}</li> })
            .collect_view();
        view! {
            <ol class="hops" aria-label="Route">{hops}</ol>
            <section aria-label="Route figures">
            <Properties label="Round trips and hops" rows=vec![
                ("Hops", path.hops.to_string()),
                ("Modelled round trip", format!("{:.1} ms", path.modelled_rtt_ms)),
                ("Live round trip", live_text),
                ("Jitter and loss", jitter_text),
                ("Fibre limit", format!("{:.1} ms", path.fibre_limit_ms)),
                ("Ratio to the fibre limit", format!("{:.2}×", path.ratio)),
            ] />
            </section>
        }
    });
    view! {
        {comparison.map(|text| view! { <p class="alert alert-info" role="status">{text}</p> })}
        {details}
    }
}

/// "Zones within N ms of X", and the ones physics rules out.
#[component]
fn BudgetFinder(
    /// The what-if cut, shared with the path finder.
    cut: Memo<Cut>,
) -> impl IntoView {
    let from = RwSignal::new("fra1".to_owned());
    let budget = RwSignal::new("10".to_owned());
    let parsed = move || {
        let text = budget.get();
        match text.trim().parse::<f64>() {
            Ok(ms) if ms > 0.0 && ms <= 1_000.0 => Ok(ms),
            _ => Err("Enter a round trip between 0 and 1000 ms, e.g. 10 or 2.5."),
        }
    };
    view! {
        <section class="card" aria-labelledby="budget-heading">
            <h2 id="budget-heading">"Latency budget"</h2>
            <div class="form-grid">
                <div class="field">
                    <label for="budget-from">"From"</label>
                    <select id="budget-from" prop:value=move || from.get() on:change=move |ev| from.set(event_target_value(&ev))>{zone_options()}</select>
                </div>
                <div class="field" class:field-invalid=move || parsed().is_err()>
                    <label for="budget-ms">"Round trip at most (ms)"</label>
                    <input id="budget-ms" type="number" min="0.1" max="1000" step="0.1" inputmode="decimal"
                        aria-describedby="budget-ms-error" aria-invalid=move || parsed().is_err().to_string()
                        prop:value=move || budget.get() on:input=move |ev| budget.set(event_target_value(&ev)) />
                    <p class="field-error" id="budget-ms-error" aria-live="polite">{move || parsed().err()}</p>
                </div>
            </div>
            {move || {
                let (Ok(origin), Ok(ms)) = (ZoneId::parse(&from.get()), parsed()) else {
                    return view! { <p>"Choose a zone and a budget."</p> }.into_any();
                };
                let within = BACKBONE.within_budget(origin, ms, &cut.get());
                let impossible: Vec<ZoneId> = ZONES
                    .iter()
                    .map(|z| z.id)
                    .filter(|z| *z != origin && !budget_is_physically_possible(origin, *z, ms))
                    .collect();
                let beyond = ZONES.len() - 1 - within.iter().filter(|(z, _)| *z != origin).count() - impossible.len();
                let city = origin.zone().city;
                view! {
                    <h3>{format!("Zones within {ms} ms of {city}")}</h3>
                    {if within.iter().all(|(z, _)| *z == origin) {
                        view! { <p>{format!("No other zone is within {ms} ms of {city} over the backbone.")}</p> }.into_any()
                    } else {
                        view! {
                            <table tabindex="0" class="table" aria-label=format!("Zones within {ms} ms")>
                                <thead><tr><th scope="col">"Zone"</th><th scope="col">"Round trip (modelled)"</th><th scope="col">"Fibre limit"</th></tr></thead>
                                <tbody>
                                    {within.into_iter().filter(|(z, _)| *z != origin).map(|(z, path)| view! {
                                        <tr><td>{format!("{} ({z})", z.zone().city)}</td><td>{format!("{:.1} ms", path.modelled_rtt_ms)}</td><td>{format!("{:.1} ms", path.fibre_limit_ms)}</td></tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    }}
                    {(!impossible.is_empty()).then(|| view! {
                        <h3>{format!("Physically impossible within {ms} ms")}</h3>
                        <p>"Light in fibre cannot make these round trips that fast, on any network:"</p>
                        <ul aria-label="Physically impossible zones">
                            {impossible.into_iter().map(|z| view! {
                                <li>{format!("{} ({z}): the fibre limit is {:.1} ms", z.zone().city, pair_fibre_limit_ms(origin, z))}</li>
                            }).collect_view()}
                        </ul>
                    })}
                    {(beyond > 0).then(|| view! {
                        <p>{format!("{beyond} more zone(s) could be reached that fast in principle, but not over today's routes.")}</p>
                    })}
                }.into_any()
            }}
        </section>
    }
}

/// Every backbone link with its live figures: the map as a table.
#[component]
fn LinksTable(
    /// The latest probes.
    data: MapData,
) -> impl IntoView {
    view! {
        <details class="card links-table">
            <summary>{format!("All {} backbone links", BACKBONE.edges().len())}</summary>
            <table tabindex="0" class="table" aria-label="Backbone links">
                <thead><tr>
                    <th scope="col">"Link"</th><th scope="col">"Kind"</th><th scope="col">"Capacity"</th>
                    <th scope="col">"Live round trip"</th><th scope="col">"Modelled"</th><th scope="col">"Fibre limit"</th><th scope="col">"Load"</th>
                </tr></thead>
                <tbody>
                    {BACKBONE.edges().iter().map(|e| {
                        let load = load_of(&data, e);
                        view! {
                            <tr>
                                <td>{edge_name(e)}</td>
                                <td>{kind_text(e.kind)}</td>
                                <td>{format!("{} Gb/s", e.capacity_gbps)}</td>
                                <td>
                                    {if data.cut.contains(&e.key()) {
                                        "cut for maintenance".to_owned()
                                    } else {
                                        format!("{:.1} ms", live_rtt_ms(e, probe_of(&data, e)))
                                    }}
                                    {probe_note(&data, e).filter(|_| !data.cut.contains(&e.key()))
                                        .map(|note| view! { " " <span class="probe-note">{format!("({note})")}</span> })}
                                </td>
                                <td>{format!("{:.1} ms", e.modelled_rtt_ms)}</td>
                                <td>{format!("{:.1} ms", e.fibre_limit_ms)}</td>
                                <td class=format!("load load-{}", load_band(load))>{load.map_or_else(|| "—".to_owned(), |l| format!("{:.0} %", l * 100.0))}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </details>
    }
}

/// Latency history for the path finder's pair or one link, over the last hour or day.
#[component]
fn LatencyHistory(
    /// The path finder's origin.
    from: RwSignal<String>,
    /// The path finder's destination.
    to: RwSignal<String>,
    /// Bumped on every refresh.
    tick: RwSignal<u32>,
) -> impl IntoView {
    let target = RwSignal::new("route".to_owned());
    let window = RwSignal::new("hour".to_owned());
    let chosen = move || {
        let choice = target.get();
        if choice == "route" {
            format!("pair:{}-{}", from.get(), to.get())
        } else {
            choice
        }
    };
    // Charts change slowly: redraw every sixth refresh (a minute).
    let chart = Resource::new(
        move || (chosen(), window.get(), tick.get() / 6),
        |(t, w, _)| latency_chart(t, w),
    );
    view! {
        <section class="card" aria-labelledby="history-heading">
            <h2 id="history-heading">"Latency history"</h2>
            <div class="form-grid">
                <div class="field">
                    <label for="history-target">"Route or link"</label>
                    <select id="history-target" prop:value=move || target.get() on:change=move |ev| target.set(event_target_value(&ev))>
                        <option value="route">"The path finder's route"</option>
                        {BACKBONE.edges().iter().map(|e| view! { <option value=format!("edge:{}", e.key())>{format!("Link {}", edge_name(e))}</option> }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="history-window">"Over"</label>
                    <select id="history-window" prop:value=move || window.get() on:change=move |ev| window.set(event_target_value(&ev))>
                        <option value="hour">"The last hour (per minute)"</option>
                        <option value="day">"The last day (per 30 minutes)"</option>
                    </select>
                </div>
            </div>
            <ListState load=move || chart.get() loading="Loading the chart…" items=latency_figure />
        </section>
    }
}

fn latency_figure(figure: LatencyFigure) -> impl IntoView {
    let LatencyFigure {
        title,
        svg,
        summary,
        rows,
    } = figure;
    view! {
        <figure class="chart">
            {match svg {
                Some(svg) => view! { <div class="chart-svg" role="img" aria-label=summary.clone() inner_html=svg></div> }.into_any(),
                None => view! { <p class="chart-empty">"The chart fills in as probes arrive (every 10 s); there are too few in this window yet."</p> }.into_any(),
            }}
            <figcaption>{summary}</figcaption>
        </figure>
        {(!rows.is_empty()).then(|| view! {
            <details>
                <summary>{format!("{title}: the figures")}</summary>
                <table tabindex="0" class="table" aria-label="Latency figures">
                    <thead><tr><th scope="col">"From"</th><th scope="col">"Median"</th><th scope="col">"95th percentile"</th><th scope="col">"Loss"</th></tr></thead>
                    <tbody>
                        {rows.into_iter().map(|r| view! { <tr><td>{r.period}</td><td>{r.p50}</td><td>{r.p95}</td><td>{r.loss}</td></tr> }).collect_view()}
                    </tbody>
                </table>
            </details>
        })}
    }
}
