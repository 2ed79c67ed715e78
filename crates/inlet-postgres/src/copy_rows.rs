//! Records as binary COPY rows. Each value goes from its JSON straight into one buffer,
//! which is handed to the connection in large chunks, so PostgreSQL parses one chunk while
//! the next is encoded.

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::SinkExt;
use inlet_core::{column_name, Change, ColumnType, Record};
use rustc_hash::FxHashMap;
use serde_json::{Map, Value};
use tokio_postgres::Transaction;

use crate::cell::{put_field, put_null};
use crate::key::{record_key, KeyValue};
use crate::tables::Table;

/// Bytes gathered before they go to the connection: enough that the cost per message
/// vanishes, few enough that PostgreSQL starts early and memory stays small.
const CHUNK: usize = 64 * 1024;

/// The binary COPY signature, then flags and header-extension length (both 0).
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// Runs `copy` (`copy ... from stdin (format binary)` naming the columns in the order of
/// [`RowEncoder::put`]) with a row per record. Returns how many values went to
/// `_sync_extra` because they did not fit their column.
pub async fn copy_records(
    tx: &Transaction<'_>,
    copy: &str,
    table: &Table,
    records: &[Record],
    staged: bool,
) -> Result<i64, tokio_postgres::Error> {
    let sink = tx.copy_in::<_, Bytes>(copy).await?;
    futures_util::pin_mut!(sink);
    let mut rows = RowEncoder::new(table, staged);
    let mut out = BytesMut::with_capacity(CHUNK);
    out.put_slice(HEADER);
    for (ord, record) in records.iter().enumerate() {
        rows.put(ord, record, &mut out);
        if out.len() >= CHUNK {
            sink.send(out.split().freeze()).await?;
        }
    }
    out.put_i16(-1); // the trailer
    sink.send(out.freeze()).await?;
    sink.as_mut().finish().await?;
    Ok(rows.extra_values)
}

/// Turns records into rows of `table`: its key columns, each other column in order,
/// `_sync_extra`, the version; a staged row starts with the staging table's `_ord` and
/// `_deleted`. Every record given has a key a row can hold ([`record_key`]).
pub struct RowEncoder<'a> {
    table: &'a Table,
    staged: bool,
    /// Column positions by name.
    positions: FxHashMap<&'a str, usize>,
    /// Each field name's key position and column position (`None`: not a key field, no
    /// column), worked out once: a batch's records repeat the same field names.
    fields: FxHashMap<&'a str, (Option<usize>, Option<usize>)>,
    /// This row's value per column: the first field naming it (see `column_name`).
    slots: Vec<Option<(&'a String, &'a Value)>>,
    /// Values kept in `_sync_extra` because they did not fit their column.
    pub extra_values: i64,
}

impl<'a> RowEncoder<'a> {
    pub fn new(table: &'a Table, staged: bool) -> Self {
        RowEncoder {
            table,
            staged,
            positions: (table.columns.iter().enumerate())
                .map(|(i, (name, _))| (name.as_str(), i))
                .collect(),
            fields: FxHashMap::default(),
            slots: vec![None; table.columns.len()],
            extra_values: 0,
        }
    }

    /// Appends the row of `record`, the `ord`-th of its batch.
    pub fn put(&mut self, ord: usize, record: &'a Record, out: &mut BytesMut) {
        let fields =
            self.table.key.len() + self.table.columns.len() + 3 + if self.staged { 2 } else { 0 };
        out.put_i16(fields as i16);
        if self.staged {
            out.put_i32(4);
            out.put_i32(ord as i32);
            out.put_i32(1);
            out.put_u8(matches!(record.change, Change::Delete).into());
        }
        // Refused before (a reject): a row of NULL keys would fail the batch, never land.
        let key = record_key(self.table, &record.id).unwrap_or_default();
        match key.len() == self.table.key.len() {
            true => key.iter().for_each(|value| value.put(out)),
            false => self.table.key.iter().for_each(|_| put_null(out)),
        }
        let extra = match &record.change {
            Change::Upsert(fields) => self.put_columns(&key, fields, out),
            Change::Delete => {
                self.table.columns.iter().for_each(|_| put_null(out));
                Map::new()
            }
        };
        if extra.is_empty() {
            put_null(out);
        } else {
            put_field(&Value::Object(extra), ColumnType::Jsonb, out);
        }
        for part in [record.version.ts_micros, record.version.seq] {
            out.put_i32(8);
            out.put_i64(part);
        }
    }

    /// Appends a cell per column and returns what goes to `_sync_extra`: fields without a
    /// column, and values that do not fit theirs, keyed by field name. A field saying what
    /// the key says is stored once, in the key.
    fn put_columns(
        &mut self,
        key: &[KeyValue<'_>],
        fields: &'a Map<String, Value>,
        out: &mut BytesMut,
    ) -> Map<String, Value> {
        self.slots.iter_mut().for_each(|slot| *slot = None);
        let mut extra = Map::new();
        for (field, value) in fields {
            let (in_key, column) = self.position(field);
            if in_key.is_some_and(|k| key.get(k).is_some_and(|v| v.is(value))) {
                continue; // stored already, in the key
            }
            match column {
                None if value.is_null() => {} // no column and no value: nothing to keep
                Some(i) if self.slots[i].is_none() => self.slots[i] = Some((field, value)),
                // No column yet, or another field took it: kept under its own name.
                _ => {
                    extra.insert(field.clone(), value.clone());
                }
            }
        }
        for (slot, (_, ty)) in self.slots.iter().zip(&self.table.columns) {
            match slot {
                None => put_null(out),
                Some((field, value)) => {
                    if !put_field(value, *ty, out) {
                        extra.insert((*field).clone(), (*value).clone());
                        self.extra_values += 1;
                        put_null(out);
                    }
                }
            }
        }
        extra
    }

    /// The key position and the column position of `field`: a field names a key column by
    /// its name (`id`) or its column's, and any other column by its column's.
    fn position(&mut self, field: &'a str) -> (Option<usize>, Option<usize>) {
        if let Some(position) = self.fields.get(field) {
            return *position;
        }
        let column = column_name(field);
        let in_key = (self.table.key.iter()).position(|(k, _)| k == field || *k == column);
        let position = (in_key, self.positions.get(column.as_ref()).copied());
        self.fields.insert(field, position);
        position
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_core::Version;
    use proptest::prelude::*;

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".*".prop_map(Value::String),
        ];
        leaf.prop_recursive(6, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::btree_map(".*", inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// The fields of one encoded row: `None` for NULL.
    fn decode(mut row: &[u8]) -> Vec<Option<Vec<u8>>> {
        let mut take = |n: usize| {
            let (head, rest) = row.split_at(n);
            row = rest;
            head.to_vec()
        };
        let count = i16::from_be_bytes(take(2).try_into().expect("count"));
        (0..count)
            .map(|_| {
                let len = i32::from_be_bytes(take(4).try_into().expect("length"));
                (len >= 0).then(|| take(len as usize))
            })
            .collect()
    }

    proptest! {
        /// Whatever a source sends, encoding it as a row never panics and never loses a
        /// value: each one is either in its typed column or kept in `_sync_extra` (a null
        /// without a column is just absent).
        #[test]
        fn every_field_lands_in_its_column_or_in_sync_extra(
            fields in prop::collection::btree_map("[a-z_]{1,6}", json(), 0..12)
        ) {
            let types = [ColumnType::Text, ColumnType::Bigint, ColumnType::Double, ColumnType::Numeric,
                ColumnType::Boolean, ColumnType::Timestamptz, ColumnType::Jsonb, ColumnType::TextArray, ColumnType::Date, ColumnType::Time];
            let columns = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]
                .iter()
                .zip(types)
                .map(|(n, t)| (n.to_string(), t))
                .collect();
            let table = Table { schema: "s".into(), name: "t".into(), columns, ..Table::default() };
            let fields: Map<String, Value> = fields.into_iter().collect();
            let record = Record::upsert("rec_1".to_string(), Version::new(1, 0), fields.clone());
            let mut out = BytesMut::new();
            RowEncoder::new(&table, false).put(0, &record, &mut out);
            let cells = decode(&out);
            prop_assert_eq!(cells.len(), table.columns.len() + 4);
            let extra = match &cells[table.columns.len() + 1] {
                Some(jsonb) => serde_json::from_slice::<Map<String, Value>>(&jsonb[1..]).expect("valid json"),
                None => Map::new(),
            };
            for (name, value) in &fields {
                let stored = table.columns.iter().position(|(n, _)| n == name)
                    .is_some_and(|i| cells[i + 1].is_some() || value.is_null());
                let absent_null = value.is_null() && !table.columns.iter().any(|(n, _)| n == name);
                prop_assert!(stored || absent_null || extra.contains_key(name), "{name} = {value} was lost");
            }
        }
    }
}
