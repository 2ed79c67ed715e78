//! Every change to a portal, shared by the HTTP API, the control API, the Rust API and the
//! live mutator: create, update, archive, restore, merge, GDPR delete, association changes,
//! and property definitions that appear or change type. Each change queues its search-index
//! update, which search sees once the indexing lag has passed, and its webhook events.

use serde_json::{json, Map, Value};

use super::catalog::AssociationKind;
use super::clock::{date, iso, mix, parse_time};
use super::errors::HubSpotError;
use super::properties::{validate_kind, PropertyDef};
use super::standard::mergeable;
use super::store::{Change, Record, Store};
use super::values::Gen;

fn not_found(store: &Store, kind: usize, id: u64) -> HubSpotError {
    HubSpotError::NotFound {
        kind: store.types[kind].singular.to_lowercase(),
        id: id.to_string(),
    }
}

/// A value as HubSpot stores it for this property, or why it is not valid.
fn normalise(def: &PropertyDef, raw: &Value) -> Result<Option<String>, HubSpotError> {
    let text = match raw {
        Value::Null => return Ok(None),
        Value::String(s) if s.is_empty() => return Ok(None),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => {
            return Err(HubSpotError::Invalid(format!(
                "Property values were not valid: {} must be a string",
                def.name
            )))
        }
    };
    let invalid = || {
        HubSpotError::Invalid(format!(
            "Property values were not valid: {:?} is not a valid {} for {}",
            text, def.kind, def.name
        ))
    };
    let value = match def.kind.as_str() {
        "number" => {
            text.trim().parse::<f64>().map_err(|_| invalid())?;
            text.trim().to_string()
        }
        "bool" => match text.to_lowercase().as_str() {
            "true" | "false" => text.to_lowercase(),
            _ => return Err(invalid()),
        },
        "datetime" => iso(parse_time(&text).ok_or_else(invalid)?),
        "date" => {
            let ms = parse_time(&text).ok_or_else(invalid)?;
            if ms.rem_euclid(super::clock::DAY_MS) != 0 {
                return Err(HubSpotError::Invalid(format!(
                    "Property values were not valid: {} is a date and must be midnight UTC",
                    def.name
                )));
            }
            date(ms)
        }
        "enumeration" if !def.options.is_empty() => {
            for part in text.split(';') {
                if !def.options.iter().any(|(v, _)| v == part) {
                    return Err(HubSpotError::Invalid(format!("Property values were not valid: {part:?} was not one of the allowed options for {}", def.name)));
                }
            }
            text
        }
        _ => text,
    };
    Ok(Some(value))
}

/// Sets properties on a record (validated first, so a bad value changes nothing).
fn apply(
    store: &Store,
    kind: usize,
    record: &mut Record,
    fields: &Map<String, Value>,
    now: i64,
) -> Result<(), HubSpotError> {
    let mut checked = Vec::new();
    for (name, raw) in fields {
        let def = store
            .property(kind, name)
            .ok_or_else(|| HubSpotError::Invalid(format!("Property {name:?} does not exist")))?;
        if def.read_only {
            return Err(HubSpotError::Invalid(format!(
                "{name} is a read only property; its value cannot be set"
            )));
        }
        checked.push((name.clone(), normalise(def, raw)?));
    }
    for (name, value) in checked {
        record.history.push(Change {
            property: name.clone(),
            value: value.clone(),
            at: now,
        });
        record.values.insert(name, value);
    }
    record.updated = now;
    Ok(())
}

pub(crate) fn create(
    store: &mut Store,
    kind: usize,
    fields: &Map<String, Value>,
    now: i64,
) -> Result<u64, HubSpotError> {
    let id = store.new_id();
    let mut record = Record::new(id, mix(store.seed, id), now);
    // A created record has only what it was given, no seeded values.
    record.seeded = false;
    apply(store, kind, &mut record, fields, now)?;
    store.records[kind].insert(id, record);
    store.reindex(kind, id, now);
    store.notice(kind, id, "creation", json!({"changeFlag": "NEW"}));
    Ok(id)
}

pub(crate) fn update(
    store: &mut Store,
    kind: usize,
    id: u64,
    fields: &Map<String, Value>,
    now: i64,
) -> Result<(), HubSpotError> {
    let id = store.resolve(kind, id);
    let mut record = store
        .live(kind, id)
        .cloned()
        .ok_or_else(|| not_found(store, kind, id))?;
    apply(store, kind, &mut record, fields, now)?;
    let changed: Vec<(String, String)> = fields
        .keys()
        .map(|name| {
            let value = record.values.get(name).cloned().flatten();
            (name.clone(), value.unwrap_or_default())
        })
        .collect();
    store.records[kind].insert(id, record);
    store.reindex(kind, id, now);
    for (name, value) in changed {
        let change = json!({"propertyName": name, "propertyValue": value});
        store.notice(kind, id, "propertyChange", change);
    }
    Ok(())
}

/// Moves a record to the recycling bin: only `archived=true` lists it; search drops it.
pub(crate) fn archive(
    store: &mut Store,
    kind: usize,
    id: u64,
    now: i64,
) -> Result<(), HubSpotError> {
    let id = store.resolve(kind, id);
    let record = store.records[kind]
        .get_mut(&id)
        .filter(|r| r.archived_at.is_none());
    let Some(record) = record else {
        return Err(not_found(store, kind, id));
    };
    record.archived_at = Some(now);
    record.updated = now;
    store.reindex(kind, id, now);
    store.notice(kind, id, "deletion", json!({"changeFlag": "DELETED"}));
    Ok(())
}

/// Brings an archived record back with the same id (and its associations).
pub(crate) fn restore(
    store: &mut Store,
    kind: usize,
    id: u64,
    now: i64,
) -> Result<(), HubSpotError> {
    let record = store.records[kind]
        .get_mut(&id)
        .filter(|r| r.archived_at.is_some());
    let Some(record) = record else {
        return Err(HubSpotError::Invalid(format!(
            "{id} is not an archived {}",
            store.types[kind].singular.to_lowercase()
        )));
    };
    record.archived_at = None;
    record.updated = now;
    store.reindex(kind, id, now);
    store.notice(kind, id, "restore", Value::Null);
    Ok(())
}

/// `absorbed` becomes part of `primary`: it leaves every list and search, its id reads as
/// `primary`, its associations move over, and `primary` lists it in `hs_merged_object_ids`.
pub(crate) fn merge(
    store: &mut Store,
    kind: usize,
    primary: u64,
    absorbed: u64,
    now: i64,
) -> Result<(), HubSpotError> {
    if !mergeable(&store.types[kind].name) {
        return Err(HubSpotError::Invalid(format!(
            "{} cannot be merged",
            store.types[kind].name
        )));
    }
    let (primary, absorbed) = (store.resolve(kind, primary), store.resolve(kind, absorbed));
    if primary == absorbed {
        return Err(HubSpotError::Invalid(
            "A record cannot be merged with itself".to_string(),
        ));
    }
    for id in [primary, absorbed] {
        if store.live(kind, id).is_none() {
            return Err(not_found(store, kind, id));
        }
    }
    let Some(gone) = store.records[kind].remove(&absorbed) else {
        return Err(not_found(store, kind, absorbed));
    };
    for (other_kind, other, types) in store.all_links(kind, absorbed) {
        store.unlink(kind, absorbed, other_kind, other);
        let from = store.types[kind].name.clone();
        let to = store.types[other_kind].name.clone();
        for type_id in types {
            if let Some(k) = super::catalog::kind_of(&from, &to, type_id) {
                if other_kind != kind || other != primary {
                    store.link(kind, primary, other_kind, other, &k);
                }
            }
        }
    }
    store.merged_into[kind].insert(absorbed, primary);
    if let Some(survivor) = store.records[kind].get_mut(&primary) {
        survivor.merged.push(absorbed);
        survivor.merged.extend(gone.merged);
        survivor.merged.sort_unstable();
        survivor.updated = now;
    }
    store.reindex(kind, absorbed, now);
    store.reindex(kind, primary, now);
    let merged = json!({"primaryObjectId": primary, "mergedObjectIds": [absorbed],
                        "newObjectId": primary});
    store.notice(kind, primary, "merge", merged);
    Ok(())
}

/// Permanently removes a contact and everything about it: no archive, no merge trace.
pub(crate) fn gdpr_delete(store: &mut Store, id: u64, now: i64) -> Result<(), HubSpotError> {
    let kind = store
        .kind_named("contacts")
        .ok_or_else(|| HubSpotError::UnknownType("contacts".to_string()))?;
    let id = store.resolve(kind, id);
    if store.records[kind].remove(&id).is_none() {
        return Err(not_found(store, kind, id));
    }
    for (other_kind, other, _) in store.all_links(kind, id) {
        store.unlink(kind, id, other_kind, other);
    }
    store.merged_into[kind].retain(|_, into| *into != id);
    store.reindex(kind, id, now);
    store.notice(kind, id, "privacyDeletion", Value::Null);
    Ok(())
}

/// Adds one association; association changes do not touch either record's modified date
/// (HubSpot does not reliably bump it either), so syncs need their own path for them.
pub(crate) fn associate(
    store: &mut Store,
    from: usize,
    a: u64,
    to: usize,
    b: u64,
    kind: &AssociationKind,
) -> Result<bool, HubSpotError> {
    if store.live(from, a).is_none() {
        return Err(not_found(store, from, a));
    }
    if store.live(to, b).is_none() {
        return Err(not_found(store, to, b));
    }
    let added = store.link(from, a, to, b, kind);
    if added {
        store.notice_association(from, a, to, b, false);
    }
    Ok(added)
}

pub(crate) fn dissociate(
    store: &mut Store,
    from: usize,
    a: u64,
    to: usize,
    b: u64,
) -> Result<bool, HubSpotError> {
    if !store.records[from].contains_key(&a) {
        return Err(not_found(store, from, a));
    }
    let removed = store.unlink(from, a, to, b);
    if removed {
        store.notice_association(from, a, to, b, true);
    }
    Ok(removed)
}

/// A new property on a type; existing records have no value for it.
pub(crate) fn add_property(
    store: &mut Store,
    kind: usize,
    mut def: PropertyDef,
    now: i64,
) -> Result<(), HubSpotError> {
    validate_kind(&def.kind, &def.field_type).map_err(HubSpotError::Invalid)?;
    if store.property(kind, &def.name).is_some() {
        return Err(HubSpotError::Invalid(format!(
            "A property named {:?} already exists",
            def.name
        )));
    }
    def.gen = Gen::Unset;
    def.hubspot_defined = false;
    def.created_at = now;
    def.updated_at = now;
    def.display_order = store.properties[kind].len() as i64;
    if def.group.is_empty() {
        def.group = "custom_fields".to_string();
    }
    store.push_property(kind, def);
    Ok(())
}

/// Changes a property's type; seeded values are regenerated for the new type, and values
/// set since are kept as text (HubSpot converts what it can).
pub(crate) fn change_property_type(
    store: &mut Store,
    kind: usize,
    name: &str,
    new_kind: &str,
    field_type: &str,
    now: i64,
) -> Result<(), HubSpotError> {
    validate_kind(new_kind, field_type).map_err(HubSpotError::Invalid)?;
    let def = store.properties[kind]
        .iter_mut()
        .find(|p| p.name == name)
        .ok_or_else(|| HubSpotError::Invalid(format!("Property {name:?} does not exist")))?;
    if def.read_only {
        return Err(HubSpotError::Invalid(format!(
            "{name} is computed by HubSpot; its type cannot change"
        )));
    }
    def.kind = new_kind.to_string();
    def.field_type = field_type.to_string();
    if def.gen != Gen::Unset {
        def.gen = Gen::for_kind(new_kind);
    }
    if new_kind != "enumeration" {
        def.options.clear();
    }
    def.updated_at = now;
    Ok(())
}
