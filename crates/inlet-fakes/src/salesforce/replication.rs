//! `sobjects/X/updated` and `sobjects/X/deleted` (getUpdated/getDeleted): ids changed or
//! deleted between `start` and `end`, seconds truncated; updated covers the last 30 days,
//! deleted the last 15 (and only what the delete log still holds: `earliestDateAvailable`).

use serde_json::{json, Value};

use super::clock;
use super::errors::ApiError;
use super::store::Store;

const DAY_MS: i64 = 86_400_000;
/// More ids than this in one answer: `EXCEEDED_ID_LIMIT`.
pub(crate) const ID_LIMIT: usize = 600_000;

fn window(
    start: Option<&str>,
    end: Option<&str>,
    now: i64,
    days: i64,
) -> Result<(i64, i64), ApiError> {
    let parse = |name: &str, text: Option<&str>| {
        let text = text.ok_or_else(|| {
            ApiError::new(400, "MISSING_ARGUMENT", format!("{name} was not specified"))
        })?;
        clock::parse_datetime(text)
            .map(|ms| ms - ms.rem_euclid(60_000))
            .ok_or_else(|| {
                ApiError::new(
                    400,
                    "INVALID_REPLICATION_DATE",
                    format!("{name}: '{text}' is not a valid ISO-8601 date and time"),
                )
            })
    };
    let (start, end) = (parse("start", start)?, parse("end", end)?);
    if start >= end {
        return Err(ApiError::new(
            400,
            "INVALID_REPLICATION_DATE",
            "startDate must chronologically precede endDate",
        ));
    }
    if start < now - days * DAY_MS {
        return Err(ApiError::new(
            400,
            "INVALID_REPLICATION_DATE",
            format!("startDate cannot be more than {days} days ago"),
        ));
    }
    Ok((start, end))
}

/// The covered end: Salesforce may cover less than asked (in-flight transactions); the
/// fake covers up to and including `end` or now (this second), whichever is earlier, so a
/// next window starting at `latestDateCovered` misses nothing and may repeat that second's
/// ids (the exact rule is not verified, apis.md §3.4).
fn covered(end: i64, now: i64) -> i64 {
    end.min(now)
}

fn within_id_limit(ids: usize) -> Result<(), ApiError> {
    if ids > ID_LIMIT {
        return Err(ApiError::new(
            400,
            "EXCEEDED_ID_LIMIT",
            "too many ids; narrow the start and end",
        ));
    }
    Ok(())
}

pub(crate) fn updated(
    store: &Store,
    t: usize,
    start: Option<&str>,
    end: Option<&str>,
    now: i64,
) -> Result<Value, ApiError> {
    let (start, end) = window(start, end, now, 30)?;
    let table = &store.tables[t];
    let latest = covered(end, now);
    let at = table.stamp_at().or_else(|| table.field("LastModifiedDate"));
    let ids: Vec<&String> = table
        .records
        .iter()
        .filter(|(_, r)| r.deleted_ms.is_none())
        .filter(|(_, r)| at.is_some_and(|at| (start..=latest).contains(&r.ms(at))))
        .map(|(id, _)| id)
        .collect();
    within_id_limit(ids.len())?;
    Ok(json!({"ids": ids, "latestDateCovered": clock::datetime(latest)}))
}

pub(crate) fn deleted(
    store: &Store,
    t: usize,
    start: Option<&str>,
    end: Option<&str>,
    now: i64,
) -> Result<Value, ApiError> {
    let (start, end) = window(start, end, now, 15)?;
    let table = &store.tables[t];
    let latest = covered(end, now);
    let records: Vec<Value> = table
        .delete_log
        .iter()
        .filter(|(_, ms)| (start..=latest).contains(ms))
        .map(|(id, ms)| json!({"id": id, "deletedDate": clock::datetime(*ms)}))
        .collect();
    within_id_limit(records.len())?;
    let earliest = table.log_from_ms.max(now - 15 * DAY_MS);
    Ok(json!({
        "deletedRecords": records,
        "earliestDateAvailable": clock::datetime(earliest - earliest.rem_euclid(60_000)),
        "latestDateCovered": clock::datetime(latest),
    }))
}
