//! Metering and rating: usage is recorded exactly, rolled up per hour, and invoices reconcile.

use meridian_control::driver::simulated::{SimTiming, SimulatedDriver};
use meridian_control::metering::{HOUR_MS, usage_records};
use meridian_control::testing::TestDb;
use meridian_control::{Actor, Control, OpContext};
use meridian_core::Signup;
use meridian_core::pricing::{Money, UsageKind, hourly_rate, rate};
use meridian_core::resource::{VmCreate, VmCreateForm, VmSize};
use std::sync::Arc;

async fn running_vm(breakout: bool) -> (TestDb, Control, OpContext, String) {
    let db = TestDb::fresh().await;
    let driver = Arc::new(SimulatedDriver::new(SimTiming::instant(), 3));
    let control = Control::new(db.store.clone(), driver).await.unwrap();
    let signup = Signup::parse("Meter Co", "ops@meter.example", "a long enough secret").unwrap();
    let account = control
        .account_signup(&OpContext::anonymous("t"), signup)
        .await
        .unwrap();
    let ctx = OpContext {
        actor: Actor::User {
            user_id: account.user_id,
            tenant_id: account.tenant_id,
            role: account.role,
        },
        request_id: "m".into(),
        client: None,
        via: None,
    };
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
    let vm = control
        .vm_list(&ctx)
        .await
        .unwrap()
        .into_iter()
        .find(|v| v.zone == "fra1")
        .unwrap();
    (db, control, ctx, vm.id.to_string())
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
async fn past_months_are_final_invoices_that_reconcile_and_future_months_do_not_exist() {
    use meridian_core::calendar::{month_bounds, month_label};
    let (db, control, ctx, vm) = running_vm(false).await;
    let now = meridian_control::store::now_ms();
    let (this_month, next_month) = month_bounds(now);
    let last_month = month_bounds(this_month - 1).0;
    // Metered from ten days into last month until now: two months of bills.
    db.meter_from(Some(&vm), last_month + 10 * 24 * HOUR_MS).await;
    control.meter_tick(now).await.unwrap();
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
