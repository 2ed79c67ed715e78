//! Additive evolution while syncing: a field no column holds yet becomes a new column,
//! typed from its first non-null value, with `alter table ... add column` (no rebuild, no
//! rewrite: the column is nullable and has no default, so this is a catalog change).
//!
//! A stream's declared columns come first (`ensure_table`); this catches what the source
//! added since. A source that says what its columns now are (a batch's `columns`) gets them
//! with their declared types ([`declared_changes`]); otherwise types are inferred, the plain
//! JSON ones: a new Unix-time field arrives as `bigint`, which a rebuild with the
//! connector's declared type can change later.

use std::collections::HashSet;

use inlet_core::{column_name, Change, Column, ColumnType, Record};
use rustc_hash::FxHashSet;
use serde_json::Value;
use tokio_postgres::Client;

use crate::ownership::{owner, Owner};
use crate::problem::{Problem, ProblemKind};
use crate::read_role::sql_problem;
use crate::sql::ident;
use crate::tables::Table;

/// The columns `records` need that `table` lacks, each with the type of its first non-null
/// value, in the order first seen. A column of a type inlet does not write is not lacking:
/// it stays as a person made it, and its field's values go to `_sync_extra`.
pub fn new_columns(table: &Table, records: &[Record]) -> Vec<(String, ColumnType)> {
    let known: FxHashSet<&str> = (table.key.iter().chain(&table.columns))
        .map(|(n, _)| n.as_str())
        .chain(table.other_columns.iter().map(String::as_str))
        .collect();
    let mut found: Vec<(String, ColumnType)> = Vec::new();
    // Records of a batch repeat the same field names: each is looked at once.
    let mut checked = FxHashSet::default();
    let mut seen = HashSet::new();
    for record in records {
        let Change::Upsert(fields) = &record.change else {
            continue;
        };
        for (field, value) in fields {
            if value.is_null()
                || (field == "id" && value.as_str() == Some(&record.id))
                || !checked.insert(field.as_str())
            {
                continue;
            }
            let column = column_name(field);
            if known.contains(column.as_ref()) || !seen.insert(column.to_string()) {
                continue;
            }
            found.push((column.into_owned(), infer(value)));
        }
    }
    found
}

/// What `declared` (a source's columns as it now declares them) asks of `table`: the
/// columns to add, with their declared types, and the names of those whose declared type is
/// no longer the table's (only a rebuild changes a column's type). A column of a type inlet
/// does not write is left as a person made it.
pub fn declared_changes(
    table: &Table,
    declared: &[Column],
) -> (Vec<(String, ColumnType)>, Vec<String>) {
    let mut added: Vec<(String, ColumnType)> = Vec::new();
    let mut retyped = Vec::new();
    for c in declared {
        let name = column_name(&c.name);
        if table.other_columns.iter().any(|o| *o == name) {
            continue;
        }
        match (table.key.iter().chain(&table.columns)).find(|(n, _)| *n == name) {
            Some((_, ty)) if *ty != c.ty => retyped.push(name.into_owned()),
            Some(_) => {}
            None if added.iter().all(|(n, _)| *n != name) => added.push((name.into_owned(), c.ty)),
            None => {}
        }
    }
    (added, retyped)
}

fn infer(value: &Value) -> ColumnType {
    match value {
        Value::Bool(_) => ColumnType::Boolean,
        Value::Number(n) if n.is_i64() => ColumnType::Bigint,
        // Beyond i64, or a fraction: numeric keeps every digit.
        Value::Number(_) => ColumnType::Numeric,
        Value::String(_) => ColumnType::Text,
        Value::Array(items) if items.iter().all(Value::is_string) => ColumnType::TextArray,
        _ => ColumnType::Jsonb,
    }
}

/// Adds `columns` to `table` in the database and in `table`.
pub async fn add_columns(
    client: &Client,
    table: &mut Table,
    columns: Vec<(String, ColumnType)>,
) -> Result<(), Problem> {
    if columns.is_empty() {
        return Ok(());
    }
    // A person may have taken the table over since the sink opened: then it is theirs, and
    // inlet alters nothing (the sync reopens and leaves the stream alone).
    if let Owner::Other(who) = owner(client, &table.schema, &table.name).await? {
        return Err(Problem::new(
            ProblemKind::PermissionDenied,
            format!(
                "table \"{}\".\"{}\" is now a {who}: inlet leaves it alone",
                table.schema, table.name
            ),
            "nothing to do if that was meant; to give it back: alter table ... owner to <sync user>",
        ));
    }
    let adds: Vec<String> = columns
        .iter()
        .map(|(name, ty)| format!("add column if not exists {} {}", ident(name), ty.sql()))
        .collect();
    let sql = format!(
        "alter table {}.{} {}",
        ident(&table.schema),
        ident(&table.name),
        adds.join(", ")
    );
    client
        .batch_execute(&sql)
        .await
        .map_err(|e| sql_problem(&e, "could not add columns for new fields", &sql))?;
    tracing::info!(table = %table.name, columns = columns.len(), "added columns for new fields");
    table.columns.extend(columns);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_core::Version;
    use serde_json::json;

    #[test]
    fn declared_columns_are_added_with_their_types_and_retyped_ones_named() {
        let table = Table {
            schema: "s".into(),
            name: "t".into(),
            columns: vec![
                ("email".into(), ColumnType::Text),
                ("score".into(), ColumnType::Text),
            ],
            other_columns: vec!["shape".into()],
            ..Table::default()
        };
        let declared = [
            Column::new("email", ColumnType::Text),
            Column::new("score", ColumnType::Numeric),
            Column::new("born", ColumnType::Date),
            Column::new("shape", ColumnType::Jsonb),
            Column::new("id", ColumnType::Text),
        ];
        let (added, retyped) = declared_changes(&table, &declared);
        assert_eq!(
            added,
            vec![
                ("born".into(), ColumnType::Date),
                ("src_id".into(), ColumnType::Text)
            ]
        );
        assert_eq!(retyped, vec!["score".to_string()]);
    }

    #[test]
    fn new_fields_get_columns_typed_by_their_first_value() {
        let table = Table {
            schema: "s".into(),
            name: "t".into(),
            columns: vec![("email".into(), ColumnType::Text)],
            ..Table::default()
        };
        let fields = |v: Value| v.as_object().cloned().expect("object");
        let records = [
            Record::upsert(
                "a",
                Version::default(),
                fields(json!({"id": "a", "email": "x", "late": null, "n": 1, "flag": true})),
            ),
            Record::delete("b", Version::default()),
            Record::upsert(
                "c",
                Version::default(),
                fields(
                    json!({"late": 1.5, "n": "text now", "tags": ["a"], "obj": {"k": 1},
                              "big": 18446744073709551615u64, "id": "other"}),
                ),
            ),
        ];
        assert_eq!(
            new_columns(&table, &records),
            vec![
                ("n".into(), ColumnType::Bigint),
                ("flag".into(), ColumnType::Boolean),
                ("late".into(), ColumnType::Numeric),
                ("tags".into(), ColumnType::TextArray),
                ("obj".into(), ColumnType::Jsonb),
                ("big".into(), ColumnType::Numeric),
                ("src_id".into(), ColumnType::Text),
            ]
        );
    }
}
