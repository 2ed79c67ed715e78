//! `/metrics`: what `inlet run` is doing, in the Prometheus exposition format (OpenMetrics
//! text, which Prometheus reads), through the Prometheus project's own client crate.
//!
//! Per stream (`sync`, `stream` labels): rows written by operation, batches and how long
//! their writes took, rows rejected and values spilled to `_sync_extra`, backfill progress
//! (share, partitions), lag and state. Per sync: API requests by status class, throttling,
//! retries, request latency, the vendor's remaining budget (where it reports one), and the
//! sync's state here. Per process: syncs owned and database sessions open.
//!
//! Counters count from this process's start; the sink's observer ([`crate::observer`]) and the
//! HTTP scaffold's meter ([`SyncApi`]) feed them as things happen. Gauges that follow the
//! clock (lag) or another part's state (syncs, sessions) are read when scraped.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use inlet_connectors::http::{ApiEvent, ApiMeter, ApiUsage, Meter};
use inlet_core::Stage;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use tokio::sync::watch;

use crate::readiness::{Readiness, SyncState};

/// What `/metrics` answers with, as its `Content-Type`.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct SyncLabel {
    pub sync: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct StreamLabel {
    pub sync: String,
    pub stream: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RowLabel {
    pub sync: String,
    pub stream: String,
    /// `insert`, `update` or `delete`.
    pub op: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabel {
    sync: String,
    stream: String,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassLabel {
    sync: String,
    /// `2xx` ... `5xx`, or `unanswered` (no answer came back).
    class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ThrottleLabel {
    sync: String,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SyncStateLabel {
    sync: String,
    state: &'static str,
}

type FloatGauge = Gauge<f64, AtomicU64>;
type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every metric of the process; cheap to clone (one registry, shared).
#[derive(Clone, Debug)]
pub struct Metrics(Arc<Families>);

#[derive(Debug)]
struct Families {
    registry: Registry,
    rows_written: Family<RowLabel, Counter>,
    batches: Family<StreamLabel, Counter>,
    batch_seconds: Histograms<StreamLabel>,
    rows_rejected: Family<StreamLabel, Counter>,
    extra_values: Family<StreamLabel, Counter>,
    backfill_ratio: Family<StreamLabel, FloatGauge>,
    partitions_done: Family<StreamLabel, Gauge>,
    partitions: Family<StreamLabel, Gauge>,
    lag_seconds: Family<StreamLabel, FloatGauge>,
    stream_state: Family<StageLabel, Gauge>,
    api_requests: Family<ClassLabel, Counter>,
    api_throttled: Family<ThrottleLabel, Counter>,
    api_retries: Family<SyncLabel, Counter>,
    api_seconds: Histograms<SyncLabel>,
    api_budget_remaining: Family<SyncLabel, Gauge>,
    api_budget_limit: Family<SyncLabel, Gauge>,
    api_calls_today: Family<SyncLabel, Gauge>,
    sync_state: Family<SyncStateLabel, Gauge>,
    syncs_owned: Gauge,
    db_sessions: Gauge,
    /// Each stream's last known complete time (Unix seconds): its lag is read from the
    /// clock when scraped, so it grows while nothing arrives.
    complete_until: Mutex<HashMap<StreamLabel, i64>>,
    /// Each sync's last reported daily API usage, for its writer to `_sync_api`.
    usage: Mutex<HashMap<String, watch::Sender<Option<ApiUsage>>>>,
    /// Each sync's day as `_sync_api` had it when the sync was opened, for its source to
    /// resume.
    earlier: Mutex<HashMap<String, ApiUsage>>,
}

/// Batch writes: 5 ms to about 80 s.
fn batch_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

/// API requests: 10 ms to about 40 s.
fn api_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.0, 13))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("inlet");
        let f = Families {
            rows_written: Family::default(),
            batches: Family::default(),
            batch_seconds: Family::new_with_constructor(batch_histogram),
            rows_rejected: Family::default(),
            extra_values: Family::default(),
            backfill_ratio: Family::default(),
            partitions_done: Family::default(),
            partitions: Family::default(),
            lag_seconds: Family::default(),
            stream_state: Family::default(),
            api_requests: Family::default(),
            api_throttled: Family::default(),
            api_retries: Family::default(),
            api_seconds: Family::new_with_constructor(api_histogram),
            api_budget_remaining: Family::default(),
            api_budget_limit: Family::default(),
            api_calls_today: Family::default(),
            sync_state: Family::default(),
            syncs_owned: Gauge::default(),
            db_sessions: Gauge::default(),
            complete_until: Mutex::default(),
            usage: Mutex::default(),
            earlier: Mutex::default(),
            registry: Registry::default(), // replaced below, once everything is registered
        };
        let r = &mut registry;
        r.register(
            "rows_written",
            "Rows written to the destination by operation (insert, update, delete)",
            f.rows_written.clone(),
        );
        r.register(
            "batches_written",
            "Batches committed (each with its checkpoint)",
            f.batches.clone(),
        );
        r.register_with_unit(
            "batch_write_duration",
            "Time to write and commit one batch",
            Unit::Seconds,
            f.batch_seconds.clone(),
        );
        r.register(
            "rows_rejected",
            "Records no row can hold, kept in _sync_rejected instead",
            f.rows_rejected.clone(),
        );
        r.register(
            "extra_values",
            "Values that did not fit their column, kept in _sync_extra",
            f.extra_values.clone(),
        );
        r.register(
            "backfill_progress_ratio",
            "The source's estimate of how much of the backfill is done, 0 to 1 (1 once live)",
            f.backfill_ratio.clone(),
        );
        r.register(
            "backfill_partitions_done",
            "Partitions of a partitioned backfill that are complete",
            f.partitions_done.clone(),
        );
        r.register(
            "backfill_partitions",
            "Partitions of a partitioned backfill, in all so far",
            f.partitions.clone(),
        );
        r.register_with_unit(
            "stream_lag",
            "Time since the stream was last known to hold every change",
            Unit::Seconds,
            f.lag_seconds.clone(),
        );
        r.register(
            "stream_state",
            "1 for the stream's state (pending, backfilling, live, errored), 0 for the others",
            f.stream_state.clone(),
        );
        r.register(
            "api_requests",
            "API requests by status class (2xx..5xx, or unanswered), every attempt",
            f.api_requests.clone(),
        );
        r.register(
            "api_throttled",
            "Requests held back by the API's limits (too_many_requests: a 429; low_budget: paced by the vendor's budget headers)",
            f.api_throttled.clone(),
        );
        r.register(
            "api_retries",
            "Requests sent again after a failure",
            f.api_retries.clone(),
        );
        r.register_with_unit(
            "api_request_duration",
            "Time from sending an API request to its last byte",
            Unit::Seconds,
            f.api_seconds.clone(),
        );
        r.register(
            "api_budget_remaining",
            "Requests left in the vendor's budget window, as it last reported",
            f.api_budget_remaining.clone(),
        );
        r.register(
            "api_budget_limit",
            "The vendor's whole budget per window, as it last reported",
            f.api_budget_limit.clone(),
        );
        r.register(
            "api_calls_today",
            "API calls the sync used in its current day, where its source keeps a daily budget",
            f.api_calls_today.clone(),
        );
        r.register(
            "sync_state",
            "1 for the sync's state in this process (running, standing_by, not_connected, needs_person), 0 for the others",
            f.sync_state.clone(),
        );
        r.register(
            "syncs_owned",
            "Syncs this process holds the lock of and runs",
            f.syncs_owned.clone(),
        );
        r.register(
            "database_connections",
            "Database sessions this process has open",
            f.db_sessions.clone(),
        );
        Metrics(Arc::new(Families { registry, ..f }))
    }
}

impl Metrics {
    /// The exposition, with the gauges read from the clock and the run loop's state now.
    pub fn render(&self, readiness: &Readiness) -> String {
        let f = &self.0;
        let now = unix_now();
        for (labels, until) in f
            .complete_until
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let lag = (now - *until as f64).max(0.0);
            f.lag_seconds.get_or_create(labels).set(lag);
        }
        let mut owned = 0;
        for (sync, state) in readiness.syncs() {
            owned += i64::from(state == SyncState::Running);
            for name in SyncState::NAMES {
                let labels = SyncStateLabel {
                    sync: sync.clone(),
                    state: name,
                };
                f.sync_state
                    .get_or_create(&labels)
                    .set(i64::from(name == state.as_str()));
            }
        }
        f.syncs_owned.set(owned);
        f.db_sessions.set(inlet_postgres::open_sessions());
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &f.registry);
        text
    }

    /// The meter the sync's HTTP requests report to.
    pub fn api_meter(&self, sync: &str) -> Meter {
        Meter(Some(Arc::new(SyncApi {
            metrics: self.clone(),
            sync: sync.to_string(),
        })))
    }

    /// What `sync`'s source reports of its daily API usage, as it changes (`None` until
    /// it first reports; sources without a daily budget never do).
    pub fn usage(&self, sync: &str) -> watch::Receiver<Option<ApiUsage>> {
        let mut map = self.0.usage.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(sync.to_string())
            .or_insert_with(|| watch::channel(None).0)
            .subscribe()
    }

    /// A batch of `stream` committed (the sink's observer).
    pub(crate) fn wrote(
        &self,
        at: &StreamLabel,
        stats: &inlet_postgres::writer::WriteStats,
        took: std::time::Duration,
    ) {
        let f = &self.0;
        for (op, n) in [
            ("insert", stats.inserted),
            ("update", stats.updated),
            ("delete", stats.deleted),
        ] {
            let labels = RowLabel {
                sync: at.sync.clone(),
                stream: at.stream.clone(),
                op,
            };
            f.rows_written.get_or_create(&labels).inc_by(count(n));
        }
        f.batches.get_or_create(at).inc();
        f.batch_seconds
            .get_or_create(at)
            .observe(took.as_secs_f64());
        f.rows_rejected
            .get_or_create(at)
            .inc_by(count(stats.rejected));
        f.extra_values
            .get_or_create(at)
            .inc_by(count(stats.extra_values));
    }

    /// Where `stream`'s backfill is: its share done, its partitions (done, in all).
    pub(crate) fn backfill(&self, at: &StreamLabel, share: Option<f64>, parts: Option<(u32, u32)>) {
        if let Some(share) = share {
            self.0
                .backfill_ratio
                .get_or_create(at)
                .set(share.clamp(0.0, 1.0));
        }
        if let Some((done, all)) = parts {
            self.0
                .partitions_done
                .get_or_create(at)
                .set(i64::from(done));
            self.0.partitions.get_or_create(at).set(i64::from(all));
        }
    }

    /// `stream` holds every change up to `until` (Unix seconds).
    pub(crate) fn complete_until(&self, at: &StreamLabel, until: i64) {
        let mut map = self
            .0
            .complete_until
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.insert(at.clone(), until);
    }

    pub(crate) fn stage(&self, at: &StreamLabel, stage: Stage) {
        for s in Stage::ALL {
            let labels = StageLabel {
                sync: at.sync.clone(),
                stream: at.stream.clone(),
                state: s.as_str(),
            };
            self.0
                .stream_state
                .get_or_create(&labels)
                .set(i64::from(s == stage));
        }
    }
}

/// One sync's API requests, as its HTTP scaffold reports them.
struct SyncApi {
    metrics: Metrics,
    sync: String,
}

impl ApiMeter for SyncApi {
    fn record(&self, event: ApiEvent) {
        let f = &self.metrics.0;
        let sync = || SyncLabel {
            sync: self.sync.clone(),
        };
        let class = |class| ClassLabel {
            sync: self.sync.clone(),
            class,
        };
        match event {
            ApiEvent::Answered { status, latency } => {
                let name = match status {
                    200..=299 => "2xx",
                    300..=399 => "3xx",
                    400..=499 => "4xx",
                    500..=599 => "5xx",
                    _ => "other",
                };
                f.api_requests.get_or_create(&class(name)).inc();
                f.api_seconds
                    .get_or_create(&sync())
                    .observe(latency.as_secs_f64());
            }
            ApiEvent::Unanswered { latency } => {
                f.api_requests.get_or_create(&class("unanswered")).inc();
                f.api_seconds
                    .get_or_create(&sync())
                    .observe(latency.as_secs_f64());
            }
            ApiEvent::Retried => {
                f.api_retries.get_or_create(&sync()).inc();
            }
            ApiEvent::Throttled(why) => {
                let labels = ThrottleLabel {
                    sync: self.sync.clone(),
                    reason: why.as_str(),
                };
                f.api_throttled.get_or_create(&labels).inc();
            }
            ApiEvent::Budget(budget) => {
                let remaining = i64::try_from(budget.remaining).unwrap_or(i64::MAX);
                f.api_budget_remaining.get_or_create(&sync()).set(remaining);
                if let Some(limit) = budget.limit {
                    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                    f.api_budget_limit.get_or_create(&sync()).set(limit);
                }
            }
            ApiEvent::Usage(usage) => {
                let calls = i64::try_from(usage.calls_today).unwrap_or(i64::MAX);
                f.api_calls_today.get_or_create(&sync()).set(calls);
                let mut map = f.usage.lock().unwrap_or_else(|e| e.into_inner());
                let tx = (map.entry(self.sync.clone())).or_insert_with(|| watch::channel(None).0);
                tx.send_if_modified(|held| {
                    let changed = *held != Some(usage);
                    *held = Some(usage);
                    changed
                });
            }
        }
    }

    fn resume(&self, usage: ApiUsage) {
        let mut map = self
            .metrics
            .0
            .earlier
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.insert(self.sync.clone(), usage);
    }

    fn earlier(&self) -> Option<ApiUsage> {
        let map = self
            .metrics
            .0
            .earlier
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.get(&self.sync).copied()
    }
}

/// A count from the writer's (never negative) totals.
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use inlet_connectors::http::{Budget, Throttle};

    use super::*;

    /// What the scaffold reports for a sync whose vendor sends budget headers (HubSpot,
    /// Salesforce) comes out under the sync's name; Stripe's end-to-end test covers the rest.
    #[test]
    fn a_reported_budget_and_paced_requests_are_exposed() {
        let metrics = Metrics::default();
        let meter = metrics.api_meter("crm");
        meter.record(ApiEvent::Budget(Budget {
            remaining: 42,
            limit: Some(150),
            window: Duration::from_secs(10),
        }));
        meter.record(ApiEvent::Throttled(Throttle::LowBudget));
        meter.record(ApiEvent::Answered {
            status: 503,
            latency: Duration::from_millis(30),
        });
        meter.record(ApiEvent::Unanswered {
            latency: Duration::from_secs(10),
        });
        let text = metrics.render(&Readiness::default());
        for line in [
            "inlet_api_budget_remaining{sync=\"crm\"} 42\n",
            "inlet_api_budget_limit{sync=\"crm\"} 150\n",
            "inlet_api_throttled_total{sync=\"crm\",reason=\"low_budget\"} 1\n",
            "inlet_api_requests_total{sync=\"crm\",class=\"5xx\"} 1\n",
            "inlet_api_requests_total{sync=\"crm\",class=\"unanswered\"} 1\n",
            "inlet_api_request_duration_seconds_count{sync=\"crm\"} 2\n",
        ] {
            assert!(text.contains(line), "{line} in:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
