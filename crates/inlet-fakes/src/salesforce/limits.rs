//! The org's daily API allocation: every REST call (not the versions list, not OAuth)
//! counts against a rolling 24 hours shared by every client; each answer says
//! `Sforce-Limit-Info: api-usage=USED/MAX`; over it, 403 `REQUEST_LIMIT_EXCEEDED`
//! (Salesforce does not use 429 for this). `/limits` reports the same numbers.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::errors::ApiError;

const DAY: Duration = Duration::from_secs(86_400);

#[derive(Debug)]
pub(crate) struct Allocation {
    /// Calls allowed per rolling 24 hours (a Developer Edition org has 15,000).
    pub daily: u64,
    /// Calls made by other integrations before the fake started (they count too).
    pub used_elsewhere: u64,
    calls: VecDeque<Instant>,
    /// Calls refused because the allocation was spent.
    pub refused: u64,
}

impl Allocation {
    pub fn new(daily: u64) -> Allocation {
        Allocation {
            daily,
            used_elsewhere: 0,
            calls: VecDeque::new(),
            refused: 0,
        }
    }

    pub fn used(&mut self, now: Instant) -> u64 {
        while self
            .calls
            .front()
            .is_some_and(|t| now.duration_since(*t) >= DAY)
        {
            self.calls.pop_front();
        }
        self.calls.len() as u64 + self.used_elsewhere
    }

    /// Counts one call, or refuses it when the allocation is spent; the header value.
    pub fn take(&mut self, now: Instant) -> Result<String, ApiError> {
        if self.used(now) >= self.daily {
            self.refused += 1;
            return Err(ApiError::request_limit());
        }
        self.calls.push_back(now);
        Ok(format!("api-usage={}/{}", self.used(now), self.daily))
    }

    /// `GET /limits` (keys beyond `DailyApiRequests` are not verified, apis.md §3.7).
    pub fn limits(&mut self, now: Instant) -> Value {
        let remaining = self.daily.saturating_sub(self.used(now));
        json!({
            "DailyApiRequests": {"Max": self.daily, "Remaining": remaining},
            "DailyBulkV2QueryJobs": {"Max": 10_000, "Remaining": 10_000},
            "DailyBulkV2QueryFileStorageMB": {"Max": 976_562, "Remaining": 976_562},
            "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
        })
    }
}

/// `GET /limits/recordCount?sObjects=A,B` (API ≥40.0): `{"sObjects": [{"count", "name"}]}`
/// for the objects named (every object without the parameter); a name the org has no
/// object for is left out, not an error. Salesforce's counts are approximate (storage
/// usage, computed now and then); the fake's are exact: its live records.
pub(crate) fn record_counts(store: &super::store::Store, objects: Option<&str>) -> Value {
    let wanted: Option<Vec<&str>> = objects.map(|o| o.split(',').map(str::trim).collect());
    let counts: Vec<Value> = store
        .tables
        .iter()
        .filter(|t| {
            wanted
                .as_ref()
                .is_none_or(|w| w.iter().any(|n| n.eq_ignore_ascii_case(&t.object.name)))
        })
        .map(|t| {
            let live = t
                .records
                .values()
                .filter(|r| r.deleted_ms.is_none())
                .count();
            json!({"count": live, "name": t.object.name})
        })
        .collect();
    json!({ "sObjects": counts })
}
