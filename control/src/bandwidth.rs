//! Bandwidth: the month's traffic by zone, link and VM (metered, never charged), the fair-use
//! allowance, rate caps, allowance alerts, and what the traffic would cost elsewhere.

use crate::context::OpContext;
use crate::store::meter::DAY_MS;
use crate::store::now_ms;
use crate::{Control, Error};
use meridian_core::TenantId;
use meridian_core::bandwidth::{
    Alert, Cap, CapScope, EGRESS_MODELS, EgressModel, FAIR_USE_BYTES_PER_MONTH, MonthTraffic,
    allowance_used_pct,
};
use meridian_core::calendar::{month_bounds, month_label};
use meridian_core::pricing::Money;
use std::collections::{BTreeMap, BTreeSet};

/// One VM's traffic this month.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmTraffic {
    /// VM id.
    pub id: String,
    /// Its name, or None when the VM is gone.
    pub name: Option<String>,
    /// Its zone.
    pub zone: String,
    /// Bytes to the tenant's other zones.
    pub backbone: u64,
    /// Bytes to and from the internet.
    pub internet: u64,
}

/// The bandwidth page's data.
#[derive(Clone, Debug, PartialEq)]
pub struct BandwidthView {
    /// "2026-11".
    pub month: String,
    /// Whether the traffic was counted on real packets (host agents) rather than simulated.
    pub measured: bool,
    /// Backbone bytes this month.
    pub backbone: u64,
    /// Internet bytes this month.
    pub internet: u64,
    /// The fair-use allowance, in bytes.
    pub allowance: u64,
    /// Share of it used, in percent.
    pub used_pct: u32,
    /// Per column of `column_ms` and zone (of the sending VM): `(column start, zone, bytes)`.
    pub hourly: Vec<(i64, String, u64)>,
    /// How long a column of `hourly` is: an hour in a month's first three days, else a day (a
    /// month of hours in 16 zones is 11,000 figures, too many to read or chart).
    pub column_ms: i64,
    /// Per backbone link: `(edge key, bytes)`, busiest first.
    pub edges: Vec<(String, u64)>,
    /// Per VM, busiest first.
    pub vms: Vec<VmTraffic>,
    /// The tenant's rate caps.
    pub caps: Vec<Cap>,
    /// Names of the tenant's VMs by id (for caps on VMs without traffic yet).
    pub vm_names: BTreeMap<String, String>,
    /// The tenant's alert, if set.
    pub alert: Option<Alert>,
    /// The same traffic priced by other clouds' published models.
    pub elsewhere: Vec<(EgressModel, Money)>,
}

impl Control {
    /// The month holding `now`: traffic, allowance, caps and alert.
    pub async fn bandwidth_view(&self, ctx: &OpContext, now: i64) -> Result<BandwidthView, Error> {
        let tenant = ctx.tenant()?;
        let tenant = tenant.to_string();
        let (start, end) = month_bounds(now);
        // The month's sums per VM and edge, and per hour and zone: neither grows with the hours
        // gone by.
        let rows = self.store.usage_month_by_resource(&tenant, start).await?;
        let column_ms = if now - start > 3 * DAY_MS {
            DAY_MS
        } else {
            crate::metering::HOUR_MS
        };
        let hourly = self.store.traffic_by_zone(&tenant, start, end, column_ms).await?;
        let names: BTreeMap<String, String> = self
            .store
            .vm_list(&tenant)
            .await?
            .into_iter()
            .map(|vm| (vm.id, vm.name))
            .collect();
        let mut edges: BTreeMap<String, u64> = BTreeMap::new();
        let mut vms: BTreeMap<String, VmTraffic> = BTreeMap::new();
        let mut ran = BTreeSet::new();
        let (mut backbone, mut internet) = (0_u64, 0_u64);
        for row in rows {
            let bytes = u64::try_from(row.quantity).unwrap_or(0);
            match row.kind.as_str() {
                "vm_seconds" => {
                    ran.insert(row.resource_id);
                }
                "bytes_edge" => *edges.entry(row.resource_id).or_default() += bytes,
                kind @ ("bytes_backbone" | "bytes_internet") => {
                    let vm = vms.entry(row.resource_id.clone()).or_insert_with(|| VmTraffic {
                        name: names.get(&row.resource_id).cloned(),
                        id: row.resource_id,
                        zone: row.zone,
                        backbone: 0,
                        internet: 0,
                    });
                    if kind == "bytes_backbone" {
                        vm.backbone += bytes;
                        backbone += bytes;
                    } else {
                        vm.internet += bytes;
                        internet += bytes;
                    }
                }
                _ => {}
            }
        }
        let mut edges: Vec<(String, u64)> = edges.into_iter().collect();
        edges.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut vms: Vec<VmTraffic> = vms.into_values().collect();
        vms.sort_by(|a, b| {
            (b.backbone + b.internet)
                .cmp(&(a.backbone + a.internet))
                .then_with(|| a.id.cmp(&b.id))
        });
        let traffic = MonthTraffic {
            backbone,
            internet,
            vms: u32::try_from(ran.len()).unwrap_or(u32::MAX),
        };
        Ok(BandwidthView {
            month: month_label(start),
            measured: !self.driver.is_simulated(),
            backbone,
            internet,
            allowance: FAIR_USE_BYTES_PER_MONTH,
            used_pct: allowance_used_pct(backbone + internet),
            hourly: hourly
                .into_iter()
                .map(|(hour, zone, bytes)| (hour, zone, u64::try_from(bytes).unwrap_or(0)))
                .collect(),
            column_ms,
            edges,
            vms,
            caps: self.store.cap_list(&tenant).await?,
            vm_names: names,
            alert: self.store.alert_get(&tenant).await?,
            elsewhere: EGRESS_MODELS.iter().map(|m| (*m, m.cost(traffic))).collect(),
        })
    }

    /// Sets a rate cap on one of the tenant's VMs or on a zone pair.
    pub async fn bandwidth_cap_set(&self, ctx: &OpContext, scope: CapScope, mbps: u32) -> Result<(), Error> {
        let (kind, target) = scope.key();
        let work = async {
            let tenant = ctx.tenant_for_mutation()?;
            if let CapScope::Vm(id) = &scope {
                self.store.vm_get(&tenant, id).await?.ok_or(Error::NotFound)?;
            }
            let cap = Cap {
                scope: kind.to_owned(),
                target: target.clone(),
                mbps: i64::from(mbps),
            };
            Ok(self.store.cap_set(&tenant, &cap, now_ms()).await?)
        };
        self.audited(
            ctx,
            "bandwidth.cap_set",
            &format!("{kind} {target}: {mbps} Mb/s"),
            work,
        )
        .await
        .inspect(|()| self.network_apply(ctx))
    }

    /// Removes a rate cap.
    pub async fn bandwidth_cap_remove(&self, ctx: &OpContext, scope: CapScope) -> Result<(), Error> {
        let (kind, target) = scope.key();
        let work = async {
            let tenant = ctx.tenant_for_mutation()?;
            if self.store.cap_delete(&tenant, kind, &target).await? {
                Ok(())
            } else {
                Err(Error::NotFound)
            }
        };
        self.audited(ctx, "bandwidth.cap_remove", &format!("{kind} {target}"), work)
            .await
            .inspect(|()| self.network_apply(ctx))
    }

    /// Sets (or with None removes) the alert at a share of the allowance.
    pub async fn bandwidth_alert_set(&self, ctx: &OpContext, threshold_pct: Option<u8>) -> Result<(), Error> {
        let target = threshold_pct.map_or_else(|| "off".to_owned(), |pct| format!("{pct} %"));
        let work = async {
            let tenant = ctx.tenant_for_mutation()?;
            Ok(self
                .store
                .alert_set(&tenant, threshold_pct.map(i64::from))
                .await?)
        };
        self.audited(ctx, "bandwidth.alert_set", &target, work).await
    }

    /// Fires the allowance alerts that are due as of `now`, once a month each, into the tenant's
    /// audit log (where the page and the team see it). Returns how many fired.
    pub async fn bandwidth_alerts_check(&self, now: i64) -> Result<usize, Error> {
        let (start, end) = month_bounds(now);
        let month = month_label(start);
        let mut fired = 0;
        for (tenant, threshold) in self.store.alert_pending(&month).await? {
            let used: u64 = self
                .store
                .usage_totals(&tenant, start, end)
                .await?
                .iter()
                .filter(|row| matches!(row.kind.as_str(), "bytes_backbone" | "bytes_internet"))
                .map(|row| u64::try_from(row.quantity).unwrap_or(0))
                .sum();
            let pct = allowance_used_pct(used);
            if i64::from(pct) < threshold || !self.store.alert_fire(&tenant, &month, now).await? {
                continue;
            }
            fired += 1;
            let tenant_id = TenantId(tenant.parse().map_err(Error::internal)?);
            let system = OpContext::anonymous("bandwidth-alert");
            self.audit_record(
                &system,
                tenant_id,
                "bandwidth.alert",
                &format!("{pct} % of the allowance used (alert at {threshold} %)"),
                None,
            )
            .await;
        }
        Ok(fired)
    }
}
