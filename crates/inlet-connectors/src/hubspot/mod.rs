//! HubSpot (CRM v3) as a source: the twelve standard objects and the portal's custom
//! objects with every property typed, owners, pipelines and their stages, and the labels of
//! enumeration options.
//!
//! A backfill first notes the time, then copies id ranges by list and by search at once,
//! each on its own budget ([`backfill`], [`listed`]); when every range is done the stream
//! follows modified-date search windows from that time, less search's indexing lag
//! ([`live`]), so every change made during the backfill is applied.
//! Versions are modified dates, so a stale read never overwrites a newer one. Archived
//! records leave the table when the archive is read; records absorbed in a merge when
//! their survivor is; GDPR-deleted ones at the next reconciliation. Polling is the source
//! of truth; [`HubSpotSource::nudge`] (a verified webhook) makes the next poll happen at once,
//! and one more once search has indexed what the webhook told of; the records it names are
//! read by id at that poll ([`live::reread`]), so they land without waiting for search, and
//! those HubSpot no longer has leave.
//!
//! Every call but search takes one of the sync's share (`api_share`) of the account's daily
//! limit, which every app of the account shares ([`client`]): a spent share, or HubSpot
//! refusing with `DAILY`, pauses the calls until the day turns (the streams wait, they do
//! not fail) and is reported to the sync's meter for `inlet sync status`.

mod associations;
mod backfill;
mod client;
mod connector;
mod listed;
mod live;
mod position;
mod reference;
pub mod schema;
#[cfg(test)]
mod simulated;
mod streams;
mod table;
pub mod time;
pub mod webhook;
pub mod window;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use inlet_core::{
    read_partitions, Batch, BatchStream, Change, Checkpoint, Discovery, ErrorKind, Partitions,
    Phase, Record, Source, SourceError, StreamSpec, SweepWithin, Version,
};
use tokio::sync::{watch, RwLock};

use crate::backfilling::Backfilling;
use crate::beside::Beside;
use crate::http::allowance::DAY;
use crate::http::{Auth, DailyShare, Days, Meter, DEFAULT_SHARE};
use associations::Pair;
use backfill::Reader;
use client::{now_ms, HubSpotClient};
use inlet_core::PartitionReader;
use position::{Part, Position};
use reference::Reference;
use streams::{Catalog, StreamDef};
use table::ObjectTable;
use window::{checkpoint_after, poll_window, WindowRead};

pub use connector::HubSpot;
pub use streams::stream_names;

#[derive(Clone, Debug)]
pub struct HubSpotOptions {
    /// `https://api.hubapi.com`, or a fake or proxy.
    pub api_base: String,
    /// Requests per second of the 10-second budget for this sync (search has its own).
    pub rate_limit: f64,
    /// How often changes are read when no webhook says to read them sooner.
    pub poll_interval: Duration,
    /// How far back each poll reads again, for changes search had not indexed yet.
    pub search_lag: Duration,
    /// How often the whole of each object type is read again, to catch GDPR deletes.
    pub reconcile_every: Duration,
    /// How often each association table is read again whole (how fresh it is).
    pub associations_every: Duration,
    /// The streams to sync (`None`: all, custom objects included).
    pub streams: Option<Vec<String>>,
    /// Told of every request (the sync's API metrics).
    pub meter: Meter,
    /// The share of the account's remaining daily limit this sync may use in a day.
    pub api_share: f64,
    /// How long HubSpot's day is (a day; seconds in tests), turning at midnight UTC.
    pub day: Duration,
}

impl Default for HubSpotOptions {
    fn default() -> Self {
        HubSpotOptions {
            api_base: "https://api.hubapi.com".into(),
            // 100 requests per 10 s is the smallest tier; half of it leaves the portal's
            // other apps their share.
            rate_limit: 5.0,
            poll_interval: Duration::from_secs(1),
            search_lag: Duration::from_secs(30),
            reconcile_every: Duration::from_secs(24 * 3600),
            associations_every: Duration::from_secs(900),
            streams: None,
            meter: Meter::default(),
            api_share: DEFAULT_SHARE,
            day: DAY,
        }
    }
}

/// A live stream with nothing to write still writes its checkpoint this often.
const HEARTBEAT: Duration = Duration::from_secs(5);

/// Records per batch at most while reading a window or a reconciliation.
const BATCH_RECORDS: usize = 1_000;

/// How far back an archive pass looks beyond the last one: clocks and search disagree.
const ARCHIVE_MARGIN_MS: i64 = 3_600_000;

/// How far before a reconciliation starts its sweep reaches: rows changed just before the
/// pass by HubSpot's clock are kept (the next pass looks at them).
const RECONCILE_MARGIN_MS: i64 = 60_000;

#[derive(Debug)]
pub struct HubSpotSource {
    client: HubSpotClient,
    options: HubSpotOptions,
    /// What the portal has, found out by [`Source::discover`].
    catalog: RwLock<Option<Catalog>>,
    /// Held while the catalog is found out: the streams starting together without one
    /// wait for a single discovery (each asking its own, a copy's 31 streams sent 434
    /// requests and started 80 s late).
    discovering: tokio::sync::Mutex<()>,
    /// How many nudges (verified webhooks) so far: each stream polls at once when it
    /// changes, even if it was busy reading when the nudge came.
    nudges: watch::Sender<u64>,
    /// Streams reading their backfill now: they share search's requests in flight.
    backfilling: AtomicUsize,
    /// What verified webhooks said to look at again, and records gone whose associations
    /// must leave their tables.
    hints: Mutex<Hints>,
    /// Counts changes to the association hints: association streams wake on it between
    /// their passes.
    relinks: watch::Sender<u64>,
    /// Counts catch-ups ([`Source::catch_up`]): the reference and association tables read
    /// again whole at once, not when due.
    catch_ups: watch::Sender<u64>,
}

/// What to look at again, each taken by the next poll of the stream it concerns.
#[derive(Debug, Default)]
struct Hints {
    /// Records that changed or may be gone, by type's API name ([`live::reread`]).
    touched: HashMap<String, BTreeSet<u64>>,
    /// Records whose associations changed, by (type, other type) ([`Pair::of`]).
    relinked: HashMap<(String, String), BTreeSet<u64>>,
    /// Records of the other type whose associations changed (restored, merged into), by
    /// (type, other type): the records associated with them are read again
    /// ([`Pair::linked_from`]).
    relinked_to: HashMap<(String, String), BTreeSet<u64>>,
    /// Records of a pair's types found gone (archived, merged away, deleted), by (type,
    /// other type): their rows leave the pair's table without a read, as HubSpot no longer
    /// shows their associations.
    gone: HashMap<(String, String), Gone>,
    /// Deletes already noted in `gone`, by (type, id, version): the archive pass finds the
    /// same ones again for an hour, and each would sweep the tables again.
    noted: HashSet<(String, u64, i64)>,
}

/// Records gone on each side of a pair.
#[derive(Debug, Default)]
struct Gone {
    from: BTreeSet<u64>,
    to: BTreeSet<u64>,
}

/// The most archived ids a type keeps between housekeeping passes to tell restores by; a
/// larger archive's restores wait for the association pass.
const ARCHIVE_KEPT: usize = 100_000;

/// Ids kept per type (or pair) for the next poll; beyond it they wait for the archive
/// pass, the reconciliation or the association pass.
const HINTS_PER_KIND: usize = 10_000;

/// The ids `hints` holds for `pair`, taken, as text.
fn taken(hints: &mut HashMap<(String, String), BTreeSet<u64>>, pair: &Pair) -> Vec<String> {
    let ids = hints.remove(&(pair.from.clone(), pair.to.clone()));
    ids.map_or_else(Vec::new, |ids| ids.iter().map(u64::to_string).collect())
}

fn hint(ids: &mut BTreeSet<u64>, id: u64) {
    if ids.len() < HINTS_PER_KIND {
        ids.insert(id);
    }
}

/// What ended a live stream's wait.
enum Wake {
    /// Time to poll (true: a nudge said so).
    Poll(bool),
    /// The housekeeping pass in flight finished.
    Chores(Result<live::Chores, SourceError>),
    /// A page of the reconciliation in flight.
    Reconciled(Result<live::Reconciled, SourceError>),
}

impl HubSpotSource {
    pub fn new(options: HubSpotOptions, auth: Arc<dyn Auth>) -> Result<Self, SourceError> {
        if let Some(names) = &options.streams {
            let known = stream_names();
            if let Some(unknown) = names.iter().find(|n| !known.contains(&n.as_str())) {
                return Err(SourceError::new(
                    ErrorKind::InvalidResponse,
                    format!("there is no HubSpot stream {unknown:?}"),
                )
                .with_fix(format!("choose among: {}", known.join(", "))));
            }
        }
        let share = DailyShare::new(
            options.api_share,
            Days::Calendar(options.day),
            options.meter.clone(),
            client::REASONS,
        );
        let client = HubSpotClient::new(&options.api_base, auth, options.rate_limit)?
            .with_meter(options.meter.clone())
            .with_daily_share(share);
        Ok(Self::with_client(client, options, None))
    }

    /// A source sending through `client` (whose clones share its budgets), knowing
    /// `catalog` if given.
    fn with_client(
        client: HubSpotClient,
        options: HubSpotOptions,
        catalog: Option<Catalog>,
    ) -> Self {
        HubSpotSource {
            client,
            options,
            catalog: RwLock::new(catalog),
            discovering: tokio::sync::Mutex::new(()),
            nudges: watch::Sender::new(0),
            backfilling: AtomicUsize::new(0),
            hints: Mutex::default(),
            relinks: watch::Sender::new(0),
            catch_ups: watch::Sender::new(0),
        }
    }

    /// The catalog last found out, or found out now.
    async fn catalog(&self) -> Result<Catalog, SourceError> {
        if let Some(c) = self.catalog.read().await.as_ref() {
            return Ok(c.clone());
        }
        let _one = self.discovering.lock().await;
        if let Some(c) = self.catalog.read().await.as_ref() {
            return Ok(c.clone()); // found out by the stream that waited first
        }
        self.find_catalog().await
    }

    /// The portal's catalog as it is now (properties added or retyped since included).
    async fn find_catalog(&self) -> Result<Catalog, SourceError> {
        let found = streams::discover(&self.client, self.options.streams.as_deref()).await?;
        *self.catalog.write().await = Some(found.clone());
        Ok(found)
    }

    /// Waits for the next poll: until `until`, or a nudge on `nudges`. True when a nudge
    /// ended the wait.
    async fn next_poll(&self, nudges: &mut watch::Receiver<u64>, until: Instant) -> bool {
        matches!(
            tokio::time::timeout_at(until.into(), nudges.changed()).await,
            Ok(Ok(()))
        )
    }

    /// [`Self::next_poll`] on `relinks`, a catch-up on `catch_ups` ending the wait as
    /// `until` would.
    async fn relinked_before(
        &self,
        relinks: &mut watch::Receiver<u64>,
        catch_ups: &mut watch::Receiver<u64>,
        until: Instant,
    ) -> bool {
        tokio::select! {
            relinked = self.next_poll(relinks, until) => relinked,
            _ = catch_ups.changed() => false,
        }
    }

    /// How often the archive, properties and reference tables are read again.
    fn housekeeping(&self) -> Duration {
        self.options
            .poll_interval
            .saturating_mul(10)
            .max(Duration::from_secs(5))
    }

    fn hints(&self) -> MutexGuard<'_, Hints> {
        self.hints.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The ids of type `api` webhooks said changed, taken.
    fn take_touched(&self, api: &str) -> Vec<u64> {
        let ids = self.hints().touched.remove(api);
        ids.map_or_else(Vec::new, |ids| ids.into_iter().collect())
    }

    /// The ids of `pair`'s from-type webhooks said were associated or dissociated, taken.
    fn take_relinked(&self, pair: &Pair) -> Vec<String> {
        taken(&mut self.hints().relinked, pair)
    }

    /// The ids of `pair`'s to-type whose associations webhooks said changed, taken.
    fn take_relinked_to(&self, pair: &Pair) -> Vec<String> {
        taken(&mut self.hints().relinked_to, pair)
    }

    /// The ids of `pair`'s records found gone, taken: (from side, to side).
    fn take_gone(&self, pair: &Pair) -> (Vec<String>, Vec<String>) {
        let gone = self
            .hints()
            .gone
            .remove(&(pair.from.clone(), pair.to.clone()));
        let text = |ids: BTreeSet<u64>| ids.iter().map(u64::to_string).collect();
        gone.map_or_else(Default::default, |g| (text(g.from), text(g.to)))
    }

    /// Notes the records of type `api` that `batch` deletes, for the association tables
    /// that hold them on either side, and wakes those tables' streams.
    fn note_gone(&self, catalog: &Catalog, api: &str, batch: &Batch) {
        let pairs: Vec<&Pair> = (catalog.pairs())
            .filter(|p| p.from == api || p.to == api)
            .collect();
        if pairs.is_empty() {
            return;
        }
        let deletes = (batch.records.iter()).filter(|r| matches!(r.change, Change::Delete));
        let deletes: Vec<(u64, i64)> = deletes
            .filter_map(|r| Some((r.id.parse().ok()?, r.version.ts_micros)))
            .collect();
        {
            let mut hints = self.hints();
            if hints.noted.len() + deletes.len() > 10 * HINTS_PER_KIND {
                hints.noted.clear();
            }
            let ids: Vec<u64> = (deletes.into_iter())
                .filter(|(id, ts)| hints.noted.insert((api.to_string(), *id, *ts)))
                .map(|(id, _)| id)
                .collect();
            if ids.is_empty() {
                return;
            }
            for pair in pairs {
                let gone = hints.gone.entry((pair.from.clone(), pair.to.clone()));
                let gone = gone.or_default();
                for id in &ids {
                    if pair.from == api {
                        hint(&mut gone.from, *id);
                    }
                    if pair.to == api {
                        hint(&mut gone.to, *id);
                    }
                }
            }
        }
        self.relinks.send_modify(|n| *n += 1);
    }

    /// Notes records of type `api` found restored (gone from the archive) without a webhook
    /// saying so: their associations, and those of the records associated with them, are
    /// read again, as for a restore a webhook tells of. A record purged from the archive
    /// looks the same, and its read finds nothing.
    fn note_restored<'i>(&self, pairs: &[Pair], api: &str, ids: impl Iterator<Item = &'i u64>) {
        let ids: Vec<u64> = ids.copied().collect();
        if ids.is_empty() || pairs.is_empty() {
            return;
        }
        tracing::debug!(object_type = api, restored = ids.len(), "records restored");
        {
            let mut hints = self.hints();
            for pair in pairs {
                let key = (pair.from.clone(), pair.to.clone());
                if pair.from == api {
                    let from = hints.relinked.entry(key.clone()).or_default();
                    ids.iter().for_each(|id| hint(from, *id));
                }
                if pair.to == api {
                    let to = hints.relinked_to.entry(key).or_default();
                    ids.iter().for_each(|id| hint(to, *id));
                }
            }
        }
        self.relinks.send_modify(|n| *n += 1);
    }

    fn lag_ms(&self) -> i64 {
        self.options.search_lag.as_millis() as i64
    }

    /// Where a fresh backfill of `table` starts (the bottom share of its ids listed, the
    /// rest searched), with the records of the list's first page: that page and the
    /// highest id are asked for at once, so the list starts a round trip sooner.
    async fn start(&self, table: &ObjectTable) -> Result<(Position, Vec<Record>), SourceError> {
        let since_ms = now_ms();
        let list = listed::list_with(&self.client.base, table);
        let none = Partitions::new(Vec::new());
        let reader = Reader::new(&self.client, table, &self.backfilling, list, &none);
        let (top, first) = tokio::try_join!(
            backfill::top_id(&self.client, table),
            reader.page(Part::Listed(listed::unread())),
        )?;
        let listed = match first.next {
            Some(Part::Listed(at)) => Some(at),
            _ => None,
        };
        let parts = listed::first_parts(top, reader.list_share(), listed);
        let position = Position::Backfill {
            parts: Partitions::new(parts),
            since_ms,
        };
        Ok((position, first.records))
    }

    /// The live position a backfill that started at `since_ms` goes on from.
    fn live_from(&self, since_ms: i64) -> Position {
        Position::Live {
            modified_ms: since_ms,
            archived_ms: since_ms - ARCHIVE_MARGIN_MS,
            reconciled_ms: since_ms,
            complete_ms: since_ms - self.lag_ms(),
        }
    }

    /// An object type's stream; `catalog_ms`: when `table`'s properties were read.
    /// `pairs`: the association tables that hold this type, on either side.
    fn read_object<'a>(
        &'a self,
        table: ObjectTable,
        pairs: Vec<Pair>,
        catalog_ms: i64,
        from: Option<&'a Checkpoint>,
    ) -> BatchStream<'a> {
        Box::pin(async_stream::try_stream! {
            let mut table = table;
            let mut position = match from {
                Some(c) => Position::from_checkpoint(c)?,
                None => {
                    let (position, records) = self.start(&table).await?;
                    yield Batch::new(records, position.checkpoint(), Phase::Backfill);
                    position
                }
            };
            let mut last_write = Instant::now();
            let mut housekeep_at = Instant::now() + self.housekeeping();
            let mut chores: Option<Beside<live::Chores>> = None;
            // The archive as the last housekeeping pass saw it (none kept past a size).
            let mut archive: Option<HashSet<u64>> = None;
            let mut reconciling: Option<Beside<live::Reconciled>> = None;
            let mut poll_at: Option<Instant> = None;
            let mut nudges = self.nudges.subscribe();
            // After a nudge, a second poll once search has indexed what the webhook told of
            // (the first may come too early to see it).
            let mut recheck: Option<Instant> = None;
            // When the properties in hand were read (the catalog's reading, at first).
            let mut properties_ms = catalog_ms;
            loop {
                match position {
                    Position::Backfill { parts, since_ms } => {
                        let _counted = Backfilling::enter(&self.backfilling);
                        let live = self.live_from(since_ms);
                        if !parts.complete() {
                            let list = listed::list_with(&self.client.base, &table);
                            let reader = Reader::new(&self.client, &table, &self.backfilling, list, &parts);
                            let mut steps = std::pin::pin!(read_partitions(&reader, parts));
                            while let Some(step) = steps.next().await {
                                let (records, set) = step?;
                                reader.note(&set);
                                let (done, all) = set.counts();
                                let at = if set.complete() { live.clone() } else { Position::Backfill { parts: set, since_ms } };
                                let mut batch = Batch::new(records, at.checkpoint(), Phase::Backfill);
                                batch.progress = Some(f64::from(done) / f64::from(all.max(1)));
                                yield batch;
                            }
                        }
                        position = live;
                        last_write = Instant::now();
                        yield Batch::new(Vec::new(), position.checkpoint(), Phase::Live);
                    }
                    Position::Live { modified_ms, archived_ms, reconciled_ms, complete_ms } => {
                        // Housekeeping (the properties, and the archive, read whole) and the
                        // reconciliation run beside the polls: a large archive is many
                        // pages, a large type thousands, and changes must not wait for them.
                        if chores.is_none() && Instant::now() >= housekeep_at {
                            chores = Some(live::chores(&self.client, table.api.clone(), archived_ms));
                        }
                        let reconcile_ms = self.options.reconcile_every.as_millis() as i64;
                        if reconciling.is_none() && now_ms() - reconciled_ms >= reconcile_ms {
                            reconciling = Some(live::reconcile(&self.client, table.clone()));
                        }
                        // The next poll is an interval after the last one ended (polls of
                        // many streams share search's few requests a second), or sooner when
                        // a nudge asks for a second look.
                        let next = *poll_at.get_or_insert_with(|| Instant::now() + self.options.poll_interval);
                        let until = recheck.map_or(next, |due| due.min(next));
                        let wake = tokio::select! {
                            Some(found) = async { Some(chores.as_mut()?.next().await) } => Wake::Chores(found),
                            Some(page) = async { Some(reconciling.as_mut()?.next().await) } => Wake::Reconciled(page),
                            nudged = self.next_poll(&mut nudges, until) => Wake::Poll(nudged),
                        };
                        let nudged = match wake {
                            Wake::Poll(nudged) => nudged,
                            Wake::Chores(found) => {
                                chores = None;
                                let found = found?;
                                let took = Duration::from_millis(now_ms().saturating_sub(found.started_ms).max(0) as u64);
                                housekeep_at = Instant::now() + live::rest_after(self.housekeeping(), took);
                                let mut modified_ms = modified_ms;
                                // A property added since gets its typed column before its first
                                // value; one whose type changed has the sync rebuild the table.
                                let mut columns = None;
                                if let Some(properties) = found.properties {
                                    let added = properties.iter().any(|p| table.properties.iter().all(|o| o.name != p.name));
                                    let retyped = properties.iter().any(|p| table.properties.iter().any(|o| o.name == p.name && o.column() != p.column()));
                                    if added {
                                        // Values of it were set after the last reading of the
                                        // properties: records changed since then are read again.
                                        modified_ms = modified_ms.min(properties_ms - self.lag_ms());
                                    }
                                    table.properties = properties;
                                    properties_ms = found.started_ms;
                                    if added || retyped {
                                        columns = Some(table.spec().columns);
                                    }
                                }
                                if let Some(before) = &archive {
                                    self.note_restored(&pairs, &table.api, before.difference(&found.archive));
                                }
                                archive = (found.archive.len() <= ARCHIVE_KEPT).then_some(found.archive);
                                let archived_ms = found.started_ms - ARCHIVE_MARGIN_MS;
                                position = Position::Live { modified_ms, archived_ms, reconciled_ms, complete_ms };
                                if columns.is_some() {
                                    let mut batch = Batch::new(Vec::new(), position.checkpoint(), Phase::Live);
                                    batch.columns = columns;
                                    last_write = Instant::now();
                                    yield batch;
                                }
                                if !found.deletes.is_empty() {
                                    last_write = Instant::now();
                                    yield Batch::new(found.deletes, position.checkpoint(), Phase::Live);
                                }
                                continue;
                            }
                            Wake::Reconciled(page) => {
                                let page = page?;
                                last_write = Instant::now();
                                if !page.last {
                                    yield Batch::new(page.records, position.checkpoint(), Phase::Live);
                                    continue;
                                }
                                // The pass is done: what it did not see is gone, but for rows
                                // changed since it started (by HubSpot's clock, with a margin).
                                reconciling = None;
                                position = Position::Live { modified_ms, archived_ms, reconciled_ms: page.started_ms, complete_ms };
                                let mut batch = Batch::new(page.records, position.checkpoint(), Phase::Live);
                                batch.sweep = Some(Version::new((page.started_ms - RECONCILE_MARGIN_MS).saturating_mul(1000), 0));
                                yield batch;
                                continue;
                            }
                        };
                        poll_at = None;
                        recheck = nudged.then(|| Instant::now() + self.options.search_lag);
                        // What webhooks told of, read by id: no indexing lag to wait for.
                        let touched = self.take_touched(&table.api);
                        if !touched.is_empty() {
                            let records = live::reread(&self.client, &table, &touched, now_ms()).await?;
                            if !records.is_empty() {
                                last_write = Instant::now();
                                yield Batch::new(records, position.checkpoint(), Phase::Live);
                            }
                        }
                        let now = now_ms();
                        let Some(window) = poll_window(modified_ms, now, self.lag_ms()) else {
                            continue;
                        };
                        let mut read = WindowRead::new(window);
                        let mut records: Vec<Record> = Vec::new();
                        while !read.done {
                            records.extend(live::window_page(&self.client, &table, &mut read).await?);
                            if records.len() >= BATCH_RECORDS && !read.done {
                                last_write = Instant::now();
                                yield Batch::new(std::mem::take(&mut records), position.checkpoint(), Phase::Live);
                            }
                        }
                        position = Position::Live {
                            modified_ms: checkpoint_after(window),
                            archived_ms,
                            reconciled_ms,
                            complete_ms: window.to_ms - self.lag_ms(),
                        };
                        if !records.is_empty() || last_write.elapsed() >= HEARTBEAT {
                            last_write = Instant::now();
                            yield Batch::new(records, position.checkpoint(), Phase::Live);
                        }
                    }
                    Position::Snapshot { .. } => {
                        Err(SourceError::new(ErrorKind::CursorExpired, format!("{} was saved as a reference table", table.table)))?;
                    }
                }
            }
        })
    }

    fn read_reference<'a>(
        &'a self,
        reference: Reference,
        from: Option<&'a Checkpoint>,
    ) -> BatchStream<'a> {
        Box::pin(async_stream::try_stream! {
            let saved = from.map(Position::from_checkpoint).transpose()?;
            let mut first = !matches!(saved, Some(Position::Snapshot { .. }));
            let mut catch_ups = self.catch_ups.subscribe();
            loop {
                let catalog = self.catalog().await?;
                let read_ms = now_ms();
                let records = reference.read(&self.client, &catalog, read_ms).await?;
                let position = Position::Snapshot { read_ms };
                let phase = if first { Phase::Backfill } else { Phase::Live };
                let mut batch = Batch::new(records, position.checkpoint(), phase);
                // Every row this pass saw has its version; older rows are gone at HubSpot.
                batch.sweep = Some(Version::new(read_ms.saturating_mul(1000), 0));
                batch.progress = Some(1.0);
                yield batch;
                if first {
                    first = false;
                    yield Batch::new(Vec::new(), position.checkpoint(), Phase::Live);
                }
                // Until the next pass is due, or a catch-up asks for it now.
                let _ = tokio::time::timeout(self.housekeeping(), catch_ups.changed()).await;
            }
        })
    }

    fn read_association<'a>(&'a self, pair: Pair, from: Option<&'a Checkpoint>) -> BatchStream<'a> {
        Box::pin(async_stream::try_stream! {
            // `read_ms` 0: the first pass has not ended (a restart reads it again).
            let mut done_ms = match from.map(Position::from_checkpoint).transpose()? {
                Some(Position::Snapshot { read_ms }) => read_ms,
                _ => 0,
            };
            let every = self.options.associations_every.as_millis() as i64;
            let mut relinks = self.relinks.subscribe();
            let mut catch_ups = self.catch_ups.subscribe();
            loop {
                if done_ms > 0 {
                    let due = (done_ms + every - now_ms()).max(0) as u64;
                    let due = Instant::now() + Duration::from_millis(due);
                    // Until the next pass, the rows of records found gone leave at once, and
                    // the associations of records a webhook says were associated or
                    // dissociated (or restored, or merged into) are read again at once; each
                    // swept within those records alone.
                    while self.relinked_before(&mut relinks, &mut catch_ups, due).await {
                        let (from_gone, to_gone) = self.take_gone(&pair);
                        for (column, ids) in [("from_id", from_gone), ("to_id", to_gone)] {
                            if ids.is_empty() {
                                continue;
                            }
                            let at = Position::Snapshot { read_ms: done_ms }.checkpoint();
                            let mut batch = Batch::new(Vec::new(), at, Phase::Live);
                            batch.sweep = Some(Version::new(now_ms().saturating_mul(1000), 0));
                            batch.sweep_within = Some(SweepWithin { column: column.into(), values: ids });
                            yield batch;
                        }
                        // Records of the other side restored or merged into: the records
                        // associated with them now are the ones to read again.
                        let mut again: BTreeSet<String> = self.take_relinked(&pair).into_iter().collect();
                        for ids in self.take_relinked_to(&pair).chunks(100) {
                            again.extend(pair.linked_from(&self.client, ids).await?);
                        }
                        let again: Vec<String> = again.into_iter().collect();
                        for ids in again.chunks(100) {
                            let read_ms = now_ms();
                            let records = pair.of(&self.client, ids, read_ms).await?;
                            let at = Position::Snapshot { read_ms: done_ms }.checkpoint();
                            let mut batch = Batch::new(records, at, Phase::Live);
                            batch.sweep = Some(Version::new(read_ms.saturating_mul(1000), 0));
                            batch.sweep_within = Some(SweepWithin { column: "from_id".into(), values: ids.to_vec() });
                            yield batch;
                        }
                    }
                }
                let started = now_ms();
                let phase = if done_ms == 0 { Phase::Backfill } else { Phase::Live };
                let during = Position::Snapshot { read_ms: done_ms }.checkpoint();
                let mut listed = pair.listed(&self.client, None).await?;
                loop {
                    let (ids, next) = listed;
                    // The next ids are listed while these ones' associations are read: a
                    // pass takes one round trip per 100 records, not two.
                    let read = pair.of(&self.client, &ids, now_ms());
                    if let Some(after) = next.as_deref() {
                        let (records, following) = tokio::join!(read, pair.listed(&self.client, Some(after)));
                        yield Batch::new(records?, during.clone(), phase);
                        listed = following?;
                        continue;
                    }
                    let records = read.await?;
                    let mut batch = Batch::new(records, Position::Snapshot { read_ms: started }.checkpoint(), phase);
                    // Every association this pass saw is at least this new.
                    batch.sweep = Some(Version::new(started.saturating_mul(1000), 0));
                    batch.progress = Some(1.0);
                    yield batch;
                    break;
                }
                if done_ms == 0 {
                    yield Batch::new(Vec::new(), Position::Snapshot { read_ms: started }.checkpoint(), Phase::Live);
                }
                done_ms = started;
            }
        })
    }
}

impl Source for HubSpotSource {
    fn discover(&self) -> Discovery<'_> {
        Box::pin(async move {
            // Read again at each opening: a retyped property's column is then a conflict,
            // which the runtime rebuilds for.
            let catalog = self.find_catalog().await?;
            Ok(catalog.streams.iter().map(StreamDef::spec).collect())
        })
    }

    fn nudge(&self, body: &[u8]) {
        {
            // Only what a stream of this sync will take (all of it, before the catalog is known).
            let catalog = self.catalog.try_read();
            let catalog = catalog.as_deref().ok().and_then(Option::as_ref);
            let synced = |api: &str| catalog.is_none_or(|c| c.objects().any(|t| t.api == api));
            let paired = |from: &str, to: &str| {
                catalog.is_none_or(|c| c.pairs().any(|p| p.from == from && p.to == to))
            };
            let mut hints = self.hints();
            for (api, id) in webhook::touched(body) {
                if synced(&api) {
                    hint(hints.touched.entry(api).or_default(), id);
                }
            }
            for (from, to, id) in webhook::relinked(body) {
                if paired(&from, &to) {
                    hint(hints.relinked.entry((from, to)).or_default(), id);
                }
            }
            for (from, to, id) in webhook::relinked_to(body) {
                if paired(&from, &to) {
                    hint(hints.relinked_to.entry((from, to)).or_default(), id);
                }
            }
        }
        self.nudges.send_modify(|n| *n += 1);
        self.relinks.send_modify(|n| *n += 1);
    }

    /// The copy's source sends through the same client, so the copy and the live sync
    /// share the sync's rate, the 10-second budget as HubSpot reports it, the daily share
    /// and search's 5 a second (two sources each sending 5 a second met 429s all through a
    /// copy). It starts from the catalog the live sync's tables were made from.
    fn beside(&self) -> Option<Arc<dyn Source>> {
        let catalog = self.catalog.try_read().ok().and_then(|c| c.clone());
        let options = self.options.clone();
        Some(Arc::new(Self::with_client(
            self.client.clone(),
            options,
            catalog,
        )))
    }

    /// Object types poll now (as for a webhook); reference and association tables are
    /// read again whole now.
    fn catch_up(&self) {
        self.catch_ups.send_modify(|n| *n += 1);
        self.nudges.send_modify(|n| *n += 1);
    }

    fn read<'a>(&'a self, spec: &'a StreamSpec, from: Option<&'a Checkpoint>) -> BatchStream<'a> {
        Box::pin(async_stream::try_stream! {
            let catalog = self.catalog().await?;
            let Some(def) = streams::find(&catalog, &spec.name).cloned() else {
                Err(SourceError::new(ErrorKind::InvalidResponse, format!("no HubSpot stream {}", spec.name)))?;
                return;
            };
            // An object type's deletes also concern the association tables that hold it.
            let object_type = match &def {
                StreamDef::Object(table) => Some(table.api.clone()),
                _ => None,
            };
            let mut inner = match def {
                StreamDef::Object(table) => {
                    let pairs = catalog.pairs().filter(|p| p.from == table.api || p.to == table.api);
                    let pairs = pairs.cloned().collect();
                    self.read_object(table, pairs, catalog.read_ms, from)
                }
                StreamDef::Reference(r) => self.read_reference(r, from),
                StreamDef::Association(p) => self.read_association(p, from),
            };
            while let Some(batch) = inner.next().await {
                let batch = batch?;
                if let Some(api) = &object_type {
                    self.note_gone(&catalog, api, &batch);
                }
                yield batch;
            }
        })
    }
}

/// The Unix second up to which a stream at `checkpoint` holds every change.
pub fn complete_until(checkpoint: &Checkpoint) -> Option<i64> {
    Position::from_checkpoint(checkpoint).ok()?.complete_until()
}

/// (partitions complete, in all) of a backfill.
pub fn partitions(checkpoint: &Checkpoint) -> Option<(u32, u32)> {
    match Position::from_checkpoint(checkpoint).ok()? {
        Position::Backfill { parts, .. } => Some(parts.counts()),
        _ => None,
    }
}
