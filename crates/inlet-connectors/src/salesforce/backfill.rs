//! A backfill in partitions: ranges of `SystemModstamp`, each read upward in keyset pages
//! on `(SystemModstamp, Id)` by `query` (live records only), several at once.
//!
//! A fresh backfill notes the time and copies the records whose stamp lies from the oldest
//! one up to that second, as one range, split by whole seconds while there is room for
//! more requests in flight. A record changed while the backfill runs gets a newer stamp:
//! it leaves its range (if not read yet) and the polls that follow, which start from the
//! noted time less the overlap, read it. A second is never split, so however many records
//! share one, a range reads them in `Id` order across its pages.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

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

impl StampRange {
    /// The `SystemModstamp` of the last record read, if any.
    fn position_ms(&self) -> Option<i64> {
        self.after
            .as_ref()
            .and_then(|(stamp, _)| datetime_ms(stamp))
    }
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
    /// Full pages read so far, and the milliseconds of `SystemModstamp` they spanned
    /// together: how densely the object is filled, to size the ranges a split makes.
    pub full_pages: AtomicI64,
    pub spanned_ms: AtomicI64,
}

impl<'a> StampRanges<'a> {
    pub fn new(
        client: &'a SalesforceClient,
        table: &'a ObjectTable,
        backfilling: &'a AtomicUsize,
    ) -> StampRanges<'a> {
        StampRanges {
            client,
            table,
            backfilling,
            full_pages: AtomicI64::new(0),
            spanned_ms: AtomicI64::new(0),
        }
    }

    /// Seconds of `SystemModstamp` a full page has spanned on average so far.
    fn page_seconds(&self) -> Option<f64> {
        let pages = self.full_pages.load(Ordering::Relaxed);
        (pages > 0).then(|| self.spanned_ms.load(Ordering::Relaxed) as f64 / pages as f64 / 1000.0)
    }
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
        if let Some(last) = last.as_ref().filter(|_| more) {
            // A full page: from where it started (the position, else the range's start)
            // to its last record.
            let start = range.position_ms().unwrap_or(range.from_ms);
            self.full_pages.fetch_add(1, Ordering::Relaxed);
            self.spanned_ms
                .fetch_add((last.ms - start).max(0), Ordering::Relaxed);
        }
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
        split(range, pieces, self.page_seconds())
    }

    fn concurrency(&self) -> usize {
        let streams = self.backfilling.load(Ordering::Relaxed).max(1);
        self.client.in_flight().div_ceil(streams).max(1)
    }

    fn pages_left(&self, range: &StampRange) -> Option<f64> {
        Some(pages_left(range, self.page_seconds()?))
    }
}

/// About how many pages are left of `range`, at `page_seconds` seconds of `SystemModstamp`
/// a page: from its position (else its start) to its end.
pub fn pages_left(range: &StampRange, page_seconds: f64) -> f64 {
    let at_ms = range.position_ms().unwrap_or(range.from_ms);
    let seconds = (range.upto_ms - at_ms).max(0) as f64 / 1000.0;
    seconds / page_seconds.max(1e-3)
}

/// What is left of `range` in up to `pieces` ranges of whole seconds (the first keeps its
/// position; a range of one second left stays whole). With `page_seconds` (how many
/// seconds of `SystemModstamp` a full page has spanned so far) each range is sized to hold
/// whole pages, and there are never more ranges than pages left: every range ends on a
/// part-filled page, so each extra one costs a request. Without it, ranges are of about
/// equal time.
pub fn split(range: &StampRange, pieces: usize, page_seconds: Option<f64>) -> Vec<StampRange> {
    // The second the range is in: the one its position is in, else its start.
    let at_ms = (range.position_ms()).map_or(range.from_ms, |ms| ms - ms.rem_euclid(1000));
    // Whole seconds after the current one, shared out among the pieces.
    let seconds = (range.upto_ms - at_ms) / 1000 - 1;
    let mut pieces = (pieces as i64).min(seconds + 1).max(1);
    let size = match page_seconds {
        Some(per_page) => {
            let per_page = per_page.max(1e-3);
            // `as` saturates: a huge count only means "more pages than pieces".
            let pages = ((seconds + 1) as f64 / per_page).ceil() as i64;
            pieces = pieces.min(pages);
            if pieces < 2 {
                return vec![range.clone()];
            }
            let pages_each = (pages + pieces - 1) / pieces;
            ((pages_each as f64 * per_page).round() as i64).clamp(1, seconds + 1) * 1000
        }
        None => (seconds + pieces) / pieces * 1000,
    };
    if pieces < 2 {
        return vec![range.clone()];
    }
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
        let pieces = split(&range, 4, None);
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
        assert_eq!(split(&one_second, 8, None), vec![one_second.clone()]);
        let positioned_in_last = StampRange {
            after: Some((api_datetime(5_000), "001000000000001AAA".into())),
            upto_ms: 6_000,
            ..one_second
        };
        assert_eq!(split(&positioned_in_last, 8, None).len(), 1);
        let two = StampRange {
            from_ms: 0,
            upto_ms: 2_000,
            after: None,
        };
        assert_eq!(split(&two, 8, None).len(), 2);
    }

    #[test]
    fn pages_left_are_the_seconds_after_the_position_at_the_density_read() {
        let range = StampRange {
            from_ms: 0,
            upto_ms: 1_000_000,
            after: Some((api_datetime(600_000), "001000000000001AAA".into())),
        };
        assert_eq!(pages_left(&range, 40.0), 10.0, "400 s left, 40 a page");
        let fresh = StampRange {
            after: None,
            ..range
        };
        assert_eq!(pages_left(&fresh, 40.0), 25.0);
    }

    #[test]
    fn with_a_known_density_each_range_holds_whole_pages_and_no_more_ranges_than_pages() {
        // 1,000 seconds, a full page spanning 40 of them: 25 pages left.
        let range = StampRange {
            from_ms: 0,
            upto_ms: 1_000_000,
            after: None,
        };
        let pieces = split(&range, 5, Some(40.0));
        let sizes: Vec<i64> = pieces.iter().map(|p| p.upto_ms - p.from_ms).collect();
        assert_eq!(sizes, vec![200_000; 5], "5 whole pages each");
        // Only 3 pages left: 3 ranges, however many are asked for.
        assert_eq!(split(&range, 16, Some(400.0)).len(), 3);
        // A page or less left: whole.
        assert_eq!(split(&range, 8, Some(2_000.0)), vec![range.clone()]);
        let pieces = split(&range, 4, Some(30.0));
        assert_eq!(pieces.last().map(|p| p.upto_ms), Some(1_000_000));
        assert!(pieces.windows(2).all(|w| w[0].upto_ms == w[1].from_ms));
    }
}
