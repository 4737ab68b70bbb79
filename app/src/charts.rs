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

const WIDTH: u32 = 760;
const HEIGHT: u32 = 300;

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
        let label = |t: &i64| clock(*t);
        let mut latency = ChartBuilder::on(&upper)
            .margin(8)
            .x_label_area_size(20)
            .y_label_area_size(56)
            .build_cartesian_2d(from..to, low..high)?;
        latency
            .configure_mesh()
            .x_labels(7)
            .x_label_formatter(&label)
            .y_desc("round trip, ms")
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 12))
            .light_line_style(RGBColor(238, 241, 246))
            .draw()?;
        let p50 = RGBColor(47, 111, 237);
        let p95 = RGBColor(181, 71, 8);
        latency
            .draw_series(LineSeries::new(
                buckets.iter().filter_map(|b| Some((b.start_ms, b.p50_ms?))),
                p50.stroke_width(2),
            ))?
            .label("median (P50)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], p50.stroke_width(2)));
        latency
            .draw_series(LineSeries::new(
                buckets.iter().filter_map(|b| Some((b.start_ms, b.p95_ms?))),
                p95.stroke_width(2),
            ))?
            .label("95th percentile")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], p95.stroke_width(2)));
        latency
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(213, 218, 227))
            .draw()?;
        let mut loss = ChartBuilder::on(&lower)
            .margin(8)
            .x_label_area_size(20)
            .y_label_area_size(56)
            .build_cartesian_2d(from..to, 0.0..loss_max)?;
        loss.configure_mesh()
            .x_labels(7)
            .x_label_formatter(&label)
            .y_labels(2)
            .y_desc("loss, %")
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 12))
            .light_line_style(RGBColor(238, 241, 246))
            .draw()?;
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

/// Decimal byte units for an axis: the divisor and its name for values up to `max` bytes.
fn byte_unit(max: u64) -> (f64, &'static str) {
    match max {
        0..1_000_000 => (1e3, "kB"),
        1_000_000..1_000_000_000 => (1e6, "MB"),
        1_000_000_000..1_000_000_000_000 => (1e9, "GB"),
        _ => (1e12, "TB"),
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

/// Columns of traffic per hour, stacked by the sending VM's zone: `hourly` is `(hour start,
/// zone, bytes)`. None when there is nothing to draw.
pub fn traffic_by_zone_svg(hourly: &[(i64, String, u64)]) -> Option<String> {
    draw_traffic_by_zone(hourly)
        .map_err(|error| tracing::warn!(error.detail = %error, "traffic chart failed to draw"))
        .ok()
        .flatten()
}

fn draw_traffic_by_zone(hourly: &[(i64, String, u64)]) -> Result<Option<String>, Box<dyn std::error::Error>> {
    const HOUR: i64 = 3_600_000;
    let (Some(first), Some(last)) = (hourly.iter().map(|h| h.0).min(), hourly.iter().map(|h| h.0).max())
    else {
        return Ok(None);
    };
    let mut zones: Vec<&str> = hourly.iter().map(|h| h.1.as_str()).collect();
    zones.sort_unstable();
    zones.dedup();
    let mut per_hour: std::collections::BTreeMap<i64, u64> = std::collections::BTreeMap::new();
    for (hour, _, bytes) in hourly {
        *per_hour.entry(*hour).or_default() += bytes;
    }
    let max = per_hour.values().copied().max().unwrap_or(1).max(1);
    let (unit, unit_name) = byte_unit(max);
    #[expect(clippy::cast_precision_loss, reason = "a chart's scale")]
    let top = max as f64 / unit * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 280)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(24)
            .y_label_area_size(56)
            .build_cartesian_2d(first..last + HOUR, 0.0..top)?;
        let label = |t: &i64| {
            let day = meridian_core::calendar::format_utc(*t);
            format!("{} {}", &day[8..10], clock(*t))
        };
        chart
            .configure_mesh()
            .x_labels(6)
            .x_label_formatter(&label)
            .y_desc(format!("{unit_name} per hour"))
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 12))
            .light_line_style(RGBColor(238, 241, 246))
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
                            (*hour + HOUR / 10, *below),
                            (*hour + HOUR * 9 / 10, *below + height),
                        ],
                        colour.filled(),
                    );
                    *below += height;
                    rect
                })
                .collect();
            chart
                .draw_series(bars)?
                .label(zone.to_string())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(213, 218, 227))
            .draw()?;
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

fn draw_traffic_by_link(links: &[(String, u64)]) -> Result<Option<String>, Box<dyn std::error::Error>> {
    let links: Vec<&(String, u64)> = links.iter().take(10).collect();
    let Some(max) = links.iter().map(|l| l.1).max().filter(|m| *m > 0) else {
        return Ok(None);
    };
    let (unit, unit_name) = byte_unit(max);
    #[expect(clippy::cast_precision_loss, reason = "a chart's scale")]
    let top = max as f64 / unit * 1.15;
    let rows = i32::try_from(links.len()).unwrap_or(10);
    let height = 40 + 28 * u32::try_from(rows).unwrap_or(10);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let names: Vec<String> = links.iter().map(|l| l.0.clone()).collect();
        let label = move |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => usize::try_from(*i)
                .ok()
                .and_then(|i| names.get(i).cloned())
                .unwrap_or_default(),
            SegmentValue::Last => String::new(),
        };
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(24)
            .y_label_area_size(190)
            .build_cartesian_2d(0.0..top, (0..rows).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(links.len())
            .y_label_formatter(&label)
            .x_desc(format!("{unit_name} this month"))
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 12))
            .light_line_style(RGBColor(238, 241, 246))
            .draw()?;
        chart.draw_series(links.iter().enumerate().map(|(i, (_, bytes))| {
            let row = i32::try_from(i).unwrap_or(0);
            #[expect(clippy::cast_precision_loss, reason = "a chart's scale")]
            let width = *bytes as f64 / unit;
            Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(row)),
                    (width, SegmentValue::Exact(row + 1)),
                ],
                SERIES[0].mix(0.85).filled(),
            )
        }))?;
        root.present()?;
    }
    Ok(Some(svg))
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
        let svg = traffic_by_zone_svg(&hourly).expect("a chart");
        assert!(!svg.contains("<script") && !svg.contains("<meta"), "{svg}");
        let samples: Vec<(i64, Option<f64>)> = (0..60)
            .map(|i| (1_800_000_000_000 + i * 60_000, Some(5.0)))
            .collect();
        let figure = latency_chart(label, &samples, 1_800_000_000_000, 1_800_003_600_000, 60_000);
        let svg = figure.svg.expect("a chart");
        assert!(!svg.contains("<script") && !svg.contains("<meta"), "{svg}");
    }

    #[test]
    fn unknown_windows_and_edges_are_refused() {
        assert!(window("week").is_err());
        assert_eq!(edge_title("lon1-nyc1").as_deref(), Some("London – New York"));
        assert_eq!(edge_title("lon1-hkg1"), None, "no direct link");
    }
}
