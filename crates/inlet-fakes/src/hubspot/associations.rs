//! Associations v4: batch read (`POST /crm/v4/associations/{from}/{to}/batch/read`, up to
//! 1,000 ids, 500 associations per id then `paging`; ids with none come back as errors in a
//! 207), one record's associations (`GET /crm/v4/objects/{type}/{id}/associations/{to}`),
//! the labels between two types, and creating or removing one.

use serde_json::{json, Value};

use super::call::{parse_id, Call};
use super::catalog::{default_kind, kind_of, kinds, AssociationKind};
use super::clock::{iso, now_ms};
use super::errors::ApiError;
use super::store::Store;

const BATCH_INPUTS: usize = 1000;
const PER_OBJECT: usize = 500;

fn spec(from: &str, to: &str, type_id: u32) -> Value {
    let kind = kind_of(from, to, type_id);
    json!({
        "category": kind.map_or("HUBSPOT_DEFINED", |k| k.category),
        "typeId": type_id,
        "label": kind.and_then(|k| k.label),
    })
}

fn associated(
    store: &Store,
    from: usize,
    id: u64,
    to: usize,
    start: usize,
    limit: usize,
) -> (Vec<Value>, Option<usize>) {
    let links = store.links_of(from, id, to);
    let (f, t) = (&store.types[from].name, &store.types[to].name);
    let page: Vec<Value> = links
        .iter()
        .skip(start)
        .take(limit)
        .map(|(other, types)| {
            json!({
                "toObjectId": other.to_string(),
                "associationTypes": types.iter().map(|ty| spec(f, t, *ty)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let next = (start + limit < links.len()).then_some(start + limit);
    (page, next)
}

fn offset(text: Option<&str>) -> Result<usize, ApiError> {
    text.map_or(Ok(0), |t| {
        t.trim()
            .parse::<usize>()
            .map_err(|_| ApiError::validation(format!("after {t:?} is not a cursor this API gave")))
    })
}

/// `POST /crm/v4/associations/{from}/{to}/batch/read`
pub(crate) fn batch_read(
    store: &Store,
    from: usize,
    to: usize,
    call: &Call,
) -> Result<(u16, Value), ApiError> {
    let started = iso(now_ms());
    let inputs = call
        .body
        .get("inputs")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::validation("inputs is required: a list of {\"id\": \"...\"}"))?;
    if inputs.len() > BATCH_INPUTS {
        return Err(ApiError::validation(format!(
            "Too many inputs: {} (at most {BATCH_INPUTS})",
            inputs.len()
        )));
    }
    let mut results = Vec::new();
    let mut missing = Vec::new();
    for input in inputs {
        let text = match input.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let start = offset(input.get("after").and_then(Value::as_str))?;
        let live = parse_id(&text).filter(|id| store.live(from, *id).is_some());
        let Some(id) = live else {
            missing.push(text);
            continue;
        };
        let (to_list, next) = associated(store, from, id, to, start, PER_OBJECT);
        if to_list.is_empty() && start == 0 {
            missing.push(text);
            continue;
        }
        let mut result = json!({"from": {"id": id.to_string()}, "to": to_list});
        if let Some(next) = next {
            result["paging"] = json!({"next": {"after": next.to_string(), "link": null}});
        }
        results.push(result);
    }
    let mut body = json!({"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": iso(now_ms())});
    if missing.is_empty() {
        return Ok((200, body));
    }
    let (f, t) = (&store.types[from], &store.types[to]);
    let errors: Vec<Value> = missing
        .iter()
        .map(|id| {
            json!({
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                "message": format!("No {} is associated with {} {id}.", t.singular.to_lowercase(), f.singular.to_lowercase()),
                "context": {"fromObjectId": [id]},
            })
        })
        .collect();
    body["numErrors"] = json!(errors.len());
    body["errors"] = Value::Array(errors);
    Ok((207, body))
}

/// `GET /crm/v4/objects/{type}/{id}/associations/{to}`
pub(crate) fn of_object(
    store: &Store,
    from: usize,
    id_text: &str,
    to: usize,
    call: &Call,
) -> Result<Value, ApiError> {
    let limit = call.limit(500, PER_OBJECT)?;
    let start = offset(call.param("after"))?;
    let id = parse_id(id_text)
        .filter(|id| store.live(from, *id).is_some())
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "No {} with id {id_text}",
                store.types[from].singular.to_lowercase()
            ))
        })?;
    let (results, next) = associated(store, from, id, to, start, limit);
    let mut body = json!({"results": results});
    if let Some(next) = next {
        body["paging"] = json!({"next": {"after": next.to_string(), "link": null}});
    }
    Ok(body)
}

/// `GET /crm/v4/associations/{from}/{to}/labels`
pub(crate) fn labels(store: &Store, from: usize, to: usize) -> Value {
    let (f, t) = (&store.types[from].name, &store.types[to].name);
    let results: Vec<Value> = kinds()
        .into_iter()
        .filter(|k| k.from == f && k.to == t)
        .map(|k| json!({"category": k.category, "typeId": k.type_id, "label": k.label}))
        .collect();
    json!({"results": results})
}

/// The kind a v4 create names (`[{associationCategory, associationTypeId}]`), or the default.
pub(crate) fn requested_kind(
    store: &Store,
    from: usize,
    to: usize,
    body: &Value,
) -> Result<AssociationKind, ApiError> {
    let (f, t) = (
        store.types[from].name.as_str(),
        store.types[to].name.as_str(),
    );
    let wanted = body
        .as_array()
        .and_then(|specs| specs.first())
        .and_then(|s| s.get("associationTypeId"))
        .and_then(Value::as_u64);
    let kind = match wanted {
        Some(type_id) => u32::try_from(type_id).ok().and_then(|id| kind_of(f, t, id)),
        None => default_kind(f, t),
    };
    kind.ok_or_else(|| {
        ApiError::validation(format!(
            "{f} and {t} cannot be associated with that association type"
        ))
    })
}
