//! Time as HubSpot writes it (ISO-8601 with milliseconds and `Z`; dates as `YYYY-MM-DD`) and
//! reads it (Unix milliseconds, or ISO text), plus the small deterministic hashes every
//! generated value is derived from.

use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) const DAY_MS: i64 = 86_400_000;

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) → days since 1970-01-01.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2024-01-02T03:04:05.678Z`
pub(crate) fn iso(ms: i64) -> String {
    let (year, month, day) = civil(ms.div_euclid(DAY_MS));
    let in_day = ms.rem_euclid(DAY_MS);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// `2024-01-02` for the day `ms` falls in (UTC).
pub(crate) fn date(ms: i64) -> String {
    let (year, month, day) = civil(ms.div_euclid(DAY_MS));
    format!("{year:04}-{month:02}-{day:02}")
}

/// Unix milliseconds from what HubSpot accepts for a time: digits (ms), `YYYY-MM-DD`
/// (midnight UTC), or `YYYY-MM-DDTHH:MM:SS[.fff]Z`. `None` for anything else.
pub(crate) fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        if let Ok(ms) = text.parse::<i64>() {
            return Some(ms);
        }
    }
    let num = |s: &str| s.parse::<u32>().ok();
    let (day_part, rest) = text.split_at_checked(10)?;
    let mut fields = day_part.split('-');
    let year = i64::from(num(fields.next()?)?);
    let month = num(fields.next()?)?;
    let day = num(fields.next()?)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let midnight = days_from_civil(year, month, day) * DAY_MS;
    if rest.is_empty() {
        return Some(midnight);
    }
    let clock = rest.strip_prefix('T')?.strip_suffix('Z')?;
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, "0"));
    let mut parts = hms.split(':');
    let h = i64::from(num(parts.next()?)?);
    let m = i64::from(num(parts.next()?)?);
    let s = i64::from(num(parts.next()?)?);
    let frac: String = frac.chars().chain("000".chars()).take(3).collect();
    let millis = i64::from(num(&frac)?);
    Some(midnight + ((h * 60 + m) * 60 + s) * 1000 + millis)
}

/// SplitMix64 of two words: the fake's only source of "randomness" for derived values.
pub(crate) fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a of a name (property names, type names).
pub(crate) fn hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_through_iso_and_dates() {
        for ms in [0, 1_572_480_000_000, 1_700_000_000_123, 951_782_400_000] {
            assert_eq!(parse_time(&iso(ms)), Some(ms), "{}", iso(ms));
            assert_eq!(parse_time(&ms.to_string()), Some(ms));
        }
        assert_eq!(iso(1_572_409_817_883), "2019-10-30T04:30:17.883Z");
        assert_eq!(date(1_572_480_000_000), "2019-10-31");
        assert_eq!(parse_time("2019-10-31"), Some(1_572_480_000_000));
        assert_eq!(parse_time("2019-10-31T00:00:00Z"), Some(1_572_480_000_000));
        for bad in [
            "",
            "yesterday",
            "2019-13-01",
            "2019-10-31T",
            "2019-10-31T1:2Z",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }
}
