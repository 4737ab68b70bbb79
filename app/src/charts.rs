//! Charts drawn on the server with plotters, as SVG, with the figures behind them as text.

use crate::error::AppError;
use meridian_core::FieldErrors;
use meridian_core::backbone::BACKBONE;
use meridian_core::map::{LatencyBucket, LatencyFigure, LatencyRow, latency_buckets};
use meridian_core::zone::ZoneId;
use plotters::prelude::*;

/// A chart window by name: its span and its period length, in ms.
pub fn window(name: &str) -> Result<(i64, i64), AppError> {
    match name {
        "hour" => Ok((3_600_000, 60_000)),
        "day" => Ok((86_400_000, 1_800_000)),
        _ => {
            let mut fields = FieldErrors::default();
            fields.push("window", "Choose the last hour or the last day.");
            Err(meridian_control::Error::Invalid(fields).into())
        }
    }
}

/// "London – New York" for an edge key such as "lon1-nyc1", if there is such an edge.
pub fn edge_title(key: &str) -> Option<String> {
    let (a, b) = pair(key)?;
    BACKBONE.edge_between(a, b)?;
    Some(format!("{} – {}", a.zone().city, b.zone().city))
}

/// The two zones of "lon1-hkg1".
pub fn pair(text: &str) -> Option<(ZoneId, ZoneId)> {
    let (a, b) = text.split_once('-')?;
    Some((ZoneId::parse(a).ok()?, ZoneId::parse(b).ok()?))
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |v| format!("{v:.1} ms"))
}

fn clock(unix_ms: i64) -> String {
    let minutes = unix_ms.rem_euclid(86_400_000) / 60_000;
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// The latency chart of `samples` (`(at, rtt or None when lost)`) from `from` to `to` in periods
/// of `bucket_ms`, with a one-sentence summary and the figures as rows.
pub fn latency_chart(
    title: String,
    samples: &[(i64, Option<f64>)],
    from: i64,
    to: i64,
    bucket_ms: i64,
) -> LatencyFigure {
    let buckets = latency_buckets(samples, from, to, bucket_ms);
    let mut all: Vec<f64> = samples
        .iter()
        .filter_map(|(at, rtt)| (*at >= from).then_some(*rtt).flatten())
        .collect();
    all.sort_by(f64::total_cmp);
    let probes = samples.iter().filter(|(at, _)| *at >= from).count();
    let lost = probes - all.len();
    #[expect(clippy::cast_precision_loss, reason = "probe counts are small")]
    let loss = if probes == 0 {
        0.0
    } else {
        lost as f64 / probes as f64 * 100.0
    };
    let summary = if probes == 0 {
        format!("{title}: no probes yet in this window; probes run every 10 seconds.")
    } else {
        let window: Vec<(i64, Option<f64>)> = samples.iter().filter(|(at, _)| *at >= from).copied().collect();
        format!(
            "{title}: median {}, 95th percentile {}, jitter {}, loss {loss:.1} % over {probes} probes.",
            ms(meridian_core::map::quantile(&all, 0.5)),
            ms(meridian_core::map::quantile(&all, 0.95)),
            meridian_core::map::jitter_ms(&window).map_or_else(|| "—".to_owned(), |j| format!("±{j:.1} ms")),
        )
    };
    let rows = buckets
        .iter()
        .map(|b| LatencyRow {
            period: format!("{} UTC", clock(b.start_ms)),
            p50: ms(b.p50_ms),
            p95: ms(b.p95_ms),
            loss: format!("{:.1} %", b.loss * 100.0),
        })
        .collect();
    let svg = (buckets.len() >= 2)
        .then(|| draw(&buckets, from, to))
        .and_then(|drawn| {
            drawn
                .map_err(|error| tracing::warn!(error.detail = %error, "latency chart failed to draw"))
                .ok()
        });
    LatencyFigure {
        title,
        svg,
        summary,
        rows,
    }
}

/// Faint grid lines between two labelled ones. One is enough to read a value across; plotters'
/// default (ten a gap) drew a line every few pixels, over a hundred an SVG, sent twice with the
/// page (in the HTML and in the data it hydrates from).
const LIGHT_LINES: usize = 1;

const WIDTH: u32 = 760;
const HEIGHT: u32 = 300;

/// A chart over time on `area`: UTC clock times along `x` (Unix ms), `y` described by
/// `y_desc`, its grid drawn, in the dashboard's one style.
fn time_chart<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    x: std::ops::Range<i64>,
    y: std::ops::Range<f64>,
    y_desc: &str,
    y_labels: Option<usize>,
) -> Result<TimeChart<'a, 'b>, Box<dyn std::error::Error>> {
    let mut chart = ChartBuilder::on(area)
        .margin(8)
        .x_label_area_size(20)
        .y_label_area_size(56)
        .build_cartesian_2d(x, y)?;
    let label = |t: &i64| clock(*t);
    let mut mesh = chart.configure_mesh();
    mesh.x_labels(7)
        .x_label_formatter(&label)
        .y_desc(y_desc)
        .label_style(("sans-serif", 12))
        .axis_desc_style(("sans-serif", 12))
        .light_line_style(RGBColor(238, 241, 246))
        .max_light_lines(LIGHT_LINES);
    if let Some(count) = y_labels {
        mesh.y_labels(count);
    }
    mesh.draw()?;
    Ok(chart)
}

/// The `index`th entry of a line chart's legend on `key`: a stroke of `colour` and `name`.
fn legend_line(
    key: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    index: usize,
    name: &str,
    colour: RGBColor,
) -> Result<(), Box<dyn std::error::Error>> {
    let x = 64 + 160 * i32::try_from(index).unwrap_or(0);
    key.draw(&PathElement::new(
        vec![(x, 12), (x + 16, 12)],
        colour.stroke_width(2),
    ))?;
    key.draw(&Text::new(name, (x + 22, 6), ("sans-serif", 12).into_font()))?;
    Ok(())
}

/// What [`time_chart`] makes.
type TimeChart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordi64, plotters::coord::types::RangedCoordf64>,
>;

fn draw(buckets: &[LatencyBucket], from: i64, to: i64) -> Result<String, Box<dyn std::error::Error>> {
    let p95_max = buckets.iter().filter_map(|b| b.p95_ms).fold(0.0_f64, f64::max);
    let p50_min = buckets
        .iter()
        .filter_map(|b| b.p50_ms)
        .fold(f64::INFINITY, f64::min);
    let (low, high) = if p50_min.is_finite() {
        let pad = ((p95_max - p50_min) * 0.2).max(0.5);
        ((p50_min - pad).max(0.0), p95_max + pad)
    } else {
        (0.0, 1.0)
    };
    let loss_max = buckets.iter().map(|b| b.loss * 100.0).fold(1.0_f64, f64::max);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let (upper, lower) = root.split_vertically(210);
        // The legend has a line of its own above the plot: on the plot it hid the lines.
        let (key, upper) = upper.split_vertically(20);
        let mut latency = time_chart(&upper, from..to, low..high, "round trip, ms", None)?;
        let p50 = RGBColor(47, 111, 237);
        let p95 = RGBColor(181, 71, 8);
        latency.draw_series(LineSeries::new(
            buckets.iter().filter_map(|b| Some((b.start_ms, b.p50_ms?))),
            p50.stroke_width(2),
        ))?;
        latency.draw_series(LineSeries::new(
            buckets.iter().filter_map(|b| Some((b.start_ms, b.p95_ms?))),
            p95.stroke_width(2),
        ))?;
        for (i, (name, colour)) in [("median (P50)", p50), ("95th percentile", p95)]
            .into_iter()
            .enumerate()
        {
            legend_line(&key, i, name, colour)?;
        }
        let mut loss = time_chart(&lower, from..to, 0.0..loss_max, "loss, %", Some(2))?;
        let width = buckets
            .get(1)
            .map_or(60_000, |b| b.start_ms - buckets[0].start_ms);
        loss.draw_series(buckets.iter().map(|b| {
            Rectangle::new(
                [(b.start_ms, 0.0), (b.start_ms + width * 8 / 10, b.loss * 100.0)],
                RGBColor(196, 50, 10).filled(),
            )
        }))?;
        root.present()?;
    }
    Ok(svg)
}

/// The binary unit a chart whose largest value is `max` bytes is drawn in, as the rest of the
/// dashboard writes bytes (KiB, MiB, GiB, TiB).
fn byte_unit(max: u64) -> (f64, &'static str) {
    const KIB: u64 = 1024;
    match max {
        0..0x10_0000 => (1024.0, "KiB"),
        0x10_0000..0x4000_0000 => ((KIB * KIB) as f64, "MiB"),
        0x4000_0000..0x100_0000_0000 => ((KIB * KIB * KIB) as f64, "GiB"),
        _ => ((KIB * KIB * KIB * KIB) as f64, "TiB"),
    }
}

/// Palette for series, in the stylesheet's spirit; the text alternative names every series.
const SERIES: [RGBColor; 8] = [
    RGBColor(47, 111, 237),
    RGBColor(18, 161, 80),
    RGBColor(226, 154, 12),
    RGBColor(196, 50, 10),
    RGBColor(122, 90, 248),
    RGBColor(14, 147, 132),
    RGBColor(219, 39, 119),
    RGBColor(102, 112, 133),
];

/// The name of a column of `column_ms` of [`traffic_by_zone_svg`]: "day" or "hour".
pub fn traffic_column(column_ms: i64) -> &'static str {
    if column_ms >= 86_400_000 { "day" } else { "hour" }
}

/// Columns of traffic, each `column_ms` long (an hour or a day), stacked by the sending VM's
/// zone: `columns` is `(column start, zone, bytes)`. None when there is nothing to draw.
pub fn traffic_by_zone_svg(columns: &[(i64, String, u64)], column_ms: i64) -> Option<String> {
    draw_traffic_by_zone(columns, column_ms)
        .map_err(|error| tracing::warn!(error.detail = %error, "traffic chart failed to draw"))
        .ok()
        .flatten()
}

fn draw_traffic_by_zone(
    hourly: &[(i64, String, u64)],
    column: i64,
) -> Result<Option<String>, Box<dyn std::error::Error>> {
    let column = column.max(1);
    let column_name = traffic_column(column);
    let hourly: Vec<(i64, &str, u64)> = hourly
        .iter()
        .map(|(at, zone, bytes)| (*at, zone.as_str(), *bytes))
        .collect();
    let (Some(first), Some(last)) = (hourly.iter().map(|h| h.0).min(), hourly.iter().map(|h| h.0).max())
    else {
        return Ok(None);
    };
    let mut zones: Vec<&str> = hourly.iter().map(|h| h.1).collect();
    zones.sort_unstable();
    zones.dedup();
    let mut per_hour: std::collections::BTreeMap<i64, u64> = std::collections::BTreeMap::new();
    for (hour, _, bytes) in &hourly {
        *per_hour.entry(*hour).or_default() += bytes;
    }
    let max = per_hour.values().copied().max().unwrap_or(1).max(1);
    let (unit, unit_name) = byte_unit(max);
    #[expect(clippy::cast_precision_loss, reason = "a chart's scale")]
    let top = max as f64 / unit * 1.1;
    // The legend gets a band of its own under the plot: on the plot it hid bars.
    const PLOT: u32 = 280;
    const LEGEND_ITEM: u32 = 124;
    let per_row = (WIDTH - 16) / LEGEND_ITEM;
    let legend_rows = u32::try_from(zones.len()).unwrap_or(1).div_ceil(per_row);
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (WIDTH, PLOT + 8 + legend_rows * 20)).into_drawing_area();
        root.fill(&WHITE)?;
        let (plot, legend) = root.split_vertically(PLOT);
        let mut chart = ChartBuilder::on(&plot)
            .margin(8)
            .x_label_area_size(24)
            .y_label_area_size(72)
            .build_cartesian_2d(first..last + column, 0.0..top)?;
        // A day's date once, at its first label (the axis puts several labels in a day).
        let last_day = std::cell::RefCell::new(String::new());
        let label = |t: &i64| {
            let day = meridian_core::calendar::format_utc(*t);
            if column_name == "day" {
                let date = day[5..10].to_owned();
                if *last_day.borrow() == date {
                    return String::new();
                }
                last_day.replace(date.clone());
                date
            } else {
                format!("{} {}", &day[8..10], clock(*t))
            }
        };
        chart
            .configure_mesh()
            .x_labels(6)
            .x_label_formatter(&label)
            .y_label_formatter(&|v: &f64| {
                if top >= 10.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.1}")
                }
            })
            .y_desc(format!("{unit_name} per {column_name}"))
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 12))
            .light_line_style(RGBColor(238, 241, 246))
            .max_light_lines(LIGHT_LINES)
            .draw()?;
        let mut base: std::collections::BTreeMap<i64, f64> = std::collections::BTreeMap::new();
        for (index, zone) in zones.iter().enumerate() {
            let colour = SERIES[index % SERIES.len()];
            let bars: Vec<Rectangle<(i64, f64)>> = hourly
                .iter()
                .filter(|h| h.1 == *zone)
                .map(|(hour, _, bytes)| {
                    let below = base.entry(*hour).or_insert(0.0);
                    #[expect(clippy::cast_precision_loss, reason = "a chart's scale")]
                    let height = *bytes as f64 / unit;
                    let rect = Rectangle::new(
                        [
                            (*hour + column / 10, *below),
                            (*hour + column * 9 / 10, *below + height),
                        ],
                        colour.filled(),
                    );
                    *below += height;
                    rect
                })
                .collect();
            chart.draw_series(bars)?;
            let index = u32::try_from(index).unwrap_or(0);
            let x = i32::try_from(16 + (index % per_row) * LEGEND_ITEM).unwrap_or(0);
            let y = i32::try_from(4 + (index / per_row) * 20).unwrap_or(0);
            legend.draw(&Rectangle::new([(x, y + 3), (x + 10, y + 13)], colour.filled()))?;
            legend.draw(&Text::new(
                ellipsis(zone, 16),
                (x + 16, y + 2),
                ("sans-serif", 12).into_font(),
            ))?;
        }
        root.present()?;
    }
    Ok(Some(svg))
}

/// Horizontal bars of bytes per backbone link (`(label, bytes)`, busiest first; at most ten).
pub fn traffic_by_link_svg(links: &[(String, u64)]) -> Option<String> {
    draw_traffic_by_link(links)
        .map_err(|error| tracing::warn!(error.detail = %error, "link chart failed to draw"))
        .ok()
        .flatten()
}

/// The link chart's layout: a row per link, names in a column on the left, bars to the right
/// with their figure after them, the unit under the scale.
const LINK_ROW: u32 = 28;
const LINK_NAMES: u32 = 210;
const LINK_TOP: u32 = 8;
const LINK_AXIS: u32 = 40;

fn draw_traffic_by_link(links: &[(String, u64)]) -> Result<Option<String>, Box<dyn std::error::Error>> {
    let links: Vec<&(String, u64)> = links.iter().take(10).collect();
    let Some(max) = links.iter().map(|l| l.1).max().filter(|m| *m > 0) else {
        return Ok(None);
    };
    let (unit, unit_name) = byte_unit(max);
    let rows = u32::try_from(links.len()).unwrap_or(10);
    let height = LINK_TOP + LINK_ROW * rows + LINK_AXIS;
    // Room after the longest bar for its figure.
    let span = f64::from(WIDTH - LINK_NAMES - 90);
    #[expect(clippy::cast_precision_loss, reason = "a chart's scale")]
    let scale = |bytes: u64| bytes as f64 / max as f64 * span;
    let mut svg = format!(
        "<svg width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" xmlns=\"http://www.w3.org/2000/svg\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{height}\" fill=\"#FFFFFF\"/>\n"
    );
    let colour = SERIES[0];
    let fill = format!("#{:02X}{:02X}{:02X}", colour.0, colour.1, colour.2);
    for (row, (name, bytes)) in (0..rows).zip(&links) {
        let top = LINK_TOP + row * LINK_ROW;
        let middle = top + LINK_ROW / 2;
        #[expect(clippy::cast_precision_loss, reason = "a chart's figure")]
        let figure = *bytes as f64 / unit;
        // A link that carried a little still shows: never thinner than a pixel.
        let width = if *bytes > 0 { scale(*bytes).max(1.0) } else { 0.0 };
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{middle}\" text-anchor=\"end\" dominant-baseline=\"middle\">{}</text>\n\
             <rect class=\"bar\" x=\"{LINK_NAMES}\" y=\"{}\" width=\"{width:.1}\" height=\"{}\" fill=\"{fill}\"/>\n\
             <text x=\"{:.1}\" y=\"{middle}\" dominant-baseline=\"middle\">{figure:.1} {unit_name}</text>\n",
            LINK_NAMES - 8,
            crate::html::escape(&ellipsis(name, 30)),
            top + 5,
            LINK_ROW - 10,
            f64::from(LINK_NAMES) + width + 6.0,
        ));
    }
    let axis = LINK_TOP + rows * LINK_ROW;
    svg.push_str(&format!(
        "<line x1=\"{LINK_NAMES}\" y1=\"{axis}\" x2=\"{}\" y2=\"{axis}\" stroke=\"#D5DAE3\"/>\n\
         <text x=\"{LINK_NAMES}\" y=\"{}\">{unit_name} this month</text>\n</svg>\n",
        f64::from(LINK_NAMES) + span,
        axis + 24,
    ));
    Ok(Some(svg))
}

/// `text` cut to `max` characters with an ellipsis, so a long name never runs into the bars.
fn ellipsis(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max - 1).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_of_probes_draws_a_chart_whose_text_says_what_it_shows() {
        let start = 1_800_000_000_000;
        let samples: Vec<(i64, Option<f64>)> = (0..360)
            .map(|i| {
                (
                    start + i * 10_000,
                    if i % 100 == 7 {
                        None
                    } else {
                        Some(58.0 + f64::from(i32::try_from(i % 5).unwrap_or(0)))
                    },
                )
            })
            .collect();
        let figure = latency_chart(
            "London – New York".into(),
            &samples,
            start,
            start + 3_600_000,
            60_000,
        );
        let svg = figure.svg.expect("enough probes for a chart");
        assert!(
            svg.starts_with("<svg") && svg.contains("median (P50)"),
            "{svg:.200}"
        );
        assert_eq!(figure.rows.len(), 60);
        assert!(
            figure.summary.contains("median 60.0 ms")
                && figure.summary.contains("jitter ±1.6 ms")
                && figure.summary.contains("loss 1.1 % over 360 probes"),
            "{}",
            figure.summary
        );
        let empty = latency_chart("Quiet".into(), &[], start, start + 3_600_000, 60_000);
        assert!(empty.svg.is_none() && empty.summary.contains("no probes yet"));
    }

    #[test]
    fn labels_with_markup_stay_text_in_the_svg() {
        // The SVG goes into the page with inner_html: a label must never become an element.
        let label = "<script>alert(1)</script><meta http-equiv=\"refresh\">".to_owned();
        let svg = traffic_by_link_svg(&[(label.clone(), 5_000_000)]).expect("a chart");
        assert!(!svg.contains("<script") && !svg.contains("<meta"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"), "{svg}");
        let hourly = [(1_800_000_000_000, label.clone(), 1_000_000)];
        let svg = traffic_by_zone_svg(&hourly, 3_600_000).expect("a chart");
        assert!(!svg.contains("<script") && !svg.contains("<meta"), "{svg}");
        let samples: Vec<(i64, Option<f64>)> = (0..60)
            .map(|i| (1_800_000_000_000 + i * 60_000, Some(5.0)))
            .collect();
        let figure = latency_chart(label, &samples, 1_800_000_000_000, 1_800_003_600_000, 60_000);
        let svg = figure.svg.expect("a chart");
        assert!(!svg.contains("<script") && !svg.contains("<meta"), "{svg}");
    }

    /// The `(y, height, width)` of every bar of a link chart.
    fn bars(svg: &str) -> Vec<(f64, f64, f64)> {
        let attr = |tag: &str, name: &str| -> f64 {
            let at = tag.find(&format!(" {name}=\"")).expect(name) + name.len() + 3;
            tag[at..].split('"').next().unwrap().parse().unwrap()
        };
        svg.split("<rect class=\"bar\"")
            .skip(1)
            .map(|tag| (attr(tag, "y"), attr(tag, "height"), attr(tag, "width")))
            .collect()
    }

    #[test]
    fn link_bars_sit_one_per_row_at_one_height_in_proportion_whatever_the_names() {
        // Many links (only the busiest ten are drawn), one of them idle, one with a long name.
        let mut links: Vec<(String, u64)> = (0..12)
            .map(|i| (format!("Link {i}"), 1_000_000_000 - i * 80_000_000))
            .collect();
        links[3].0 = "Los Angeles – Hong Kong by the longest name there could be".to_owned();
        links[9].1 = 0;
        let svg = traffic_by_link_svg(&links).expect("a chart");
        let drawn = bars(&svg);
        assert_eq!(drawn.len(), 10, "ten rows, no empty one");
        for (row, (y, height, _)) in drawn.iter().enumerate() {
            assert_eq!(*height, f64::from(LINK_ROW - 10), "one height");
            assert_eq!(
                *y,
                f64::from(LINK_TOP + LINK_ROW * row as u32 + 5),
                "row {row} aligned"
            );
        }
        // Widths follow the bytes; the idle link has no bar; the busiest fills the span.
        assert!(drawn.windows(2).take(8).all(|w| w[0].2 > w[1].2), "{drawn:?}");
        assert_eq!(drawn[9].2, 0.0);
        assert!((drawn[0].2 - f64::from(WIDTH - LINK_NAMES - 90)).abs() < 0.1);
        // The long name is cut, and the unit is binary, like the rest of the dashboard.
        assert!(svg.contains("Los Angeles – Hong Kong by th…"), "{svg}");
        assert!(svg.contains("MiB this month") && !svg.contains("MB "), "{svg}");
        // One link alone: one bar, the whole span.
        let one = bars(&traffic_by_link_svg(&[("Only".into(), 5)]).unwrap());
        assert_eq!(one.len(), 1);
        assert!(one[0].2 > 100.0);
        // Nothing carried: nothing to draw.
        assert!(traffic_by_link_svg(&[("Idle".into(), 0)]).is_none());
        assert!(traffic_by_link_svg(&[]).is_none());
    }

    #[test]
    fn day_columns_are_drawn_a_day_wide_and_say_so() {
        let day = 1_800_000_000_000 - 1_800_000_000_000 % 86_400_000;
        let columns: Vec<(i64, String, u64)> = (0..30)
            .flat_map(|d| ["lon1", "fra1"].map(|z| (day + d * 86_400_000, z.to_owned(), 1 << 30)))
            .collect();
        let svg = traffic_by_zone_svg(&columns, 86_400_000).expect("a chart");
        assert!(svg.contains("per day"));
        // Dates on the axis, each once.
        let first = &meridian_core::calendar::format_utc(day)[5..10];
        assert!(svg.contains(first), "the first day named");
        let dates: Vec<&str> = svg
            .split(">\n")
            .filter_map(|text| text.split('\n').next())
            .filter(|text| text.len() == 5 && text.as_bytes()[2] == b'-')
            .collect();
        assert!(dates.len() >= 3, "dates on the axis: {dates:?}");
        let mut unique = dates.clone();
        unique.dedup();
        assert_eq!(unique, dates, "each date once");
        // One bar a column and zone, and a day's bar is wider than an hour's would be.
        let widths = |svg: &str| -> Vec<f64> {
            svg.split("<rect")
                .skip(1)
                .filter_map(|r| r.split("width=\"").nth(1)?.split('"').next()?.parse().ok())
                .collect()
        };
        let bars = widths(&svg)
            .into_iter()
            .filter(|w| *w > 12.0 && *w < 100.0)
            .count();
        assert_eq!(bars, 60, "30 days × 2 zones");
        assert_eq!(traffic_column(86_400_000), "day");
        assert_eq!(traffic_column(3_600_000), "hour");
        let hours = traffic_by_zone_svg(&columns[..2], 3_600_000).expect("a chart");
        assert!(hours.contains("per hour"));
    }

    #[test]
    fn the_zone_legend_sits_under_the_plot_and_names_every_zone() {
        let hour = 1_800_000_000_000;
        let zones = ["lon1", "fra1", "nyc1", "hkg1", "sin1", "lax1", "ber1", "ams1"];
        let hourly: Vec<(i64, String, u64)> = (0..48)
            .flat_map(|h| {
                zones
                    .iter()
                    .map(move |z| (hour + h * 3_600_000, (*z).to_owned(), 3 << 30))
            })
            .collect();
        let svg = traffic_by_zone_svg(&hourly, 3_600_000).expect("a chart");
        for zone in zones {
            // plotters writes a text's content on a line of its own.
            let at = svg
                .find(&format!(">\n{zone}\n</text>"))
                .unwrap_or_else(|| panic!("{zone} named"));
            let tag = &svg[svg[..at].rfind("<text").unwrap()..at];
            let y: f64 = tag
                .split("y=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert!(y > 280.0, "{zone}'s legend entry is under the plot: {tag}");
        }
        assert!(svg.contains("GiB per hour"), "binary units");
        // One value alone still draws.
        assert!(traffic_by_zone_svg(&[(hour, "lon1".into(), 1)], 3_600_000).is_some());
        assert!(traffic_by_zone_svg(&[], 3_600_000).is_none());
    }

    #[test]
    fn unknown_windows_and_edges_are_refused() {
        assert!(window("week").is_err());
        assert_eq!(edge_title("lon1-nyc1").as_deref(), Some("London – New York"));
        assert_eq!(edge_title("lon1-hkg1"), None, "no direct link");
    }
}

/// A VM's graphs: CPU, and network in and out, over its window, with a summary and the figures.
pub fn vm_metrics_figure(metrics: &meridian_core::view::VmMetrics) -> crate::api::vm::VmMetricsFigure {
    use crate::pages::overview::format_bytes;
    let points = &metrics.points;
    let simulated = if metrics.simulated { " (simulated)" } else { "" };
    let per_what = if metrics.window == "day" { "hour" } else { "minute" };
    let summary = if points.is_empty() {
        format!(
            "No figures yet{simulated}: the VM has not run in this window, or has only just started (a figure a minute)."
        )
    } else {
        let seconds: u64 = points.iter().map(|p| u64::from(p.seconds)).sum();
        let weighted = |f: &dyn Fn(&meridian_core::view::VmMetricPoint) -> u64| {
            points.iter().map(|p| f(p) * u64::from(p.seconds)).sum::<u64>() / seconds.max(1)
        };
        let cpu = weighted(&|p| u64::from(p.cpu_permille));
        let peak = points.iter().map(|p| p.cpu_permille).max().unwrap_or(0);
        format!(
            "CPU{simulated} averaged {} and peaked at {} over {} {per_what}s it ran; it received {}/s and sent {}/s on average.",
            percent(cpu),
            percent(u64::from(peak)),
            points.len(),
            format_bytes(weighted(&|p| p.received_bytes_per_second)),
            format_bytes(weighted(&|p| p.sent_bytes_per_second)),
        )
    };
    let rows = points
        .iter()
        .map(|p| crate::api::vm::VmMetricRow {
            period: format!("{} UTC", clock(p.start_ms)),
            cpu: percent(u64::from(p.cpu_permille)),
            received: format!("{}/s", format_bytes(p.received_bytes_per_second)),
            sent: format!("{}/s", format_bytes(p.sent_bytes_per_second)),
        })
        .collect();
    let drawn = |what: &str, drawing: Result<String, Box<dyn std::error::Error>>| {
        drawing
            .map_err(|error| tracing::warn!(error.detail = %error, chart = what, "VM chart failed to draw"))
            .ok()
    };
    let (cpu_svg, network_svg) = if points.is_empty() {
        (None, None)
    } else {
        (
            drawn("cpu", draw_vm_cpu(metrics)),
            drawn("network", draw_vm_network(metrics)),
        )
    };
    crate::api::vm::VmMetricsFigure {
        window: metrics.window.clone(),
        simulated: metrics.simulated,
        summary,
        cpu_svg,
        network_svg,
        rows,
    }
}

/// "23.4 %" from thousandths.
fn percent(permille: u64) -> String {
    format!("{}.{} %", permille / 10, permille % 10)
}

const VM_CHART_HEIGHT: u32 = 200;

/// One of a point's figures.
type PointValue = fn(&meridian_core::view::VmMetricPoint) -> u64;

fn draw_vm_cpu(metrics: &meridian_core::view::VmMetrics) -> Result<String, Box<dyn std::error::Error>> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, VM_CHART_HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = time_chart(
            &root,
            metrics.from_ms..metrics.to_ms,
            0.0..100.0,
            "CPU, %",
            Some(5),
        )?;
        let points = metrics
            .points
            .iter()
            .map(|p| (p.start_ms, f64::from(p.cpu_permille) / 10.0));
        chart.draw_series(LineSeries::new(points.clone(), SERIES[0].stroke_width(2)))?;
        chart.draw_series(points.map(|xy| Circle::new(xy, 2, SERIES[0].filled())))?;
        root.present()?;
    }
    Ok(svg)
}

fn draw_vm_network(metrics: &meridian_core::view::VmMetrics) -> Result<String, Box<dyn std::error::Error>> {
    let max = metrics
        .points
        .iter()
        .map(|p| p.received_bytes_per_second.max(p.sent_bytes_per_second))
        .max()
        .unwrap_or(0)
        .max(1);
    let (unit, unit_name) = byte_unit(max);
    #[expect(clippy::cast_precision_loss, reason = "a chart's scale")]
    let scaled = |bytes: u64| bytes as f64 / unit;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, VM_CHART_HEIGHT + 20)).into_drawing_area();
        root.fill(&WHITE)?;
        let (key, plot) = root.split_vertically(20);
        let mut chart = time_chart(
            &plot,
            metrics.from_ms..metrics.to_ms,
            0.0..scaled(max) * 1.1,
            &format!("{unit_name}/s"),
            Some(5),
        )?;
        let series: [(&str, RGBColor, PointValue); 2] = [
            ("received (in)", SERIES[1], |p| p.received_bytes_per_second),
            ("sent (out)", SERIES[2], |p| p.sent_bytes_per_second),
        ];
        for (i, (name, colour, value)) in series.into_iter().enumerate() {
            let points = metrics.points.iter().map(|p| (p.start_ms, scaled(value(p))));
            chart.draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?;
            chart.draw_series(points.map(|xy| Circle::new(xy, 2, colour.filled())))?;
            legend_line(&key, i, name, colour)?;
        }
        root.present()?;
    }
    Ok(svg)
}

/// A scaling group's desired size over the last day, as steps, with a sentence saying how it
/// went; no chart before it has a history.
pub fn group_size_chart(
    detail: &meridian_core::view::ScalingGroupDetail,
    now: i64,
) -> (Option<String>, String) {
    const DAY: i64 = 86_400_000;
    let from = now - DAY;
    let events = &detail.events;
    let Some(first) = events.first() else {
        return (None, "No history yet.".to_owned());
    };
    // The size as the window opens, then every change in it.
    let opening = events
        .iter()
        .rev()
        .find(|e| e.at <= from)
        .map_or(first.size, |e| e.size);
    let mut steps: Vec<(i64, u32)> = vec![(from.max(first.at), opening)];
    for event in events.iter().filter(|e| e.at > from) {
        steps.push((event.at, event.size));
    }
    steps.push((now, detail.group.desired));
    let low = steps.iter().map(|s| s.1).min().unwrap_or(0);
    let high = steps.iter().map(|s| s.1).max().unwrap_or(0);
    let changes = events
        .iter()
        .filter(|e| e.at > from && e.message.starts_with("Scaled"))
        .count();
    let summary = format!(
        "Desired size over the last day: between {low} and {high} members, now {}; {changes} scaling decision{} in the day.",
        detail.group.desired,
        if changes == 1 { "" } else { "s" }
    );
    // At least the last hour, so a young group's minutes do not fill the whole width.
    let start = (first.at - 60_000).max(from).min(now - 3_600_000);
    let svg = draw_group_size(&steps, start, now, detail.group.max)
        .map_err(|error| tracing::warn!(error.detail = %error, "group size chart failed to draw"))
        .ok();
    (svg, summary)
}

fn draw_group_size(
    steps: &[(i64, u32)],
    from: i64,
    to: i64,
    max: u32,
) -> Result<String, Box<dyn std::error::Error>> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, VM_CHART_HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = time_chart(&root, from..to, 0.0..f64::from(max) + 1.0, "members", None)?;
        // Each size holds until the next change.
        let mut line: Vec<(i64, f64)> = Vec::new();
        for pair in steps.windows(2) {
            line.push((pair[0].0, f64::from(pair[0].1)));
            line.push((pair[1].0, f64::from(pair[0].1)));
        }
        if let Some(last) = steps.last() {
            line.push((last.0, f64::from(last.1)));
        }
        chart.draw_series(LineSeries::new(line, SERIES[0].stroke_width(2)))?;
        root.present()?;
    }
    Ok(svg)
}
