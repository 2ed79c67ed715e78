//! What the scaffold tells about a sync's requests as they happen, for its metrics: each
//! answer (status and latency), each request that got no answer, each retry, each time the
//! API held the sync back, and the budget the vendor reports. The runtime hands one
//! [`ApiMeter`] per sync to the source through its settings; a connector passes it to its
//! [`HttpClient`](super::HttpClient)s and reports nothing itself, except a source that
//! keeps a daily API budget of its own, which reports the calls it used today and whether
//! it is paused ([`ApiUsage`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::Budget;

/// Why a request was held back by the API's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Throttle {
    /// The API answered 429 Too Many Requests.
    TooManyRequests,
    /// The vendor's budget headers said little is left, so the request waited its turn.
    LowBudget,
}

impl Throttle {
    pub fn as_str(self) -> &'static str {
        match self {
            Throttle::TooManyRequests => "too_many_requests",
            Throttle::LowBudget => "low_budget",
        }
    }
}

/// One thing that happened to a request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ApiEvent {
    /// An answer came back (every attempt, retried or not).
    Answered {
        status: u16,
        latency: Duration,
    },
    /// No answer came back: the server could not be reached or the answer was cut off.
    Unanswered {
        latency: Duration,
    },
    /// The request is sent again (after a failure the retry policy allows).
    Retried,
    Throttled(Throttle),
    /// The vendor's word on what is left of the budget.
    Budget(Budget),
    /// A source keeping a daily budget: what it used today, and whether it waits.
    Usage(ApiUsage),
}

/// The API calls a sync used in its current day, and its pause, if its budget holds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApiUsage {
    pub calls_today: u64,
    pub paused: Option<Paused>,
    /// The day those calls count in, once the source knows it.
    pub day: Option<ApiDay>,
}

/// A sync's day of its daily budget: when it ends (Unix seconds) and the calls it allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiDay {
    pub ends: i64,
    pub calls: u64,
}

/// Why a sync's calls wait, and until when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Paused {
    /// When the calls go again (or the account is asked again), in Unix seconds.
    pub until: i64,
    /// Why, in plain words, for `inlet sync status`.
    pub reason: &'static str,
}

/// Told of every request of one sync.
pub trait ApiMeter: Send + Sync {
    fn record(&self, event: ApiEvent);

    /// The runtime read what the sync last reported of its daily budget (in an earlier
    /// run, or on another worker) before the source sends anything.
    fn resume(&self, _usage: ApiUsage) {}

    /// What [`ApiMeter::resume`] was told: a source keeping a daily budget resumes that
    /// day instead of beginning a fresh one.
    fn earlier(&self) -> Option<ApiUsage> {
        None
    }
}

/// An optional meter, as settings and clients hold it (`None` outside `inlet run`).
#[derive(Clone, Default)]
pub struct Meter(pub Option<Arc<dyn ApiMeter>>);

impl Meter {
    pub fn record(&self, event: ApiEvent) {
        if let Some(meter) = &self.0 {
            meter.record(event);
        }
    }

    pub fn resume(&self, usage: ApiUsage) {
        if let Some(meter) = &self.0 {
            meter.resume(usage);
        }
    }

    pub fn earlier(&self) -> Option<ApiUsage> {
        self.0.as_ref().and_then(|m| m.earlier())
    }
}

impl fmt::Debug for Meter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Meter"
        } else {
            "Meter(none)"
        })
    }
}
