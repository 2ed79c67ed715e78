//! The portal's description: properties (`/crm/v3/properties/{type}`, no paging), property
//! groups, owners (`/crm/v3/owners`, paged), pipelines with stages (`/crm/v3/pipelines/{type}`)
//! and custom object schemas (`/crm-object-schemas/v3/schemas`).

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::call::{parse_id, Call};
use super::catalog::{kinds, CUSTOM_NAME};
use super::clock::iso;
use super::errors::ApiError;
use super::properties::PropertyDef;
use super::store::Store;

/// `GET /crm/v3/properties/{type}`; HubSpot archives no property of a fresh portal.
pub(crate) fn properties(store: &Store, kind: usize, call: &Call) -> Result<Value, ApiError> {
    let results: Vec<Value> = if call.flag("archived")? {
        Vec::new()
    } else {
        store.properties[kind].iter().map(|p| p.to_json()).collect()
    };
    Ok(json!({"results": results}))
}

/// The legacy properties APIs (`GET /properties/v1|v2/{type}/properties`, and
/// `/companies/v2/properties`), which peers still call: a bare array, times in Unix ms,
/// the read-only flags at the top level instead of in `modificationMetadata`.
pub(crate) fn legacy_properties<'a>(properties: impl Iterator<Item = &'a PropertyDef>) -> Value {
    let all: Vec<Value> = properties
        .map(|p| {
            let options: Vec<Value> = p
                .options
                .iter()
                .enumerate()
                .map(|(i, (value, label))| {
                    json!({"label": label, "value": value, "description": null,
                           "displayOrder": i, "hidden": false, "readOnly": false})
                })
                .collect();
            json!({
                "name": p.name,
                "label": p.label,
                "description": p.description,
                "groupName": p.group,
                "type": p.kind,
                "fieldType": p.field_type,
                "options": options,
                "displayOrder": p.display_order,
                "calculated": false,
                "externalOptions": p.name == "hubspot_owner_id",
                "hasUniqueValue": p.name == "hs_object_id",
                "hidden": false,
                "hubspotDefined": p.hubspot_defined,
                "formField": !p.read_only,
                "readOnlyValue": p.read_only,
                "readOnlyDefinition": p.hubspot_defined,
                "mutableDefinitionNotDeletable": p.hubspot_defined,
                "deleted": false,
                "favorited": false,
                "favoritedOrder": -1,
                "createdAt": p.created_at,
                "updatedAt": p.updated_at,
                "createdUserId": null,
                "updatedUserId": null,
            })
        })
        .collect();
    Value::Array(all)
}

/// `GET /crm/v3/properties/{type}/{name}`
pub(crate) fn property(store: &Store, kind: usize, name: &str) -> Result<Value, ApiError> {
    store
        .property(kind, name)
        .map(|p| p.to_json())
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "Unable to find property {name} for object type {}",
                store.types[kind].type_id
            ))
        })
}

/// `GET /crm/v3/properties/{type}/groups`
pub(crate) fn groups(store: &Store, kind: usize) -> Value {
    let names: BTreeSet<&str> = store.properties[kind]
        .iter()
        .map(|p| p.group.as_str())
        .collect();
    let results: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, name)| json!({"name": name, "label": name.replace('_', " "), "displayOrder": i, "archived": false}))
        .collect();
    json!({"results": results})
}

pub(crate) fn owner_json(store: &Store, i: usize) -> Value {
    let o = &store.owners[i];
    json!({
        "id": o.id.to_string(),
        "email": o.email,
        "type": "PERSON",
        "firstName": o.first,
        "lastName": o.last,
        "userId": o.user_id,
        "userIdIncludingInactive": o.user_id,
        "createdAt": iso(o.created),
        "updatedAt": iso(o.created),
        "archived": false,
        "teams": [],
    })
}

/// `GET /crm/v3/owners/` (`limit` ≤ 500, `after`, `email`, `archived`).
pub(crate) fn owners(store: &Store, call: &Call) -> Result<Value, ApiError> {
    let limit = call.limit(100, 500)?;
    let start = call.param("after").map_or(Ok(0), |a| {
        a.parse::<usize>()
            .map_err(|_| ApiError::validation(format!("after {a:?} is not a cursor this API gave")))
    })?;
    let email = call.param("email");
    let matching: Vec<usize> = if call.flag("archived")? {
        Vec::new()
    } else {
        (0..store.owners.len())
            .filter(|i| email.is_none_or(|e| store.owners[*i].email.eq_ignore_ascii_case(e)))
            .collect()
    };
    let results: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(limit)
        .map(|i| owner_json(store, *i))
        .collect();
    let mut body = json!({"results": results});
    if start + limit < matching.len() {
        let after = (start + limit).to_string();
        body["paging"] = json!({"next": {"after": after, "link": format!("?after={after}")}});
    }
    Ok(body)
}

/// `GET /crm/v3/owners/{id}`
pub(crate) fn owner(store: &Store, id: &str) -> Result<Value, ApiError> {
    let id = parse_id(id);
    store
        .owners
        .iter()
        .position(|o| Some(o.id) == id)
        .map(|i| owner_json(store, i))
        .ok_or_else(|| ApiError::not_found("Owner not found"))
}

fn pipeline_json(store: &Store, kind: usize, i: usize) -> Value {
    let p = &store.pipelines[kind][i];
    let deals = store.types[kind].name == "deals";
    let stages: Vec<Value> = p
        .stages
        .iter()
        .enumerate()
        .map(|(n, (id, label, closed))| {
            let metadata = if deals {
                let probability = if *closed {
                    if label.contains("Won") || label == "Renewed" {
                        "1.0"
                    } else {
                        "0.0"
                    }
                } else {
                    "0.2"
                };
                json!({"isClosed": closed.to_string(), "probability": probability})
            } else {
                json!({"ticketState": if *closed { "CLOSED" } else { "OPEN" }})
            };
            json!({
                "label": label, "displayOrder": n, "metadata": metadata, "id": id,
                "createdAt": iso(p.created), "updatedAt": iso(p.created), "archived": false,
                "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
            })
        })
        .collect();
    json!({
        "label": p.label, "displayOrder": i, "id": p.id, "stages": stages,
        "createdAt": iso(p.created), "updatedAt": iso(p.created), "archived": false,
    })
}

/// `GET /crm/v3/pipelines/{type}`
pub(crate) fn pipelines(store: &Store, kind: usize) -> Value {
    let results: Vec<Value> = (0..store.pipelines[kind].len())
        .map(|i| pipeline_json(store, kind, i))
        .collect();
    json!({"results": results})
}

/// `GET /crm/v3/pipelines/{type}/{id}` (and `/stages`)
pub(crate) fn pipeline(
    store: &Store,
    kind: usize,
    id: &str,
    stages_only: bool,
) -> Result<Value, ApiError> {
    let i = store.pipelines[kind]
        .iter()
        .position(|p| p.id == id)
        .ok_or_else(|| ApiError::not_found(format!("Unable to find pipeline {id}")))?;
    let pipeline = pipeline_json(store, kind, i);
    Ok(if stages_only {
        json!({"results": pipeline["stages"]})
    } else {
        pipeline
    })
}

fn schema_json(store: &Store, kind: usize) -> Value {
    let t = &store.types[kind];
    let associations: Vec<Value> = kinds()
        .into_iter()
        .filter(|k| k.from == CUSTOM_NAME || k.to == CUSTOM_NAME)
        .filter_map(|k| {
            let from = store.kind_named(k.from)?;
            let to = store.kind_named(k.to)?;
            Some(json!({
                "id": k.type_id.to_string(),
                "fromObjectTypeId": store.types[from].type_id,
                "toObjectTypeId": store.types[to].type_id,
                "name": format!("{}_to_{}", k.from, k.to),
                "createdAt": iso(store.history_end),
                "updatedAt": iso(store.history_end),
            }))
        })
        .collect();
    let born = store.properties[kind]
        .first()
        .map_or(store.history_end, |p| p.created_at);
    json!({
        "id": t.type_id.trim_start_matches("2-"),
        "createdAt": iso(born),
        "updatedAt": iso(born),
        "archived": false,
        "labels": {"singular": t.singular, "plural": "Cars"},
        "requiredProperties": ["model"],
        "searchableProperties": ["model", "vin"],
        "primaryDisplayProperty": "model",
        "secondaryDisplayProperties": ["make"],
        "description": "Cars our customers drive",
        "objectTypeId": t.type_id,
        "fullyQualifiedName": t.fully_qualified,
        "name": t.name,
        "properties": store.properties[kind].iter().map(|p| p.to_json()).collect::<Vec<_>>(),
        "associations": associations,
    })
}

/// `GET /crm-object-schemas/v3/schemas`
pub(crate) fn schemas(store: &Store) -> Value {
    let results: Vec<Value> = (0..store.types.len())
        .filter(|k| store.types[*k].custom())
        .map(|k| schema_json(store, k))
        .collect();
    json!({"results": results})
}

/// `GET /crm-object-schemas/v3/schemas/{type}`
pub(crate) fn schema(store: &Store, name: &str) -> Result<Value, ApiError> {
    store
        .kind(name)
        .filter(|k| store.types[*k].custom())
        .map(|k| schema_json(store, k))
        .ok_or_else(|| ApiError::not_found(format!("Unable to find object schema {name}")))
}
