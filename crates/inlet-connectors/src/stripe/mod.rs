//! Stripe as a source: 21 streams, backfilled from their lists, then kept current from the
//! events feed (or, for balance transactions, which have no events, from the list itself).
//!
//! A backfill first records the newest event, then copies the list page by page; when it
//! is done the stream follows events from that first position, so every change made during
//! the backfill is applied. Polling is the source of truth; webhooks only make the next
//! poll happen at once ([`StripeSource::nudge`]), so a duplicate or out-of-order delivery
//! cannot change what is written.

mod backfill;
mod catalog;
pub mod client;
mod connector;
mod events;
mod live;
mod partition;
mod position;
mod schema;
mod streams;
pub mod webhook;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use inlet_core::{
    read_partitions, Batch, BatchStream, Checkpoint, Discovery, ErrorKind, Partitions, Phase,
    Source, SourceError, StreamSpec,
};

use crate::backfilling::Backfilling;
use crate::beside::Beside;
use crate::http::{Meter, RateLimiter};
use client::StripeClient;
use events::Feed;
use partition::{Window, Windows};
use position::{Cursor, Position};
use schema::Schema;
use streams::{Following, StreamDef};

pub use client::DEFAULT_STRIPE_VERSION;
pub use connector::Stripe;
pub use events::RETENTION_SECS;
pub use position::complete_until;

/// Every stream's name, in order.
pub fn stream_names() -> Vec<&'static str> {
    streams::STREAMS.iter().map(|d| d.name).collect()
}

#[derive(Clone, Debug)]
pub struct StripeOptions {
    /// `https://api.stripe.com`, or a fake or proxy.
    pub api_base: String,
    pub api_key: String,
    /// The `Stripe-Version` every request pins.
    pub version: String,
    /// Requests per second for this sync, all streams together.
    pub rate_limit: f64,
    /// Requests per second to any one endpoint (within `rate_limit`): Stripe limits each
    /// endpoint besides the account.
    pub endpoint_rate_limit: f64,
    /// How often the events feed is read when no webhook says to read it sooner.
    pub poll_interval: Duration,
    /// The streams to sync (`None`: all).
    pub streams: Option<Vec<String>>,
    /// Backfill pages per batch at most (one checkpoint each batch): pages already read
    /// when one is yielded join it, up to this many.
    pub pages_per_batch: usize,
    /// Told of every request (the sync's metrics).
    pub meter: Meter,
}

impl Default for StripeOptions {
    fn default() -> Self {
        StripeOptions {
            api_base: "https://api.stripe.com".into(),
            api_key: String::new(),
            version: DEFAULT_STRIPE_VERSION.into(),
            // Well under Stripe's 100 requests/s (25 in test mode), leaving room for the
            // account's other clients.
            rate_limit: 20.0,
            // Under Stripe's default of 25 per endpoint, for the same reason.
            endpoint_rate_limit: 20.0,
            poll_interval: Duration::from_secs(1),
            streams: None,
            pages_per_batch: 5,
            meter: Meter::default(),
        }
    }
}

#[derive(Debug)]
pub struct StripeSource {
    client: StripeClient,
    feed: Arc<Feed>,
    schemas: Vec<(&'static StreamDef, Schema)>,
    options: StripeOptions,
    /// When the account was opened, read once (see [`StripeSource::account_opened`]).
    opened: tokio::sync::OnceCell<Option<i64>>,
    /// The sync's one request budget, shared by every stream and request.
    limiter: Arc<RateLimiter>,
    /// Streams reading their backfill now: they share the requests in flight.
    backfilling: AtomicUsize,
}

/// A live stream with nothing to write still writes its checkpoint this often: its place in
/// the events feed never ages past Stripe's retention, and `inlet sync status` can tell how
/// recently the stream was known to be complete.
const HEARTBEAT: Duration = Duration::from_secs(5);

impl StripeSource {
    /// When the account was opened (`GET /v1/account`): the far end of every list, from
    /// which a backfill's progress is estimated. `None` when the key may not read it (a
    /// restricted key): progress is then unknown, and nothing else changes.
    async fn account_opened(&self) -> Option<i64> {
        *self
            .opened
            .get_or_init(|| async {
                let account = self.client.get("/v1/account").await.ok()?.0;
                account["created"].as_i64()
            })
            .await
    }

    pub fn new(options: StripeOptions) -> Result<Self, SourceError> {
        // No burst: Stripe counts requests per second, and a bucket that filled while the
        // sync waited (for its writer, say) would spend a second's worth at once on top
        // of the next second's, past a budget the rate itself stays under.
        let limiter = Arc::new(RateLimiter::new(options.rate_limit, 1));
        let mut client = StripeClient::new(
            &options.api_base,
            &options.api_key,
            &options.version,
            limiter.clone(),
        )?
        .with_meter(options.meter.clone());
        if options.endpoint_rate_limit < options.rate_limit {
            client = client.with_endpoint_limit(options.endpoint_rate_limit);
        }
        let mut schemas = Vec::new();
        for def in streams::STREAMS {
            let wanted = options
                .streams
                .as_ref()
                .is_none_or(|s| s.iter().any(|n| n == def.name));
            if let (true, Some(schema)) = (wanted, Schema::of(def.name)) {
                schemas.push((def, schema));
            }
        }
        if let Some(names) = &options.streams {
            if let Some(unknown) = names.iter().find(|n| streams::find(n).is_none()) {
                return Err(SourceError::new(
                    ErrorKind::InvalidResponse,
                    format!("there is no Stripe stream {unknown:?}"),
                )
                .with_fix(format!("choose among: {}", stream_names().join(", "))));
            }
        }
        Ok(Self::sharing(client, limiter, schemas, options))
    }

    /// A source sending through `client` and `limiter` (a copy's shares them), with an
    /// events feed of its own.
    fn sharing(
        client: StripeClient,
        limiter: Arc<RateLimiter>,
        schemas: Vec<(&'static StreamDef, Schema)>,
        options: StripeOptions,
    ) -> Self {
        let feed = Arc::new(Feed::new(client.clone(), options.poll_interval));
        StripeSource {
            client,
            feed,
            schemas,
            options,
            opened: tokio::sync::OnceCell::new(),
            limiter,
            backfilling: AtomicUsize::new(0),
        }
    }

    /// Reads the events feed now (a webhook said something changed).
    pub fn nudge(&self) {
        self.feed.nudge();
    }

    /// Requests one backfilling stream keeps in flight to `path`: its share of what the
    /// sync's budget and the observed latency call for (see [`RateLimiter::in_flight`]),
    /// and no more than the endpoint's own limit calls for.
    fn concurrency(&self, path: &str) -> usize {
        let streams = self.backfilling.load(Ordering::Relaxed).max(1);
        let share = self.limiter.in_flight().div_ceil(streams);
        let endpoint = self.client.endpoint_in_flight(path);
        endpoint.map_or(share, |e| share.min(e))
    }

    /// Where a fresh backfill of `def` starts, and its first page: the newest objects, read
    /// with the account's opening in one round trip, before any window. Changes are then
    /// followed in the events feed from the second before that page was served, its records'
    /// version: any change the copy could have missed is an event from then on. (Asking the
    /// feed where it stands first would cost a round trip before the first page.)
    async fn start(
        &self,
        def: &'static StreamDef,
        schema: &Schema,
    ) -> Result<(Position, Vec<inlet_core::Record>), SourceError> {
        let newest_first = Window::default();
        let step = partition::step(self, def, schema, &newest_first);
        let (step, opened) = tokio::join!(step, self.account_opened());
        let step = step?;
        let from = opened.unwrap_or(partition::EARLIEST);
        let (created, top) = match def.listing {
            streams::Listing::Top { created, .. } => (created, true),
            _ => (true, false),
        };
        // The rest in as many windows as the sync wants requests in flight, sized by how
        // densely the first page was filled: they are read from the next round trip on.
        let parts = match step.next {
            Some(after) => {
                let rest = Window {
                    gte: created.then_some(from),
                    lte: None,
                    after: Some(after),
                };
                let page_seconds = partition::page_seconds(1, step.span);
                Partitions::new(rest.split(self.concurrency(def.list_path()), page_seconds))
            }
            None => Partitions {
                open: Vec::new(),
                done: 1,
            },
        };
        let position = Position::Partitioned {
            events: Cursor {
                id: None,
                created: step.date - 1,
            },
            parts,
            // A stream that follows its own list goes on from its newest object.
            head: step
                .newest
                .filter(|_| top && def.following == Following::ListForward),
            since: step.date,
            from,
        };
        Ok((position, step.records))
    }

    fn stream(&self, name: &str) -> Option<&(&'static StreamDef, Schema)> {
        self.schemas.iter().find(|(d, _)| d.name == name)
    }
}

impl Source for StripeSource {
    fn discover(&self) -> Discovery<'_> {
        let specs = self.schemas.iter().map(|(_, s)| s.spec.clone()).collect();
        Box::pin(async move { Ok(specs) })
    }

    fn nudge(&self, _: &[u8]) {
        // Stripe's events feed says what changed, in order: the delivery only says when.
        StripeSource::nudge(self);
    }

    /// The copy's source sends through the same client and bucket: the copy and the live
    /// sync share the sync's `rate_limit` and each endpoint's, as Stripe counts them for
    /// the account. Its events feed is its own: its cursor is the copy's.
    fn beside(&self) -> Option<Arc<dyn Source>> {
        let copy = StripeSource::sharing(
            self.client.clone(),
            self.limiter.clone(),
            self.schemas.clone(),
            self.options.clone(),
        );
        Some(Arc::new(StripeSource {
            opened: self.opened.clone(),
            ..copy
        }))
    }

    fn read<'a>(&'a self, spec: &'a StreamSpec, from: Option<&'a Checkpoint>) -> BatchStream<'a> {
        Box::pin(async_stream::try_stream! {
            let Some((def, schema)) = self.stream(&spec.name) else {
                Err(SourceError::new(ErrorKind::InvalidResponse, format!("no Stripe stream {}", spec.name)))?;
                return;
            };
            // A fresh backfill's first page, read as it starts.
            let mut first = None;
            let mut position = match from {
                Some(c) => Position::from_checkpoint(c)?,
                None => {
                    let (position, records) = self.start(def, schema).await?;
                    first = Some(records);
                    position
                }
            };
            let mut last_write = Instant::now();
            loop {
                match position {
                    Position::Partitioned { mut events, parts, head, since, from } => {
                        let _counted = Backfilling::enter(&self.backfilling);
                        let reader = Windows::new(self, def, schema);
                        let mut complete = parts.complete();
                        let mut first = first.take().map(|records| (records, parts.clone()));
                        let mut steps = std::pin::pin!(read_partitions(&reader, parts));
                        // A feed place by time becomes an event's beside the pages.
                        let mut finding = events.id.is_none().then(|| find_before(&self.feed, events.created));
                        loop {
                            // Pages already read join the one in hand, up to pages_per_batch.
                            let (mut records, mut set) = match first.take() {
                                Some(page) => page,
                                None => match steps.next().await {
                                    Some(step) => step?,
                                    None => break,
                                },
                            };
                            for _ in 1..self.options.pages_per_batch.max(1) {
                                match futures_util::FutureExt::now_or_never(steps.next()) {
                                    Some(Some(Ok((more, next_set)))) => {
                                        records.extend(more);
                                        set = next_set;
                                    }
                                    Some(Some(Err(e))) => {
                                        // Write what was read, then fail.
                                        let progress = partition::share_done(&set, from, since);
                                        let at = Position::Partitioned { events: events.clone(), parts: set.clone(), head: head.clone(), since, from };
                                        let mut batch = Batch::new(std::mem::take(&mut records), at.checkpoint(), Phase::Backfill);
                                        batch.progress = progress;
                                        yield batch;
                                        Err(e)?;
                                    }
                                    _ => break,
                                }
                            }
                            complete = set.complete();
                            if let Some(found) = finding.as_mut().and_then(Beside::ready) {
                                events = found?;
                                finding = None;
                            }
                            if let (true, Some(mut f)) = (complete, finding.take()) {
                                events = f.next().await?;
                            }
                            let (at, progress) = match complete {
                                true => (live(def, &head, &events), Some(1.0)),
                                false => (
                                    Position::Partitioned { events: events.clone(), parts: set.clone(), head: head.clone(), since, from },
                                    partition::share_done(&set, from, since),
                                ),
                            };
                            let mut batch = Batch::new(records, at.checkpoint(), Phase::Backfill);
                            batch.progress = progress;
                            if complete && since > 0 {
                                batch.sweep = Some(inlet_core::Version::from_secs(since - 1, 0));
                            }
                            yield batch;
                        }
                        if !complete {
                            Err(SourceError::new(ErrorKind::InvalidResponse, format!("the backfill of {} ended before every part was read", def.name)))?;
                        }
                        if let Some(mut f) = finding.take() {
                            events = f.next().await?;
                        }
                        // The stream is live from here: say so now, not at its first change.
                        position = live(def, &head, &events);
                        last_write = Instant::now();
                        yield Batch::new(Vec::new(), position.checkpoint(), Phase::Live);
                    }
                    Position::Backfill { events, after, head, since } => {
                        // A checkpoint from before partitions: its one cursor, as one window.
                        let window = Window { after, ..Window::default() };
                        let from = self.account_opened().await.unwrap_or(partition::EARLIEST);
                        position = Position::Partitioned { events, parts: Partitions::new(vec![window]), head, since, from };
                    }
                    Position::Live { events, checked } => {
                        // Idle, or far behind and reading (hundreds of pages after downtime):
                        // say so with a checkpoint every HEARTBEAT, and go on reading. The
                        // read is never dropped for it: at a real API's pace, a read dropped
                        // every few seconds would start over each time and never catch up.
                        let found = {
                            let mut reading = std::pin::pin!(self.feed.after(&events, 1000));
                            loop {
                                let wait = HEARTBEAT.saturating_sub(last_write.elapsed());
                                if let Ok(found) = tokio::time::timeout(wait, &mut reading).await {
                                    break found?;
                                }
                                last_write = Instant::now();
                                let checked = self.feed.checked_at().max(checked);
                                let idle = Position::Live { events: events.clone(), checked };
                                yield Batch::new(Vec::new(), idle.checkpoint(), Phase::Live);
                            }
                        };
                        let next = found.last().map(|e| position::Cursor::of(e)).unwrap_or(events);
                        let records = live::records(&self.client, def, schema, &found).await?;
                        let checked = self.feed.checked_at().max(checked);
                        position = Position::Live { events: next, checked };
                        if !records.is_empty() || last_write.elapsed() >= HEARTBEAT {
                            last_write = Instant::now();
                            yield Batch::new(records, position.checkpoint(), Phase::Live);
                        }
                    }
                    Position::LiveList { newest, .. } => {
                        tokio::time::sleep(self.options.poll_interval.max(Duration::from_secs(1)).saturating_mul(5)).await;
                        let checked = unix_now();
                        let (records, newest) = live::list_forward(&self.client, def, schema, newest.as_ref()).await?;
                        position = Position::LiveList { newest, checked };
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

/// Where a stream goes on once its backfill is complete: its own list from its newest
/// object then, or the events feed from `events`.
fn live(def: &StreamDef, head: &Option<Cursor>, events: &Cursor) -> Position {
    match def.following {
        Following::ListForward => Position::LiveList {
            newest: head.clone(),
            checked: 0,
        },
        _ => Position::Live {
            checked: events.created,
            events: events.clone(),
        },
    }
}

/// Where the events feed stood just before `second` ([`Feed::before`]), asked beside a
/// backfill's pages rather than before them.
fn find_before(feed: &Arc<Feed>, second: i64) -> Beside<Cursor> {
    let feed = feed.clone();
    Beside::start(move |send| async move {
        let _ = send.send(feed.before(second).await).await; // the stream stopped: nobody to tell
    })
}

/// The row a Stripe object of `stream` becomes (its fields flattened and renamed as the
/// table holds them), or `None` for an unknown stream.
pub fn row(
    stream: &str,
    object: &serde_json::Map<String, serde_json::Value>,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    Schema::of(stream).map(|s| s.row(object.clone()))
}

/// The streams' specs without a client (for `inlet sync add` and docs).
pub fn specs(names: Option<&[String]>) -> Vec<StreamSpec> {
    streams::STREAMS
        .iter()
        .filter(|d| names.is_none_or(|n| n.iter().any(|x| x == d.name)))
        .filter_map(|d| Schema::of(d.name).map(|s| s.spec))
        .collect()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
