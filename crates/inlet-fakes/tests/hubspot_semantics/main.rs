//! The fake HubSpot's semantics that a sync depends on, checked over real HTTP: the search
//! cap and indexing lag, many changes in one millisecond, rate budgets and their headers,
//! merges, archive/restore/GDPR delete, OAuth expiry, fault knobs, schema changes and
//! value validation, webhook deliveries.

mod access;
mod records;
mod search;
mod webhooks;

use std::time::Duration;

use inlet_fakes::hubspot::{FakeHubSpot, Limits, MutatorOptions, Options, RESULT_CAP};
use inlet_testkit::wait_until_async;
use serde_json::{json, Value};

const END: i64 = 1_790_000_000_000;

async fn fake(contacts: usize, limits: Limits, lag: Duration) -> FakeHubSpot {
    let hubspot = FakeHubSpot::start(Options {
        seed: 3,
        history_end_ms: Some(END),
        contact_properties: 60,
        limits,
        search_lag: lag,
        ..Options::default()
    })
    .await
    .expect("start the fake");
    hubspot.seed(contacts);
    hubspot
}

fn generous() -> Limits {
    Limits {
        per_ten_seconds: 100_000,
        daily: 10_000_000,
        search_per_second: 100_000,
    }
}

/// One answer: status, headers, JSON body (`Null` when empty).
struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn call(
    hubspot: &FakeHubSpot,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Reply {
    let client = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = client
        .request(method, format!("{}{path}", hubspot.url()))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("the fake answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("JSON body")
    };
    Reply {
        status,
        headers,
        body,
    }
}

async fn get(hubspot: &FakeHubSpot, path: &str) -> Reply {
    call(hubspot, &hubspot.access_token(), "GET", path, None).await
}

async fn post(hubspot: &FakeHubSpot, path: &str, body: Value) -> Reply {
    call(hubspot, &hubspot.access_token(), "POST", path, Some(body)).await
}

fn ids(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect()
}

fn header(reply: &Reply, name: &str) -> Option<String> {
    reply
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}
