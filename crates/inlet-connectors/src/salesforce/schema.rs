//! From describe to typed columns (issue #15, item 2): id/reference and every text-like
//! type → text, multipicklist → text[] (values split on `;`), boolean → boolean, int and
//! long → bigint, double/currency/percent → numeric (exact), date → date, datetime →
//! timestamptz, time → time. Compound fields (address, location) are not columns: their
//! components are fields of their own. base64 bodies are skipped with a note (they are
//! URLs to blobs, and Bulk API 2.0 refuses them). `Id` is the table's primary key.

use inlet_core::{column_name, Column, ColumnType};
use serde_json::Value;

/// The columns an object's describe gives, and what was left out and why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Columns {
    /// `(field name, column)`, in describe's order.
    pub columns: Vec<(String, Column)>,
    /// Fields not synced, each with the reason, for the stream's status.
    pub notes: Vec<String>,
    /// Compound fields: never selected (their components are), and refused by Bulk.
    pub compound: Vec<String>,
}

/// The column type of a describe `type`; `None` when the field is not a column.
pub fn column_type(kind: &str) -> Option<ColumnType> {
    Some(match kind {
        "boolean" => ColumnType::Boolean,
        "int" | "long" => ColumnType::Bigint,
        "double" | "currency" | "percent" => ColumnType::Numeric,
        "date" => ColumnType::Date,
        "datetime" => ColumnType::Timestamptz,
        "time" => ColumnType::Time,
        "multipicklist" => ColumnType::TextArray,
        "address" | "location" | "base64" => return None,
        _ => ColumnType::Text,
    })
}

/// The columns of the object `describe` (a DescribeSObjectResult) describes.
pub fn columns(describe: &Value) -> Result<Columns, String> {
    let fields = describe
        .get("fields")
        .and_then(Value::as_array)
        .ok_or("the describe answer has no list of fields")?;
    let mut out = Columns::default();
    for field in fields {
        let (Some(name), Some(kind)) = (
            field.get("name").and_then(Value::as_str),
            field.get("type").and_then(Value::as_str),
        ) else {
            return Err("a field in the describe answer has no name or type".into());
        };
        match column_type(kind) {
            _ if name == "Id" => {}
            Some(ty) => out
                .columns
                .push((name.to_string(), Column::new(column_of(name), ty))),
            None if kind == "base64" => out.notes.push(format!(
                "{name} is not synced: base64 fields are file bodies that the query API only links to"
            )),
            None => out.compound.push(name.to_string()),
        }
    }
    Ok(out)
}

/// A field's column: its API name in lower case, as Salesforce itself compares names
/// (SOQL's `SystemModstamp` and `systemmodstamp` are one field), so SQL needs no quotes.
pub fn column_of(field: &str) -> String {
    column_name(&field.to_lowercase()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn describe_types_become_the_columns_the_issue_names_and_compounds_become_components() {
        let describe = json!({"fields": [
            {"name": "Id", "type": "id"},
            {"name": "Name", "type": "string"},
            {"name": "ParentId", "type": "reference"},
            {"name": "Tags__c", "type": "multipicklist"},
            {"name": "Active__c", "type": "boolean"},
            {"name": "NumberOfEmployees", "type": "int"},
            {"name": "AnnualRevenue", "type": "currency"},
            {"name": "Rate__c", "type": "percent"},
            {"name": "Due__c", "type": "date"},
            {"name": "SystemModstamp", "type": "datetime"},
            {"name": "Cutoff__c", "type": "time"},
            {"name": "BillingCity", "type": "string", "compoundFieldName": "BillingAddress"},
            {"name": "BillingLatitude", "type": "double", "compoundFieldName": "BillingAddress"},
            {"name": "BillingAddress", "type": "address"},
            {"name": "Body", "type": "base64"},
            {"name": "OldValue", "type": "anyType"},
        ]});
        let got = columns(&describe).expect("columns");
        let types: Vec<(&str, &str)> = got
            .columns
            .iter()
            .map(|(name, c)| (name.as_str(), c.ty.sql()))
            .collect();
        assert_eq!(
            types,
            vec![
                ("Name", "text"),
                ("ParentId", "text"),
                ("Tags__c", "text[]"),
                ("Active__c", "boolean"),
                ("NumberOfEmployees", "bigint"),
                ("AnnualRevenue", "numeric"),
                ("Rate__c", "numeric"),
                ("Due__c", "date"),
                ("SystemModstamp", "timestamptz"),
                ("Cutoff__c", "time"),
                ("BillingCity", "text"),
                ("BillingLatitude", "numeric"),
                ("OldValue", "text"),
            ]
        );
        assert_eq!(got.compound, vec!["BillingAddress"]);
        // Columns need no quotes in SQL: `systemmodstamp`, `tags__c`.
        assert!(got
            .columns
            .iter()
            .all(|(field, c)| c.name == field.to_lowercase()));
        assert_eq!(got.notes.len(), 1);
        assert!(got.notes[0].starts_with("Body is not synced"));
        assert!(columns(&json!({"fields": [{"name": "X"}]})).is_err());
        assert!(columns(&json!([])).is_err());
    }
}
