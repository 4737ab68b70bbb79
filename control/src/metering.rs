//! Metering: usage written as time passes and rolled up per hour, and rating it into invoices.
//!
//! A VM's usage is metered up to `metered_until` (always a whole second). Every state change meters
//! the time since then against the state that is ending, and a periodic tick meters running VMs,
//! so the records are exact whatever the tick interval. Bandwidth is metered to the byte and rated
//! at zero.

use crate::context::OpContext;
use crate::driver::TrafficCaps;
use crate::job::{parse_size_key, size_key, vm_spec};
use crate::store::meter::{MeterWrites, TenantFacts};
use crate::store::vm::VmRow;
use crate::store::vm_sample::{SampleSpan, VmSampleRow};
use crate::store::{Store, now_ms};
use crate::{Control, Error};
use meridian_core::backbone::{BACKBONE, Cut};
use meridian_core::bandwidth::{CapScope, cap_bytes};
use meridian_core::calendar::month_bounds;
use meridian_core::pricing::{
    HOURLY_USAGE_MONTHS, Invoice, Money, Standing, UsageKind, UsagePeriod, UsageRecord, project_unchanged,
};
use meridian_core::resource::{DiskGib, MemoryMib, Vcpus, VmSize, VmState};
use meridian_core::view::MeteredHour;
use meridian_core::zone::ZoneId;
use std::collections::HashMap;

/// What one VM cost over a period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmCharge {
    /// The VM.
    pub vm_id: String,
    /// Its name; None when its row is gone.
    pub name: Option<String>,
    /// Its zone.
    pub zone: String,
    /// It has been destroyed since.
    pub destroyed: bool,
    /// Seconds it ran in the period.
    pub running_secs: u64,
    /// Its compute, disk and public address, rated.
    pub amount: Money,
}

/// One hour in milliseconds: the roll-up period.
pub const HOUR_MS: i64 = 3_600_000;

/// `t` rounded down to a whole second.
pub fn whole_second(t: i64) -> i64 {
    t - t.rem_euclid(1000)
}

/// How many rows of usage past the retention one prune (each tick) deletes at most, per table:
/// a tick's share of the work stays small when a whole month falls out at once. At 100,000 rows a
/// minute a month of a 1,000-VM fleet's hours (~3 million rows) goes in about half an hour.
const PRUNE_ROWS: u64 = 100_000;

/// The first hour whose hourly usage is kept as of `now`: the start of the month
/// [`HOURLY_USAGE_MONTHS`]` - 1` months before `now`'s.
pub fn hourly_usage_kept_from(now: i64) -> i64 {
    let mut start = month_bounds(now).0;
    for _ in 1..HOURLY_USAGE_MONTHS {
        start = month_bounds(start - 1).0;
    }
    start
}

/// How many VMs one metering transaction covers: a tick of 100,000 VMs is 400 transactions of a
/// few multi-row statements, each short enough that a request's write waits milliseconds behind it.
const METER_BATCH: usize = 250;

/// One VM's period to meter, and what its metering reads.
struct Period<'a> {
    /// Metered up to here (Unix ms, a whole second)…
    from: i64,
    /// …and now up to here.
    until: i64,
    /// Its tenant's networks, caps and running VMs.
    facts: &'a TenantFacts,
    /// The CPU load its scaling group set, in the simulation.
    set_cpu: Option<i64>,
    /// What a real backend's counters added since they were last metered (traffic, and CPU and
    /// port counters with the time between readings).
    counted: Option<(crate::driver::Traffic, Option<(crate::driver::VmCounters, i64)>)>,
}

/// A size in the form jobs and usage rows share ("vcpus/memory_mib/disk_gib"), as a `VmSize`.
fn parse_size(key: &str) -> Option<VmSize> {
    let (v, m, d) = parse_size_key(key)?;
    let to = |n: i64| u32::try_from(n).ok();
    Some(VmSize::new(
        Vcpus::new(to(v)?).ok()?,
        MemoryMib::new(to(m)?).ok()?,
        DiskGib::new(to(d)?).ok()?,
    ))
}

impl Control {
    /// Meters every metered VM up to `now`; returns how many were metered. A batch of VMs (a
    /// tenant's together) is one transaction of a few multi-row statements.
    pub async fn meter_tick(&self, now: i64) -> Result<usize, Error> {
        let mut metered = 0;
        for batch in self.store.vm_ids_metered().await?.chunks(METER_BATCH) {
            let readings = self.traffic_readings(batch).await?;
            // A batch whose transaction lost a deadlock (PostgreSQL, against a job step metering
            // one of its VMs) is tried again; one that keeps losing waits for the next tick, which
            // meters from where this one stopped, so nothing is lost either way.
            for attempt in 1..=3 {
                match self.meter_batch(batch, now, &readings).await {
                    Ok(done) => {
                        metered += done;
                        break;
                    }
                    Err(error) if error.is_transient() && attempt < 3 => {
                        tracing::debug!(attempt, "metering lost a deadlock; retrying");
                    }
                    Err(error) if error.is_transient() => {
                        tracing::info!("metering lost deadlocks; the next tick catches up");
                    }
                    Err(error) => return Err(error),
                }
            }
        }
        Ok(metered)
    }

    /// Meters the VMs of `ids` (those still metered) up to `now` in one transaction; returns how
    /// many there were.
    async fn meter_batch(
        &self,
        ids: &[String],
        now: i64,
        readings: &HashMap<String, Reading>,
    ) -> Result<usize, Error> {
        let mut tx = self.store.begin_write().await?;
        let vms = Store::vms_to_meter(&mut tx, ids).await?;
        let mut writes = MeterWrites::default();
        self.meter_into(&mut tx, &vms, now, readings, &mut writes).await?;
        Store::meter_write(&mut tx, &writes).await?;
        tx.commit().await?;
        Ok(vms.len())
    }

    /// The traffic counters now of those of `ids` a backend counts (see
    /// [`Control::traffic_reading`]); none from the simulation. Read before the batch's
    /// transaction: a host's answer is not waited for while holding the database.
    async fn traffic_readings(&self, ids: &[String]) -> Result<HashMap<String, Reading>, Error> {
        let mut readings = HashMap::new();
        if self.driver.is_simulated() {
            return Ok(readings);
        }
        for id in ids {
            if let Some(reading) = self.traffic_reading(id).await? {
                readings.insert(id.clone(), reading);
            }
        }
        Ok(readings)
    }

    /// VM `id`'s traffic counters now; None for a VM not on a host, or when the host does not
    /// answer (the next reading counts what this one would have).
    async fn traffic_reading(&self, id: &str) -> Result<Option<Reading>, Error> {
        let Some(vm) = self.store.vm_by_id(id).await? else {
            return Ok(None);
        };
        let spec = vm_spec(&vm)?;
        let sent = match self.driver.sent(&spec).await {
            Ok(sent) => sent,
            Err(error) => {
                tracing::info!(vm.id = %id, error = %error, "traffic counters not read; the next tick counts them");
                return Ok(None);
            }
        };
        let counters = self.driver.counters(&spec).await.unwrap_or_else(|error| {
            tracing::info!(vm.id = %id, error = %error, "CPU and port counters not read; the next tick counts them");
            None
        });
        Ok(sent.map(|sent| Reading {
            at: now_ms(),
            sent,
            counters,
        }))
    }

    /// Meters one VM up to `now`, against its current state, in the caller's transaction.
    pub(crate) async fn meter_vm(
        &self,
        tx: &mut crate::store::Tx,
        vm: &VmRow,
        now: i64,
    ) -> Result<(), Error> {
        let Some(from) = Store::vm_metered_until(tx, &vm.id).await? else {
            return Ok(());
        };
        let mut writes = MeterWrites::default();
        self.meter_into(tx, &[(vm.clone(), from)], now, &HashMap::new(), &mut writes)
            .await?;
        Store::meter_write(tx, &writes).await?;
        Ok(())
    }

    /// Meters `vms` (each with how far it is metered) up to `now`, against their current states,
    /// into `writes`; a real backend's counter `readings` count since the readings last metered.
    async fn meter_into(
        &self,
        tx: &mut crate::store::Tx,
        vms: &[(VmRow, i64)],
        now: i64,
        readings: &HashMap<String, Reading>,
        writes: &mut MeterWrites,
    ) -> Result<(), Error> {
        let until = whole_second(now);
        writes.until = until;
        let due: Vec<&(VmRow, i64)> = vms.iter().filter(|(_, from)| until > *from).collect();
        if due.is_empty() {
            return Ok(());
        }
        let mut tenants: Vec<String> = due.iter().map(|(vm, _)| vm.tenant_id.clone()).collect();
        tenants.sort_unstable();
        tenants.dedup();
        let facts = Store::meter_facts(tx, &tenants).await?;
        // A simulated VM of a scaling group whose load was set follows that load.
        let set_cpu = if self.driver.is_simulated() {
            let ids: Vec<String> = due.iter().map(|(vm, _)| vm.id.clone()).collect();
            Store::scaling_sim_cpu_of_vms(tx, &ids).await?
        } else {
            HashMap::new()
        };
        let none = TenantFacts::default();
        for (vm, from) in due {
            let counted = match readings.get(&vm.id) {
                Some(reading) => Some(counted_traffic(tx, &vm.id, reading).await?),
                None => None,
            };
            let period = Period {
                from: *from,
                until,
                facts: facts.get(&vm.tenant_id).unwrap_or(&none),
                set_cpu: set_cpu.get(&vm.id).copied(),
                counted,
            };
            self.meter_period(vm, &period, writes)?;
            writes.metered.push(vm.id.clone());
        }
        Ok(())
    }

    /// What `vm` used over `period`, hour by hour, into `writes`: its usage rows and its graphs'.
    fn meter_period(&self, vm: &VmRow, period: &Period<'_>, writes: &mut MeterWrites) -> Result<(), Error> {
        let state = VmState::parse(&vm.state).map_err(Error::internal)?;
        let peers: Vec<ZoneId> = period
            .facts
            .zones
            .iter()
            .filter(|zone| **zone != vm.zone)
            .filter_map(|zone| ZoneId::parse(zone).ok())
            .collect();
        let zone = ZoneId::parse(&vm.zone).map_err(Error::internal)?;
        let spec = vm_spec(vm)?;
        // What the VM did, per hour and over the whole period, for its graphs.
        let mut hours: Vec<VmSampleRow> = Vec::new();
        let mut counted_figures = false;
        let mut start = period.from;
        while start < period.until {
            let hour_start = start - start.rem_euclid(HOUR_MS);
            let end = period.until.min(hour_start + HOUR_MS);
            let seconds = (end - start) / 1000;
            let mut add = |kind: &str, resource: &str, size: &str, quantity: i64| {
                if quantity > 0 {
                    writes.usage_add(
                        &vm.tenant_id,
                        MeteredHour {
                            hour_start,
                            kind: kind.to_owned(),
                            resource_id: resource.to_owned(),
                            size: size.to_owned(),
                            zone: vm.zone.clone(),
                            quantity,
                        },
                    );
                }
            };
            if matches!(state, VmState::Running | VmState::Stopped) {
                add("disk_gib_seconds", &vm.id, "", vm.disk_gib * seconds);
                if vm.public_ip.is_some() {
                    add("public_ip_seconds", &vm.id, "", seconds);
                }
            }
            if state == VmState::Running {
                let size = size_key((vm.vcpus, vm.memory_mib, vm.disk_gib));
                add("vm_seconds", &vm.id, &size, seconds);
                if vm.dedicated {
                    add("dedicated_seconds", &vm.id, &size, seconds);
                }
                let mut load = self.driver.load(&spec, start, end).unwrap_or_default();
                let measured = seconds;
                if let Some(cpu) = period.set_cpu {
                    let capacity = measured.saturating_mul(1000).saturating_mul(vm.vcpus);
                    load.cpu_ms = u64::try_from(capacity.saturating_mul(cpu) / 100).unwrap_or(0);
                }
                let seconds = u64::try_from(seconds).unwrap_or(0);
                let caps = traffic_caps(&period.facts.caps, &period.facts.running, vm, zone, seconds);
                let traffic = self.driver.traffic(&spec, &peers, seconds, &caps);
                for (kind, resource, bytes) in traffic_rows(&vm.id, zone, &traffic) {
                    add(kind, &resource, "", bytes);
                }
                hours.push(VmSampleRow {
                    start_ms: hour_start,
                    seconds: measured,
                    cpu_ms: to_i64(load.cpu_ms),
                    capacity_ms: measured.saturating_mul(1000).saturating_mul(vm.vcpus),
                    received: to_i64(load.received_bytes),
                    sent: to_i64(traffic.internet + traffic.backbone.iter().map(|(_, b)| b).sum::<u64>()),
                });
            }
            // Counted bytes say nothing of when in the period they were sent: the last hour has them.
            if end == period.until
                && let Some((counted, port)) = &period.counted
            {
                for (kind, resource, bytes) in traffic_rows(&vm.id, zone, counted) {
                    add(kind, &resource, "", bytes);
                }
                // A real backend's CPU and port figures replace the (zero) made-up ones, over the
                // time between its readings; without them the period has no figures to chart.
                // (The longer of the two: a job step may have metered part of the time since.)
                if let (Some((port, interval_ms)), Some(last)) = (port, hours.last_mut()) {
                    let span_ms = (*interval_ms).max(last.seconds.saturating_mul(1000));
                    last.cpu_ms = to_i64(port.cpu_ms);
                    last.received = to_i64(port.received_bytes);
                    last.sent = to_i64(port.sent_bytes);
                    last.seconds = (span_ms / 1000).max(1);
                    last.capacity_ms = span_ms.saturating_mul(vm.vcpus);
                    counted_figures = true;
                }
            }
            start = end;
        }
        // A real backend's period is charted only from its counters (one reading to the next).
        if self.driver.is_simulated() || counted_figures {
            if !self.driver.is_simulated() {
                hours.drain(..hours.len().saturating_sub(1));
            }
            record_samples(writes, &vm.id, &hours, period.until);
        }
        Ok(())
    }

    /// Starts metering a VM now (it has just started running).
    pub(crate) async fn meter_start(tx: &mut crate::store::Tx, vm: &VmRow) -> Result<(), Error> {
        if Store::vm_metered_until(tx, &vm.id).await?.is_none() {
            Store::vm_set_metered_until(tx, &vm.id, Some(whole_second(now_ms()))).await?;
        }
        Ok(())
    }

    /// Meters what is due and stops metering a VM (teardown is not billed).
    pub(crate) async fn meter_stop(&self, tx: &mut crate::store::Tx, vm: &VmRow) -> Result<(), Error> {
        self.meter_vm(tx, vm, now_ms()).await?;
        Store::vm_set_metered_until(tx, &vm.id, None).await?;
        Ok(())
    }

    /// The bill at `end` if the tenant's VMs stay as they are from `now` on: `so_far` plus the
    /// rest of the period at what each VM costs in its state now ([`project_unchanged`]). A VM on
    /// its way to running counts as running; one failed or being destroyed, as gone.
    pub(crate) async fn projection(
        &self,
        tenant: &str,
        so_far: Money,
        now: i64,
        end: i64,
    ) -> Result<Money, Error> {
        if now >= end {
            return Ok(so_far);
        }
        let mut standing = Vec::new();
        for vm in self.store.vm_list(tenant).await? {
            let running = match VmState::parse(&vm.state).map_err(Error::internal)? {
                VmState::Pending | VmState::Provisioning | VmState::Running => true,
                VmState::Stopped => false,
                VmState::Destroying | VmState::Destroyed | VmState::Failed => continue,
            };
            let size = parse_size(&size_key((vm.vcpus, vm.memory_mib, vm.disk_gib)))
                .ok_or_else(|| Error::internal(format_args!("vm {} size", vm.id)))?;
            standing.push(Standing {
                size,
                running,
                public_ip: vm.public_ip.is_some() || vm.breakout,
                dedicated: vm.dedicated,
            });
        }
        let rest = UsagePeriod {
            start_unix_ms: whole_second(now),
            end_unix_ms: end,
        };
        project_unchanged(so_far, &standing, rest).map_err(Error::internal)
    }

    /// What each VM of the tenant cost in hours starting in `[from, to)`, largest first: its
    /// compute, disk and public address, rated as the invoice rates them.
    pub async fn usage_by_vm(&self, ctx: &OpContext, from: i64, to: i64) -> Result<Vec<VmCharge>, Error> {
        let tenant = ctx.tenant()?.to_string();
        let rows = self.store.usage_by_resource(&tenant, from, to).await?;
        let mut by_vm: std::collections::BTreeMap<String, Vec<MeteredHour>> =
            std::collections::BTreeMap::new();
        for row in rows {
            by_vm.entry(row.resource_id.clone()).or_default().push(row);
        }
        let ids: Vec<String> = by_vm.keys().cloned().collect();
        let vms = self.store.vm_by_ids(&ids).await?;
        let mut charges = Vec::new();
        for (id, rows) in by_vm {
            // Only the tenant's own VMs: usage rows name nothing else, and a row must not make
            // another tenant's VM name appear.
            let vm = vms.iter().find(|vm| vm.id == id && vm.tenant_id == tenant);
            let invoice = Invoice::from_records(&usage_records(&rows)?).map_err(Error::internal)?;
            let running_secs = rows
                .iter()
                .filter(|row| row.kind == "vm_seconds")
                .map(|row| u64::try_from(row.quantity).unwrap_or(0))
                .sum();
            charges.push(VmCharge {
                vm_id: id,
                name: vm.map(|vm| vm.name.clone()),
                zone: rows.first().map(|row| row.zone.clone()).unwrap_or_default(),
                destroyed: vm.is_none_or(|vm| vm.state == "destroyed"),
                running_secs,
                amount: invoice.total(),
            });
        }
        charges.sort_by(|a, b| b.amount.cmp(&a.amount).then_with(|| a.name.cmp(&b.name)));
        Ok(charges)
    }

    /// The tenant's usage for hours starting in `[from, to)`, rated into an invoice.
    pub async fn usage_invoice(&self, ctx: &OpContext, from: i64, to: i64) -> Result<Invoice, Error> {
        let totals = self.usage_totals(ctx, from, to).await?;
        Invoice::from_records(&usage_records(&totals)?).map_err(Error::internal)
    }

    /// The tenant's usage for hours starting in `[from, to)`, one row per kind and size
    /// ([`Store::usage_totals`](crate::store::Store::usage_totals)). Whole days are summed from
    /// the daily roll-up however old; other ranges from the hours still kept
    /// ([`hourly_usage_kept_from`]).
    pub async fn usage_totals(&self, ctx: &OpContext, from: i64, to: i64) -> Result<Vec<MeteredHour>, Error> {
        let tenant = ctx.tenant()?;
        Ok(self.store.usage_totals(&tenant.to_string(), from, to).await?)
    }

    /// Forgets the hourly usage (and bytes per hour and zone) of hours before
    /// [`hourly_usage_kept_from`] `now`, oldest first, a bounded number of rows a call (every
    /// tick calls it); returns how many rows went. Their sums stay in the daily and monthly
    /// roll-ups.
    pub async fn usage_prune(&self, now: i64) -> Result<u64, Error> {
        Ok(self
            .store
            .usage_prune(hourly_usage_kept_from(now), PRUNE_ROWS)
            .await?)
    }

    /// The tenant's raw usage rows for hours starting in `[from, to)`: only hours still kept
    /// (from [`hourly_usage_kept_from`] on); older ones are summed in the roll-ups.
    pub async fn usage_list(&self, ctx: &OpContext, from: i64, to: i64) -> Result<Vec<MeteredHour>, Error> {
        let tenant = ctx.tenant()?;
        Ok(self.store.usage_list(&tenant.to_string(), from, to).await?)
    }
}

/// A reading of a VM's traffic counters ([`crate::driver::Driver::sent`]) and when it was taken.
#[derive(Clone, Debug)]
pub(crate) struct Reading {
    /// When, Unix ms.
    at: i64,
    /// The counters: cumulative bytes by destination.
    sent: crate::driver::Traffic,
    /// The VM's CPU time and port bytes since it started, when the backend reports them.
    counters: Option<crate::driver::VmCounters>,
}

/// What `reading` adds to VM `vm_id`'s counters since the reading last metered, which it replaces
/// (in the caller's transaction). A counter below its last reading was reset (its host rebuilt
/// the port): all of it is new. A reading older than the last metered one (another server's,
/// late) adds nothing.
async fn counted_traffic(
    tx: &mut crate::store::Tx,
    vm_id: &str,
    reading: &Reading,
) -> Result<(crate::driver::Traffic, Option<(crate::driver::VmCounters, i64)>), Error> {
    let metered = Store::traffic_metered(tx, vm_id).await?;
    let Some(counted) = counted_since(&metered, reading) else {
        return Ok((crate::driver::Traffic::default(), None));
    };
    // The CPU and port counters count from the previous reading, over the time between the two
    // readings; a first reading only sets where the next one counts from (what its QEMU did
    // since it started is no one period's).
    let previous = metered
        .iter()
        .find(|(class, _, _)| class == PORT_CPU)
        .map(|(_, _, at)| *at);
    let port = match (reading.counters.as_ref(), previous) {
        (Some(now), Some(at)) if reading.at > at => Some((port_since(&metered, now), reading.at - at)),
        _ => None,
    };
    let port_classes = reading.counters.iter().flat_map(|now| {
        [
            (PORT_CPU, now.cpu_ms),
            (PORT_RECEIVED, now.received_bytes),
            (PORT_SENT, now.sent_bytes),
        ]
        .map(|(class, value)| (class.to_owned(), value))
    });
    for (class, bytes) in classes(&reading.sent).into_iter().chain(port_classes) {
        Store::traffic_metered_set(tx, vm_id, &class, to_i64(bytes), reading.at).await?;
    }
    Ok((counted, port))
}

/// The counter classes of a VM's CPU time and port bytes, beside the traffic's zones and
/// `internet` (which no zone id can be named like).
const PORT_CPU: &str = "port:cpu_ms";
const PORT_RECEIVED: &str = "port:received";
const PORT_SENT: &str = "port:sent";

/// What the VM's CPU and port counters added since the last metered reading (a counter below it
/// was reset: a new QEMU, a new tap).
fn port_since(metered: &[(String, i64, i64)], now: &crate::driver::VmCounters) -> crate::driver::VmCounters {
    let since = |class: &str, now: u64| {
        let last = metered
            .iter()
            .find(|(c, _, _)| c == class)
            .map_or(0, |(_, value, _)| u64::try_from(*value).unwrap_or(0));
        if now >= last { now - last } else { now }
    };
    crate::driver::VmCounters {
        cpu_ms: since(PORT_CPU, now.cpu_ms),
        received_bytes: since(PORT_RECEIVED, now.received_bytes),
        sent_bytes: since(PORT_SENT, now.sent_bytes),
    }
}

/// Adds a metered period's figures to the VM's graphs: each hour's to its hour, and the
/// period's to the minute it ends in — all of it when it is an hour at most (a tick's minute),
/// else only its last hour's part (a server that was down long: the minute's point would
/// otherwise stand for days).
fn record_samples(writes: &mut MeterWrites, vm_id: &str, hours: &[VmSampleRow], until: i64) {
    if hours.is_empty() {
        return;
    }
    let mut period = VmSampleRow {
        start_ms: (until - 1).div_euclid(60_000) * 60_000,
        ..VmSampleRow::default()
    };
    let long = hours.iter().map(|h| h.seconds).sum::<i64>() > 3_600;
    for hour in hours {
        writes.sample_add(vm_id, SampleSpan::Hour, hour.clone());
        if long && hour.start_ms != hours[hours.len() - 1].start_ms {
            continue;
        }
        period.seconds += hour.seconds;
        period.cpu_ms += hour.cpu_ms;
        period.capacity_ms += hour.capacity_ms;
        period.received += hour.received;
        period.sent += hour.sent;
    }
    writes.sample_add(vm_id, SampleSpan::Minute, period);
}

/// The reading's counters by class: each zone by its id, and `internet`.
fn classes(sent: &crate::driver::Traffic) -> Vec<(String, u64)> {
    sent.backbone
        .iter()
        .map(|(zone, bytes)| (zone.to_string(), *bytes))
        .chain(std::iter::once(("internet".to_owned(), sent.internet)))
        .collect()
}

/// The difference between `reading` and `metered` (`(class, bytes, read at)` rows); None when the
/// reading is not newer than them.
fn counted_since(metered: &[(String, i64, i64)], reading: &Reading) -> Option<crate::driver::Traffic> {
    if metered.iter().any(|(_, _, at)| *at >= reading.at) {
        return None;
    }
    let since = |class: &str, now: u64| {
        let last = metered
            .iter()
            .find(|(c, _, _)| c == class)
            .map_or(0, |(_, bytes, _)| u64::try_from(*bytes).unwrap_or(0));
        if now >= last { now - last } else { now }
    };
    Some(crate::driver::Traffic {
        backbone: reading
            .sent
            .backbone
            .iter()
            .map(|(zone, bytes)| (*zone, since(zone.as_str(), *bytes)))
            .collect(),
        internet: since("internet", reading.sent.internet),
    })
}

fn to_i64(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// The usage rows of `traffic` sent by VM `vm_id` in `zone`: `(kind, resource, bytes)` — its
/// backbone and internet bytes, and the backbone bytes again on each edge of their paths.
fn traffic_rows(
    vm_id: &str,
    zone: ZoneId,
    traffic: &crate::driver::Traffic,
) -> Vec<(&'static str, String, i64)> {
    let backbone: u64 = traffic.backbone.iter().map(|(_, bytes)| bytes).sum();
    let mut rows = vec![
        ("bytes_backbone", vm_id.to_owned(), to_i64(backbone)),
        ("bytes_internet", vm_id.to_owned(), to_i64(traffic.internet)),
    ];
    for (peer, bytes) in &traffic.backbone {
        for edge in BACKBONE
            .path(zone, *peer, &Cut::none())
            .map(|p| p.edges)
            .unwrap_or_default()
        {
            if let Some(edge) = BACKBONE.edge(edge) {
                rows.push(("bytes_edge", format!("{}-{}", edge.a, edge.b), to_i64(*bytes)));
            }
        }
    }
    rows
}

/// The pricing records for stored usage rows (edge traffic is a view of backbone traffic already
/// counted per VM, so it is not rated again).
pub fn usage_records(rows: &[MeteredHour]) -> Result<Vec<UsageRecord>, Error> {
    let mut records = Vec::new();
    for row in rows {
        let kind = match row.kind.as_str() {
            "vm_seconds" => UsageKind::VmHours {
                size: parse_size(&row.size)
                    .ok_or_else(|| Error::internal(format_args!("usage size {:?}", row.size)))?,
            },
            "dedicated_seconds" => UsageKind::DedicatedHours {
                size: parse_size(&row.size)
                    .ok_or_else(|| Error::internal(format_args!("usage size {:?}", row.size)))?,
            },
            "disk_gib_seconds" => UsageKind::DiskGibHours,
            "public_ip_seconds" => UsageKind::PublicIpHours,
            "bytes_backbone" => UsageKind::BytesBackbone,
            "bytes_internet" => UsageKind::BytesInternet,
            _ => continue,
        };
        records.push(UsageRecord {
            kind,
            quantity: u64::try_from(row.quantity).unwrap_or(0),
            period: UsagePeriod {
                start_unix_ms: row.hour_start,
                end_unix_ms: row.hour_start + HOUR_MS,
            },
        });
    }
    Ok(records)
}

/// The limits on what `vm` may send over `seconds`: its own cap, and for each zone pair it is in,
/// its share of the pair's cap (split evenly among the tenant's running VMs in the pair's zones).
fn traffic_caps(
    caps: &[meridian_core::bandwidth::Cap],
    running: &[(String, i64)],
    vm: &VmRow,
    zone: ZoneId,
    seconds: u64,
) -> TrafficCaps {
    let mbps = |cap: &meridian_core::bandwidth::Cap| u32::try_from(cap.mbps).unwrap_or(u32::MAX);
    let running_in = |z: ZoneId| {
        running
            .iter()
            .find(|(name, _)| name == z.as_str())
            .map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0))
    };
    let mut limits = TrafficCaps::default();
    for cap in caps {
        match CapScope::from_key(&cap.scope, &cap.target) {
            Some(CapScope::Vm(id)) if id == vm.id => {
                limits.total = Some(cap_bytes(mbps(cap), seconds));
            }
            Some(CapScope::Pair(a, b)) if a == zone || b == zone => {
                let peer = if a == zone { b } else { a };
                let sharers = (running_in(a) + running_in(b)).max(1);
                limits
                    .per_peer
                    .push((peer, cap_bytes(mbps(cap), seconds) / sharers));
            }
            _ => {}
        }
    }
    limits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::Traffic;

    fn reading(at: i64, lon1: u64, internet: u64) -> Reading {
        Reading {
            at,
            sent: Traffic {
                backbone: vec![(ZoneId::parse("lon1").unwrap(), lon1)],
                internet,
            },
            counters: None,
        }
    }

    #[test]
    fn a_reading_counts_what_its_counters_gained_and_a_late_one_nothing() {
        let metered = [
            ("internet".to_owned(), 100, 5_000),
            ("lon1".to_owned(), 900, 5_000),
        ];
        let counted = counted_since(&metered, &reading(6_000, 1_000, 100)).expect("newer");
        assert_eq!(counted.backbone[0].1, 100);
        assert_eq!(counted.internet, 0);
        // Reset on its host: the counter restarted from zero.
        let counted = counted_since(&metered, &reading(6_000, 40, 100)).expect("newer");
        assert_eq!(counted.backbone[0].1, 40);
        // Another server's reading taken before the one metered last: nothing, not a "reset".
        assert!(counted_since(&metered, &reading(4_000, 800, 90)).is_none());
        assert!(counted_since(&metered, &reading(5_000, 1_000, 100)).is_none());
        // The first reading of a VM: all of it.
        let counted = counted_since(&[], &reading(1, 7, 3)).expect("first");
        assert_eq!((counted.backbone[0].1, counted.internet), (7, 3));
    }
}
