//! The UTC calendar, computed from Unix time with no clock and no time-zone database: billing
//! months and timestamps for people.

/// The UTC calendar month holding `unix_ms`, as `[start, end)` in Unix milliseconds: the billing
/// period. (Days from the civil date by Howard Hinnant's algorithm.)
pub fn month_bounds(unix_ms: i64) -> (i64, i64) {
    let days = unix_ms.div_euclid(86_400_000);
    let (year, month) = civil_year_month(days);
    let start = days_from_civil(year, month) * 86_400_000;
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    (start, days_from_civil(next_year, next_month) * 86_400_000)
}

/// The billing month holding `unix_ms` as people and URLs write it: `2026-11`.
pub fn month_label(unix_ms: i64) -> String {
    let (year, month) = civil_year_month(unix_ms.div_euclid(86_400_000));
    format!("{year:04}-{month:02}")
}

/// The start (Unix ms) of a month written `YYYY-MM`, or None if it is not one.
pub fn parse_month(text: &str) -> Option<i64> {
    let (year, month) = text.split_once('-')?;
    if year.len() != 4 || month.len() != 2 {
        return None;
    }
    let (year, month): (i64, i64) = (year.parse().ok()?, month.parse().ok()?);
    ((1970..=9999).contains(&year) && (1..=12).contains(&month))
        .then(|| days_from_civil(year, month) * 86_400_000)
}

/// Days since 1970-01-01 of the first day of `year`-`month`.
fn days_from_civil(year: i64, month: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The year and month of a day number (days since 1970-01-01).
fn civil_year_month(days: i64) -> (i64, i64) {
    let (year, month, _) = civil_from_days(days);
    (year, month)
}

/// The year, month and day of a day number (days since 1970-01-01).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `unix_ms` as people read it: `2026-11-26 14:53 UTC`.
pub fn format_utc(unix_ms: i64) -> String {
    let days = unix_ms.div_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let minutes = unix_ms.rem_euclid(86_400_000) / 60_000;
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        minutes / 60,
        minutes % 60
    )
}

/// `unix_ms` to the second, for lists where seconds tell events apart (the job queue):
/// `2026-11-26 14:53:07 UTC`.
pub fn format_utc_seconds(unix_ms: i64) -> String {
    let seconds = unix_ms.rem_euclid(60_000) / 1000;
    let minute = format_utc(unix_ms);
    let (minute, _) = minute.split_at(minute.len() - " UTC".len());
    format!("{minute}:{seconds:02} UTC")
}

/// A duration for people, to the tenth of a second under a minute: `0.4 s`, `2 min 05 s`,
/// `3 h 02 min`.
pub fn format_duration(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 60_000 {
        return format!("{}.{} s", ms / 1000, ms % 1000 / 100);
    }
    let seconds = ms / 1000;
    if seconds < 3600 {
        return format!("{} min {:02} s", seconds / 60, seconds % 60);
    }
    format!("{} h {:02} min", seconds / 3600, seconds % 3600 / 60)
}

/// `unix_ms` as ISO 8601 with a numeric offset, the way CloudStack writes times:
/// `2026-11-26T14:53:07+0000`.
pub fn format_iso(unix_ms: i64) -> String {
    let days = unix_ms.div_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let seconds = unix_ms.rem_euclid(86_400_000) / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}+0000",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// Reads an ISO 8601 time with seconds and an offset (`Z`, `+0100`, `+01:00`) as Unix ms; None
/// if it is not one.
pub fn parse_iso(text: &str) -> Option<i64> {
    let text = text.trim();
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if text.len() < 20 || text.as_bytes()[4] != b'-' || text.as_bytes()[7] != b'-' {
        return None;
    }
    if !matches!(text.as_bytes()[10], b'T' | b't' | b' ')
        || text.as_bytes()[13] != b':'
        || text.as_bytes()[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let days_in_month = (days_from_civil(year + i64::from(month == 12), month % 12 + 1)
        - days_from_civil(year, month.clamp(1, 12)))
    .max(28);
    if !(1..=12).contains(&month)
        || !(1..=days_in_month).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let offset_minutes = match text.get(19..)? {
        "Z" | "z" => 0,
        zone => {
            let sign = match zone.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits = zone[1..].replace(':', "");
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let (h, m): (i64, i64) = (digits[..2].parse().ok()?, digits[2..].parse().ok()?);
            sign * (h * 60 + m)
        }
    };
    let days = days_from_civil(year, month) + day - 1;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times_read_back_what_is_written_and_honour_offsets() {
        let at = 1_795_700_991_000;
        assert_eq!(format_iso(at), "2026-11-26T13:49:51+0000");
        assert_eq!(parse_iso(&format_iso(at)), Some(at));
        assert_eq!(parse_iso("2026-11-26T14:49:51+01:00"), Some(at));
        assert_eq!(parse_iso("2026-11-26T13:49:51Z"), Some(at));
        assert_eq!(parse_iso("2026-11-26T08:49:51-0500"), Some(at));
        for bad in [
            "",
            "2026-11-26",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-11-26T13:49:51",
            "2026-11-26T13:49:51+1",
            "2026-11-26T24:00:00Z",
            "２０２６-11-26T13:49:51Z",
        ] {
            assert_eq!(parse_iso(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn month_bounds_follow_the_utc_calendar() {
        // 2026-11-26T13:49:51Z lies in November 2026: 1 Nov 00:00 to 1 Dec 00:00.
        assert_eq!(
            month_bounds(1_795_700_991_000),
            (1_793_491_200_000, 1_796_083_200_000)
        );
        // 2024-02-29 is in a leap February; the epoch starts January 1970.
        let (start, end) = month_bounds(1_709_208_000_000);
        assert_eq!((end - start) / 86_400_000, 29);
        assert_eq!(month_bounds(0), (0, 31 * 86_400_000));
        // The last millisecond of a month belongs to it, the next one to the next month.
        let (_, end) = month_bounds(0);
        assert_eq!(month_bounds(end - 1).1, end);
        assert_eq!(month_bounds(end).0, end);
    }

    #[test]
    fn timestamps_read_as_utc() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(1_795_700_991_000), "2026-11-26 13:49 UTC");
        assert_eq!(format_utc(1_709_208_000_000), "2024-02-29 12:00 UTC");
        assert_eq!(format_utc_seconds(1_795_700_991_000), "2026-11-26 13:49:51 UTC");
        assert_eq!(format_utc_seconds(0), "1970-01-01 00:00:00 UTC");
    }

    #[test]
    fn durations_read_in_the_unit_that_suits_them() {
        assert_eq!(format_duration(0), "0.0 s");
        assert_eq!(format_duration(430), "0.4 s");
        assert_eq!(format_duration(59_999), "59.9 s");
        assert_eq!(format_duration(125_000), "2 min 05 s");
        assert_eq!(format_duration(3 * 3_600_000 + 120_000), "3 h 02 min");
        assert_eq!(format_duration(-5), "0.0 s");
    }

    #[test]
    fn months_are_written_and_read_back() {
        let start = parse_month("2026-11").unwrap();
        assert_eq!(month_label(start), "2026-11");
        assert_eq!(month_bounds(start + 5).0, start);
        assert_eq!(month_label(month_bounds(start).1), "2026-12");
        for bad in ["2026-13", "2026-1", "26-11", "2026/11", "", "1969-12"] {
            assert_eq!(parse_month(bad), None, "{bad}");
        }
    }
}
