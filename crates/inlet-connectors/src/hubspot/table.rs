//! One object type as a table: a typed column per property (from the properties API, see
//! [`super::schema`]), plus `created_at`, `updated_at`; and a record as its row.

use inlet_core::{column_name, Column, ColumnType, Record, StreamSpec, Version};
use serde_json::{Map, Number, Value};

use super::schema::{cell, Cell, Property, PropertyColumn};
use super::time::parse_ms;

/// An object type as the sync reads it.
#[derive(Clone, Debug)]
pub struct ObjectTable {
    /// How the API names it in paths (`contacts`, or a custom object's `2-123`).
    pub api: String,
    /// The table (`contact`).
    pub table: String,
    /// The modified-date property search windows filter on.
    pub modified: &'static str,
    pub properties: Vec<Property>,
}

fn column_type(c: PropertyColumn) -> ColumnType {
    match c {
        PropertyColumn::Text => ColumnType::Text,
        PropertyColumn::Numeric => ColumnType::Numeric,
        PropertyColumn::Timestamptz => ColumnType::Timestamptz,
        PropertyColumn::Date => ColumnType::Date,
        PropertyColumn::Boolean => ColumnType::Boolean,
        PropertyColumn::TextArray => ColumnType::TextArray,
    }
}

/// Unix milliseconds as the writer's timestamptz value (fractional seconds).
pub fn timestamp(ms: i64) -> Value {
    if ms % 1000 == 0 {
        Value::from(ms / 1000)
    } else {
        Number::from_f64(ms as f64 / 1000.0).map_or(Value::Null, Value::Number)
    }
}

/// The modified-date property of an object type: contacts differ from everything else.
pub fn modified_property(api: &str) -> &'static str {
    if api == "contacts" || api == "0-1" {
        "lastmodifieddate"
    } else {
        "hs_lastmodifieddate"
    }
}

impl ObjectTable {
    pub fn spec(&self) -> StreamSpec {
        let mut columns = vec![
            Column::new("created_at", ColumnType::Timestamptz),
            Column::new("updated_at", ColumnType::Timestamptz),
        ];
        for p in &self.properties {
            let name = column_name(&p.name).into_owned();
            if columns.iter().all(|c| c.name != name) {
                columns.push(Column::new(name, column_type(p.column())));
            }
        }
        StreamSpec::new(self.table.clone(), columns)
    }

    /// Every property's name, for a search or batch read body.
    pub fn property_names(&self) -> Vec<String> {
        self.properties.iter().map(|p| p.name.clone()).collect()
    }

    /// The record a search or read result becomes, versioned at its modified date (never
    /// before `at_least_ms`, for reads that are consistent as of a moment), and the ids it
    /// absorbed in merges (`hs_merged_object_ids`). `None` for a result without an id.
    pub fn record(&self, object: &Value, at_least_ms: i64) -> Option<(Record, Vec<String>)> {
        let id = object.get("id").and_then(Value::as_str)?.to_string();
        let props = object.get("properties").and_then(Value::as_object);
        let prop = |name: &str| props.and_then(|p| p.get(name)).and_then(Value::as_str);
        let time = |key: &str| object.get(key).and_then(Value::as_str).and_then(parse_ms);
        let modified = prop(self.modified)
            .and_then(parse_ms)
            .or_else(|| time("updatedAt"))
            .unwrap_or(0);
        let mut row = Map::new();
        row.insert(
            "created_at".into(),
            time("createdAt").map_or(Value::Null, timestamp),
        );
        row.insert(
            "updated_at".into(),
            time("updatedAt").map_or(Value::Null, timestamp),
        );
        for p in &self.properties {
            let raw = prop(&p.name);
            let value = match cell(p.column(), raw) {
                Ok(Cell::Null) => Value::Null,
                Ok(Cell::Text(t) | Cell::Numeric(t) | Cell::Date(t)) => Value::String(t),
                Ok(Cell::Timestamp(ms)) => timestamp(ms),
                Ok(Cell::Bool(b)) => Value::Bool(b),
                Ok(Cell::Array(items)) => items.into_iter().map(Value::String).collect(),
                // Kept as sent: the writer puts what does not fit its column in _sync_extra.
                Err(_) => raw.map_or(Value::Null, |t| Value::String(t.to_string())),
            };
            // An empty property is left out: the writer stores a missing field as NULL, and
            // most of a portal's hundreds of properties are empty on most records, which
            // then cost no memory while they wait for the writer.
            if !value.is_null() {
                row.insert(column_name(&p.name).into_owned(), value);
            }
        }
        let merged = prop("hs_merged_object_ids")
            .map(|ids| {
                ids.split(';')
                    .map(str::trim)
                    .filter(|s| !s.is_empty() && *s != id)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let version = Version::new(modified.max(at_least_ms).saturating_mul(1000), 0);
        Some((Record::upsert(id, version, row), merged))
    }

    /// The records of a page of results: each object, and a delete for every id a result
    /// absorbed in a merge (at the survivor's version: the merge is what changed it).
    pub fn records(&self, results: &[Value], at_least_ms: i64) -> Vec<Record> {
        let mut out = Vec::with_capacity(results.len());
        for object in results {
            if let Some((record, merged)) = self.record(object, at_least_ms) {
                let version = record.version;
                out.push(record);
                out.extend(merged.into_iter().map(|id| Record::delete(id, version)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_core::Change;
    use serde_json::json;

    fn property(name: &str, kind: &str, field_type: &str) -> Property {
        Property {
            name: name.into(),
            label: name.into(),
            kind: kind.into(),
            field_type: field_type.into(),
            options: Vec::new(),
        }
    }

    #[test]
    fn a_result_becomes_a_typed_row_and_its_merges_become_deletes() {
        let table = ObjectTable {
            api: "contacts".into(),
            table: "contact".into(),
            modified: "lastmodifieddate",
            properties: vec![
                property("lastmodifieddate", "datetime", "date"),
                property("score", "number", "number"),
                property("born", "date", "date"),
                property("tags", "enumeration", "checkbox"),
                property("vip", "bool", "booleancheckbox"),
                property("hs_merged_object_ids", "enumeration", "checkbox"),
                property("id", "string", "text"),
            ],
        };
        let spec = table.spec();
        assert!(spec
            .columns
            .contains(&Column::new("score", ColumnType::Numeric)));
        assert!(
            spec.columns.iter().any(|c| c.name == "src_id"),
            "id is inlet's"
        );
        let result = json!({"id": "7", "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-02T00:00:00.5Z",
            "properties": {"lastmodifieddate": "2024-01-02T00:00:00.500Z", "score": "12.50",
                           "born": "1990-05-01", "tags": "a;b", "vip": "maybe", "hs_merged_object_ids": "3;4"}});
        let records = table.records(&[result], 0);
        assert_eq!(records.len(), 3);
        assert_eq!(records[0].version.ts_micros, 1_704_153_600_500_000);
        let Change::Upsert(row) = &records[0].change else {
            panic!("an upsert")
        };
        assert_eq!(row["score"], json!("12.50"), "the exact text");
        assert_eq!(row["updated_at"], json!(1_704_153_600.5));
        assert_eq!(row["created_at"], json!(1_704_067_200));
        assert_eq!(row["born"], json!("1990-05-01"));
        assert_eq!(row["tags"], json!(["a", "b"]));
        assert_eq!(row["vip"], json!("maybe"), "a misfit is kept as sent");
        assert_eq!(records[1], Record::delete("3", records[0].version));
        let later = table.records(&[json!({"id": "8", "properties": {"score": null}})], 5);
        assert_eq!(
            later[0].version.ts_micros, 5_000,
            "a consistent read's moment"
        );
        let Change::Upsert(empty) = &later[0].change else {
            panic!("an upsert")
        };
        assert!(
            !empty.contains_key("score") && !empty.contains_key("born"),
            "empty properties are left out (the writer stores NULL): {empty:?}"
        );
    }
}
