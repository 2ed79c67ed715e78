//! `GET /query` and `/queryAll`: the first page of a SOQL result and, while more remain,
//! a `nextRecordsUrl` (`/services/data/vXX.X/query/01g...-2000`) to follow with no
//! parameters. A locator remembers which records the query selected, in order (the
//! values are read when each page is fetched); it lives 2 days (API ≥ 56) and can be
//! made invalid on purpose with the `invalidate_locators` knob.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::errors::ApiError;
use super::render::rest_record;
use super::soql;
use super::store::Store;

const LOCATOR_LIFE: Duration = Duration::from_secs(2 * 86_400);
const DEFAULT_BATCH: usize = 2000;

#[derive(Debug)]
struct Cursor {
    table: usize,
    columns: Vec<usize>,
    ids: Arc<Vec<String>>,
    made: Instant,
}

/// Open query locators.
#[derive(Debug, Default)]
pub(crate) struct Cursors {
    open: HashMap<String, Cursor>,
    next: u64,
}

impl Cursors {
    /// Every open locator becomes invalid (`INVALID_QUERY_LOCATOR` on the next page).
    pub fn invalidate(&mut self) {
        self.open.clear();
    }
}

/// The batch size a `Sforce-Query-Options: batchSize=N` header asks for: 200 to 2,000,
/// a hint Salesforce may not honour exactly (the fake does, within those bounds).
pub(crate) fn batch_size(header: Option<&str>) -> usize {
    header
        .and_then(|h| {
            h.split(',')
                .filter_map(|part| part.trim().strip_prefix("batchSize="))
                .find_map(|n| n.trim().parse::<usize>().ok())
        })
        .map_or(DEFAULT_BATCH, |n| n.clamp(200, DEFAULT_BATCH))
}

/// Where a page comes from: a locator's selection, from `offset`, `batch` records.
struct Slice<'a> {
    locator: &'a str,
    ids: &'a [String],
    table: usize,
    columns: &'a [usize],
    offset: usize,
    batch: usize,
}

fn page(store: &Store, cursors: &mut Cursors, slice: Slice<'_>, version: &str) -> Value {
    let Slice {
        locator,
        ids,
        table,
        columns,
        offset,
        batch,
    } = slice;
    let end = (offset + batch).min(ids.len());
    let records: Vec<Value> = ids[offset..end]
        .iter()
        .filter_map(|id| store.tables[table].records.get(id))
        .map(|record| rest_record(store, table, record, columns))
        .collect();
    let mut body = json!({"totalSize": ids.len(), "done": end >= ids.len(), "records": records});
    if end < ids.len() {
        body["nextRecordsUrl"] = json!(format!("/services/data/v{version}/query/{locator}-{end}"));
    } else {
        cursors.open.remove(locator);
    }
    body
}

/// `GET /query?q=...` (or `/queryAll` with `all`).
pub(crate) fn first(
    store: &Store,
    cursors: &mut Cursors,
    soql_text: &str,
    all: bool,
    batch: usize,
    version: &str,
) -> Result<Value, ApiError> {
    let query = soql::parse(store, soql_text)?;
    let ids = Arc::new(soql::run(store, &query, all));
    cursors.next += 1;
    let locator = format!("01gDn{:013}", cursors.next);
    cursors.open.insert(
        locator.clone(),
        Cursor {
            table: query.table,
            columns: query.columns.clone(),
            ids: ids.clone(),
            made: Instant::now(),
        },
    );
    let slice = Slice {
        locator: &locator,
        ids: &ids,
        table: query.table,
        columns: &query.columns,
        offset: 0,
        batch,
    };
    Ok(page(store, cursors, slice, version))
}

/// `GET /query/{locator}-{offset}`: the page after `offset`.
pub(crate) fn more(
    store: &Store,
    cursors: &mut Cursors,
    next: &str,
    batch: usize,
    version: &str,
) -> Result<Value, ApiError> {
    let invalid = || ApiError::new(400, "INVALID_QUERY_LOCATOR", "invalid query locator");
    let (locator, offset) = next.rsplit_once('-').ok_or_else(invalid)?;
    let offset: usize = offset.parse().map_err(|_| invalid())?;
    let cursor = cursors.open.get(locator).ok_or_else(invalid)?;
    if cursor.made.elapsed() > LOCATOR_LIFE || offset > cursor.ids.len() {
        return Err(invalid());
    }
    let (ids, table, columns) = (cursor.ids.clone(), cursor.table, cursor.columns.clone());
    let slice = Slice {
        locator,
        ids: &ids,
        table,
        columns: &columns,
        offset,
        batch,
    };
    Ok(page(store, cursors, slice, version))
}
