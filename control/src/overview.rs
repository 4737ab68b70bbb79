//! The tenant overview: resources by zone, this month's spend and bandwidth, recent activity.

use crate::context::OpContext;
use crate::metering::usage_records;
use crate::store::job::JobEvent;
use crate::store::now_ms;
use crate::{Control, Error};
use meridian_core::calendar::month_bounds;
use meridian_core::pricing::{Invoice, Money};
use std::collections::BTreeMap;

/// What the overview page shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overview {
    /// Per zone: `(zone, VDC count, VM count per state)`.
    pub zones: Vec<(String, usize, BTreeMap<String, usize>)>,
    /// Charges so far this month.
    pub spend_month_to_date: Money,
    /// Month-to-date spend and the rest of the month as the tenant's VMs stand now (the billing
    /// page's projection).
    pub spend_projected: Money,
    /// Bytes sent this month: private backbone, internet.
    pub bandwidth_bytes: (u64, u64),
    /// The outcomes of recent jobs (a last step done or a step failed) with the job kind and the
    /// VM's name.
    pub events: Vec<(JobEvent, String, String)>,
}

impl Control {
    /// The signed-in tenant at a glance.
    pub async fn overview(&self, ctx: &OpContext) -> Result<Overview, Error> {
        let vdcs = self.vdc_list(ctx).await?;
        let tenant = ctx.tenant()?.to_string();
        let mut zones: BTreeMap<String, (usize, BTreeMap<String, usize>)> = BTreeMap::new();
        for vdc in &vdcs {
            zones.entry(vdc.zone.clone()).or_default().0 += 1;
        }
        for (zone, state, count) in self.store.vm_counts(&tenant).await? {
            *zones.entry(zone).or_default().1.entry(state).or_default() +=
                usize::try_from(count).unwrap_or(0);
        }
        let now = now_ms();
        let (month_start, month_end) = month_bounds(now);
        let rows = self.usage_totals(ctx, month_start, month_end).await?;
        let invoice = Invoice::from_records(&usage_records(&rows)?).map_err(Error::internal)?;
        let bytes = |kind: &str| {
            rows.iter()
                .filter(|r| r.kind == kind)
                .map(|r| u64::try_from(r.quantity).unwrap_or(0))
                .sum()
        };
        // What people did and what came of it: each job's outcome (its last step done, or the
        // step that failed), not every step along the way.
        let events = self
            .events_recent(ctx, 64)
            .await?
            .into_iter()
            .filter(|recent| {
                recent.event.status == "failed"
                    || meridian_core::job::JobKind::parse(&recent.kind)
                        .and_then(|kind| kind.steps().last())
                        .is_some_and(|last| {
                            recent.event.status == "done" && recent.event.step == last.as_str()
                        })
            })
            .take(8)
            .map(|recent| {
                let name = recent.vm_name.unwrap_or_else(|| "a deleted VM".to_owned());
                (recent.event, recent.kind, name)
            })
            .collect();
        Ok(Overview {
            zones: zones
                .into_iter()
                .map(|(zone, (vdcs, states))| (zone, vdcs, states))
                .collect(),
            spend_month_to_date: invoice.total(),
            spend_projected: self.projection(&tenant, invoice.total(), now, month_end).await?,
            bandwidth_bytes: (bytes("bytes_backbone"), bytes("bytes_internet")),
            events,
        })
    }
}
