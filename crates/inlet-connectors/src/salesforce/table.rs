//! One object as a table: a typed column per field describe lists ([`super::schema`]), the
//! record `Id` as the key; and a REST record as its row, versioned at its
//! `SystemModstamp` (a record in the Recycle Bin, `IsDeleted`, becomes a delete).

use inlet_core::{Column, ColumnType, Record, StreamSpec, Version};
use serde_json::{Map, Number, Value};

use super::schema::Columns;
use crate::hubspot::time::parse_ms;

/// An object as the sync reads it.
#[derive(Clone, Debug)]
pub struct ObjectTable {
    /// Its API name (`Account`, `Invoice__c`).
    pub api: String,
    /// The table: the API name in lower case (`account`, `invoice__c`).
    pub table: String,
    /// `(field name, column)`, in describe's order.
    pub fields: Vec<(String, Column)>,
    /// It has `IsDeleted`, so queryAll lists its deleted records.
    pub soft_deletes: bool,
    /// Fields not synced, and why.
    pub notes: Vec<String>,
}

/// Unix milliseconds of a datetime as the API writes it (`2013-05-20T20:49:32.000+0000`).
pub fn datetime_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    // `+0000` → `+00:00`, which the parser reads.
    let bytes = text.as_bytes();
    let n = bytes.len();
    if n > 5 && matches!(bytes[n - 5], b'+' | b'-') && bytes[n - 4..].iter().all(u8::is_ascii_digit)
    {
        return parse_ms(&format!("{}:{}", &text[..n - 2], &text[n - 2..]));
    }
    parse_ms(text)
}

/// Unix milliseconds as the writer's timestamptz value (seconds, fractional if need be).
fn seconds(ms: i64) -> Value {
    if ms % 1000 == 0 {
        Value::from(ms / 1000)
    } else {
        Number::from_f64(ms as f64 / 1000.0).map_or(Value::Null, Value::Number)
    }
}

/// A REST value as its column holds it; what does not fit is passed on as sent (the writer
/// keeps it in `_sync_extra`).
fn cell(ty: ColumnType, value: &Value) -> Value {
    match (ty, value) {
        (ColumnType::Timestamptz, Value::String(s)) => {
            datetime_ms(s).map_or_else(|| value.clone(), seconds)
        }
        (ColumnType::Time, Value::String(s)) => Value::String(s.trim_end_matches('Z').to_string()),
        (ColumnType::TextArray, Value::String(s)) => s
            .split(';')
            .filter(|v| !v.is_empty())
            .map(|v| Value::String(v.to_string()))
            .collect(),
        _ => value.clone(),
    }
}

impl ObjectTable {
    pub fn new(api: &str, columns: Columns) -> ObjectTable {
        let soft_deletes = columns.columns.iter().any(|(n, _)| n == "IsDeleted");
        ObjectTable {
            api: api.to_string(),
            table: api.to_lowercase(),
            fields: columns.columns,
            soft_deletes,
            notes: columns.notes,
        }
    }

    pub fn spec(&self) -> StreamSpec {
        StreamSpec::new(
            self.table.clone(),
            self.fields.iter().map(|(_, c)| c.clone()).collect(),
        )
    }

    /// `Id` and every field that is a column, for a SELECT list.
    pub fn select(&self) -> Vec<String> {
        std::iter::once("Id".to_string())
            .chain(self.fields.iter().map(|(n, _)| n.clone()))
            .collect()
    }

    /// The record a REST result becomes: a delete when it is in the Recycle Bin (deleted,
    /// or merged into another), else its row. `None` without an `Id` or `SystemModstamp`.
    pub fn record(&self, object: &Value) -> Option<(Record, Stamp)> {
        let id = object.get("Id")?.as_str()?.to_string();
        let text = object.get("SystemModstamp")?.as_str()?.to_string();
        let ms = datetime_ms(&text)?;
        let version = Version::new(ms.saturating_mul(1000), 0);
        let stamp = Stamp {
            text,
            ms,
            id: id.clone(),
        };
        if object.get("IsDeleted").and_then(Value::as_bool) == Some(true) {
            return Some((Record::delete(id, version), stamp));
        }
        let mut row = Map::new();
        for (name, column) in &self.fields {
            let value = object.get(name).map_or(Value::Null, |v| cell(column.ty, v));
            row.insert(column.name.clone(), value);
        }
        Some((Record::upsert(id, version, row), stamp))
    }
}

/// Where a record stands in `(SystemModstamp, Id)` order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// As the API wrote it.
    pub text: String,
    pub ms: i64,
    pub id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_core::Change;
    use serde_json::json;

    #[test]
    fn a_rest_record_becomes_a_typed_row_and_a_recycled_one_a_delete() {
        let describe = json!({"fields": [
            {"name": "Id", "type": "id"},
            {"name": "IsDeleted", "type": "boolean"},
            {"name": "Name", "type": "string"},
            {"name": "Tags__c", "type": "multipicklist"},
            {"name": "Cutoff__c", "type": "time"},
            {"name": "Amount", "type": "currency"},
            {"name": "SystemModstamp", "type": "datetime"},
        ]});
        let table = ObjectTable::new(
            "Account",
            super::super::schema::columns(&describe).expect("columns"),
        );
        assert_eq!(table.table, "account");
        assert!(table.soft_deletes);
        let object = json!({"attributes": {"type": "Account"}, "Id": "001000000000001AAA", "IsDeleted": false,
            "Name": "Acme", "Tags__c": "a;b", "Cutoff__c": "20:49:32.000Z", "Amount": 12.5,
            "SystemModstamp": "2013-05-20T20:49:32.000+0000"});
        let (record, stamp) = table.record(&object).expect("a record");
        assert_eq!(stamp.ms, 1_369_082_972_000);
        assert_eq!(record.version.ts_micros, 1_369_082_972_000_000);
        let Change::Upsert(row) = &record.change else {
            panic!("an upsert")
        };
        assert_eq!(row["tags__c"], json!(["a", "b"]));
        assert_eq!(row["cutoff__c"], json!("20:49:32.000"));
        assert_eq!(row["systemmodstamp"], json!(1_369_082_972));
        assert_eq!(row["amount"], json!(12.5));
        let mut gone = object.clone();
        gone["IsDeleted"] = json!(true);
        let (record, _) = table.record(&gone).expect("a record");
        assert_eq!(
            record,
            Record::delete("001000000000001AAA", Version::new(1_369_082_972_000_000, 0))
        );
        assert!(table.record(&json!({"Id": "x"})).is_none());
        assert_eq!(
            datetime_ms("2013-05-20T20:49:32.000-0100"),
            Some(1_369_086_572_000)
        );
    }
}
