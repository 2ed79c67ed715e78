//! A fake Stripe API, faithful where a sync can tell the difference: list order and cursors,
//! nested truncated lists, deletion semantics, the event log and signed webhooks, errors in
//! Stripe's shape; plus fault knobs ([`Faults`]) and a control API under `/_fake/`.
//!
//! [`FakeStripe::objects`] is the truth: exactly what a correct full sync of a stream holds.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use inlet_fakes::stripe::{FakeStripe, Options};
//! let stripe = FakeStripe::start(Options::default()).await?;
//! stripe.seed(100);
//! let customers = stripe.objects("customer");
//! // point a client at stripe.url() with stripe.api_key()
//! # Ok(()) }
//! ```

mod api;
mod auth;
mod control;
mod deletes;
mod errors;
mod events;
mod faults;
mod feed;
mod form;
mod list;
mod mutate;
mod objects;
mod render;
mod seed;
mod server;
mod store;
mod stream;
mod trickle;
mod webhook;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

use crate::serve::Running;

pub use errors::FakeError;
pub use faults::{Failure, Faults};
pub use stream::Stream;
pub use trickle::TrickleHandle;

use events::Ctx;
use store::Store;

/// The API version an account answers with when a request names none.
pub const DEFAULT_API_VERSION: &str = "2025-03-31.basil";

/// The 21 stream names the fake serves (inlet's table names).
pub const STREAMS: [&str; 21] = [
    "customer",
    "product",
    "price",
    "plan",
    "coupon",
    "subscription",
    "subscription_item",
    "invoice",
    "invoice_line_item",
    "invoiceitem",
    "charge",
    "refund",
    "dispute",
    "payment_intent",
    "setup_intent",
    "payment_method",
    "balance_transaction",
    "payout",
    "credit_note",
    "tax_rate",
    "checkout_session",
];

/// How to start a fake.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to listen; the default picks a free port on 127.0.0.1.
    pub listen: SocketAddr,
    /// Seeds every random choice: the same seed gives the same account (and keys).
    pub seed: u64,
    /// The account's default API version, used when a request sends no `Stripe-Version`,
    /// and the `api_version` of every event.
    pub api_version: String,
    /// When seeded history ends (unix seconds); seeded `created` times spread over the year
    /// before it. Default: when the fake starts. Set it to get identical data across runs.
    pub history_end: Option<i64>,
    /// The secret key; default `sk_test_` and characters derived from `seed`.
    pub api_key: Option<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: 0,
            api_version: DEFAULT_API_VERSION.to_string(),
            history_end: None,
            api_key: None,
        }
    }
}

/// A running fake Stripe. Cheap to clone; it stops serving when the last clone is dropped
/// or on [`FakeStripe::shutdown`].
#[derive(Debug, Clone)]
pub struct FakeStripe {
    inner: Arc<Running<Shared>>,
}

/// State shared by the server, the webhook dispatcher and the Rust API.
#[derive(Debug)]
pub(crate) struct Shared {
    store: RwLock<Store>,
    keys: RwLock<auth::Keys>,
    faults: Faults,
    requests: AtomicU64,
    /// API requests answered 429 because the request budget was spent.
    rate_limited: AtomicU64,
    /// API requests being answered now, and the most at once so far.
    in_flight: AtomicU64,
    in_flight_peak: AtomicU64,
    next_request: AtomicU64,
    api_version: String,
    seed: u64,
    webhooks: webhook::Webhooks,
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn derived_secret(seed: u64, prefix: &str, salt: u64) -> String {
    let mut dice = objects::Dice::new(seed ^ salt);
    format!("{prefix}{}", dice.alnum(24))
}

impl Shared {
    /// `GET /v1/account`: the account the key belongs to, opened before its history began.
    pub(crate) fn account(&self) -> Value {
        let created = self.read().history_end - seed::ACCOUNT_AGE;
        json!({
            "id": format!("acct_{:016x}", self.seed),
            "object": "account",
            "business_type": "company",
            "charges_enabled": true,
            "country": "US",
            "created": created,
            "default_currency": "usd",
            "details_submitted": true,
            "email": "owner@example.com",
            "payouts_enabled": true,
            "type": "standard",
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn keys(&self) -> RwLockReadGuard<'_, auth::Keys> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn ctx(&self, request: Option<String>, idempotency_key: Option<String>) -> Ctx {
        Ctx {
            now: unix_now(),
            request,
            api_version: self.api_version.clone(),
            idempotency_key,
        }
    }

    pub(crate) fn request_id(&self) -> String {
        let n = self.next_request.fetch_add(1, Ordering::Relaxed);
        let mut dice = objects::Dice::new(self.seed ^ n.wrapping_mul(0x2545_f491_4f6c_dd1d));
        format!("req_{}", dice.alnum(14))
    }

    /// Runs a change under the write lock and hands its events to the webhook dispatcher
    /// in order.
    fn mutate<T>(
        &self,
        ctx: &Ctx,
        change: impl FnOnce(&mut Store, &Ctx) -> Result<T, FakeError>,
    ) -> Result<T, FakeError> {
        let mut store = self.write();
        let result = change(&mut store, ctx);
        let events: Vec<_> = store.outbox.drain(..).collect();
        if store.webhook_endpoints > 0 {
            for event in events {
                let _ = self.webhooks.tx.send(event);
            }
        }
        result
    }

    /// One delivery done: the event's `pending_webhooks` goes down.
    fn webhook_delivered(&self, event_id: &str) {
        let mut store = self.write();
        if let Some(slot) = store.events.get(event_id) {
            if let store::Body::Full(doc) = &mut store.events.slots[slot as usize].body {
                let pending = doc
                    .get("pending_webhooks")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                doc.insert(
                    "pending_webhooks".into(),
                    Value::from(pending.saturating_sub(1)),
                );
            }
        }
    }

    fn create(
        &self,
        stream: Stream,
        fields: Map<String, Value>,
    ) -> Result<Map<String, Value>, FakeError> {
        let ctx = self.ctx(None, None);
        self.mutate(&ctx, |store, ctx| {
            mutate::create(store, ctx, stream, fields)
        })
    }

    fn update(
        &self,
        stream: Stream,
        id: &str,
        fields: Map<String, Value>,
    ) -> Result<Map<String, Value>, FakeError> {
        let ctx = self.ctx(None, None);
        self.mutate(&ctx, |store, ctx| {
            mutate::update(store, ctx, stream, id, fields, false)
        })
    }

    fn delete(&self, stream: Stream, id: &str) -> Result<Map<String, Value>, FakeError> {
        let ctx = self.ctx(None, None);
        self.mutate(&ctx, |store, ctx| deletes::delete(store, ctx, stream, id))
    }

    fn seed(&self, customers: usize) {
        seed::seed(&mut self.write(), self.seed, customers);
    }

    fn add_webhook_endpoint(&self, url: &str) {
        self.webhooks
            .endpoints
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(url.to_string());
        self.write().webhook_endpoints += 1;
    }

    /// Every event in the log, oldest first.
    fn all_events(&self) -> Vec<Value> {
        let store = self.read();
        store
            .events
            .order
            .values()
            .rev()
            .filter_map(|&slot| match &store.events.slot(slot).body {
                store::Body::Full(doc) => Some(Value::Object((**doc).clone())),
                store::Body::Seeded(_) => None,
            })
            .collect()
    }

    fn objects(&self, stream: Stream) -> Vec<Value> {
        let store = self.read();
        let table = store.table(stream);
        table
            .order
            .values()
            .map(|&slot| render::render(&store, stream, slot))
            .filter(|object| {
                stream != Stream::PaymentMethod
                    || object.get("customer").is_some_and(|c| !c.is_null())
            })
            .map(Value::Object)
            .collect()
    }
}

fn parse_stream(name: &str) -> Result<Stream, FakeError> {
    Stream::from_name(name).ok_or_else(|| FakeError::UnknownStream(name.to_string()))
}

fn object_fields(fields: Value) -> Result<Map<String, Value>, FakeError> {
    match fields {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        other => Err(FakeError::invalid(format!(
            "fields must be a JSON object, not {other}"
        ))),
    }
}

impl FakeStripe {
    /// Binds `options.listen` and starts serving on the current tokio runtime.
    pub async fn start(options: Options) -> std::io::Result<FakeStripe> {
        let (tx, rx) = mpsc::unbounded_channel();
        let secret = options
            .api_key
            .clone()
            .unwrap_or_else(|| derived_secret(options.seed, "sk_test_", 0x5ec));
        let shared = Arc::new(Shared {
            store: RwLock::new(Store::new(
                options.seed,
                options.history_end.unwrap_or_else(unix_now),
            )),
            keys: RwLock::new(auth::Keys {
                secret,
                ..auth::Keys::default()
            }),
            faults: Faults::default(),
            requests: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            in_flight_peak: AtomicU64::new(0),
            next_request: AtomicU64::new(0),
            api_version: options.api_version.clone(),
            seed: options.seed,
            webhooks: webhook::Webhooks {
                secret: derived_secret(options.seed, "whsec_", 0x3eb),
                endpoints: RwLock::new(Vec::new()),
                tx,
            },
        });
        let running = Running::start(options.listen, shared.clone(), server::handle).await?;
        tokio::spawn(webhook::dispatch(shared, rx, running.stopped()));
        tracing::debug!(addr = %running.addr, "fake stripe listening");
        Ok(FakeStripe {
            inner: Arc::new(running),
        })
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// The API base, e.g. `http://127.0.0.1:PORT` (routes are under `/v1/...`).
    pub fn url(&self) -> String {
        self.inner.url()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The account's secret key (`sk_test_...`).
    pub fn api_key(&self) -> String {
        self.shared().keys().secret.clone()
    }

    /// Rolls the account's secret key, as the Dashboard's "Roll key" with "now": a new key,
    /// and the old one refused from now on (401). Returns the new key.
    pub fn roll_api_key(&self) -> String {
        let n = self.shared().next_request.fetch_add(1, Ordering::Relaxed);
        let key = derived_secret(
            self.shared().seed,
            "sk_test_",
            0x70 ^ n.wrapping_mul(0x9e37_79b9),
        );
        let mut keys = self
            .shared()
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        keys.secret = key.clone();
        key
    }

    /// A new restricted key (`rk_test_...`) that can only read these streams (stream names,
    /// plus `event` for `/v1/events`); anything else answers 403.
    pub fn add_restricted_key(&self, resources_readable: &[&str]) -> String {
        let n = self.shared().next_request.fetch_add(1, Ordering::Relaxed);
        let key = derived_secret(
            self.shared().seed,
            "rk_test_",
            0x4b ^ n.wrapping_mul(0x9e37_79b9),
        );
        let mut keys = self
            .shared()
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        keys.restricted.insert(
            key.clone(),
            resources_readable.iter().map(|s| s.to_string()).collect(),
        );
        key
    }

    /// The secret webhook deliveries are signed with (`whsec_...`).
    pub fn webhook_secret(&self) -> String {
        self.shared().webhooks.secret.clone()
    }

    /// Every later event is POSTed to `url`, signed.
    pub fn add_webhook_endpoint(&self, url: &str) {
        self.shared().add_webhook_endpoint(url);
    }

    /// Adds a realistic account's history for `customers` customers (no events).
    pub fn seed(&self, customers: usize) {
        self.shared().seed(customers);
    }

    /// Creates an object as Stripe would (generated fields filled in, `fields` on top) and
    /// sends the events Stripe sends for it.
    pub fn create(&self, stream: &str, fields: Value) -> Result<Value, FakeError> {
        self.shared()
            .create(parse_stream(stream)?, object_fields(fields)?)
            .map(Value::Object)
    }

    /// Replaces top-level fields; sends `*.updated` with `previous_attributes` (and status
    /// events such as `invoice.paid`), as Stripe does for that resource.
    pub fn update(&self, stream: &str, id: &str, fields: Value) -> Result<Value, FakeError> {
        self.shared()
            .update(parse_stream(stream)?, id, object_fields(fields)?)
            .map(Value::Object)
    }

    /// Deletes with Stripe's semantics for the resource: a stub and `*.deleted` for most, a
    /// cancel for subscriptions, a detach for payment methods, an error where Stripe has no
    /// delete (charges, payouts, ...).
    pub fn delete(&self, stream: &str, id: &str) -> Result<Value, FakeError> {
        self.shared()
            .delete(parse_stream(stream)?, id)
            .map(Value::Object)
    }

    /// The truth: every object a correct full sync of `stream` holds, as a retrieve renders
    /// it, in list order (subscriptions of every status, every line of every invoice, the
    /// payment methods attached to a customer).
    pub fn objects(&self, stream: &str) -> Result<Vec<Value>, FakeError> {
        Ok(self.shared().objects(parse_stream(stream)?))
    }

    /// Every event still in the log, oldest first.
    pub fn events(&self) -> Vec<Value> {
        self.shared().all_events()
    }

    pub fn faults(&self) -> &Faults {
        &self.shared().faults
    }

    /// API requests answered so far (`/v1/...`, errors included).
    pub fn requests(&self) -> u64 {
        self.shared().requests.load(Ordering::Relaxed)
    }

    /// API requests answered 429 because they were over the request budget
    /// ([`Faults::rate_limit`]).
    pub fn rate_limited(&self) -> u64 {
        self.shared().rate_limited.load(Ordering::Relaxed)
    }

    /// The most API requests the fake was answering at once (a client's concurrency).
    pub fn in_flight_peak(&self) -> u64 {
        self.shared().in_flight_peak.load(Ordering::Relaxed)
    }

    /// A steady stream of random realistic creates, updates and deletes, one every `every`,
    /// until the handle is dropped or stopped.
    pub fn start_trickle(&self, every: Duration) -> TrickleHandle {
        trickle::start(
            &self.inner.runtime,
            self.inner.shared.clone(),
            every,
            self.inner.stopped(),
        )
    }

    /// Stops serving now (clones stop too).
    pub fn shutdown(&self) {
        self.inner.stop();
    }
}
