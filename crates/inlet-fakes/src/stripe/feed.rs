//! `GET /v1/events` and `GET /v1/events/{id}`: the change feed, newest first like every
//! list. `ending_before=evt_X` gives the events just newer than X, which is how a client
//! walks forward. Events older than the retention knob are gone, cursors on them included.

use serde_json::{json, Map, Value};

use super::errors::ApiError;
use super::events::type_matches;
use super::list::{self, Index, ListParams};
use super::store::Body;
use super::Shared;

pub(crate) fn list_events(shared: &Shared, query: &Map<String, Value>) -> Result<Value, ApiError> {
    let mut params = ListParams::parse(query)?;
    let single = query
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_string);
    let any_of = list::string_list(query, "types")?;
    if single.is_some() && !any_of.is_empty() {
        return Err(ApiError::invalid_param(
            "types",
            "You may only specify one of these parameters: type, types.",
        ));
    }
    if any_of.len() > 20 {
        return Err(ApiError::invalid_param(
            "types",
            "You may pass at most 20 event types in `types`.",
        ));
    }
    let expire_before = shared.faults.events_expire_before();
    if let Some(t) = expire_before {
        params.at_least(t);
    }
    let store = shared.read();
    let table = &store.events;
    let kind_of = |slot: u32| match &table.slot(slot).body {
        Body::Full(doc) => doc
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        Body::Seeded(_) => String::new(),
    };
    let cursor_key = match &params.cursor {
        None => None,
        Some(cursor) => {
            let missing = || ApiError::missing_cursor("event", cursor.param(), cursor.id());
            if matches!(cursor, list::Cursor::StartingAfter(_))
                && shared.faults.take_invalidate_cursor()
            {
                return Err(missing());
            }
            let slot = table.live(cursor.id()).ok_or_else(missing)?;
            let key = table.slot(slot).key;
            let expired = expire_before.is_some_and(|t| key.created < t);
            if expired || !type_matches(&kind_of(slot), single.as_deref(), &any_of) {
                return Err(missing());
            }
            Some(key)
        }
    };
    let page = list::page(
        Index::Tree(&table.order),
        &params,
        cursor_key,
        |slot| match &table.slot(slot).body {
            Body::Full(doc) if type_matches(&kind_of(slot), single.as_deref(), &any_of) => {
                Some((**doc).clone())
            }
            _ => None,
        },
    );
    let data: Vec<Value> = page.data.into_iter().map(Value::Object).collect();
    Ok(json!({"object": "list", "data": data, "has_more": page.has_more, "url": "/v1/events"}))
}

pub(crate) fn retrieve_event(shared: &Shared, id: &str) -> Result<Value, ApiError> {
    let expire_before = shared.faults.events_expire_before();
    let store = shared.read();
    let slot = store
        .events
        .live(id)
        .ok_or_else(|| ApiError::no_such("event", id))?;
    let s = store.events.slot(slot);
    if expire_before.is_some_and(|t| s.key.created < t) {
        return Err(ApiError::no_such("event", id));
    }
    match &s.body {
        Body::Full(doc) => Ok(Value::Object((**doc).clone())),
        Body::Seeded(_) => Err(ApiError::no_such("event", id)),
    }
}
