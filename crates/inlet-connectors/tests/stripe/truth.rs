//! What a table's row must hold for one of the fake's objects, derived here from the object
//! and the documented mapping (README "What lands", ARCHITECTURE "The destination schema"),
//! never from the connector's own mapping code: a bug there makes the comparison fail.
//!
//! The only thing taken from the connector is which columns it declares (its published
//! column list); how each column is filled is worked out from the object:
//!
//! * a column named as a field holds that field;
//! * `<field>_id` holds a reference: the id string, or the `id` of the expanded object;
//! * `<object>_<key>` holds a field of a one-level object, flattened (`address_city`), and
//!   `<object>_<key>_id` a reference inside one;
//! * a field no declared column holds arrived later and has a column of its own name (the
//!   keys of a flattened object that no column holds: `<object>_<key>`);
//! * the child lists Stripe truncates (`subscription.items`, `invoice.lines`) are not in the
//!   row: they have tables of their own.

use std::collections::HashSet;

use serde_json::{Map, Value};

/// Column → the value it must hold.
pub fn expected(
    stream: &str,
    columns: &[String],
    object: &Map<String, Value>,
) -> Map<String, Value> {
    let children: &[&str] = match stream {
        "subscription" => &["items"],
        "invoice" => &["lines"],
        _ => &[],
    };
    let mut row = Map::new();
    // (field, key inside a flattened object) pairs some column holds.
    let mut held: HashSet<(String, Option<String>)> = HashSet::new();
    for column in columns {
        if column == "id" {
            continue;
        }
        if let Some((value, field, key)) = resolve(column, object) {
            held.insert((field, key));
            row.insert(column.clone(), value);
        }
    }
    for (field, value) in object {
        if field == "id" || children.contains(&field.as_str()) {
            continue;
        }
        let flattened = held.iter().any(|(f, k)| f == field && k.is_some());
        match value {
            Value::Object(inner) if flattened => {
                for (key, v) in inner {
                    if !held.contains(&(field.clone(), Some(key.clone()))) {
                        row.insert(format!("{field}_{key}"), v.clone());
                    }
                }
            }
            _ if held.contains(&(field.clone(), None)) => {}
            _ => {
                row.insert(field.clone(), value.clone());
            }
        }
    }
    row
}

/// The value `column` holds for `object`, and the field (and key in a flattened object) it
/// comes from; `None` when the object has nothing for it (the column stays null).
fn resolve(column: &str, object: &Map<String, Value>) -> Option<(Value, String, Option<String>)> {
    if let Some(value) = object.get(column) {
        return Some((value.clone(), column.to_string(), None));
    }
    if let Some(base) = column.strip_suffix("_id") {
        if let Some(value) = object.get(base) {
            return Some((reference(value), base.to_string(), None));
        }
        if let Some((value, field, key)) = flattened(base, object) {
            return Some((reference(&value), field, Some(key)));
        }
    }
    let (value, field, key) = flattened(column, object)?;
    Some((value, field, Some(key)))
}

/// `<field>_<key>` as a field of the one-level object `field` (which may itself contain `_`).
fn flattened(column: &str, object: &Map<String, Value>) -> Option<(Value, String, String)> {
    column.match_indices('_').find_map(|(at, _)| {
        let (field, key) = (&column[..at], &column[at + 1..]);
        match object.get(field) {
            Some(Value::Object(inner)) => inner
                .get(key)
                .map(|v| (v.clone(), field.to_string(), key.to_string())),
            // An absent (null) object leaves its columns null.
            Some(Value::Null) => Some((Value::Null, field.to_string(), key.to_string())),
            _ => None,
        }
    })
}

/// The id a reference holds: the string itself, or the `id` of the expanded object.
fn reference(value: &Value) -> Value {
    match value {
        Value::Object(o) => o.get("id").cloned().unwrap_or(Value::Null),
        other => other.clone(),
    }
}
