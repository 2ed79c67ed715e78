//! What a server says about retrying, read from its headers: `Retry-After` (seconds or an
//! HTTP date, capped) and a `*-Should-Retry` header. Whether and when to retry is decided
//! by the one retry policy in `inlet_core` ([`inlet_core::retry_in_place`]).
//!
//! Every header is outside input: whatever it holds, these functions answer, never panic.

use std::time::{Duration, SystemTime};

use inlet_core::{ServerWord, MAX_SERVER_WAIT};
use reqwest::header::{HeaderMap, HeaderName, DATE, RETRY_AFTER};

/// The server's clock and its word on retrying, from a response's headers.
pub fn read(
    headers: &HeaderMap,
    should_retry_header: Option<&HeaderName>,
) -> (Option<i64>, ServerWord) {
    let text = |name: &HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let date = text(&DATE).and_then(http_date);
    let retry_after = text(&RETRY_AFTER).and_then(|v| retry_after(v, date, SystemTime::now()));
    let should_retry = should_retry_header.and_then(text).and_then(should_retry);
    let unix = date
        .and_then(|d| d.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    (
        unix,
        ServerWord {
            retry_after,
            should_retry,
        },
    )
}

/// `Retry-After`: a number of seconds, or an HTTP date (counted from the server's own
/// `Date` when it sent one, so clock skew between us does not matter). Capped at
/// [`MAX_SERVER_WAIT`]; a date in the past means now; anything else is ignored.
pub fn retry_after(
    value: &str,
    server_now: Option<SystemTime>,
    now: SystemTime,
) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        if !seconds.is_finite() || seconds < 0.0 {
            return None;
        }
        let capped = seconds.min(MAX_SERVER_WAIT.as_secs_f64());
        return Duration::try_from_secs_f64(capped).ok();
    }
    let at = http_date(value)?;
    let wait = at
        .duration_since(server_now.unwrap_or(now))
        .unwrap_or(Duration::ZERO);
    Some(wait.min(MAX_SERVER_WAIT))
}

/// `true` or `false`, in any case; anything else says nothing.
pub fn should_retry(value: &str) -> Option<bool> {
    match value.trim() {
        v if v.eq_ignore_ascii_case("true") => Some(true),
        v if v.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn http_date(value: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(value.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(unix: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(unix)
    }

    #[test]
    fn retry_after_is_seconds_or_a_date_and_never_more_than_the_cap() {
        let now = at(1_800_000_000);
        let secs = |v| retry_after(v, None, now);
        assert_eq!(secs("7"), Some(Duration::from_secs(7)));
        assert_eq!(secs(" 1.5 "), Some(Duration::from_millis(1500)));
        assert_eq!(
            secs("1e20"),
            Some(MAX_SERVER_WAIT),
            "the header that used to panic"
        );
        assert_eq!(secs("99999999999999999999999"), Some(MAX_SERVER_WAIT));
        for ignored in ["-1", "NaN", "inf", "-inf", "soon", ""] {
            assert_eq!(secs(ignored), None, "{ignored:?}");
        }
        let date = httpdate::fmt_http_date(at(1_800_000_030));
        assert_eq!(secs(&date), Some(Duration::from_secs(30)));
        let server_clock = Some(at(1_800_000_020));
        assert_eq!(
            retry_after(&date, server_clock, now),
            Some(Duration::from_secs(10)),
            "counted from the server's Date"
        );
        let past = httpdate::fmt_http_date(at(1_700_000_000));
        assert_eq!(secs(&past), Some(Duration::ZERO));
        let far = httpdate::fmt_http_date(at(4_000_000_000));
        assert_eq!(secs(&far), Some(MAX_SERVER_WAIT));
    }

    #[test]
    fn should_retry_is_true_false_or_nothing() {
        assert_eq!(should_retry("true"), Some(true));
        assert_eq!(should_retry(" False "), Some(false));
        assert_eq!(should_retry("yes"), None);
    }
}
