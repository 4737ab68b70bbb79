//! Metering and rating: usage is recorded exactly, rolled up per hour, and invoices reconcile.

use meridian_control::driver::simulated::{SimTiming, SimulatedDriver};
use meridian_control::driver::{
    Driver, DriverError, HostSpec, Presence, Traffic, TrafficCaps, VmCounters, VmSpec,
};
use meridian_control::metering::{HOUR_MS, usage_records};
use meridian_control::store::vm_sample::SampleSpan;
use meridian_control::testing::TestDb;
use meridian_control::vm_metrics::MetricWindow;
use meridian_control::{Actor, Control, OpContext};
use meridian_core::Signup;
use meridian_core::pricing::{Money, UsageKind, hourly_rate, rate};
use meridian_core::resource::{VmCreate, VmCreateForm, VmSize};
use std::sync::Arc;

async fn running_vm(breakout: bool) -> (TestDb, Control, OpContext, String) {
    let db = TestDb::fresh().await;
    let driver = Arc::new(SimulatedDriver::new(SimTiming::instant(), 3));
    let control = Control::new(db.store.clone(), driver).await.unwrap();
    let ctx = signed_up(&control, "Meter Co", "ops@meter.example").await;
    // Two zones, so the VM has a peer zone to send backbone traffic to.
    for zone in ["fra1", "nyc1"] {
        let vdc = control.vdc_create(&ctx, zone, zone).await.unwrap().id;
        let create = VmCreate::parse(&VmCreateForm {
            name: format!("app-{zone}"),
            zone: zone.into(),
            template: "debian-12".into(),
            size: "s".into(),
            breakout: if breakout { "on".into() } else { String::new() },
            ..VmCreateForm::default()
        })
        .unwrap();
        control.vm_create(&ctx, vdc, create).await.unwrap();
    }
    control.job_drain("m").await.unwrap();
    let vm = vm_in(&control, &ctx, "fra1").await;
    (db, control, ctx, vm.to_string())
}

/// The owner of a new tenant, signed up.
async fn signed_up(control: &Control, tenant: &str, email: &str) -> OpContext {
    let signup = Signup::parse(tenant, email, "a long enough secret").unwrap();
    let account = control
        .account_signup(&OpContext::anonymous("t"), signup)
        .await
        .unwrap();
    OpContext {
        actor: Actor::User {
            user_id: account.user_id,
            tenant_id: account.tenant_id,
            role: account.role,
        },
        request_id: "m".into(),
        client: None,
        via: None,
    }
}

/// A running VM metered from `since` after the start of last month until now (`now`), and the
/// bounds of last month, this month and the next.
async fn metered_since_last_month(
    breakout: bool,
    since: i64,
) -> (TestDb, Control, OpContext, String, i64, [i64; 3]) {
    use meridian_core::calendar::month_bounds;
    let (db, control, ctx, vm) = running_vm(breakout).await;
    let now = meridian_control::store::now_ms();
    let (this_month, next_month) = month_bounds(now);
    let last_month = month_bounds(this_month - 1).0;
    db.meter_from(Some(&vm), last_month + since).await;
    control.meter_tick(now).await.unwrap();
    (db, control, ctx, vm, now, [last_month, this_month, next_month])
}

/// The id of the tenant's VM in `zone`.
async fn vm_in(control: &Control, ctx: &OpContext, zone: &str) -> meridian_core::id::VmId {
    control
        .vm_list(ctx)
        .await
        .unwrap()
        .into_iter()
        .find(|v| v.zone == zone)
        .unwrap()
        .id
}

/// A whole hour a few hours ago: realistic, and anything metered later up to now is short.
fn recent_hour() -> i64 {
    (meridian_control::store::now_ms() / HOUR_MS - 3) * HOUR_MS
}

#[tokio::test]
async fn ninety_minutes_of_running_are_metered_per_hour_and_rated_exactly() {
    let (db, control, ctx, vm) = running_vm(true).await;
    let hour = recent_hour(); // the meter's clock is injected

    db.meter_from(Some(&vm), hour + 30 * 60_000).await;
    control.meter_tick(hour + 2 * HOUR_MS).await.unwrap();

    let rows = control.usage_list(&ctx, hour, hour + 2 * HOUR_MS).await.unwrap();
    let seconds = |kind: &str, hour_start: i64| -> i64 {
        rows.iter()
            .filter(|r| r.kind == kind && r.hour_start == hour_start)
            .map(|r| r.quantity)
            .sum()
    };
    assert_eq!(
        seconds("vm_seconds", hour),
        1_800,
        "the half hour before the boundary"
    );
    assert_eq!(
        seconds("vm_seconds", hour + HOUR_MS),
        3_600,
        "the whole next hour"
    );
    assert_eq!(
        seconds("public_ip_seconds", hour) + seconds("public_ip_seconds", hour + HOUR_MS),
        5_400
    );
    assert_eq!(
        seconds("disk_gib_seconds", hour) + seconds("disk_gib_seconds", hour + HOUR_MS),
        50 * 5_400
    );
    assert!(
        seconds("bytes_backbone", hour) > 0 && seconds("bytes_internet", hour) > 0,
        "traffic is metered"
    );
    assert!(
        rows.iter().any(|r| r.kind == "bytes_edge"),
        "traffic is attributed to backbone edges"
    );

    let invoice = control
        .usage_invoice(&ctx, hour, hour + 2 * HOUR_MS)
        .await
        .unwrap();
    let size = VmSize::named("s").unwrap();
    let vm_line = invoice
        .lines()
        .iter()
        .find(|l| matches!(l.kind, UsageKind::VmHours { .. }))
        .unwrap();
    assert_eq!(vm_line.quantity, 5_400);
    let hour_and_a_half = Money::from_micros(hourly_rate(&size).micros() * 3 / 2);
    assert_eq!(
        vm_line.amount, hour_and_a_half,
        "90 minutes cost exactly 1.5 hours"
    );
    // The invoice reconciles: its total is the sum of its lines, and its lines are exactly the
    // rated usage records.
    let sum = Money::checked_sum(invoice.lines().iter().map(|l| l.amount)).unwrap();
    assert_eq!(invoice.total(), sum);
    assert_eq!(
        invoice.lines(),
        rate(&usage_records(&rows).unwrap()).unwrap().as_slice()
    );
    for kind in [UsageKind::BytesBackbone, UsageKind::BytesInternet] {
        let line = invoice.lines().iter().find(|l| l.kind == kind).unwrap();
        assert!(line.quantity > 0);
        assert_eq!(line.amount, Money::ZERO, "bandwidth is never charged");
    }
}

#[tokio::test]
async fn a_stopped_vm_pays_for_its_disk_only_and_metering_stops_at_destroy() {
    let (db, control, ctx, vm) = running_vm(false).await;
    control.vm_stop(&ctx, vm.parse().unwrap()).await.unwrap();
    control.job_drain("m").await.unwrap();
    let hour = recent_hour();
    db.meter_from(Some(&vm), hour).await;
    control.meter_tick(hour + HOUR_MS).await.unwrap();
    let rows = control.usage_list(&ctx, hour, hour + HOUR_MS).await.unwrap();
    assert!(rows.iter().all(|r| r.kind == "disk_gib_seconds"), "{rows:?}");
    assert_eq!(rows.iter().map(|r| r.quantity).sum::<i64>(), 50 * 3_600);

    control.vm_destroy(&ctx, vm.parse().unwrap()).await.unwrap();
    control.job_drain("m").await.unwrap();
    assert_eq!(
        control.meter_tick(hour + 5 * HOUR_MS).await.unwrap(),
        0,
        "a destroyed VM is no longer metered"
    );
}

#[tokio::test]
async fn the_invoice_csv_reconciles_with_the_invoice() {
    let (db, control, ctx, vm) = running_vm(true).await;
    let now = meridian_control::store::now_ms();
    let hour = (now / HOUR_MS - 1) * HOUR_MS;
    db.meter_from(Some(&vm), hour).await;
    control.meter_tick(now).await.unwrap();
    let bill = control.billing_month(&ctx, now).await.unwrap();
    let month = meridian_core::calendar::month_label(now);
    let csv = control.billing_invoice_csv(&ctx, &month, now).await.unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(
        rows.len(),
        bill.invoice.lines().len() + 1,
        "one row per line plus the total"
    );
    let amount = |row: &str| -> i64 {
        let text = row.rsplit(',').next().unwrap();
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        let frac = format!("{frac:0<6}");
        whole.parse::<i64>().unwrap() * 1_000_000 + frac[..6].parse::<i64>().unwrap()
    };
    let lines: i64 = rows[..rows.len() - 1].iter().map(|r| amount(r)).sum();
    assert_eq!(
        lines,
        amount(rows[rows.len() - 1]),
        "the CSV total is the sum of its lines"
    );
    assert_eq!(lines, bill.invoice.total().micros(), "and equals the invoice");
    let usage = control.billing_usage_csv(&ctx, &month, now).await.unwrap();
    assert!(
        usage
            .lines()
            .any(|l| l.contains(",vm_seconds,") && l.contains(&vm))
    );
}

#[tokio::test]
async fn one_projection_adds_the_rest_of_the_month_as_the_vms_stand_and_names_each_vms_charges() {
    use meridian_core::calendar::month_bounds;
    use meridian_core::pricing::{Standing, UsagePeriod, project_unchanged};
    let (db, control, ctx, vm) = running_vm(true).await;
    let now = meridian_control::store::now_ms();
    // Only the fra1 VM was metered, for the last hour or so.
    db.meter_from(Some(&vm), (now / HOUR_MS - 1) * HOUR_MS).await;
    control.meter_tick(now).await.unwrap();
    let bill = control.billing_month(&ctx, now).await.unwrap();
    let so_far = bill.invoice.total();
    assert!(so_far > Money::ZERO);

    // The projection is the month so far plus both VMs, running with their addresses, for the
    // rest of the month: not an hour's pace stretched over the days before they existed.
    let standing = Standing {
        size: VmSize::named("s").unwrap(),
        running: true,
        public_ip: true,
        dedicated: false,
    };
    let rest = |from: i64| UsagePeriod {
        start_unix_ms: from - from.rem_euclid(1000),
        end_unix_ms: month_bounds(now).1,
    };
    let expected = project_unchanged(so_far, &[standing, standing], rest(now)).unwrap();
    assert_eq!(bill.projected, expected);
    // The overview, computed a moment later, agrees to the cent.
    let overview = control.overview(&ctx).await.unwrap();
    assert_eq!(overview.spend_month_to_date, so_far);
    assert_eq!(
        overview.spend_projected.format_cents(),
        bill.projected.format_cents()
    );

    // A stopped VM projects its disk and address only.
    let stopped_id = vm_in(&control, &ctx, "nyc1").await;
    control.vm_stop(&ctx, stopped_id).await.unwrap();
    control.job_drain("m").await.unwrap();
    let later = meridian_control::store::now_ms();
    let bill = control.billing_month(&ctx, later).await.unwrap();
    let stopped = Standing {
        running: false,
        ..standing
    };
    assert_eq!(
        bill.projected,
        project_unchanged(bill.invoice.total(), &[standing, stopped], rest(later)).unwrap()
    );

    // Each VM's charges are named, and they add up to the invoice (bandwidth is free), give or
    // take the rounding of each line to the micro-dollar.
    let names: Vec<_> = bill.by_vm.iter().map(|c| c.name.clone().unwrap()).collect();
    assert!(names.contains(&"app-fra1".to_owned()), "{names:?}");
    let charged: i64 = bill.by_vm.iter().map(|c| c.amount.micros()).sum();
    let lines = 3 * i64::try_from(bill.by_vm.len()).unwrap();
    assert!(
        (charged - bill.invoice.total().micros()).abs() <= lines,
        "{charged} against {:?}",
        bill.invoice.total()
    );
    let fra1 = bill.by_vm.iter().find(|c| c.vm_id == vm).unwrap();
    assert!(fra1.running_secs >= 3600 && !fra1.destroyed, "{fra1:?}");
}

#[tokio::test]
async fn past_months_are_final_invoices_that_reconcile_and_future_months_do_not_exist() {
    use meridian_core::calendar::month_label;
    // Metered from ten days into last month until now: two months of bills.
    let (_db, control, ctx, _vm, now, [last_month, _, next_month]) =
        metered_since_last_month(false, 10 * 24 * HOUR_MS).await;
    let months = control.billing_months(&ctx, now).await.unwrap();
    assert_eq!(months, [month_label(now), month_label(last_month)]);
    let past = control.billing_invoice(&ctx, &months[1], now).await.unwrap();
    assert_eq!(past.projected, past.invoice.total(), "a past month is final");
    let hours = past
        .invoice
        .lines()
        .iter()
        .find(|l| l.description.starts_with("VM "))
        .map(|l| l.quantity.clone());
    assert!(
        hours.is_some(),
        "the VM's hours are billed in the month they ran: {:?}",
        past.invoice
    );
    let sum = Money::checked_sum(past.invoice.lines().iter().map(|l| l.amount)).unwrap();
    assert_eq!(sum, past.invoice.total());
    let csv = control.billing_invoice_csv(&ctx, &months[1], now).await.unwrap();
    assert!(csv.ends_with(&format!(
        "\"Total\",,,,{}\n",
        past.invoice.total().format_precise().trim_start_matches('$')
    )));
    let future = control
        .billing_invoice(&ctx, &month_label(next_month), now)
        .await
        .unwrap_err();
    assert!(matches!(future, meridian_control::Error::NotFound), "{future:?}");
    let bad = control.billing_invoice(&ctx, "2026-13", now).await.unwrap_err();
    assert!(matches!(bad, meridian_control::Error::Invalid(_)), "{bad:?}");
}

/// Hourly usage is kept for 13 months (issue 24): when a month falls out of that, its hours are
/// deleted a few at a time, and its invoice, charges by VM and place in the list of months stay as
/// they were (they read the daily and monthly sums); its usage CSV says why it is not there.
#[tokio::test]
async fn hours_past_the_retention_are_pruned_and_their_months_bills_stay_the_same() {
    use meridian_core::calendar::{month_bounds, month_label};
    let (db, control, ctx, _vm, _now, [last_month, this_month, _]) =
        metered_since_last_month(false, 10 * 24 * HOUR_MS).await;
    // A year on, this month is the oldest whose hours are kept: last month's fall out.
    let mut later = this_month;
    for _ in 0..12 {
        later = month_bounds(later).1;
    }
    let later = later + HOUR_MS;
    let (last, this) = (month_label(last_month), month_label(this_month));
    let before = control.billing_invoice(&ctx, &last, later).await.unwrap();
    let months = control.billing_months(&ctx, later).await.unwrap();
    assert!(before.invoice.total() > Money::ZERO);
    assert!(
        !control
            .usage_list(&ctx, last_month, this_month)
            .await
            .unwrap()
            .is_empty()
    );
    let tenant = ctx.tenant().unwrap().to_string();
    let traffic = |from, to| db.store.traffic_by_zone(&tenant, from, to, HOUR_MS);
    assert!(!traffic(last_month, this_month).await.unwrap().is_empty());
    let kept_hours = control.usage_list(&ctx, this_month, later).await.unwrap();

    // A prune deletes at most what it is given, per table.
    let kept_from = meridian_control::metering::hourly_usage_kept_from(later);
    assert_eq!(kept_from, this_month);
    let mut pruned = db.store.usage_prune(kept_from, 3).await.unwrap();
    assert_eq!(pruned, 6, "three rows of each table");
    loop {
        let rows = control.usage_prune(later).await.unwrap();
        if rows == 0 {
            break;
        }
        pruned += rows;
    }
    assert!(pruned > 0);
    assert!(
        control
            .usage_list(&ctx, last_month, this_month)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(traffic(last_month, this_month).await.unwrap().is_empty());
    assert_eq!(
        control.usage_list(&ctx, this_month, later).await.unwrap(),
        kept_hours
    );
    assert!(!traffic(this_month, later).await.unwrap().is_empty());

    let after = control.billing_invoice(&ctx, &last, later).await.unwrap();
    assert_eq!(after.invoice, before.invoice);
    assert_eq!(after.by_vm, before.by_vm);
    assert!(!after.hourly_kept);
    assert_eq!(control.billing_months(&ctx, later).await.unwrap(), months);
    let csv = control.billing_usage_csv(&ctx, &last, later).await.unwrap_err();
    assert!(
        matches!(&csv, meridian_control::Error::Invalid(fields) if fields.to_string().contains("kept for 13 months")),
        "{csv:?}"
    );
    let bill = control.billing_invoice(&ctx, &this, later).await.unwrap();
    assert!(bill.hourly_kept);
    let csv = control.billing_usage_csv(&ctx, &this, later).await.unwrap();
    assert_eq!(
        csv.lines().count(),
        kept_hours.len() + 1,
        "a line per hour and kind, and the header"
    );
}

/// A month's totals come from the daily sums kept beside the hourly rows (issue 24): the same
/// figures as summing every hour, for this month and the last, and a range that is not whole
/// days still reads the hours.
#[tokio::test]
async fn month_totals_from_the_daily_sums_equal_the_sum_of_every_hour() {
    let (db, control, ctx, _vm, now, [last_month, this_month, next_month]) =
        metered_since_last_month(true, 10 * 24 * HOUR_MS + 17 * 60_000).await;
    let tenant = ctx.tenant().unwrap().to_string();
    for (from, to) in [
        (last_month, this_month),
        (this_month, next_month),
        (last_month, next_month),
    ] {
        let daily = db.store.usage_totals(&tenant, from, to).await.unwrap();
        let hourly = db.store.usage_hourly_totals(&tenant, from, to).await.unwrap();
        assert!(!hourly.is_empty(), "usage was metered");
        assert_eq!(daily, hourly, "{from}..{to}");
    }
    // Not whole days: from the hours, so the first partial day is cut where asked.
    let (from, to) = (last_month + 10 * 24 * HOUR_MS + 5 * HOUR_MS, this_month);
    let part = db.store.usage_totals(&tenant, from, to).await.unwrap();
    assert_eq!(
        part,
        db.store.usage_hourly_totals(&tenant, from, to).await.unwrap()
    );
    let whole = db
        .store
        .usage_totals(&tenant, last_month, this_month)
        .await
        .unwrap();
    let seconds = |rows: &[meridian_core::view::MeteredHour]| -> i64 {
        rows.iter()
            .filter(|r| r.kind == "vm_seconds")
            .map(|r| r.quantity)
            .sum()
    };
    assert_eq!(
        seconds(&whole) - seconds(&part),
        5 * 3600 - 17 * 60,
        "the cut-off hours"
    );
    // The staff list prices every listed tenant's month in one query: the same spend as the
    // tenant's own invoice of the month, and as the tenant's page.
    let invoice = control.usage_invoice(&ctx, this_month, next_month).await.unwrap();
    assert!(
        invoice.total() > meridian_core::pricing::Money::ZERO,
        "{invoice:?}"
    );
    let (_, staff) =
        meridian_control::testing::as_new_staff(&control, "sam@meridian.example", "support").await;
    let listed = control
        .staff_tenants(&staff, "Meter Co", "newest", 0, now)
        .await
        .unwrap()
        .tenants;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].spend, invoice.total());
    let detail = control
        .staff_tenant_view(&staff, ctx.tenant().unwrap(), now)
        .await
        .unwrap();
    assert_eq!(detail.summary.spend, invoice.total());
}

/// The simulator's VMs with a real backend's traffic: nothing made up, counters the test sets.
struct Counting {
    inner: SimulatedDriver,
    counters: std::sync::Mutex<Traffic>,
    port: std::sync::Mutex<Option<VmCounters>>,
}

impl Counting {
    fn set(&self, nyc1: u64, internet: u64) {
        *self.counters.lock().unwrap() = Traffic {
            backbone: vec![(meridian_core::zone::ZoneId::parse("nyc1").unwrap(), nyc1)],
            internet,
        };
    }
}

#[async_trait::async_trait]
impl Driver for Counting {
    fn name(&self) -> &'static str {
        "Counting"
    }
    fn is_simulated(&self) -> bool {
        false
    }
    async fn hosts(&self) -> Vec<HostSpec> {
        self.inner.hosts().await
    }
    fn public_addresses(&self, zone: meridian_core::zone::ZoneId) -> Vec<std::net::Ipv4Addr> {
        self.inner.public_addresses(zone)
    }
    async fn disk_create(&self, vm: &VmSpec) -> Result<(), DriverError> {
        self.inner.disk_create(vm).await
    }
    async fn disk_resize(&self, vm: &VmSpec, disk_gib: u64) -> Result<(), DriverError> {
        self.inner.disk_resize(vm, disk_gib).await
    }
    async fn disk_delete(&self, vm: &VmSpec) -> Result<(), DriverError> {
        self.inner.disk_delete(vm).await
    }
    async fn vm_boot(&self, vm: &VmSpec) -> Result<(), DriverError> {
        self.inner.vm_boot(vm).await
    }
    async fn vm_power_off(&self, vm: &VmSpec) -> Result<(), DriverError> {
        self.inner.vm_power_off(vm).await
    }
    async fn vm_reboot(&self, vm: &VmSpec) -> Result<(), DriverError> {
        self.inner.vm_reboot(vm).await
    }
    async fn network_attach(&self, vm: &VmSpec) -> Result<(), DriverError> {
        self.inner.network_attach(vm).await
    }
    async fn network_detach(&self, vm: &VmSpec) -> Result<(), DriverError> {
        self.inner.network_detach(vm).await
    }
    async fn breakout_attach(&self, vm: &VmSpec) -> Result<(), DriverError> {
        self.inner.breakout_attach(vm).await
    }
    async fn breakout_detach(&self, vm: &VmSpec) -> Result<(), DriverError> {
        self.inner.breakout_detach(vm).await
    }
    async fn console(&self, vm: &VmSpec) -> Result<Vec<String>, DriverError> {
        self.inner.console(vm).await
    }
    async fn containers(&self, vm: &VmSpec) -> Result<Vec<meridian_core::stack::Container>, DriverError> {
        self.inner.containers(vm).await
    }
    async fn present(&self, host: uuid::Uuid) -> Result<Vec<Presence>, DriverError> {
        self.inner.present(host).await
    }
    async fn discard(&self, host: uuid::Uuid, id: uuid::Uuid) -> Result<(), DriverError> {
        self.inner.discard(host, id).await
    }
    fn probe(&self, edge: &meridian_core::backbone::Edge) -> meridian_core::backbone::ProbeSample {
        self.inner.probe(edge)
    }
    fn edge_load(&self, edge: &meridian_core::backbone::Edge, utc_ms: i64) -> f64 {
        self.inner.edge_load(edge, utc_ms)
    }
    fn traffic(&self, _: &VmSpec, _: &[meridian_core::zone::ZoneId], _: u64, _: &TrafficCaps) -> Traffic {
        Traffic::default()
    }
    async fn sent(&self, _vm: &VmSpec) -> Result<Option<Traffic>, DriverError> {
        Ok(Some(self.counters.lock().unwrap().clone()))
    }
    async fn counters(&self, _vm: &VmSpec) -> Result<Option<VmCounters>, DriverError> {
        Ok(self.port.lock().unwrap().clone())
    }
}

/// The tenant's metered bytes by kind over every hour: (backbone, internet, on each backbone
/// edge of the path from fra1 to nyc1 — the same on every one).
async fn metered_bytes(control: &Control, ctx: &OpContext) -> (i64, i64, i64) {
    let rows = control.usage_list(ctx, 0, i64::MAX / 2).await.unwrap();
    let sum = |kind: &str, resource: Option<&str>| -> i64 {
        rows.iter()
            .filter(|r| r.kind == kind && resource.is_none_or(|id| r.resource_id == id))
            .map(|r| r.quantity)
            .sum()
    };
    let path = meridian_core::backbone::BACKBONE
        .path(
            meridian_core::zone::ZoneId::parse("fra1").unwrap(),
            meridian_core::zone::ZoneId::parse("nyc1").unwrap(),
            &meridian_core::backbone::Cut::none(),
        )
        .unwrap();
    let on_edges: std::collections::BTreeSet<i64> = path
        .edges
        .iter()
        .map(|e| {
            let edge = meridian_core::backbone::BACKBONE.edge(*e).unwrap();
            sum("bytes_edge", Some(&format!("{}-{}", edge.a, edge.b)))
        })
        .collect();
    assert_eq!(
        on_edges.len(),
        1,
        "every edge of the path carries the bytes: {on_edges:?}"
    );
    (
        sum("bytes_backbone", None),
        sum("bytes_internet", None),
        on_edges.into_iter().next().unwrap(),
    )
}

/// A tenant on a fresh database whose VMs run on a [`Counting`] backend.
async fn counting_tenant() -> (TestDb, Arc<Counting>, Control, OpContext) {
    let db = TestDb::fresh().await;
    let driver = Arc::new(Counting {
        inner: SimulatedDriver::new(SimTiming::instant(), 3),
        counters: std::sync::Mutex::default(),
        port: std::sync::Mutex::default(),
    });
    let control = Control::new(db.store.clone(), driver.clone()).await.unwrap();
    let signup = Signup::parse("Count Co", "ops@count.example", "a long enough secret").unwrap();
    let account = control
        .account_signup(&OpContext::anonymous("t"), signup)
        .await
        .unwrap();
    let ctx = meridian_control::testing::as_user(&account);
    (db, driver, control, ctx)
}

#[tokio::test]
async fn a_real_backends_counters_are_metered_by_their_difference_never_twice() {
    let (db, driver, control, ctx) = counting_tenant().await;
    for zone in ["fra1", "nyc1"] {
        let vdc = control.vdc_create(&ctx, zone, zone).await.unwrap().id;
        let create = VmCreate::parse(&VmCreateForm {
            name: format!("app-{zone}"),
            zone: zone.into(),
            template: "debian-12".into(),
            size: "s".into(),
            ..VmCreateForm::default()
        })
        .unwrap();
        control.vm_create(&ctx, vdc, create).await.unwrap();
    }
    control.job_drain("m").await.unwrap();
    let vm = vm_in(&control, &ctx, "fra1").await.to_string();
    let hour = recent_hour();
    db.meter_from(Some(&vm), hour).await;

    // The first reading: everything counted so far.
    driver.set(10_000, 500);
    control.meter_tick(hour + 60_000).await.unwrap();
    assert_eq!(metered_bytes(&control, &ctx).await, (10_000, 500, 10_000));
    // The next: only what was added (the internet counter did not move).
    driver.set(15_000, 500);
    control.meter_tick(hour + 120_000).await.unwrap();
    assert_eq!(metered_bytes(&control, &ctx).await, (15_000, 500, 15_000));
    // Nothing new: nothing metered, however many ticks.
    control.meter_tick(hour + 180_000).await.unwrap();
    assert_eq!(metered_bytes(&control, &ctx).await, (15_000, 500, 15_000));
    // A counter below its last reading was reset on its host: all of it is new.
    driver.set(2_000, 700);
    control.meter_tick(hour + 240_000).await.unwrap();
    assert_eq!(metered_bytes(&control, &ctx).await, (17_000, 700, 17_000));
    // Still at $0.00.
    let invoice = control.usage_invoice(&ctx, hour, hour + HOUR_MS).await.unwrap();
    assert!(
        invoice
            .lines()
            .iter()
            .filter(|l| matches!(l.kind, UsageKind::BytesBackbone | UsageKind::BytesInternet))
            .all(|l| l.amount == Money::ZERO),
        "{invoice:?}"
    );
}

#[tokio::test]
async fn a_dedicated_vm_pays_its_premium_while_it_runs_on_its_own_line() {
    let (db, control, ctx, _) = running_vm(false).await;
    let vdc = control.vdc_create(&ctx, "own-ams1", "ams1").await.unwrap().id;
    let create = VmCreate::parse(&VmCreateForm {
        name: "alone".into(),
        zone: "ams1".into(),
        template: "debian-12".into(),
        size: "s".into(),
        dedicated: "on".into(),
        ..VmCreateForm::default()
    })
    .unwrap();
    let vm = control
        .vm_create(&ctx, vdc, create)
        .await
        .unwrap()
        .vm_id
        .to_string();
    control.job_drain("m").await.unwrap();
    let hour = recent_hour();
    db.meter_from(Some(&vm), hour).await;
    control.meter_tick(hour + HOUR_MS).await.unwrap();

    let rows = control.usage_list(&ctx, hour, hour + HOUR_MS).await.unwrap();
    let of = |kind: &str| -> i64 {
        rows.iter()
            .filter(|r| r.kind == kind && r.resource_id == vm)
            .map(|r| r.quantity)
            .sum()
    };
    assert_eq!(of("vm_seconds"), 3_600);
    assert_eq!(of("dedicated_seconds"), 3_600);
    let invoice = control.usage_invoice(&ctx, hour, hour + HOUR_MS).await.unwrap();
    let size = VmSize::named("s").unwrap();
    let line = invoice
        .lines()
        .iter()
        .find(|l| matches!(l.kind, UsageKind::DedicatedHours { .. }))
        .expect("the dedicated host has a line");
    assert_eq!(line.amount, meridian_core::pricing::dedicated_premium(&size));
    assert_eq!(line.amount.micros() * 2, hourly_rate(&size).micros());
    // The VM's own charges hold it too.
    let charges = control.usage_by_vm(&ctx, hour, hour + HOUR_MS).await.unwrap();
    let mine = charges.iter().find(|c| c.vm_id == vm).expect("its charges");
    let disk = invoice
        .lines()
        .iter()
        .find(|l| l.kind == UsageKind::DiskGibHours)
        .map(|l| l.amount)
        .unwrap();
    let compute_and_premium = hourly_rate(&size).checked_add(line.amount).unwrap();
    assert_eq!(mine.amount, compute_and_premium.checked_add(disk).unwrap());

    // Stopped, it pays for its disk only: no premium.
    control.vm_stop(&ctx, vm.parse().unwrap()).await.unwrap();
    control.job_drain("m").await.unwrap();
    let next = hour + HOUR_MS;
    db.meter_from(Some(&vm), next).await;
    control.meter_tick(next + HOUR_MS).await.unwrap();
    let rows = control.usage_list(&ctx, next, next + HOUR_MS).await.unwrap();
    assert!(
        !rows
            .iter()
            .any(|r| r.resource_id == vm && r.kind == "dedicated_seconds"),
        "{rows:?}"
    );
}

/// The start of the minute `minutes` before now.
fn minutes_ago(minutes: i64) -> i64 {
    (meridian_control::store::now_ms() / 60_000 - minutes) * 60_000
}

#[tokio::test]
async fn a_vms_graphs_show_each_minute_it_ran_and_agree_with_its_metered_traffic() {
    let (db, control, ctx, vm) = running_vm(true).await;
    let id: meridian_core::id::VmId = vm.parse().unwrap();
    let start = minutes_ago(30);
    db.meter_from(Some(&vm), start).await;
    for minute in 1..=30 {
        control.meter_tick(start + minute * 60_000).await.unwrap();
    }

    let hour = control.vm_metrics(&ctx, id, MetricWindow::Hour).await.unwrap();
    assert!(hour.simulated, "the simulator's figures say so");
    assert_eq!(hour.points.len(), 30, "a point for each minute it ran: {hour:?}");
    assert!(hour.points.iter().all(|p| p.seconds == 60));
    assert!(
        hour.points.iter().all(|p| (10..=970).contains(&p.cpu_permille)),
        "CPU within the simulation's 1–97 %: {hour:?}"
    );
    assert!(
        hour.points
            .iter()
            .all(|p| p.received_bytes_per_second > 0 && p.sent_bytes_per_second > 0)
    );
    assert!(
        hour.points
            .windows(2)
            .any(|w| w[0].cpu_permille != w[1].cpu_permille),
        "the load moves from minute to minute"
    );
    // What the graph says it sent is what the bandwidth page bills (to the byte, less what
    // rounding to whole bytes a second drops).
    let rows = control.usage_list(&ctx, 0, i64::MAX / 2).await.unwrap();
    let metered: i64 = rows
        .iter()
        .filter(|r| r.resource_id == vm && matches!(r.kind.as_str(), "bytes_backbone" | "bytes_internet"))
        .map(|r| r.quantity)
        .sum();
    let charted: u64 = hour.points.iter().map(|p| p.sent_bytes_per_second * 60).sum();
    let metered = u64::try_from(metered).unwrap();
    assert!(
        charted <= metered && metered - charted < 30 * 60,
        "{charted} charted, {metered} metered"
    );

    let day = control.vm_metrics(&ctx, id, MetricWindow::Day).await.unwrap();
    assert!(
        (1..=2).contains(&day.points.len()),
        "the half hour falls in one or two hours: {day:?}"
    );
    assert_eq!(day.points.iter().map(|p| p.seconds).sum::<u32>(), 1_800);

    // Another tenant's VM is not found, exactly as one that does not exist.
    let other = control
        .account_signup(
            &OpContext::anonymous("t"),
            Signup::parse("Other Co", "ops@other.example", "a long enough secret").unwrap(),
        )
        .await
        .unwrap();
    let stranger = meridian_control::testing::as_user(&other);
    let refused = control
        .vm_metrics(&stranger, id, MetricWindow::Hour)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, meridian_control::Error::NotFound),
        "{refused:?}"
    );
    assert!(matches!(
        MetricWindow::parse("week"),
        Err(meridian_control::Error::Invalid(_))
    ));

    // A destroyed VM leaves no samples behind.
    control.vm_destroy(&ctx, id).await.unwrap();
    control.job_drain("m").await.unwrap();
    for span in [SampleSpan::Minute, SampleSpan::Hour] {
        assert!(db.store.vm_samples(&vm, span, 0).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_vms_graph_keeps_an_hour_of_minutes_however_long_it_runs() {
    let (db, control, ctx, vm) = running_vm(false).await;
    let start = minutes_ago(150);
    db.meter_from(Some(&vm), start).await;
    for minute in 1..=150 {
        control.meter_tick(start + minute * 60_000).await.unwrap();
    }
    let kept = db.store.vm_samples(&vm, SampleSpan::Minute, 0).await.unwrap();
    assert_eq!(kept.len(), 60, "the ring holds an hour");
    assert_eq!(
        kept.first().unwrap().start_ms,
        start + 90 * 60_000,
        "the last hour's minutes"
    );
    let hours = db.store.vm_samples(&vm, SampleSpan::Hour, 0).await.unwrap();
    assert_eq!(hours.iter().map(|h| h.seconds).sum::<i64>(), 150 * 60);
    let shown = control
        .vm_metrics(&ctx, vm.parse().unwrap(), MetricWindow::Hour)
        .await
        .unwrap();
    // 59 when a minute turned since the ticks.
    assert!((59..=60).contains(&shown.points.len()), "{}", shown.points.len());
}

#[tokio::test]
async fn a_real_backends_cpu_and_port_counters_become_its_graph() {
    let (db, driver, control, ctx) = counting_tenant().await;
    let vdc = control.vdc_create(&ctx, "fra1", "fra1").await.unwrap().id;
    let create = VmCreate::parse(&VmCreateForm {
        name: "measured".into(),
        zone: "fra1".into(),
        template: "debian-12".into(),
        size: "m".into(),
        ..VmCreateForm::default()
    })
    .unwrap();
    let id = meridian_core::id::VmId(control.vm_create(&ctx, vdc, create).await.unwrap().vm_id);
    control.job_drain("m").await.unwrap();
    let vcpus = u64::try_from(control.vm_view(&ctx, id).await.unwrap().vcpus).unwrap();
    let start = minutes_ago(3);
    db.meter_from(Some(&id.to_string()), start).await;
    let set = |cpu_ms: u64, received_bytes: u64, sent_bytes: u64| {
        *driver.port.lock().unwrap() = Some(VmCounters {
            cpu_ms,
            received_bytes,
            sent_bytes,
        });
    };
    // The first minute: a quarter of its vCPUs (counted since its QEMU started).
    set(vcpus * 15_000, 600_000, 120_000);
    control.meter_tick(start + 60_000).await.unwrap();
    // The second: three quarters, and 1,000 bytes a second each way more.
    set(vcpus * 60_000, 660_000, 180_000);
    control.meter_tick(start + 120_000).await.unwrap();
    // The third: its QEMU restarted (a reboot): the counters began again.
    set(vcpus * 6_000, 6_000, 0);
    control.meter_tick(start + 180_000).await.unwrap();

    let shown = control.vm_metrics(&ctx, id, MetricWindow::Hour).await.unwrap();
    assert!(!shown.simulated, "measured figures are never called simulated");
    let figures: Vec<(u32, u64, u64)> = shown
        .points
        .iter()
        .map(|p| {
            (
                p.cpu_permille,
                p.received_bytes_per_second,
                p.sent_bytes_per_second,
            )
        })
        .collect();
    assert_eq!(figures, [(750, 1_000, 1_000), (100, 100, 0)]);
}

#[tokio::test]
async fn a_tick_meters_hundreds_of_vms_of_many_tenants_each_exactly() {
    // More VMs than one metering transaction takes (250), a tenant's split across two of them,
    // and each tenant's VMs in two zones, so they share rows (each backbone edge's bytes).
    let db = TestDb::fresh().await;
    let driver = Arc::new(SimulatedDriver::new(SimTiming::instant(), 3));
    let control = Control::new(db.store.clone(), driver).await.unwrap();
    let mut tenants = Vec::new();
    for t in 0..3 {
        let ctx = signed_up(&control, &format!("Fleet {t}"), &format!("ops{t}@fleet.example")).await;
        let big = meridian_core::resource::Quota {
            max_vms: 1_000,
            max_vcpus: 1_000,
            max_memory_mib: 1 << 30,
            max_public_ips: 0,
        };
        db.store
            .quota_set_limits(&ctx.tenant().unwrap().to_string(), &big)
            .await
            .unwrap();
        let mut creates = Vec::new();
        for zone in ["fra1", "nyc1"] {
            let vdc = control.vdc_create(&ctx, zone, zone).await.unwrap().id;
            for n in 0..55 {
                let create = VmCreate::parse(&VmCreateForm {
                    name: format!("node-{zone}-{n}"),
                    zone: zone.into(),
                    template: "debian-12".into(),
                    size: "xs".into(),
                    ..VmCreateForm::default()
                })
                .unwrap();
                creates.push((vdc, create));
            }
        }
        control.vm_create_many(&ctx, creates).await.unwrap();
        tenants.push(ctx);
    }
    control.job_drain("m").await.unwrap();
    let hour = recent_hour();
    db.meter_from(None, hour + 20 * 60_000).await;

    assert_eq!(control.meter_tick(hour + 50 * 60_000).await.unwrap(), 330);

    for ctx in &tenants {
        let vms = control.vm_list(ctx).await.unwrap();
        assert_eq!(vms.len(), 110);
        let rows = control.usage_list(ctx, hour, hour + HOUR_MS).await.unwrap();
        for vm in &vms {
            let ran: i64 = rows
                .iter()
                .filter(|r| r.kind == "vm_seconds" && r.resource_id == vm.id.to_string())
                .map(|r| r.quantity)
                .sum();
            assert_eq!(ran, 1_800, "{} ran the half hour, metered once", vm.name);
            let graph = db
                .store
                .vm_samples(&vm.id.to_string(), SampleSpan::Minute, hour)
                .await
                .unwrap();
            assert_eq!(graph.len(), 1, "{}'s minute ending at the tick", vm.name);
            assert_eq!(graph[0].seconds, 1_800);
        }
        // The day's sums hold exactly what the hours hold, edges' shared rows included.
        let day = hour - hour.rem_euclid(24 * HOUR_MS);
        let daily = control.usage_totals(ctx, day, day + 24 * HOUR_MS).await.unwrap();
        let hourly = db
            .store
            .usage_hourly_totals(&ctx.tenant().unwrap().to_string(), day, day + 24 * HOUR_MS)
            .await
            .unwrap();
        assert_eq!(
            daily
                .iter()
                .map(|r| (&r.kind, &r.size, r.quantity))
                .collect::<Vec<_>>(),
            hourly
                .iter()
                .map(|r| (&r.kind, &r.size, r.quantity))
                .collect::<Vec<_>>()
        );
        assert!(
            rows.iter().any(|r| r.kind == "bytes_edge"),
            "its zones' VMs sent to each other"
        );
        // The month's sums per VM (the billing page's) equal its hours', and the bandwidth page's
        // totals, per VM and per hour and zone, equal the hours' bytes.
        let tenant = ctx.tenant().unwrap().to_string();
        let (month, next) = meridian_core::calendar::month_bounds(hour);
        let by_month = db.store.usage_by_resource(&tenant, month, next).await.unwrap();
        let by_hours = db
            .store
            .usage_by_resource(&tenant, month, next - 1)
            .await
            .unwrap();
        let key = |r: &meridian_core::view::MeteredHour| {
            (r.resource_id.clone(), r.kind.clone(), r.size.clone(), r.quantity)
        };
        assert_eq!(
            by_month.iter().map(key).collect::<Vec<_>>(),
            by_hours.iter().map(key).collect::<Vec<_>>()
        );
        assert_eq!(by_month.len(), 110 * 2, "compute and disk of each VM");
        let bandwidth = control.bandwidth_view(ctx, hour + 50 * 60_000).await.unwrap();
        let bytes = |kind: &str| {
            rows.iter()
                .filter(|r| r.kind == kind)
                .map(|r| r.quantity as u64)
                .sum::<u64>()
        };
        assert_eq!(
            (bandwidth.backbone, bandwidth.internet),
            (bytes("bytes_backbone"), bytes("bytes_internet"))
        );
        assert!(bandwidth.backbone > 0);
        assert_eq!(bandwidth.vms.len(), 110);
        assert_eq!(
            bandwidth.hourly.iter().map(|(_, _, b)| b).sum::<u64>(),
            bytes("bytes_backbone") + bytes("bytes_internet")
        );
        assert_eq!(bandwidth.hourly.len(), 2, "one hour, two zones");
    }
    // A second tick at the same moment meters nothing twice.
    control.meter_tick(hour + 50 * 60_000).await.unwrap();
    let rows = control
        .usage_list(&tenants[0], hour, hour + HOUR_MS)
        .await
        .unwrap();
    let ran: i64 = rows
        .iter()
        .filter(|r| r.kind == "vm_seconds")
        .map(|r| r.quantity)
        .sum();
    assert_eq!(ran, 110 * 1_800);
}
