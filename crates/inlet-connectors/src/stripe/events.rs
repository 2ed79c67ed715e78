//! Stripe's events feed, read once per sync and shared by its streams.
//!
//! `/v1/events` lists newest first; the feed walks it forward with `ending_before` (each
//! page holds the events just newer than the cursor) and keeps recent events in order, so
//! twenty streams following it cost one request per poll, not twenty. A stream whose
//! position is behind the buffer (after a restart) reads forward on its own until it
//! reaches it; one ahead of it waits for the polls. After downtime a poll reads at most
//! `POLL_EVENTS`, and the next goes at once.
//! Polls happen every `interval`, or at once when a webhook says something happened.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use inlet_core::{ErrorKind, SourceError};
use serde_json::{Map, Value};
use tokio::sync::{Mutex, Notify};
use tokio::time::Instant;

use super::client::{now, CallError, StripeClient};
use super::position::Cursor;

/// How long Stripe keeps events (`/v1/events` goes back 30 days); a position older than
/// this, less a margin, cannot be followed.
pub const RETENTION_SECS: i64 = 30 * 86_400 - 3_600;
/// Events kept in memory for streams that are behind.
const BUFFER: usize = 20_000;
/// Events one poll reads at most. After downtime the feed is far behind: it is then read
/// a share at a time, each share written while the next is read, rather than read whole
/// first (nothing written meanwhile, and past `BUFFER` the oldest dropped and read again).
const POLL_EVENTS: usize = 1_000;

pub type Event = Arc<Map<String, Value>>;

#[derive(Debug)]
pub struct Feed {
    client: StripeClient,
    interval: Duration,
    nudge: Notify,
    buffer: Mutex<Buffer>,
    /// When the feed was last polled (`None`: never, so the first poll goes at once).
    poll: Mutex<Option<Instant>>,
    polls: AtomicU64,
    /// The feed may have more to read than the last poll took (at `POLL_EVENTS`, or before
    /// the first poll): the next poll goes at once.
    behind: AtomicBool,
    /// Stripe's clock at the last poll that read the feed to its end.
    checked: AtomicI64,
}

#[derive(Debug, Default)]
struct Buffer {
    /// The position just before `events[0]`; `None` until a stream first asks.
    anchor: Option<Cursor>,
    events: VecDeque<Event>,
    /// Event id → index in `events` + `dropped`.
    index: HashMap<String, u64>,
    dropped: u64,
}

impl Buffer {
    /// Where `cursor` is: `Some(i)` means events from `i` on are after it.
    fn position(&self, cursor: &Cursor) -> Option<usize> {
        if self.anchor.as_ref() == Some(cursor) {
            return Some(0);
        }
        let at = *self.index.get(cursor.id.as_deref()?)?;
        Some((at - self.dropped) as usize + 1)
    }

    fn head(&self) -> Option<Cursor> {
        match self.events.back() {
            Some(e) => Some(Cursor::of(e)),
            None => self.anchor.clone(),
        }
    }

    fn push(&mut self, event: Event) {
        if let Some(id) = event.get("id").and_then(Value::as_str) {
            if self.index.contains_key(id) {
                return; // already here (a page boundary seen twice)
            }
            self.index
                .insert(id.to_string(), self.dropped + self.events.len() as u64);
        }
        self.events.push_back(event);
        while self.events.len() > BUFFER {
            if let Some(old) = self.events.pop_front() {
                if let Some(id) = old.get("id").and_then(Value::as_str) {
                    self.index.remove(id);
                }
                self.anchor = Some(Cursor::of(&old));
                self.dropped += 1;
            }
        }
    }
}

impl Feed {
    pub fn new(client: StripeClient, interval: Duration) -> Self {
        Feed {
            client,
            interval,
            nudge: Notify::new(),
            buffer: Mutex::new(Buffer::default()),
            poll: Mutex::new(None),
            polls: AtomicU64::new(0),
            behind: AtomicBool::new(true),
            checked: AtomicI64::new(0),
        }
    }

    /// Poll now rather than at the next interval (a webhook arrived).
    pub fn nudge(&self) {
        self.nudge.notify_one();
    }

    /// Stripe's clock when the feed was last read to its end (0: not yet).
    pub fn checked_at(&self) -> i64 {
        self.checked.load(Ordering::Acquire)
    }

    /// The place in the feed just before second `created`: the newest event older than it,
    /// so that following the feed from there reads every event from that second on. With
    /// no older event, the second itself (read by time, see [`Feed::after`]).
    pub async fn before(&self, created: i64) -> Result<Cursor, SourceError> {
        let params = [("limit", "1".into()), ("created[lt]", created.to_string())];
        let page = (self.client.list("/v1/events", &params).await).map_err(cursor_error)?;
        Ok(match page.data.first() {
            Some(event) => Cursor::of(event),
            None => Cursor { id: None, created },
        })
    }

    /// Up to `max` events after `cursor`, oldest first; waits until there is at least one.
    pub async fn after(&self, cursor: &Cursor, max: usize) -> Result<Vec<Event>, SourceError> {
        if cursor.created < now() - RETENTION_SECS {
            return Err(expired(cursor));
        }
        loop {
            let polls = self.polls.load(Ordering::Acquire);
            {
                let mut buffer = self.buffer.lock().await;
                if buffer.anchor.is_none() {
                    buffer.anchor = Some(cursor.clone());
                }
                if let Some(at) = buffer.position(cursor) {
                    if at < buffer.events.len() {
                        return Ok(buffer.events.iter().skip(at).take(max).cloned().collect());
                    }
                } else {
                    // A place newer than what the buffer holds, while the feed is still
                    // behind: wait for the shared polls to reach it (one read of the feed
                    // for every stream) rather than read the feed on its own.
                    let newest = buffer.head().map_or(i64::MAX, |h| h.created);
                    let ahead = cursor.id.is_some() && cursor.created >= newest;
                    drop(buffer);
                    if !(ahead && self.behind.load(Ordering::Acquire)) {
                        let own = self.read_forward(cursor, max).await?;
                        if !own.is_empty() {
                            return Ok(own);
                        }
                    }
                }
            }
            self.poll_once(polls).await?;
        }
    }

    /// Polls for new events, unless another caller polled since `seen` polls.
    async fn poll_once(&self, seen: u64) -> Result<(), SourceError> {
        let mut last = self.poll.lock().await;
        if self.polls.load(Ordering::Acquire) != seen {
            return Ok(());
        }
        if let (Some(at), false) = (*last, self.behind.load(Ordering::Acquire)) {
            // `sleep` (unlike `at + interval`) takes any interval, however long the user
            // configured it.
            tokio::select! {
                _ = tokio::time::sleep(self.interval.saturating_sub(at.elapsed())) => {}
                _ = self.nudge.notified() => {}
            }
        }
        *last = Some(Instant::now());
        let head = self.buffer.lock().await.head();
        if let Some(head) = head {
            let events = match self.read_forward(&head, POLL_EVENTS).await {
                Ok(events) => events,
                Err(e) => {
                    if e.kind == ErrorKind::CursorExpired {
                        // The buffer stands on a position Stripe no longer has: drop it, so
                        // the streams (which back-fill again) anchor it afresh.
                        *self.buffer.lock().await = Buffer::default();
                    }
                    return Err(e);
                }
            };
            (self.behind).store(events.len() >= POLL_EVENTS, Ordering::Release);
            let mut buffer = self.buffer.lock().await;
            for event in events {
                buffer.push(event);
            }
        }
        self.polls.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Events after `cursor`, oldest first, read from the API: up to `max` (whole pages).
    async fn read_forward(&self, cursor: &Cursor, max: usize) -> Result<Vec<Event>, SourceError> {
        let mut out: Vec<Event> = Vec::new();
        match &cursor.id {
            Some(id) => {
                let mut before = id.clone();
                loop {
                    let params = [
                        ("limit", "100".to_string()),
                        ("ending_before", before.clone()),
                    ];
                    let page =
                        self.client
                            .list("/v1/events", &params)
                            .await
                            .map_err(|e| match e {
                                CallError::CursorMissing => expired(cursor),
                                CallError::Source(e) | CallError::Missing(e) => e,
                            })?;
                    let Some(newest) = page
                        .data
                        .first()
                        .and_then(|e| e.get("id"))
                        .and_then(Value::as_str)
                    else {
                        self.checked.fetch_max(page.date, Ordering::AcqRel);
                        break;
                    };
                    before = newest.to_string();
                    if !page.has_more {
                        self.checked.fetch_max(page.date, Ordering::AcqRel);
                    }
                    out.extend(page.data.into_iter().rev().map(Arc::new));
                    if !page.has_more || out.len() >= max {
                        break;
                    }
                }
            }
            None => {
                // No event to stand on: the events from `created` on come newest first, so
                // the oldest `max` are the last read; only they are kept (memory stays
                // bounded however busy the feed), and the next call follows the newest of
                // them forward. The feed is known read as of the first page only when
                // nothing was left out.
                let mut after: Option<String> = None;
                let mut first_date = None;
                let mut oldest: VecDeque<Event> = VecDeque::new();
                let mut left_out = false;
                loop {
                    let mut params = vec![
                        ("limit", "100".to_string()),
                        ("created[gte]", cursor.created.to_string()),
                    ];
                    if let Some(a) = &after {
                        params.push(("starting_after", a.clone()));
                    }
                    let page = self
                        .client
                        .list("/v1/events", &params)
                        .await
                        .map_err(cursor_error)?;
                    first_date.get_or_insert(page.date);
                    after = page
                        .data
                        .last()
                        .and_then(|e| e.get("id"))
                        .and_then(Value::as_str)
                        .map(String::from);
                    oldest.extend(page.data.into_iter().map(Arc::new));
                    while oldest.len() > max.max(1) {
                        oldest.pop_front();
                        left_out = true;
                    }
                    if !page.has_more || after.is_none() {
                        break;
                    }
                }
                if let Some(date) = first_date.filter(|_| !left_out) {
                    self.checked.fetch_max(date, Ordering::AcqRel);
                }
                out.extend(oldest.into_iter().rev());
            }
        }
        Ok(out)
    }
}

fn cursor_error(e: CallError) -> SourceError {
    match e {
        CallError::Source(e) | CallError::Missing(e) => e,
        CallError::CursorMissing => {
            SourceError::new(ErrorKind::InvalidResponse, "Stripe lost a list cursor")
        }
    }
}

fn expired(cursor: &Cursor) -> SourceError {
    SourceError::new(
        ErrorKind::CursorExpired,
        format!(
            "the stream's place in Stripe's events ({}, created at {}) is older than Stripe keeps \
             events (30 days) or no longer exists, so changes since then cannot be read; the \
             stream backfills again",
            cursor.id.as_deref().unwrap_or("no event"),
            cursor.created
        ),
    )
}

#[cfg(test)]
mod tests {
    use inlet_fakes::stripe::{FakeStripe, Options};
    use serde_json::json;

    use super::*;
    use crate::http::RateLimiter;
    use crate::stripe::DEFAULT_STRIPE_VERSION;

    fn feed_of(fake: &FakeStripe) -> Feed {
        let limiter = Arc::new(RateLimiter::new(100.0, 1));
        let client = StripeClient::new(
            &fake.url(),
            &fake.api_key(),
            DEFAULT_STRIPE_VERSION,
            limiter,
        )
        .expect("client");
        Feed::new(client, Duration::from_millis(20))
    }

    #[tokio::test]
    async fn before_a_second_is_the_newest_event_older_than_it_and_following_it_reads_the_rest() {
        let fake = FakeStripe::start(Options::default()).await.expect("fake");
        let feed = feed_of(&fake);
        let none = feed.before(now() + 5).await.expect("before");
        assert_eq!(none.id, None, "no event yet: the second itself");
        fake.create("customer", json!({"email": "old@example.com"}))
            .expect("create");
        let old = feed.before(now() + 5).await.expect("before");
        let old_id = old.id.clone().expect("the event just made");
        // Events of the next second on are after it, and only they.
        let second = now() + 1;
        wait_for_second(second).await;
        fake.create("customer", json!({"email": "new@example.com"}))
            .expect("create");
        let place = feed.before(second).await.expect("before");
        assert_eq!(place.id.as_deref(), Some(old_id.as_str()));
        let after = feed.after(&place, 10).await.expect("after");
        let emails: Vec<_> = after
            .iter()
            .map(|e| e["data"]["object"]["email"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(emails, ["new@example.com"]);
    }

    #[tokio::test]
    async fn a_place_by_time_in_a_quiet_feed_still_tells_how_far_it_has_been_read() {
        let fake = FakeStripe::start(Options::default()).await.expect("fake");
        let feed = feed_of(&fake);
        let since = now() - 60;
        let place = Cursor {
            id: None,
            created: since,
        };
        // No event comes: `after` keeps polling; the feed is read to its end each time.
        let waited = tokio::time::timeout(Duration::from_millis(300), feed.after(&place, 10)).await;
        assert!(waited.is_err(), "no event to return");
        assert!(
            feed.checked_at() >= now() - 2,
            "read up to about now, not stuck at the place: {} vs {since}",
            feed.checked_at()
        );
    }

    #[tokio::test]
    async fn a_place_by_time_before_many_events_reads_them_oldest_first_a_share_at_a_time() {
        let fake = FakeStripe::start(Options::default()).await.expect("fake");
        let feed = feed_of(&fake);
        let place = Cursor {
            id: None,
            created: now() - 60,
        };
        for n in 0..250 {
            fake.create("customer", json!({"email": format!("c{n}@example.com")}))
                .expect("create");
        }
        // No event older than the place: the oldest 100 first, however many follow.
        let first = feed.after(&place, 100).await.expect("after");
        assert_eq!(first.len(), 100, "only what was asked for is kept");
        let rest = feed
            .after(&Cursor::of(first.last().expect("an event")), 1000)
            .await
            .expect("after");
        let emails: Vec<String> = (first.iter().chain(&rest))
            .map(|e| {
                e["data"]["object"]["email"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        let made: Vec<String> = (0..250).map(|n| format!("c{n}@example.com")).collect();
        assert_eq!(emails, made, "every event once, oldest first");
    }

    #[tokio::test]
    async fn a_feed_far_behind_is_read_a_share_at_a_time_each_event_once() {
        let fake = FakeStripe::start(Options::default()).await.expect("fake");
        let feed = feed_of(&fake);
        fake.create("customer", json!({"email": "before@example.com"}))
            .expect("create");
        let place = feed.before(now() + 5).await.expect("the newest event");
        let made: Vec<String> = (0..2_500).map(|n| format!("c{n}@example.com")).collect();
        for email in &made {
            fake.create("customer", json!({ "email": email }))
                .expect("create");
        }
        // Down while 2,500 events happened: the first answer comes after a share of them
        // is read (ten pages, and one more for luck), not all twenty-five.
        let requests = fake.requests();
        let mut read = feed.after(&place, 1000).await.expect("after");
        assert!(
            fake.requests() - requests <= 11,
            "{} requests before the first events",
            fake.requests() - requests
        );
        while read.len() < made.len() {
            let last = Cursor::of(read.last().expect("an event"));
            read.extend(feed.after(&last, 1000).await.expect("after"));
        }
        let emails: Vec<&str> = (read.iter())
            .map(|e| e["data"]["object"]["email"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(emails, made, "every event once, oldest first");
        assert!(
            fake.requests() - requests <= 27,
            "each page read once: {} requests for 25 pages",
            fake.requests() - requests
        );
    }

    #[tokio::test]
    async fn streams_at_different_places_far_behind_share_one_read_of_the_feed() {
        let fake = FakeStripe::start(Options::default()).await.expect("fake");
        let feed = feed_of(&fake);
        // Two streams stopped a few events apart, then 2,500 events while they were down.
        let mut places = Vec::new();
        for n in 0..3 {
            fake.create(
                "customer",
                json!({"email": format!("early{n}@example.com")}),
            )
            .expect("create");
            places.push(feed.before(now() + 5).await.expect("the newest event"));
        }
        let made: Vec<String> = (0..2_500).map(|n| format!("c{n}@example.com")).collect();
        for email in &made {
            fake.create("customer", json!({ "email": email }))
                .expect("create");
        }
        let requests = fake.requests();
        let follow = |place: Cursor| {
            let feed = &feed;
            async move {
                let mut read = feed.after(&place, 1000).await.expect("after");
                while read.len() < 2_500 {
                    let last = Cursor::of(read.last().expect("an event"));
                    read.extend(feed.after(&last, 1000).await.expect("after"));
                }
                (read.iter().rev().take(2_500).rev())
                    .map(|e| {
                        e["data"]["object"]["email"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string()
                    })
                    .collect::<Vec<_>>()
            }
        };
        // The first to ask stands on the older place; the other is two events ahead.
        let (behind, ahead) = tokio::join!(follow(places[0].clone()), follow(places[2].clone()));
        assert_eq!(behind, made, "every event once, oldest first");
        assert_eq!(ahead, made, "every event once, oldest first");
        assert!(
            fake.requests() - requests <= 30,
            "one read of the feed for both: {} requests for 25 pages",
            fake.requests() - requests
        );
    }

    /// Returns once the clock has reached `second`.
    async fn wait_for_second(second: i64) {
        while now() < second {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
