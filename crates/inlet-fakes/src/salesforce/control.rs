//! The control API under `/_fake/` (JSON in and out; `Authorization: Bearer <the
//! connected app's client secret>`), so the binary is useful on its own: the same
//! operations as the Rust API.
//!
//! ```text
//! POST   /_fake/seed                               {"accounts": 1000} or {"object": "Account", "count": 100000}
//! GET    /_fake/records/{object}                   the truth: live records as a sync holds them
//! GET    /_fake/records/{object}/deleted           ids in the Recycle Bin
//! POST   /_fake/records/{object}                   {field: value, ...}                    create
//! PATCH  /_fake/records/{object}                   {"ids": [...], "fields": {...}}        update, one second
//! PATCH  /_fake/records/{object}/{id}              {field: value, ...}                    update
//! POST   /_fake/records/{object}/{id}/touch                          a system-only change
//! DELETE /_fake/records/{object}/{id}                                to the Recycle Bin
//! POST   /_fake/records/{object}/{id}/undelete
//! POST   /_fake/records/{object}/{id}/purge                          out of the Recycle Bin for good
//! POST   /_fake/records/{object}/{id}/merge        {"losers": [...]}
//! POST   /_fake/fields/{object}                    {"name": "Region__c", "type": "string"}
//! POST   /_fake/delete-log/{object}/trim           {"before": "2026-01-01T00:00:00Z"}
//! POST   /_fake/connected-app/keys                 {"public_key_pem": "-----BEGIN PUBLIC KEY-----..."}
//! POST   /_fake/faults                             {"fail_next": {"count": 3, "status": 503}, "latency_ms": 250,
//!                                                   "drop_next_connections": 1, "expire_sessions": true,
//!                                                   "invalidate_locators": true, "bulk_processing_ms": 500,
//!                                                   "rotate_refresh_tokens": true, "clear": true}
//! POST   /_fake/limits                             {"daily": 15000, "used_elsewhere": 14990}
//! GET    /_fake/stats                              {"requests", "limit_refused", "api_usage", "in_flight_peak", "records": {object: n}}
//! ```

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::knobs;
use crate::serve::control_segments;

use super::errors::{ApiError, SalesforceError};
use super::schema::Kind;
use super::{clock, Shared};

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "INVALID_FIELD", message)
}

fn text(body: &Value, field: &str) -> Result<String, ApiError> {
    body.get(field)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| invalid(format!("{field} is required (a string)")))
}

fn strings(body: &Value, field: &str) -> Result<Vec<String>, ApiError> {
    body.get(field)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .ok_or_else(|| invalid(format!("{field} is required (a list of ids)")))
}

fn fields(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        _ => Err(invalid("the body must be a JSON object of field values")),
    }
}

fn done(result: Result<(), SalesforceError>) -> Result<Value, ApiError> {
    result.map(|()| json!({"ok": true})).map_err(ApiError::from)
}

/// A field type by its describe name, for new custom fields.
pub(crate) fn kind(name: &str) -> Option<Kind> {
    Some(match name {
        "string" => Kind::String,
        "textarea" => Kind::Textarea,
        "picklist" => Kind::Picklist,
        "multipicklist" => Kind::Multipicklist,
        "email" => Kind::Email,
        "phone" => Kind::Phone,
        "url" => Kind::Url,
        "boolean" => Kind::Boolean,
        "double" => Kind::Double,
        "currency" => Kind::Currency,
        "percent" => Kind::Percent,
        "date" => Kind::Date,
        "datetime" => Kind::Datetime,
        "time" => Kind::Time,
        "reference" => Kind::Reference,
        _ => return None,
    })
}

pub(crate) fn handle(
    shared: &Shared,
    method: &str,
    path: &str,
    body: Value,
) -> Result<Value, ApiError> {
    let count = |value: Option<&Value>, name: &str| {
        value
            .map_or(Ok(0), |v| knobs::int(v, name))
            .map_err(invalid)
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX).min(5_000_000))
    };
    match (method, control_segments(path).as_slice()) {
        ("POST", ["seed"]) => match body.get("object").and_then(Value::as_str) {
            Some(object) => {
                let n = count(body.get("count"), "count")?;
                shared.seed_object(object, n)?;
                Ok(json!({"seeded": {object: n}}))
            }
            None => {
                let n = count(body.get("accounts"), "accounts")?;
                shared.seed(n);
                Ok(json!({"seeded_accounts": n}))
            }
        },
        ("GET", ["records", object]) => Ok(Value::Array(shared.records(object)?)),
        ("GET", ["records", object, "deleted"]) => Ok(json!(shared.deleted_ids(object)?)),
        ("POST", ["records", object]) => Ok(json!({"id": shared.create(object, &fields(body)?)?})),
        ("PATCH", ["records", object]) => {
            let ids = strings(&body, "ids")?;
            let values = fields(body.get("fields").cloned().unwrap_or(Value::Null))?;
            let at = shared.update(object, &ids, &values)?;
            Ok(json!({"systemModstamp": clock::datetime(at)}))
        }
        ("PATCH", ["records", object, id]) => {
            shared.update(object, &[id.to_string()], &fields(body)?)?;
            Ok(json!({"ok": true}))
        }
        ("POST", ["records", object, id, "touch"]) => {
            done(shared.change(object, |s, t| s.touch(t, id).map(|_| ())))
        }
        ("DELETE", ["records", object, id]) => done(shared.change(object, |s, t| s.delete(t, id))),
        ("POST", ["records", object, id, "undelete"]) => {
            done(shared.change(object, |s, t| s.undelete(t, id)))
        }
        ("POST", ["records", object, id, "purge"]) => {
            done(shared.change(object, |s, t| s.purge(t, id)))
        }
        ("POST", ["records", object, id, "merge"]) => {
            let losers = strings(&body, "losers")?;
            done(shared.change(object, |s, t| s.merge(t, id, &losers)))
        }
        ("POST", ["fields", object]) => {
            let name = text(&body, "name")?;
            let type_name = text(&body, "type")?;
            let kind = kind(&type_name).ok_or_else(|| {
                invalid(format!(
                    "'{type_name}' is not a field type a custom field can have here"
                ))
            })?;
            done(shared.change(object, |s, t| s.add_field(t, &name, kind)))
        }
        ("POST", ["delete-log", object, "trim"]) => {
            let before = text(&body, "before")?;
            let ms = clock::parse_datetime(&before).ok_or_else(|| {
                invalid(format!("before: '{before}' is not an ISO-8601 datetime"))
            })?;
            done(shared.change(object, |s, t| {
                s.trim_delete_log(t, ms);
                Ok(())
            }))
        }
        ("POST", ["connected-app", "keys"]) => {
            let pem = text(&body, "public_key_pem")?;
            shared.add_jwt_key(&pem).map_err(invalid)?;
            Ok(json!({"ok": true}))
        }
        ("POST", ["faults"]) => {
            set_faults(shared, &fields(body)?)?;
            Ok(json!({"ok": true}))
        }
        ("POST", ["limits"]) => {
            let mut allocation = shared.allocation();
            for (name, value) in &fields(body)? {
                let n = knobs::int(value, name).map_err(invalid)?;
                match name.as_str() {
                    "daily" => allocation.daily = n,
                    "used_elsewhere" => allocation.used_elsewhere = n,
                    other => return Err(invalid(format!("Unknown limit: {other}"))),
                }
            }
            Ok(json!({"ok": true}))
        }
        ("GET", ["stats"]) => {
            let store = shared.read();
            let counts: Map<String, Value> = store
                .tables
                .iter()
                .map(|t| {
                    (
                        t.object.name.clone(),
                        json!(t
                            .records
                            .values()
                            .filter(|r| r.deleted_ms.is_none())
                            .count()),
                    )
                })
                .collect();
            let mut allocation = shared.allocation();
            Ok(json!({
                "requests": shared.requests.load(Ordering::Relaxed),
                "limit_refused": allocation.refused,
                "api_usage": allocation.used(Instant::now()),
                "in_flight_peak": shared.in_flight_peak.load(Ordering::Relaxed),
                "records": counts,
            }))
        }
        _ => Err(ApiError::not_found(format!(
            "no control route {method} {path}"
        ))),
    }
}

fn set_faults(shared: &Shared, knobs: &Map<String, Value>) -> Result<(), ApiError> {
    for (name, value) in knobs {
        if shared.faults.set(name, value).map_err(invalid)? {
            continue;
        }
        let on = || knobs::flag(value, name).map_err(invalid);
        match name.as_str() {
            "expire_sessions" => {
                if on()? {
                    shared.auth().expire_all();
                }
            }
            "invalidate_locators" => {
                if on()? {
                    shared.cursors().invalidate();
                }
            }
            "rotate_refresh_tokens" => shared.auth().rotate_refresh_tokens = on()?,
            "bulk_processing_ms" => {
                shared.jobs().processing =
                    Duration::from_millis(knobs::int(value, name).map_err(invalid)?);
            }
            other => return Err(invalid(format!("Unknown fault knob: {other}"))),
        }
    }
    Ok(())
}
