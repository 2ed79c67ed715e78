//! HubSpot's streams: the twelve standard CRM objects, the portal's custom objects (from the
//! schemas API), and four reference tables read whole on each pass (owners, pipelines,
//! pipeline stages, enumeration options). Which exist, and their columns, is found out by
//! asking the portal ([`discover`]): a token without a type's scope leaves that type out,
//! named in the log, and the rest sync.

use inlet_core::{column_name, ErrorKind, SourceError, StreamSpec};
use serde_json::Value;

use super::client::{CallError, HubSpotClient};
use super::reference::Reference;
use super::schema::{parse_properties, Property};
use super::table::{modified_property, ObjectTable};

/// `(API name, table)` of the standard objects.
pub const OBJECTS: [(&str, &str); 12] = [
    ("contacts", "contact"),
    ("companies", "company"),
    ("deals", "deal"),
    ("tickets", "ticket"),
    ("products", "product"),
    ("line_items", "line_item"),
    ("quotes", "quote"),
    ("calls", "call"),
    ("emails", "email"),
    ("meetings", "meeting"),
    ("notes", "note"),
    ("tasks", "task"),
];

/// The object types that have pipelines.
pub const PIPELINED: [&str; 2] = ["deals", "tickets"];

/// Every stream name known without asking the portal (custom objects are found by
/// [`discover`], and sync unless `streams` names others).
pub fn stream_names() -> Vec<&'static str> {
    OBJECTS
        .iter()
        .map(|(_, t)| *t)
        .chain(Reference::ALL.iter().map(|r| r.table()))
        .collect()
}

#[derive(Clone, Debug)]
pub enum StreamDef {
    Object(ObjectTable),
    Reference(Reference),
}

impl StreamDef {
    pub fn name(&self) -> &str {
        match self {
            StreamDef::Object(t) => &t.table,
            StreamDef::Reference(r) => r.table(),
        }
    }

    pub fn spec(&self) -> StreamSpec {
        match self {
            StreamDef::Object(t) => t.spec(),
            StreamDef::Reference(r) => r.spec(),
        }
    }
}

/// What the portal has: its readable object types, with their properties.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub streams: Vec<StreamDef>,
}

impl Catalog {
    pub fn objects(&self) -> impl Iterator<Item = &ObjectTable> {
        self.streams.iter().filter_map(|s| match s {
            StreamDef::Object(t) => Some(t),
            StreamDef::Reference(_) => None,
        })
    }
}

/// A type's properties, `Ok(None)` when the token lacks its scope (said in the log).
pub async fn properties(
    client: &HubSpotClient,
    api: &str,
) -> Result<Option<Vec<Property>>, SourceError> {
    let path = format!("/crm/v3/properties/{api}");
    match client.get(&path).await {
        Ok(body) => parse_properties(&body)
            .map(Some)
            .map_err(|e| super::client::invalid(&path, &e.to_string())),
        Err(CallError::Source(e)) if e.kind == ErrorKind::Forbidden => {
            tracing::warn!(object = api, error = %e.message, "skipping an object type the token may not read");
            Ok(None)
        }
        Err(e) => Err(e.into_source()),
    }
}

/// A table name from a label: `Car Model` → `car_model`.
fn snake(label: &str) -> String {
    let mut out = String::new();
    for c in label.trim().chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_string()
}

/// The custom objects' `(API name, table)`; none when the token may not read schemas.
async fn custom_objects(client: &HubSpotClient) -> Result<Vec<(String, String)>, SourceError> {
    let path = "/crm-object-schemas/v3/schemas";
    let body = match client.get(path).await {
        Ok(body) => body,
        Err(CallError::Source(e)) if e.kind == ErrorKind::Forbidden => {
            tracing::warn!(error = %e.message, "skipping custom objects: the token may not read their schemas");
            return Ok(Vec::new());
        }
        Err(e) => return Err(e.into_source()),
    };
    let results = body["results"]
        .as_array()
        .ok_or_else(|| super::client::invalid(path, "no results list"))?;
    let mut out = Vec::new();
    for schema in results {
        let Some(api) = schema["objectTypeId"].as_str() else {
            continue;
        };
        let label = schema["labels"]["singular"]
            .as_str()
            .or(schema["name"].as_str())
            .unwrap_or(api);
        let mut table = snake(label);
        let taken = |t: &str| {
            stream_names().contains(&t) || out.iter().any(|(_, o): &(String, String)| o == t)
        };
        if table.is_empty() || taken(&table) {
            table = format!("custom_{}", snake(api));
        }
        out.push((api.to_string(), column_name(&table).into_owned()));
    }
    Ok(out)
}

/// Asks the portal which streams it has and what their columns are. `wanted`: the stream
/// names configured (`None`: all, custom objects included).
pub async fn discover(
    client: &HubSpotClient,
    wanted: Option<&[String]>,
) -> Result<Catalog, SourceError> {
    let wants = |name: &str| wanted.is_none_or(|w| w.iter().any(|n| n == name));
    let mut types: Vec<(String, String)> = OBJECTS
        .iter()
        .filter(|(_, t)| wants(t))
        .map(|(a, t)| (a.to_string(), t.to_string()))
        .collect();
    if wanted.is_none() {
        types.extend(custom_objects(client).await?);
    }
    let mut catalog = Catalog::default();
    for (api, table) in types {
        if let Some(properties) = properties(client, &api).await? {
            catalog.streams.push(StreamDef::Object(ObjectTable {
                modified: modified_property(&api),
                api,
                table,
                properties,
            }));
        }
    }
    for reference in Reference::ALL {
        if wants(reference.table()) && reference.readable(client, &catalog).await? {
            catalog.streams.push(StreamDef::Reference(reference));
        }
    }
    if catalog.streams.is_empty() {
        return Err(SourceError::new(
            ErrorKind::Forbidden,
            "the access token may not read any of the streams asked for",
        )
        .with_fix(
            "give the private app the crm.objects.*.read and crm.schemas.*.read scopes \
             (Settings → Integrations → Private Apps → Scopes)",
        ));
    }
    Ok(catalog)
}

/// An object type's API name from its table, in a catalog.
pub fn find<'a>(catalog: &'a Catalog, name: &str) -> Option<&'a StreamDef> {
    catalog.streams.iter().find(|s| s.name() == name)
}

/// The text of a JSON value that may be a string or a number (ids, display orders).
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_become_snake_case_table_names() {
        assert_eq!(snake("Car"), "car");
        assert_eq!(snake(" Car  Model (EU) "), "car_model_eu");
        assert_eq!(snake("2-1234"), "2_1234");
    }
}
