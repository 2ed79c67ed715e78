//! Routes of the HubSpot API the fake serves, each checked for the token's scope.

use serde_json::{json, Map, Value};

use super::associations;
use super::call::{parse_id, Call};
use super::clock::now_ms;
use super::errors::{ApiError, HubSpotError};
use super::meta;
use super::mutate;
use super::objects;
use super::search;
use super::standard;
use super::store::Store;
use super::Shared;

/// What an API route answers: a status and a JSON body (`Null` = no body, as for 204).
pub(crate) type Reply = Result<(u16, Value), ApiError>;

fn ok(body: Value) -> Reply {
    Ok((200, body))
}

fn kind_of(store: &Store, name: &str, call: &Call) -> Result<usize, ApiError> {
    let kind = store
        .kind(name)
        .ok_or_else(|| ApiError::from(HubSpotError::UnknownType(name.to_string())))?;
    call.access.require(store.types[kind].scope)?;
    Ok(kind)
}

fn id_of(text: &str) -> Result<u64, ApiError> {
    parse_id(text)
        .ok_or_else(|| ApiError::not_found("Object not found.  objectId are usually numeric."))
}

fn fields(body: &Value) -> Result<Map<String, Value>, ApiError> {
    match body.get("properties") {
        Some(Value::Object(map)) => Ok(map.clone()),
        None | Some(Value::Null) => Ok(Map::new()),
        Some(_) => Err(ApiError::validation(
            "properties must be an object of name → value",
        )),
    }
}

/// Whether a request is a search (which has its own rate limit and no headers).
pub(crate) fn is_search(method: &str, path: &str) -> bool {
    method == "POST" && path.trim_end_matches('/').ends_with("/search")
}

pub(crate) fn handle(shared: &Shared, call: &Call) -> Reply {
    let segments: Vec<&str> = call.path.split('/').filter(|s| !s.is_empty()).collect();
    let method = call.method.as_str();
    match (method, segments.as_slice()) {
        (_, ["crm", "v3", "objects", ..]) => objects_route(shared, call, &segments[3..]),
        ("GET", ["crm", "v3", "properties", t]) => {
            let store = shared.read();
            ok(meta::properties(&store, kind_of(&store, t, call)?, call)?)
        }
        ("GET", ["crm", "v3", "properties", t, "groups"]) => {
            let store = shared.read();
            ok(meta::groups(&store, kind_of(&store, t, call)?))
        }
        ("GET", ["crm", "v3", "properties", t, name]) => {
            let store = shared.read();
            ok(meta::property(&store, kind_of(&store, t, call)?, name)?)
        }
        ("GET", ["properties", "v1" | "v2", t, "properties"]) => {
            let store = shared.read();
            if store.kind(t).is_none() && standard::UNMODELLED.contains(t) {
                return ok(meta::legacy_properties(standard::unmodelled().iter()));
            }
            let kind = kind_of(&store, t, call)?;
            ok(meta::legacy_properties(store.properties[kind].iter()))
        }
        ("GET", ["companies", "v2", "properties"]) => {
            let store = shared.read();
            let kind = kind_of(&store, "companies", call)?;
            ok(meta::legacy_properties(store.properties[kind].iter()))
        }
        ("GET", ["crm", "v3", "owners"]) => {
            call.access.require("crm.objects.owners.read")?;
            ok(meta::owners(&shared.read(), call)?)
        }
        ("GET", ["crm", "v3", "owners", id]) => {
            call.access.require("crm.objects.owners.read")?;
            ok(meta::owner(&shared.read(), id)?)
        }
        ("GET", ["crm", "v3", "pipelines", t]) => {
            let store = shared.read();
            ok(meta::pipelines(&store, kind_of(&store, t, call)?))
        }
        ("GET", ["crm", "v3", "pipelines", t, id]) => {
            let store = shared.read();
            ok(meta::pipeline(
                &store,
                kind_of(&store, t, call)?,
                id,
                false,
            )?)
        }
        ("GET", ["crm", "v3", "pipelines", t, id, "stages"]) => {
            let store = shared.read();
            ok(meta::pipeline(&store, kind_of(&store, t, call)?, id, true)?)
        }
        ("GET", ["crm-object-schemas", "v3", "schemas"] | ["crm", "v3", "schemas"]) => {
            call.access.require("crm.objects.custom.read")?;
            ok(meta::schemas(&shared.read()))
        }
        ("GET", ["crm-object-schemas", "v3", "schemas", t] | ["crm", "v3", "schemas", t]) => {
            call.access.require("crm.objects.custom.read")?;
            ok(meta::schema(&shared.read(), t)?)
        }
        (_, ["crm", "v4", ..]) => associations_route(shared, call, &segments[2..]),
        _ => Err(ApiError::unknown_route(method, &call.path)),
    }
}

fn objects_route(shared: &Shared, call: &Call, rest: &[&str]) -> Reply {
    let now = now_ms();
    match (call.method.as_str(), rest) {
        ("POST", ["contacts", "gdpr-delete"]) => {
            let mut store = shared.write();
            kind_of(&store, "contacts", call)?;
            let id = call.body.get("objectId").and_then(|v| {
                v.as_str()
                    .map(str::to_string)
                    .or_else(|| v.as_u64().map(|n| n.to_string()))
            });
            let id = id.ok_or_else(|| ApiError::validation("objectId is required"))?;
            let id = match call.body.get("idProperty").and_then(Value::as_str) {
                Some("email") => find_by_email(&store, &id)?,
                _ => id_of(&id)?,
            };
            mutate::gdpr_delete(&mut store, id, now)?;
            Ok((204, Value::Null))
        }
        ("GET", [t]) => {
            let store = shared.read();
            ok(objects::list(&store, kind_of(&store, t, call)?, call)?)
        }
        ("POST", [t]) => {
            let mut store = shared.write();
            let kind = kind_of(&store, t, call)?;
            let id = mutate::create(&mut store, kind, &fields(&call.body)?, now)?;
            let record = store.records[kind].get(&id).cloned();
            let body = record.map(|r| {
                Value::Object(super::render::render(
                    &store,
                    kind,
                    &r,
                    &super::render::Wanted::All,
                    &[],
                ))
            });
            Ok((201, body.unwrap_or(Value::Null)))
        }
        ("POST", [t, "search"]) => {
            let mut store = shared.write();
            let kind = kind_of(&store, t, call)?;
            ok(search::search(&mut store, kind, call)?)
        }
        ("POST", [t, "batch", "read"]) => {
            let store = shared.read();
            objects::batch_read(&store, kind_of(&store, t, call)?, call)
        }
        ("POST", [t, "batch", "archive"]) => {
            let mut store = shared.write();
            let kind = kind_of(&store, t, call)?;
            let inputs = call
                .body
                .get("inputs")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for input in inputs {
                if let Some(id) = input.get("id").and_then(Value::as_str).and_then(parse_id) {
                    // Archiving something already gone is not an error in a batch.
                    let _ = mutate::archive(&mut store, kind, id, now);
                }
            }
            Ok((204, Value::Null))
        }
        ("POST", [t, "merge"]) => {
            let mut store = shared.write();
            let kind = kind_of(&store, t, call)?;
            let id = |field: &str| {
                call.body
                    .get(field)
                    .and_then(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .or_else(|| v.as_u64().map(|n| n.to_string()))
                    })
                    .and_then(|t| parse_id(&t))
                    .ok_or_else(|| ApiError::validation(format!("{field} is required")))
            };
            let (primary, absorbed) = (id("primaryObjectId")?, id("objectIdToMerge")?);
            mutate::merge(&mut store, kind, primary, absorbed, now)?;
            let record = store.records[kind].get(&primary).cloned();
            let body = record.map(|r| {
                Value::Object(super::render::render(
                    &store,
                    kind,
                    &r,
                    &super::render::Wanted::Defaults,
                    &[],
                ))
            });
            ok(body.unwrap_or(Value::Null))
        }
        ("GET", [t, id]) => {
            let store = shared.read();
            ok(objects::read(&store, kind_of(&store, t, call)?, id, call)?)
        }
        ("PATCH", [t, id]) => {
            let mut store = shared.write();
            let kind = kind_of(&store, t, call)?;
            let id = store.resolve(kind, id_of(id)?);
            mutate::update(&mut store, kind, id, &fields(&call.body)?, now)?;
            let record = store.records[kind].get(&id).cloned();
            let body = record.map(|r| {
                Value::Object(super::render::render(
                    &store,
                    kind,
                    &r,
                    &super::render::Wanted::Defaults,
                    &[],
                ))
            });
            ok(body.unwrap_or(Value::Null))
        }
        ("DELETE", [t, id]) => {
            let mut store = shared.write();
            let kind = kind_of(&store, t, call)?;
            // Deleting an id that is already gone answers 204 too.
            let _ = mutate::archive(&mut store, kind, id_of(id)?, now);
            Ok((204, Value::Null))
        }
        _ => Err(ApiError::unknown_route(&call.method, &call.path)),
    }
}

fn find_by_email(store: &Store, email: &str) -> Result<u64, ApiError> {
    let kind = store
        .kind_named("contacts")
        .ok_or_else(|| ApiError::not_found("no contacts"))?;
    let def = store
        .property(kind, "email")
        .ok_or_else(|| ApiError::not_found("no email property"))?;
    store.records[kind]
        .values()
        .find(|r| {
            super::render::value(store, kind, r, def).is_some_and(|v| v.eq_ignore_ascii_case(email))
        })
        .map(|r| r.id)
        .ok_or_else(|| ApiError::not_found("No contact has that email"))
}

fn associations_route(shared: &Shared, call: &Call, rest: &[&str]) -> Reply {
    match (call.method.as_str(), rest) {
        ("POST", ["associations", f, t, "batch", "read"]) => {
            let store = shared.read();
            let (from, to) = (kind_of(&store, f, call)?, kind_of(&store, t, call)?);
            associations::batch_read(&store, from, to, call)
        }
        ("GET", ["associations", f, t, "labels"]) => {
            let store = shared.read();
            let (from, to) = (kind_of(&store, f, call)?, kind_of(&store, t, call)?);
            ok(associations::labels(&store, from, to))
        }
        ("GET", ["objects", f, id, "associations", t]) => {
            let store = shared.read();
            let (from, to) = (kind_of(&store, f, call)?, kind_of(&store, t, call)?);
            ok(associations::of_object(&store, from, id, to, call)?)
        }
        ("PUT", ["objects", f, a, "associations", "default", t, b]) => {
            let mut store = shared.write();
            let (from, to) = (kind_of(&store, f, call)?, kind_of(&store, t, call)?);
            let kind = associations::requested_kind(&store, from, to, &Value::Null)?;
            let (a, b) = (id_of(a)?, id_of(b)?);
            mutate::associate(&mut store, from, a, to, b, &kind)?;
            let now = super::clock::iso(now_ms());
            ok(json!({
                "status": "COMPLETE",
                "results": [{"from": {"id": a.to_string()}, "to": {"id": b.to_string()},
                             "associationSpec": {"associationCategory": kind.category, "associationTypeId": kind.type_id}}],
                "startedAt": now, "completedAt": now,
            }))
        }
        ("PUT", ["objects", f, a, "associations", t, b]) => {
            let mut store = shared.write();
            let (from, to) = (kind_of(&store, f, call)?, kind_of(&store, t, call)?);
            let kind = associations::requested_kind(&store, from, to, &call.body)?;
            let (a, b) = (id_of(a)?, id_of(b)?);
            mutate::associate(&mut store, from, a, to, b, &kind)?;
            Ok((
                201,
                json!({
                    "fromObjectTypeId": store.types[from].type_id, "fromObjectId": a,
                    "toObjectTypeId": store.types[to].type_id, "toObjectId": b,
                    "labels": kind.label.into_iter().collect::<Vec<_>>(),
                }),
            ))
        }
        ("DELETE", ["objects", f, a, "associations", t, b]) => {
            let mut store = shared.write();
            let (from, to) = (kind_of(&store, f, call)?, kind_of(&store, t, call)?);
            mutate::dissociate(&mut store, from, id_of(a)?, to, id_of(b)?)?;
            Ok((204, Value::Null))
        }
        _ => Err(ApiError::unknown_route(&call.method, &call.path)),
    }
}
