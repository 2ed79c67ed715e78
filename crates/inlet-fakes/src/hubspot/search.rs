//! `POST /crm/v3/objects/{type}/search`: filter groups (OR of ANDs) with HubSpot's operators,
//! one sort, `after` as a numeric offset, `limit` ≤ 200, and the 10,000-result cap: a page
//! starting at 10,000 or beyond is refused with 400, as HubSpot does. Search reads the index,
//! which trails the records by the indexing lag, and never returns archived records.

use std::cmp::Ordering;

use serde_json::{json, Value};

use super::call::{strings, Call};
use super::clock::{now_ms, parse_time};
use super::errors::ApiError;
use super::properties::PropertyDef;
use super::render::{render, value, Wanted};
use super::store::{Record, Store};

/// Results one query can page through.
pub const RESULT_CAP: usize = 10_000;
const MAX_LIMIT: usize = 200;
const MAX_GROUPS: usize = 5;
const MAX_FILTERS_PER_GROUP: usize = 6;
const MAX_FILTERS: usize = 18;
const MAX_QUERY: usize = 3000;

#[derive(Debug, Clone)]
struct Filter {
    property: String,
    operator: String,
    value: Option<String>,
    high: Option<String>,
    values: Vec<String>,
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn parse_filter(v: &Value) -> Result<Filter, ApiError> {
    let property = v
        .get("propertyName")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::validation("every filter needs a propertyName"))?;
    let operator = v.get("operator").and_then(Value::as_str).unwrap_or("EQ");
    let values = match v.get("values") {
        Some(Value::Array(items)) => items.iter().filter_map(text_of).collect(),
        _ => Vec::new(),
    };
    Ok(Filter {
        property: property.to_string(),
        operator: operator.to_string(),
        value: v.get("value").and_then(text_of),
        high: v.get("highValue").and_then(text_of),
        values,
    })
}

/// Compares a record's value with a filter value by the property's type.
fn compare(def: &PropertyDef, have: &str, want: &str) -> Option<Ordering> {
    match def.kind.as_str() {
        "number" => {
            let (a, b) = (have.parse::<f64>().ok()?, want.trim().parse::<f64>().ok()?);
            a.partial_cmp(&b)
        }
        "datetime" | "date" => Some(parse_time(have)?.cmp(&parse_time(want)?)),
        _ => Some(have.to_lowercase().cmp(&want.to_lowercase())),
    }
}

/// A sort key, typed once per hit rather than parsed on every comparison.
#[derive(Debug, PartialEq, PartialOrd)]
enum Key {
    Num(f64),
    Text(String),
}

fn sort_key(def: &PropertyDef, text: String) -> Key {
    let number = match def.kind.as_str() {
        "number" => text.trim().parse::<f64>().ok(),
        "datetime" | "date" => parse_time(&text).map(|ms| ms as f64),
        _ => None,
    };
    match number {
        Some(n) => Key::Num(n),
        None => Key::Text(text.to_lowercase()),
    }
}

fn equals(def: &PropertyDef, have: &str, want: &str) -> bool {
    if def.multi() {
        return have
            .split(';')
            .any(|part| part.eq_ignore_ascii_case(want.trim()));
    }
    compare(def, have, want) == Some(Ordering::Equal)
}

fn matches(store: &Store, kind: usize, record: &Record, filter: &Filter) -> Result<bool, ApiError> {
    let def = store.property(kind, &filter.property).ok_or_else(|| {
        ApiError::validation(format!(
            "There was a problem with the request: property {} does not exist",
            filter.property
        ))
    })?;
    let have = value(store, kind, record, def).filter(|v| !v.is_empty());
    let need = |v: &Option<String>| {
        v.clone().ok_or_else(|| {
            ApiError::validation(format!(
                "operator {} on {} needs a value",
                filter.operator, filter.property
            ))
        })
    };
    let op = filter.operator.as_str();
    Ok(match (op, have.as_deref()) {
        ("HAS_PROPERTY", h) => h.is_some(),
        ("NOT_HAS_PROPERTY", h) => h.is_none(),
        ("NEQ", None) | ("NOT_IN", None) | ("NOT_CONTAINS_TOKEN", None) => true,
        (_, None) => {
            // Still check the request is well formed, so a bad filter fails on any data.
            if matches!(
                op,
                "EQ" | "LT" | "LTE" | "GT" | "GTE" | "CONTAINS_TOKEN" | "BETWEEN"
            ) {
                need(&filter.value)?;
            } else if !matches!(op, "IN") {
                return Err(unknown_operator(op));
            }
            false
        }
        ("EQ", Some(h)) => equals(def, h, &need(&filter.value)?),
        ("NEQ", Some(h)) => !equals(def, h, &need(&filter.value)?),
        ("IN", Some(h)) => filter.values.iter().any(|w| equals(def, h, w)),
        ("NOT_IN", Some(h)) => !filter.values.iter().any(|w| equals(def, h, w)),
        ("LT", Some(h)) => compare(def, h, &need(&filter.value)?) == Some(Ordering::Less),
        ("LTE", Some(h)) => matches!(
            compare(def, h, &need(&filter.value)?),
            Some(Ordering::Less | Ordering::Equal)
        ),
        ("GT", Some(h)) => compare(def, h, &need(&filter.value)?) == Some(Ordering::Greater),
        ("GTE", Some(h)) => matches!(
            compare(def, h, &need(&filter.value)?),
            Some(Ordering::Greater | Ordering::Equal)
        ),
        ("BETWEEN", Some(h)) => {
            let low = compare(def, h, &need(&filter.value)?);
            let high = compare(def, h, &need(&filter.high)?);
            matches!(low, Some(Ordering::Greater | Ordering::Equal))
                && matches!(high, Some(Ordering::Less | Ordering::Equal))
        }
        ("CONTAINS_TOKEN", Some(h)) => contains_token(h, &need(&filter.value)?),
        ("NOT_CONTAINS_TOKEN", Some(h)) => !contains_token(h, &need(&filter.value)?),
        (other, Some(_)) => return Err(unknown_operator(other)),
    })
}

fn unknown_operator(op: &str) -> ApiError {
    ApiError::validation(format!(
        "operator {op:?} is not one of EQ, NEQ, LT, LTE, GT, GTE, BETWEEN, IN, NOT_IN, HAS_PROPERTY, NOT_HAS_PROPERTY, CONTAINS_TOKEN, NOT_CONTAINS_TOKEN"
    ))
}

/// HubSpot tokenises text; `*` is a wildcard. Close enough: case-insensitive containment.
fn contains_token(have: &str, token: &str) -> bool {
    let token = token.trim_matches('*').to_lowercase();
    have.to_lowercase().contains(&token)
}

/// Free-text `query`: the default searchable properties of the type contain it.
fn matches_query(store: &Store, kind: usize, record: &Record, query: &str) -> bool {
    const SEARCHABLE: [&str; 8] = [
        "email",
        "firstname",
        "lastname",
        "name",
        "domain",
        "phone",
        "company",
        "dealname",
    ];
    let query = query.to_lowercase();
    SEARCHABLE
        .iter()
        .filter_map(|n| store.property(kind, n))
        .any(|def| {
            value(store, kind, record, def).is_some_and(|v| v.to_lowercase().contains(&query))
        })
}

fn parse_groups(body: &Value) -> Result<Vec<Vec<Filter>>, ApiError> {
    let groups = match body.get("filterGroups") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(groups)) => groups,
        Some(_) => return Err(ApiError::validation("filterGroups must be a list")),
    };
    if groups.len() > MAX_GROUPS {
        return Err(ApiError::validation(format!(
            "Too many filter groups: {} (at most {MAX_GROUPS})",
            groups.len()
        )));
    }
    let mut parsed = Vec::new();
    for group in groups {
        let filters = group
            .get("filters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if filters.len() > MAX_FILTERS_PER_GROUP {
            return Err(ApiError::validation(format!(
                "Too many filters in a group: {} (at most {MAX_FILTERS_PER_GROUP})",
                filters.len()
            )));
        }
        parsed.push(
            filters
                .iter()
                .map(parse_filter)
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    if parsed.iter().map(Vec::len).sum::<usize>() > MAX_FILTERS {
        return Err(ApiError::validation(format!(
            "Too many filters: at most {MAX_FILTERS} in all groups together"
        )));
    }
    Ok(parsed)
}

/// The one sort HubSpot honours: `(property, descending)`.
fn parse_sort(body: &Value) -> Option<(String, bool)> {
    let first = body.get("sorts")?.as_array()?.first()?;
    match first {
        Value::String(s) => match s.strip_prefix('-') {
            Some(name) => Some((name.to_string(), true)),
            None => Some((s.clone(), false)),
        },
        Value::Object(o) => Some((
            o.get("propertyName")?.as_str()?.to_string(),
            o.get("direction").and_then(Value::as_str) == Some("DESCENDING"),
        )),
        _ => None,
    }
}

fn offset(body: &Value) -> Result<usize, ApiError> {
    match body.get("after") {
        None | Some(Value::Null) => Ok(0),
        Some(v) => text_of(v)
            .and_then(|t| t.trim().parse::<usize>().ok())
            .ok_or_else(|| ApiError::validation(format!("after must be a number, not {v}"))),
    }
}

/// `POST /crm/v3/objects/{type}/search` against the index as of now.
pub(crate) fn search(store: &mut Store, kind: usize, call: &Call) -> Result<Value, ApiError> {
    let body = &call.body;
    let query = body
        .get("query")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if query.chars().count() > MAX_QUERY {
        return Err(ApiError::validation(format!(
            "query is longer than {MAX_QUERY} characters"
        )));
    }
    let limit = match body.get("limit") {
        None | Some(Value::Null) => 10,
        Some(v) => match v.as_u64() {
            Some(n) if n as usize <= MAX_LIMIT => n as usize,
            _ => {
                return Err(ApiError::validation(format!(
                    "limit must be between 0 and {MAX_LIMIT}, not {v}"
                )))
            }
        },
    };
    let after = offset(body)?;
    if after >= RESULT_CAP {
        return Err(ApiError::validation(format!(
            "The search API returns at most {RESULT_CAP} results for one query; after={after} is past them. Narrow the query instead of paging further."
        )));
    }
    let groups = parse_groups(body)?;
    let properties = strings(body, "properties")?;
    let sort = parse_sort(body);
    let sort_def = match &sort {
        Some((name, _)) => Some(store.property(kind, name).cloned().ok_or_else(|| {
            ApiError::validation(format!("cannot sort by {name}: no such property"))
        })?),
        None => None,
    };
    store.catch_up_index(now_ms());
    let store = &*store;
    let mut hits: Vec<(Option<Key>, &Record)> = Vec::new();
    for record in store.indexed[kind].values() {
        let mut keep = groups.is_empty();
        for group in &groups {
            let mut all = true;
            for filter in group {
                if !matches(store, kind, record, filter)? {
                    all = false;
                    break;
                }
            }
            if all {
                keep = true;
                break;
            }
        }
        if keep && (query.is_empty() || matches_query(store, kind, record, query)) {
            let key = sort_def
                .as_ref()
                .and_then(|def| Some(sort_key(def, value(store, kind, record, def)?)));
            hits.push((key, record));
        }
    }
    if let Some((_, descending)) = &sort {
        hits.sort_by(|(a, ra), (b, rb)| {
            let order = match (a, b) {
                (Some(a), Some(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            };
            let order = if *descending { order.reverse() } else { order };
            order.then(ra.id.cmp(&rb.id))
        });
    }
    let total = hits.len();
    let end = (after + limit).min(total).min(RESULT_CAP.max(after));
    let wanted = Wanted::from_list(&properties);
    let results: Vec<Value> = hits
        .get(after..end)
        .unwrap_or_default()
        .iter()
        .map(|(_, r)| Value::Object(render(store, kind, r, &wanted, &[])))
        .collect();
    let mut response = json!({"total": total, "results": results});
    if end < total && limit > 0 {
        response["paging"] = json!({"next": {"after": end.to_string()}});
    }
    Ok(response)
}
