//! The reference tables, read whole on every pass and swept (a row the pass did not see is
//! gone at HubSpot): owners, deal and ticket pipelines, their stages, and the labels of
//! every enumeration property's options (`property_option`: object type, property, the
//! internal value records hold, its label), so labels are a join away.

use inlet_core::{Column, ColumnType, ErrorKind, Record, SourceError, StreamSpec, Version};
use serde_json::{Map, Value};

use super::client::{invalid, CallError, HubSpotClient};
use super::streams::{properties_of, text, Catalog, PIPELINED};
use super::table::{timestamp, ObjectTable};
use super::time::parse_ms;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reference {
    Owners,
    Pipelines,
    Stages,
    PropertyOptions,
}

fn columns(list: &[(&str, ColumnType)]) -> Vec<Column> {
    list.iter().map(|(n, t)| Column::new(*n, *t)).collect()
}

fn time(v: &Value) -> Value {
    v.as_str().and_then(parse_ms).map_or(Value::Null, timestamp)
}

impl Reference {
    pub const ALL: [Reference; 4] = [
        Reference::Owners,
        Reference::Pipelines,
        Reference::Stages,
        Reference::PropertyOptions,
    ];

    pub fn table(self) -> &'static str {
        match self {
            Reference::Owners => "owner",
            Reference::Pipelines => "pipeline",
            Reference::Stages => "pipeline_stage",
            Reference::PropertyOptions => "property_option",
        }
    }

    pub fn spec(self) -> StreamSpec {
        use ColumnType as C;
        let columns = match self {
            Reference::Owners => columns(&[
                ("email", C::Text),
                ("first_name", C::Text),
                ("last_name", C::Text),
                ("user_id", C::Bigint),
                ("type", C::Text),
                ("archived", C::Boolean),
                ("teams", C::Jsonb),
                ("created_at", C::Timestamptz),
                ("updated_at", C::Timestamptz),
            ]),
            Reference::Pipelines => columns(&[
                ("object_type", C::Text),
                ("pipeline_id", C::Text),
                ("label", C::Text),
                ("display_order", C::Bigint),
                ("archived", C::Boolean),
                ("created_at", C::Timestamptz),
                ("updated_at", C::Timestamptz),
            ]),
            Reference::Stages => columns(&[
                ("object_type", C::Text),
                ("pipeline_id", C::Text),
                ("stage_id", C::Text),
                ("label", C::Text),
                ("display_order", C::Bigint),
                ("metadata", C::Jsonb),
                ("archived", C::Boolean),
                ("created_at", C::Timestamptz),
                ("updated_at", C::Timestamptz),
            ]),
            Reference::PropertyOptions => columns(&[
                ("object_type", C::Text),
                ("property", C::Text),
                ("value", C::Text),
                ("label", C::Text),
                ("display_order", C::Bigint),
            ]),
        };
        StreamSpec::new(self.table(), columns)
    }

    /// Whether the token may read this table (owners need their own scope; pipelines need
    /// deals or tickets; options come with the object types already found).
    pub async fn readable(
        self,
        client: &HubSpotClient,
        catalog: &Catalog,
    ) -> Result<bool, SourceError> {
        match self {
            Reference::Owners => match client.get("/crm/v3/owners?limit=1").await {
                Ok(_) => Ok(true),
                Err(CallError::Source(e)) if e.kind == ErrorKind::Forbidden => {
                    tracing::warn!(error = %e.message, "skipping owners: the token may not read them");
                    Ok(false)
                }
                Err(e) => Err(e.into_source()),
            },
            Reference::Pipelines | Reference::Stages => Ok(catalog
                .objects()
                .any(|t| PIPELINED.contains(&t.api.as_str()))),
            Reference::PropertyOptions => Ok(catalog.objects().next().is_some()),
        }
    }

    /// Every row, as of `now_ms` (the pass's version).
    pub async fn read(
        self,
        client: &HubSpotClient,
        catalog: &Catalog,
        now_ms: i64,
    ) -> Result<Vec<Record>, SourceError> {
        let version = Version::new(now_ms.saturating_mul(1000), 0);
        let row = |id: String, fields: Map<String, Value>| Record::upsert(id, version, fields);
        let mut out = Vec::new();
        match self {
            Reference::Owners => {
                let mut after: Option<String> = None;
                loop {
                    let path = match &after {
                        Some(a) => format!("/crm/v3/owners?limit=500&after={a}"),
                        None => "/crm/v3/owners?limit=500".to_string(),
                    };
                    let body = client.get(&path).await.map_err(CallError::into_source)?;
                    let results = body["results"]
                        .as_array()
                        .ok_or_else(|| invalid("/crm/v3/owners", "no results list"))?;
                    for o in results {
                        let Some(id) = text(&o["id"]) else { continue };
                        let mut f = Map::new();
                        f.insert("email".into(), o["email"].clone());
                        f.insert("first_name".into(), o["firstName"].clone());
                        f.insert("last_name".into(), o["lastName"].clone());
                        f.insert("user_id".into(), o["userId"].clone());
                        f.insert("type".into(), o["type"].clone());
                        f.insert("archived".into(), o["archived"].clone());
                        f.insert("teams".into(), o["teams"].clone());
                        f.insert("created_at".into(), time(&o["createdAt"]));
                        f.insert("updated_at".into(), time(&o["updatedAt"]));
                        out.push(row(id, f));
                    }
                    after = body["paging"]["next"]["after"]
                        .as_str()
                        .map(|a| url::form_urlencoded::byte_serialize(a.as_bytes()).collect());
                    if after.is_none() {
                        break;
                    }
                }
            }
            Reference::Pipelines | Reference::Stages => {
                for object in catalog
                    .objects()
                    .filter(|t| PIPELINED.contains(&t.api.as_str()))
                {
                    let path = format!("/crm/v3/pipelines/{}", object.api);
                    let body = client.get(&path).await.map_err(CallError::into_source)?;
                    let results = body["results"]
                        .as_array()
                        .ok_or_else(|| invalid(&path, "no results list"))?;
                    for p in results {
                        let Some(pid) = text(&p["id"]) else { continue };
                        let common = |f: &mut Map<String, Value>, v: &Value| {
                            f.insert("object_type".into(), Value::from(object.api.clone()));
                            f.insert("pipeline_id".into(), Value::from(pid.clone()));
                            f.insert("label".into(), v["label"].clone());
                            f.insert("display_order".into(), v["displayOrder"].clone());
                            f.insert("archived".into(), v["archived"].clone());
                            f.insert("created_at".into(), time(&v["createdAt"]));
                            f.insert("updated_at".into(), time(&v["updatedAt"]));
                        };
                        if self == Reference::Pipelines {
                            let mut f = Map::new();
                            common(&mut f, p);
                            out.push(row(format!("{}:{pid}", object.api), f));
                            continue;
                        }
                        for s in p["stages"].as_array().into_iter().flatten() {
                            let Some(sid) = text(&s["id"]) else { continue };
                            let mut f = Map::new();
                            common(&mut f, s);
                            f.insert("stage_id".into(), Value::from(sid.clone()));
                            f.insert("metadata".into(), s["metadata"].clone());
                            out.push(row(format!("{}:{pid}:{sid}", object.api), f));
                        }
                    }
                }
            }
            Reference::PropertyOptions => {
                // Each type's properties at once, not in turn: behind a busy rate limit a
                // whole portal's 13 in turn made a pass take 30 s, and a rebuild's copy
                // waited for a pass that started after the live table's last.
                let objects: Vec<&ObjectTable> = catalog.objects().collect();
                let apis: Vec<String> = objects.iter().map(|o| o.api.clone()).collect();
                let read = properties_of(client, apis).await;
                for (object, props) in objects.into_iter().zip(read) {
                    let Some(props) = props? else {
                        continue;
                    };
                    for p in props {
                        for (i, (value, label)) in p.options.iter().enumerate() {
                            let mut f = Map::new();
                            f.insert("object_type".into(), Value::from(object.api.clone()));
                            f.insert("property".into(), Value::from(p.name.clone()));
                            f.insert("value".into(), Value::from(value.clone()));
                            f.insert("label".into(), Value::from(label.clone()));
                            f.insert("display_order".into(), Value::from(i as i64));
                            out.push(row(format!("{}:{}:{value}", object.api, p.name), f));
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}
