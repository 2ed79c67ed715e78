//! HubSpot's times: responses carry ISO-8601 (`2024-01-02T03:04:05.678Z`), inputs and
//! search filters take Unix milliseconds, and some values arrive as millisecond strings.

use inlet_core::calendar::{civil_from_days as civil, days_from_civil};

const DAY_MS: i64 = 86_400_000;

/// Unix milliseconds from digits, `YYYY-MM-DD` (midnight UTC) or
/// `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`; `None` for anything else.
pub fn parse_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let num = |s: &str| -> Option<u32> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (day_part, rest) = text.split_at_checked(10)?;
    let mut parts = day_part.split('-');
    let (year, month, day) = (
        num(parts.next()?)?,
        num(parts.next()?)?,
        num(parts.next()?)?,
    );
    if parts.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let midnight = days_from_civil(i64::from(year), month, day) * DAY_MS;
    if rest.is_empty() {
        return Some(midnight);
    }
    let clock = rest.strip_prefix('T')?;
    let (clock, offset_ms) = if let Some(c) = clock.strip_suffix('Z') {
        (c, 0)
    } else {
        let at = clock.rfind(['+', '-'])?;
        let (c, zone) = clock.split_at(at);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (h, m) = zone[1..].split_once(':')?;
        (
            c,
            sign * (i64::from(num(h)?) * 60 + i64::from(num(m)?)) * 60_000,
        )
    };
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, "0"));
    let mut hms = hms.split(':');
    let (h, m, s) = (num(hms.next()?)?, num(hms.next()?)?, num(hms.next()?)?);
    if hms.next().is_some() || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let millis: String = frac.chars().chain("000".chars()).take(3).collect();
    let millis = i64::from(num(&millis)?);
    Some(
        midnight + (i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s)) * 1000 + millis
            - offset_ms,
    )
}

/// `YYYY-MM-DD` of the UTC day `ms` falls in.
pub fn date(ms: i64) -> String {
    let (year, month, day) = civil(ms.div_euclid(DAY_MS));
    format!("{year:04}-{month:02}-{day:02}")
}

/// Whether `ms` is midnight UTC (HubSpot `date` properties always are).
pub fn is_midnight(ms: i64) -> bool {
    ms.rem_euclid(DAY_MS) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hubspot_time_forms_parse_to_the_same_millisecond() {
        assert_eq!(
            parse_ms("2019-10-30T03:30:17.883Z"),
            Some(1_572_406_217_883)
        );
        assert_eq!(parse_ms("1572406217883"), Some(1_572_406_217_883));
        assert_eq!(
            parse_ms("2019-10-30T05:30:17.883+02:00"),
            Some(1_572_406_217_883)
        );
        assert_eq!(parse_ms("2019-10-31"), Some(1_572_480_000_000));
        assert_eq!(parse_ms("2019-10-30T03:30:17Z"), Some(1_572_406_217_000));
        for bad in [
            "",
            "soon",
            "2019-13-01",
            "2019-10-30T25:00:00Z",
            "2019-10-30 03:30:17",
            "-5",
            "2019-10-30T03:30Z",
        ] {
            assert_eq!(parse_ms(bad), None, "{bad}");
        }
        assert_eq!(date(1_572_480_000_000), "2019-10-31");
        assert!(is_midnight(1_572_480_000_000) && !is_midnight(1_572_480_000_001));
    }
}
