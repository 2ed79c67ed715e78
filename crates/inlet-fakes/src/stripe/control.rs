//! The control API under `/_fake/` (JSON in and out, secret key required), so the binary
//! is useful on its own: the same operations as the Rust API.
//!
//! ```text
//! POST   /_fake/seed                    {"customers": 100}
//! GET    /_fake/objects/{stream}        the truth for a stream
//! POST   /_fake/objects/{stream}        {fields...}        create
//! POST   /_fake/objects/{stream}/{id}   {fields...}        update
//! DELETE /_fake/objects/{stream}/{id}                      delete
//! GET    /_fake/events                  every event, oldest first
//! POST   /_fake/webhook_endpoints       {"url": "http://..."}
//! POST   /_fake/faults                  {"fail_next": {"count": 3, "status": 429, "retry_after": 1,
//!                                         "should_retry": true}, "latency_ms": 50,
//!                                         "drop_next_connections": 1, "webhook_duplicate": true,
//!                                         "webhook_reorder": true, "invalidate_cursor_next": true,
//!                                         "expire_events_before": 1700000000, "rate_limit": 100,
//!                                         "endpoint_rate_limit": 25, "clear": true}
//! GET    /_fake/stats                   {"requests": n, "rate_limited": n, "in_flight_peak": n, "objects": {stream: count}}
//! ```

use std::sync::atomic::Ordering;

use serde_json::{json, Map, Value};

use crate::knobs;
use crate::serve::control_segments;

use super::errors::{ApiError, FakeError};
use super::faults::Failure;
use super::stream::Stream;
use super::Shared;

pub(crate) use super::feed::{list_events, retrieve_event};

fn stream(name: &str) -> Result<Stream, ApiError> {
    Stream::from_name(name)
        .ok_or_else(|| ApiError::from(FakeError::UnknownStream(name.to_string())))
}

fn fields(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        _ => Err(ApiError::invalid("The body must be a JSON object.")),
    }
}

pub(crate) fn handle(
    shared: &Shared,
    method: &str,
    path: &str,
    body: Value,
) -> Result<Value, ApiError> {
    match (method, control_segments(path).as_slice()) {
        ("POST", ["seed"]) => {
            let customers = body.get("customers").and_then(Value::as_u64).unwrap_or(0);
            shared.seed(
                usize::try_from(customers)
                    .unwrap_or(usize::MAX)
                    .min(10_000_000),
            );
            Ok(json!({"seeded_customers": customers}))
        }
        ("GET", ["objects", name]) => Ok(Value::Array(shared.objects(stream(name)?))),
        ("POST", ["objects", name]) => {
            Ok(Value::Object(shared.create(stream(name)?, fields(body)?)?))
        }
        ("POST", ["objects", name, id]) => Ok(Value::Object(shared.update(
            stream(name)?,
            id,
            fields(body)?,
        )?)),
        ("DELETE", ["objects", name, id]) => Ok(Value::Object(shared.delete(stream(name)?, id)?)),
        ("GET", ["events"]) => Ok(Value::Array(shared.all_events())),
        ("POST", ["webhook_endpoints"]) => {
            let url = body
                .get("url")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::invalid_param("url", "Missing required param: url."))?;
            shared.add_webhook_endpoint(url);
            Ok(json!({"url": url, "secret": shared.webhooks.secret}))
        }
        ("POST", ["faults"]) => {
            set_faults(shared, &fields(body)?)?;
            Ok(json!({"ok": true}))
        }
        ("GET", ["stats"]) => {
            let store = shared.read();
            let counts: Map<String, Value> = Stream::ALL
                .iter()
                .map(|s| (s.name().to_string(), Value::from(store.table(*s).len())))
                .collect();
            Ok(
                json!({"requests": shared.requests.load(Ordering::Relaxed), "rate_limited": shared.rate_limited.load(Ordering::Relaxed), "in_flight_peak": shared.in_flight_peak.load(Ordering::Relaxed), "objects": counts, "events": store.events.len()}),
            )
        }
        _ => Err(ApiError::unrecognized(method, path)),
    }
}

/// A control API value's error, naming the knob.
fn invalid(name: &str) -> impl Fn(String) -> ApiError + '_ {
    move |message| ApiError::invalid_param(name, message)
}

fn set_faults(shared: &Shared, knobs: &Map<String, Value>) -> Result<(), ApiError> {
    let faults = &shared.faults;
    let int = |v: &Value, name: &str| knobs::int(v, name).map_err(invalid(name));
    let flag = |v: &Value, name: &str| knobs::flag(v, name).map_err(invalid(name));
    // Requests per second, or null to lift the limit.
    let rate = |v: &Value, name: &str| match v {
        Value::Null => Ok(None),
        v => (v.as_f64().filter(|r| *r >= 0.0).map(Some)).ok_or_else(|| {
            ApiError::invalid_param(name, format!("{name} must be requests per second, or null"))
        }),
    };
    for (name, value) in knobs {
        match name.as_str() {
            "clear" if flag(value, name)? => faults.clear(),
            "clear" => {}
            // Stripe's failures may carry its retry headers, so this one is read here.
            "fail_next" => {
                let (count, status) = knobs::fail_next(value).map_err(invalid(name))?;
                let mut failure = Failure::status(status);
                if let Some(seconds) = value.get("retry_after") {
                    failure = failure.retry_after(int(seconds, "fail_next.retry_after")?);
                }
                if let Some(retry) = value.get("should_retry") {
                    failure = failure.should_retry(flag(retry, "fail_next.should_retry")?);
                }
                faults.fail_next_with(count, failure);
            }
            "rate_limit" => faults.rate_limit(rate(value, name)?),
            "endpoint_rate_limit" => faults.endpoint_rate_limit(rate(value, name)?),
            "webhook_duplicate" => faults.webhook_duplicate(flag(value, name)?),
            "webhook_reorder" => faults.webhook_reorder(flag(value, name)?),
            "invalidate_cursor_next" if flag(value, name)? => faults.invalidate_cursor_next(),
            "invalidate_cursor_next" => {}
            "expire_events_before" => {
                faults.expire_events_before(value.as_i64().ok_or_else(|| {
                    ApiError::invalid_param(name, "expire_events_before must be unix seconds")
                })?)
            }
            other => {
                if !faults.set(other, value).map_err(invalid(other))? {
                    return Err(ApiError::invalid_param(
                        other,
                        format!("Unknown fault knob: {other}"),
                    ));
                }
            }
        }
    }
    Ok(())
}
