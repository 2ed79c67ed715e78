//! Talking to the org: log in ([`super::login`]), then call the `instance_url` the login
//! named, on the sync's request rate, paced by `Sforce-Limit-Info` and within the sync's
//! share of the org's daily allocation ([`DailyShare`]). Salesforce's errors are a JSON
//! array of `{message, errorCode}`; each becomes a source error that says what to do. The
//! daily allocation running out is a 403 `REQUEST_LIMIT_EXCEEDED`, not a 429: the request
//! waits and is sent again, however long the org stays spent.

use std::sync::Arc;

use inlet_core::{ErrorKind, SourceError};
use serde_json::Value;
use tokio::sync::{OnceCell, Semaphore};

use super::login::Login;
use crate::http::{
    budget, Body, DailyShare, HttpClient, Meter, RateLimiter, Reasons, Reply, Request,
};
use crate::json;

/// The REST API version every path names.
pub const API_VERSION: &str = "v62.0";

#[derive(Debug)]
pub struct SalesforceClient {
    login: Arc<Login>,
    limiter: Arc<RateLimiter>,
    meter: Meter,
    share: Arc<DailyShare>,
    /// Requests in flight at once: Salesforce limits an org's long-running requests (25,
    /// 5 in a developer org), shared by every integration.
    slots: Semaphore,
    most: usize,
    /// Built at the first call, once the login has named the instance.
    http: OnceCell<HttpClient>,
}

/// Why the sync waits, as `inlet sync status` says it.
pub const REASONS: Reasons = Reasons {
    spent: "this sync used its share of the org's daily API allocation (api_share); it goes \
            on when its day turns",
    // Salesforce's day is rolling: an org with none left is the share's pause.
    empty: "the org's daily API allocation, shared by every integration, has none left; the \
            sync asks again then",
    refused: "Salesforce refused calls with REQUEST_LIMIT_EXCEEDED: the org's daily API \
              allocation, shared by every integration, is spent (or too many long requests \
              run at once); the sync asks again then",
};

impl SalesforceClient {
    /// `rate`: requests per second this sync may send, at most `most` at once; `share`:
    /// its part of the org's daily allocation.
    pub fn new(
        login: Arc<Login>,
        rate: f64,
        most: usize,
        meter: Meter,
        share: DailyShare,
    ) -> SalesforceClient {
        let most = most.max(1);
        SalesforceClient {
            login,
            limiter: Arc::new(RateLimiter::new(rate, rate.ceil().max(1.0) as u32)),
            meter,
            share: Arc::new(share),
            slots: Semaphore::new(most),
            most,
            http: OnceCell::new(),
        }
    }

    /// Requests the sync may have in flight now (a partitioned backfill's share).
    pub fn in_flight(&self) -> usize {
        self.limiter.in_flight().min(self.most)
    }

    async fn http(&self) -> Result<&HttpClient, SourceError> {
        self.http
            .get_or_try_init(|| async {
                let instance = self.login.instance_url().await?;
                let http = HttpClient::new(&instance, self.limiter.clone())
                    .map_err(|e| e.into_source_error("Salesforce"))?;
                Ok(http
                    .with_auth(self.login.clone())
                    .with_budget(budget::salesforce)
                    .with_daily(budget::salesforce, self.share.clone())
                    .with_meter(self.meter.clone()))
            })
            .await
    }

    /// `GET path_and_query` (`/services/data/...`), parsed.
    pub async fn get(&self, path_and_query: &str) -> Result<Value, SourceError> {
        let reply = self.send(&Request::get(path_and_query), &[]).await?;
        let path = without_query(path_and_query);
        json::parse(&reply.body)
            .map_err(|e| invalid(path, &format!("the response is not JSON ({e})")))
    }

    /// `GET /services/data/vXX.X/{rest}`.
    pub async fn data(&self, rest: &str) -> Result<Value, SourceError> {
        self.get(&format!("/services/data/{API_VERSION}/{rest}"))
            .await
    }

    /// Every record `soql` selects (`all`: deleted and merged ones too, by queryAll),
    /// following `nextRecordsUrl` until `done`.
    pub async fn query(&self, all: bool, soql: &str) -> Result<Vec<Value>, SourceError> {
        let resource = if all { "queryAll" } else { "query" };
        let q: String = url::form_urlencoded::byte_serialize(soql.as_bytes()).collect();
        let mut page = self.data(&format!("{resource}?q={q}")).await?;
        let mut records = Vec::new();
        loop {
            match page.get_mut("records").map(Value::take) {
                Some(Value::Array(more)) => records.extend(more),
                _ => return Err(invalid(resource, "no records list")),
            }
            if page["done"].as_bool() != Some(false) {
                return Ok(records);
            }
            let next = page["nextRecordsUrl"]
                .as_str()
                .filter(|u| u.starts_with("/services/data/"))
                .ok_or_else(|| invalid(resource, "done is false but there is no nextRecordsUrl"))?
                .to_string();
            page = self.get(&next).await?;
        }
    }

    /// Sends `request` within the sync's daily share and its requests in flight, and hands
    /// back the answer as it is when its status is below 400 or one of `expected`; any
    /// other is an error that says what to do. An org refusing for its daily limit is
    /// asked again later, however long that takes.
    pub async fn send(&self, request: &Request, expected: &[u16]) -> Result<Reply, SourceError> {
        Ok(self.exchange(request, expected, false).await?.0)
    }

    /// As [`SalesforceClient::send`], but a successful answer's body is left to read as it
    /// arrives (a Bulk results chunk, too large to hold whole).
    pub async fn open(
        &self,
        request: &Request,
        expected: &[u16],
    ) -> Result<(Reply, Option<Body>), SourceError> {
        self.exchange(request, expected, true).await
    }

    async fn exchange(
        &self,
        request: &Request,
        expected: &[u16],
        open: bool,
    ) -> Result<(Reply, Option<Body>), SourceError> {
        let http = self.http().await?;
        let send = || async {
            let slot = self.slots.acquire().await;
            let answer = match open {
                true => http.open(request).await,
                false => http.send(request).await.map(|reply| (reply, None)),
            };
            // An opened body is read after: the request no longer runs on Salesforce's side.
            drop(slot);
            answer.map_err(|e| e.into_source_error("Salesforce"))
        };
        let refused = |(reply, _): &(Reply, Option<Body>)| {
            reply.status == 403 && said(reply).0 == "REQUEST_LIMIT_EXCEEDED"
        };
        let (reply, body) = self.share.send(send, refused).await?;
        if reply.status >= 400 && !expected.contains(&reply.status) {
            return Err(error(without_query(request.path()), &reply));
        }
        Ok((reply, body))
    }
}

/// A path as errors name it: without its query, which names record ids and values.
fn without_query(path_and_query: &str) -> &str {
    path_and_query.split('?').next().unwrap_or_default()
}

/// The error code and message of a refusal.
fn said(reply: &Reply) -> (String, String) {
    let body = json::parse(&reply.body).unwrap_or(Value::Null);
    let first = if body.is_array() { &body[0] } else { &body };
    let text = |field: &str, none: &str| first[field].as_str().unwrap_or(none).to_string();
    (
        text("errorCode", "no error code"),
        text("message", "no message"),
    )
}

/// A refusal in words: Salesforce's message and its error code.
pub fn refusal(reply: &Reply) -> String {
    let (code, said) = said(reply);
    format!("{said} ({code})")
}

fn error(path: &str, reply: &Reply) -> SourceError {
    let (code, said) = said(reply);
    let code = code.as_str();
    let status = reply.status;
    let message = format!("Salesforce refused {path} (HTTP {status}, {code}): {said}");
    match (status, code) {
        (401, _) => SourceError::new(ErrorKind::Unauthorized, message).with_fix(
            "the session was refused even after logging in again: check that the integration \
             user is active and has API access",
        ),
        (403, _) => SourceError::new(ErrorKind::Forbidden, message).with_fix(
            "give the integration user the \"API Enabled\" and \"View All Data\" permissions \
             (Setup → Users → Permission Sets)",
        ),
        (400, "INVALID_QUERY_LOCATOR") => SourceError::new(ErrorKind::ServerError, message),
        (500.., _) => SourceError::new(ErrorKind::ServerError, message),
        _ => SourceError::new(ErrorKind::InvalidResponse, message),
    }
}

pub fn invalid(path: &str, what: &str) -> SourceError {
    SourceError::new(
        ErrorKind::InvalidResponse,
        format!("Salesforce's answer to {path} is unusable: {what}"),
    )
}
