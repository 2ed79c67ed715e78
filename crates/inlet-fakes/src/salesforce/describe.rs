//! Discovery: the versions list, a version's resources, describeGlobal and describe, in
//! the shapes Salesforce answers with (apis.md §3.2).

use serde_json::{json, Value};

use super::schema::{Field, SObject};
use super::{LATEST_VERSION, OLDEST_VERSION};

/// Salesforce's release name for an API version (three a year; 62.0 is Winter '25).
fn release(version: u32) -> String {
    let k = i64::from(version) - 62;
    let season = ["Winter", "Spring", "Summer"][k.rem_euclid(3) as usize];
    format!("{season} '{:02}", 25 + k.div_euclid(3))
}

/// `GET /services/data/`.
pub(crate) fn versions() -> Value {
    Value::Array(
        (OLDEST_VERSION..=LATEST_VERSION)
            .map(|v| json!({"label": release(v), "url": format!("/services/data/v{v}.0"), "version": format!("{v}.0")}))
            .collect(),
    )
}

/// `GET /services/data/vXX.X/`.
pub(crate) fn resources(version: &str) -> Value {
    let base = format!("/services/data/v{version}");
    let mut map = serde_json::Map::new();
    for name in [
        "sobjects", "query", "queryAll", "limits", "jobs", "recent", "search",
    ] {
        map.insert(name.into(), json!(format!("{base}/{name}")));
    }
    Value::Object(map)
}

fn urls(object: &SObject, version: &str) -> Value {
    let base = format!("/services/data/v{version}/sobjects/{}", object.name);
    json!({"sobject": base, "describe": format!("{base}/describe"), "rowTemplate": format!("{base}/{{ID}}")})
}

fn flags(object: &SObject, version: &str) -> serde_json::Map<String, Value> {
    let json = json!({
        "name": object.name,
        "label": object.label,
        "labelPlural": format!("{}s", object.label),
        "keyPrefix": object.prefix,
        "custom": object.custom,
        "customSetting": false,
        "queryable": true,
        "retrieveable": true,
        "replicateable": object.replicateable,
        "searchable": object.replicateable,
        "createable": object.replicateable,
        "updateable": object.replicateable,
        "deletable": object.deletable && object.replicateable,
        "undeletable": object.deletable && object.replicateable,
        "mergeable": object.mergeable,
        "layoutable": object.replicateable,
        "triggerable": object.replicateable,
        "feedEnabled": false,
        "deprecatedAndHidden": false,
        "activateable": false,
        "urls": urls(object, version),
    });
    match json {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// `GET /sobjects/`.
pub(crate) fn global(objects: &[&SObject], version: &str) -> Value {
    let sobjects: Vec<Value> = objects
        .iter()
        .map(|o| Value::Object(flags(o, version)))
        .collect();
    json!({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects})
}

fn field(f: &Field) -> Value {
    let calculated = f.calculated();
    let writable = !f.system && !calculated && !f.kind.is_compound() && f.name != "Id";
    let digits = if f.kind.name() == "int" {
        f.precision
    } else {
        0
    };
    let picklist: Vec<Value> = f
        .picklist
        .iter()
        .map(|v| json!({"value": v, "label": v, "active": true, "defaultValue": false, "validFor": null}))
        .collect();
    let length = f.length;
    json!({
        "name": f.name,
        "label": f.label,
        "type": f.kind.name(),
        "soapType": f.kind.soap_type(),
        "length": length,
        "byteLength": length * 3,
        "precision": if digits > 0 { 0 } else { f.precision },
        "scale": f.scale,
        "digits": digits,
        "nillable": f.nillable,
        "createable": writable,
        "updateable": writable,
        "calculated": calculated,
        "calculatedFormula": f.formula.as_ref().map(|(text, _)| text.clone()),
        "custom": f.custom,
        "externalId": f.external_id,
        "unique": f.external_id,
        "idLookup": f.name == "Id" || f.external_id,
        "filterable": !f.kind.is_compound() && f.kind.name() != "base64",
        "sortable": !f.kind.is_compound() && !matches!(f.kind.name(), "base64" | "multipicklist" | "textarea"),
        "groupable": f.kind.is_text(),
        "defaultedOnCreate": f.system || f.name == "OwnerId" || f.kind.name() == "boolean",
        "defaultValue": if f.kind.name() == "boolean" && !f.system { json!(false) } else { Value::Null },
        "autoNumber": matches!(f.name.as_str(), "CaseNumber"),
        "deprecatedAndHidden": false,
        "referenceTo": f.reference_to.iter().collect::<Vec<_>>(),
        "relationshipName": f.relationship,
        "picklistValues": picklist,
        "dependentPicklist": false,
        "controllerName": null,
        "compoundFieldName": f.compound,
        "extraTypeInfo": if f.html { json!("richtextarea") } else if f.kind.name() == "textarea" && f.name.ends_with("Street") { json!("plaintextarea") } else { Value::Null },
        "htmlFormatted": f.html,
        "encrypted": f.kind.name() == "encryptedstring",
        "highScaleNumber": false,
    })
}

/// `GET /sobjects/{name}/describe`.
pub(crate) fn describe(object: &SObject, version: &str) -> Value {
    let mut map = flags(object, version);
    map.insert(
        "fields".into(),
        Value::Array(object.fields.iter().map(field).collect()),
    );
    map.insert("childRelationships".into(), json!([]));
    map.insert(
        "recordTypeInfos".into(),
        json!([{"name": "Master", "recordTypeId": "012000000000000AAA", "available": true, "defaultRecordTypeMapping": true, "master": true}]),
    );
    Value::Object(map)
}

/// `GET /sobjects/{name}`: the object's basic information.
pub(crate) fn basic(object: &SObject, version: &str) -> Value {
    json!({"objectDescribe": Value::Object(flags(object, version)), "recentItems": []})
}
