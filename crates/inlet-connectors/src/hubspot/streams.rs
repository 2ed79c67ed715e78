//! HubSpot's streams: the twelve standard CRM objects, the portal's custom objects (from the
//! schemas API), and four reference tables read whole on each pass (owners, pipelines,
//! pipeline stages, enumeration options). Which exist, and their columns, is found out by
//! asking the portal ([`discover`]): a token without a type's scope leaves that type out,
//! named in the log, and the rest sync.

use futures_util::StreamExt;
use inlet_core::{column_name, ErrorKind, SourceError, StreamSpec};
use serde_json::Value;

use super::associations::{Pair, PAIRS};
use super::client::{CallError, HubSpotClient};
use super::reference::Reference;
use super::schema::{parse_properties, Property};
use super::table::{modified_property, ObjectTable};

/// `(API name, table, type id)` of the standard objects.
pub const OBJECTS: [(&str, &str, &str); 12] = [
    ("contacts", "contact", "0-1"),
    ("companies", "company", "0-2"),
    ("deals", "deal", "0-3"),
    ("tickets", "ticket", "0-5"),
    ("products", "product", "0-7"),
    ("line_items", "line_item", "0-8"),
    ("quotes", "quote", "0-14"),
    ("calls", "call", "0-48"),
    ("emails", "email", "0-49"),
    ("meetings", "meeting", "0-47"),
    ("notes", "note", "0-46"),
    ("tasks", "task", "0-27"),
];

/// The table of a standard object type.
fn table_of(api: &str) -> Option<&'static str> {
    OBJECTS
        .iter()
        .find(|(a, _, _)| *a == api)
        .map(|(_, t, _)| *t)
}

/// The object types that have pipelines.
pub const PIPELINED: [&str; 2] = ["deals", "tickets"];

/// Every stream name known without asking the portal (custom objects are found by
/// [`discover`], and sync unless `streams` names others).
pub fn stream_names() -> Vec<&'static str> {
    static PAIR_TABLES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let pairs = PAIR_TABLES.get_or_init(|| {
        PAIRS
            .iter()
            .filter_map(|(f, t)| Some(Pair::new(f, t, table_of(f)?, table_of(t)?).table))
            .collect()
    });
    OBJECTS
        .iter()
        .map(|(_, t, _)| *t)
        .chain(Reference::ALL.iter().map(|r| r.table()))
        .chain(pairs.iter().map(String::as_str))
        .collect()
}

#[derive(Clone, Debug)]
pub enum StreamDef {
    Object(ObjectTable),
    Reference(Reference),
    Association(Pair),
}

impl StreamDef {
    pub fn name(&self) -> &str {
        match self {
            StreamDef::Object(t) => &t.table,
            StreamDef::Reference(r) => r.table(),
            StreamDef::Association(p) => &p.table,
        }
    }

    pub fn spec(&self) -> StreamSpec {
        match self {
            StreamDef::Object(t) => t.spec(),
            StreamDef::Reference(r) => r.spec(),
            StreamDef::Association(p) => p.spec(),
        }
    }
}

/// What the portal has: its readable object types, with their properties.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub streams: Vec<StreamDef>,
    /// When the properties were read (Unix ms).
    pub read_ms: i64,
}

impl Catalog {
    pub fn objects(&self) -> impl Iterator<Item = &ObjectTable> {
        self.streams.iter().filter_map(|s| match s {
            StreamDef::Object(t) => Some(t),
            _ => None,
        })
    }

    pub fn pairs(&self) -> impl Iterator<Item = &Pair> {
        self.streams.iter().filter_map(|s| match s {
            StreamDef::Association(p) => Some(p),
            _ => None,
        })
    }
}

/// Properties requests in flight at once while discovering or reading the options (the
/// sync's rate limit paces them as any other request).
const PROPERTIES_AT_ONCE: usize = 8;

/// The properties of each of the types `apis` ([`properties`]), in their order, several
/// requests at once.
pub async fn properties_of(
    client: &HubSpotClient,
    apis: Vec<String>,
) -> Vec<Result<Option<Vec<Property>>, SourceError>> {
    futures_util::stream::iter(apis)
        .map(|api| async move { properties(client, &api).await })
        .buffered(PROPERTIES_AT_ONCE)
        .collect()
        .await
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

/// A custom object: its API name (type id), table, and the types its schema associates it
/// with (by type id).
struct Custom {
    api: String,
    table: String,
    to: Vec<String>,
}

/// The custom objects; none when the token may not read schemas.
async fn custom_objects(client: &HubSpotClient) -> Result<Vec<Custom>, SourceError> {
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
        let taken =
            |t: &str| stream_names().contains(&t) || out.iter().any(|c: &Custom| c.table == t);
        if table.is_empty() || taken(&table) {
            table = format!("custom_{}", snake(api));
        }
        let to = (schema["associations"].as_array().into_iter().flatten())
            .filter(|a| a["fromObjectTypeId"].as_str() == Some(api))
            .filter_map(|a| a["toObjectTypeId"].as_str().map(str::to_string))
            .collect();
        out.push(Custom {
            api: api.to_string(),
            table: column_name(&table).into_owned(),
            to,
        });
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
        .filter(|(_, t, _)| wants(t))
        .map(|(a, t, _)| (a.to_string(), t.to_string()))
        .collect();
    let customs = match wanted {
        None => custom_objects(client).await?,
        Some(_) => Vec::new(),
    };
    types.extend(customs.iter().map(|c| (c.api.clone(), c.table.clone())));
    let mut catalog = Catalog {
        read_ms: super::client::now_ms(),
        ..Catalog::default()
    };
    // Each type's properties are a request of their own: read several at once (a portal
    // has 13 types and more; one after another they took 3 s at 250 ms a call).
    let read = properties_of(client, types.iter().map(|(api, _)| api.clone()).collect()).await;
    for ((api, table), properties) in types.into_iter().zip(read) {
        if let Some(properties) = properties? {
            catalog.streams.push(StreamDef::Object(ObjectTable {
                modified: modified_property(&api),
                api,
                table,
                properties,
            }));
        }
    }
    // Associations between types the token may read: the standard pairs, and each custom
    // object's, as its schema lists them.
    let mut pairs: Vec<(String, String)> = (PAIRS.iter())
        .map(|(f, t)| (f.to_string(), t.to_string()))
        .collect();
    for custom in &customs {
        for to in &custom.to {
            if let Some((api, _, _)) = OBJECTS.iter().find(|(_, _, id)| id == to) {
                pairs.push((custom.api.clone(), api.to_string()));
            }
        }
    }
    let tables: Vec<(String, String)> = catalog
        .objects()
        .map(|t| (t.api.clone(), t.table.clone()))
        .collect();
    let table = |api: &str| {
        tables
            .iter()
            .find(|(a, _)| a == api)
            .map(|(_, t)| t.clone())
    };
    for (from, to) in pairs {
        if let (Some(ft), Some(tt)) = (table(&from), table(&to)) {
            let pair = Pair::new(&from, &to, &ft, &tt);
            if wants(&pair.table) {
                catalog.streams.push(StreamDef::Association(pair));
            }
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

/// The stream called `name` in a catalog.
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
