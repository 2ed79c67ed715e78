//! A fake HubSpot (CRM v3, associations v4, OAuth), faithful where a sync can tell the
//! difference: ascending-id lists with opaque cursors and per-type default properties,
//! search with its operators, one sort, the 10,000-result cap, indexing lag and its own
//! per-second limit; batch reads with 207s; archive/restore/merge/GDPR delete; the
//! 10-second and daily budgets in `X-HubSpot-RateLimit-*` headers and 429s by `policyName`;
//! private-app and expiring OAuth tokens; signed webhook deliveries of every change
//! ([`FakeHubSpot::subscribe_webhooks`]); fault knobs ([`Faults`]) and a control API
//! under `/_fake/`.
//!
//! [`FakeHubSpot::objects`] and [`FakeHubSpot::associations`] are the truth: exactly what a
//! correct full sync holds.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use inlet_fakes::hubspot::{FakeHubSpot, Options};
//! let hubspot = FakeHubSpot::start(Options::default()).await?;
//! hubspot.seed(1_000);
//! let contacts = hubspot.objects("contacts");
//! // point a client at hubspot.url() with `Authorization: Bearer {hubspot.access_token()}`
//! # Ok(()) }
//! ```

mod api;
mod associations;
mod auth;
mod call;
mod catalog;
mod clock;
mod control;
mod counts;
mod errors;
mod hold;
mod limits;
mod meta;
mod mutate;
mod mutator;
mod objects;
mod properties;
mod render;
mod search;
mod seed;
mod server;
mod standard;
mod store;
mod truth;
mod values;
mod webhooks;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::serve::Running;

pub use counts::Endpoint;
pub use errors::HubSpotError;
pub use limits::Limits;
pub use mutator::{MutatorHandle, MutatorOptions};
pub use objects::ListCursors;
pub use search::RESULT_CAP;

/// The fault knobs: failing the next requests with a status (5xx, or 429 naming the
/// `TEN_SECONDLY_ROLLING` policy), added latency, dropped connections. Expiring OAuth
/// tokens is [`FakeHubSpot::expire_tokens`].
pub type Faults = crate::knobs::Knobs<u16>;

use auth::Tokens;
use clock::now_ms;
use limits::Budget;
use store::Store;

/// How to start a fake.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to listen; the default picks a free port on 127.0.0.1.
    pub listen: SocketAddr,
    /// Seeds every choice: the same seed gives the same portal, tokens and records.
    pub seed: u64,
    /// When seeded history ends (Unix ms); seeded records lie in the year before it.
    /// Default: when the fake starts.
    pub history_end_ms: Option<i64>,
    /// Properties contacts have in all (HubSpot's common ones, then custom filler ones of
    /// every type); real portals have hundreds.
    pub contact_properties: usize,
    pub limits: Limits,
    /// How long a change takes to show in search.
    pub search_lag: Duration,
    /// The private app's token; default `pat-na1-...` derived from `seed`.
    pub access_token: Option<String>,
    /// Lifetime of OAuth access tokens.
    pub token_ttl: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: 0,
            history_end_ms: None,
            contact_properties: 200,
            limits: Limits::default(),
            search_lag: Duration::from_secs(1),
            access_token: None,
            token_ttl: Duration::from_secs(1800),
        }
    }
}

/// An OAuth app installed on the portal: what a client needs to get access tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthApp {
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
}

/// A running fake HubSpot. Cheap to clone; it stops serving when the last clone is dropped
/// or on [`FakeHubSpot::shutdown`].
#[derive(Debug, Clone)]
pub struct FakeHubSpot {
    inner: Arc<Running<Shared>>,
}

/// State shared by the server, the mutator and the Rust API.
#[derive(Debug)]
pub(crate) struct Shared {
    store: RwLock<Store>,
    tokens: Mutex<Tokens>,
    budget: Mutex<Budget>,
    faults: Faults,
    holds: hold::Holds,
    by_endpoint: counts::Counts,
    webhooks: webhooks::Webhooks,
    next_correlation: AtomicU64,
    seed: u64,
}

impl Shared {
    fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn tokens(&self) -> MutexGuard<'_, Tokens> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn budget(&self) -> MutexGuard<'_, Budget> {
        self.budget.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn correlation_id(&self) -> String {
        let n = self.next_correlation.fetch_add(1, Ordering::Relaxed);
        let a = clock::mix(self.seed, n);
        let b = clock::mix(a, n);
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) & 0xffff,
            b & 0xffff_ffff_ffff
        )
    }

    /// The type `name` answers to (`contacts`, `0-1`, `p_cars`, ...).
    fn kind(&self, name: &str) -> Result<usize, HubSpotError> {
        self.read()
            .kind(name)
            .ok_or_else(|| HubSpotError::UnknownType(name.to_string()))
    }
}

fn parse_id(text: &str) -> Result<u64, HubSpotError> {
    call::parse_id(text).ok_or_else(|| {
        HubSpotError::Invalid(format!(
            "{text:?} is not a record id (ids are positive integers)"
        ))
    })
}

fn object(fields: Value) -> Result<Map<String, Value>, HubSpotError> {
    match fields {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        other => Err(HubSpotError::Invalid(format!(
            "properties must be a JSON object, not {other}"
        ))),
    }
}

impl FakeHubSpot {
    /// Binds `options.listen` and starts serving on the current tokio runtime; the portal
    /// has its schema (properties, owners, pipelines) but no records until [`Self::seed`].
    pub async fn start(options: Options) -> std::io::Result<FakeHubSpot> {
        let mut store = Store::new(
            options.seed,
            options.history_end_ms.unwrap_or_else(now_ms),
            options.contact_properties,
        );
        store.search_lag_ms = i64::try_from(options.search_lag.as_millis()).unwrap_or(i64::MAX);
        seed::init(&mut store);
        let mut tokens = Tokens::new(options.seed, options.access_token.clone());
        tokens.ttl = options.token_ttl;
        let (webhooks, deliveries) = webhooks::Webhooks::new();
        let shared = Arc::new(Shared {
            store: RwLock::new(store),
            tokens: Mutex::new(tokens),
            budget: Mutex::new(Budget::new(options.limits)),
            faults: Faults::default(),
            holds: hold::Holds::default(),
            by_endpoint: counts::Counts::default(),
            webhooks,
            next_correlation: AtomicU64::new(0),
            seed: options.seed,
        });
        let running = Running::start(options.listen, shared, server::handle).await?;
        tokio::spawn(webhooks::dispatch(
            running.shared.clone(),
            deliveries,
            running.stopped(),
        ));
        tracing::debug!(addr = %running.addr, "fake hubspot listening");
        Ok(FakeHubSpot {
            inner: Arc::new(running),
        })
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// The API base, e.g. `http://127.0.0.1:PORT` (routes are under `/crm/...`).
    pub fn url(&self) -> String {
        self.inner.url()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The private app's access token (every scope; never expires).
    pub fn access_token(&self) -> String {
        self.shared().tokens().private.clone()
    }

    /// The portal (hub) id.
    pub fn portal_id(&self) -> u64 {
        self.shared().read().portal_id
    }

    /// The OAuth app whose refresh token trades for expiring access tokens.
    pub fn oauth_app(&self) -> OAuthApp {
        let tokens = self.shared().tokens();
        OAuthApp {
            client_id: tokens.client_id.clone(),
            client_secret: tokens.client_secret.clone(),
            refresh_token: tokens.refresh_token(),
        }
    }

    /// A new private-app token granted only `scopes` (e.g. `crm.objects.contacts.read`);
    /// anything else answers 403 `MISSING_SCOPES` naming the scope.
    pub fn add_token(&self, scopes: &[&str]) -> String {
        self.shared().tokens().add_scoped(scopes)
    }

    /// Takes `scope` away from a token [`Self::add_token`] made, as a portal admin editing
    /// the private app does: its next requests needing the scope answer 403. Returns
    /// whether the token had it.
    pub fn revoke_scope(&self, token: &str, scope: &str) -> bool {
        self.shared().tokens().revoke(token, scope)
    }

    /// Every OAuth access token handed out so far expires now (401 until refreshed).
    pub fn expire_tokens(&self) {
        self.shared().tokens().expire_all();
    }

    /// Adds `contacts` contacts and, in proportion, every other type with associations.
    pub fn seed(&self, contacts: usize) {
        seed::seed(&mut self.shared().write(), contacts);
    }

    /// The object types the portal has, by API name (`contacts`, ..., `cars`).
    pub fn object_types(&self) -> Vec<String> {
        self.shared()
            .read()
            .types
            .iter()
            .map(|t| t.name.clone())
            .collect()
    }

    pub fn faults(&self) -> &Faults {
        &self.shared().faults
    }

    /// Holds every request to `endpoint` (counted, then waiting) until [`Self::release`].
    pub fn hold(&self, endpoint: Endpoint) {
        self.shared().holds.hold(endpoint, 0);
    }

    /// As [`Self::hold`], after letting the next `passes` requests to `endpoint` through.
    pub fn hold_after(&self, endpoint: Endpoint, passes: u64) {
        self.shared().holds.hold(endpoint, passes);
    }

    /// Lets held requests to `endpoint`, and later ones, through.
    pub fn release(&self, endpoint: Endpoint) {
        self.shared().holds.release(endpoint);
    }

    /// Requests waiting for a release now.
    pub fn held_requests(&self) -> u64 {
        self.shared().holds.waiting()
    }

    /// Changes the rate budgets from the next request on.
    pub fn set_limits(&self, limits: Limits) {
        self.shared().budget().limits = limits;
    }

    /// Changes the indexing lag for changes made from now on.
    /// Changes how the list's `after` cursor works, from the next request on.
    pub fn set_list_cursors(&self, cursors: ListCursors) {
        self.shared().write().list_cursors = cursors;
    }

    pub fn set_search_lag(&self, lag: Duration) {
        self.shared().write().search_lag_ms = i64::try_from(lag.as_millis()).unwrap_or(i64::MAX);
    }

    /// Every change made so far becomes visible to search now, whatever the indexing lag.
    pub fn index_now(&self) {
        self.shared().write().flush_index();
    }

    /// API requests answered so far (errors included; not the control API).
    pub fn requests(&self) -> u64 {
        self.shared().by_endpoint.total()
    }

    /// API requests to `endpoint` answered so far (errors included).
    pub fn requests_to(&self, endpoint: Endpoint) -> u64 {
        self.shared().by_endpoint.get(endpoint)
    }

    /// 429s answered because a budget was spent (not injected ones).
    pub fn rate_limited(&self) -> u64 {
        self.shared().budget().refused
    }

    /// Of [`FakeHubSpot::rate_limited`], those of search's per-second budget.
    pub fn search_rate_limited(&self) -> u64 {
        self.shared().budget().refused_search
    }

    /// A steady stream of random realistic changes until the handle is dropped.
    pub fn start_mutator(&self, options: MutatorOptions) -> MutatorHandle {
        mutator::start(
            &self.inner.runtime,
            self.inner.shared.clone(),
            options,
            self.inner.stopped(),
        )
    }

    /// Every change from now on is also delivered to `target_url` as HubSpot delivers
    /// webhooks to an app subscribed to every CRM event, signed with the OAuth app's client
    /// secret ([`Self::oauth_app`]).
    pub fn subscribe_webhooks(&self, target_url: &str) {
        self.shared().subscribe(target_url);
    }

    /// Webhook events the targets accepted so far (each target counted).
    pub fn webhook_events_delivered(&self) -> u64 {
        self.shared().webhooks.delivered.load(Ordering::Relaxed)
    }

    /// Stops serving now (clones stop too).
    pub fn shutdown(&self) {
        self.inner.stop();
    }
}
