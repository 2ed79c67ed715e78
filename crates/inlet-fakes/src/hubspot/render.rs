//! Records as the API returns them (`SimplePublicObject`): every value a string, requested
//! properties without a value as `null`, `archivedAt` only on archived records, and
//! `propertiesWithHistory` newest first.

use serde_json::{json, Map, Value};

use super::clock::iso;
use super::properties::PropertyDef;
use super::store::{Record, Store};
use super::values::{seeded, Context};

/// Which properties a response carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Wanted {
    /// The type's defaults (no `properties` asked for).
    Defaults,
    /// These names; unknown names are ignored, as HubSpot does.
    Named(Vec<String>),
    /// Every property (the truth API).
    All,
}

impl Wanted {
    /// From a comma-separated `properties` parameter (absent or empty = defaults).
    pub fn from_list(names: &[String]) -> Wanted {
        if names.is_empty() {
            Wanted::Defaults
        } else {
            Wanted::Named(names.to_vec())
        }
    }
}

fn context<'a>(store: &'a Store, kind: usize, record: &Record) -> Context<'a> {
    Context {
        salt: record.salt,
        created: record.created,
        end: store.history_end.max(record.created + 1),
        owners: &store.owner_ids,
        pipelines: &store.pipeline_stages[kind],
    }
}

/// The current value of `def` on `record`.
pub(crate) fn value(
    store: &Store,
    kind: usize,
    record: &Record,
    def: &PropertyDef,
) -> Option<String> {
    let t = &store.types[kind];
    let name = def.name.as_str();
    if name == "hs_object_id" {
        return Some(record.id.to_string());
    }
    if name == t.created || name == "hs_createdate" {
        return Some(iso(record.created));
    }
    if name == t.modified {
        return Some(iso(record.updated));
    }
    if name == "hs_merged_object_ids" {
        let ids: Vec<String> = record.merged.iter().map(u64::to_string).collect();
        return (!ids.is_empty()).then(|| ids.join(";"));
    }
    if let Some(set) = record.values.get(name) {
        return set.clone();
    }
    if !record.seeded {
        return None;
    }
    seeded(def, &context(store, kind, record))
}

/// The value HubSpot would have had when the record was created (the oldest history entry).
fn first_value(store: &Store, kind: usize, record: &Record, def: &PropertyDef) -> Option<String> {
    if !record.seeded {
        return None;
    }
    seeded(def, &context(store, kind, record))
}

fn history(store: &Store, kind: usize, record: &Record, def: &PropertyDef) -> Value {
    let mut entries: Vec<Value> = record
        .history
        .iter()
        .rev()
        .filter(|c| c.property == def.name)
        .map(|c| {
            json!({"value": c.value.clone().unwrap_or_default(), "timestamp": iso(c.at), "sourceType": "API", "sourceId": "inlet-fake"})
        })
        .collect();
    let computed = matches!(def.name.as_str(), "hs_object_id" | "hs_merged_object_ids")
        || def.name == store.types[kind].created
        || def.name == store.types[kind].modified
        || def.name == "hs_createdate";
    let first = if computed {
        value(store, kind, record, def)
    } else {
        first_value(store, kind, record, def)
    };
    if let Some(first) = first {
        let at = if def.name == store.types[kind].modified {
            record.updated
        } else {
            record.created
        };
        entries.push(json!({"value": first, "timestamp": iso(at), "sourceType": "CRM_UI", "sourceId": "userId:1"}));
    }
    Value::Array(entries)
}

/// Renders `record` of type `kind` with the wanted properties (and history for `with_history`).
pub(crate) fn render(
    store: &Store,
    kind: usize,
    record: &Record,
    wanted: &Wanted,
    with_history: &[String],
) -> Map<String, Value> {
    let defs = &store.properties[kind];
    let mut properties = Map::new();
    let mut put = |def: &PropertyDef| {
        let v = value(store, kind, record, def);
        properties.insert(def.name.clone(), v.map_or(Value::Null, Value::String));
    };
    match wanted {
        Wanted::All => defs.iter().for_each(&mut put),
        Wanted::Defaults => store.types[kind]
            .defaults
            .iter()
            .filter_map(|n| store.property(kind, n))
            .for_each(&mut put),
        Wanted::Named(names) => {
            // HubSpot answers every read with the record's id and dates, asked for or not.
            let t = &store.types[kind];
            let always = [t.created, "hs_object_id", t.modified];
            always
                .iter()
                .copied()
                .chain(names.iter().map(String::as_str))
                .filter_map(|n| store.property(kind, n))
                .for_each(&mut put)
        }
    }
    let mut object = Map::new();
    object.insert("id".into(), Value::from(record.id.to_string()));
    object.insert("properties".into(), Value::Object(properties));
    if !with_history.is_empty() {
        let mut histories = Map::new();
        for def in with_history.iter().filter_map(|n| store.property(kind, n)) {
            histories.insert(def.name.clone(), history(store, kind, record, def));
        }
        object.insert("propertiesWithHistory".into(), Value::Object(histories));
    }
    object.insert("createdAt".into(), Value::from(iso(record.created)));
    object.insert("updatedAt".into(), Value::from(iso(record.updated)));
    object.insert("archived".into(), Value::from(record.archived_at.is_some()));
    if let Some(at) = record.archived_at {
        object.insert("archivedAt".into(), Value::from(iso(at)));
    }
    object
}
