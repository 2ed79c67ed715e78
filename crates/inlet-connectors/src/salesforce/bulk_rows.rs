//! Bulk API 2.0 results as rows. Each CSV row ([`super::csv`]) becomes the JSON record the
//! REST API gives for the same record, typed by describe (a boolean, a number keeping its
//! exact text, everything else text), and then the very row the REST path makes of it
//! ([`ObjectTable::record`]): same columns, same value types, same version. So a record
//! read by Bulk and read again by a poll is the same row, and the change log sees no
//! change.
//!
//! A null is an empty unquoted field. An empty *quoted* field is an empty string: kept as
//! one for a text field (Salesforce stores empty text as null, so it does not write one),
//! and null for a boolean, number, date or time, which cannot be empty.

use inlet_core::{ColumnType, Record};
use serde_json::{Map, Number, Value};

use super::csv::{Chunk, Values};
use super::table::ObjectTable;

/// How the rows of a chunk read: its header, and each column's type by the header's field
/// name (`None` for `Id` and for anything the table has no column for: both text).
#[derive(Debug)]
pub struct Shape {
    header: Vec<String>,
    types: Vec<Option<ColumnType>>,
}

impl Shape {
    pub fn new(table: &ObjectTable, header: Vec<String>) -> Shape {
        let types = (header.iter())
            .map(|name| {
                (table.fields.iter())
                    .find(|(field, _)| field == name)
                    .map(|(_, column)| column.ty)
            })
            .collect();
        Shape { header, types }
    }

    /// Values in a row.
    pub fn width(&self) -> usize {
        self.header.len()
    }

    /// The record row `n` (from 1) of the chunk makes; an error in plain words for a row
    /// without `Id` or `SystemModstamp`.
    pub fn record(&self, table: &ObjectTable, row: Values, n: u64) -> Result<Record, String> {
        let object: Map<String, Value> = (self.header.iter().zip(&self.types).zip(row))
            .map(|((name, ty), text)| (name.clone(), typed(*ty, text)))
            .collect();
        let (record, _) = table
            .record(&Value::Object(object))
            .ok_or_else(|| format!("row {n} has no Id or SystemModstamp"))?;
        Ok(record)
    }
}

/// The records a whole chunk makes (the backfill reads a chunk in pages instead:
/// [`super::bulk_chunk`]).
pub fn records(table: &ObjectTable, chunk: &Chunk) -> Result<Vec<Record>, String> {
    let shape = Shape::new(table, chunk.header.clone());
    (chunk.rows.iter().cloned().zip(1..))
        .map(|(row, n)| shape.record(table, row, n))
        .collect()
}

/// A CSV value as REST JSON shows it; what does not read as its type is passed on as text
/// (the writer keeps it in `_sync_extra`, as it does a REST value that does not fit).
fn typed(ty: Option<ColumnType>, text: Option<String>) -> Value {
    let Some(text) = text else {
        return Value::Null;
    };
    match ty {
        None | Some(ColumnType::Text) => Value::String(text),
        _ if text.is_empty() => Value::Null,
        Some(ColumnType::Boolean) => match text.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text),
        },
        // The number's own digits (`arbitrary_precision`): exact, as REST's JSON is.
        Some(ColumnType::Bigint | ColumnType::Numeric) => {
            match serde_json::from_str::<Number>(&text) {
                Ok(number) => Value::Number(number),
                Err(_) => Value::String(text),
            }
        }
        Some(_) => Value::String(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::salesforce::{csv, schema};
    use inlet_core::{Change, Version};
    use serde_json::json;

    fn table() -> ObjectTable {
        let describe = json!({"fields": [
            {"name": "Id", "type": "id"},
            {"name": "IsDeleted", "type": "boolean"},
            {"name": "Name", "type": "string"},
            {"name": "Description", "type": "textarea"},
            {"name": "Tags__c", "type": "multipicklist"},
            {"name": "Paid__c", "type": "boolean"},
            {"name": "Seats__c", "type": "int"},
            {"name": "Amount__c", "type": "currency"},
            {"name": "Due__c", "type": "date"},
            {"name": "Cutoff__c", "type": "time"},
            {"name": "SystemModstamp", "type": "datetime"},
        ]});
        ObjectTable::new("Invoice__c", schema::columns(&describe).expect("columns"))
    }

    #[test]
    fn a_csv_row_becomes_the_row_the_rest_path_makes_of_the_same_record() {
        let table = table();
        let text = "\"Id\",\"IsDeleted\",\"Name\",\"Description\",\"Tags__c\",\"Paid__c\",\"Seats__c\",\"Amount__c\",\"Due__c\",\"Cutoff__c\",\"SystemModstamp\"\n\
            \"a00000000000001AAA\",\"false\",\"Acme, \"\"the\"\" best\",\"two\nlines\",\"a;b\",\"true\",\"12\",\"12345678901234567.89\",\"2024-02-29\",\"20:49:32.000Z\",\"2013-05-20T20:49:32.000Z\"\n";
        let chunk = csv::parse(text, ',').expect("csv");
        let from_csv = records(&table, &chunk).expect("records");
        let rest = json!({"attributes": {"type": "Invoice__c"}, "Id": "a00000000000001AAA",
            "IsDeleted": false, "Name": "Acme, \"the\" best", "Description": "two\nlines",
            "Tags__c": "a;b", "Paid__c": true, "Seats__c": 12,
            "Amount__c": serde_json::from_str::<Value>("12345678901234567.89").expect("number"),
            "Due__c": "2024-02-29", "Cutoff__c": "20:49:32.000Z",
            "SystemModstamp": "2013-05-20T20:49:32.000+0000"});
        let (from_rest, _) = table.record(&rest).expect("a record");
        assert_eq!(from_csv, vec![from_rest]);
        let Change::Upsert(row) = &from_csv[0].change else {
            panic!("an upsert")
        };
        assert_eq!(row["tags__c"], json!(["a", "b"]));
        assert_eq!(row["paid__c"], json!(true));
        assert_eq!(
            row["amount__c"].to_string(),
            "12345678901234567.89",
            "digit for digit"
        );
        assert_eq!(row["systemmodstamp"], json!(1_369_082_972));
        assert_eq!(from_csv[0].version, Version::new(1_369_082_972_000_000, 0));
    }

    #[test]
    fn null_is_an_unquoted_empty_field_and_a_quoted_empty_one_is_empty_text() {
        let table = table();
        let text = "\"Id\",\"Name\",\"Description\",\"Seats__c\",\"Paid__c\",\"Due__c\",\"SystemModstamp\"\n\
            \"a00000000000001AAA\",,\"\",\"\",,\"\",\"2013-05-20T20:49:32.000Z\"\n";
        let chunk = csv::parse(text, ',').expect("csv");
        let got = records(&table, &chunk).expect("records");
        let Change::Upsert(row) = &got[0].change else {
            panic!("an upsert")
        };
        assert_eq!(row["name"], Value::Null);
        assert_eq!(row["description"], json!(""));
        assert_eq!(row["seats__c"], Value::Null);
        assert_eq!(row["paid__c"], Value::Null);
        assert_eq!(row["due__c"], Value::Null);
        assert_eq!(row["tags__c"], Value::Null, "a column not in the chunk");
        let junk = csv::parse("\"Id\",\"Seats__c\",\"SystemModstamp\"\n\"a0\",\"many\",\"2013-05-20T20:49:32.000Z\"\n", ',')
            .expect("csv");
        let got = records(&table, &junk).expect("records");
        let Change::Upsert(row) = &got[0].change else {
            panic!("an upsert")
        };
        assert_eq!(row["seats__c"], json!("many"), "passed on as sent");
        let no_stamp = csv::parse("\"Id\",\"Name\"\n\"a0\",\"x\"\n", ',').expect("csv");
        assert_eq!(
            records(&table, &no_stamp).expect_err("refused"),
            "row 1 has no Id or SystemModstamp"
        );
    }
}
