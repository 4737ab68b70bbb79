//! A VM's graphs: its CPU and network over the last hour or day, from the samples the meter
//! records (`store::vm_sample`).

use crate::context::OpContext;
use crate::store::now_ms;
use crate::store::vm_sample::{SampleSpan, VmSampleRow};
use crate::{Control, Error};
use meridian_core::id::VmId;
use meridian_core::view::{VmMetricPoint, VmMetrics};

/// Which window a VM's graphs cover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricWindow {
    /// The last hour, a point a minute.
    Hour,
    /// The last day, a point an hour.
    Day,
}

impl MetricWindow {
    /// `hour` or `day`; anything else is refused on field `window`.
    pub fn parse(text: &str) -> Result<Self, Error> {
        match text {
            "hour" => Ok(MetricWindow::Hour),
            "day" => Ok(MetricWindow::Day),
            _ => Err(Error::field("window", "Choose the last hour or the last day.")),
        }
    }

    /// Its name, as [`MetricWindow::parse`] reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricWindow::Hour => "hour",
            MetricWindow::Day => "day",
        }
    }

    fn span(self) -> SampleSpan {
        match self {
            MetricWindow::Hour => SampleSpan::Minute,
            MetricWindow::Day => SampleSpan::Hour,
        }
    }
}

impl Control {
    /// VM `vm_id`'s CPU and network over `window`: one point per minute (or hour) it ran.
    pub async fn vm_metrics(
        &self,
        ctx: &OpContext,
        vm_id: VmId,
        window: MetricWindow,
    ) -> Result<VmMetrics, Error> {
        let vm = self.vm_row(ctx, &vm_id.to_string()).await?;
        let now = now_ms();
        let span = window.span();
        // The ring's periods: the one now shares its slot with the one `slots` before it, so at
        // most one of the two is held.
        let from = (now.div_euclid(span.period_ms()) - span.slots()) * span.period_ms();
        let rows = self.store.vm_samples(&vm.id, span, from).await?;
        Ok(VmMetrics {
            window: window.as_str().to_owned(),
            simulated: self.driver.is_simulated(),
            from_ms: from,
            to_ms: now,
            points: rows.iter().filter_map(point).collect(),
        })
    }
}

/// A sample as a point: CPU as a share of what the vCPUs could do (at most all of it: a real
/// VM's process also spends time on its devices), bytes as rates over the seconds it ran.
fn point(row: &VmSampleRow) -> Option<VmMetricPoint> {
    let seconds = u64::try_from(row.seconds).ok().filter(|s| *s > 0)?;
    let per_second = |bytes: i64| u64::try_from(bytes).unwrap_or(0) / seconds;
    let cpu_permille = match u64::try_from(row.capacity_ms) {
        Ok(capacity) if capacity > 0 => {
            (u64::try_from(row.cpu_ms).unwrap_or(0).saturating_mul(1000) / capacity).min(1000)
        }
        _ => 0,
    };
    Some(VmMetricPoint {
        start_ms: row.start_ms,
        seconds: u32::try_from(seconds).unwrap_or(u32::MAX),
        cpu_permille: u32::try_from(cpu_permille).unwrap_or(1000),
        received_bytes_per_second: per_second(row.received),
        sent_bytes_per_second: per_second(row.sent),
    })
}
