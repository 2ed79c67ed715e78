//! Dates and times of day as sources send them (`2024-02-29`, `13:45:00.250`), in the
//! binary forms PostgreSQL's `date` and `time` columns take: days since 2000-01-01 (i32),
//! microseconds since midnight (i64). Anything else is refused, never guessed at, so the
//! writer keeps it in `_sync_extra` instead.

use inlet_core::calendar::days_from_civil;

/// Days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;

/// `YYYY-MM-DD` as days since 2000-01-01; `None` if it is not a real calendar day.
pub(crate) fn pg_date(text: &str) -> Option<i32> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    // In range: month and day were checked above.
    let days = days_from_civil(year, month as u32, day as u32);
    i32::try_from(days - PG_EPOCH_DAYS).ok()
}

/// `HH:MM[:SS[.ffffff]]` as microseconds since midnight; `None` otherwise.
pub(crate) fn pg_time(text: &str) -> Option<i64> {
    let (clock, fraction) = match text.split_once('.') {
        Some((c, f)) if !f.is_empty() && f.len() <= 6 => (c, Some(f)),
        Some(_) => return None,
        None => (text, None),
    };
    let b = clock.as_bytes();
    let (hour, minute, second) = match b.len() {
        5 if b[2] == b':' => (digits(&b[0..2])?, digits(&b[3..5])?, 0),
        8 if b[2] == b':' && b[5] == b':' => {
            (digits(&b[0..2])?, digits(&b[3..5])?, digits(&b[6..8])?)
        }
        _ => return None,
    };
    if hour > 23 || minute > 59 || second > 59 || (fraction.is_some() && b.len() == 5) {
        return None;
    }
    let micros = match fraction {
        Some(f) => digits(f.as_bytes())? * 10_i64.pow(6 - f.len() as u32),
        None => 0,
    };
    Some(((hour * 60 + minute) * 60 + second) * 1_000_000 + micros)
}

fn digits(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |n, c| {
        c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
    })
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_count_days_from_postgres_epoch() {
        assert_eq!(pg_date("2000-01-01"), Some(0));
        assert_eq!(pg_date("1999-12-31"), Some(-1));
        assert_eq!(pg_date("2000-03-01"), Some(60), "2000 is a leap year");
        assert_eq!(pg_date("1970-01-01"), Some(-10_957));
        assert_eq!(pg_date("2024-02-29"), Some(8_825));
    }

    #[test]
    fn impossible_or_malformed_dates_are_refused() {
        for bad in [
            "2023-02-29",
            "1900-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-04-31",
            "2024-1-01",
            "24-01-01",
            "2024/01/01",
            "2024-01-01T00:00:00Z",
            "",
            "abcd-ef-gh",
        ] {
            assert_eq!(pg_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn times_count_microseconds_from_midnight() {
        assert_eq!(pg_time("00:00"), Some(0));
        assert_eq!(pg_time("13:45:00"), Some(49_500_000_000));
        assert_eq!(pg_time("13:45:00.25"), Some(49_500_250_000));
        assert_eq!(pg_time("23:59:59.999999"), Some(86_399_999_999));
        for bad in [
            "24:00",
            "12:60",
            "12:00:60",
            "12:00.5",
            "1:00",
            "12:00:00.",
            "12:00:00.1234567",
        ] {
            assert_eq!(pg_time(bad), None, "{bad}");
        }
    }
}
