//! Requests counted by endpoint, so a test or a benchmark can tell how a client read the
//! portal (a backfill by list and by search at once, say), not only how much it asked.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Value};

/// The endpoints counted apart; everything else is `Other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /crm/v3/objects/{type}` of live records.
    List,
    /// `GET /crm/v3/objects/{type}?archived=true`.
    ListArchived,
    /// `POST /crm/v3/objects/{type}/search`.
    Search,
    /// `POST /crm/v3/objects/{type}/batch/read`.
    BatchRead,
    Other,
}

const ENDPOINTS: [Endpoint; 5] = [
    Endpoint::List,
    Endpoint::ListArchived,
    Endpoint::Search,
    Endpoint::BatchRead,
    Endpoint::Other,
];

impl Endpoint {
    /// The endpoint a request is to; `archived`: its `archived` query parameter is true.
    pub(crate) fn of(method: &str, path: &str, archived: bool) -> Endpoint {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match (method, segments.as_slice()) {
            ("GET", ["crm", "v3", "objects", _]) if archived => Endpoint::ListArchived,
            ("GET", ["crm", "v3", "objects", _]) => Endpoint::List,
            ("POST", ["crm", "v3", "objects", _, "search"]) => Endpoint::Search,
            ("POST", ["crm", "v3", "objects", _, "batch", "read"]) => Endpoint::BatchRead,
            _ => Endpoint::Other,
        }
    }

    /// Its name in the control API's stats.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::List => "list",
            Endpoint::ListArchived => "list_archived",
            Endpoint::Search => "search",
            Endpoint::BatchRead => "batch_read",
            Endpoint::Other => "other",
        }
    }

    fn index(self) -> usize {
        ENDPOINTS.iter().position(|e| *e == self).unwrap_or(0)
    }
}

/// Requests so far by endpoint (errors included, as in the total).
#[derive(Debug, Default)]
pub(crate) struct Counts([AtomicU64; ENDPOINTS.len()]);

impl Counts {
    pub fn add(&self, endpoint: Endpoint) {
        self.0[endpoint.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self, endpoint: Endpoint) -> u64 {
        self.0[endpoint.index()].load(Ordering::Relaxed)
    }

    /// Requests to every endpoint.
    pub fn total(&self) -> u64 {
        self.0.iter().map(|n| n.load(Ordering::Relaxed)).sum()
    }

    /// `{"list": n, "search": n, ...}`
    pub fn json(&self) -> Value {
        let map: serde_json::Map<String, Value> = ENDPOINTS
            .iter()
            .map(|e| (e.name().to_string(), json!(self.get(*e))))
            .collect();
        Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_told_apart_by_endpoint() {
        assert_eq!(
            Endpoint::of("GET", "/crm/v3/objects/contacts", false),
            Endpoint::List
        );
        assert_eq!(
            Endpoint::of("GET", "/crm/v3/objects/contacts", true),
            Endpoint::ListArchived
        );
        assert_eq!(
            Endpoint::of("POST", "/crm/v3/objects/0-1/search/", false),
            Endpoint::Search
        );
        assert_eq!(
            Endpoint::of("POST", "/crm/v3/objects/deals/batch/read", false),
            Endpoint::BatchRead
        );
        assert_eq!(
            Endpoint::of("GET", "/crm/v3/objects/contacts/12", false),
            Endpoint::Other
        );
        let counts = Counts::default();
        counts.add(Endpoint::Search);
        counts.add(Endpoint::Search);
        assert_eq!(counts.get(Endpoint::Search), 2);
        assert_eq!(counts.json()["search"], json!(2));
        assert_eq!(counts.json()["list"], json!(0));
        counts.add(Endpoint::Other);
        assert_eq!(counts.total(), 3);
    }
}
