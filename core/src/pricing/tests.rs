//! Tests of pricing: money arithmetic and display, rates, invoices and projection.

use super::*;
use crate::resource::{DiskGib, MemoryMib, SIZES, Vcpus, VmSize};

use proptest::prelude::*;

const HOUR_MS: i64 = 3_600_000;

fn period(start_ms: i64, len_ms: i64) -> UsagePeriod {
    UsagePeriod {
        start_unix_ms: start_ms,
        end_unix_ms: start_ms + len_ms,
    }
}

fn size(code: &str) -> VmSize {
    VmSize::named(code).unwrap()
}

fn vm_seconds(size: VmSize, seconds: u64) -> UsageRecord {
    UsageRecord {
        kind: UsageKind::VmHours { size },
        quantity: seconds,
        period: period(0, 0),
    }
}

fn line(invoice: &Invoice, kind: UsageKind) -> &InvoiceLine {
    invoice.lines().iter().find(|l| l.kind == kind).unwrap()
}

#[test]
fn money_formats_for_people_and_exactly() {
    let m = Money::from_micros;
    assert_eq!(m(1_234_567).format_cents(), "$1.23");
    assert_eq!(m(1_234_567).format_precise(), "$1.234567");
    assert_eq!(m(1_234_567).to_string(), "$1.234567");
    assert_eq!(m(1_235_000).format_cents(), "$1.24", "half a cent rounds up");
    assert_eq!(m(5_000).format_cents(), "$0.01");
    assert_eq!(m(4_999).format_cents(), "$0.00");
    assert_eq!(m(12_500).format_precise(), "$0.0125");
    assert_eq!(m(1_500_000).format_precise(), "$1.50");
    assert_eq!(Money::ZERO.format_precise(), "$0.00");
    assert_eq!(Money::ZERO.format_cents(), "$0.00");
    assert_eq!(m(-1_235_000).format_cents(), "-$1.24");
    assert_eq!(m(-4_000).format_cents(), "$0.00", "no negative zero");
    assert_eq!(m(-250_000).format_precise(), "-$0.25");
    assert_eq!(m(1_234_567_890_000).format_cents(), "$1,234,567.89");
    assert_eq!(Money::MAX.format_cents(), "$9,223,372,036,854.78");
    assert_eq!(Money::MIN.format_precise(), "-$9,223,372,036,854.775808");
}

#[test]
fn money_arithmetic_is_checked() {
    let m = Money::from_micros;
    assert_eq!(m(1).checked_add(m(2)), Some(m(3)));
    assert_eq!(Money::MAX.checked_add(m(1)), None);
    assert_eq!(Money::MIN.checked_sub(m(1)), None);
    assert_eq!(m(5).checked_sub(m(7)), Some(m(-2)));
    assert_eq!(m(i64::MAX / 2 + 1).checked_mul(2), None);
    assert_eq!(Money::checked_sum([m(1), m(2), m(3)]), Some(m(6)));
    assert_eq!(Money::checked_sum([Money::MAX, m(1)]), None);
    assert_eq!(serde_json::to_string(&m(12_500)).unwrap(), "12500");
}

#[test]
fn hourly_rates_come_from_vcpus_and_memory_and_are_exact() {
    assert_eq!(hourly_rate(&size("xs")), Money::from_micros(17_500));
    assert_eq!(hourly_rate(&size("m")), Money::from_micros(130_000));
    assert_eq!(hourly_rate(&size("xl")).format_precise(), "$0.52");
    // Every memory size the type allows gives whole micro-dollars: no truncation hides in the
    // division by 1024.
    for mib in (MemoryMib::MIN..=MemoryMib::MAX).step_by(MemoryMib::STEP as usize) {
        assert_eq!(i64::from(mib) * MEMORY_GIB_HOUR.micros() % 1024, 0, "{mib} MiB");
    }
    let custom = VmSize::new(
        Vcpus::new(3).unwrap(),
        MemoryMib::new(1792).unwrap(),
        size("xs").disk_gib,
    );
    assert_eq!(hourly_rate(&custom), Money::from_micros(3 * 12_500 + 8_750));
}

#[test]
fn the_price_in_words_is_the_projection_with_disk_and_address() {
    // s: $0.045 an hour; 730 h = $32.85, with 50 GiB of disk at $0.10 = $5.00.
    assert_eq!(
        vm_price_text(1, &size("s"), Extras::default()),
        "$0.045 per hour while running, ≈ $37.85 a month with its 50 GiB disk ($5.00 a month, also while stopped). Bandwidth: always $0.00."
    );
    assert!(vm_price_text(1, &size("s"), IP).starts_with("$0.05 per hour while running, ≈ $41.50 a month"));
    assert_eq!(
        vm_price_text(9, &size("s"), Extras::default()),
        "9 VMs: $0.405 per hour while running, ≈ $340.65 a month with their 9 × 50 GiB of disk ($45.00 a month, also while stopped). Bandwidth: always $0.00."
    );
}

/// Extras with a public address only.
const IP: Extras = Extras {
    public_ip: true,
    dedicated: false,
};

#[test]
fn a_dedicated_host_adds_half_the_compute_exactly_in_the_price_and_on_the_bill() {
    // s: $0.045 an hour, so $0.0225 more on a dedicated host.
    assert_eq!(dedicated_premium(&size("s")), Money::from_micros(22_500));
    for named in &SIZES {
        assert_eq!(
            dedicated_premium(&named.size).micros() * 2,
            hourly_rate(&named.size).micros(),
            "{} is exact",
            named.code
        );
    }
    let dedicated = Extras {
        public_ip: false,
        dedicated: true,
    };
    // 730 h × $0.0675 + $5.00 of disk.
    assert_eq!(
        vm_price_text(1, &size("s"), dedicated),
        "$0.0675 per hour while running, ≈ $54.28 a month with its 50 GiB disk ($5.00 a month, also while stopped). Bandwidth: always $0.00. A dedicated host adds 50 % to the compute: $0.0225 per hour, included."
    );
    // On the bill: a line of its own, an hour at the premium.
    let hour = period(0, HOUR_MS);
    let invoice = Invoice::from_records(&[
        UsageRecord::vm(size("s"), hour),
        UsageRecord::dedicated(size("s"), hour),
    ])
    .unwrap();
    assert_eq!(invoice.total(), Money::from_micros(67_500));
    let line = invoice
        .lines()
        .iter()
        .find(|line| matches!(line.kind, UsageKind::DedicatedHours { .. }))
        .expect("a dedicated line");
    assert_eq!(
        line.description,
        "Dedicated host for a VM s (Robin): 50 % of its compute"
    );
}

#[test]
fn monthly_estimates() {
    // xs: 730 h × $0.0175 + 20 GiB × $0.10 = $12.775 + $2.00.
    assert_eq!(
        vm_monthly_estimate(&size("xs"), Extras::default()).format_precise(),
        "$14.775"
    );
    assert_eq!(
        vm_monthly_estimate(&size("xs"), Extras::default()).format_cents(),
        "$14.78"
    );
    // A public address adds 730 h × $0.005 = $3.65.
    assert_eq!(vm_monthly_estimate(&size("xs"), IP).format_precise(), "$18.425");
    for named in &SIZES {
        assert!(vm_monthly_estimate(&named.size, IP) > vm_monthly_estimate(&named.size, Extras::default()));
        let dedicated = Extras {
            dedicated: true,
            ..Extras::default()
        };
        assert!(
            vm_monthly_estimate(&named.size, dedicated) > vm_monthly_estimate(&named.size, Extras::default())
        );
    }
}

#[test]
fn a_vm_running_ninety_minutes_costs_exactly_one_and_a_half_hours() {
    let record = UsageRecord::vm(size("m"), period(1_700_000_000_000, 90 * 60 * 1000));
    assert_eq!(record.quantity, 5400);
    let invoice = Invoice::from_records(&[record]).unwrap();
    let vm = line(&invoice, UsageKind::VmHours { size: size("m") });
    // 1.5 h × $0.13 = $0.195 exactly; shown to people as $0.20.
    assert_eq!(vm.amount, Money::from_micros(195_000));
    assert_eq!(vm.amount.format_cents(), "$0.20");
    assert_eq!(vm.unit_price.format_precise(), "$0.13");
    assert_eq!(vm.format_quantity(), "1.5 hours");
    assert_eq!(vm.description, "VM m (Kestrel): 4 vCPUs, 16 GiB memory");
    assert_eq!(invoice.total(), Money::from_micros(195_000));
}

#[test]
fn each_line_is_rounded_once_half_up() {
    // xs for 18 s: 18 × 17,500 / 3,600 = 87.5 micro-dollars, which rounds up to 88.
    let once = Invoice::from_records(&[vm_seconds(size("xs"), 18)]).unwrap();
    assert_eq!(once.total(), Money::from_micros(88));
    // Two 18 s records make one 36 s line: 175 exactly, not 88 + 88.
    let twice = Invoice::from_records(&[vm_seconds(size("xs"), 18), vm_seconds(size("xs"), 18)]).unwrap();
    assert_eq!(twice.total(), Money::from_micros(175));
    // One GiB for one hour of a 730-hour month: 100,000 / 730 = 136.99 → 137.
    let disk = UsageRecord::disk(DiskGib::new(10).unwrap(), period(0, HOUR_MS));
    assert_eq!(disk.quantity, 36_000);
    let invoice = Invoice::from_records(&[disk]).unwrap();
    assert_eq!(
        line(&invoice, UsageKind::DiskGibHours).amount,
        Money::from_micros(1_370)
    );
}

#[test]
fn bandwidth_lines_are_always_there_and_always_free() {
    let empty = Invoice::from_records(&[]).unwrap();
    assert_eq!(empty.lines().len(), 2);
    for kind in [UsageKind::BytesBackbone, UsageKind::BytesInternet] {
        let bandwidth = line(&empty, kind);
        assert_eq!(bandwidth.amount.format_cents(), "$0.00");
        assert_eq!(bandwidth.format_quantity(), "0 GiB");
    }
    let tebibyte = 1u64 << 40;
    let busy = Invoice::from_records(&[
        UsageRecord::bytes_internet(tebibyte, period(0, HOUR_MS)),
        UsageRecord::bytes_backbone(u64::MAX, period(0, HOUR_MS)),
        UsageRecord::bytes_backbone(u64::MAX, period(HOUR_MS, HOUR_MS)),
    ])
    .unwrap_err();
    // Two records of u64::MAX bytes cannot be summed into one quantity; that is refused, not wrapped.
    assert_eq!(busy, PricingOverflow);
    let busy = Invoice::from_records(&[
        UsageRecord::bytes_internet(tebibyte, period(0, HOUR_MS)),
        UsageRecord::bytes_backbone(u64::MAX, period(0, HOUR_MS)),
    ])
    .unwrap();
    let internet = line(&busy, UsageKind::BytesInternet);
    assert_eq!(internet.format_quantity(), "1,024 GiB");
    assert_eq!(internet.amount, Money::ZERO);
    assert_eq!(busy.total(), Money::ZERO);
}

#[test]
fn invoice_total_is_the_sum_of_its_lines() {
    let day = 24 * HOUR_MS;
    let records = [
        UsageRecord::vm(size("xs"), period(0, 3 * day + 17_123)),
        UsageRecord::vm(size("l"), period(0, 11 * HOUR_MS + 59_999)),
        UsageRecord::vm(size("xs"), period(5 * day, 7 * day)),
        UsageRecord::disk(size("xs").disk_gib, period(0, 10 * day)),
        UsageRecord::disk(size("l").disk_gib, period(0, 12 * HOUR_MS)),
        UsageRecord::public_ip(period(0, 10 * day)),
        UsageRecord::bytes_internet(123_456_789, period(0, day)),
    ];
    let invoice = Invoice::from_records(&records).unwrap();
    let sum: i64 = invoice.lines().iter().map(|l| l.amount.micros()).sum();
    assert_eq!(invoice.total().micros(), sum);
    let kinds: Vec<UsageKind> = invoice.lines().iter().map(|l| l.kind).collect();
    assert_eq!(
        kinds,
        vec![
            UsageKind::VmHours { size: size("xs") },
            UsageKind::VmHours { size: size("l") },
            UsageKind::DiskGibHours,
            UsageKind::PublicIpHours,
            UsageKind::BytesBackbone,
            UsageKind::BytesInternet,
        ]
    );
    // xs ran 10 days and 17 s (the 123 ms are dropped): 864,017 s.
    assert_eq!(line(&invoice, kinds[0]).quantity, 864_017);
    // Ten days of one public address: 240 h × $0.005 = $1.20.
    assert_eq!(
        line(&invoice, UsageKind::PublicIpHours).amount.format_precise(),
        "$1.20"
    );
}

#[test]
fn invoices_check_their_total_when_deserialized() {
    let invoice = Invoice::from_records(&[vm_seconds(size("s"), 3600)]).unwrap();
    let json = serde_json::to_string(&invoice).unwrap();
    assert_eq!(serde_json::from_str::<Invoice>(&json).unwrap(), invoice);
    let tampered = json.replace(&format!("\"total\":{}", invoice.total().micros()), "\"total\":1");
    assert_ne!(tampered, json);
    assert!(serde_json::from_str::<Invoice>(&tampered).is_err());
}

#[test]
fn large_usage_is_exact_and_absurd_usage_is_refused() {
    // 10,000 xl VMs for all of a 31-day month: 744 h × $0.52 × 10,000 = $3,868,800.
    let month = seconds_in_month(2026, 1).unwrap();
    let fleet = vm_seconds(size("xl"), 10_000 * month);
    let invoice = Invoice::from_records(&[fleet]).unwrap();
    assert_eq!(invoice.total(), Money::from_micros(3_868_800_000_000));
    assert_eq!(invoice.total().format_cents(), "$3,868,800.00");
    // The largest quantity priced at the largest rate neither wraps nor panics.
    assert_eq!(rate(&[vm_seconds(size("xl"), u64::MAX)]), Err(PricingOverflow));
    // Two lines that each fit (about $5.8 trillion each, same rate, different disks) but whose
    // sum does not.
    let xs = size("xs");
    let xs_bigger_disk = VmSize::new(xs.vcpus, xs.memory_mib, DiskGib::new(30).unwrap());
    let near_max = 1_200_000_000_000_000_000;
    let lines = rate(&[vm_seconds(xs, near_max), vm_seconds(xs_bigger_disk, near_max)]).unwrap();
    assert_eq!(lines[0].amount, lines[1].amount);
    assert_eq!(Invoice::new(lines), Err(PricingOverflow));
    // Disk usage saturates in the constructor rather than wrapping, and still prices in range.
    let forever = UsagePeriod {
        start_unix_ms: i64::MIN,
        end_unix_ms: i64::MAX,
    };
    let forever = UsageRecord::disk(DiskGib::new(4096).unwrap(), forever);
    assert_eq!(forever.quantity, u64::MAX);
    assert!(rate(&[forever]).is_ok());
}

#[test]
fn periods_count_whole_seconds() {
    assert_eq!(period(0, 1_999).duration_secs(), 1);
    assert_eq!(period(10_000, -5_000).duration_secs(), 0);
    assert_eq!(UsageRecord::public_ip(period(0, HOUR_MS)).quantity, 3600);
    assert_eq!(
        UsagePeriod {
            start_unix_ms: i64::MIN,
            end_unix_ms: i64::MAX
        }
        .duration_secs(),
        u64::MAX / 1000
    );
}

#[test]
fn a_projection_adds_the_rest_of_the_month_as_things_stand() {
    let m = Money::from_micros;
    let s = size("s");
    // Ten days left of the month (240 hours).
    let rest = period(0, 240 * HOUR_MS);
    let running = Standing {
        size: s,
        running: true,
        public_ip: true,
        dedicated: false,
    };
    let stopped = Standing {
        running: false,
        public_ip: false,
        ..running
    };
    // Nothing: the bill so far is the bill.
    assert_eq!(project_unchanged(m(1_230_000), &[], rest), Ok(m(1_230_000)));
    // A running VM with an address: its compute, disk and address for 240 hours, exactly as
    // metering will rate them.
    let compute = hourly_rate(&s).micros() * 240;
    let address = PUBLIC_IPV4_HOUR.micros() * 240;
    // 240 of a month's 730 hours of the disk's monthly price, to the micro-dollar.
    let disk = Invoice::from_records(&[UsageRecord::disk(s.disk_gib, rest)])
        .unwrap()
        .total();
    let disk_month = i64::from(s.disk_gib.get()) * DISK_GIB_MONTH.micros();
    assert!((disk.micros() - disk_month * 240 / 730).abs() <= 1, "{disk:?}");
    assert_eq!(
        project_unchanged(m(1_000_000), &[running], rest),
        Ok(m(1_000_000 + compute + disk.micros() + address))
    );
    // On a dedicated host it also pays the premium while it runs, and not while stopped.
    let dedicated = Standing {
        dedicated: true,
        ..running
    };
    assert_eq!(
        project_unchanged(m(0), &[dedicated], rest),
        Ok(m(compute + compute / 2 + disk.micros() + address))
    );
    assert_eq!(
        project_unchanged(
            m(0),
            &[Standing {
                running: false,
                ..dedicated
            }],
            rest
        ),
        project_unchanged(
            m(0),
            &[Standing {
                running: false,
                ..running
            }],
            rest
        )
    );
    // A stopped VM still pays for its disk, and only for it.
    assert_eq!(project_unchanged(m(0), &[stopped], rest), Ok(disk));
    // A VM made an hour ago projects a month of it, not the hour stretched over the month's pace.
    assert!(project_unchanged(m(10), &[running], rest).unwrap() > m(10 + compute));
    // Nothing left of the month: nothing added.
    assert_eq!(project_unchanged(m(7), &[running], period(0, 0)), Ok(m(7)));
    // Absurd totals are refused, not wrapped.
    assert_eq!(
        project_unchanged(Money::MAX, &[running], rest),
        Err(PricingOverflow)
    );
}

#[test]
fn calendar_months() {
    assert_eq!(seconds_in_month(2024, 2), Some(29 * 86_400));
    assert_eq!(seconds_in_month(2025, 2), Some(28 * 86_400));
    assert_eq!(seconds_in_month(1900, 2), Some(28 * 86_400));
    assert_eq!(seconds_in_month(2000, 2), Some(29 * 86_400));
    assert_eq!(seconds_in_month(2026, 1), Some(31 * 86_400));
    assert_eq!(seconds_in_month(2026, 11), Some(30 * 86_400));
    assert_eq!(seconds_in_month(2026, 0), None);
    assert_eq!(seconds_in_month(2026, 13), None);
}

fn arb_record() -> impl Strategy<Value = UsageRecord> {
    let kind = prop_oneof![
        (0..SIZES.len()).prop_map(|i| UsageKind::VmHours { size: SIZES[i].size }),
        Just(UsageKind::DiskGibHours),
        Just(UsageKind::PublicIpHours),
        Just(UsageKind::BytesBackbone),
        Just(UsageKind::BytesInternet),
    ];
    // Up to a year of a 4 TiB disk per record keeps totals in range while exercising rounding.
    (kind, 0..=4096u64 * 366 * 86_400).prop_map(|(kind, quantity)| UsageRecord {
        kind,
        quantity,
        period: UsagePeriod {
            start_unix_ms: 0,
            end_unix_ms: 0,
        },
    })
}

proptest! {
    #[test]
    fn any_invoice_total_is_the_sum_of_its_lines(records in prop::collection::vec(arb_record(), 0..40)) {
        let invoice = Invoice::from_records(&records).unwrap();
        let sum: i128 = invoice.lines().iter().map(|l| i128::from(l.amount.micros())).sum();
        prop_assert_eq!(i128::from(invoice.total().micros()), sum);
        for line in invoice.lines() {
            // Each amount is the exact value rounded half-up: within half a micro-dollar.
            let exact_twice = 2 * i128::from(line.quantity) * i128::from(line.unit_price.micros());
            let per_unit = i128::from(line.unit.metered_per_unit());
            let error_twice = 2 * i128::from(line.amount.micros()) * per_unit - exact_twice;
            prop_assert!((-per_unit..=per_unit).contains(&error_twice));
            prop_assert!(error_twice != -per_unit, "a half is rounded up, not down");
        }
    }
}
