//! Following a live object type: what each poll reads.
//!
//! * **Changes**: search windows on the modified date ([`super::window`]), keyset by id,
//!   each starting the search lag before the last one ended. A record absorbed in a merge
//!   leaves the table when its survivor (`hs_merged_object_ids`) is read; a restored record
//!   is modified again, so search brings it back.
//! * **Archive**: `archived=true` lists only archived records and has no time filter, so it
//!   is read whole every few polls, beside them, with the type's properties; records
//!   archived since the last pass (with a margin for clocks) leave the table, versioned at
//!   `archivedAt`; records the last pass saw there and this one does not were restored, and
//!   their associations are read again.
//! * **Told of by a webhook**: the records a delivery names are read by id at the next poll
//!   ([`reread`]): a change lands without waiting for search's indexing lag, and a record
//!   HubSpot no longer has leaves at once, not at the next archive pass or reconciliation.
//! * **Reconciliation**: a GDPR delete leaves no trace at all, and a missed archive would
//!   stay forever, so now and then the whole type is read again consistently (list the ids,
//!   batch read every property by POST, versioned at the moment of reading) and the pass's
//!   last batch sweeps every row it did not see. Polls go on meanwhile (in a task beside
//!   them, [`Beside`]): a large type is thousands of requests.

use std::collections::HashSet;
use std::time::Duration;

use inlet_core::{Record, SourceError, Version};

use super::backfill::{batch_read, id_of, search};
use super::client::{now_ms, HubSpotClient};
use super::schema::Property;
use super::streams;
use super::table::ObjectTable;
use super::time::parse_ms;
use super::window::{search_body, WindowRead};
use crate::beside::Beside;

/// One page of a window: its records, and whether the window is done.
pub async fn window_page(
    client: &HubSpotClient,
    table: &ObjectTable,
    read: &mut WindowRead,
) -> Result<Vec<Record>, SourceError> {
    let body = search_body(
        read.window,
        table.modified,
        read.above_id,
        &table.property_names(),
    );
    let results = search(client, &table.api, &body).await?;
    let ids: Vec<u64> = results.iter().filter_map(id_of).collect();
    read.on_page(&ids);
    Ok(table.records(&results, 0))
}

/// What a housekeeping pass found.
pub struct Chores {
    /// When the pass started: the properties are as of then, and the archive read is
    /// complete up to then.
    pub started_ms: i64,
    /// The type's properties (`None`: HubSpot would not say).
    pub properties: Option<Vec<Property>>,
    /// A delete for every record archived since the pass asked about.
    pub deletes: Vec<Record>,
    /// Every record in the archive now: one the last pass saw there and this one does not
    /// was restored (or purged, 90 days on).
    pub archive: HashSet<u64>,
}

/// How long after a housekeeping pass ends the next one starts: the usual interval, or nine
/// times as long as the pass took if that is longer. HubSpot keeps archived records for 90
/// days and each pass reads them all: a large archive then takes at most a tenth of the time
/// and of the budget, rather than all of it.
pub fn rest_after(every: Duration, took: Duration) -> Duration {
    every.max(took.saturating_mul(9))
}

/// Starts a housekeeping pass over object type `api`: its properties, and the records
/// archived at or after `archived_since_ms`, read at once.
pub fn chores(client: &HubSpotClient, api: String, archived_since_ms: i64) -> Beside<Chores> {
    let client = client.clone();
    Beside::start(|send| async move {
        let started_ms = now_ms();
        let found = tokio::try_join!(
            streams::properties(&client, &api),
            archived(&client, &api, archived_since_ms)
        )
        .map(|(properties, (deletes, archive))| Chores {
            started_ms,
            properties,
            deletes,
            archive,
        });
        let _ = send.send(found).await; // the stream stopped: nobody to tell
    })
}

/// A page of a reconciliation; the last one says so.
pub struct Reconciled {
    pub records: Vec<Record>,
    pub last: bool,
    /// When the pass started.
    pub started_ms: i64,
}

/// Starts a reconciliation of `table` (see [`reconcile_page`]), page by page.
pub fn reconcile(client: &HubSpotClient, table: ObjectTable) -> Beside<Reconciled> {
    let client = client.clone();
    Beside::start(|send| async move {
        let started_ms = now_ms();
        let mut after: Option<String> = None;
        loop {
            let page = reconcile_page(&client, &table, after.as_deref(), now_ms()).await;
            let page = page.map(|(records, next)| {
                after = next;
                Reconciled {
                    records,
                    last: after.is_none(),
                    started_ms,
                }
            });
            let end = !matches!(page, Ok(Reconciled { last: false, .. }));
            if send.send(page).await.is_err() || end {
                return;
            }
        }
    })
}

/// The records of `table` among `ids` as HubSpot has them now (a webhook named each): those
/// it has as live records read whole by batch read (by POST: any number of properties) and
/// versioned by their modified date, as search would; a delete, versioned `now_ms`, for each
/// it no longer has (archived, deleted for privacy, or merged into another: a batch read
/// answers for a merged id with its survivor, under the survivor's id).
pub async fn reread(
    client: &HubSpotClient,
    table: &ObjectTable,
    ids: &[u64],
    now_ms: i64,
) -> Result<Vec<Record>, SourceError> {
    let results = batch_read(client, table, ids).await?;
    let live: HashSet<u64> = results.iter().filter_map(id_of).collect();
    let mut out = table.records(&results, 0);
    let version = Version::new(now_ms.saturating_mul(1000), 0);
    (ids.iter().filter(|id| !live.contains(id)))
        .for_each(|id| out.push(Record::delete(id.to_string(), version)));
    Ok(out)
}

/// What the archive pass asks of each archived record.
const ARCHIVE_PROPERTIES: &str = "hs_object_id,hs_merged_object_ids";

/// Deletes for every record archived at or after `since_ms`, and for the records each of
/// them absorbed in merges (`hs_merged_object_ids`: a survivor archived before a search read
/// it is the only one that tells of them), and the ids of the whole archive. HubSpot's
/// archive has no time filter: this reads it whole.
async fn archived(
    client: &HubSpotClient,
    api: &str,
    since_ms: i64,
) -> Result<(Vec<Record>, HashSet<u64>), SourceError> {
    let mut out = Vec::new();
    let mut archive = HashSet::new();
    let mut after: Option<String> = None;
    loop {
        let (results, next) =
            (client.list(api, true, ARCHIVE_PROPERTIES, after.as_deref())).await?;
        for object in &results {
            archive.extend(id_of(object));
            let at = object["archivedAt"].as_str().and_then(parse_ms);
            if let (Some(id), Some(at)) = (object["id"].as_str(), at) {
                if at >= since_ms {
                    let version = Version::new(at.saturating_mul(1000), 0);
                    out.push(Record::delete(id, version));
                    let merged = object["properties"]["hs_merged_object_ids"].as_str();
                    (merged.unwrap_or_default().split(';'))
                        .map(str::trim)
                        .filter(|m| !m.is_empty() && *m != id)
                        .for_each(|m| out.push(Record::delete(m, version)));
                }
            }
        }
        after = next;
        if after.is_none() {
            return Ok((out, archive));
        }
    }
}

/// One page of a reconciliation: the next up to 100 live ids after `after` (the list's
/// cursor), read with every property by batch read as of `now_ms`. Returns the records and
/// the cursor of the next page (`None`: the pass is done).
async fn reconcile_page(
    client: &HubSpotClient,
    table: &ObjectTable,
    after: Option<&str>,
    now_ms: i64,
) -> Result<(Vec<Record>, Option<String>), SourceError> {
    let (results, next) = client.list_page(&table.api, false, after).await?;
    let ids: Vec<u64> = results.iter().filter_map(id_of).collect();
    // What is gone since the list is not in the answer: not live.
    let results = batch_read(client, table, &ids).await?;
    Ok((table.records(&results, now_ms), next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_housekeeping_pass_rests_nine_times_its_length() {
        let every = Duration::from_secs(10);
        assert_eq!(rest_after(every, Duration::from_millis(600)), every);
        assert_eq!(
            rest_after(every, Duration::from_secs(100)),
            Duration::from_secs(900),
            "a 100 s pass (400 pages of archive) reads a tenth of the time"
        );
    }
}
