//! The one HTTP scaffold every connector uses: a base URL, requests of any method with an
//! optional body ([`Request`]), credentials from an [`Auth`] provider (renewed before
//! expiry and, once, on a 401), the sync's token bucket ([`RateLimiter`]), a bucket per
//! endpoint where the API limits each ([`EndpointLimits`]), the vendor's budget headers
//! ([`budget`]), timeouts, and retries as the one retry policy says
//! ([`inlet_core::retry_in_place`]: connection errors, 5xx, server-approved 429s).
//! Connectors turn what is left (a final status and body) into their own errors.
//!
//! A connector supplies hooks, not code: its `Auth`, the header its API uses to say whether
//! to retry (`Stripe-Should-Retry`), and the reader of its budget headers. It passes on the
//! sync's [`Meter`] (from its settings), which the scaffold tells of every request. A
//! vendor that keeps a daily budget per account (Salesforce, HubSpot) also names the reader
//! of its daily headers and the sync's [`DailyShare`], which every answer feeds; the
//! connector takes a call of the share before each request the budget counts, and tells it
//! when the account refuses for its daily limit (each vendor words that refusal its own way).

pub mod allowance;
mod auth;
pub mod budget;
mod daily_share;
mod endpoints;
pub mod meter;
mod oauth;
mod rate_limit;
mod request;
pub mod retry;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use inlet_core::{retry_in_place, ErrorKind, ServerWord, SourceError};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;

pub use allowance::{Days, DEFAULT_SHARE};
pub use auth::{header, Auth, BadHeaderValue, BoxFuture, StaticKey};
pub use budget::{Budget, BudgetHeaders, Pacer};
pub use daily_share::{DailyShare, Reasons};
pub use endpoints::{EndpointLimits, EndpointName};
pub use meter::{ApiDay, ApiEvent, ApiMeter, ApiUsage, Meter, Paused, Throttle};
pub use oauth::{RefreshToken, RENEW_BEFORE};
pub use rate_limit::{RateLimiter, MAX_IN_FLIGHT};
pub use request::Request;

/// A response, whatever its status.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
    /// The server's clock (`Date`), in Unix seconds.
    pub date: Option<i64>,
    /// What the server said about retrying (`Retry-After`, `*-Should-Retry`).
    pub hints: ServerWord,
    /// Every header, for APIs that page by one (Salesforce Bulk's `Sforce-Locator`).
    pub headers: HeaderMap,
}

/// Why no response came back.
#[derive(Clone, Debug, thiserror::Error)]
pub enum HttpError {
    /// The server could not be reached, or the answer was cut off (after retries).
    #[error("{0}")]
    Unreachable(String),
    /// No credentials could be had: the token endpoint refused or failed.
    #[error("{0}")]
    Auth(SourceError),
}

impl HttpError {
    /// The source error this is, naming the API (`Stripe`) in what a person reads.
    pub fn into_source_error(self, api: &str) -> SourceError {
        match self {
            HttpError::Unreachable(why) => {
                SourceError::new(ErrorKind::Network, format!("could not reach {api}: {why}"))
            }
            HttpError::Auth(e) => e,
        }
    }
}

#[derive(Clone, Debug)]
pub struct HttpClient {
    http: reqwest::Client,
    base: String,
    limiter: Arc<RateLimiter>,
    /// Each endpoint's own budget, where the API keeps one (Stripe's 25/s).
    endpoints: Option<Arc<EndpointLimits>>,
    /// Shared by every clone, as the limiter is: one budget per sync.
    pacer: Arc<Pacer>,
    auth: Option<Arc<dyn Auth>>,
    /// Sent with every request (an API version).
    headers: HeaderMap,
    /// The header a server uses to say whether to retry (`Stripe-Should-Retry`).
    should_retry_header: Option<HeaderName>,
    budget: Option<BudgetHeaders>,
    /// The reader of the daily budget headers, and the share they feed.
    daily: Option<(BudgetHeaders, Arc<DailyShare>)>,
    meter: Meter,
}

impl HttpClient {
    /// `base` is prefixed to every path (no trailing slash).
    pub fn new(base: &str, limiter: Arc<RateLimiter>) -> Result<Self, HttpError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("inlet/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .pool_idle_timeout(Duration::from_secs(50))
            .build()
            .map_err(|e| HttpError::Unreachable(format!("could not set up HTTP: {e}")))?;
        Ok(HttpClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            limiter,
            endpoints: None,
            pacer: Arc::default(),
            auth: None,
            headers: HeaderMap::new(),
            should_retry_header: None,
            budget: None,
            daily: None,
            meter: Meter::default(),
        })
    }

    pub fn with_auth(mut self, auth: Arc<dyn Auth>) -> Self {
        self.auth = Some(auth);
        self
    }

    /// A header sent with every request.
    pub fn with_header(mut self, name: &'static str, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// The header the API uses to say whether a failed request may be sent again.
    pub fn with_should_retry_header(mut self, name: &'static str) -> Self {
        self.should_retry_header = Some(HeaderName::from_static(name));
        self
    }

    /// Each endpoint's own limit, kept besides the sync's bucket.
    pub fn with_endpoint_limits(mut self, limits: Arc<EndpointLimits>) -> Self {
        self.endpoints = Some(limits);
        self
    }

    /// Requests to keep in flight to `GET path_and_query`'s endpoint so its own limit is
    /// used (see [`RateLimiter::in_flight`]); `None` where endpoints have no limit.
    pub fn endpoint_in_flight(&self, path_and_query: &str) -> Option<usize> {
        let limits = self.endpoints.as_ref()?;
        Some(limits.limiter(&Method::GET, path_and_query).in_flight())
    }

    /// The reader of the API's budget headers, which then pace the requests.
    pub fn with_budget(mut self, read: BudgetHeaders) -> Self {
        self.budget = Some(read);
        self
    }

    /// The reader of the API's daily budget headers, whose every answer feeds `share`.
    pub fn with_daily(mut self, read: BudgetHeaders, share: Arc<DailyShare>) -> Self {
        self.daily = Some((read, share));
        self
    }

    /// How long requests wait for the budget the vendor's headers report, from now.
    pub fn budget_wait(&self) -> Duration {
        self.pacer.ahead()
    }

    /// The sync's meter, told of every request.
    pub fn with_meter(mut self, meter: Meter) -> Self {
        self.meter = meter;
        self
    }

    /// `GET base + path_and_query`.
    pub async fn get(&self, path_and_query: &str) -> Result<Reply, HttpError> {
        self.send(&Request::get(path_and_query)).await
    }

    /// Sends `request`, again while the retry policy says so, and once more with renewed
    /// credentials after a 401.
    pub async fn send(&self, request: &Request) -> Result<Reply, HttpError> {
        Ok(self.exchange(request, false).await?.0)
    }

    /// As [`HttpClient::send`], but a successful answer comes back as soon as its headers
    /// do, with its body to read as it arrives ([`Body`]; the reply's own body is empty):
    /// for downloads too large to hold whole. An answer of 400 or more is read whole.
    pub async fn open(&self, request: &Request) -> Result<(Reply, Option<Body>), HttpError> {
        self.exchange(request, true).await
    }

    async fn exchange(
        &self,
        request: &Request,
        open: bool,
    ) -> Result<(Reply, Option<Body>), HttpError> {
        let url = format!("{}{}", self.base, request.path);
        let endpoint = (self.endpoints.as_ref()).map(|e| e.limiter(&request.method, &request.path));
        // Each bucket that paces this request learns its latency and its 429s.
        let limiters = || std::iter::once(&self.limiter).chain(&endpoint);
        let (mut attempt, mut renewed) = (0, false);
        loop {
            attempt += 1;
            if let Some(endpoint) = &endpoint {
                endpoint.acquire().await;
            }
            self.limiter.acquire().await;
            let (turn, waited) = self.pacer.wait().await;
            if waited {
                self.meter.record(ApiEvent::Throttled(Throttle::LowBudget));
            }
            let mut builder = self
                .http
                .request(request.method.clone(), &url)
                .headers(self.headers.clone());
            let credentials = match &self.auth {
                Some(auth) => Some(auth.credentials().await.map_err(HttpError::Auth)?),
                None => None,
            };
            if let Some(value) = &credentials {
                builder = builder.header(AUTHORIZATION, value.clone());
            }
            if open {
                // The body is read as the caller takes it, which may wait on its writes.
                builder = builder.timeout(OPEN_TIMEOUT);
            }
            if let Some((content_type, body)) = &request.body {
                builder = builder
                    .header(CONTENT_TYPE, content_type.clone())
                    .body(body.clone());
            }
            let started = tokio::time::Instant::now();
            let failure = match builder.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    // Owned: reading the body consumes the response.
                    let headers = response.headers().clone();
                    let (date, hints) = retry::read(&headers, self.should_retry_header.as_ref());
                    if let Some(budget) = self.budget.and_then(|read| read(&headers)) {
                        self.meter.record(ApiEvent::Budget(budget));
                        self.pacer.observe(budget, turn).await;
                    }
                    if let Some((read, share)) = &self.daily {
                        if let Some(daily) = read(&headers) {
                            share.observe(daily);
                        }
                    }
                    if open && status < 400 {
                        let latency = started.elapsed();
                        limiters().for_each(|l| l.observe(latency));
                        self.meter.record(ApiEvent::Answered { status, latency });
                        let reply = Reply {
                            status,
                            body: Bytes::new(),
                            date,
                            hints,
                            headers,
                        };
                        return Ok((reply, Some(body(response))));
                    }
                    match response.bytes().await {
                        Ok(body) => {
                            if status == 401 && !renewed {
                                if let (Some(auth), Some(sent)) = (&self.auth, &credentials) {
                                    renewed = auth.refused(sent).await.map_err(HttpError::Auth)?;
                                    if renewed {
                                        attempt -= 1; // a renewal is not a failed attempt
                                        continue;
                                    }
                                }
                            }
                            // The sync's concurrency follows latency; a 429 slows all of it.
                            let latency = started.elapsed();
                            limiters().for_each(|l| l.observe(latency));
                            self.meter.record(ApiEvent::Answered { status, latency });
                            if status == 429 {
                                self.meter
                                    .record(ApiEvent::Throttled(Throttle::TooManyRequests));
                                limiters().for_each(|l| l.slow_down(hints.retry_after));
                            }
                            let reply = Reply {
                                status,
                                body,
                                date,
                                hints,
                                headers,
                            };
                            if status < 400 {
                                return Ok((reply, None));
                            }
                            match retry_in_place(Some(status), hints, attempt, jitter()) {
                                Some(wait) => {
                                    tracing::debug!(status, attempt, "retrying");
                                    self.meter.record(ApiEvent::Retried);
                                    tokio::time::sleep(wait).await;
                                    continue;
                                }
                                None => return Ok((reply, None)),
                            }
                        }
                        Err(e) => describe(e), // the answer was cut off
                    }
                }
                Err(e) => describe(e),
            };
            self.meter.record(ApiEvent::Unanswered {
                latency: started.elapsed(),
            });
            match retry_in_place(None, ServerWord::default(), attempt, jitter()) {
                Some(wait) => {
                    tracing::debug!(error = %failure, attempt, "request failed; retrying");
                    self.meter.record(ApiEvent::Retried);
                    tokio::time::sleep(wait).await;
                }
                None => return Err(HttpError::Unreachable(failure)),
            }
        }
    }
}

/// How long an answer opened by [`HttpClient::open`] may take to be read to its end: its
/// reader waits while what it read is written, so longer than a request's 60 s.
const OPEN_TIMEOUT: Duration = Duration::from_secs(600);

/// An answer's body as it arrives, piece by piece; an error in plain words if it is cut
/// off.
pub type Body = Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send>>;

fn body(response: reqwest::Response) -> Body {
    Box::pin(futures_util::stream::unfold(
        Some(response),
        |response| async move {
            let mut response = response?;
            match response.chunk().await {
                Ok(Some(bytes)) => Some((Ok(bytes), Some(response))),
                Ok(None) => None,
                Err(e) => Some((Err(describe(e)), None)),
            }
        },
    ))
}

/// The error and its causes, without the URL's query (which may name ids).
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn jitter() -> f64 {
    let mut b = [0u8; 1];
    match getrandom::fill(&mut b) {
        Ok(()) => f64::from(b[0]) / 255.0,
        Err(_) => 1.0,
    }
}
