//! A table's primary key as the writer uses it: a record's key values from its id (for an
//! upsert and a delete alike), why no row can hold a record's key, and the SQL that joins
//! rows on the key and computes a row's key text (what `_sync_event.record_id` and
//! tombstones hold), the same text [`inlet_core::key_text`] gives in Rust.

use std::borrow::Cow;

use bytes::{BufMut, BytesMut};
use inlet_core::{key_values, ColumnType};
use serde_json::Value;

use crate::cell::put_text_field;
use crate::sql::{ident, literal};
use crate::tables::Table;

/// Longest record id (key text) kept: a btree entry must fit in a third of a page (about
/// 2,700 bytes), and an id is never legitimately this long.
pub(crate) const MAX_ID_BYTES: usize = 1024;

/// One key value, as its column holds it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum KeyValue<'a> {
    Text(Cow<'a, str>),
    Bigint(i64),
}

impl KeyValue<'_> {
    /// Appends it as a binary COPY field.
    pub(crate) fn put(&self, out: &mut BytesMut) {
        match self {
            KeyValue::Text(text) => put_text_field(text, out),
            KeyValue::Bigint(n) => {
                out.put_i32(8);
                out.put_i64(*n);
            }
        }
    }

    /// Whether a field of the record says the same (then it is stored once, in the key).
    pub(crate) fn is(&self, value: &Value) -> bool {
        match self {
            KeyValue::Text(text) => value.as_str() == Some(text),
            KeyValue::Bigint(n) => match value {
                Value::Number(v) => v.as_i64() == Some(*n),
                Value::String(s) => s.parse::<i64>().ok() == Some(*n),
                _ => false,
            },
        }
    }
}

/// The key values of the record with id `id` in `table`, or why no row can hold them (in
/// words that show no value: the reason is logged).
pub(crate) fn record_key<'a>(table: &Table, id: &'a str) -> Result<Vec<KeyValue<'a>>, String> {
    if id.len() > MAX_ID_BYTES {
        return Err(format!(
            "the id is {} bytes long; at most {MAX_ID_BYTES} fit a key",
            id.len()
        ));
    }
    let Some(values) = key_values(id, table.key.len()) else {
        return Err(format!(
            "the id does not hold the {} key values of the table's key ({})",
            table.key.len(),
            key_names(table)
        ));
    };
    let single = table.key.len() == 1;
    let mut key = Vec::with_capacity(values.len());
    for (value, (column, ty)) in values.into_iter().zip(&table.key) {
        let whose = match single {
            true => "the id".to_string(),
            false => format!("the key value for {column}"),
        };
        key.push(match ty {
            ColumnType::Bigint => match value.parse::<i64>() {
                Ok(n) => KeyValue::Bigint(n),
                Err(_) => return Err(format!("{whose} is not a whole number that fits bigint")),
            },
            _ if value.is_empty() => return Err(format!("{whose} is empty")),
            _ if value.contains('\0') => {
                return Err(format!(
                    "{whose} contains a NUL character, which PostgreSQL text cannot hold"
                ))
            }
            _ => KeyValue::Text(value),
        });
    }
    Ok(key)
}

fn key_names(table: &Table) -> String {
    let names: Vec<&str> = table.key.iter().map(|(n, _)| n.as_str()).collect();
    names.join(", ")
}

/// The key columns, quoted and qualified by `alias` (`a."k1", a."k2"`), or bare.
pub(crate) fn key_list(table: &Table, alias: Option<&str>) -> String {
    let columns: Vec<String> = (table.key.iter())
        .map(|(n, _)| match alias {
            Some(a) => format!("{a}.{}", ident(n)),
            None => ident(n),
        })
        .collect();
    columns.join(", ")
}

/// `a.k1 = b.k1 and a.k2 = b.k2`: rows `a` and `b` have the same key.
pub(crate) fn same_key(table: &Table, a: &str, b: &str) -> String {
    let terms: Vec<String> = (table.key.iter())
        .map(|(n, _)| format!("{a}.{c} = {b}.{c}", c = ident(n)))
        .collect();
    terms.join(" and ")
}

/// `a` and `b` have the same key, as one condition, for joining two row sets the planner
/// has no statistics for (steps of the merge): it takes one condition to match a row or so
/// per row, where several conditions multiplied together look like no match at all and
/// make it choose nested loops, quadratic in the batch.
pub(crate) fn same_key_text(table: &Table, a: &str, b: &str) -> String {
    match table.key.len() {
        1 => same_key(table, a, b),
        _ => format!("{} = {}", key_text_sql(table, a), key_text_sql(table, b)),
    }
}

/// The key text of row `alias`, as [`inlet_core::key_text`] writes it: the id itself for a
/// table keyed on one column; else each value's text (a bigint's is its decimal digits)
/// with `\` and `|` escaped, joined by `|`.
pub(crate) fn key_text_sql(table: &Table, alias: &str) -> String {
    if let [(name, ty)] = table.key.as_slice() {
        return match ty {
            ColumnType::Text => format!("{alias}.{}", ident(name)),
            _ => format!("{alias}.{}::text", ident(name)),
        };
    }
    let (backslash, bar) = (literal("\\"), literal("|"));
    let (escaped_backslash, escaped_bar) = (literal("\\\\"), literal("\\|"));
    let parts: Vec<String> = (table.key.iter())
        .map(|(name, ty)| match ty {
            // Digits and a sign: nothing to escape.
            ColumnType::Bigint => format!("{alias}.{}::text", ident(name)),
            _ => format!(
                "replace(replace({alias}.{}, {backslash}, {escaped_backslash}), {bar}, {escaped_bar})",
                ident(name)
            ),
        })
        .collect();
    format!("concat_ws({bar}, {})", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(key: &[(&str, ColumnType)]) -> Table {
        Table {
            key: key.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
            ..Table::default()
        }
    }

    #[test]
    fn an_id_is_one_text_value_and_a_key_text_is_read_by_the_columns_types() {
        let by_id = Table::default();
        assert_eq!(
            record_key(&by_id, "cus_1|x"),
            Ok(vec![KeyValue::Text("cus_1|x".into())])
        );
        let assoc = table(&[
            ("from_id", ColumnType::Text),
            ("to_id", ColumnType::Text),
            ("type_id", ColumnType::Bigint),
        ]);
        let id = inlet_core::key_text(&["1|a", "2", "-7"]);
        assert_eq!(
            record_key(&assoc, &id),
            Ok(vec![
                KeyValue::Text("1|a".into()),
                KeyValue::Text("2".into()),
                KeyValue::Bigint(-7)
            ])
        );
    }

    #[test]
    fn keys_no_row_can_hold_are_refused_in_words_that_show_no_value() {
        let assoc = table(&[
            ("from_id", ColumnType::Text),
            ("type_id", ColumnType::Bigint),
        ]);
        for (id, why) in [
            (
                "secret",
                "does not hold the 2 key values of the table's key (from_id, type_id)",
            ),
            ("a|b|c", "does not hold the 2 key values"),
            (
                "secret|x1",
                "the key value for type_id is not a whole number that fits bigint",
            ),
            ("|1", "the key value for from_id is empty"),
            (
                "a\0|1",
                "the key value for from_id contains a NUL character",
            ),
        ] {
            let got = record_key(&assoc, id);
            assert!(
                got.as_ref().is_err_and(|e| e.contains(why)),
                "{id:?}: {got:?}"
            );
            assert!(got.is_err_and(|e| !e.contains("secret")));
        }
        let by_id = Table::default();
        assert_eq!(record_key(&by_id, ""), Err("the id is empty".into()));
        let long = "x".repeat(MAX_ID_BYTES + 1);
        assert!(record_key(&by_id, &long).is_err_and(|e| e.contains("1025 bytes")));
    }

    #[test]
    fn a_key_field_is_the_key_value_when_it_says_the_same() {
        assert!(KeyValue::Text("a".into()).is(&Value::from("a")));
        assert!(!KeyValue::Text("1".into()).is(&Value::from(1)));
        assert!(KeyValue::Bigint(7).is(&Value::from(7)));
        assert!(KeyValue::Bigint(7).is(&Value::from("7")));
        assert!(!KeyValue::Bigint(7).is(&Value::from(7.5)));
    }
}
