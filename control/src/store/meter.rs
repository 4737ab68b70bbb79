//! What metering reads and writes, many VMs at a time: a tick meters a batch of VMs in one
//! transaction with a handful of statements, not ten statements per VM.

use super::vm::{VmRow, vm_from_row};
use super::vm_sample::{SampleSpan, VmSampleRow};
use super::{Marks, Store, Tx};
use meridian_core::bandwidth::Cap;
use meridian_core::calendar::month_bounds;
use meridian_core::view::MeteredHour;
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};

/// A UTC day in milliseconds: `usage_days` numbers days `hour_start / DAY_MS`.
pub(crate) const DAY_MS: i64 = 86_400_000;

/// How many values a metering statement binds at most: a batch's rows of a table in a statement
/// or two (each statement is a round trip to the database's thread or server). Its marks are
/// [`Marks::of`] the database, so SQLite binds them in a straight line.
const WRITE_BINDS: usize = 4_000;

/// What metering a VM reads of its tenant.
#[derive(Clone, Debug, Default)]
pub(crate) struct TenantFacts {
    /// The zones of the tenant's subnets (where its private network reaches).
    pub zones: Vec<String>,
    /// Its bandwidth caps.
    pub caps: Vec<Cap>,
    /// How many of its VMs run in each zone (read only when it caps a zone pair).
    pub running: Vec<(String, i64)>,
}

/// The key of an hourly usage row: tenant, hour, kind, resource, size.
pub(crate) type UsageKey = (String, i64, String, String, String);

/// The key of a monthly sum: tenant, month, kind, resource, size.
type MonthKey<'a> = (&'a str, i64, &'a str, &'a str, &'a str);

/// A monthly sum: the resource's zone, its first hour in the month, the quantity.
type MonthSum<'a> = (&'a str, i64, i64);

/// What a batch of VMs' metering writes, gathered before anything is written: rows that several
/// VMs add to (a backbone edge's bytes, a tenant's day) are summed first, and every table is
/// written in key order, so two transactions metering VMs of one tenant (a tick on each of two
/// servers, or a tick and a job step) take shared rows in the same order and never deadlock.
#[derive(Debug, Default)]
pub(crate) struct MeterWrites {
    /// Hourly usage: (zone, quantity) by key.
    pub usage: BTreeMap<UsageKey, (String, i64)>,
    /// The VMs' graph rows by (VM, span, slot of the ring).
    pub samples: BTreeMap<(String, &'static str, i64), VmSampleRow>,
    /// VMs now metered up to `until`.
    pub metered: Vec<String>,
    /// How far they are metered.
    pub until: i64,
}

impl MeterWrites {
    /// Adds a quantity of usage by `tenant`.
    pub fn usage_add(&mut self, tenant: &str, row: MeteredHour) {
        let key = (
            tenant.to_owned(),
            row.hour_start,
            row.kind,
            row.resource_id,
            row.size,
        );
        let held = self.usage.entry(key).or_insert((row.zone, 0));
        held.1 = held.1.saturating_add(row.quantity);
    }

    /// Adds `sample` to VM `vm_id`'s `span` row of its period, as the database does: a row of the
    /// same period sums, a later period's row replaces the slot's earlier lap.
    pub fn sample_add(&mut self, vm_id: &str, span: SampleSpan, sample: VmSampleRow) {
        let slot = sample
            .start_ms
            .div_euclid(span.period_ms())
            .rem_euclid(span.slots());
        match self.samples.entry((vm_id.to_owned(), span.as_str(), slot)) {
            std::collections::btree_map::Entry::Vacant(free) => {
                free.insert(sample);
            }
            std::collections::btree_map::Entry::Occupied(mut held) => {
                let held = held.get_mut();
                if held.start_ms == sample.start_ms {
                    held.seconds += sample.seconds;
                    held.cpu_ms += sample.cpu_ms;
                    held.capacity_ms += sample.capacity_ms;
                    held.received += sample.received;
                    held.sent += sample.sent;
                } else if sample.start_ms > held.start_ms {
                    *held = sample;
                }
            }
        }
    }

    /// The hourly usage summed per tenant, month, kind, resource and size, with the resource's
    /// zone and first hour: what `usage_months` adds.
    fn months(&self) -> BTreeMap<MonthKey<'_>, MonthSum<'_>> {
        let mut months: BTreeMap<MonthKey<'_>, MonthSum<'_>> = BTreeMap::new();
        for ((tenant, hour, kind, resource, size), (zone, quantity)) in &self.usage {
            let month = month_bounds(*hour).0;
            let sum = months
                .entry((tenant, month, kind, resource, size))
                .or_insert((zone, *hour, 0));
            sum.1 = sum.1.min(*hour);
            sum.2 = sum.2.saturating_add(*quantity);
        }
        months
    }

    /// The bytes sent per tenant, hour and zone: what `traffic_zone_hours` adds.
    fn zone_hours(&self) -> BTreeMap<(&str, i64, &str), i64> {
        let mut hours: BTreeMap<(&str, i64, &str), i64> = BTreeMap::new();
        for ((tenant, hour, kind, _, _), (zone, quantity)) in &self.usage {
            if kind == "bytes_backbone" || kind == "bytes_internet" {
                let sum = hours.entry((tenant, *hour, zone)).or_insert(0);
                *sum = sum.saturating_add(*quantity);
            }
        }
        hours
    }

    /// The hourly usage summed per tenant, UTC day, kind and size, with the day's first hour:
    /// what `usage_days` adds.
    fn days(&self) -> BTreeMap<(&str, i64, &str, &str), (i64, i64)> {
        let mut days: BTreeMap<(&str, i64, &str, &str), (i64, i64)> = BTreeMap::new();
        for ((tenant, hour, kind, _, size), (_, quantity)) in &self.usage {
            let day = days
                .entry((tenant, hour.div_euclid(DAY_MS), kind, size))
                .or_insert((*hour, 0));
            day.0 = day.0.min(*hour);
            day.1 = day.1.saturating_add(*quantity);
        }
        days
    }
}

impl Store {
    /// Ids of the VMs whose usage is being metered, a tenant's together.
    pub async fn vm_ids_metered(&self) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT id FROM vms WHERE metered_until IS NOT NULL ORDER BY tenant_id, id")
            .fetch_all(self.pool())
            .await
    }

    /// The VMs of `ids` still metered, with how far each is metered, by id. On PostgreSQL their
    /// rows are locked (in id order) until the transaction ends: two servers' ticks, or a tick
    /// and a job step, metering one VM at once would both bill the time since then.
    pub(crate) async fn vms_to_meter(tx: &mut Tx, ids: &[String]) -> Result<Vec<(VmRow, i64)>, sqlx::Error> {
        let lock = if tx.backend_name() == "PostgreSQL" {
            " FOR UPDATE"
        } else {
            ""
        };
        let marks = Marks::of(tx);
        let mut vms = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(WRITE_BINDS) {
            let sql = format!(
                "SELECT * FROM vms WHERE id IN ({}) AND metered_until IS NOT NULL ORDER BY id{lock}",
                marks.list(1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id);
            }
            for row in query.fetch_all(&mut **tx).await? {
                vms.push((vm_from_row(&row)?, row.try_get("metered_until")?));
            }
        }
        Ok(vms)
    }

    /// What metering reads of each of `tenants`, three statements for all of them.
    pub(crate) async fn meter_facts(
        tx: &mut Tx,
        tenants: &[String],
    ) -> Result<HashMap<String, TenantFacts>, sqlx::Error> {
        let marks = Marks::of(tx);
        let mut facts: HashMap<String, TenantFacts> = HashMap::new();
        for chunk in tenants.chunks(WRITE_BINDS) {
            let listed = marks.list(1, chunk.len());
            let sql = format!("SELECT tenant_id, zone FROM subnets WHERE tenant_id IN ({listed})");
            for row in bind_all(sqlx::query(&sql), chunk).fetch_all(&mut **tx).await? {
                let tenant: String = row.try_get("tenant_id")?;
                facts.entry(tenant).or_default().zones.push(row.try_get("zone")?);
            }
            let sql = format!(
                "SELECT tenant_id, scope, target, mbps FROM bandwidth_caps \
                 WHERE tenant_id IN ({listed}) ORDER BY tenant_id, scope, target"
            );
            let mut pairs = Vec::new();
            for row in bind_all(sqlx::query(&sql), chunk).fetch_all(&mut **tx).await? {
                let tenant: String = row.try_get("tenant_id")?;
                let cap = Cap {
                    scope: row.try_get("scope")?,
                    target: row.try_get("target")?,
                    mbps: row.try_get("mbps")?,
                };
                if cap.scope == "pair" {
                    pairs.push(tenant.clone());
                }
                facts.entry(tenant).or_default().caps.push(cap);
            }
            // A pair's cap is shared among the tenant's VMs running at either end.
            pairs.dedup();
            if pairs.is_empty() {
                continue;
            }
            let sql = format!(
                "SELECT tenant_id, zone, COUNT(*) AS n FROM vms WHERE tenant_id IN ({}) \
                 AND state = 'running' GROUP BY tenant_id, zone",
                marks.list(1, pairs.len())
            );
            for row in bind_all(sqlx::query(&sql), &pairs).fetch_all(&mut **tx).await? {
                let tenant: String = row.try_get("tenant_id")?;
                let running = (row.try_get("zone")?, row.try_get("n")?);
                facts.entry(tenant).or_default().running.push(running);
            }
        }
        Ok(facts)
    }

    /// The CPU load set on the scaling groups of those of `vm_ids` that are members of one whose
    /// load was set (the simulation follows it), by VM.
    pub(crate) async fn scaling_sim_cpu_of_vms(
        tx: &mut Tx,
        vm_ids: &[String],
    ) -> Result<HashMap<String, i64>, sqlx::Error> {
        let marks = Marks::of(tx);
        let mut set = HashMap::new();
        for chunk in vm_ids.chunks(WRITE_BINDS) {
            let sql = format!(
                "SELECT m.vm_id, g.sim_cpu FROM scaling_members m JOIN scaling_groups g ON g.id = m.group_id \
                 WHERE g.sim_cpu IS NOT NULL AND m.vm_id IN ({})",
                marks.list(1, chunk.len())
            );
            for row in bind_all(sqlx::query(&sql), chunk).fetch_all(&mut **tx).await? {
                set.insert(row.try_get("vm_id")?, row.try_get("sim_cpu")?);
            }
        }
        Ok(set)
    }

    /// Writes what a batch metered: the hourly usage, its roll-ups (the tenants' daily sums,
    /// the resources' monthly sums, the traffic per hour and zone), the VMs' graph rows and how
    /// far each VM is metered, a multi-row statement per chunk.
    pub(crate) async fn meter_write(tx: &mut Tx, writes: &MeterWrites) -> Result<(), sqlx::Error> {
        let marks = Marks::of(tx);
        let usage: Vec<_> = writes.usage.iter().filter(|(_, (_, q))| *q > 0).collect();
        for chunk in usage.chunks(WRITE_BINDS / 7) {
            let sql = format!(
                "INSERT INTO usage_records (tenant_id, hour_start, kind, resource_id, size, zone, quantity) \
                 VALUES {} ON CONFLICT (tenant_id, hour_start, kind, resource_id, size) \
                 DO UPDATE SET quantity = usage_records.quantity + excluded.quantity",
                marks.values(1, chunk.len(), 7)
            );
            let mut query = sqlx::query(&sql);
            for ((tenant, hour, kind, resource, size), (zone, quantity)) in chunk {
                query = query
                    .bind(tenant)
                    .bind(hour)
                    .bind(kind)
                    .bind(resource)
                    .bind(size)
                    .bind(zone)
                    .bind(quantity);
            }
            query.execute(&mut **tx).await?;
        }
        let days: Vec<_> = writes.days().into_iter().filter(|(_, (_, q))| *q > 0).collect();
        for chunk in days.chunks(WRITE_BINDS / 6) {
            let sql = format!(
                "INSERT INTO usage_days (tenant_id, day, kind, size, first_hour, quantity) VALUES {} \
                 ON CONFLICT (tenant_id, day, kind, size) \
                 DO UPDATE SET quantity = usage_days.quantity + excluded.quantity, \
                 first_hour = CASE WHEN excluded.first_hour < usage_days.first_hour \
                   THEN excluded.first_hour ELSE usage_days.first_hour END",
                marks.values(1, chunk.len(), 6)
            );
            let mut query = sqlx::query(&sql);
            for ((tenant, day, kind, size), (first_hour, quantity)) in chunk {
                query = query
                    .bind(*tenant)
                    .bind(*day)
                    .bind(*kind)
                    .bind(*size)
                    .bind(*first_hour)
                    .bind(*quantity);
            }
            query.execute(&mut **tx).await?;
        }
        let months: Vec<_> = writes
            .months()
            .into_iter()
            .filter(|(_, (_, _, q))| *q > 0)
            .collect();
        for chunk in months.chunks(WRITE_BINDS / 8) {
            let sql = format!(
                "INSERT INTO usage_months (tenant_id, month_start, kind, resource_id, size, zone, first_hour, quantity) \
                 VALUES {} ON CONFLICT (tenant_id, month_start, kind, resource_id, size) \
                 DO UPDATE SET quantity = usage_months.quantity + excluded.quantity, \
                 first_hour = CASE WHEN excluded.first_hour < usage_months.first_hour \
                   THEN excluded.first_hour ELSE usage_months.first_hour END",
                marks.values(1, chunk.len(), 8)
            );
            let mut query = sqlx::query(&sql);
            for ((tenant, month, kind, resource, size), (zone, first_hour, quantity)) in chunk {
                query = query
                    .bind(*tenant)
                    .bind(*month)
                    .bind(*kind)
                    .bind(*resource)
                    .bind(*size)
                    .bind(*zone)
                    .bind(*first_hour)
                    .bind(*quantity);
            }
            query.execute(&mut **tx).await?;
        }
        let zone_hours: Vec<_> = writes.zone_hours().into_iter().filter(|(_, q)| *q > 0).collect();
        for chunk in zone_hours.chunks(WRITE_BINDS / 4) {
            let sql = format!(
                "INSERT INTO traffic_zone_hours (tenant_id, hour_start, zone, bytes) VALUES {} \
                 ON CONFLICT (tenant_id, hour_start, zone) DO UPDATE SET bytes = traffic_zone_hours.bytes + excluded.bytes",
                marks.values(1, chunk.len(), 4)
            );
            let mut query = sqlx::query(&sql);
            for ((tenant, hour, zone), bytes) in chunk {
                query = query.bind(*tenant).bind(*hour).bind(*zone).bind(*bytes);
            }
            query.execute(&mut **tx).await?;
        }
        let samples: Vec<_> = writes.samples.iter().collect();
        for chunk in samples.chunks(WRITE_BINDS / 9) {
            let sql = format!(
                "INSERT INTO vm_samples (vm_id, span, slot, start_ms, seconds, cpu_ms, capacity_ms, received, sent) \
                 VALUES {} ON CONFLICT (vm_id, span, slot) DO UPDATE SET \
                 seconds = CASE WHEN vm_samples.start_ms = excluded.start_ms THEN vm_samples.seconds + excluded.seconds ELSE excluded.seconds END, \
                 cpu_ms = CASE WHEN vm_samples.start_ms = excluded.start_ms THEN vm_samples.cpu_ms + excluded.cpu_ms ELSE excluded.cpu_ms END, \
                 capacity_ms = CASE WHEN vm_samples.start_ms = excluded.start_ms THEN vm_samples.capacity_ms + excluded.capacity_ms ELSE excluded.capacity_ms END, \
                 received = CASE WHEN vm_samples.start_ms = excluded.start_ms THEN vm_samples.received + excluded.received ELSE excluded.received END, \
                 sent = CASE WHEN vm_samples.start_ms = excluded.start_ms THEN vm_samples.sent + excluded.sent ELSE excluded.sent END, \
                 start_ms = excluded.start_ms",
                marks.values(1, chunk.len(), 9)
            );
            let mut query = sqlx::query(&sql);
            for ((vm_id, span, slot), sample) in chunk {
                query = query
                    .bind(vm_id)
                    .bind(*span)
                    .bind(slot)
                    .bind(sample.start_ms)
                    .bind(sample.seconds)
                    .bind(sample.cpu_ms)
                    .bind(sample.capacity_ms)
                    .bind(sample.received)
                    .bind(sample.sent);
            }
            query.execute(&mut **tx).await?;
        }
        for chunk in writes.metered.chunks(WRITE_BINDS - 1) {
            let sql = format!(
                "UPDATE vms SET metered_until = {} WHERE id IN ({})",
                marks.list(1, 1),
                marks.list(2, chunk.len())
            );
            bind_all(sqlx::query(&sql).bind(writes.until), chunk)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}

/// `query` with each of `values` bound in turn.
fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    values: &'q [String],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for value in values {
        query = query.bind(value);
    }
    query
}
