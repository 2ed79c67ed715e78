//! Reading records: the list (`GET /crm/v3/objects/{type}`: ascending ids, an `after`
//! cursor of the kind [`ListCursors`] says, `paging` absent on the last page, `archived=true` = archived only), a single
//! read (merged-away ids answer with the record that absorbed them), and batch read
//! (`POST .../batch/read`, 207 with `errors` when some ids are missing).

use serde_json::{json, Map, Value};

use super::call::{parse_id, strings, Call};
use super::catalog::{kind_of, v3_type_name};
use super::clock::{iso, now_ms};
use super::errors::ApiError;
use super::render::{render, value, Wanted};
use super::store::{Record, Store};

/// Objects per page when `propertiesWithHistory` is asked for.
const HISTORY_PAGE: usize = 50;

/// How the list's `after` cursor works. HubSpot documents it as opaque; its own example
/// (`NTI1Cg==`) is base64 of the next record's id, which is what the fake gives by default.
/// The other two are what a client reading id-shaped cursors must survive: a list that
/// refuses any cursor it did not give, and one whose cursor counts records, not ids.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ListCursors {
    /// The id of the next record: base64 of it, or the plain id.
    #[default]
    Ids,
    /// Only cursors this list gave; anything else is refused (400).
    Opaque,
    /// The number of records before the page, plain or base64.
    Offsets,
}

impl ListCursors {
    pub fn parse(text: &str) -> Option<ListCursors> {
        match text {
            "ids" => Some(ListCursors::Ids),
            "opaque" => Some(ListCursors::Opaque),
            "offsets" => Some(ListCursors::Offsets),
            _ => None,
        }
    }
}

/// Opaque cursors carry this before the id, so an id made by a client is not one.
const OPAQUE_MARK: &str = "c:";

fn encode_cursor(cursors: ListCursors, at: u64) -> String {
    let text = match cursors {
        ListCursors::Opaque => format!("{OPAQUE_MARK}{at}"),
        ListCursors::Ids | ListCursors::Offsets => at.to_string(),
    };
    data_encoding::BASE64URL_NOPAD.encode(text.as_bytes())
}

/// Where a cursor points: a record id, or for [`ListCursors::Offsets`] a count of records.
fn decode_cursor(cursors: ListCursors, text: &str) -> Result<u64, ApiError> {
    let bad = || ApiError::validation(format!("after {text:?} is not a cursor this list gave"));
    if cursors != ListCursors::Opaque {
        if let Some(at) = parse_id(text) {
            return Ok(at);
        }
    }
    let bytes = data_encoding::BASE64URL_NOPAD
        .decode(text.trim_end_matches('=').as_bytes())
        .map_err(|_| bad())?;
    let decoded = std::str::from_utf8(&bytes).map_err(|_| bad())?.trim();
    let number = match cursors {
        ListCursors::Opaque => decoded.strip_prefix(OPAQUE_MARK).ok_or_else(bad)?,
        ListCursors::Ids | ListCursors::Offsets => decoded,
    };
    number.parse::<u64>().map_err(|_| bad())
}

/// v3 inline associations (`associations=companies,deals`); unknown types are ignored.
fn inline_associations(
    store: &Store,
    kind: usize,
    record: &Record,
    names: &[String],
) -> Option<Value> {
    let mut out = Map::new();
    for name in names {
        let Some(to) = store.kind(name) else { continue };
        let from_t = &store.types[kind];
        let to_t = &store.types[to];
        let base = v3_type_name(from_t, to_t);
        let has_primary = [1, 2, 5, 6]
            .iter()
            .any(|id| kind_of(&from_t.name, &to_t.name, *id).is_some());
        let results: Vec<Value> = store
            .links_of(kind, record.id, to)
            .into_iter()
            .flat_map(|(other, types)| {
                let base = base.clone();
                let from = from_t.name.clone();
                let to = to_t.name.clone();
                types.into_iter().map(move |type_id| {
                    let spec = kind_of(&from, &to, type_id);
                    let name = match spec {
                        Some(k) if k.label == Some("Primary") => base.clone(),
                        Some(k) if k.default && has_primary => format!("{base}_unlabeled"),
                        Some(k) if k.default => base.clone(),
                        Some(k) => k.label.unwrap_or_default().to_lowercase().replace(' ', "_"),
                        None => base.clone(),
                    };
                    json!({"id": other.to_string(), "type": name})
                })
            })
            .collect();
        if !results.is_empty() {
            out.insert(to_t.name.clone(), json!({"results": results}));
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

fn with_associations(
    store: &Store,
    kind: usize,
    record: &Record,
    call: &Call,
    wanted: &Wanted,
    history: &[String],
) -> Value {
    let mut object = render(store, kind, record, wanted, history);
    let names = call.list("associations");
    if !names.is_empty() {
        if let Some(assoc) = inline_associations(store, kind, record, &names) {
            object.insert("associations".into(), assoc);
        }
    }
    Value::Object(object)
}

/// `GET /crm/v3/objects/{type}`
pub(crate) fn list(store: &Store, kind: usize, call: &Call) -> Result<Value, ApiError> {
    let history = call.list("propertiesWithHistory");
    let limit = call.limit(10, 100)?;
    let limit = if history.is_empty() {
        limit
    } else {
        limit.min(HISTORY_PAGE)
    };
    let archived = call.flag("archived")?;
    let cursors = store.list_cursors;
    let at = call
        .param("after")
        .map(|text| decode_cursor(cursors, text))
        .transpose()?
        .unwrap_or(0);
    let (start, skip) = match cursors {
        ListCursors::Offsets => (0, at),
        ListCursors::Ids | ListCursors::Opaque => (at, 0),
    };
    let wanted = Wanted::from_list(&call.list("properties"));
    let mut page = Vec::with_capacity(limit);
    let mut next = None;
    for record in store.records[kind]
        .range(start..)
        .map(|(_, r)| r)
        .filter(|r| r.archived_at.is_some() == archived)
        .skip(skip as usize)
    {
        if page.len() == limit {
            next = Some(match cursors {
                ListCursors::Offsets => skip + limit as u64,
                ListCursors::Ids | ListCursors::Opaque => record.id,
            });
            break;
        }
        page.push(with_associations(
            store, kind, record, call, &wanted, &history,
        ));
    }
    let mut body = json!({"results": page});
    if let Some(next) = next {
        let after = encode_cursor(cursors, next);
        body["paging"] = json!({"next": {"after": after, "link": format!("?after={after}")}});
    }
    Ok(body)
}

/// `GET /crm/v3/objects/{type}/{id}`
pub(crate) fn read(
    store: &Store,
    kind: usize,
    id_text: &str,
    call: &Call,
) -> Result<Value, ApiError> {
    let archived = call.flag("archived")?;
    let history = call.list("propertiesWithHistory");
    let wanted = Wanted::from_list(&call.list("properties"));
    let id_property = call.param("idProperty").filter(|p| *p != "hs_object_id");
    let found = match id_property {
        Some(property) => by_property(store, kind, property, &[id_text.to_string()], archived)?
            .into_iter()
            .next()
            .map(|(_, id)| id),
        None => parse_id(id_text).map(|id| store.resolve(kind, id)),
    };
    found
        .and_then(|id| store.records[kind].get(&id))
        .filter(|r| r.archived_at.is_some() == archived)
        .map(|r| with_associations(store, kind, r, call, &wanted, &history))
        .ok_or_else(|| ApiError::not_found("Object not found.  objectId are usually numeric."))
}

/// Records whose `property` equals one of `wanted` (a unique-value lookup), `(value, id)`.
fn by_property(
    store: &Store,
    kind: usize,
    property: &str,
    wanted: &[String],
    archived: bool,
) -> Result<Vec<(String, u64)>, ApiError> {
    let def = store
        .property(kind, property)
        .ok_or_else(|| ApiError::validation(format!("Property {property} does not exist")))?;
    let mut found = Vec::new();
    for record in store.records[kind]
        .values()
        .filter(|r| r.archived_at.is_some() == archived)
    {
        if let Some(v) = value(store, kind, record, def) {
            if wanted.iter().any(|w| w.eq_ignore_ascii_case(&v)) {
                found.push((v, record.id));
            }
        }
    }
    Ok(found)
}

/// `POST /crm/v3/objects/{type}/batch/read`
pub(crate) fn batch_read(
    store: &Store,
    kind: usize,
    call: &Call,
) -> Result<(u16, Value), ApiError> {
    let started = iso(now_ms());
    let archived = call.flag("archived")?;
    let inputs = call
        .body
        .get("inputs")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::validation("inputs is required: a list of {\"id\": \"...\"}"))?;
    if inputs.len() > 100 {
        return Err(ApiError::validation(format!(
            "Too many inputs: {} (a batch reads at most 100)",
            inputs.len()
        )));
    }
    let ids: Vec<String> = inputs
        .iter()
        .map(|i| match i.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        })
        .collect();
    let properties = strings(&call.body, "properties")?;
    let history = strings(&call.body, "propertiesWithHistory")?;
    let wanted = Wanted::from_list(&properties);
    let id_property = call
        .body
        .get("idProperty")
        .and_then(Value::as_str)
        .filter(|p| *p != "hs_object_id");
    let resolved: Vec<(String, Option<u64>)> = match id_property {
        Some(property) => {
            let found = by_property(store, kind, property, &ids, archived)?;
            ids.iter()
                .map(|text| {
                    let id = found
                        .iter()
                        .find(|(v, _)| v.eq_ignore_ascii_case(text))
                        .map(|(_, id)| *id);
                    (text.clone(), id)
                })
                .collect()
        }
        None => ids
            .iter()
            .map(|text| {
                (
                    text.clone(),
                    parse_id(text).map(|id| store.resolve(kind, id)),
                )
            })
            .collect(),
    };
    let mut results = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut missing = Vec::new();
    for (text, id) in resolved {
        match id
            .and_then(|id| store.records[kind].get(&id))
            .filter(|r| r.archived_at.is_some() == archived)
        {
            Some(record) => {
                if seen.insert(record.id) {
                    results.push(Value::Object(render(
                        store, kind, record, &wanted, &history,
                    )));
                }
            }
            None => missing.push(text),
        }
    }
    let mut body = json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": iso(now_ms()),
    });
    if missing.is_empty() {
        return Ok((200, body));
    }
    let singular = store.types[kind].singular.to_uppercase().replace(' ', "_");
    body["numErrors"] = json!(1);
    body["errors"] = json!([{
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": format!("Could not get some {singular} objects, they may be deleted or not exist. Check that ids are valid."),
        "context": {"ids": missing},
    }]);
    Ok((207, body))
}
