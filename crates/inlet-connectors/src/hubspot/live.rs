//! Following a live object type: what each poll reads.
//!
//! * **Changes**: search windows on the modified date ([`super::window`]), keyset by id,
//!   each starting the search lag before the last one ended. A record absorbed in a merge
//!   leaves the table when its survivor (`hs_merged_object_ids`) is read; a restored record
//!   is modified again, so search brings it back.
//! * **Archive**: `archived=true` lists only archived records and has no time filter, so it
//!   is read whole every few polls; records archived since the last pass (with a margin
//!   for clocks) leave the table, versioned at `archivedAt`.
//! * **Reconciliation**: a GDPR delete leaves no trace at all, and a missed archive would
//!   stay forever, so now and then the whole type is read again consistently (list the ids,
//!   batch read every property by POST, versioned at the moment of reading) and the pass's
//!   last batch sweeps every row it did not see.

use inlet_core::{Record, SourceError, Version};
use serde_json::{json, Value};

use super::backfill::{id_of, search};
use super::client::{invalid, CallError, HubSpotClient};
use super::table::ObjectTable;
use super::time::parse_ms;
use super::window::{search_body, WindowRead};

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

/// Deletes for every record archived at or after `since_ms`.
pub async fn archived(
    client: &HubSpotClient,
    table: &ObjectTable,
    since_ms: i64,
) -> Result<Vec<Record>, SourceError> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let (results, next) = client.list_page(&table.api, true, after.as_deref()).await?;
        for object in &results {
            let at = object["archivedAt"].as_str().and_then(parse_ms);
            if let (Some(id), Some(at)) = (object["id"].as_str(), at) {
                if at >= since_ms {
                    out.push(Record::delete(id, Version::new(at.saturating_mul(1000), 0)));
                }
            }
        }
        after = next;
        if after.is_none() {
            return Ok(out);
        }
    }
}

/// One page of a reconciliation: the next up to 100 live ids after `after` (the list's
/// cursor), read with every property by batch read as of `now_ms`. Returns the records and
/// the cursor of the next page (`None`: the pass is done).
pub async fn reconcile_page(
    client: &HubSpotClient,
    table: &ObjectTable,
    after: Option<&str>,
    now_ms: i64,
) -> Result<(Vec<Record>, Option<String>), SourceError> {
    let (results, next) = client.list_page(&table.api, false, after).await?;
    let inputs: Vec<Value> = results
        .iter()
        .filter_map(|o| o["id"].as_str())
        .map(|id| json!({"id": id}))
        .collect();
    if inputs.is_empty() {
        return Ok((Vec::new(), next));
    }
    let read = json!({"inputs": inputs, "properties": table.property_names()});
    let path = format!("/crm/v3/objects/{}/batch/read", table.api);
    // A 207 lists what could not be read (gone since the list): those are not live.
    let body = client
        .post(&path, &read)
        .await
        .map_err(CallError::into_source)?;
    let results = body["results"]
        .as_array()
        .ok_or_else(|| invalid(&path, "no results list"))?;
    Ok((table.records(results, now_ms), next))
}
