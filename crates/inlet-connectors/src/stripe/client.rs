//! Talking to Stripe: auth, the pinned API version, lists, and errors that say what to do.

use std::sync::Arc;
use std::time::Duration;

use inlet_core::{ErrorKind, SourceError};
use serde_json::{Map, Value};

use crate::http::{
    header, BadHeaderValue, EndpointLimits, HttpClient, Meter, RateLimiter, Reply, StaticKey,
};
use crate::json;

/// The API version inlet is written against, sent with every request unless configured.
pub const DEFAULT_STRIPE_VERSION: &str = "2026-08-26.dahlia";

#[derive(Clone, Debug)]
pub struct StripeClient {
    http: HttpClient,
    /// The key as it may be shown: its prefix and last four characters.
    key_hint: String,
}

/// One page of a list.
#[derive(Debug)]
pub struct Page {
    pub data: Vec<Map<String, Value>>,
    pub has_more: bool,
    /// Stripe's clock when it answered (Unix seconds).
    pub date: i64,
}

/// A failed call: a source error, or the list cursor (`starting_after`/`ending_before`)
/// naming an object that is gone, which callers recover from.
#[derive(Debug)]
pub enum CallError {
    Source(SourceError),
    CursorMissing,
    /// 404: the object the path names does not exist (any more).
    Missing(SourceError),
}

impl From<SourceError> for CallError {
    fn from(e: SourceError) -> Self {
        CallError::Source(e)
    }
}

impl StripeClient {
    pub fn new(
        api_base: &str,
        api_key: &str,
        version: &str,
        limiter: Arc<RateLimiter>,
    ) -> Result<Self, SourceError> {
        let bad_header = |e: BadHeaderValue| {
            SourceError::new(ErrorKind::Unauthorized, e.to_string()).with_fix(
                "check the API key and the configured Stripe-Version for stray characters",
            )
        };
        let key = StaticKey::bearer(api_key).map_err(bad_header)?;
        let version = header(version).map_err(bad_header)?;
        let http = HttpClient::new(api_base, limiter)
            .map_err(|e| e.into_source_error("Stripe"))?
            .with_auth(Arc::new(key))
            .with_header("stripe-version", version)
            .with_should_retry_header("stripe-should-retry");
        Ok(StripeClient {
            http,
            key_hint: key_hint(api_key),
        })
    }

    /// The sync's meter, told of every request.
    pub fn with_meter(mut self, meter: Meter) -> Self {
        self.http = self.http.with_meter(meter);
        self
    }

    /// At most `rate` requests a second to each endpoint, as Stripe counts them
    /// ([`endpoint`]).
    pub fn with_endpoint_limit(mut self, rate: f64) -> Self {
        let limits = Arc::new(EndpointLimits::new(rate, endpoint));
        self.http = self.http.with_endpoint_limits(limits);
        self
    }

    /// Requests to keep in flight to `GET path`'s endpoint, where endpoints are limited.
    pub fn endpoint_in_flight(&self, path: &str) -> Option<usize> {
        self.http.endpoint_in_flight(path)
    }

    /// `GET path?params` of a list endpoint.
    pub async fn list(&self, path: &str, params: &[(&str, String)]) -> Result<Page, CallError> {
        let query: String = params
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = if query.is_empty() {
            path.to_string()
        } else {
            format!("{path}{sep}{query}")
        };
        let (body, date) = self.get(&url).await?;
        let Value::Object(mut list) = body else {
            return Err(invalid(path, "the list is not an object").into());
        };
        let has_more = list
            .get("has_more")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let data = match list.remove("data") {
            Some(Value::Array(items)) => items
                .into_iter()
                .filter_map(|item| match item {
                    Value::Object(o) if o.get("id").is_some_and(Value::is_string) => Some(o),
                    other => {
                        tracing::warn!(
                            path,
                            kind = kind_of(&other),
                            "skipped a list item without an id"
                        );
                        None
                    }
                })
                .collect(),
            _ => return Err(invalid(path, "the list has no data array").into()),
        };
        Ok(Page {
            data,
            has_more,
            date,
        })
    }

    /// `GET path_and_query`: the parsed body and Stripe's clock.
    pub async fn get(&self, path_and_query: &str) -> Result<(Value, i64), CallError> {
        let path = path_and_query.split('?').next().unwrap_or_default();
        let reply =
            (self.http.get(path_and_query).await).map_err(|e| e.into_source_error("Stripe"))?;
        let date = reply.date.unwrap_or_else(now);
        if reply.status >= 400 {
            return Err(self.error(path, &reply));
        }
        let body = json::parse(&reply.body)
            .map_err(|e| invalid(path, &format!("the response is not JSON ({e})")))?;
        Ok((body, date))
    }

    fn error(&self, path: &str, reply: &Reply) -> CallError {
        let body = json::parse(&reply.body).unwrap_or(Value::Null);
        let err = &body["error"];
        let message = err["message"].as_str().unwrap_or("no message").to_string();
        let cursor_param = matches!(
            err["param"].as_str(),
            Some("starting_after" | "ending_before")
        );
        if reply.status == 400 && err["code"] == "resource_missing" && cursor_param {
            return CallError::CursorMissing;
        }
        let key = &self.key_hint;
        let e = match reply.status {
            401 => SourceError::new(
                ErrorKind::Unauthorized,
                format!("Stripe refused the API key {key}: {message}"),
            )
            .with_fix(
                "create or copy a secret (sk_) or restricted (rk_) key in the Stripe dashboard \
                 (Developers → API keys) and store it: set STRIPE_API_KEY, or `inlet sync add` again",
            ),
            403 => SourceError::new(
                ErrorKind::Forbidden,
                format!("the API key {key} may not read {path}: {message}"),
            )
            .with_fix(
                "give the restricted key read access to this resource in the Stripe dashboard \
                 (Developers → API keys → edit key); the other streams keep syncing",
            ),
            429 => {
                let mut e = SourceError::new(ErrorKind::RateLimited, format!("Stripe is rate limiting {path}: {message}"));
                e.retry_after = reply.hints.retry_after.or(Some(Duration::from_secs(1)));
                e
            }
            500.. => SourceError::new(
                ErrorKind::ServerError,
                format!("Stripe failed on {path} (HTTP {}): {message}", reply.status),
            ),
            status => SourceError::new(
                ErrorKind::InvalidResponse,
                format!("Stripe refused a request to {path} (HTTP {status}): {message}"),
            ),
        };
        if reply.status == 404 {
            return CallError::Missing(e);
        }
        CallError::Source(e)
    }
}

/// `sk_test_…wxyz`: enough to tell keys apart, never enough to use one.
pub fn key_hint(key: &str) -> String {
    let prefix: String = key.split_inclusive('_').take(2).collect();
    let prefix = if prefix.len() < key.len() && prefix.len() <= 8 {
        prefix
    } else {
        String::new()
    };
    let last: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if key.chars().count() < 12 {
        return format!("{prefix}…");
    }
    format!("{prefix}…{last}")
}

fn invalid(path: &str, what: &str) -> SourceError {
    SourceError::new(
        ErrorKind::InvalidResponse,
        format!("Stripe's answer to {path} is unusable: {what}"),
    )
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        _ => "scalar",
    }
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The endpoint Stripe counts a request against: each named operation is one, whatever
/// the ids in its path (`GET /v1/customers/{id}/payment_methods`). An id is a segment with
/// a character no resource name has (Stripe's names are lowercase words and `_`; its ids
/// carry digits and capitals), after the version.
fn endpoint(method: &reqwest::Method, path: &str) -> String {
    let named: Vec<&str> = (path.split('/').enumerate())
        .map(|(i, segment)| {
            let name = segment.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
            if i <= 1 || name {
                segment
            } else {
                "{id}"
            }
        })
        .collect();
    format!("{method} {}", named.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_is_a_method_and_a_path_without_its_ids() {
        let get = |path| endpoint(&reqwest::Method::GET, path);
        let pm = "GET /v1/customers/{id}/payment_methods";
        assert_eq!(get("/v1/customers/cus_NffrFeUfNV2Hib/payment_methods"), pm);
        assert_eq!(get("/v1/customers/cus_9s6XKzkNRiz8i3/payment_methods"), pm);
        assert_eq!(get("/v1/customers"), "GET /v1/customers");
        assert_eq!(
            get("/v1/invoices/in_1MtHbELkdIwHu7ixl4OzzPMv/lines"),
            "GET /v1/invoices/{id}/lines"
        );
        assert_eq!(
            get("/v1/checkout/sessions/cs_test_a1b2/line_items"),
            "GET /v1/checkout/sessions/{id}/line_items"
        );
        assert_eq!(
            endpoint(&reqwest::Method::POST, "/v1/customers"),
            "POST /v1/customers"
        );
    }

    #[test]
    fn key_hints_show_the_kind_of_key_and_never_the_secret() {
        assert_eq!(
            key_hint("sk_test_51Habcdefghijklmnopqrstuvwxyz"),
            "sk_test_…wxyz"
        );
        assert_eq!(
            key_hint("rk_live_51Habcdefghijklmnopqrst1234"),
            "rk_live_…1234"
        );
        assert_eq!(key_hint("short"), "…");
        assert_eq!(key_hint("whatever_this_is_not_a_key_0000"), "…0000");
    }
}
