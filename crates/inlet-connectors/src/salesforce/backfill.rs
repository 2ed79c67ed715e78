//! A backfill in partitions: ranges of `SystemModstamp`, each read upward in keyset pages
//! on `(SystemModstamp, Id)` by `query` (live records only), several at once.
//!
//! A fresh backfill notes the time and copies the records whose stamp lies from the oldest
//! one up to that second, as one range, split by whole seconds while there is room for
//! more requests in flight. A record changed while the backfill runs gets a newer stamp:
//! it leaves its range (if not read yet) and the polls that follow, which start from the
//! noted time less the overlap, read it. A second is never split, so however many records
//! share one, a range reads them in `Id` order across its pages.

use std::sync::atomic::{AtomicUsize, Ordering};

use inlet_core::{PartitionPage, PartitionReader, SourceError};
use serde::{Deserialize, Serialize};

use super::client::{invalid, SalesforceClient};
use super::live::{api_datetime, read, PAGE};
use super::soql::{bounded_page, After};
use super::table::{datetime_ms, ObjectTable};

/// Records whose `SystemModstamp` is in `[from_ms, upto_ms)` (whole seconds), after
/// `after` (a stamp as the API wrote it, and an id) once a page of the range is read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StampRange {
    pub from_ms: i64,
    pub upto_ms: i64,
    pub after: Option<(String, String)>,
}

/// The first range of a backfill noted at `since_ms`: from the oldest stamp the object
/// has up to the end of that second (`None`: it has no records).
pub async fn first_range(
    client: &SalesforceClient,
    table: &ObjectTable,
    since_ms: i64,
) -> Result<Option<StampRange>, SourceError> {
    let soql = format!(
        "SELECT Id, SystemModstamp FROM {} ORDER BY SystemModstamp ASC, Id ASC LIMIT 1",
        table.api
    );
    let oldest = client.query(false, &soql).await?;
    let Some(first) = oldest.first() else {
        return Ok(None);
    };
    let from_ms = first["SystemModstamp"]
        .as_str()
        .and_then(datetime_ms)
        .ok_or_else(|| invalid(&table.api, "a record has no SystemModstamp"))?;
    let from_ms = from_ms - from_ms.rem_euclid(1000);
    let upto_ms = (since_ms - since_ms.rem_euclid(1000) + 1000).max(from_ms + 1000);
    Ok(Some(StampRange {
        from_ms,
        upto_ms,
        after: None,
    }))
}

/// One object's stamp ranges, read by `query`.
pub struct StampRanges<'a> {
    pub client: &'a SalesforceClient,
    pub table: &'a ObjectTable,
    /// Streams backfilling now: they share the sync's requests in flight.
    pub backfilling: &'a AtomicUsize,
}

impl PartitionReader for StampRanges<'_> {
    type Partition = StampRange;

    async fn page(&self, range: StampRange) -> Result<PartitionPage<StampRange>, SourceError> {
        let (from, upto) = (api_datetime(range.from_ms), api_datetime(range.upto_ms));
        let after = range.after.as_ref().map(|(stamp, id)| After {
            stamp: stamp.clone(),
            id: Some(id.clone()),
        });
        let soql = bounded_page(
            &self.table.api,
            &self.table.select(),
            Some((&from, &upto)),
            after.as_ref(),
            PAGE,
        )
        .map_err(|e| invalid(&self.table.api, &e))?;
        let (records, last, more) = read(self.client, self.table, false, &soql).await?;
        let next = match last {
            Some(last) if more => Some(StampRange {
                after: Some((last.text, last.id)),
                ..range
            }),
            _ => None,
        };
        Ok(PartitionPage { records, next })
    }

    fn split(&self, range: &StampRange, pieces: usize) -> Vec<StampRange> {
        split(range, pieces)
    }

    fn concurrency(&self) -> usize {
        let streams = self.backfilling.load(Ordering::Relaxed).max(1);
        self.client.in_flight().div_ceil(streams).max(1)
    }
}

/// What is left of `range` in up to `pieces` ranges of whole seconds (the first keeps its
/// position; a range of one second left stays whole).
pub fn split(range: &StampRange, pieces: usize) -> Vec<StampRange> {
    // The second the range is in: the one its position is in, else its start.
    let at_ms = range
        .after
        .as_ref()
        .and_then(|(stamp, _)| datetime_ms(stamp))
        .map_or(range.from_ms, |ms| ms - ms.rem_euclid(1000));
    // Whole seconds after the current one, shared out among the pieces.
    let seconds = (range.upto_ms - at_ms) / 1000 - 1;
    let pieces = (pieces as i64).min(seconds + 1).max(1);
    if pieces < 2 {
        return vec![range.clone()];
    }
    let size = (seconds + pieces) / pieces * 1000;
    let mut out = Vec::new();
    let mut from = at_ms;
    while from < range.upto_ms {
        let upto = (from + size).min(range.upto_ms);
        out.push(StampRange {
            from_ms: if out.is_empty() { range.from_ms } else { from },
            upto_ms: upto,
            after: if out.is_empty() {
                range.after.clone()
            } else {
                None
            },
        });
        from = upto;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_covers_exactly_the_rest_in_whole_seconds_and_keeps_the_position() {
        let range = StampRange {
            from_ms: 1_000,
            upto_ms: 101_000,
            after: Some((api_datetime(11_000), "001000000000001AAA".into())),
        };
        let pieces = split(&range, 4);
        assert_eq!(pieces.len(), 4);
        assert_eq!(pieces[0].from_ms, 1_000, "the first keeps its start");
        assert_eq!(pieces[0].after, range.after, "and its position");
        assert!(pieces[0].upto_ms > 11_000);
        assert_eq!(pieces.last().map(|p| p.upto_ms), Some(101_000));
        assert!(
            pieces.windows(2).all(|w| w[0].upto_ms == w[1].from_ms),
            "no gap, no overlap"
        );
        assert!(pieces
            .iter()
            .all(|p| p.upto_ms % 1000 == 0 && p.from_ms % 1000 == 0));
        assert!(pieces[1..].iter().all(|p| p.after.is_none()));
        let one_second = StampRange {
            from_ms: 5_000,
            upto_ms: 6_000,
            after: None,
        };
        assert_eq!(split(&one_second, 8), vec![one_second.clone()]);
        let positioned_in_last = StampRange {
            after: Some((api_datetime(5_000), "001000000000001AAA".into())),
            upto_ms: 6_000,
            ..one_second
        };
        assert_eq!(split(&positioned_in_last, 8).len(), 1);
        let two = StampRange {
            from_ms: 0,
            upto_ms: 2_000,
            after: None,
        };
        assert_eq!(split(&two, 8).len(), 2);
    }
}
