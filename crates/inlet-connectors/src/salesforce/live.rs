//! Reading an object in `(SystemModstamp, Id)` order, and its purged records.
//!
//! * **Pages**: keyset SOQL ([`super::soql`]), never OFFSET: a page ends at a (stamp, id)
//!   and the next starts strictly after it, so records sharing one second across a page
//!   boundary are each read once. A poll reads by `queryAll` from its cursor less the
//!   overlap, so records moved to the Recycle Bin (deleted, or merged into another,
//!   `MasterRecordId`) come back as deletes and undeleted ones as rows, in one order.
//! * **Purges**: a record deleted and emptied from the Recycle Bin between two polls is in
//!   no query; getDeleted (`sobjects/X/deleted`, 15 days back) still names it. Its id is a
//!   delete unless a query finds it live (undeleted since).

use inlet_core::calendar::civil_from_days;
use inlet_core::{Record, SourceError, Version};

use super::client::{invalid, SalesforceClient};
use super::soql::{self, is_id, After};
use super::table::{datetime_ms, ObjectTable, Stamp};

/// Records a page asks for (the most one REST answer holds).
pub const PAGE: usize = 2000;

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

/// How far back getDeleted answers.
const DELETED_DAYS: i64 = 15;

/// A datetime as the API writes it: `2013-05-20T20:49:32.000+0000` (whole seconds).
pub fn api_datetime(ms: i64) -> String {
    let (year, month, day) = civil_from_days(ms.div_euclid(DAY_MS));
    let s = ms.rem_euclid(DAY_MS) / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000+0000",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// The records `soql` selects (`all`: by queryAll, Recycle Bin included), where the last
/// one stands, and whether there may be more (a full page).
pub async fn read(
    client: &SalesforceClient,
    table: &ObjectTable,
    all: bool,
    soql: &str,
) -> Result<(Vec<Record>, Option<Stamp>, bool), SourceError> {
    let results = client.query(all && table.soft_deletes, soql).await?;
    let mut records = Vec::with_capacity(results.len());
    let mut last = None;
    for object in &results {
        let (record, stamp) = table
            .record(object)
            .ok_or_else(|| invalid(&table.api, "a record has no Id or SystemModstamp"))?;
        records.push(record);
        last = Some(stamp);
    }
    Ok((records, last, results.len() >= PAGE))
}

/// One page of a poll: every record, Recycle Bin included, after `after`.
pub async fn page(
    client: &SalesforceClient,
    table: &ObjectTable,
    after: &After,
) -> Result<(Vec<Record>, Option<Stamp>, bool), SourceError> {
    let soql = soql::page(&table.api, &table.select(), Some(after), PAGE)
        .map_err(|e| invalid(&table.api, &e))?;
    read(client, table, true, &soql).await
}

/// What a read of getDeleted found.
pub struct Purged {
    /// Deletes for the records it names that no query finds live.
    pub deletes: Vec<Record>,
    /// Where the next read starts.
    pub next_ms: i64,
    /// Salesforce may no longer log every delete from `seen_ms` on (`earliestDateAvailable`
    /// is later): records purged then are not named, and only a pass over every record
    /// finds them.
    pub trimmed: bool,
}

/// Reads getDeleted from `start_ms` to now; deletes before `seen_ms` were read before (or
/// the backfill saw them gone), so a log trimmed up to there missed nothing.
pub async fn purged(
    client: &SalesforceClient,
    table: &ObjectTable,
    start_ms: i64,
    seen_ms: i64,
    now_ms: i64,
) -> Result<Purged, SourceError> {
    // Seconds are truncated, `start` must be before `end`, and 15 days back at most.
    let oldest = now_ms - DELETED_DAYS * DAY_MS + MINUTE_MS;
    // Older than that, the log says so by its `earliestDateAvailable`: `trimmed`.
    let start = start_ms.max(oldest);
    let start = start - start.rem_euclid(MINUTE_MS);
    let end = (now_ms - now_ms.rem_euclid(MINUTE_MS) + MINUTE_MS).max(start + MINUTE_MS);
    let enc = |ms: i64| -> String {
        url::form_urlencoded::byte_serialize(
            api_datetime(ms).replace(".000+0000", "+00:00").as_bytes(),
        )
        .collect()
    };
    let path = format!(
        "sobjects/{}/deleted/?start={}&end={}",
        table.api,
        enc(start),
        enc(end)
    );
    let body = client.data(&path).await?;
    let listed = body["deletedRecords"]
        .as_array()
        .ok_or_else(|| invalid("deleted", "no deletedRecords list"))?;
    // `earliestDateAvailable` is rounded down to the minute: the log may have lost entries
    // up to a minute after it.
    let trimmed = (body["earliestDateAvailable"].as_str())
        .and_then(datetime_ms)
        .is_some_and(|earliest| earliest + MINUTE_MS > seen_ms);
    let next = body["latestDateCovered"]
        .as_str()
        .and_then(datetime_ms)
        .unwrap_or(now_ms)
        .min(now_ms);
    let gone: Vec<(String, i64)> = listed
        .iter()
        .filter_map(|d| {
            let id = d["id"].as_str().filter(|id| is_id(id))?;
            let at = d["deletedDate"].as_str().and_then(datetime_ms)?;
            Some((id.to_string(), at))
        })
        .collect();
    let mut out = Vec::new();
    for chunk in gone.chunks(200) {
        let ids: Vec<String> = chunk.iter().map(|(id, _)| format!("'{id}'")).collect();
        let soql = format!(
            "SELECT Id FROM {} WHERE Id IN ({})",
            table.api,
            ids.join(", ")
        );
        let live = client.query(false, &soql).await?;
        let live: Vec<&str> = live.iter().filter_map(|o| o["Id"].as_str()).collect();
        for (id, at) in chunk {
            if !live.contains(&id.as_str()) {
                out.push(Record::delete(
                    id.clone(),
                    Version::new(at.saturating_mul(1000), 0),
                ));
            }
        }
    }
    Ok(Purged {
        deletes: out,
        next_ms: next,
        trimmed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_are_written_as_the_api_writes_them_and_read_back() {
        let ms = 1_369_082_972_000;
        assert_eq!(api_datetime(ms), "2013-05-20T20:49:32.000+0000");
        assert_eq!(datetime_ms(&api_datetime(ms)), Some(ms));
        assert_eq!(
            api_datetime(ms + 999),
            "2013-05-20T20:49:32.000+0000",
            "whole seconds"
        );
    }
}
