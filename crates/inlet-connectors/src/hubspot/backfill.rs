//! A backfill in partitions: ranges of record ids, some read by the list endpoint on the
//! 10-second budget ([`super::listed`]), the others by search on its own budget (every
//! property in the request body; 200 records a request), so both budgets read at once.
//!
//! A fresh backfill notes the time (changes from then on are read by the live windows,
//! which start that far back, search lag included), asks search for the highest id and the
//! list for its first page at once, and copies ids `0 < id <= top`: the list the bottom
//! share (from where its first page left it), search the rest as one range,
//! split while there is room for more requests in flight, each new range going to the
//! budget with room. Each search page is the query
//! `above < hs_object_id <= upto`, sorted by id, from offset 0 (keyset, never an offset): it
//! never meets the 10,000-result cap, and a record modified while its range is read cannot
//! shift another out of a page. Records created after the start have higher ids and are
//! the live windows' to read.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use inlet_core::{ErrorKind, PartitionPage, PartitionReader, Partitions, SourceError};
use serde_json::{json, Value};

use super::client::{invalid, CallError, HubSpotClient};
use super::listed::{
    after_page, after_search_page, list_keeps, list_share, list_unit, listed_at_once,
    made_after_first, not_taken, read_already, searched_instead, split_listed, split_searched,
    starts_right, Handoff, ListWith, LIST_PAGE,
};
use super::position::{IdRange, Listed, Part};
use super::table::ObjectTable;
use super::window::PAGE;

/// Times a page answered 429 is asked again before the stream fails (and resumes from its
/// checkpoint). The limiter has already slowed the whole sync.
const RATE_LIMITED_ATTEMPTS: u32 = 8;

/// A call, asked again while HubSpot says to slow down.
async fn patiently<T, F, Fut>(what: &str, mut call: F) -> Result<T, CallError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CallError>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(CallError::Source(e))
                if e.kind == ErrorKind::RateLimited && attempt < RATE_LIMITED_ATTEMPTS =>
            {
                tracing::debug!(what, attempt, "rate limited; asking again");
                tokio::time::sleep(e.retry_after.unwrap_or_default()).await;
                attempt += 1;
            }
            answer => return answer,
        }
    }
}

/// One search, asked again while HubSpot says to slow down.
pub async fn search(
    client: &HubSpotClient,
    object: &str,
    body: &Value,
) -> Result<Vec<Value>, SourceError> {
    let mut answer = patiently("search", || client.search(object, body))
        .await
        .map_err(CallError::into_source)?;
    let path = format!("/crm/v3/objects/{object}/search");
    // Taken, not copied: a page of 200 records of 500 properties is megabytes.
    match answer.get_mut("results").map(Value::take) {
        Some(Value::Array(results)) => Ok(results),
        _ => Err(invalid(&path, "no results list")),
    }
}

/// Records `ids` of `table` with every property, by batch read (POST: any number of
/// properties), 100 a request, asked again while HubSpot says to slow down. Ids HubSpot no
/// longer has are not in the answer (a 207 lists them); a merged id answers with its
/// survivor, under the survivor's id.
pub async fn batch_read(
    client: &HubSpotClient,
    table: &ObjectTable,
    ids: &[u64],
) -> Result<Vec<Value>, SourceError> {
    let path = format!("/crm/v3/objects/{}/batch/read", table.api);
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(100) {
        let inputs: Vec<Value> = chunk
            .iter()
            .map(|id| json!({"id": id.to_string()}))
            .collect();
        let read = json!({"inputs": inputs, "properties": table.property_names()});
        let mut body = patiently("batch read", || client.post(&path, &read))
            .await
            .map_err(CallError::into_source)?;
        match body.get_mut("results").map(Value::take) {
            Some(Value::Array(results)) => out.extend(results),
            _ => return Err(invalid(&path, "no results list")),
        }
    }
    Ok(out)
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

/// One object type's backfill partitions: listed ranges through the list endpoint, id
/// ranges through search.
pub struct Reader<'a> {
    client: &'a HubSpotClient,
    table: &'a ObjectTable,
    /// Streams backfilling now: they share both budgets.
    backfilling: &'a AtomicUsize,
    /// How list pages get their records' properties.
    list: ListWith,
    /// Open ranges for the list (listed, or to be handed to it), as of the last set noted
    /// ([`Reader::note`]).
    listed_open: AtomicUsize,
    /// Ids left in searched ranges, as of the last set noted.
    searched_left: AtomicU64,
    /// A made cursor failed its check: the list here takes no cursor but its own.
    made_failed: AtomicBool,
    /// A made cursor passed its check: the list here takes them, so a range for it is
    /// listed at once, with no search page first.
    made_worked: AtomicBool,
    /// Where ranges are cut.
    spacing: Spacing,
}

impl<'a> Reader<'a> {
    pub fn new(
        client: &'a HubSpotClient,
        table: &'a ObjectTable,
        backfilling: &'a AtomicUsize,
        list: ListWith,
        parts: &Partitions<Part>,
    ) -> Self {
        let reader = Reader {
            client,
            table,
            backfilling,
            list,
            listed_open: AtomicUsize::new(0),
            searched_left: AtomicU64::new(0),
            made_failed: AtomicBool::new(false),
            made_worked: AtomicBool::new(false),
            spacing: Spacing::default(),
        };
        reader.note(parts);
        reader
    }

    /// Takes in the set as it stands after a page: what is open of each kind decides where
    /// the ranges of a split go, and how much search has left how much of its rest a list
    /// that makes no cursors keeps.
    pub fn note(&self, parts: &Partitions<Part>) {
        let listed = parts.open.iter().filter(|p| p.for_list()).count();
        self.listed_open.store(listed, Ordering::Relaxed);
        self.searched_left
            .store(searched_left(parts), Ordering::Relaxed);
    }

    fn streams(&self) -> usize {
        self.backfilling.load(Ordering::Relaxed).max(1)
    }

    /// Whether ranges may be listed from made cursors (none has failed its check).
    fn makes_cursors(&self) -> bool {
        !self.made_failed.load(Ordering::Relaxed)
    }

    /// How ranges for the list start: listed at once once a made cursor has passed its
    /// check here (and none failed) while nothing waits for the 10-second budget (for a
    /// token, or for the window its headers report); else after
    /// a search page. Where other streams or association passes wait for that budget, a
    /// range listed at once would take two of its requests for each page search reads on
    /// its own (a whole portal at `rate_limit = 10` took 8 % longer).
    fn handoff(&self) -> Handoff {
        let spare = !self.client.api_limiter.queued() && !self.client.list_waits();
        match spare && self.made_worked.load(Ordering::Relaxed) && self.makes_cursors() {
            true => Handoff::Listed,
            false => Handoff::AfterSearchPage,
        }
    }

    /// Search's pages in flight for this stream.
    fn searches(&self) -> usize {
        self.client
            .search_limiter
            .in_flight()
            .div_ceil(self.streams())
    }

    /// List pages in flight for this stream: as many as keep its share of the 10-second
    /// budget busy when cursors can be made, else the one a listed range reads.
    fn lists(&self) -> usize {
        if self.makes_cursors() {
            self.client.api_limiter.in_flight().div_ceil(self.streams())
        } else {
            self.listed_open.load(Ordering::Relaxed).min(1)
        }
    }

    /// Records a second the list and search each read for this stream now (each budget
    /// shared by the streams backfilling).
    fn speeds(&self) -> (f64, f64) {
        let streams = self.streams();
        let lists = self.lists().max(1) * streams;
        let list = self.client.api_limiter.throughput(lists) / streams as f64;
        let search = self.client.search_limiter.throughput(self.searches());
        (
            list * LIST_PAGE as f64 / self.list.requests_per_page(),
            search * PAGE as f64 / streams as f64,
        )
    }

    /// How many of a split's new ranges to list: what the list lacks of the pages it should
    /// have in flight. None while its requests wait for the 10-second window: a range listed
    /// then is read only as the window frees, while search, on its own budget, reads it now
    /// (at tier 100 the list waits about a second and a half as the tenth second nears, and a
    /// backfill ended with search idle and listed ranges still waiting).
    fn lists_lacking(&self) -> usize {
        match self.makes_cursors() && !self.client.list_waits() {
            true => (self.lists()).saturating_sub(self.listed_open.load(Ordering::Relaxed)),
            false => 0,
        }
    }

    /// The share of a fresh backfill's ids the list should read.
    pub fn list_share(&self) -> f64 {
        let (list, search) = self.speeds();
        list_share(list, search)
    }

    async fn searched(&self, range: IdRange) -> Result<PartitionPage<Part>, SourceError> {
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
        let ids: Vec<u64> = results.iter().filter_map(id_of).collect();
        if let (Some(&last), true) = (ids.last(), ids.len() >= PAGE) {
            self.spacing
                .note(last.saturating_sub(range.above), ids.len());
        }
        let next = match ids.last() {
            Some(&last) if results.len() >= PAGE && last < range.upto => {
                Some(after_search_page(range, &ids, self.makes_cursors()))
            }
            _ => None,
        };
        Ok(PartitionPage {
            records: self.table.records(&results, 0),
            next,
        })
    }

    /// A made cursor is not taken: this range and every later one are searched.
    fn made_fails(&self, why: &str) {
        if !self.made_failed.swap(true, Ordering::Relaxed) {
            tracing::info!(object = %self.table.api, why, "the list takes only its own cursors; searching what it would have listed");
        }
    }

    /// What is left of `range`, whose made cursor the list did not take.
    fn instead(range: &Listed) -> PartitionPage<Part> {
        PartitionPage {
            records: Vec::new(),
            next: Some(not_taken(range)),
        }
    }

    async fn listed(&self, range: Listed) -> Result<PartitionPage<Part>, SourceError> {
        let made = range.expect.is_some();
        if made && !self.makes_cursors() {
            return Ok(Self::instead(&range));
        }
        let properties = match &self.list {
            ListWith::Query(properties) => properties.as_str(),
            ListWith::BatchRead => "hs_object_id",
        };
        let (api, after) = (&self.table.api, range.after.as_deref());
        let page = patiently("list", || async {
            Ok(self.client.list(api, false, properties, after).await?)
        })
        .await;
        let (mut results, cursor) = match page.map_err(CallError::into_source) {
            Ok(page) => page,
            Err(e) if e.kind == ErrorKind::InvalidResponse && after.is_some() => {
                // A cursor HubSpot does not take (one made, or one of its own after a long
                // stop): search reads the rest, which the cursor's position bounds.
                match made {
                    true => self.made_fails(&e.message),
                    false => {
                        tracing::warn!(object = %api, error = %e.message, "the list refused its cursor; searching the rest")
                    }
                }
                return Ok(Self::instead(&range));
            }
            Err(e) => return Err(e),
        };
        let mut ids: Vec<u64> = results.iter().filter_map(id_of).collect();
        if !starts_right(&range, &ids) {
            self.made_fails("its first page did not start where search found the next record");
            return Ok(Self::instead(&range));
        }
        if range.expect.is_some() {
            self.made_worked.store(true, Ordering::Relaxed);
        }
        if let Some(seen) = read_already(&range) {
            results.retain(|r| id_of(r).is_some_and(|id| id > seen));
            ids.retain(|id| *id > seen);
        }
        let (keep, mut next) = after_page(&range, &ids, cursor);
        if self.makes_cursors() && !self.made_worked.load(Ordering::Relaxed) {
            if let Some(made) = made_after_first(&range, &ids, &next) {
                next = Some(Part::Listed(made));
            }
        }
        if !keep {
            tracing::warn!(object = %api, "the list is not in id order; searching its range instead");
        }
        let mut mine: Vec<Value> = match keep {
            true => (results.into_iter())
                .filter(|r| id_of(r).is_some_and(|id| id <= range.upto))
                .collect(),
            false => Vec::new(),
        };
        if self.list == ListWith::BatchRead && !mine.is_empty() {
            // One deleted since it was listed is not read: it is gone, as it should be.
            let ids: Vec<u64> = mine.iter().filter_map(id_of).collect();
            mine = batch_read(self.client, self.table, &ids).await?;
        }
        Ok(PartitionPage {
            records: self.table.records(&mine, 0),
            next,
        })
    }
}

impl PartitionReader for Reader<'_> {
    type Partition = Part;

    async fn page(&self, part: Part) -> Result<PartitionPage<Part>, SourceError> {
        match part {
            Part::Searched(range) => self.searched(range).await,
            Part::Listed(range) => self.listed(range).await,
        }
    }

    fn split(&self, part: &Part, pieces: usize) -> Vec<Part> {
        let lists = (self.lists_lacking(), self.handoff());
        let unit = self.spacing.unit();
        match part {
            Part::Searched(range) => split_searched(*range, pieces, lists, unit),
            Part::Listed(range) => {
                let keep = match self.makes_cursors() {
                    // Every range can be listed: equal shares.
                    true => 1.0 / pieces.max(1) as f64,
                    false => {
                        let (list, search) = self.speeds();
                        let left = self.searched_left.load(Ordering::Relaxed);
                        list_keeps(list, search, range.upto - range.last, left)
                    }
                };
                split_listed(range, pieces, keep, lists, unit)
            }
        }
    }

    fn concurrency(&self) -> usize {
        self.searches() + self.lists()
    }

    /// Round trips left: a range's pages are read one after another, a search page of 200
    /// records or a list page of 100. A fresh backfill's first range has no end yet.
    fn pages_left(&self, part: &Part) -> Option<f64> {
        let unit = self.spacing.unit();
        let (span, unit) = match part {
            Part::Searched(r) => (r.upto.saturating_sub(r.above), unit),
            Part::Listed(l) if l.upto == u64::MAX => return None,
            Part::Listed(l) => (l.upto.saturating_sub(l.last), list_unit(unit)),
        };
        Some(span as f64 / unit as f64)
    }

    /// Search's budget (0) and the list's (1, the 10-second budget).
    fn budgets(&self) -> usize {
        2
    }

    fn budget_of(&self, part: &Part) -> usize {
        match part {
            Part::Searched(_) => 0,
            Part::Listed(_) => 1,
        }
    }

    fn concurrency_on(&self, budget: usize) -> usize {
        match budget {
            0 => self.searches(),
            _ => self.lists(),
        }
    }

    /// A queued searched range is listed at once when `handoff` allows it; a queued
    /// listed range is searched from where it stands.
    fn hand_over(&self, part: &Part, budget: usize) -> Option<Part> {
        match (part, budget) {
            (Part::Searched(range), 1) if self.handoff() == Handoff::Listed => {
                Some(listed_at_once(*range))
            }
            (Part::Listed(range), 0) => Some(searched_instead(range)),
            _ => None,
        }
    }
}

/// Ids left in the searched ranges of `parts`.
fn searched_left(parts: &Partitions<Part>) -> u64 {
    (parts.open.iter())
        .map(|p| match p {
            Part::Searched(r) => r.upto.saturating_sub(r.above),
            Part::Listed(_) => 0,
        })
        .sum()
}

/// How far apart a range's cuts go: the ids a search page of records spans, as read so far
/// (records per id, from full search pages). Cut where a page ends, a range's last page is
/// full rather than a request for the few records past the last full page; each such page
/// costs a whole request of a budget the backfill has used up. This helps when ids are
/// spread evenly (the fake's are; how HubSpot spaces them is not documented) and changes
/// nothing when they are not.
#[derive(Debug, Default)]
pub struct Spacing {
    /// Ids spanned by the full search pages read, and their records.
    spanned: AtomicU64,
    records: AtomicU64,
}

impl Spacing {
    /// Notes a full search page: `records` records over `span` ids.
    pub fn note(&self, span: u64, records: usize) {
        self.spanned.fetch_add(span, Ordering::Relaxed);
        self.records.fetch_add(records as u64, Ordering::Relaxed);
    }

    /// The ids a search page of records spans: a page's worth of ids until one is read.
    pub fn unit(&self) -> u64 {
        let records = self.records.load(Ordering::Relaxed);
        let spanned = self.spanned.load(Ordering::Relaxed);
        match records {
            0 => PAGE as u64,
            _ => (spanned as f64 * PAGE as f64 / records as f64)
                .round()
                .max(1.0) as u64,
        }
    }
}

/// A cut `about` ids above where a range stands, moved to the end of a whole number of
/// pages (`unit` ids each, at least one), less a twentieth of a page: ids a little closer
/// together than seen so far still end in the last full page, not in one more.
pub fn aligned(about: u64, unit: u64) -> u64 {
    let unit = unit.max(1);
    let pages = ((about as f64 / unit as f64).round() as u64).max(1);
    pages * unit - unit / 20
}

/// What is left of `range` in up to `pieces` ranges of about equal id span, each but the
/// last a whole number of pages (`unit` ids each, see [`aligned`]), each bound where it was
/// (search, or the list after a page). None is less than a page, but where a piece is to
/// spare the last one's part-filled page becomes a range of its own ([`tail_apart`]); a
/// page or less stays whole.
pub fn split(range: IdRange, pieces: usize, unit: u64) -> Vec<IdRange> {
    let span = range.upto.saturating_sub(range.above);
    let whole = (pieces as u64).min(span / unit.max(1)).max(1);
    let mut out = Vec::new();
    let size = aligned(span / whole, unit);
    let mut above = range.above;
    while above < range.upto {
        let last = out.len() as u64 + 1 == whole;
        let upto = if last {
            range.upto
        } else {
            (above + size).min(range.upto)
        };
        out.push(IdRange {
            above,
            upto,
            list: range.list,
        });
        above = upto;
    }
    if out.len() < pieces {
        if let Some(last) = out.pop() {
            out.extend(tail_apart(last, unit));
        }
    }
    out
}

/// `range` cut after its whole pages (less a twentieth, as [`aligned`]) when the few ids
/// past them would otherwise be a part-filled page read after the others: as a range of
/// their own they cost the same request, read at once beside the pages. At a backfill's
/// end, such a page (7 records, 1) was a round trip after everything else.
fn tail_apart(range: IdRange, unit: u64) -> Vec<IdRange> {
    let span = range.upto.saturating_sub(range.above);
    let unit = unit.max(1);
    let kept = (span / unit).max(1) * unit - unit / 20;
    if !no_request_more(span, kept, unit, unit) {
        return vec![range];
    }
    let cut = range.above + kept;
    vec![
        IdRange { upto: cut, ..range },
        IdRange {
            above: cut,
            ..range
        },
    ]
}

/// Whether `span` ids read `own` ids a page, cut into the bottom `kept` and a top read `top`
/// ids a page, take no more pages than read whole.
pub fn no_request_more(span: u64, kept: u64, own: u64, top: u64) -> bool {
    let pages = |ids: u64, unit: u64| ids.div_ceil(unit.max(1));
    kept < span && pages(kept, own) + pages(span - kept, top) <= pages(span, own)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_covers_exactly_the_rest_in_whole_pages_and_small_ranges_stay_whole() {
        let range = IdRange {
            above: 100,
            upto: 10_100,
            list: false,
        };
        // 300 ids a page (one id in three a record): 33 pages, 8 a piece but the last.
        let pieces = split(range, 4, 300);
        assert_eq!(pieces.len(), 4);
        assert_eq!(pieces[0].above, 100);
        assert_eq!(pieces.last().map(|p| p.upto), Some(10_100));
        assert!(
            pieces.windows(2).all(|w| w[0].upto == w[1].above),
            "no gap, no overlap"
        );
        assert!(
            pieces[..3].iter().all(|p| p.upto - p.above == 8 * 300 - 15),
            "whole pages, less a twentieth: {pieces:?}"
        );
        let small = IdRange {
            above: 0,
            upto: 300,
            list: false,
        };
        assert_eq!(
            split(small, 8, 200),
            [(0, 190), (190, 300)].map(|(above, upto)| IdRange {
                above,
                upto,
                list: false
            }),
            "a page and a half: the half read beside the page, no request more"
        );
        let one_page = IdRange { upto: 200, ..small };
        assert_eq!(split(one_page, 8, 200), vec![one_page], "a page: whole");
        assert_eq!(
            split(small, 8, 100).len(),
            4,
            "three pages of 95 ids, then the 15 past them"
        );
        assert_eq!(aligned(450, 200), 390, "two pages, less a twentieth of one");
        assert_eq!(aligned(10, 200), 190, "at least a page");
    }

    #[test]
    fn the_spacing_is_what_full_search_pages_spanned() {
        let spacing = Spacing::default();
        assert_eq!(
            spacing.unit(),
            PAGE as u64,
            "a page's worth of ids until one is read"
        );
        spacing.note(600, PAGE);
        spacing.note(400, PAGE);
        assert_eq!(spacing.unit(), 500);
    }
}
