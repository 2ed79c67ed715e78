//! A fake Salesforce (REST API and Bulk API 2.0), faithful where a sync can tell the
//! difference: the OAuth token endpoint (JWT bearer, refresh token, client credentials,
//! username-password) naming `instance_url`; the versions list and resources;
//! describeGlobal and describe (standard objects, a custom object with a field of every
//! type, compound addresses and geolocations, formulas, a non-replicateable object); a
//! SOQL subset ([`soql`]) through `query`/`queryAll` with `nextRecordsUrl` paging;
//! getUpdated/getDeleted windows with `earliestDateAvailable`; Bulk API 2.0 query jobs
//! with CSV results by locator; record counts (`limits/recordCount`); the daily API allocation (`Sforce-Limit-Info`, `/limits`,
//! 403 `REQUEST_LIMIT_EXCEEDED`); expiring sessions (401 `INVALID_SESSION_ID`); a live
//! mutator; fault knobs and a control API under `/_fake/`.
//!
//! Datetimes have whole seconds, as Salesforce's do, so many changes share one
//! `SystemModstamp`. [`FakeSalesforce::records`] is the truth: exactly what a correct sync
//! of an object holds.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use inlet_fakes::salesforce::{FakeSalesforce, Options};
//! let salesforce = FakeSalesforce::start(Options::default()).await?;
//! salesforce.seed(1_000);
//! let accounts = salesforce.records("Account");
//! // get a session from salesforce.login_url() + "/services/oauth2/token" with
//! // salesforce.credentials(), then call the instance_url it names
//! # Ok(()) }
//! ```

mod auth;
mod bulk;
mod clock;
mod control;
mod describe;
mod errors;
mod limits;
mod mutator;
mod query;
mod render;
mod replication;
mod schema;
mod seed;
mod server;
mod soql;
mod store;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::serve::Running;

pub use errors::SalesforceError;
pub use mutator::{MutatorHandle, MutatorOptions};

use auth::Auth;
use bulk::Jobs;
use limits::Allocation;
use query::Cursors;
use store::Store;

/// The oldest and newest API versions served (`/services/data/v31.0` ... `v67.0`).
pub const OLDEST_VERSION: u32 = 31;
pub const LATEST_VERSION: u32 = 67;
/// The version record `attributes.url`s name.
const API_VERSION: &str = "67.0";

/// The fault knobs: failing the next requests with a status (401 answers
/// `INVALID_SESSION_ID`, 403 `REQUEST_LIMIT_EXCEEDED`, 5xx Salesforce's server errors),
/// added latency, dropped connections. Expiring sessions is
/// [`FakeSalesforce::expire_sessions`]; the daily allocation is
/// [`FakeSalesforce::set_daily_limit`].
pub type Faults = crate::knobs::Knobs<u16>;

/// How to start a fake.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to listen; the default picks a free port on 127.0.0.1.
    pub listen: SocketAddr,
    /// Seeds every choice: the same seed gives the same org, credentials and records.
    pub seed: u64,
    /// When seeded history ends (Unix ms); seeded records lie in the year before it.
    /// Default: when the fake starts.
    pub history_end_ms: Option<i64>,
    /// API calls allowed per rolling 24 hours (Enterprise Edition starts at 100,000).
    pub daily_limit: u64,
    /// How long a session (access token) lives.
    pub session_ttl: Duration,
    /// What token responses name as `instance_url` (e.g. `https://acme.my.salesforce.com`
    /// when the fake is served behind TLS under that name); default the fake's own URL.
    pub instance_url: Option<String>,
    /// How long a Bulk API 2.0 query job stays `InProgress`.
    pub bulk_processing: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: 0,
            history_end_ms: None,
            daily_limit: 100_000,
            session_ttl: Duration::from_secs(2 * 3600),
            instance_url: None,
            bulk_processing: Duration::ZERO,
        }
    }
}

/// What a client needs to log in: the connected app, the integration user, and a refresh
/// token from a web-server flow run once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: String,
    pub username: String,
    pub password: String,
    pub refresh_token: String,
}

/// A running fake Salesforce. Cheap to clone; it stops serving when the last clone is
/// dropped or on [`FakeSalesforce::shutdown`].
#[derive(Debug, Clone)]
pub struct FakeSalesforce {
    inner: Arc<Running<Shared>>,
}

/// State shared by the server, the mutator and the Rust API.
#[derive(Debug)]
pub(crate) struct Shared {
    store: RwLock<Store>,
    auth: Mutex<Auth>,
    allocation: Mutex<Allocation>,
    cursors: Mutex<Cursors>,
    jobs: Mutex<Jobs>,
    faults: Faults,
    requests: AtomicU64,
    in_flight: AtomicU64,
    in_flight_peak: AtomicU64,
    seed: u64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn auth(&self) -> MutexGuard<'_, Auth> {
        lock(&self.auth)
    }

    fn allocation(&self) -> MutexGuard<'_, Allocation> {
        lock(&self.allocation)
    }

    fn cursors(&self) -> MutexGuard<'_, Cursors> {
        lock(&self.cursors)
    }

    fn jobs(&self) -> MutexGuard<'_, Jobs> {
        lock(&self.jobs)
    }

    fn seed(&self, accounts: usize) {
        seed::seed(&mut self.write(), accounts);
    }

    fn seed_object(&self, object: &str, n: usize) -> Result<(), SalesforceError> {
        let mut store = self.write();
        let t = store.table(object)?;
        seed::seed_object(&mut store, t, n);
        Ok(())
    }

    /// Runs one change on `object`'s table under the write lock.
    fn change<T>(
        &self,
        object: &str,
        change: impl FnOnce(&mut Store, usize) -> Result<T, SalesforceError>,
    ) -> Result<T, SalesforceError> {
        let mut store = self.write();
        let t = store.table(object)?;
        change(&mut store, t)
    }

    fn create(&self, object: &str, fields: &Map<String, Value>) -> Result<String, SalesforceError> {
        self.change(object, |s, t| s.create(t, fields))
    }

    fn update(
        &self,
        object: &str,
        ids: &[String],
        fields: &Map<String, Value>,
    ) -> Result<i64, SalesforceError> {
        self.change(object, |s, t| s.update(t, ids, fields))
    }

    /// The truth for `object`: every live record, each field as REST shows it, except
    /// compound fields (their components carry the values) and base64 bodies.
    fn records(&self, object: &str) -> Result<Vec<Value>, SalesforceError> {
        let store = self.read();
        let t = store.table(object)?;
        let fields = &store.tables[t].object.fields;
        let columns: Vec<usize> = (0..fields.len())
            .filter(|&at| !fields[at].kind.is_compound() && fields[at].kind != schema::Kind::Base64)
            .collect();
        Ok(store.tables[t]
            .records
            .values()
            .filter(|r| r.deleted_ms.is_none())
            .map(|r| {
                let mut row = render::rest_record(&store, t, r, &columns);
                if let Some(map) = row.as_object_mut() {
                    map.remove("attributes");
                }
                row
            })
            .collect())
    }

    fn deleted_ids(&self, object: &str) -> Result<Vec<String>, SalesforceError> {
        let store = self.read();
        let t = store.table(object)?;
        Ok(store.tables[t]
            .records
            .iter()
            .filter(|(_, r)| r.deleted_ms.is_some())
            .map(|(id, _)| id.clone())
            .collect())
    }

    fn add_jwt_key(&self, pem: &str) -> Result<(), String> {
        let key = auth::public_key(pem)?;
        self.auth().jwt_keys.push(key);
        Ok(())
    }
}

impl FakeSalesforce {
    /// Binds `options.listen` and starts serving on the current tokio runtime; the org has
    /// its schema and its integration user but no other records until [`Self::seed`].
    pub async fn start(options: Options) -> std::io::Result<FakeSalesforce> {
        let mut store = Store::new(
            options.seed,
            options.history_end_ms.unwrap_or_else(clock::now_ms),
        );
        // The integration user is the first User; the API acts as it.
        if let Ok(users) = store.table("User") {
            seed::seed_object(&mut store, users, 1);
        }
        let org_id = store::make_id("00D", options.seed % 1000 + 1);
        let user_id = store.api_user.clone();
        let mut jobs = Jobs::default();
        jobs.processing = options.bulk_processing;
        let shared = Arc::new(Shared {
            store: RwLock::new(store),
            // The instance URL is only known once bound; set just below.
            auth: Mutex::new(Auth::new(options.seed, org_id, user_id, String::new())),
            allocation: Mutex::new(Allocation::new(options.daily_limit)),
            cursors: Mutex::new(Cursors::default()),
            jobs: Mutex::new(jobs),
            faults: Faults::default(),
            requests: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            in_flight_peak: AtomicU64::new(0),
            seed: options.seed,
        });
        let running = Running::start(options.listen, shared, server::handle).await?;
        {
            let mut auth = running.shared.auth();
            let instance = options
                .instance_url
                .clone()
                .unwrap_or_else(|| running.url());
            auth.audiences.insert(running.url());
            auth.audiences.insert(instance.clone());
            auth.instance_url = instance;
            auth.ttl = options.session_ttl;
        }
        tracing::debug!(addr = %running.addr, "fake salesforce listening");
        Ok(FakeSalesforce {
            inner: Arc::new(running),
        })
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// Where the token endpoint is (`{login_url}/services/oauth2/token`): the fake plays the
    /// login host and the instance at once.
    pub fn login_url(&self) -> String {
        self.inner.url()
    }

    /// The `instance_url` token responses name (the API base).
    pub fn instance_url(&self) -> String {
        self.shared().auth().instance_url.clone()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.inner.addr
    }

    pub fn credentials(&self) -> Credentials {
        let auth = self.shared().auth();
        Credentials {
            client_id: auth.client_id.clone(),
            client_secret: auth.client_secret.clone(),
            username: auth.username.clone(),
            password: auth.password.clone(),
            refresh_token: auth.refresh_token.clone(),
        }
    }

    /// A new session id (access token), as a login would give.
    pub fn session(&self) -> String {
        self.shared().auth().new_session()
    }

    /// Turns the connected app's refresh token rotation on or off: with it on, each
    /// refresh answers with a new refresh token and the one used stops working
    /// ([`Self::credentials`] names the current one).
    pub fn rotate_refresh_tokens(&self, on: bool) {
        self.shared().auth().rotate_refresh_tokens = on;
    }

    /// Every session handed out so far expires now (401 `INVALID_SESSION_ID` until the
    /// client logs in again).
    pub fn expire_sessions(&self) {
        self.shared().auth().expire_all();
    }

    /// Uploads a certificate's public key (PEM) to the connected app: JWT bearer
    /// assertions signed with its private key are accepted from now on.
    pub fn add_jwt_key(&self, public_key_pem: &str) -> Result<(), SalesforceError> {
        self.shared()
            .add_jwt_key(public_key_pem)
            .map_err(SalesforceError::Invalid)
    }

    /// Adds an org of `accounts` accounts with users, contacts, opportunities, leads,
    /// cases, invoices and attachments in proportion.
    pub fn seed(&self, accounts: usize) {
        self.shared().seed(accounts);
    }

    /// Adds `n` records of `object`.
    pub fn seed_object(&self, object: &str, n: usize) -> Result<(), SalesforceError> {
        self.shared().seed_object(object, n)
    }

    /// Every object describeGlobal lists, with whether it is replicateable.
    pub fn objects(&self) -> Vec<(String, bool)> {
        self.shared()
            .read()
            .tables
            .iter()
            .map(|t| (t.object.name.clone(), t.object.replicateable))
            .collect()
    }

    /// Every cross-object formula field, `(object, field)`: its value follows the parent
    /// record it reads, without its own record's `SystemModstamp` moving, so no poll of
    /// Salesforce sees it change.
    pub fn parent_formulas(&self) -> Vec<(String, String)> {
        let store = self.shared().read();
        (store.tables.iter())
            .flat_map(|t| {
                (t.object.fields.iter())
                    .filter(|f| matches!(f.formula, Some((_, schema::Formula::Parent { .. }))))
                    .map(|f| (t.object.name.clone(), f.name.clone()))
            })
            .collect()
    }

    /// The truth: every live record of `object` in Id order, each field (compound fields
    /// as their components, base64 bodies left out) as the REST API shows it.
    pub fn records(&self, object: &str) -> Result<Vec<Value>, SalesforceError> {
        self.shared().records(object)
    }

    /// Ids of `object`'s records in the Recycle Bin (deleted or merged away).
    pub fn deleted_ids(&self, object: &str) -> Result<Vec<String>, SalesforceError> {
        self.shared().deleted_ids(object)
    }

    /// Creates a record as a user would (`fields` in REST JSON form); its id.
    pub fn create(&self, object: &str, fields: &Value) -> Result<String, SalesforceError> {
        self.shared().create(object, &object_fields(fields)?)
    }

    /// A user's update of every record in `ids`, in the same second; that second (Unix ms).
    pub fn update(
        &self,
        object: &str,
        ids: &[String],
        fields: &Value,
    ) -> Result<i64, SalesforceError> {
        self.shared().update(object, ids, &object_fields(fields)?)
    }

    /// A change by the system (a trigger, a rollup): only `SystemModstamp` moves.
    pub fn touch(&self, object: &str, id: &str) -> Result<i64, SalesforceError> {
        self.shared().change(object, |s, t| s.touch(t, id))
    }

    /// Deletes to the Recycle Bin.
    pub fn delete(&self, object: &str, id: &str) -> Result<(), SalesforceError> {
        self.shared().change(object, |s, t| s.delete(t, id))
    }

    pub fn undelete(&self, object: &str, id: &str) -> Result<(), SalesforceError> {
        self.shared().change(object, |s, t| s.undelete(t, id))
    }

    /// Empties a deleted record out of the Recycle Bin: no query finds it again.
    pub fn purge(&self, object: &str, id: &str) -> Result<(), SalesforceError> {
        self.shared().change(object, |s, t| s.purge(t, id))
    }

    /// Merges `losers` into `survivor` (Account, Contact, Lead).
    pub fn merge(
        &self,
        object: &str,
        survivor: &str,
        losers: &[String],
    ) -> Result<(), SalesforceError> {
        self.shared()
            .change(object, |s, t| s.merge(t, survivor, losers))
    }

    /// Adds a custom field (`name` ending in `__c`; `kind` a describe type such as
    /// `string`, `double`, `date`); existing records have it null.
    pub fn add_field(&self, object: &str, name: &str, kind: &str) -> Result<(), SalesforceError> {
        let kind = control::kind(kind).ok_or_else(|| {
            SalesforceError::Invalid(format!(
                "'{kind}' is not a field type a custom field can have here"
            ))
        })?;
        self.shared()
            .change(object, |s, t| s.add_field(t, name, kind))
    }

    /// Deletes a custom field, or hides it from the integration user (the API cannot tell
    /// the two apart): describe stops listing it, a query naming it gets `INVALID_FIELD`.
    pub fn remove_field(&self, object: &str, name: &str) -> Result<(), SalesforceError> {
        self.shared().change(object, |s, t| s.remove_field(t, name))
    }

    /// Drops `getDeleted`'s log entries older than `before_ms`, as Salesforce does early
    /// when the log is large: `earliestDateAvailable` moves forward.
    pub fn trim_delete_log(&self, object: &str, before_ms: i64) -> Result<(), SalesforceError> {
        self.shared().change(object, |s, t| {
            s.trim_delete_log(t, before_ms);
            Ok(())
        })
    }

    pub fn faults(&self) -> &Faults {
        &self.shared().faults
    }

    /// Bulk API 2.0 query jobs created from now on end `Failed` with `message` as their
    /// `errorMessage` (`None`: they complete again).
    pub fn fail_bulk_jobs(&self, message: Option<&str>) {
        self.shared().jobs().failure = message.map(str::to_string);
    }

    /// Query jobs on `object` are refused when created (400 `INVALIDJOB`), as for an
    /// object Bulk API 2.0 does not support.
    pub fn refuse_bulk_jobs_on(&self, object: &str) {
        self.shared().jobs().unsupported.push(object.to_string());
    }

    /// Results chunks hold at most `rows` rows, whatever `maxRecords` asks (Salesforce
    /// also caps a chunk by its size).
    pub fn cap_bulk_chunks(&self, rows: usize) {
        self.shared().jobs().chunk_cap = Some(rows.max(1));
    }

    /// The object of every Bulk API 2.0 query job created so far, in order.
    pub fn bulk_jobs(&self) -> Vec<String> {
        self.shared().jobs().created.clone()
    }

    /// Every open `nextRecordsUrl` locator becomes invalid (`INVALID_QUERY_LOCATOR`).
    pub fn invalidate_locators(&self) {
        self.shared().cursors().invalidate();
    }

    /// The daily allocation and the calls other integrations already made today.
    pub fn set_daily_limit(&self, daily: u64, used_elsewhere: u64) {
        let mut allocation = self.shared().allocation();
        allocation.daily = daily;
        allocation.used_elsewhere = used_elsewhere;
    }

    /// API calls counted against the allocation in the last 24 hours (others' included).
    pub fn api_usage(&self) -> u64 {
        self.shared().allocation().used(Instant::now())
    }

    /// Calls refused with `REQUEST_LIMIT_EXCEEDED` because the allocation was spent.
    pub fn limit_refused(&self) -> u64 {
        self.shared().allocation().refused
    }

    /// Requests answered so far (the token endpoint and errors included; not the control
    /// API).
    pub fn requests(&self) -> u64 {
        self.shared().requests.load(Ordering::Relaxed)
    }

    /// The most requests the fake was answering at once (a client's concurrency).
    pub fn in_flight_peak(&self) -> u64 {
        self.shared().in_flight_peak.load(Ordering::Relaxed)
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

    /// Stops serving now (clones stop too).
    pub fn shutdown(&self) {
        self.inner.stop();
    }
}

fn object_fields(fields: &Value) -> Result<Map<String, Value>, SalesforceError> {
    match fields {
        Value::Object(map) => Ok(map.clone()),
        Value::Null => Ok(Map::new()),
        other => Err(SalesforceError::Invalid(format!(
            "fields must be a JSON object, not {other}"
        ))),
    }
}
