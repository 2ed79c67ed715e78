//! Stored values as the API shows them: REST JSON (datetimes `...000+0000`, compound fields
//! as objects, formulas computed now, base64 as the blob's URL) and Bulk CSV cells.

use serde_json::{json, Map, Value};

use super::clock;
use super::schema::{Field, Formula, Kind};
use super::store::{Record, Store};

/// The components of compound `name` in `object`'s fields, with their keys in the object
/// REST returns (`street`, `city`, ..., `latitude`).
fn components<'a>(
    fields: &'a [Field],
    name: &'a str,
) -> impl Iterator<Item = (usize, String)> + 'a {
    fields.iter().enumerate().filter_map(move |(at, f)| {
        let compound = f.compound.as_deref()?;
        if compound != name {
            return None;
        }
        let prefix = name.trim_end_matches("Address").trim_end_matches("__c");
        let part = f.name[prefix.len()..]
            .trim_start_matches("__")
            .trim_end_matches("__s");
        let mut key = part.to_string();
        if let Some(first) = key.get_mut(0..1) {
            first.make_ascii_lowercase();
        }
        Some((at, key))
    })
}

/// One field of `record` (in table `t`) as REST JSON shows it.
pub(crate) fn value(store: &Store, t: usize, record: &Record, at: usize) -> Value {
    let table = &store.tables[t];
    let field = &table.object.fields[at];
    if field.name == "IsDeleted" {
        return Value::Bool(record.deleted_ms.is_some());
    }
    if let Some((_, formula)) = &field.formula {
        return formula_value(store, t, record, formula);
    }
    let stored = record.get(at);
    match field.kind {
        Kind::Address | Kind::Location => {
            let parts: Map<String, Value> = components(&table.object.fields, &field.name)
                .map(|(at, key)| (key, value(store, t, record, at)))
                .collect();
            if parts.values().all(Value::is_null) {
                Value::Null
            } else {
                Value::Object(parts)
            }
        }
        _ if stored.is_null() => Value::Null,
        Kind::Datetime => Value::String(clock::datetime(record.ms(at))),
        Kind::Date => Value::String(clock::date(record.ms(at))),
        Kind::Time => Value::String(clock::time(record.ms(at))),
        Kind::Base64 => Value::String(format!(
            "/services/data/v{}/sobjects/{}/{}/{}",
            super::API_VERSION,
            table.object.name,
            record.get(0).as_str().unwrap_or_default(),
            field.name
        )),
        _ => stored.clone(),
    }
}

fn formula_value(store: &Store, t: usize, record: &Record, formula: &Formula) -> Value {
    let table = &store.tables[t];
    match formula {
        Formula::Product { a, b, divisor } => {
            let number = |name: &str| table.field(name).and_then(|at| record.get(at).as_f64());
            match (number(a), number(b)) {
                (Some(a), Some(b)) => {
                    let cents = (a * b / *divisor as f64 * 100.0).round() / 100.0;
                    json!(cents)
                }
                _ => Value::Null,
            }
        }
        Formula::Parent { reference, field } => {
            let Some(parent_id) = table
                .field(reference)
                .and_then(|at| record.get(at).as_str())
            else {
                return Value::Null;
            };
            let Some(parent_table) = table.object.fields[table.field(reference).unwrap_or(0)]
                .reference_to
                .as_deref()
                .and_then(|name| store.table(name).ok())
            else {
                return Value::Null;
            };
            let parent = &store.tables[parent_table];
            match (parent.records.get(parent_id), parent.field(field)) {
                (Some(p), Some(at)) if p.deleted_ms.is_none() => value(store, parent_table, p, at),
                _ => Value::Null,
            }
        }
    }
}

/// A REST query result record: `attributes`, then the selected fields in order.
pub(crate) fn rest_record(store: &Store, t: usize, record: &Record, columns: &[usize]) -> Value {
    let table = &store.tables[t];
    let id = record.get(0).as_str().unwrap_or_default();
    let mut out = Map::new();
    out.insert(
        "attributes".into(),
        json!({"type": table.object.name, "url": format!("/services/data/v{}/sobjects/{}/{id}", super::API_VERSION, table.object.name)}),
    );
    for &at in columns {
        out.insert(
            table.object.fields[at].name.clone(),
            value(store, t, record, at),
        );
    }
    Value::Object(out)
}

/// One CSV cell as Bulk API 2.0 writes it: every value in double quotes (quotes doubled,
/// line breaks kept inside), null as nothing at all. Salesforce keeps empty text as null,
/// so a quoted empty string never appears.
pub(crate) fn csv_cell(store: &Store, t: usize, record: &Record, at: usize, out: &mut String) {
    let field = &store.tables[t].object.fields[at];
    let text = match value(store, t, record, at) {
        Value::Null => return,
        Value::String(_) if field.kind == Kind::Datetime => clock::csv_datetime(record.ms(at)),
        Value::String(s) => s,
        other => other.to_string(),
    };
    out.push('"');
    out.push_str(&text.replace('"', "\"\""));
    out.push('"');
}
