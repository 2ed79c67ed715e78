//! Talking to HubSpot: a bearer token (a private app's, or an OAuth app's renewed access
//! token), two request budgets (search has its own 5 requests/s and no budget headers; every
//! other call shares the 10-second budget its `X-HubSpot-RateLimit-*` headers report), and
//! errors that say what to do, a missing scope by name.
//!
//! Every call but search also takes one of the sync's share of the account's daily limit
//! ([`DailyShare`], fed by `X-HubSpot-RateLimit-Daily-Remaining`): a spent share, or a 429
//! whose `policyName` is `DAILY` (the account's limit, shared by every app, is spent),
//! pauses the calls until the day turns (asking again hourly, as the account's day turns at
//! midnight in its time zone, which inlet does not read); the streams wait, they do not fail.
//! Search takes nothing: HubSpot exempts it from the 10-second limit and does not say
//! whether it counts toward the daily one (reference §2.8); its answers carry no headers.

use std::sync::Arc;
use std::time::Duration;

use inlet_core::{ErrorKind, SourceError};
use serde_json::Value;

use crate::http::{
    budget, Auth, DailyShare, HttpClient, Meter, RateLimiter, Reasons, Reply, Request,
};
use crate::json;

/// Search's own limit: 5 requests a second per account. inlet sends no more than 5 in any
/// 1.05 s, by when its requests went, not by when they were due: at an even 5 a second one
/// sent 100 ms late (a timer fires late) put six in HubSpot's second, and the 429 halved
/// search for 30 s. The 50 ms spare is for requests that reach HubSpot unevenly late; a 429
/// widens it (on a busy machine one did, at 100,000 contacts) rather than halving search.
pub const SEARCH_LIMIT: (u32, Duration) = (5, Duration::from_millis(1050));

/// Why the sync waits, as `inlet sync status` says it.
pub const REASONS: Reasons = Reasons {
    spent: "this sync used its share (api_share) of the HubSpot account's daily API limit; it \
            goes on when its day turns (midnight UTC)",
    empty: "the HubSpot account's daily API limit, which every app of the account shares, \
            has none left for today; the sync asks again every hour until the day turns \
            (midnight in the account's time zone)",
    refused: "HubSpot refused calls for the account's daily API limit (DAILY), which every \
              app of the account shares: it is spent for today; the sync asks again every \
              hour until the day turns (midnight in the account's time zone)",
};

#[derive(Clone, Debug)]
pub struct HubSpotClient {
    /// Everything but search: the 10-second budget, paced by HubSpot's headers.
    api: HttpClient,
    search: HttpClient,
    pub api_limiter: Arc<RateLimiter>,
    pub search_limiter: Arc<RateLimiter>,
    /// The API's base URL, for the length of a request's URL.
    pub base: String,
    /// The sync's share of the account's daily limit (`None`: no limit is kept, as while
    /// `sync add` checks the token).
    daily: Option<Arc<DailyShare>>,
}

/// A failed call: a source error, or a 404 (the thing the path names does not exist).
#[derive(Debug)]
pub enum CallError {
    Source(SourceError),
    Missing(SourceError),
}

impl CallError {
    pub fn into_source(self) -> SourceError {
        match self {
            CallError::Source(e) | CallError::Missing(e) => e,
        }
    }
}

impl From<SourceError> for CallError {
    fn from(e: SourceError) -> Self {
        CallError::Source(e)
    }
}

impl HubSpotClient {
    /// `rate`: requests per second of the 10-second budget this sync may use.
    pub fn new(api_base: &str, auth: Arc<dyn Auth>, rate: f64) -> Result<Self, SourceError> {
        let api_limiter = Arc::new(RateLimiter::new(rate, rate.ceil() as u32));
        let search_limiter = Arc::new(RateLimiter::windowed(SEARCH_LIMIT.0, SEARCH_LIMIT.1));
        let http = |limiter: &Arc<RateLimiter>| {
            HttpClient::new(api_base, limiter.clone())
                .map(|c| c.with_auth(auth.clone()))
                .map_err(|e| e.into_source_error("HubSpot"))
        };
        Ok(HubSpotClient {
            api: http(&api_limiter)?.with_budget(budget::hubspot),
            search: http(&search_limiter)?,
            api_limiter,
            search_limiter,
            base: api_base.trim_end_matches('/').to_string(),
            daily: None,
        })
    }

    /// Every call but search takes one of `share` first, and every answer's daily headers
    /// feed it.
    pub fn with_daily_share(mut self, share: DailyShare) -> Self {
        let share = Arc::new(share);
        self.api = self.api.with_daily(budget::hubspot_daily, share.clone());
        self.daily = Some(share);
        self
    }

    /// Whether requests on the 10-second budget wait for it longer than a round trip: the
    /// window is spent, and a page asked of the list now is read late.
    pub fn list_waits(&self) -> bool {
        self.api.budget_wait() > self.api_limiter.latency()
    }

    /// Tells `meter` of every request, search's included.
    pub fn with_meter(mut self, meter: Meter) -> Self {
        self.api = self.api.with_meter(meter.clone());
        self.search = self.search.with_meter(meter);
        self
    }

    /// `GET path_and_query`, parsed.
    pub async fn get(&self, path_and_query: &str) -> Result<Value, CallError> {
        self.send(false, &Request::get(path_and_query)).await
    }

    /// One page of a type's list (`archived`: only archived records), with no property but
    /// the id asked for: its results and the cursor of the next page (`None`: the last).
    pub async fn list_page(
        &self,
        object: &str,
        archived: bool,
        after: Option<&str>,
    ) -> Result<(Vec<Value>, Option<String>), SourceError> {
        self.list(object, archived, "hs_object_id", after).await
    }

    /// One page of a type's list with `properties` (names, comma-separated, each already
    /// fit for a query string): its results and the cursor of the next page (`None`: the
    /// last).
    pub async fn list(
        &self,
        object: &str,
        archived: bool,
        properties: &str,
        after: Option<&str>,
    ) -> Result<(Vec<Value>, Option<String>), SourceError> {
        let base = format!("/crm/v3/objects/{object}");
        let mut path = format!("{base}?limit=100&archived={archived}&properties={properties}");
        if let Some(a) = after {
            path.push_str("&after=");
            path.extend(url::form_urlencoded::byte_serialize(a.as_bytes()));
        }
        let mut body = self.get(&path).await.map_err(CallError::into_source)?;
        let next = body["paging"]["next"]["after"].as_str().map(str::to_string);
        match body.get_mut("results").map(Value::take) {
            Some(Value::Array(results)) => Ok((results, next)),
            _ => Err(invalid(&base, "no results list")),
        }
    }

    /// `POST path` with a JSON body (batch reads).
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, CallError> {
        self.send(false, &Request::post(path).json(body)).await
    }

    /// `POST /crm/v3/objects/{object}/search`, on search's own budget.
    pub async fn search(&self, object: &str, body: &Value) -> Result<Value, CallError> {
        let path = format!("/crm/v3/objects/{object}/search");
        self.send(true, &Request::post(path).json(body)).await
    }

    /// Sends `request` on search's budget or the 10-second one, the latter within the
    /// sync's daily share.
    async fn send(&self, search: bool, request: &Request) -> Result<Value, CallError> {
        let path = request.path().to_string();
        let (http, daily) = match search {
            // Search's answers say nothing of the daily limit (see the module).
            true => (&self.search, None),
            false => (&self.api, self.daily.as_ref()),
        };
        let send = || async {
            let reply = http.send(request).await;
            reply.map_err(|e| e.into_source_error("HubSpot"))
        };
        let reply = match daily {
            Some(share) => share.send(send, refused_for_the_day).await?,
            None => send().await?,
        };
        if reply.status >= 400 {
            return Err(error(&path, &reply));
        }
        if reply.body.is_empty() {
            return Ok(Value::Null);
        }
        json::parse(&reply.body)
            .map_err(|e| invalid(&path, &format!("the response is not JSON ({e})")).into())
    }
}

/// Whether HubSpot refused the call for the account's daily limit.
fn refused_for_the_day(reply: &Reply) -> bool {
    reply.status == 429
        && json::parse(&reply.body).is_ok_and(|b: Value| b["policyName"].as_str() == Some("DAILY"))
}

/// The scopes a 403 names (`context.missingScopes`, or `errors[].context.requiredScopes`).
fn missing_scopes(body: &Value) -> Vec<String> {
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut scopes = names(&body["context"]["missingScopes"]);
    if let Some(errors) = body["errors"].as_array() {
        for e in errors {
            for key in ["missingScopes", "requiredScopes", "requiredGranularScopes"] {
                scopes.extend(names(&e["context"][key]));
            }
        }
    }
    scopes.sort();
    scopes.dedup();
    scopes
}

fn error(path: &str, reply: &Reply) -> CallError {
    let body = json::parse(&reply.body).unwrap_or(Value::Null);
    let message = body["message"].as_str().unwrap_or("no message").to_string();
    let e = match reply.status {
        401 => SourceError::new(
            ErrorKind::Unauthorized,
            format!("HubSpot refused the access token: {message}"),
        )
        .with_fix(
            "create a private app in HubSpot (Settings → Integrations → Private Apps) with the \
             crm.objects.*.read and crm.schemas.*.read scopes, and store its token: set \
             HUBSPOT_ACCESS_TOKEN and run `inlet sync add` again",
        ),
        403 => {
            let scopes = missing_scopes(&body);
            let what = if scopes.is_empty() {
                "a scope it lacks".to_string()
            } else {
                format!("the scope {}", scopes.join(", "))
            };
            SourceError::new(
                ErrorKind::Forbidden,
                format!("the access token may not read {path}: it needs {what}"),
            )
            .with_fix(format!(
                "add {what} to the private app (Settings → Integrations → Private Apps → Scopes); \
                 the other streams keep syncing"
            ))
        }
        429 => {
            let policy = body["policyName"].as_str().unwrap_or("a rate limit");
            let mut e = SourceError::new(
                ErrorKind::RateLimited,
                format!("HubSpot is rate limiting {path} ({policy}): {message}"),
            );
            // HubSpot's own clients wait 10 s for the rolling window, 1 s otherwise.
            let wait = match policy {
                "TEN_SECONDLY_ROLLING" => Duration::from_secs(10),
                "DAILY" => Duration::from_secs(300),
                _ => Duration::from_secs(1),
            };
            e.retry_after = reply.hints.retry_after.or(Some(wait));
            e
        }
        500.. => SourceError::new(
            ErrorKind::ServerError,
            format!(
                "HubSpot failed on {path} (HTTP {}): {message}",
                reply.status
            ),
        ),
        status => SourceError::new(
            ErrorKind::InvalidResponse,
            format!("HubSpot refused a request to {path} (HTTP {status}): {message}"),
        ),
    };
    if reply.status == 404 {
        return CallError::Missing(e);
    }
    CallError::Source(e)
}

pub fn invalid(path: &str, what: &str) -> SourceError {
    SourceError::new(
        ErrorKind::InvalidResponse,
        format!("HubSpot's answer to {path} is unusable: {what}"),
    )
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_403_names_the_missing_scopes_wherever_hubspot_puts_them() {
        let body = json!({"context": {"missingScopes": ["tickets"]},
                          "errors": [{"context": {"requiredScopes": ["crm.objects.custom.read", "tickets"]}}]});
        assert_eq!(
            missing_scopes(&body),
            vec!["crm.objects.custom.read".to_string(), "tickets".to_string()]
        );
        assert!(missing_scopes(&json!({})).is_empty());
    }

    #[test]
    fn only_a_429_for_the_daily_policy_is_a_refusal_for_the_day() {
        let reply = |status, body: Value| Reply {
            status,
            body: body.to_string().into(),
            date: None,
            hints: Default::default(),
            headers: Default::default(),
        };
        let daily = json!({"status": "error", "errorType": "RATE_LIMIT", "policyName": "DAILY"});
        assert!(refused_for_the_day(&reply(429, daily.clone())));
        let ten = json!({"policyName": "TEN_SECONDLY_ROLLING"});
        assert!(!refused_for_the_day(&reply(429, ten)));
        assert!(!refused_for_the_day(&reply(429, json!("not an object"))));
        assert!(!refused_for_the_day(&reply(500, daily)));
    }
}
