//! The control API under `/_fake/` (JSON in and out, the private app's token required), so
//! the binary is useful on its own: the same operations as the Rust API.
//!
//! ```text
//! POST   /_fake/seed                              {"contacts": 1000}
//! GET    /_fake/objects/{type}                    the truth: live records, every property
//! GET    /_fake/objects/{type}/archived           archived records
//! POST   /_fake/objects/{type}                    {"properties": {...}}        create
//! PATCH  /_fake/objects/{type}                    {"ids": [...], "properties": {...}}  one ms
//! PATCH  /_fake/objects/{type}/{id}               {"properties": {...}}        update
//! DELETE /_fake/objects/{type}/{id}                                            archive
//! POST   /_fake/objects/{type}/{id}/restore
//! POST   /_fake/objects/{type}/{id}/merge         {"absorb": "ID"}
//! POST   /_fake/gdpr-delete/{contact id}
//! POST   /_fake/revoke-scope                      {"token": "pat-...", "scope": "tickets"}  {"revoked": bool}
//! GET    /_fake/associations/{from}/{to}          the truth: {fromId, toId, typeId, category, label}
//! PUT    /_fake/associations/{from}/{id}/{to}/{id}  {"typeId": 1}  (optional)
//! DELETE /_fake/associations/{from}/{id}/{to}/{id}
//! POST   /_fake/properties/{type}                 {"name", "type", "fieldType", "options": [{"value","label"}]}
//! PATCH  /_fake/properties/{type}/{name}          {"type", "fieldType"}
//! POST   /_fake/faults                            {"fail_next": {"count": 3, "status": 502}, "latency_ms": 250,
//!                                                  "drop_next_connections": 1, "expire_tokens": true, "clear": true,
//!                                                  "list_cursors": "ids" | "opaque" | "offsets"}
//! POST   /_fake/limits                            {"per_ten_seconds": 100, "daily": 250000, "search_per_second": 5,
//!                                                  "search_lag_ms": 2000}
//! POST   /_fake/webhooks                          {"target_url": "https://..."}  every change from now on is
//!                                                  delivered there, signed with the OAuth app's client secret
//! GET    /_fake/stats                             {"requests", "requests_by_endpoint": {"list", "list_archived",
//!                                                  "search", "batch_read", "other"}, "rate_limited", "rate_limited_search",
//!                                                  "objects": {type: count},
//!                                                  "webhook_events_delivered"}
//! ```

use std::sync::atomic::Ordering;

use serde_json::{json, Map, Value};

use crate::knobs;
use crate::serve::control_segments;

use super::errors::{ApiError, HubSpotError};
use super::objects::ListCursors;
use super::Shared;

fn text(body: &Value, field: &str) -> Result<String, ApiError> {
    body.get(field)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| ApiError::validation(format!("{field} is required (a string)")))
}

fn int(value: &Value, name: &str) -> Result<u64, ApiError> {
    knobs::int(value, name).map_err(ApiError::validation)
}

fn props(body: &Value) -> Value {
    body.get("properties").cloned().unwrap_or(Value::Null)
}

fn done<T>(result: Result<T, HubSpotError>) -> Result<Value, ApiError> {
    result.map(|_| json!({"ok": true})).map_err(ApiError::from)
}

pub(crate) fn handle(
    shared: &Shared,
    method: &str,
    path: &str,
    body: Value,
) -> Result<Value, ApiError> {
    match (method, control_segments(path).as_slice()) {
        ("POST", ["seed"]) => {
            let contacts = body.get("contacts").map_or(Ok(0), |v| int(v, "contacts"))?;
            let contacts = usize::try_from(contacts)
                .unwrap_or(usize::MAX)
                .min(5_000_000);
            super::seed::seed(&mut shared.write(), contacts);
            Ok(json!({"seeded_contacts": contacts}))
        }
        ("GET", ["objects", t]) => Ok(Value::Array(shared.objects(t)?)),
        ("GET", ["objects", t, "archived"]) => Ok(Value::Array(shared.archived(t)?)),
        ("POST", ["objects", t]) => Ok(json!({"id": shared.create(t, props(&body))?})),
        ("PATCH", ["objects", t]) => {
            let ids: Vec<String> = body
                .get("ids")
                .and_then(Value::as_array)
                .map(|ids| {
                    ids.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            Ok(json!({"at_ms": shared.update_together(t, &ids, props(&body))?}))
        }
        ("PATCH", ["objects", t, id]) => {
            done(shared.update_together(t, &[id.to_string()], props(&body)))
        }
        ("DELETE", ["objects", t, id]) => done(shared.archive(t, id)),
        ("POST", ["objects", t, id, "restore"]) => done(shared.restore(t, id)),
        ("POST", ["objects", t, id, "merge"]) => done(shared.merge(t, id, &text(&body, "absorb")?)),
        ("POST", ["gdpr-delete", id]) => done(shared.gdpr_delete(id)),
        ("POST", ["revoke-scope"]) => {
            let (token, scope) = (text(&body, "token")?, text(&body, "scope")?);
            Ok(json!({"revoked": shared.tokens().revoke(&token, &scope)}))
        }
        ("GET", ["associations", from, to]) => Ok(Value::Array(shared.associations(from, to)?)),
        ("PUT", ["associations", from, a, to, b]) => {
            let type_id = body.get("typeId").map(|v| int(v, "typeId")).transpose()?;
            let type_id = type_id.map(|t| u32::try_from(t).unwrap_or(u32::MAX));
            Ok(json!({"created": shared.associate(from, a, to, b, type_id)?}))
        }
        ("DELETE", ["associations", from, a, to, b]) => {
            Ok(json!({"removed": shared.dissociate(from, a, to, b)?}))
        }
        ("POST", ["properties", t]) => {
            let options: Vec<(String, String)> = body
                .get("options")
                .and_then(Value::as_array)
                .map(|opts| {
                    opts.iter()
                        .filter_map(|o| {
                            Some((
                                o.get("value")?.as_str()?.to_string(),
                                o.get("label")?.as_str()?.to_string(),
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            done(shared.add_property(
                t,
                &text(&body, "name")?,
                &text(&body, "type")?,
                &text(&body, "fieldType")?,
                &options,
            ))
        }
        ("PATCH", ["properties", t, name]) => done(shared.change_property_type(
            t,
            name,
            &text(&body, "type")?,
            &text(&body, "fieldType")?,
        )),
        ("POST", ["faults"]) => {
            set_faults(shared, body.as_object().cloned().unwrap_or_default())?;
            Ok(json!({"ok": true}))
        }
        ("POST", ["limits"]) => {
            set_limits(shared, body.as_object().cloned().unwrap_or_default())?;
            Ok(json!({"ok": true}))
        }
        ("POST", ["webhooks"]) => {
            let target = text(&body, "target_url")?;
            url::Url::parse(&target).map_err(|e| {
                ApiError::validation(format!("target_url {target:?} is not a URL: {e}"))
            })?;
            shared.subscribe(&target);
            Ok(json!({"ok": true}))
        }
        ("GET", ["stats"]) => {
            let store = shared.read();
            let counts: Map<String, Value> = store
                .types
                .iter()
                .enumerate()
                .map(|(k, t)| {
                    (
                        t.name.clone(),
                        json!(store.records[k]
                            .values()
                            .filter(|r| r.archived_at.is_none())
                            .count()),
                    )
                })
                .collect();
            Ok(json!({
                "requests": shared.by_endpoint.total(),
                "requests_by_endpoint": shared.by_endpoint.json(),
                "rate_limited": shared.budget().refused,
                "rate_limited_search": shared.budget().refused_search,
                "search_index_pending": store.pending_index(),
                "objects": counts,
                "webhook_events_delivered": shared.webhooks.delivered.load(Ordering::Relaxed),
            }))
        }
        _ => Err(ApiError::unknown_route(method, path)),
    }
}

fn set_faults(shared: &Shared, knobs: Map<String, Value>) -> Result<(), ApiError> {
    for (name, value) in &knobs {
        if shared
            .faults
            .set(name, value)
            .map_err(ApiError::validation)?
        {
            continue;
        }
        match name.as_str() {
            "expire_tokens" => {
                if knobs::flag(value, name).map_err(ApiError::validation)? {
                    shared.tokens().expire_all();
                }
            }
            "list_cursors" => {
                let cursors = value.as_str().and_then(ListCursors::parse).ok_or_else(|| {
                    ApiError::validation("list_cursors is one of \"ids\", \"opaque\", \"offsets\"")
                })?;
                shared.write().list_cursors = cursors;
            }
            other => return Err(ApiError::validation(format!("Unknown fault knob: {other}"))),
        }
    }
    Ok(())
}

fn set_limits(shared: &Shared, knobs: Map<String, Value>) -> Result<(), ApiError> {
    let mut limits = shared.budget().limits;
    for (name, value) in &knobs {
        let n = int(value, name)?;
        let small =
            || u32::try_from(n).map_err(|_| ApiError::validation(format!("{name} is too large")));
        match name.as_str() {
            "per_ten_seconds" => limits.per_ten_seconds = small()?,
            "daily" => limits.daily = n,
            "search_per_second" => limits.search_per_second = small()?,
            "search_lag_ms" => shared.write().search_lag_ms = i64::try_from(n).unwrap_or(i64::MAX),
            other => return Err(ApiError::validation(format!("Unknown limit: {other}"))),
        }
    }
    shared.budget().limits = limits;
    Ok(())
}
