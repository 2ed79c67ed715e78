//! A backfill in partitions: ranges of record ids, each read upward by search (every
//! property in the request body, so 500+ properties never meet a URL limit; 200 records a
//! request, on search's own budget, leaving the 10-second budget to everything else).
//!
//! A fresh backfill notes the time (changes from then on are read by the live windows,
//! which start that far back, search lag included) and the highest id search has, and
//! copies ids `0 < id <= top` as one range, split while there is room for more requests in
//! flight. Each page is the query `above < hs_object_id <= upto`, sorted by id, from offset
//! 0 (keyset, never an offset): it never meets the 10,000-result cap, and a record modified
//! while its range is read cannot shift another out of a page. Records created after the
//! start have higher ids and are the live windows' to read.

use std::sync::atomic::{AtomicUsize, Ordering};

use inlet_core::{ErrorKind, PartitionPage, PartitionReader, SourceError};
use serde_json::{json, Value};

use super::client::{invalid, CallError, HubSpotClient};
use super::position::IdRange;
use super::table::ObjectTable;
use super::window::PAGE;

/// Times a page answered 429 is asked again before the stream fails (and resumes from its
/// checkpoint). The limiter has already slowed the whole sync.
const RATE_LIMITED_ATTEMPTS: u32 = 8;

/// One search, asked again while HubSpot says to slow down.
pub async fn search(
    client: &HubSpotClient,
    object: &str,
    body: &Value,
) -> Result<Vec<Value>, SourceError> {
    let mut attempt = 1;
    let mut answer = loop {
        match client.search(object, body).await {
            Err(CallError::Source(e))
                if e.kind == ErrorKind::RateLimited && attempt < RATE_LIMITED_ATTEMPTS =>
            {
                tracing::debug!(object, attempt, "search rate limited; asking again");
                tokio::time::sleep(e.retry_after.unwrap_or_default()).await;
                attempt += 1;
            }
            answer => break answer.map_err(CallError::into_source)?,
        }
    };
    let path = format!("/crm/v3/objects/{object}/search");
    // Taken, not copied: a page of 200 records of 500 properties is megabytes.
    match answer.get_mut("results").map(Value::take) {
        Some(Value::Array(results)) => Ok(results),
        _ => Err(invalid(&path, "no results list")),
    }
}

/// The id of a result (HubSpot ids are numeric strings).
pub fn id_of(object: &Value) -> Option<u64> {
    object.get("id")?.as_str()?.parse().ok()
}

/// The highest record id search knows of (0: none).
pub async fn top_id(client: &HubSpotClient, table: &ObjectTable) -> Result<u64, SourceError> {
    let body = json!({
        "sorts": [{"propertyName": "hs_object_id", "direction": "DESCENDING"}],
        "properties": ["hs_object_id"],
        "limit": 1,
    });
    let results = search(client, &table.api, &body).await?;
    Ok(results.first().and_then(id_of).unwrap_or(0))
}

/// One object type's id ranges, read through search.
pub struct IdRanges<'a> {
    pub client: &'a HubSpotClient,
    pub table: &'a ObjectTable,
    /// Streams backfilling now: they share search's requests in flight.
    pub backfilling: &'a AtomicUsize,
}

impl PartitionReader for IdRanges<'_> {
    type Partition = IdRange;

    async fn page(&self, range: IdRange) -> Result<PartitionPage<IdRange>, SourceError> {
        let body = json!({
            "filterGroups": [{"filters": [
                {"propertyName": "hs_object_id", "operator": "GT", "value": range.above.to_string()},
                {"propertyName": "hs_object_id", "operator": "LTE", "value": range.upto.to_string()},
            ]}],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": self.table.property_names(),
            "limit": PAGE,
        });
        let results = search(self.client, &self.table.api, &body).await?;
        let last = results.iter().filter_map(id_of).max();
        let next = match last {
            Some(last) if results.len() >= PAGE && last < range.upto => Some(IdRange {
                above: last,
                upto: range.upto,
            }),
            _ => None,
        };
        Ok(PartitionPage {
            records: self.table.records(&results, 0),
            next,
        })
    }

    fn split(&self, range: &IdRange, pieces: usize) -> Vec<IdRange> {
        split(*range, pieces)
    }

    fn concurrency(&self) -> usize {
        let streams = self.backfilling.load(Ordering::Relaxed).max(1);
        self.client.search_limiter.in_flight().div_ceil(streams)
    }
}

/// What is left of `range` in up to `pieces` ranges of about equal id span, none smaller
/// than a page's worth of ids (a range too small to split stays whole).
pub fn split(range: IdRange, pieces: usize) -> Vec<IdRange> {
    let span = range.upto.saturating_sub(range.above);
    let pieces = (pieces as u64).min(span / PAGE as u64).max(1);
    if pieces < 2 {
        return vec![range];
    }
    let size = span.div_ceil(pieces);
    let mut out = Vec::new();
    let mut above = range.above;
    while above < range.upto {
        let upto = (above + size).min(range.upto);
        out.push(IdRange { above, upto });
        above = upto;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_covers_exactly_the_rest_and_small_ranges_stay_whole() {
        let range = IdRange {
            above: 100,
            upto: 10_100,
        };
        let pieces = split(range, 4);
        assert_eq!(pieces.len(), 4);
        assert_eq!(pieces[0].above, 100);
        assert_eq!(pieces.last().map(|p| p.upto), Some(10_100));
        assert!(
            pieces.windows(2).all(|w| w[0].upto == w[1].above),
            "no gap, no overlap"
        );
        let small = IdRange {
            above: 0,
            upto: 300,
        };
        assert_eq!(split(small, 8), vec![small]);
        assert_eq!(
            split(
                IdRange {
                    above: 0,
                    upto: 400
                },
                8
            )
            .len(),
            2
        );
    }
}
