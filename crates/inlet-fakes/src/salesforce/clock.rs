//! Salesforce's times: datetimes as `2013-05-20T20:49:32.000+0000` in JSON (`.000Z` in Bulk
//! CSV), dates as `2013-05-20`, and the literals SOQL and the replication resources accept.
//! Salesforce keeps datetimes to the second (every API example shows `.000`), so the fake
//! does too: many changes share one `SystemModstamp`.

use std::time::{SystemTime, UNIX_EPOCH};

use inlet_core::calendar::{civil_from_days, days_from_civil};

const DAY_MS: i64 = 86_400_000;

/// Now, truncated to the second as Salesforce stores it.
pub(crate) fn now_ms() -> i64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    ms - ms.rem_euclid(1000)
}

fn parts(ms: i64) -> (i64, u32, u32, i64) {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY_MS));
    (y, m, d, ms.rem_euclid(DAY_MS) / 1000)
}

/// `2013-05-20T20:49:32.000+0000`, as REST JSON writes a datetime.
pub(crate) fn datetime(ms: i64) -> String {
    let (y, m, d, s) = parts(ms);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}+0000",
        s / 3600,
        s / 60 % 60,
        s % 60,
        ms.rem_euclid(1000)
    )
}

/// `2013-05-20T20:49:32.000Z`, as Bulk API 2.0 CSV writes a datetime (the format is not
/// verified, apis.md §3.6; this is the ISO-8601 form the documentation shows).
pub(crate) fn csv_datetime(ms: i64) -> String {
    let mut text = datetime(ms);
    text.truncate(text.len() - 5);
    text.push('Z');
    text
}

pub(crate) fn date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

pub(crate) fn days_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

fn digits(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `YYYY-MM-DD` as days since 1970-01-01.
pub(crate) fn parse_date(text: &str) -> Option<i64> {
    let mut it = text.splitn(3, '-');
    let (y, m, d) = (
        digits(it.next()?)?,
        digits(it.next()?)?,
        digits(it.next()?)?,
    );
    if text.len() != 10 || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m as u32, d as u32))
}

/// An ISO-8601 datetime with a zone: `2024-01-01T00:00:00Z`, `...00.000Z`,
/// `...00+00:00`, `...00.000+0000`, `...00-08:00`; Unix ms.
pub(crate) fn parse_datetime(text: &str) -> Option<i64> {
    let (day, rest) = text.split_once('T')?;
    let days = parse_date(day)?;
    let (clock, offset_ms) = if let Some(clock) = rest.strip_suffix('Z') {
        (clock, 0)
    } else {
        let at = rest.rfind(['+', '-'])?;
        let (clock, zone) = rest.split_at(at);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let zone = zone[1..].replace(':', "");
        if zone.len() != 4 {
            return None;
        }
        let (h, m) = (digits(&zone[..2])?, digits(&zone[2..])?);
        (clock, sign * (h * 3600 + m * 60) * 1000)
    };
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let mut it = hms.split(':');
    let (h, m, s) = (
        digits(it.next()?)?,
        digits(it.next()?)?,
        digits(it.next()?)?,
    );
    if it.next().is_some() || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let ms = if fraction.is_empty() {
        0
    } else {
        let three: String = fraction.chars().chain("000".chars()).take(3).collect();
        digits(&three)?
    };
    Some(days * DAY_MS + (h * 3600 + m * 60 + s) * 1000 + ms - offset_ms)
}

/// `HH:MM:SS.000Z`, as Salesforce writes a time field.
pub(crate) fn time(ms_of_day: i64) -> String {
    let s = ms_of_day.rem_euclid(DAY_MS) / 1000;
    format!(
        "{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        s / 60 % 60,
        s % 60,
        ms_of_day.rem_euclid(1000)
    )
}

/// `HH:MM:SS[.sss][Z]` as ms of the day.
pub(crate) fn parse_time(text: &str) -> Option<i64> {
    parse_datetime(&format!(
        "1970-01-01T{}Z",
        text.strip_suffix('Z').unwrap_or(text)
    ))
    .filter(|ms| (0..DAY_MS).contains(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_round_trip_in_every_form_salesforce_writes_or_accepts() {
        let ms = parse_datetime("2013-05-20T20:49:32.000+0000").expect("rest form");
        assert_eq!(datetime(ms), "2013-05-20T20:49:32.000+0000");
        assert_eq!(csv_datetime(ms), "2013-05-20T20:49:32.000Z");
        assert_eq!(parse_datetime("2013-05-20T20:49:32Z"), Some(ms));
        assert_eq!(parse_datetime("2013-05-20T22:49:32+02:00"), Some(ms));
        assert_eq!(parse_datetime("2013-05-20T12:49:32.000-08:00"), Some(ms));
        assert_eq!(date(days_of(ms)), "2013-05-20");
        assert_eq!(parse_datetime("2013-05-20"), None);
        assert_eq!(parse_datetime("2013-13-20T00:00:00Z"), None);
        assert_eq!(parse_date("2013-5-2"), None);
        assert_eq!(
            parse_time("10:30:05.250Z").map(time).as_deref(),
            Some("10:30:05.250Z")
        );
    }
}
