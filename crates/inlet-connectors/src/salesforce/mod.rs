//! Salesforce (REST API) as a source: every `queryable` and `replicateable` object of the
//! org, each a table of the columns its describe gives ([`schema`]).
//!
//! A backfill notes the time, then reads the object's live records by `query` in ranges
//! of `SystemModstamp`, several at once ([`backfill`]), each in keyset pages on
//! `(SystemModstamp, Id)` ([`soql`]), every range's place in the checkpoint. Then each
//! poll reads by `queryAll` every record whose `SystemModstamp` is at least the last one
//! seen less an overlap (for transactions that commit late): changed records are rows,
//! records in the Recycle Bin (deleted, or merged away) deletes, undeleted ones rows
//! again. Every few polls getDeleted names records purged from the Recycle Bin before a
//! poll saw them, and describe is read again, so a new field gets its column. When that
//! log no longer reaches back to the last read, the object is read again whole and the
//! rows of records not found removed ([`position::Reconcile`]). Versions are
//! `SystemModstamp`s: a stale read never overwrites a newer one.
//!
//! An object with at least `bulk_threshold` records (by `limits/recordCount`; 50,000 by
//! default) is backfilled by Bulk API 2.0 query jobs instead, one per range, its CSV
//! results read chunk by chunk by locator, each range's job and locator in the checkpoint
//! ([`bulk`]); its polls are REST's, as every object's.
//!
//! Every call takes one of the sync's share of the org's daily API allocation
//! ([`crate::http::allowance`], kept by the client): a spent share, or an org refusing with
//! `REQUEST_LIMIT_EXCEEDED`, pauses the calls (the streams wait, they do not fail) and is
//! reported to the sync's meter for `inlet sync status`.

mod backfill;
mod bulk;
mod bulk_chunk;
pub mod bulk_rows;
mod client;
mod connector;
pub mod csv;
mod live;
pub mod login;
mod position;
pub mod schema;
pub mod soql;
mod streams;
pub mod table;

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use inlet_core::{
    read_partitions, Batch, BatchStream, Checkpoint, Column, Discovery, ErrorKind, Partitions,
    Phase, Record, Source, SourceError, StreamSpec,
};
use tokio::sync::RwLock;

use crate::backfilling::Backfilling;

use backfill::{first_range, StampRanges};
use bulk::{BulkRange, BulkRanges};
use client::SalesforceClient;
use live::{api_datetime, page};
use position::{Position, Reconcile};
use soql::After;
use table::ObjectTable;

pub use connector::Salesforce;

#[derive(Clone, Debug)]
pub struct SalesforceOptions {
    /// How often each object is polled.
    pub poll_interval: Duration,
    /// How far before the last `SystemModstamp` seen each poll reads again.
    pub overlap: Duration,
    /// The streams to sync (`None`: every replicateable object).
    pub streams: Option<Vec<String>>,
    /// Objects with at least this many records are backfilled by Bulk API 2.0.
    pub bulk_threshold: u64,
}

/// The default `bulk_threshold`.
pub const DEFAULT_BULK_THRESHOLD: u64 = bulk::DEFAULT_THRESHOLD;

/// A live stream with nothing to write still writes its checkpoint this often.
const HEARTBEAT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct SalesforceSource {
    /// Shared with a rebuild's copy read beside this source (see [`Source::beside`]).
    client: Arc<SalesforceClient>,
    options: SalesforceOptions,
    /// The org's tables, found out by [`Source::discover`].
    catalog: RwLock<Option<Vec<ObjectTable>>>,
    /// Streams reading their backfill now: they share the requests in flight.
    backfilling: AtomicUsize,
}

/// Unix milliseconds now.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl SalesforceSource {
    pub fn new(client: SalesforceClient, options: SalesforceOptions) -> Self {
        Self::sharing(Arc::new(client), options, None)
    }

    /// A source sending through `client`, knowing `catalog` if given.
    fn sharing(
        client: Arc<SalesforceClient>,
        options: SalesforceOptions,
        catalog: Option<Vec<ObjectTable>>,
    ) -> Self {
        SalesforceSource {
            client,
            options,
            catalog: RwLock::new(catalog),
            backfilling: AtomicUsize::new(0),
        }
    }

    async fn catalog(&self) -> Result<Vec<ObjectTable>, SourceError> {
        if let Some(c) = self.catalog.read().await.as_ref() {
            return Ok(c.clone());
        }
        let found = streams::discover(&self.client, self.options.streams.as_deref()).await?;
        *self.catalog.write().await = Some(found.clone());
        Ok(found)
    }

    /// `api`'s table as the catalog last had it.
    async fn described(&self, api: &str) -> Option<ObjectTable> {
        let catalog = self.catalog.read().await;
        catalog.as_ref()?.iter().find(|t| t.api == api).cloned()
    }

    /// `api`'s table as describe gives it now, also for the streams read after this.
    async fn redescribe(&self, api: &str) -> Result<Option<ObjectTable>, SourceError> {
        let fresh = streams::describe(&self.client, api).await?;
        if let (Some(fresh), Some(catalog)) = (&fresh, self.catalog.write().await.as_mut()) {
            for table in catalog.iter_mut().filter(|t| t.api == api) {
                *table = fresh.clone();
            }
        }
        Ok(fresh)
    }

    fn overlap_ms(&self) -> i64 {
        self.options.overlap.as_millis() as i64
    }

    /// How often getDeleted and describe are read again.
    fn housekeeping(&self) -> Duration {
        self.options
            .poll_interval
            .saturating_mul(10)
            .max(Duration::from_secs(5))
    }

    /// Where a backfill of `table` starts now: every record live now, by Bulk jobs when
    /// the object is large, else by REST queries; a `reconcile` one also removes the rows
    /// of records it does not find.
    async fn backfill(
        &self,
        table: &ObjectTable,
        reconcile: bool,
    ) -> Result<Position, SourceError> {
        let since_ms = now_ms();
        let reconcile = reconcile.then(|| Reconcile {
            floor_ms: since_ms - self.overlap_ms(),
        });
        let first = first_range(&self.client, table, since_ms).await?;
        Ok(match first {
            Some(first)
                if bulk::is_large(&self.client, table, self.options.bulk_threshold).await? =>
            {
                Position::Bulk {
                    parts: Partitions::new(vec![BulkRange::fresh(&first)]),
                    since_ms,
                    reconcile,
                }
            }
            first => Position::Backfill {
                parts: Partitions::new(first.into_iter().collect()),
                since_ms,
                reconcile,
            },
        })
    }

    /// The end of a reconciliation: the records changed since it began (a change moves a
    /// record past the ranges, so the pass may not have listed it), then the sweep of the
    /// rows it left older than its floor, at the live position `live`.
    async fn sweep(
        &self,
        table: &ObjectTable,
        since_ms: i64,
        reconcile: Reconcile,
        live: &Position,
    ) -> Result<Batch, SourceError> {
        let mut after = After {
            stamp: api_datetime(reconcile.floor_ms),
            id: None,
        };
        let mut records = Vec::new();
        loop {
            let (more_records, last, more) = page(&self.client, table, &after).await?;
            records.extend(more_records);
            match last {
                Some(last) if more => {
                    after = After {
                        stamp: last.text,
                        id: Some(last.id),
                    }
                }
                _ => break,
            }
        }
        let mut batch = Batch::new(reconcile.raise(records), live.checkpoint(), Phase::Backfill);
        batch.sweep = Some(reconcile.floor());
        batch.progress = Some(1.0);
        tracing::info!(object = %table.api, since_ms, "reconciled: rows of records Salesforce no longer has are removed");
        Ok(batch)
    }

    fn live_from(&self, since_ms: i64, gone: &[String]) -> Position {
        Position::Live {
            stamp_ms: since_ms,
            deleted_ms: since_ms - self.overlap_ms(),
            complete_ms: since_ms - self.overlap_ms(),
            gone: gone.to_vec(),
        }
    }

    /// `table`'s stream from `from`; `newly_gone`: fields found no longer readable since
    /// the position was saved.
    fn read_object<'a>(
        &'a self,
        table: ObjectTable,
        from: Option<Checkpoint>,
        newly_gone: Vec<String>,
    ) -> BatchStream<'a> {
        Box::pin(async_stream::try_stream! {
            let mut table = table;
            let mut position = match &from {
                Some(c) => Position::from_checkpoint(c)?,
                None => self.backfill(&table, false).await?,
            };
            let mut gone = match &position {
                Position::Live { gone, .. } => gone.clone(),
                _ => Vec::new(),
            };
            for field in newly_gone {
                if !gone.contains(&field) {
                    gone.push(field);
                }
            }
            let mut last_write = Instant::now();
            let mut housekept = Instant::now();
            // When the last poll began: polls keep a cadence of one per interval, so a
            // change waits at most the interval for the poll that reads it (a poll's own
            // requests are not added to the wait).
            let mut polled = Instant::now();
            // When the fields in hand were read.
            let mut described_ms = now_ms();
            // The table's columns, when describe changed them, for the next batch to carry.
            let mut columns: Option<Vec<Column>> = None;
            loop {
                match position {
                    Position::Backfill { parts, since_ms, reconcile } => {
                        let _counted = Backfilling::enter(&self.backfilling);
                        let live = self.live_from(since_ms, &gone);
                        if !parts.complete() {
                            let reader = StampRanges::new(&self.client, &table, &self.backfilling);
                            let mut steps = std::pin::pin!(read_partitions(&reader, parts));
                            while let Some(step) = steps.next().await {
                                let (records, set) = step?;
                                let (done, all) = set.counts();
                                // The batch that completes the last range carries the live
                                // position, unless a reconciliation's sweep is still to come.
                                let at = match (set.complete(), reconcile) {
                                    (true, None) => live.clone(),
                                    _ => Position::Backfill { parts: set, since_ms, reconcile },
                                };
                                yield backfill_batch(records, &at, reconcile, (done, all));
                            }
                        }
                        if let Some(r) = reconcile {
                            yield self.sweep(&table, since_ms, r, &live).await?;
                        }
                        position = live;
                        last_write = Instant::now();
                        polled = last_write;
                        yield Batch::new(Vec::new(), position.checkpoint(), Phase::Live);
                    }
                    Position::Bulk { parts, since_ms, reconcile } => {
                        let _counted = Backfilling::enter(&self.backfilling);
                        let live = self.live_from(since_ms, &gone);
                        let reader = BulkRanges::new(&self.client, &table, &self.backfilling);
                        let mut latest = parts.clone();
                        let mut steps = std::pin::pin!(read_partitions(&reader, parts));
                        let mut refused = None;
                        while let Some(step) = steps.next().await {
                            let (records, set) = match (step, reader.refused()) {
                                (Ok(step), _) => step,
                                (Err(_), Some(why)) => {
                                    refused = Some(why);
                                    break;
                                }
                                (Err(e), None) => Err(e)?,
                            };
                            latest = set.clone();
                            let (done, all) = set.counts();
                            let at = match (set.complete(), reconcile) {
                                (true, None) => live.clone(),
                                _ => Position::Bulk { parts: set, since_ms, reconcile },
                            };
                            yield backfill_batch(records, &at, reconcile, (done, all));
                        }
                        if let Some(why) = refused {
                            // Not every object can be read by Bulk: the ranges left are read
                            // by REST queries, from where the last batch written left them.
                            tracing::warn!(object = %table.api, "Salesforce would not read it by Bulk API 2.0 ({why}): reading it by REST queries instead");
                            let parts = Partitions {
                                open: latest.open.iter().map(bulk::by_rest).collect(),
                                done: latest.done,
                            };
                            let counts = parts.counts();
                            position = Position::Backfill { parts, since_ms, reconcile };
                            yield backfill_batch(Vec::new(), &position, reconcile, counts);
                            continue;
                        }
                        if let Some(r) = reconcile {
                            yield self.sweep(&table, since_ms, r, &live).await?;
                        }
                        position = live;
                        last_write = Instant::now();
                        polled = last_write;
                        yield Batch::new(Vec::new(), position.checkpoint(), Phase::Live);
                    }
                    Position::Live { stamp_ms, deleted_ms, complete_ms, .. } => {
                        tokio::time::sleep_until((polled + self.options.poll_interval).into()).await;
                        polled = Instant::now();
                        let started_ms = now_ms();
                        let (mut stamp_ms, mut deleted_ms) = (stamp_ms, deleted_ms);
                        if housekept.elapsed() >= self.housekeeping() {
                            housekept = Instant::now();
                            // A field added since gets its column, typed as describe
                            // says, before the next values are written.
                            if let Some(fresh) = self.redescribe(&table.api).await? {
                                let added = fresh.fields.iter().any(|(n, _)| table.fields.iter().all(|(o, _)| o != n));
                                if added {
                                    // Values of it set after the last describe were read
                                    // without it: read those records again.
                                    stamp_ms = stamp_ms.min(described_ms);
                                }
                                if fresh.fields != table.fields {
                                    columns = Some(fresh.spec().columns);
                                }
                                let unread = |f: &str| fresh.fields.iter().all(|(n, _)| n != f);
                                gone.retain(|f| unread(f));
                                for (field, _) in &table.fields {
                                    if unread(field) && !gone.contains(field) {
                                        tracing::warn!(object = %table.api, field = %field, "a field is no longer readable (deleted, or hidden from the integration user): its column stays, null in rows changed from now on");
                                        gone.push(field.clone());
                                    }
                                }
                                table = fresh;
                                described_ms = started_ms;
                            }
                            let seen_ms = deleted_ms + self.overlap_ms();
                            let purged = live::purged(&self.client, &table, deleted_ms, seen_ms, started_ms).await?;
                            let deletes = purged.deletes;
                            deleted_ms = purged.next_ms - self.overlap_ms();
                            position = Position::Live { stamp_ms, deleted_ms, complete_ms, gone: gone.clone() };
                            if purged.trimmed {
                                tracing::warn!(
                                    object = %table.api,
                                    "Salesforce no longer logs the deletes since this object was last read (its delete log was trimmed, or inlet was away longer than it reaches back): reading every record again to remove those purged unseen"
                                );
                                position = self.backfill(&table, true).await?;
                                yield Batch::new(deletes, position.checkpoint(), Phase::Live);
                                continue;
                            }
                            if !deletes.is_empty() || columns.is_some() {
                                last_write = Instant::now();
                                let mut batch = Batch::new(deletes, position.checkpoint(), Phase::Live);
                                batch.columns = columns.take();
                                yield batch;
                            }
                        }
                        let from_ms = stamp_ms - self.overlap_ms();
                        let mut after = After { stamp: api_datetime(from_ms), id: None };
                        let mut newest = stamp_ms;
                        let mut records: Vec<Record> = Vec::new();
                        loop {
                            let (page_records, last, more) = page(&self.client, &table, &after).await?;
                            records.extend(page_records);
                            if let Some(last) = last {
                                newest = newest.max(last.ms);
                                after = After { stamp: last.text, id: Some(last.id) };
                            }
                            if !more {
                                break;
                            }
                            // Mid-poll the position stays where the poll began.
                            last_write = Instant::now();
                            yield Batch::new(std::mem::take(&mut records), position.checkpoint(), Phase::Live);
                        }
                        position = Position::Live {
                            stamp_ms: newest,
                            deleted_ms,
                            complete_ms: started_ms - self.overlap_ms(),
                            gone: gone.clone(),
                        };
                        if !records.is_empty() || last_write.elapsed() >= HEARTBEAT {
                            last_write = Instant::now();
                            yield Batch::new(records, position.checkpoint(), Phase::Live);
                        }
                    }
                }
            }
        })
    }
}

impl Source for SalesforceSource {
    fn discover(&self) -> Discovery<'_> {
        Box::pin(async move {
            let catalog = self.catalog().await?;
            Ok(catalog.iter().map(ObjectTable::spec).collect())
        })
    }

    /// The copy's source sends through the same client: one login (with rotation, each
    /// login spends the refresh token), the sync's rate, its requests in flight (the org
    /// limits its long-running ones) and its daily share. It starts from the catalog the
    /// live tables were made from.
    fn beside(&self) -> Option<Arc<dyn Source>> {
        let catalog = self.catalog.try_read().ok().and_then(|c| c.clone());
        let (client, options) = (self.client.clone(), self.options.clone());
        Some(Arc::new(Self::sharing(client, options, catalog)))
    }

    fn read<'a>(&'a self, spec: &'a StreamSpec, from: Option<&'a Checkpoint>) -> BatchStream<'a> {
        Box::pin(async_stream::try_stream! {
            let catalog = self.catalog().await?;
            let Some(mut table) = catalog.into_iter().find(|t| t.table == spec.name) else {
                Err(SourceError::new(ErrorKind::InvalidResponse, format!("no Salesforce stream {}", spec.name)))?;
                return;
            };
            let mut from = from.cloned();
            let mut newly_gone: Vec<String> = Vec::new();
            loop {
                let mut inner = self.read_object(table.clone(), from.clone(), newly_gone.clone());
                let mut refused = None;
                while let Some(batch) = inner.next().await {
                    match batch {
                        Ok(batch) => {
                            from = Some(batch.checkpoint.clone());
                            yield batch;
                        }
                        Err(e) if names_a_missing_field(&e) => {
                            refused = Some(e);
                            break;
                        }
                        Err(e) => Err(e)?,
                    }
                }
                let Some(refused) = refused else { return };
                // A field was deleted, or hidden from the integration user, since describe
                // was read: read it again and go on from the last batch, without the field.
                // Its column stays; a row changed from now on holds null there.
                // The fields as the stream last read them (its own describes keep the
                // catalog current).
                let before = self.described(&table.api).await.unwrap_or(table);
                let Some(fresh) = self.redescribe(&before.api).await? else {
                    Err(refused)?;
                    return;
                };
                let gone: Vec<String> = (before.fields.iter())
                    .filter(|(f, _)| fresh.fields.iter().all(|(n, _)| n != f))
                    .map(|(f, _)| f.clone())
                    .collect();
                if gone.is_empty() {
                    // describe still lists every field the query named: not a vanished field.
                    Err(refused)?;
                }
                tracing::warn!(
                    object = %before.api,
                    fields = %gone.join(", "),
                    "fields are no longer readable (deleted, or hidden from the integration user): their columns stay, null in rows changed from now on"
                );
                newly_gone.extend(gone);
                table = fresh;
            }
        })
    }
}

/// A backfill step's batch: its records (no older than a reconciliation's floor) leaving
/// the stream `at`, with the share of ranges `(done, all)` for progress.
fn backfill_batch(
    records: Vec<Record>,
    at: &Position,
    reconcile: Option<Reconcile>,
    (done, all): (u32, u32),
) -> Batch {
    let records = match reconcile {
        Some(r) => r.raise(records),
        None => records,
    };
    let mut batch = Batch::new(records, at.checkpoint(), Phase::Backfill);
    batch.progress = Some(f64::from(done) / f64::from(all.max(1)));
    batch
}

/// A query refused because it names a field the object no longer has (as the client words
/// Salesforce's `INVALID_FIELD`).
fn names_a_missing_field(e: &SourceError) -> bool {
    e.message.contains("(HTTP 400, INVALID_FIELD)")
}

/// The Unix second up to which a stream at `checkpoint` holds every change.
pub fn complete_until(checkpoint: &Checkpoint) -> Option<i64> {
    Position::from_checkpoint(checkpoint).ok()?.complete_until()
}

/// What `inlet sync status` says of a stream at `checkpoint`: the fields no longer readable.
pub fn notes(checkpoint: &Checkpoint) -> Vec<String> {
    match Position::from_checkpoint(checkpoint) {
        Ok(Position::Live { gone, .. }) if !gone.is_empty() => vec![format!(
            "no longer readable (deleted, or hidden from the integration user by field-level \
             security): {}; their columns stay, null in rows changed since",
            gone.join(", ")
        )],
        _ => Vec::new(),
    }
}

/// (ranges complete, in all) of a backfill.
pub fn partitions(checkpoint: &Checkpoint) -> Option<(u32, u32)> {
    match Position::from_checkpoint(checkpoint).ok()? {
        Position::Backfill { parts, .. } => Some(parts.counts()),
        Position::Bulk { parts, .. } => Some(parts.counts()),
        Position::Live { .. } => None,
    }
}
